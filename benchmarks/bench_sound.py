"""Sound measures (issue 17) of real music, its round trip through a tokenizer, and generated music.

For held-out real music (``--files``, default the immich eval tracks) and, per level of each ``--model``, its
round trip (encode, `decode_chunked`): the high-band noise floor (mean over mel bands above 2 kHz of the
10th-percentile log-mel power; for round trips its rise over the original, median over tracks), spectral
flatness, onset-envelope peak-to-floor contrast, harmonic-to-percussive energy ratio, and log-mel L1 to the
input (`losses.spectral.LogMelDistance`). ``--generated`` folders of music (e.g. written by
``scripts/gan_samples.py``) are measured the same way, against ``--reference`` music (the ground truth of the
same clips, default the synthetic test split).

    python benchmarks/bench_sound.py --model vqvae-base runs/synth_gpu/vqvae.safetensors     # before / after
    python benchmarks/bench_sound.py --model vqvae-base --levels 128 --generated runs/eval/top/gen --json s.json

Targets (issue 17): round trips within +1 dB of the original's high-band floor at both levels; generated
music's floor and flatness within 35 % (or 2 dB) of ground truth's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see bench_vqvae.py

import numpy as np  # noqa: E402
import torch  # noqa: E402

from dance2music.constants import SAMPLE_RATE  # noqa: E402
from dance2music.data.music import load_audio, resolve_sources  # noqa: E402
from dance2music.losses.spectral import LogMelDistance  # noqa: E402
from dance2music.metrics.sound import floor_rise_db, sound_measures  # noqa: E402
from dance2music.models.vqvae import VQVAE  # noqa: E402

MEASURES = ("high_floor_db", "flatness", "onset_contrast_db", "hpr_db")


def load_tracks(sources: list[str], max_seconds: float, sr: int) -> list[tuple[str, np.ndarray]]:
    n = int(max_seconds * sr)
    return [(f.stem, load_audio(f, sr)[:n]) for f in resolve_sources(sources)]


def summarize(name: str, measures: list[dict[str, float]], **extra: float) -> dict[str, float | str]:
    row: dict[str, float | str] = {"name": name, "tracks": len(measures)}
    for k in MEASURES:
        row[k] = float(np.mean([m[k] for m in measures]))
    row.update(extra)
    return row


@torch.no_grad()
def round_trips(model: VQVAE, label: str, tracks, hops: list[int] | None, sr: int) -> list[dict]:
    mel = LogMelDistance(sample_rate=sr)
    rows = []
    for L in range(model.levels):
        hop = model.hops[L]
        if hops and hop not in hops:
            continue
        ms, rises, mels = [], [], []
        for name, y in tracks:
            x = torch.from_numpy(y)[None, None]
            r = model.decode_chunked(model.encode(x, L), L)[0, 0, : len(y)].numpy()
            ms.append(sound_measures(r, sr).as_dict())
            rises.append(floor_rise_db(r, y, sr))
            mels.append(float(mel(torch.from_numpy(r)[None, None], x)))
            print(f"{label} hop {hop} {name}: floor {rises[-1]:+.2f} dB, mel L1 {mels[-1]:.3f}", file=sys.stderr)
        rows.append(
            summarize(
                f"{label}, hop {hop}", ms, floor_rise_db=float(np.median(rises)),
                floor_rise_max_db=float(np.max(rises)), mel_l1=float(np.mean(mels)),
            )
        )  # fmt: skip
    return rows


def table(rows: list[dict]) -> str:
    cols = [
        ("name", "music", "{}"), ("tracks", "tracks", "{}"), ("floor_rise_db", "floor rise (dB, median)", "{:+.2f}"),
        ("high_floor_db", "high-band floor (dB)", "{:.1f}"), ("flatness", "flatness", "{:.4f}"),
        ("onset_contrast_db", "onset contrast (dB)", "{:.1f}"), ("hpr_db", "H/P ratio (dB)", "{:+.1f}"),
        ("mel_l1", "mel L1", "{:.3f}"),
    ]  # fmt: skip
    out = ["| " + " | ".join(c[1] for c in cols) + " |", "|" + " --- |" * len(cols)]
    for r in rows:
        out.append("| " + " | ".join(fmt.format(r[k]) if k in r else "" for k, _, fmt in cols) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", nargs="*", default=["vqvae-base"], help="tokenizers (names or .safetensors)")
    ap.add_argument("--levels", type=int, nargs="*", default=None, help="hops to measure (default: every level)")
    ap.add_argument("--files", nargs="*", default=["immich:eval"], help="real music for the round trips")
    ap.add_argument("--max-seconds", type=float, default=30.0, help="use at most this much of each track")
    ap.add_argument("--generated", nargs="*", default=[], help="folders (or files) of generated music")
    ap.add_argument("--reference", nargs="*", default=["aist:data/synth:test"], help="ground truth for --generated")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    sr = SAMPLE_RATE
    rows: list[dict] = []
    if args.files and args.model:
        tracks = load_tracks(args.files, args.max_seconds, sr)
        originals = [sound_measures(y, sr).as_dict() for _, y in tracks]
        rows.append(summarize(f"original ({', '.join(args.files)})", originals, floor_rise_db=0.0))
        for ref in args.model:
            rows += round_trips(VQVAE.from_pretrained(ref), ref, tracks, args.levels, sr)
    if args.generated:
        reference = load_tracks(args.reference, args.max_seconds, sr)
        ref_ms = [sound_measures(y, sr).as_dict() for _, y in reference]
        ref_row = summarize(f"reference ({', '.join(args.reference)})", ref_ms)
        rows.append(ref_row)
        for folder in args.generated:
            gen = load_tracks([folder], args.max_seconds, sr)
            row = summarize(folder, [sound_measures(y, sr).as_dict() for _, y in gen])
            row["floor_rise_db"] = float(row["high_floor_db"]) - float(ref_row["high_floor_db"])  # vs ground truth
            row["flatness_ratio"] = float(row["flatness"]) / max(float(ref_row["flatness"]), 1e-12)
            rows.append(row)
    print(table(rows))
    if args.generated:
        print("\n(for generated music, 'floor rise' is its mean high-band floor minus the reference's)")
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)}, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
