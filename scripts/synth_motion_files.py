"""A split of a dataset in the AIST++ layout written as keypoint files for `d2m evaluate --motion`.

The real-motion panel is the held-out measure; an inference change is chosen on the synthetic val split instead,
scored by exactly the panel's machinery (kinematic beats, shift null, excerpts). Each sequence's 2D keypoints
(the view `read_aist_keypoints2d` would choose) are kept at 30 fps in pixels, as the panel's files are, with the
genre its name gives and the tempo its labels give (the synthetic set's ``labels/<seq>.json``).

    python scripts/synth_motion_files.py data/synth --split val --max 60 --out DIR
    d2m evaluate --motion DIR --model d2m-top --seeds 1 --excerpts 2 --out REPORT
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from dance2music.data.aist import AISTDataset, parse_seq_name
from dance2music.errors import D2MError
from dance2music.features.motion_formats import AIST_FPS, choose_view, load_pickle

FPS = 30  # the panel's rate


def write_sequence(ds: AISTDataset, name: str, out: Path) -> bool:
    """One sequence -> ``out/<name>.npz``; False when it has no 2D keypoints."""
    src = ds.root / "keypoints2d" / f"{name}.pkl"
    if not src.is_file():
        return False
    d = load_pickle(src)
    kp = np.asarray(d["keypoints2d"], dtype=np.float32)  # [V, N, 17, 3]
    det = np.asarray(d["det_scores"], dtype=np.float64).reshape(kp.shape[0], -1)
    kp = kp[choose_view(kp, det), :: int(AIST_FPS) // FPS, :, :2]
    genre, music = parse_seq_name(name)
    tempo = ds.labels(name).get("tempo")
    fields = {"keypoints2d": kp, "fps": np.float32(FPS), "genre": genre or "", "music": music or ""}
    if tempo:
        fields["nominal_bpm"] = np.float32(tempo)
    np.savez(out / f"{name}.npz", **fields)
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", help="dataset folder in the AIST++ layout (d2m data synth)")
    ap.add_argument("--split", default="val")
    ap.add_argument("--max", type=int, default=None, help="at most this many sequences (the split's first)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    try:
        ds = AISTDataset(args.root, args.split, visual="none")
    except D2MError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = ds.names()[: args.max]
    written = sum(write_sequence(ds, n, out) for n in names)
    print(f"{written} of {len(names)} sequences -> {out}")
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
