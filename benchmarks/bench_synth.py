"""Speed of the synthetic dataset generator: clips per second, and where one clip's time goes.

    python benchmarks/bench_synth.py                       # 8 clips of 10 s with 2 workers
    python benchmarks/bench_synth.py --clips 20 --workers 2 --json out.json

Writes into a temporary folder (removed afterwards). Prints the wall-clock rate of `make_dataset` with
``--workers`` processes, the projected time for 200 clips of 10 s, and the CPU seconds of each stage of one
clip in this process (music, choreography, rendering, H.264 encoding). On a shared machine the wall clock
depends on what else runs; the per-stage CPU seconds do not.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time

import numpy as np


def stage_times(seconds: float, width: int, height: int, seed: int = 0) -> dict[str, float]:
    """CPU seconds of each stage of one clip (after a warm-up clip, so imports do not count)."""
    import cv2

    from dance2music.data.synth.dataset import clip_rngs
    from dance2music.data.synth.moves import make_dance
    from dance2music.data.synth.music import make_song
    from dance2music.data.synth.render import Scene, render_video_frames
    from dance2music.io.video import write_video

    cv2.setNumThreads(1)
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(2):  # the first pass warms up imports, the soundfont and numba-free caches
            _, r_music, r_dance, r_scene, _ = clip_rngs(seed, 1 + rep)
            t = time.process_time()
            song = make_song("gHO", seconds, r_music)
            t_music = time.process_time() - t
            t = time.process_time()
            dance = make_dance("gHO", song.beats, seconds, r_dance)
            t_dance = time.process_time() - t
            scene = Scene.random(r_scene, width, height)
            t = time.process_time()
            frames = list(render_video_frames(dance, scene))
            t_render = time.process_time() - t
            t = time.process_time()
            write_video(iter(frames), 30.0, os.path.join(tmp, "x.mp4"), audio=song.audio, sr=song.sr, crf=23)
            t_encode = time.process_time() - t
        out = {"music": t_music, "dance": t_dance, "render": t_render, "encode": t_encode}
        out["frames"] = len(frames)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="benchmark the synthetic dataset generator")
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=360)
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args(argv)

    from dance2music.data.synth import make_dataset

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        make_dataset(tmp, args.clips, args.seconds, seed=12345, progress=False, workers=args.workers,
                     width=args.width, height=args.height)  # fmt: skip
        wall = time.perf_counter() - t0
    rate = args.clips / wall
    stages = stage_times(args.seconds, args.width, args.height)
    cpu = sum(v for k, v in stages.items() if k != "frames")
    res = {
        "clips": args.clips, "seconds": args.seconds, "workers": args.workers, "size": f"{args.width}x{args.height}",
        "wall_s": round(wall, 2), "clips_per_s": round(rate, 4),
        "projected_200x10s_min": round(200 * 10.0 / args.seconds / rate / 60, 1),
        "cpu_s_per_clip": {k: round(v, 3) for k, v in stages.items()}, "cpu_s_total_per_clip": round(cpu, 2),
        "cpu_count": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2), "python": platform.python_version(),
    }  # fmt: skip
    print(f"synthetic dataset: {args.clips} clips of {args.seconds:g} s at {args.width}x{args.height}, "
          f"{args.workers} worker(s): {wall:.1f} s wall -> {rate:.3f} clips/s")  # fmt: skip
    print(f"projected for 200 clips of 10 s: {res['projected_200x10s_min']} min "
          f"(load average {res['load_avg_1m']} on {res['cpu_count']} cores)")  # fmt: skip
    per = ", ".join(f"{k} {v:.2f} s" for k, v in stages.items() if k != "frames")
    print(f"CPU per clip ({stages['frames']} frames): {per}; total {cpu:.2f} s "
          f"({cpu / max(1, stages['frames']) * 1000:.1f} ms per frame)")  # fmt: skip
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0 if np.isfinite(rate) else 1


if __name__ == "__main__":
    sys.exit(main())
