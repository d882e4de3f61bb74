"""Which of the generator's inputs the degraded keypoints cost: parts of the clean run swapped into the degraded one.

For each keypoint sequence of a folder (the real-motion panel), whole dances as `d2m evaluate --motion` makes
them (analysed at `d2m generate`'s rate, keypoints degraded with the same seeds as ``--degrade``), music from
a model with its rhythm input (`features.rhythm.Rhythm`) taken from the clean or the degraded keypoints, whole or
in parts (beat grid, accent channel, presence channel), scored against the dancer's beats (clean keypoints,
every frame): BeatAlign (Bailando) and beat F1, averaged over seeds and then over dances.

    python scripts/degraded_inputs.py ../shared/data/real-motion [--model d2m-top] [--seeds 2]
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from dance2music.api import Dance2Music
from dance2music.constants import SAMPLE_RATE
from dance2music.features import rhythm as rhythm_module
from dance2music.features.beats import beat_alignment, kinematic_beats
from dance2music.metrics import evaluate_motion as em


def hybrids(clean, degraded) -> dict[str, tuple[str, object]]:
    """Condition -> (which motion the generator sees, the rhythm it is given)."""
    grid = dict(beat_count=clean.beat_count, local_bpm=clean.local_bpm, tempo=clean.tempo)
    return {
        "clean": ("clean", clean),
        "degraded": ("degraded", degraded),
        "degraded motion, clean rhythm": ("degraded", clean),
        "clean motion, degraded rhythm": ("clean", degraded),
        "degraded, clean beat grid": ("degraded", replace(degraded, **grid)),
        "degraded, clean accent channel": ("degraded", replace(degraded, accent=clean.accent)),
        "degraded, clean presence channel": ("degraded", replace(degraded, present=clean.present)),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder")
    p.add_argument("--model", default="d2m-top")
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--seed", type=int, default=0, help="seed of the degradation (as d2m evaluate --seed)")
    args = p.parse_args(argv)
    model = Dance2Music.from_pretrained(args.model)
    window = model.model.rhythm_window
    estimate = rhythm_module.estimate_rhythm
    given: list = []
    # `Dance2Music.generate` reads the rhythm off the motion it is given; here it gets the condition's instead.
    rhythm_module.estimate_rhythm = lambda motion, **kw: given[-1]
    scores: dict[str, list[list[float]]] = {}
    try:
        for f in sorted(Path(args.folder).glob("*.npz")):
            s = em.load_keypoint_sequence(f)
            kp, det = em.degrade_keypoints(s.keypoints, seed=em.degradation_seed(args.seed, s.name))
            motions = {"clean": em.keypoints_to_motion(s.keypoints, s.fps),
                       "degraded": em.keypoints_to_motion(kp, s.fps, detected=det)}  # fmt: skip
            ref = kinematic_beats(em.keypoints_to_motion(s.keypoints, s.fps, analysis_fps=None)).times
            rc, rd = (estimate(motions[k], window_beats=window) for k in ("clean", "degraded"))
            for name, (shown, rhythm) in hybrids(rc, rd).items():
                given.append(rhythm)
                runs = []
                for seed in range(args.seeds):
                    audio = model.generate(motions[shown], seed=seed, genre=None).audio
                    sc = beat_alignment(ref, em.music_beats(audio, sr=SAMPLE_RATE))
                    runs.append([sc.beat_align, sc.f1])
                scores.setdefault(name, []).append(list(np.mean(runs, axis=0)))
            print(f"{s.name}: " + ", ".join(f"{k} {v[-1][0]:.3f}" for k, v in scores.items()), flush=True)
    finally:
        rhythm_module.estimate_rhythm = estimate
    print(f"\n| {args.model}, whole dances, {args.seeds} seeds | BA (Bailando) | beat F1 |\n| --- | --- | --- |")
    for name, rows in scores.items():
        a = np.asarray(rows)
        se = a.std(axis=0, ddof=1) / np.sqrt(len(a)) if len(a) > 1 else np.zeros(2)
        print(f"| {name} | {a[:, 0].mean():.3f} ± {se[0]:.3f} | {a[:, 1].mean():.3f} ± {se[1]:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
