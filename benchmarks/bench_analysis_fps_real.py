"""Kinematic beats of a real clip at several analysis rates, against the beats of its OpenPose keypoints.

    python benchmarks/bench_analysis_fps_real.py ../shared/data/real-dance/hiphop_studio_2.9s.mp4 \\
        ../shared/data/real-dance/openpose_body25 --fps 23.976

The beats of MediaPipe's motion at each rate (and with one or two pose lanes) are matched to the beats of the
OpenPose track of the same frames (beat F1 at +-100 ms): how low the rate can go before beats move or appear.
"""

from __future__ import annotations

import argparse

import numpy as np


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video")
    ap.add_argument("openpose", help="folder of OpenPose BODY_25 JSON files, one per frame")
    ap.add_argument("--fps", type=float, required=True, help="frame rate of the OpenPose frames")
    ap.add_argument("--rates", type=float, nargs="+", default=[0, 15, 12, 10, 8], help="0: every frame")
    ap.add_argument("--lanes", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args(argv)

    from dance2music.features.beats import beat_f1, kinematic_beats
    from dance2music.features.extract import extract_features
    from dance2music.features.motion_formats import read_openpose_folder

    ref = kinematic_beats(read_openpose_folder(args.openpose, fps=args.fps)).times
    print(f"OpenPose beats (s): {np.round(ref, 2).tolist()}")
    print("| analysis fps | pose lanes | beats (s) | F1 vs OpenPose's |")
    print("| --- | --- | --- | --- |")
    for rate in args.rates:
        for lanes in args.lanes:
            feats = extract_features(args.video, visual=False, analysis_fps=rate or None, pose_lanes=lanes)
            beats = kinematic_beats(feats.motion).times
            name = f"{rate:g}" if rate else "every frame"
            print(f"| {name} | {lanes} | {np.round(beats, 2).tolist()} | {beat_f1(ref, beats).f1:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
