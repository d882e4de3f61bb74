"""Seconds of compute per second of music for D2M-GAN inference (generator + codebook lookup + decoding).

Measures, on this machine's CPU with ``--threads`` torch threads (default 2, the project's machines), the
default aligned generator and the official-shape preset, at the top level (hop 128) and the lower level
(hop 32), alone and through `D2M.generate` (the path users run: windows, lookup, the VQ-VAE decoder). Speed
does not depend on the weights' values, so the generators are freshly initialised; the decoder is the shipped
VQ-VAE's (``--vqvae``).

    python benchmarks/bench_gan.py                 # Markdown table on stdout
    python benchmarks/bench_gan.py --json out.json --seconds 10 --repeats 3

A value below 1 means faster than real time. Wall seconds are what a user waits on idle cores; CPU seconds
(summed over threads) are also reported because they stay comparable when other jobs share the machine.
The official-shape generator only makes 2-s segments, so its rate is measured on one 2-s segment (longer
music means more independent segments, the same rate).
"""

from __future__ import annotations

import argparse
import json
import os
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


def load_vqvae(ref: str) -> tuple[VQVAE, str]:
    try:
        return VQVAE.from_pretrained(ref), ref
    except Exception:  # not trained/shipped yet: the small preset's architecture with random weights
        torch.manual_seed(0)
        return VQVAE.from_preset("small").eval(), "the small VQ-VAE preset (random weights)"


def time_call(fn, repeats: int) -> tuple[float, float]:
    """Best (wall seconds, CPU seconds of this process) over ``repeats`` calls after a warm-up.

    CPU time (all threads) stays meaningful when other jobs share the cores; wall time does not.
    """
    fn()  # warm-up: allocator, first-call kernel selection
    wall = cpu = float("inf")
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    return wall, cpu


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
    with torch.inference_mode():
        t_gen = time_call(lambda: g(motion, visual, genre=torch.tensor([0])), repeats)
        # `D2M.generate`, the path `d2m generate` runs: windows, lookup, chunked decoding
        t_all = time_call(lambda: model.generate(motion, visual, genre=0, seed=0), repeats)
        n = model.generate(motion, visual, genre=0, seed=0).audio.shape[-1]
    music = n / SAMPLE_RATE
    return {
        "model": name,
        "hop": model.hop_length,
        "generator_params": count_parameters(g),
        "music_seconds": round(music, 3),
        "generator_s_per_s": t_gen[0] / music,
        "total_s_per_s": t_all[0] / music,
        "generator_cpu_s_per_s": t_gen[1] / music,
        "total_cpu_s_per_s": t_all[1] / music,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=10.0, help="music length for the aligned generator")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--vqvae", default="vqvae-small", help="VQ-VAE name or file whose decoder is timed")
    ap.add_argument("--skip-official-lower", action="store_true", help="skip the ~140 M-parameter preset")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    vqvae, vq_name = load_vqvae(args.vqvae)
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
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())} (wall times need idle cores)\n")
    print("| model | hop | G params | music (s) | G wall s/s | G+decode wall s/s | G CPU s/s | G+decode CPU s/s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['model']} | {r['hop']} | {r['generator_params'] / 1e6:.1f} M | {r['music_seconds']:.2f} "
            f"| {r['generator_s_per_s']:.4f} | {r['total_s_per_s']:.4f} "
            f"| {r['generator_cpu_s_per_s']:.4f} | {r['total_cpu_s_per_s']:.4f} |"
        )
    if args.json:
        args.json.write_text(json.dumps({"threads": args.threads, "decoder": vq_name, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
