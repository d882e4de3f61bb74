"""How well the dance's beat grid (`features.rhythm`) sits on the dancer's own beats, clean and degraded.

For each keypoint sequence of a folder (the real-motion panel): the grid read from the keypoints as `d2m generate`
analyses a video (`evaluate_motion.keypoints_to_motion`), and from the same keypoints degraded as video pose
degrades them (`evaluate_motion.degrade_keypoints`, seeded as `d2m evaluate --motion --degrade`), each scored
against the kinematic beats of the clean keypoints at every frame (`features.beats.beat_alignment`).

    python scripts/rhythm_grid_panel.py ../shared/data/real-motion [--window 3] [--no-jitter] [--no-drop] [--no-crop]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from dance2music.features import rhythm
from dance2music.features.beats import beat_alignment, kinematic_beats
from dance2music.metrics import evaluate_motion as em


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder")
    p.add_argument("--window", type=float, default=rhythm.PHASE_WINDOW_BEATS, help="phase window in beats")
    p.add_argument("--seed", type=int, default=0, help="seed of the degradation (as d2m evaluate --seed)")
    p.add_argument("--no-jitter", action="store_true")
    p.add_argument("--no-drop", action="store_true")
    p.add_argument("--no-crop", action="store_true")
    args = p.parse_args()
    degrade = dict(
        jitter=0.0 if args.no_jitter else em.DEGRADE_JITTER,
        drop=0.0 if args.no_drop else em.DEGRADE_DROP,
        crop=() if args.no_crop else em.LOWER_BODY,
    )
    seqs = [em.load_keypoint_sequence(f) for f in sorted(Path(args.folder).glob("*.npz"))]
    rows = []
    print(f"{'sequence':32s} {'bpm':>5s} | clean: tempo  BA    F1   | degraded: tempo  BA    F1")
    for s in seqs:
        ref = kinematic_beats(em.keypoints_to_motion(s.keypoints, s.fps, analysis_fps=None)).times
        kp, det = em.degrade_keypoints(s.keypoints, seed=em.degradation_seed(args.seed, s.name), **degrade)
        row = []
        for keypoints, detected in ((s.keypoints, None), (kp, det)):
            motion = em.keypoints_to_motion(keypoints, s.fps, detected=detected)
            r = rhythm.estimate_rhythm(motion, window_beats=args.window)
            sc = beat_alignment(ref, r.beat_times()).report_scores()
            row += [r.tempo, sc["ba_bailando"], sc["beat_f1"]]
        rows.append(row)
        bpm = f"{s.nominal_bpm:5.0f}" if s.nominal_bpm else "    ?"
        print(
            f"{s.name:32s} {bpm} | {row[0]:12.1f} {row[1]:.3f} {row[2]:.3f} | {row[3]:15.1f} {row[4]:.3f} {row[5]:.3f}"
        )
    a = np.asarray(rows)
    print(f"mean: clean BA {a[:, 1].mean():.3f} F1 {a[:, 2].mean():.3f}; degraded BA {a[:, 4].mean():.3f} "
          f"F1 {a[:, 5].mean():.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
