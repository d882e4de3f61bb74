#!/usr/bin/env bash
# Issue 17's adversarial decoders on one GPU within a time budget, from bundled music (no librosa/soundfile):
#   PYTHONPATH=src bash scripts/gpu_synth.sh RUN BUDGET_SECONDS [both|top|lower] [--set key=value ...]
# e.g. PYTHONPATH=src bash scripts/gpu_synth.sh runs/synth_gpu 420
#
# Needs runs/gpu/audio_train.npy + .json and runs/gpu/audio_eval.npy + .json (scripts/bundle_audio.py; carry
# runs/gpu to the GPU machine). `both` (the default) trains the top (hop 128) and lower (hop 32) decoders of
# vqvae-base at the same time, one process each on the one GPU, then merges them into RUN/vqvae.safetensors;
# `top` / `lower` trains one, into RUN/top or RUN/lower. Each run stops by trainer.max_minutes (the budget less
# start-up, export and merge time), checkpoints, exports RUN/<level>/vqvae.safetensors and evaluates; a
# `timeout` a minute later is the backstop (SIGINT: the trainer checkpoints and exports before it exits).
# Extra --set arguments go to both runs; DEVICE=cpu for a dry run here. With $OUT set, the exported weights and logs are copied there.
set -euo pipefail
RUN=${1:?usage: gpu_synth.sh RUN BUDGET_SECONDS [both|top|lower] [--set key=value ...]}
BUDGET=${2:?usage: gpu_synth.sh RUN BUDGET_SECONDS [both|top|lower]}
WHICH=${3:-both}
shift $(( $# < 3 ? $# : 3 ))
BUNDLE=${BUNDLE:-runs/gpu/audio_train.npy}
EVAL_BUNDLE=${EVAL_BUNDLE:-runs/gpu/audio_eval.npy}
PY=${PYTHON:-python3}
export PYTHONPATH=${PYTHONPATH:-src} PYTHONUNBUFFERED=1
for f in "$BUNDLE" "$EVAL_BUNDLE"; do
  [[ -f $f && -f ${f%.npy}.json ]] || { echo "error: $f (+ .json) missing: run scripts/bundle_audio.py" >&2; exit 1; }
done
case $WHICH in both) LEVELS="top lower";; top|lower) LEVELS=$WHICH;; *) echo "error: $WHICH: both, top or lower" >&2; exit 2;; esac
# Start-up (imports, CUDA init, loading) ~30 s, the final checkpoint + evaluation ~20 s, the merge ~5 s.
MINUTES=$("$PY" -c "print(max(0.5, ($BUDGET - 60) / 60))")
mkdir -p "$RUN"
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader || true
pids=()
for level in $LEVELS; do
  timeout -s INT $(( BUDGET + 30 )) "$PY" -m dance2music train synth --config "configs/synth_$level.yaml" \
    --out "$RUN/$level" \
    --set data.bundle="$BUNDLE" --set data.eval_bundle="$EVAL_BUNDLE" \
    --set trainer.max_minutes="$MINUTES" --set trainer.device="${DEVICE:-cuda}" --set trainer.progress=false "$@" \
    >"$RUN/$level.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
for level in $LEVELS; do echo "== $level"; tail -n 4 "$RUN/$level.log"; done
files=()
for level in $LEVELS; do
  if [[ -f $RUN/$level/vqvae.safetensors ]]; then files+=("$RUN/$level/vqvae.safetensors"); fi
done
if [[ ${#files[@]} -gt 0 ]]; then
  "$PY" scripts/merge_decoders.py --base vqvae-base --out "$RUN/vqvae.safetensors" "${files[@]}" || status=$?
fi
if [[ -n ${OUT:-} ]]; then
  for level in $LEVELS; do
    if [[ -f $RUN/$level/vqvae.safetensors ]]; then cp "$RUN/$level/vqvae.safetensors" "$OUT/vqvae_$level.safetensors"; fi
    cp "$RUN/$level.log" "$OUT/$level.log"
  done
  if [[ -f $RUN/vqvae.safetensors ]]; then cp "$RUN/vqvae.safetensors" "$OUT/vqvae.safetensors"; fi
  tar -czf "$OUT/tb.tar.gz" -C "$RUN" $(for level in $LEVELS; do echo "$level/tb $level/config.yaml"; done) || true
fi
exit $status
