"""End-to-end `d2m generate` speed on 720p video and peak memory on a long video (2 CPU cores).

    python benchmarks/bench_generate.py                         # 20-s 720p speed + 10-min memory
    python benchmarks/bench_generate.py --minutes 2 --json out.json
    python benchmarks/bench_generate.py --seconds 30 --rates 10 --minutes 0     # speed at 10 fps only

Test videos are made from the bundled demo dance (a synthetic dancer with its music), looped and scaled:
- speed: a 1280x720 30-fps clip of ``--seconds`` seconds; `d2m generate` runs in a fresh process at
  analysis fps 30 (every frame) and the default (`constants.GENERATE_ANALYSIS_FPS`, 10); the figure is
  seconds of compute per second of video (< 0.5 means at least 2x real time) and its inverse, the
  real-time factor;
- memory: a 640x360 30-fps video of ``--minutes`` minutes; the peak resident memory (ru_maxrss) of a fresh
  `d2m generate` process, next to the same for a 1-minute video (flat in length = streaming works).
``--rates`` picks the analysis rates of the speed runs, ``--minutes 0`` skips the memory runs, ``--clip`` keeps
the 720p clip in a file (made once, reused when it exists) so that runs compared back to back share it.
Each run also records the process CPU time, which moves less than wall time on a shared machine, and the
machine's load average before and after it (a busy core shows as load >= 1 before the run starts). The two
long videos also give the steady-state cost per extra second of video (their difference), free of the fixed
start-up cost (imports, model and MediaPipe loading) that weighs on short clips.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dance2music.constants import GENERATE_ANALYSIS_FPS


def looped_video(path: Path, seconds: float, size: tuple[int, int]) -> Path:
    """Write the demo dance looped to ``seconds`` at ``size`` (W, H), 30 fps, with no audio track."""
    import cv2

    from dance2music.cli.demo import demo_video
    from dance2music.io.video import iter_frames, write_video

    w, h = size
    frames = [cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA) for _, rgb in iter_frames(demo_video())]
    n = int(round(seconds * 30))

    def gen():
        for i in range(n):
            k = i % (2 * len(frames) - 2)  # ping-pong, so the loop has no jump
            yield frames[k if k < len(frames) else 2 * len(frames) - 2 - k]

    return write_video(gen(), 30.0, path, crf=28)


# Peak memory is the process's own high-water mark (VmHWM). ru_maxrss is not: subprocess starts the child
# with vfork, and Linux then carries the parent's peak (this script, holding the decoded demo frames) into
# the child's ru_maxrss at exec, which made every run read the same ~790 MB.
RUNNER = r"""
import json, resource, sys, time
t0 = time.perf_counter(); c0 = time.process_time()
from dance2music.cli import main
rc = main(sys.argv[1:])
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
try:
    status = open("/proc/self/status").read().split("\n")
    peak = next(int(ln.split()[1]) for ln in status if ln.startswith("VmHWM:")) / 1024
except (OSError, StopIteration):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rc": rc, "wall": wall, "cpu": cpu, "peak_rss_mb": peak}))
"""


def run_generate(video: Path, out: Path, *extra: str) -> dict:
    cmd = [sys.executable, "-c", RUNNER, "generate", str(video), "-o", str(out), "--force", "--no-progress", *extra]
    load_before = os.getloadavg()[0]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"generate failed: {proc.stderr.strip()[-500:]}")
    return {**json.loads(lines[-1]), "load_before": load_before, "load_after": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="length of the 720p speed clip")
    ap.add_argument(
        "--minutes", type=float, default=10.0, help="length of the long video for the memory figure (0: no memory runs)"
    )
    ap.add_argument(
        "--rates", nargs="+", default=["30", f"{GENERATE_ANALYSIS_FPS:g}"], help="analysis fps of the 720p speed runs"
    )
    ap.add_argument("--clip", type=Path, help="keep the 720p clip here (made when missing, reused when present)")
    ap.add_argument("--model", default="d2m-top")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)

    rows, long_runs = [], {}
    with tempfile.TemporaryDirectory(prefix="d2m-bench-") as tmp:
        tmp = Path(tmp)
        if args.clip is not None and args.clip.is_file():
            clip = args.clip
        else:
            clip = looped_video(args.clip or tmp / "clip720.mp4", args.seconds, (1280, 720))
        from dance2music.io.video import probe

        seconds = probe(clip).duration  # a kept clip has its own length
        for fps in args.rates:
            r = run_generate(clip, tmp / "out720.mp4", "--model", args.model, "--analysis-fps", fps)
            rows.append(
                {
                    "video": f"{seconds:g} s 1280x720",
                    "analysis_fps": float(fps),
                    **r,
                    "s_per_s": r["wall"] / seconds,
                    "cpu_s_per_s": r["cpu"] / seconds,
                }
            )
        for minutes in sorted({1.0, args.minutes}) if args.minutes > 0 else []:
            t0 = time.perf_counter()
            long = looped_video(tmp / f"long{minutes:g}.mp4", minutes * 60, (640, 360))
            made = time.perf_counter() - t0
            fps = f"{GENERATE_ANALYSIS_FPS:g}"
            r = run_generate(long, tmp / "out_long.mp4", "--model", args.model, "--analysis-fps", fps)
            rows.append(
                {
                    "video": f"{minutes:g} min 640x360",
                    "analysis_fps": GENERATE_ANALYSIS_FPS,
                    **r,
                    "make_video_s": made,
                    "s_per_s": r["wall"] / (minutes * 60),
                    "cpu_s_per_s": r["cpu"] / (minutes * 60),
                }
            )
            long_runs[minutes] = r
            (tmp / f"long{minutes:g}.mp4").unlink()
    steady = None
    if len(long_runs) == 2:
        (m1, a), (m2, b) = sorted(long_runs.items())
        extra_s = (m2 - m1) * 60
        steady = {
            "video": "640x360, per extra second",
            "analysis_fps": GENERATE_ANALYSIS_FPS,
            "s_per_s": (b["wall"] - a["wall"]) / extra_s,
            "cpu_s_per_s": (b["cpu"] - a["cpu"]) / extra_s,
        }

    threads = os.environ.get("OMP_NUM_THREADS", "default")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, OMP_NUM_THREADS {threads}; model {args.model}")
    print("| video | analysis fps | wall s per s of video | real-time factor | CPU s per s | peak RSS | load before |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['video']} | {r['analysis_fps']:g} | {r['s_per_s']:.2f} | {1 / r['s_per_s']:.2f}x | "
            f"{r['cpu_s_per_s']:.2f} | {r['peak_rss_mb']:.0f} MB | {r['load_before']:.1f} |"
        )
    if steady is not None:
        print(
            f"| {steady['video']} | {GENERATE_ANALYSIS_FPS:g} | {steady['s_per_s']:.2f} | "
            f"{1 / steady['s_per_s']:.2f}x | "
            f"{steady['cpu_s_per_s']:.2f} | | |"
        )
    if args.json:
        info = {"cpus": os.cpu_count(), "machine": platform.machine(), "omp_num_threads": threads, "model": args.model}
        args.json.write_text(json.dumps({"machine": info, "rows": rows, "steady_state": steady}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
