"""Beat alignment of generated music on real dance videos, against mismatched real music.

    python scripts/eval_real_video.py VIDEO [VIDEO ...] [--model d2m-top] [--seeds 8] [--json out.json]
    python scripts/eval_real_video.py VIDEO --analysis-fps 10 --pose-lanes 2     # as `d2m generate` analyses

For each video: the pose pipeline gives the dancer's kinematic beats (at every frame by default); the model makes
music for it with several seeds; the baseline is real music that does not belong to the dance: every track of
the MIT-licensed `immich-memories-music` package, cut to the video's length at several offsets. Both are scored
with Bailando's BeatAlign and the beat F1 at +-100 ms (`dance2music.metrics.motion_beats`), the same measures as
`d2m evaluate`. Short clips hold only a few movement beats, so means over seeds and over the mismatched pool are
printed with their standard errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def score(motion_beats: np.ndarray, audio: np.ndarray, sr: int) -> tuple[float, float]:
    """(BeatAlign (Bailando), beat F1) of ``audio`` against the movement beats, as `d2m evaluate --videos`."""
    from dance2music.constants import SAMPLE_RATE
    from dance2music.metrics.evaluate_videos import score_music

    if sr != SAMPLE_RATE:
        raise ValueError(f"audio must be at {SAMPLE_RATE} Hz")
    s = score_music(motion_beats, audio)
    return s["ba_bailando"], s["beat_f1"]


def mean_se(values: list[float]) -> tuple[float, float]:
    a = np.asarray([v for v in values if np.isfinite(v)], dtype=np.float64)
    if a.size == 0:
        return float("nan"), float("nan")
    return float(a.mean()), float(a.std(ddof=1) / np.sqrt(a.size)) if a.size > 1 else 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("videos", nargs="+", type=Path)
    ap.add_argument("--model", default="d2m-top")
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--offsets", type=int, default=3, help="cuts of each mismatched track")
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--analysis-fps", type=float, default=30.0,
        help="pose frames per second (default 30: every frame of most videos; d2m generate uses 10)",
    )  # fmt: skip
    ap.add_argument("--pose-lanes", type=int, choices=(1, 2), default=1, help="pose trackers (d2m generate: 2)")
    args = ap.parse_args(argv)

    from dance2music.api import Dance2Music
    from dance2music.constants import SAMPLE_RATE
    from dance2music.data.music import immich_tracks
    from dance2music.features.beats import kinematic_beats
    from dance2music.features.extract import extract_features
    from dance2music.io.audio import load_audio
    from dance2music.metrics.evaluate_videos import mismatch_cuts

    model = Dance2Music.from_pretrained(args.model)
    pool = [load_audio(p, sr=SAMPLE_RATE) for p in immich_tracks("all")]
    results = []
    for video in args.videos:
        feats = extract_features(video, analysis_fps=args.analysis_fps, pose_lanes=args.pose_lanes)
        kb = kinematic_beats(feats.motion).times
        n = int(round(feats.duration * SAMPLE_RATE))
        gen = [score(kb, model.generate(feats, seed=s).audio, SAMPLE_RATE) for s in range(args.seeds)]
        mis = []
        for track in pool:
            mis += [score(kb, cut, SAMPLE_RATE) for cut in mismatch_cuts(track, n, args.offsets)]
        row = {
            "video": video.name,
            "duration_s": round(feats.duration, 2),
            "movement_beats": int(kb.size),
            "generated_ba": mean_se([g[0] for g in gen]),
            "generated_f1": mean_se([g[1] for g in gen]),
            "mismatched_ba": mean_se([m[0] for m in mis]),
            "mismatched_f1": mean_se([m[1] for m in mis]),
            "seeds": args.seeds,
            "mismatched_cuts": len(mis),
        }
        results.append(row)

    print("| video | s | movement beats | BA generated | BA mismatched real music | F1 generated | F1 mismatched |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        f = "{:.3f} ± {:.3f}".format
        print(f"| {r['video']} | {r['duration_s']} | {r['movement_beats']} | {f(*r['generated_ba'])} | "
              f"{f(*r['mismatched_ba'])} | {f(*r['generated_f1'])} | {f(*r['mismatched_f1'])} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
