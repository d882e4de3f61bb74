"""Edited videos: the real panel's dances cut every few seconds to a new framing, and the music still on the dance?

Each keypoint sequence of a folder (the real-motion panel) gets a jump cut every ``--every`` seconds: from the
cut on, the dancer is shifted by up to ``--shift`` pixels and scaled by 0.7-1.3 about his mean position, as
when an edit moves to another shot (fixed seed). The cut dance goes through `d2m generate`'s analysis
(10 fps); its rhythm grid and the model's music (``--seeds`` seeds, no genre) are scored against the uncut
dance's kinematic beats (pose at every frame): BeatAlign (Bailando) and beat F1, mean over dances.
``--no-join`` turns off the joining of the shots (`features.pose.join_cuts`) and ``--no-bridge`` the rhythm's
jump bridging (`features.rhythm.MAX_DANCE_SPEED`), for comparison.

    python scripts/cut_dances.py ../shared/data/real-motion [--model d2m-top] [--every 3] [--no-join] [--no-bridge]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from dance2music.api import Dance2Music
from dance2music.constants import SAMPLE_RATE
from dance2music.features import pose as P
from dance2music.features import rhythm as R
from dance2music.features.beats import beat_alignment, kinematic_beats
from dance2music.metrics import evaluate_motion as em


def with_cuts(keypoints: np.ndarray, fps: float, every: float, shift: float, rng: np.random.Generator) -> np.ndarray:
    """``keypoints`` [T, 17, 3] (pixels) with a new framing every ``every`` seconds."""
    kp = np.array(keypoints, np.float64, copy=True)
    for start in range(int(every * fps), kp.shape[0], int(every * fps)):
        scale, offset = rng.uniform(0.7, 1.3), rng.uniform(-shift, shift, size=2)
        centre = kp[start:, :, :2].mean(axis=(0, 1))
        kp[start:, :, :2] = (kp[start:, :, :2] - centre) * scale + centre + offset
    return kp


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder")
    p.add_argument("--model", default="d2m-top")
    p.add_argument("--every", type=float, default=3.0, help="seconds between cuts")
    p.add_argument("--shift", type=float, default=300.0, help="largest shift of the dancer at a cut (pixels)")
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--seed", type=int, default=0, help="seed of the cuts")
    p.add_argument("--no-join", action="store_true", help="score without joining the shots at the cuts")
    p.add_argument("--no-bridge", action="store_true", help="score without the rhythm's jump bridging")
    args = p.parse_args(argv)
    if args.no_join:
        P.CUT_JUMP_TORSO = float("inf")
    if args.no_bridge:
        R.MAX_DANCE_SPEED = float("inf")
    model = Dance2Music.from_pretrained(args.model)
    rng = np.random.default_rng(args.seed)
    print("| dance | tempo, uncut / cut (BPM) | grid BA / F1, cut | music BA / F1, cut |\n| --- | --- | --- | --- |")
    rows = []
    for f in sorted(Path(args.folder).glob("*.npz")):
        s = em.load_keypoint_sequence(f)
        ref = kinematic_beats(em.keypoints_to_motion(s.keypoints, s.fps, analysis_fps=None)).times
        cut = em.keypoints_to_motion(with_cuts(s.keypoints, s.fps, args.every, args.shift, rng), s.fps)
        uncut = R.estimate_rhythm(em.keypoints_to_motion(s.keypoints, s.fps))
        grid = R.estimate_rhythm(cut)
        g = beat_alignment(ref, grid.beat_times())
        music = [beat_alignment(ref, em.music_beats(model.generate(cut, seed=k, genre=None).audio, sr=SAMPLE_RATE))
                 for k in range(args.seeds)]  # fmt: skip
        ba, f1 = np.mean([m.beat_align for m in music]), np.mean([m.f1 for m in music])
        rows.append((g.beat_align, g.f1, ba, f1))
        print(f"| {s.name} | {uncut.tempo:.0f} / {grid.tempo:.0f} | {g.beat_align:.3f} / {g.f1:.3f} | "
              f"{ba:.3f} / {f1:.3f} |", flush=True)  # fmt: skip
    a = np.asarray(rows)
    se = a.std(axis=0, ddof=1) / np.sqrt(len(a)) if len(a) > 1 else np.zeros(4)
    print(f"\nmean over {len(a)} dances: grid BA {a[:, 0].mean():.3f} ± {se[0]:.3f}, F1 {a[:, 1].mean():.3f}; music BA "
          f"{a[:, 2].mean():.3f} ± {se[2]:.3f}, F1 {a[:, 3].mean():.3f} ± {se[3]:.3f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
