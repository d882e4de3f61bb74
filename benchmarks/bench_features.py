"""Throughput of the feature pipeline on a 720p clip: decode fps, pose fps, visual-feature fps, peak RSS.

By default it renders a 10-s 1280x720 24-fps clip of a real photograph in motion (scikit-image's astronaut,
see `dance2music.data.synth.photo_clip`) to a temporary folder; ``--video`` measures any other file, and the shared
real dance clip (../shared/data/real-dance, 1280x720) is measured too when it is present.

    python benchmarks/bench_features.py                    # Markdown table on stdout
    python benchmarks/bench_features.py --video my.mp4 --json out.json

Stages, each timed on its own over the whole clip (frames/s = video frames processed per second):
- decode 720p: `iter_frames` at full size (RGB conversion included);
- decode for the pipeline: `iter_frames(max_side=640)`, what `extract_features` decodes;
- pose: MediaPipe (model_complexity=1) + COCO-17 mapping on the 640-px frames;
- visual: flowgrid (Farneback flow at short side 128 + appearance) on the same frames;
- end to end: `extract_features` (one decode feeding pose and visual, plus smoothing/resampling).
CPU ms/frame is process CPU time (all threads) per frame: on a shared machine it moves much less with
the load than frames/s do. "extract peak RSS" is the maximum resident memory of a fresh process running
only `extract_features` (frames stream through it, so it does not grow with the video's length).
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

from _common import peak_rss_mb

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-dance" / "hiphop_studio_2.9s.mp4"


def make_clip(path: Path, seconds: float) -> Path:
    from skimage import data

    from dance2music.data.synth.photo_clip import photo_motion_frames
    from dance2music.io.video import write_video

    frames = photo_motion_frames(data.astronaut(), seconds=seconds, fps=24.0, size=(1280, 720), tempo=110.0)
    return write_video(frames, 24.0, path)


def bench(video: Path) -> dict:
    from dance2music.features.pose import POSE_MAX_SIDE, PoseTracker
    from dance2music.features.visual import FlowGridExtractor
    from dance2music.io.video import iter_frames, probe

    info = probe(video)
    row: dict = {"video": video.name, "size": f"{info.width}x{info.height}", "frames": info.num_frames}

    t0 = time.perf_counter()
    n = sum(1 for _ in iter_frames(video))
    row["decode_fps"] = n / (time.perf_counter() - t0)

    t0 = time.perf_counter()
    small = list(iter_frames(video, max_side=POSE_MAX_SIDE))  # kept only to time the stages apart
    row["decode_640_fps"] = len(small) / (time.perf_counter() - t0)

    tracker = PoseTracker(max_side=None)
    t0, c0 = time.perf_counter(), time.process_time()
    for t, rgb in small:
        tracker.update(t, rgb)
    row["pose_fps"] = len(small) / (time.perf_counter() - t0)
    row["pose_cpu_ms"] = 1000 * (time.process_time() - c0) / len(small)
    tracker.close()
    row["detection_rate"] = sum(tracker.detected) / len(small)

    flow = FlowGridExtractor()
    t0, c0 = time.perf_counter(), time.process_time()
    for t, rgb in small:
        flow.update(t, rgb)
    flow.finish(duration=info.duration)
    row["visual_fps"] = len(small) / (time.perf_counter() - t0)
    row["visual_cpu_ms"] = 1000 * (time.process_time() - c0) / len(small)
    del small

    # End to end in a fresh process, so that its peak memory is the pipeline's alone (the per-stage timing
    # above keeps the small frames in a list, which the pipeline never does).
    child = (
        subprocess.run([sys.executable, "-c", _CHILD, str(video)], capture_output=True, text=True, check=True)
        .stdout.strip()
        .splitlines()[-1]
    )
    dt, duration, rss = (float(x) for x in child.split())
    row["end_to_end_fps"] = n / dt
    row["realtime_factor"] = duration / dt  # seconds of video per second of compute
    row["extract_peak_rss_mb"] = rss
    return row


# The child reports its own high-water mark (VmHWM), not ru_maxrss: subprocess starts it with vfork, and
# Linux carries the parent's peak (this script held every decoded frame of the clip) into the child's
# ru_maxrss at exec.
_CHILD = """
import resource, sys, time
from dance2music.features.extract import extract_features
t0 = time.perf_counter()
f = extract_features(sys.argv[1])
dt = time.perf_counter() - t0
try:
    status = open("/proc/self/status").read().split("\\n")
    peak = next(int(ln.split()[1]) for ln in status if ln.startswith("VmHWM:")) / 1024.0
except (OSError, StopIteration):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
print(dt, f.duration, peak)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--video", type=Path, help="measure this video instead of the rendered 720p clip")
    ap.add_argument("--seconds", type=float, default=10.0, help="length of the rendered clip (default 10)")
    ap.add_argument("--no-real", action="store_true", help="skip the shared real dance clip")
    ap.add_argument("--json", type=Path, help="also write the results as JSON")
    args = ap.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        video = args.video or make_clip(Path(tmp) / "photo_720p.mp4", args.seconds)
        rows.append(bench(video))
        if not args.no_real and REAL.is_file() and args.video is None:
            rows.append(bench(REAL))
    rss = peak_rss_mb()

    cols = [
        ("video", "video", "{}"),
        ("size", "size", "{}"),
        ("frames", "frames", "{}"),
        ("decode_fps", "decode 720p (fps)", "{:.0f}"),
        ("decode_640_fps", "decode to 640 (fps)", "{:.0f}"),
        ("pose_fps", "pose (fps)", "{:.1f}"),
        ("pose_cpu_ms", "pose CPU ms/frame", "{:.0f}"),
        ("visual_fps", "visual (fps)", "{:.0f}"),
        ("visual_cpu_ms", "visual CPU ms/frame", "{:.1f}"),
        ("end_to_end_fps", "extract_features (fps)", "{:.1f}"),
        ("realtime_factor", "x real time", "{:.2f}"),
        ("extract_peak_rss_mb", "extract peak RSS (MB)", "{:.0f}"),
    ]
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    )
    print("| " + " | ".join(c[1] for c in cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(fmt.format(r[k]) for k, _, fmt in cols) + " |")
    print(f"peak RSS of this benchmark process (holds the 640-px frames for per-stage timing): {rss:.0f} MB")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "peak_rss_mb": rss}, indent=2) + "\n")


if __name__ == "__main__":
    main()
