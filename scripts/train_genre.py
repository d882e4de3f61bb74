"""Train the genre classifier that `d2m evaluate` uses for genre accuracy, retrieval and FAD.

    python scripts/train_genre.py --data data/synth --out src/dance2music/pretrained/weights/genre_cnn

Trains on the music of the ``train`` split of a dataset in the AIST++ layout (the synthetic set, or AIST++
itself), keeps the epoch with the best ``val`` window accuracy, prints the ``test`` clip accuracy, and writes
``OUT.safetensors`` + ``OUT.json`` (config and provenance). Prints the sha256 for the registry entry
(`dance2music.pretrained.registry`).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", required=True, help="dataset root in the AIST++ layout")
    p.add_argument("--out", default="src/dance2music/pretrained/weights/genre_cnn", help="weights path (no suffix)")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--crops-per-window", type=float, default=1.0, help="random crops per 2 s of music per epoch")
    p.add_argument("--augment", action="store_true", help="train on degraded copies too (noise, low-pass, tilt)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    p.add_argument("--max-tracks", type=int, default=None, help="use at most this many training tracks")
    args = p.parse_args(argv)

    import numpy as np
    import torch

    from dance2music.errors import D2MError
    from dance2music.metrics import genre as G
    from dance2music.models import genre_cnn as GC
    from dance2music.pretrained.registry import sha256_file
    from dance2music.training import genre_cnn as TG

    torch.set_num_threads(args.threads)
    t0 = time.time()
    train = G.load_genre_tracks(args.data, "train", args.max_tracks)
    try:
        val = G.load_genre_tracks(args.data, "val")
    except D2MError:  # no val split: select on training accuracy
        val = []
    try:
        test = G.load_genre_tracks(args.data, "test")
    except D2MError:
        test = []
    print(f"tracks: train {len(train)}, val {len(val)}, test {len(test)} (loaded in {time.time() - t0:.1f} s)")
    res = TG.train_genre_classifier(
        train, val, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
        crops_per_window=args.crops_per_window, augment=args.augment,
    )  # fmt: skip
    test_acc = G.clip_accuracy(res.model, test) if test else float("nan")
    val_clip_acc = G.clip_accuracy(res.model, val) if val else float("nan")
    rng = np.random.default_rng(args.seed + 2)
    degraded = [G.GenreTrack(t.name, TG.degrade(t.audio[None], t.sr, rng, p=1.0)[0], t.sr, t.genre) for t in test]
    test_deg_acc = G.clip_accuracy(res.model, degraded) if test else float("nan")
    info = {
        "data": args.data,
        "command": "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv or sys.argv[1:])]),
        "tracks": {"train": len(train), "val": len(val), "test": len(test)},
        "val_window_accuracy": res.val_accuracy,
        "val_clip_accuracy": val_clip_acc,
        "test_clip_accuracy": test_acc,
        "test_clip_accuracy_degraded": test_deg_acc,
        "epochs": args.epochs,
        "crops_per_window": args.crops_per_window,
        "augment": args.augment,
        "seed": args.seed,
        "train_seconds": round(res.seconds, 1),
        **TG.model_summary(res.model),
    }
    made_by = Path(args.data) / "synth.json"  # the synthetic set says how it was made
    if made_by.is_file():
        info["dataset"] = json.loads(made_by.read_text())
    path = GC.save_genre_model(res.model, args.out, info)
    print(f"val window acc {res.val_accuracy:.3f}, val clip acc {val_clip_acc:.3f}, test clip acc {test_acc:.3f}")
    print(f"test clip acc on degraded music {test_deg_acc:.3f}")
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB) sha256 {sha256_file(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
