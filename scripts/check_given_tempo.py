"""Is a given tempo obeyed? Music made for real dances with `tempo=` (as `d2m generate --tempo`), its tempo measured.

    python scripts/check_given_tempo.py ../shared/data/real-motion [--model d2m-top] [--tempi 90 120 140]
        [--seconds 20]

For each keypoint sequence (analysed as `d2m generate` analyses video) and each tempo, the music's tempo is the
mean interval of its beats as the metrics find them (`metrics.beats.music_beats`, librosa's tracker), over the
intervals within 25 % of their median; the error forgives double and half tempo, as the tempo metrics do.
Prints one row per sequence and the share within 2 %.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from dance2music import Dance2Music
from dance2music.features.beats import music_beats
from dance2music.metrics.evaluate_motion import keypoints_to_motion, load_keypoint_sequence


def tempo_error(measured: float, target: float) -> float:
    """Relative error of ``measured`` against ``target``, double or half forgiven."""
    return min(abs(measured * k / target - 1.0) for k in (0.5, 1.0, 2.0))


def music_tempo(beats: np.ndarray) -> float:
    """BPM from beat times: the mean of the intervals within 25 % of their median (the tracker's 23-ms frames
    make any single interval, and so the median, a coarse measure; the mean of many is not)."""
    if beats.size < 3:
        return float("nan")
    d = np.diff(beats)
    m = np.median(d)
    return 60.0 / float(d[np.abs(d - m) < 0.25 * m].mean())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="keypoint sequences (<name>.npz)")
    ap.add_argument("--model", default="d2m-top")
    ap.add_argument("--tempi", type=float, nargs="+", default=[90.0, 120.0, 140.0])
    ap.add_argument("--seconds", type=float, default=20.0, help="the first this many seconds of each dance")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    model = Dance2Music.from_pretrained(args.model)
    errors = []
    print("| sequence | " + " | ".join(f"{t:g} BPM given: music BPM (error)" for t in args.tempi) + " |")
    print("| --- |" + " --- |" * len(args.tempi))
    for path in sorted(args.folder.glob("*.npz")):
        seq = load_keypoint_sequence(path)
        n = min(len(seq.keypoints), int(round(args.seconds * seq.fps)))
        motion = keypoints_to_motion(seq.keypoints[:n], seq.fps)
        cells = []
        for bpm in args.tempi:
            res = model.generate(motion, tempo=bpm, seed=args.seed, genre="none")
            beats = music_beats(res.audio, sr=res.sample_rate)
            got = music_tempo(beats)
            err = tempo_error(got, bpm) if np.isfinite(got) else float("nan")
            errors.append(err)
            cells.append(f"{got:.1f} ({100 * err:.1f} %)")
        print(f"| {seq.name} | " + " | ".join(cells) + " |")
    e = np.asarray(errors)
    print(f"\nwithin 2 %: {int(np.sum(e <= 0.02))} of {e.size}; median error {100 * np.nanmedian(e):.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
