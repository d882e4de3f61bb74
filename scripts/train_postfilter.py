"""Train the spectral post-filters (`nn.postfilter`) of a tokenizer's decoders on round trips of music.

Every piece of music (the real tracks' first ``--real-seconds``, then ``--synth-clips`` synthetic train clips)
is scaled by a random gain (U(0.3, 1)), encoded and decoded by each level of ``--vqvae`` once; the post-filter
of each level then learns, on random crops of those pairs, the gain per STFT bin that takes the decoded
magnitudes back to the music's: L1 between log10 magnitudes, per bin and per mel band (the floor of both logs
is the project's mel distance's, 1e-5). The levels (``--levels``, by hop; default all) train in one process, a
step each in turn; a tokenizer that already has post-filters has those of ``--levels`` trained on from where
they are and keeps the others. Every
``--eval-every`` steps the held-out round trips (``--eval``, first ``--eval-seconds``) are measured as
`benchmarks/bench_sound.py` measures them: high-band floor rise over the original (median over tracks) and the
log-mel L1. The last step is written (no step is picked by a test score) as ``OUT/vqvae.safetensors`` (the
tokenizer with its post-filters; codes and decoders unchanged) and ``OUT/record.json`` (command, settings, curve).

    python scripts/train_postfilter.py --vqvae vqvae-base-adv --out runs/postfilter [--steps 3000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch


def round_trips(model, tracks: list[np.ndarray], level: int) -> list[np.ndarray]:
    with torch.inference_mode():
        return [
            model.decode_chunked(model.encode(torch.from_numpy(x)[None, None], level), level, postfilter=False)[
                0, 0, : len(x)
            ].numpy()
            for x in tracks
        ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vqvae", default="vqvae-base-adv", help="tokenizer whose decoders get post-filters")
    p.add_argument("--real", nargs="*", default=["immich:train"], help="real music (first --real-seconds of each)")
    p.add_argument("--real-seconds", type=float, default=45.0)
    p.add_argument("--synth", default="aist:data/synth:train", help="synthetic music (--synth-clips of it)")
    p.add_argument("--synth-clips", type=int, default=150)
    p.add_argument("--eval", nargs="*", default=["immich:eval"], help="held-out music for the curve")
    p.add_argument("--eval-seconds", type=float, default=30.0)
    p.add_argument("--real-share", type=float, default=0.5, help="share of the crops cut from the real music")
    p.add_argument("--levels", type=int, nargs="*", default=None, metavar="HOP", help="hops to train (default all)")
    p.add_argument("--channels", type=int, default=256)
    p.add_argument("--blocks", type=int, default=5)
    p.add_argument("--steps", type=int, default=3000, help="steps per level")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--crop", type=float, default=2.0, help="seconds per training crop")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument(
        "--overshoot", type=float, default=1.0,
        help="weight of bins left louder than the music over bins made quieter (>1 pushes the noise floor down)",
    )  # fmt: skip
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--oracle",
        action="store_true",
        help="only print what the oracle gain min(|X|/|Y|, 1) reaches "
        "on the held-out round trips (the room a post-filter has), and exit",
    )
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    from dance2music.errors import D2MError

    try:
        return train(args, argv)
    except D2MError as e:  # a tokenizer or music source that is not there: one line, no traceback
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code


def train(args: argparse.Namespace, argv: list[str] | None) -> int:
    from dance2music.constants import SAMPLE_RATE as SR
    from dance2music.data.music import load_audio, resolve_sources
    from dance2music.errors import ConfigError
    from dance2music.losses.spectral import LogMelDistance, mel_filterbank
    from dance2music.metrics.sound import floor_rise_db
    from dance2music.models.vqvae import VQVAE
    from dance2music.nn.postfilter import LOG_FLOOR

    if not args.overshoot > 0:
        raise ConfigError(f"--overshoot must be positive, got {args.overshoot}")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    t0 = time.time()
    model = VQVAE.from_pretrained(args.vqvae)
    levels = list(range(model.levels)) if args.levels is None else [model.level_for_hop(h) for h in args.levels]
    real = [load_audio(f, SR)[: int(args.real_seconds * SR)] for f in resolve_sources(args.real)]
    synth_files = resolve_sources([args.synth])
    pick = rng.choice(len(synth_files), size=min(args.synth_clips, len(synth_files)), replace=False)
    synth = [load_audio(synth_files[i], SR) for i in sorted(pick)]
    pieces = [(x * rng.uniform(0.3, 1.0)).astype(np.float32) for x in real + synth]
    evals = [load_audio(f, SR)[: int(args.eval_seconds * SR)] for f in resolve_sources(args.eval)]
    # Real and synthetic music weigh --real-share and the rest in the crops, whatever their durations.
    share = args.real_share
    weights = np.array([share / len(real)] * len(real) + [(1 - share) / len(synth)] * len(synth))
    print(f"{len(real)} real + {len(synth)} synthetic pieces ({sum(map(len, pieces)) / SR:.0f} s), "
          f"{len(evals)} held out", flush=True)  # fmt: skip

    if model.postfilters is None:
        model.add_postfilters(dict(channels=args.channels, blocks=args.blocks))
    else:  # a tokenizer with post-filters: those of --levels train on from where they are, the others stay
        print(f"{args.vqvae} has post-filters: training those of hops {[model.hops[L] for L in levels]} on")
    decoded_eval = {L: round_trips(model, evals, L) for L in levels}
    filters = model.postfilters
    mel = LogMelDistance(sample_rate=SR)
    if args.oracle:
        for L in levels:
            pf, rises, l1s = filters[L], [], []
            for x, y in zip(evals, decoded_eval[L]):
                xt, yt = torch.from_numpy(x)[None], torch.from_numpy(y)[None]
                spec = pf.stft(yt)
                spec = spec * (pf.stft(xt).abs() / spec.abs().clamp_min(1e-7)).clamp(max=1.0)
                z = torch.istft(spec, pf.n_fft, pf.hop, window=pf.window, length=len(x))[0].numpy()
                rises.append(floor_rise_db(z, x, SR))
                l1s.append(float(mel(torch.from_numpy(z)[None, None], torch.from_numpy(x)[None, None])))
            print(f"oracle gain, hop {model.hops[L]}: floor rise {np.median(rises):+.2f} dB, mel L1 {np.mean(l1s):.3f}")
        return 0
    decoded = {L: round_trips(model, pieces, L) for L in levels}
    print(f"round trips in {time.time() - t0:.0f} s", flush=True)
    opts = {L: torch.optim.AdamW(filters[L].parameters(), lr=args.lr, weight_decay=1e-4) for L in levels}
    scheds = {L: torch.optim.lr_scheduler.CosineAnnealingLR(opts[L], args.steps) for L in levels}
    pf0 = filters[0]
    fb = mel_filterbank(SR, pf0.n_fft, 128)
    crop = int(args.crop * SR) // pf0.hop * pf0.hop

    def log10(m: torch.Tensor) -> torch.Tensor:
        return torch.log10(m.clamp_min(LOG_FLOOR))

    def batch(level: int) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys = [], []
        for i in rng.choice(len(pieces), size=args.batch, p=weights):
            x, y = pieces[i], decoded[level][i]
            s = int(rng.integers(0, max(1, len(x) - crop)))
            xs.append(np.pad(x[s : s + crop], (0, crop - len(x[s : s + crop]))))
            ys.append(np.pad(y[s : s + crop], (0, crop - len(y[s : s + crop]))))
        return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))

    def evaluate(step: int) -> dict:
        point: dict = {"step": step}
        for L in levels:
            pf = filters[L].eval()
            rises, l1s = [], []
            for x, y in zip(evals, decoded_eval[L]):
                z = pf.apply(torch.from_numpy(y)[None, None])[0, 0].numpy()
                rises.append(floor_rise_db(z, x, SR))
                l1s.append(float(mel(torch.from_numpy(z)[None, None], torch.from_numpy(x)[None, None])))
            pf.train()
            hop = model.hops[L]
            point[f"eval/hop{hop}/floor_rise_db"] = round(float(np.median(rises)), 3)
            point[f"eval/hop{hop}/mel_l1"] = round(float(np.mean(l1s)), 4)
        return point

    curve = [evaluate(0)]
    print(json.dumps(curve[-1]), flush=True)
    sums = {L: [] for L in levels}
    for step in range(1, args.steps + 1):
        for L in levels:
            x, y = batch(L)
            pf = filters[L]
            X, Y = pf.stft(x).abs(), pf.stft(y).abs()
            Z = pf.gain(Y) * Y
            d = log10(Z) - log10(X)  # per bin; > 0 where the filter leaves more than the music has
            loss = torch.where(d > 0, args.overshoot * d, -d).mean() + (log10(fb @ Z) - log10(fb @ X)).abs().mean()
            opts[L].zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(pf.parameters(), 1.0)
            opts[L].step()
            scheds[L].step()
            sums[L].append(loss.item())
        if step % args.eval_every == 0 or step == args.steps:
            point = evaluate(step)
            for L in levels:
                point[f"train/hop{model.hops[L]}/loss"] = round(float(np.mean(sums[L])), 4)
                sums[L] = []
            point["minutes"] = round((time.time() - t0) / 60, 1)
            curve.append(point)
            print(json.dumps(point), flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    model.save(args.out / "vqvae.safetensors", meta={"step": args.steps, "base": args.vqvae,
                                                      "codebook_sha256": model.codebook_sha256()})  # fmt: skip
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    record = {
        "command": "python scripts/train_postfilter.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "settings": settings,
        "data": {"real_pieces": len(real), "synthetic_pieces": len(synth), "seconds": sum(map(len, pieces)) / SR},
        "curve": curve,
        "minutes": round((time.time() - t0) / 60, 1),
    }
    (args.out / "record.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out / 'vqvae.safetensors'} and record.json", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
