"""Seconds of compute per second of music for D2M-GAN inference (generator + codebook lookup + decoding).

Measures, on this machine's CPU with ``--threads`` torch threads (default 2, the project's machines), the
default aligned generator and the official-shape preset, at the top level (hop 128) and the lower level
(hop 32), each followed by the lookup and the VQ-VAE decoder of that level. Speed does not depend on the
weights' values, so the models are freshly initialised (the shipped VQ-VAE is used when it is installed).

    python benchmarks/bench_gan.py                 # Markdown table on stdout
    python benchmarks/bench_gan.py --json out.json --seconds 10 --repeats 3

A value below 1 means faster than real time. The official-shape generator only makes 2-s segments, so its
rate is measured on one 2-s segment (longer music means more independent segments, the same rate).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

from dance2music.constants import SAMPLE_RATE
from dance2music.features.visual import FLOWGRID_DIM
from dance2music.models.d2m import D2M, build_generator
from dance2music.models.generator import count_parameters
from dance2music.models.vqvae import VQVAE
from dance2music.types import MOTION_FEATURE_DIM


def load_vqvae() -> tuple[VQVAE, str]:
    try:
        return VQVAE.from_pretrained("vqvae-small"), "vqvae-small (shipped)"
    except Exception:  # not trained/shipped yet: same architecture, random weights, same speed
        torch.manual_seed(0)
        return VQVAE.from_preset("small").eval(), "vqvae-small architecture (random weights)"


def time_call(fn, repeats: int) -> float:
    fn()  # warm-up: allocator, first-call kernel selection
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench(name: str, model: D2M, seconds: float, repeats: int) -> dict:
    g = model.generator
    official = g.__class__.__name__ == "OfficialGenerator"
    if official:
        seconds = 2.0
        motion = torch.randn(1, g.motion_dim, g.motion_frames)
        visual = torch.randn(1, g.visual_dim, 1)
    else:
        frames = int(round(seconds * g.input_fps))
        motion = torch.randn(1, g.motion_dim, frames)
        visual = torch.randn(1, g.visual_dim, frames) if g.visual_dim else None
    genre = torch.tensor([0])
    with torch.inference_mode():
        t_gen = time_call(lambda: g(motion, visual, genre=genre), repeats)
        t_all = time_call(lambda: model.generate(motion, visual, genre=genre), repeats)
        n = model.generate(motion, visual, genre=genre).audio.shape[-1]
    music = n / SAMPLE_RATE
    return {
        "model": name,
        "hop": model.hop_length,
        "generator_params": count_parameters(g),
        "music_seconds": round(music, 3),
        "generator_s_per_s": t_gen / music,
        "total_s_per_s": t_all / music,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=10.0, help="music length for the aligned generator")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--skip-official-lower", action="store_true", help="skip the ~140 M-parameter preset")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    vqvae, vq_name = load_vqvae()
    rows = []
    specs = [
        ("small (default)", "small", 128),
        ("small (default)", "small", 32),
        ("official", "official", 128),
    ]
    if not args.skip_official_lower:
        specs.append(("official-lower", "official-lower", 32))
    for label, preset, hop in specs:
        torch.manual_seed(0)
        if preset.startswith("official"):
            gen = build_generator(preset)
        else:
            gen = build_generator(preset, hop_length=hop, visual_dim=FLOWGRID_DIM, motion_dim=MOTION_FEATURE_DIM)
        rows.append(bench(label, D2M(gen, vqvae).eval(), args.seconds, args.repeats))
        print(f"done: {label} hop {hop}", file=sys.stderr)
    print(f"{args.threads} CPU thread(s), torch {torch.__version__}, {platform.processor() or platform.machine()}")
    print(f"decoder: {vq_name}\n")
    print("| model | hop | generator params | music (s) | generator s/s | generator + decode s/s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['model']} | {r['hop']} | {r['generator_params'] / 1e6:.1f} M | {r['music_seconds']:.2f} "
            f"| {r['generator_s_per_s']:.4f} | {r['total_s_per_s']:.4f} |"
        )
    if args.json:
        args.json.write_text(json.dumps({"threads": args.threads, "decoder": vq_name, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
