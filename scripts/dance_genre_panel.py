"""What the dance-genre classifier says of real dancers: the real-motion panel, whole dances and 2-s excerpts.

Every keypoint sequence of a folder (the real-motion panel, whose files name their genre) is analysed as
`d2m generate` analyses a video (`evaluate_motion.keypoints_to_motion`, 10 fps), clean and degraded as video
pose degrades it (`evaluate_motion.degrade_keypoints`, seeded as `d2m evaluate --motion --degrade`); whole
dances and each non-overlapping 2-s excerpt on its own. For each: the classifier's verdict
(`DanceGenreClassifier.assess`: named, uncertain or unlike-training), whether its best guess and, when it
names one, the named genre are right, and its window distance to the training dances.

    python scripts/dance_genre_panel.py ../shared/data/real-motion [--model dance-genre | FILE.safetensors]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from dance2music.metrics import evaluate_motion as em
from dance2music.models.dance_genre import DanceGenreClassifier


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder")
    p.add_argument("--model", default="dance-genre", help="registry name or .safetensors file")
    p.add_argument("--excerpt", type=float, default=2.0, help="excerpt length (s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the degradation (as d2m evaluate --seed)")
    args = p.parse_args()
    model = DanceGenreClassifier.from_pretrained(args.model)
    seqs = [em.load_keypoint_sequence(f) for f in sorted(Path(args.folder).glob("*.npz"))]
    seqs = [s for s in seqs if s.genre]
    if not seqs:
        raise SystemExit(f"error: no sequence in {args.folder} names its genre")
    print(f"{'sequence':32s} {'genre':5s} | clean: verdict, guess (p), distance | degraded: the same")
    tallies: dict[str, Counter] = {}
    for s in seqs:
        kp_d, det_d = em.degrade_keypoints(s.keypoints, seed=em.degradation_seed(args.seed, s.name))
        cells = []
        for cond, kp, det in (("clean", s.keypoints, None), ("degraded", kp_d, det_d)):
            n = kp.shape[0]
            step = int(round(args.excerpt * s.fps))
            units = [("whole", slice(0, n))]
            units += [(f"{args.excerpt:g}s", slice(a, a + step)) for a in range(0, n - step + 1, step)]
            for scale, sl in units:
                g = model.assess(em.keypoints_to_motion(kp[sl], s.fps, detected=None if det is None else det[sl]))
                t = tallies.setdefault(f"{cond}, {scale}", Counter())
                t["units"] += 1
                t[g.verdict] += 1
                t["guess right"] += g.code == s.genre
                t["named right"] += g.verdict == "dance" and g.code == s.genre
                t["distance"] += g.distance
                if scale == "whole":
                    cells.append(f"{g.verdict[:9]:9s} {g.code} ({g.probability:.2f}) {g.distance:5.1f}")
        print(f"{s.name:32s} {s.genre:5s} | {cells[0]} | {cells[1]}")
    print()
    print("| units | n | named (right) | uncertain | unlike-training | best guess right | mean distance |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for k, t in tallies.items():
        u = t["units"]
        print(
            f"| {k} | {u} | {t['dance']} ({t['named right']}) | {t['uncertain']} | {t['unlike-training']} | "
            f"{t['guess right']} ({t['guess right'] / u:.0%}) | {t['distance'] / u:.1f} |"
        )
    print(f"threshold: distance {model.ood_threshold:.1f}, probability {model.min_probability:.2f}")


if __name__ == "__main__":
    main()
