"""Train the dance-genre classifier that `d2m generate` uses to pick the music's genre from the dance.

    python scripts/train_dance_genre.py --cache data/cache/synth --out src/dance2music/pretrained/weights/dance_genre

Reads the motion of every sequence of one or more feature caches (`d2m data prepare`; the synthetic set, AIST++
or any labelled dances; the caches' splits are pooled). ``--augment K`` adds K copies of every train and val
dance degraded as real footage through pose shows it (`data.augment.degrade_motion`, always analysed at a few
frames per second as `d2m generate` analyses video), so that the classifier and its calibration see what
inference sees. Then it fits `models.dance_genre.DanceGenreClassifier` on the ``train`` split, chooses the
regularisation on ``val``, calibrates it on ``val`` (temperature, out-of-distribution statistics, the probability
under which it is unsure: `DanceGenreClassifier.calibrate`), prints window and whole-dance accuracy, calibration
error and what share of dances it would name on ``val`` and ``test``, and writes ``OUT.safetensors`` +
``OUT.json``. Prints the sha256 for the registry entry (`dance2music.pretrained.registry`).
"""

from __future__ import annotations

import argparse
import shlex
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--cache", required=True, nargs="+", help="feature cache folders (d2m data prepare)")
    p.add_argument("--augment", type=int, default=0, help="degraded copies of each train and val dance")
    p.add_argument("--seed", type=int, default=0, help="seed of the degraded copies")
    p.add_argument("--out", default="src/dance2music/pretrained/weights/dance_genre", help="weights path (no suffix)")
    p.add_argument("--c", type=float, nargs="+", default=[0.01, 0.03, 0.1, 0.3, 1.0], help="regularisation grid")
    args = p.parse_args(argv)

    import numpy as np

    from dance2music.data.augment import MotionAugment, degrade_motion
    from dance2music.data.cache import FeatureCache
    from dance2music.errors import D2MError
    from dance2music.models.dance_genre import DanceGenreClassifier, window_features
    from dance2music.pretrained.registry import sha256_file

    def split(name: str):
        motions, labels = [], []
        for folder in args.cache:
            try:
                cache = FeatureCache(folder, name)
            except D2MError:
                continue
            entries = [e for e in cache.entries if e.get("genre") is not None]
            motions += [cache.load_arrays(e["name"])[0] for e in entries]
            labels += [int(e["genre"]) for e in entries]
        return motions, labels

    rng = np.random.default_rng(args.seed)
    as_video = MotionAugment(analysis=1.0)  # every copy analysed at 8-15 fps, as d2m generate analyses video

    def augmented(data):
        motions, labels = data
        copies = [degrade_motion(m, rng, as_video) for _ in range(args.augment) for m in motions]
        return motions + copies, labels * (1 + args.augment)

    def accuracy(model: DanceGenreClassifier, motions, labels) -> tuple[float, float]:
        win, whole = [], []
        for m, y in zip(motions, labels):
            p = model.window_probabilities(m)
            win.extend(p.argmax(1) == y)
            whole.append(p.mean(0).argmax() == y)
        return float(np.mean(win)), float(np.mean(whole))

    def reliability(model: DanceGenreClassifier, motions, labels) -> dict[str, float]:
        """Expected calibration error of the windows (10 bins), and the dances it names, how right, which pass."""
        conf, right, named, named_right, passed = [], [], [], [], []
        for m, y in zip(motions, labels):
            p = model.window_probabilities(m)
            conf.extend(p.max(1))
            right.extend(p.argmax(1) == y)
            g = model.assess(m)
            passed.append(g.verdict != "unlike-training")
            named.append(g.verdict == "dance")
            if g.verdict == "dance":
                named_right.append(model.genres.index(g.code) == y)
        conf, right = np.asarray(conf), np.asarray(right, float)
        bins = np.minimum((conf * 10).astype(int), 9)
        ece = sum(abs(conf[bins == b].mean() - right[bins == b].mean()) * np.mean(bins == b) for b in np.unique(bins))
        return {
            "ece": float(ece),
            "in_distribution": float(np.mean(passed)),
            "named": float(np.mean(named)),
            "named_accuracy": float(np.mean(named_right)) if named_right else float("nan"),
        }

    try:
        train, val, test = split("train"), split("val"), split("test")
        if not train[0]:
            raise D2MError(f"no labelled sequences in the train split of {' '.join(args.cache)}")
        train, val = augmented(train), augmented(val)  # the test split stays as the caches hold it
        scores = {}
        for c in args.c:
            model = DanceGenreClassifier.fit(*train, c=c)
            scores[c] = accuracy(model, *val) if val[0] else accuracy(model, *train)
            print(f"C={c:g}: val window acc {scores[c][0]:.3f}, whole-dance acc {scores[c][1]:.3f}")
        best = max(scores, key=lambda c: (scores[c][0], -c))
        results = {"val": scores[best]}
        model = DanceGenreClassifier.fit(*train, c=best)
        if test[0]:
            results["test"] = accuracy(model, *test)
        ece_before = {k: reliability(model, *d)["ece"] for k, d in (("val", val), ("test", test)) if d[0]}
        calibration = model.calibrate(train, val if val[0] else train)
        checks = {k: reliability(model, *d) for k, d in (("val", val), ("test", test)) if d[0]}
        for k in checks:
            checks[k]["ece_before"] = ece_before[k]
        model.meta = {
            "trained_on": " ".join(args.cache),
            "augment": args.augment,
            "C": best,
            "train_dances": len(train[0]) // (1 + args.augment),
            "windows_per_dance": round(sum(len(window_features(m)) for m in train[0]) / len(train[0]), 2),
            "accuracy": {k: {"window": v[0], "dance": v[1]} for k, v in results.items()},
            "calibration": {k: round(v, 4) for k, v in calibration.items()},
            "checks": {k: {n: round(x, 4) for n, x in v.items()} for k, v in checks.items()},
            "command": shlex.join(["python", "scripts/train_dance_genre.py", *(argv or sys.argv[1:])]),
        }
        out = model.save(args.out + ".safetensors")
    except D2MError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    for k, (w, d) in results.items():
        print(f"{k}: window accuracy {w:.3f}, whole-dance accuracy {d:.3f} (C={best:g})")
    c = calibration
    print(
        f"calibration (val): temperature {c['temperature']:.3f} (window NLL {c['nll_before']:.3f} -> "
        f"{c['nll_after']:.3f}); out of distribution past Mahalanobis {c['ood_threshold']:.2f} (shrinkage "
        f"{c['ood_shrinkage']:.3f}); unsure under p={c['min_probability']:.2f} ({c['confident_share']:.0%} of val "
        f"windows above it, {c['confident_accuracy']:.0%} right)"
    )
    for k, v in checks.items():
        print(
            f"{k}: window ECE {v['ece_before']:.3f} -> {v['ece']:.3f}; dances in distribution "
            f"{v['in_distribution']:.0%}, named {v['named']:.0%} ({v['named_accuracy']:.0%} right)"
        )
    print(f"wrote {out}; sha256 {sha256_file(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
