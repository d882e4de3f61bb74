"""Train the dance-genre classifier that `d2m generate` uses to pick the music's genre from the dance.

    python scripts/train_dance_genre.py --cache data/cache/synth --out src/dance2music/pretrained/weights/dance_genre

Reads the motion of every sequence of a feature cache (`d2m data prepare`; the synthetic set, AIST++ or any
labelled dances), fits `models.dance_genre.DanceGenreClassifier` on the ``train`` split, chooses the
regularisation on ``val``, prints window and whole-dance accuracy on ``val`` and ``test``, and writes
``OUT.safetensors`` + ``OUT.json``. Prints the sha256 for the registry entry (`dance2music.pretrained.registry`).
"""

from __future__ import annotations

import argparse
import shlex
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--cache", required=True, help="feature cache folder (d2m data prepare)")
    p.add_argument("--out", default="src/dance2music/pretrained/weights/dance_genre", help="weights path (no suffix)")
    p.add_argument("--c", type=float, nargs="+", default=[0.01, 0.03, 0.1, 0.3, 1.0], help="regularisation grid")
    args = p.parse_args(argv)

    import numpy as np

    from dance2music.data.cache import FeatureCache
    from dance2music.errors import D2MError
    from dance2music.models.dance_genre import DanceGenreClassifier, window_features
    from dance2music.pretrained.registry import sha256_file

    def split(name: str):
        try:
            cache = FeatureCache(args.cache, name)
        except D2MError:
            return [], []
        entries = [e for e in cache.entries if e.get("genre") is not None]
        return [cache.load_arrays(e["name"])[0] for e in entries], [int(e["genre"]) for e in entries]

    def accuracy(model: DanceGenreClassifier, motions, labels) -> tuple[float, float]:
        win, whole = [], []
        for m, y in zip(motions, labels):
            p = model.window_probabilities(m)
            win.extend(p.argmax(1) == y)
            whole.append(p.mean(0).argmax() == y)
        return float(np.mean(win)), float(np.mean(whole))

    try:
        train, val, test = split("train"), split("val"), split("test")
        if not train[0]:
            raise D2MError(f"no labelled sequences in the train split of {args.cache}")
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
        model.meta = {
            "trained_on": str(args.cache),
            "C": best,
            "train_dances": len(train[0]),
            "windows_per_dance": round(sum(len(window_features(m)) for m in train[0]) / len(train[0]), 2),
            "accuracy": {k: {"window": v[0], "dance": v[1]} for k, v in results.items()},
            "command": shlex.join(["python", "scripts/train_dance_genre.py", *(argv or sys.argv[1:])]),
        }
        out = model.save(args.out + ".safetensors")
    except D2MError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    for k, (w, d) in results.items():
        print(f"{k}: window accuracy {w:.3f}, whole-dance accuracy {d:.3f} (C={best:g})")
    print(f"wrote {out}; sha256 {sha256_file(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
