"""How often the beat grid a generator is trained with keeps its music's tempo.

    python scripts/training_grids.py --cache data/cache/synth [--split train] [--items 600] [--no-augment]
        [--tolerance 0.06] [--filter T]

Draws training crops as `d2m train gan` does (`data.latents.LatentClipDataset`: 2-s crops at random, their
rhythm read from the dance with up to 3 s around it, the motion degraded as `data.augment` degrades it) and
compares each crop's grid tempo with its song's labelled tempo (halved above the generator's range, as the grid
is). Prints the share within ``--tolerance``, at half and at double the tempo, per tempo band. ``--filter T``
draws the crops with `data.grid_tempo_tolerance` T, as a run with that setting trains.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from dance2music.data.augment import MotionAugment
from dance2music.data.cache import FeatureCache
from dance2music.data.latents import LatentClipDataset
from dance2music.errors import D2MError
from dance2music.features.rhythm import MAX_GRID_BPM, REFERENCE_BPM

BANDS = ((0, 90), (90, 120), (120, 150), (150, 1000))


def crop_ratios(ds: LatentClipDataset, items: int) -> tuple[np.ndarray, np.ndarray]:
    """(grid tempo / expected tempo, labelled tempo) for the first ``items`` crops of ``ds``."""
    ratio, labelled = [], []
    for k in range(min(items, len(ds))):
        tempo = ds.entries[ds._items[k][0]].get("tempo")
        if tempo is None:
            continue
        grid = REFERENCE_BPM * 2.0 ** float(np.median(ds[k]["rhythm"].numpy()[:, 4]))
        expected = tempo / 2 if tempo > MAX_GRID_BPM else tempo
        ratio.append(grid / expected)
        labelled.append(float(tempo))
    return np.asarray(ratio), np.asarray(labelled)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", required=True)
    ap.add_argument("--split", default="train")
    ap.add_argument("--items", type=int, default=600)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--no-augment", action="store_true")
    ap.add_argument("--tolerance", type=float, default=0.06)
    ap.add_argument("--filter", type=float, default=0.0, help="data.grid_tempo_tolerance of the crops drawn")
    args = ap.parse_args(argv)
    try:
        cache = FeatureCache(args.cache, args.split)
        dirs = sorted((cache.root / "latents").glob("*")) if (cache.root / "latents").is_dir() else []
        if not dirs:
            raise D2MError(f"no encoded music under {cache.root / 'latents'}: run `d2m train gan` on it once")
        ds = LatentClipDataset(cache, dirs[0], hop_length=int(dirs[0].name.rsplit("hop", 1)[1]),
                               seconds=args.seconds, seed=0, random_crop=True, rhythm=True,
                               augment=None if args.no_augment else MotionAugment(),
                               grid_tempo_tolerance=args.filter)  # fmt: skip
    except (D2MError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    ratio, labelled = crop_ratios(ds, args.items)
    if ratio.size == 0:
        print("error: no crop has a labelled tempo", file=sys.stderr)
        return 2
    tol = np.log1p(args.tolerance)
    dev = np.log(ratio)
    print(f"{ratio.size} {args.split} crops of {args.seconds:g} s, {'clean' if args.no_augment else 'augmented'}"
          f" motion, data.grid_tempo_tolerance {args.filter:g}; grid within {args.tolerance:.0%} of\n")
    print("| songs (labelled BPM) | crops | the music's tempo | half | double |\n| --- | --- | --- | --- | --- |")
    for lo, hi in ((0, 1000),) + BANDS:
        sel = (labelled >= lo) & (labelled < hi)
        if sel.any():
            name = "all" if hi - lo == 1000 else f"{lo}-{hi}" if hi < 1000 else f"{lo}+"
            shares = [np.mean(np.abs(dev[sel] - np.log(m)) <= tol) for m in (1.0, 0.5, 2.0)]
            print(f"| {name} | {sel.sum()} | {shares[0]:.0%} | {shares[1]:.0%} | {shares[2]:.0%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
