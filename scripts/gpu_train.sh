#!/usr/bin/env bash
# One GPU window, one command: the synthetic set (1200 clips, train songs and dances stretched 0.75-1.33x), its
# feature cache, then the rhythm-conditioned d2m-top and d2m-lower (configs/gan_*_rhythm.yaml) and, when the
# music bundle runs/gpu/audio_train.npy is there (scripts/bundle_audio.py), the adversarial decoders of
# scripts/gpu_synth.sh, all trained side by side until a deadline.
# Usage (repo root): bash scripts/gpu_train.sh OUT_DIR [SECONDS_FROM_NOW_TO_STOP_TRAINING]
# Environment: PYTHON (python3), WORK (/tmp/d2m), CLIPS (1200), BATCH (16), LOADERS (4 loader workers per run),
# JOBS (14 data processes), MOVEMENT (1: the dancers' range, `d2m data synth --movement`; docs/data.md),
# TOP_CONFIG / LOWER_CONFIG (configs/gan_top_rhythm.yaml / configs/gan_lower_rhythm.yaml; configs/gan_top_rhythm2.yaml,
# the 2-beat phase window, showed no clear gain over the 3-beat window when both were trained on the CPU:
# docs/results.md).
# What comes back in OUT_DIR: each generator (.safetensors), its G and D weights for `init_from` (<level>_gd.pt),
# vqvae_adversarial.safetensors (the new decoders) and logs.tgz (logs, configs, generator.json, TensorBoard).
set -euo pipefail
OUT=${1:?usage: gpu_train.sh OUT_DIR [SECONDS]}
BUDGET=${2:-540}
PY=${PYTHON:-python3}
WORK=${WORK:-/tmp/d2m}
CLIPS=${CLIPS:-1200}
BATCH=${BATCH:-16}
LOADERS=${LOADERS:-4}
JOBS=${JOBS:-14}
MOVEMENT=${MOVEMENT:-1}
TOP_CONFIG=${TOP_CONFIG:-configs/gan_top_rhythm.yaml}
LOWER_CONFIG=${LOWER_CONFIG:-configs/gan_lower_rhythm.yaml}
T0=$(date +%s)
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
mkdir -p "$WORK" "$OUT"
elapsed() { echo $(($(date +%s) - T0)); }

$PY -m dance2music data synth --out "$WORK/synth" --clips "$CLIPS" --seconds 10 --seed 0 --no-video \
    --tempo-stretch 0.75 1.33 --movement "$MOVEMENT" --workers "$JOBS" > "$WORK/synth.log" 2>&1
echo "synth done at $(elapsed) s"
$PY -m dance2music data prepare aist "$WORK/synth" --out "$WORK/cache" --visual none --workers "$JOBS" -q \
    > "$WORK/prepare.log" 2>&1
echo "cache done at $(elapsed) s"
# Training stops (checkpoint, export, evaluation) this many minutes after it starts, leaving ~40 s to pack.
MINUTES=$(awk -v b="$BUDGET" -v e="$(elapsed)" 'BEGIN { m = (b - e - 40) / 60; if (m < 0.5) m = 0.5; printf "%.2f", m }')
echo "training for $MINUTES min"
pids=()
for level in top lower; do
    config=$TOP_CONFIG
    [ "$level" = lower ] && config=$LOWER_CONFIG
    $PY -m dance2music train gan --config "$config" --out "$WORK/gan_$level" \
        --set "data.cache=$WORK/cache" --set "trainer.batch_size=$BATCH" --set "trainer.num_workers=$LOADERS" \
        --set "trainer.max_minutes=$MINUTES" --set trainer.progress=false --set trainer.threads=1 \
        --set trainer.ckpt_every=1000 --set trainer.eval_every=1000 > "$WORK/gan_$level.log" 2>&1 &
    pids+=($!)
done
if [ -f runs/gpu/audio_train.npy ]; then  # issue 17's decoders, from the carried music bundle
    OUT= bash scripts/gpu_synth.sh "$WORK/synth_out" "$(awk -v m="$MINUTES" 'BEGIN { printf "%d", m * 60 + 60 }')" \
        both > "$WORK/synth_decoders.log" 2>&1 &
    pids+=($!)
fi
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
echo "training done at $(elapsed) s (status $status)"

for level in top lower; do
    run="$WORK/gan_$level"
    [ -f "$run/generator.safetensors" ] && cp "$run/generator.safetensors" "$OUT/d2m_${level}.safetensors"
    [ -f "$run/checkpoint.pt" ] && $PY - "$run/checkpoint.pt" "$OUT/${level}_gd.pt" <<'EOF' || status=1
import sys, torch
state = torch.load(sys.argv[1], map_location="cpu", weights_only=False)
keep = ("version", "models", "step", "task")  # what `init_from` reads; optimizers and RNG states stay behind
torch.save({k: state[k] for k in keep if k in state}, sys.argv[2])
EOF
done
[ -f "$WORK/synth_out/vqvae.safetensors" ] && cp "$WORK/synth_out/vqvae.safetensors" "$OUT/vqvae_adversarial.safetensors"
tar -czf "$OUT/logs.tgz" -C "$WORK" --exclude='*.pt' --exclude='*.safetensors' \
    $(cd "$WORK" && ls -d *.log gan_* synth_out 2>/dev/null)
echo "packed at $(elapsed) s"; ls -la "$OUT"
exit $status
