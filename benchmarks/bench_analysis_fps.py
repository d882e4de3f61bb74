"""What analysing fewer frames per second costs in kinematic-beat accuracy, on the synthetic set's videos.

    python benchmarks/bench_analysis_fps.py data/synth                 # test split (20 clips), 30 vs 15 fps
    python benchmarks/bench_analysis_fps.py data/synth --rates 30 15 10 --json out.json
    python benchmarks/bench_analysis_fps.py data/synth --rates 30 15 --lanes 1 2   # also two pose lanes

For each clip of the split, `extract_features` (pose only, as `d2m generate` runs it for the shipped model)
runs on the video at every rate; kinematic beats (`features.beats`) of each motion are scored with
beat F1 (+-100 ms, one-to-one) against
- the labelled music beats (what the model is asked to follow), and
- the synthetic dancer's own keyframe times (``dance_beats`` in the labels: where its movement really hits);
and against the beats found at the first (highest) rate with one lane, with the median time shift of the
matched pairs. ``--lanes 1 2`` also runs each rate with two pose trackers taking turns (`PoseLanes`).
Counts are pooled over the clips (F1 = 2 * matches / (n_ref + n_est)). CPU seconds per clip are reported too.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def video_for(root: Path, seq: str) -> Path | None:
    """The video of sequence ``seq`` (its camera id replaces ``cAll``)."""
    found = sorted((root / "videos").glob(seq.replace("cAll", "c*") + ".*"))
    return found[0] if found else None


def matched_shifts(reference: np.ndarray, estimate: np.ndarray, tolerance: float) -> np.ndarray:
    """|time differences| of the one-to-one matched pairs (the same matching as `match_beats`)."""
    from scipy.optimize import linear_sum_assignment

    if reference.size == 0 or estimate.size == 0:
        return np.zeros(0)
    d = np.abs(reference[:, None] - estimate[None, :])
    within = d <= tolerance + 1e-9
    rows, cols = linear_sum_assignment(np.where(within, -1.0 + d / (10.0 * tolerance * (d.shape[0] + 1)), 0.0))
    keep = within[rows, cols]
    return d[rows[keep], cols[keep]]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path, help="dataset in the AIST++ layout with labels/ (d2m data synth)")
    ap.add_argument("--split", default="test", help="crossmodal split to use (default test)")
    ap.add_argument("--limit", type=int, default=20, help="at most this many clips (default 20)")
    ap.add_argument("--rates", type=float, nargs="+", default=[30.0, 15.0], help="analysis fps, highest first")
    ap.add_argument("--lanes", type=int, nargs="+", default=[1], help="pose lanes to try (1, 2; default 1)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)

    from dance2music.features.beats import BEAT_F1_TOLERANCE_S, kinematic_beats, match_beats
    from dance2music.features.extract import extract_features

    seqs = (args.root / "splits" / f"crossmodal_{args.split}.txt").read_text().split()
    seqs = [s for s in seqs if video_for(args.root, s) is not None][: args.limit]
    if not seqs:  # a set made with --no-video: nothing to measure, and no row of zeros that looks like a result
        print(f"skipped: no videos in {args.root / 'videos'} for the {args.split} split (made with --no-video)")
        return 0
    runs = [(r, lanes) for r in args.rates for lanes in args.lanes]  # the first is the reference
    keys = ("music", "dance", "top")
    counts = {run: {k: [0, 0, 0] for k in keys} for run in runs}  # matches, n_ref, n_est
    shifts: dict[tuple[float, int], list[np.ndarray]] = {run: [] for run in runs}
    cpu = {run: 0.0 for run in runs}
    clips = 0
    for seq in seqs:
        video = video_for(args.root, seq)
        if video is None:
            continue
        label = json.loads((args.root / "labels" / f"{seq}.json").read_text())
        refs = {"music": np.asarray(label["beats"], float), "dance": np.asarray(label.get("dance_beats", []), float)}
        top = None
        for run in runs:
            c0 = time.process_time()
            feats = extract_features(video, visual=False, analysis_fps=run[0], pose_lanes=run[1])
            cpu[run] += time.process_time() - c0
            beats = kinematic_beats(feats.motion).times
            refs_r = {**refs, "top": top if top is not None else beats}
            for k in keys:
                c = counts[run][k]
                c[0] += match_beats(refs_r[k], beats)
                c[1] += refs_r[k].size
                c[2] += beats.size
            if top is None:
                top = beats
            else:
                shifts[run].append(matched_shifts(top, beats, BEAT_F1_TOLERANCE_S))
        clips += 1
        print(f"{clips:3d} {seq}", file=sys.stderr, flush=True)

    def f1(c: list[int]) -> float:
        return 2.0 * c[0] / max(1, c[1] + c[2])

    rows = []
    for run in runs:
        s = np.concatenate(shifts[run]) if shifts[run] else np.zeros(0)
        rows.append(
            {
                "analysis_fps": run[0],
                "pose_lanes": run[1],
                "f1_music_beats": f1(counts[run]["music"]),
                "f1_dance_keyframes": f1(counts[run]["dance"]),
                "f1_vs_first": f1(counts[run]["top"]),
                "median_shift_ms_vs_first": float(np.median(s) * 1000) if s.size else 0.0,
                "kinematic_beats": counts[run]["music"][2],
                "cpu_s_per_clip": cpu[run] / max(1, clips),
            }
        )
    print(f"{clips} clips of {args.root} ({args.split} split); beat F1 at +-100 ms, pooled")
    print("| analysis fps | pose lanes | F1 vs music beats | F1 vs dancer keyframes | F1 vs first row | median shift "
          "| CPU s/clip |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['analysis_fps']:g} | {row['pose_lanes']} | {row['f1_music_beats']:.3f} | "
            f"{row['f1_dance_keyframes']:.3f} | {row['f1_vs_first']:.3f} | {row['median_shift_ms_vs_first']:.0f} ms | "
            f"{row['cpu_s_per_clip']:.1f} |"
        )
    if args.json:
        args.json.write_text(json.dumps({"clips": clips, "split": args.split, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
