"""How many of its codebook's codes a generator uses, and how much that choice depends on the dance.

For the first 10 s of some synthetic test clips (their rendered dancer's 2D keypoints) and of the real-motion
panel's dances, each analysed as `d2m generate` analyses a video: the codes a model chooses (seed 0), and the
codes its tokenizer gives the synthetic clips' own music. Per set: codes used per dance, the entropy of a
dance's code histogram (bits), and the overlap of two dances' histograms (sum of the minima; 1 = the same
codes in the same proportions). A generator that ignores the dance overlaps near 1; real music at hop 32 uses
most of the 512 codes.

    python scripts/code_usage.py --model d2m-lower --model d2m-top [--prior-weight 0] [--clips 9]
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from dance2music.api import Dance2Music
from dance2music.features.motion_formats import AIST_FPS
from dance2music.metrics.evaluate_motion import keypoints_to_motion, load_keypoint_sequence

SECONDS = 10.0


def usage(codes: list[np.ndarray], size: int) -> str:
    hist = np.stack([np.bincount(c.ravel(), minlength=size) / c.size for c in codes])
    ent = [-(h[h > 0] * np.log2(h[h > 0])).sum() for h in hist]
    used = [int((h > 0).sum()) for h in hist]
    overlap = [np.minimum(hist[i], hist[j]).sum() for i in range(len(hist)) for j in range(i + 1, len(hist))]
    return (
        f"codes used {np.mean(used):.0f} ({min(used)}-{max(used)}) of {size}, entropy {np.mean(ent):.2f} bits, "
        f"overlap between dances {np.mean(overlap):.2f}"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", action="append", default=None, help="shipped name or file (repeat; default d2m-lower)")
    p.add_argument("--synth", default="data/synth", help="the synthetic dataset (d2m data synth)")
    p.add_argument("--cache", default="data/cache/synth", help="its prepared cache (for the music)")
    p.add_argument("--real", default="../shared/data/real-motion", help="keypoint sequences (.npz)")
    p.add_argument("--clips", type=int, default=9, help="synthetic test clips (the split's first N)")
    p.add_argument("--prior-weight", type=float, default=None, help="override the genre code prior's weight")
    args = p.parse_args()

    names = (Path(args.synth) / "splits" / "crossmodal_test.txt").read_text().split()[: args.clips]
    sets = {"synthetic": [], "real": []}
    for n in names:
        with open(Path(args.synth) / "keypoints2d" / f"{n}.pkl", "rb") as f:
            d = pickle.load(f)
        kp = d["keypoints2d"][0]  # the first camera view, at AIST++'s annotation rate
        sets["synthetic"].append(keypoints_to_motion(kp[: int(round(SECONDS * AIST_FPS))], AIST_FPS))
    for f in sorted(Path(args.real).glob("*.npz")):
        s = load_keypoint_sequence(f)
        sets["real"].append(keypoints_to_motion(s.keypoints[: int(round(SECONDS * s.fps))], s.fps))

    for name in args.model or ["d2m-lower"]:
        model = Dance2Music.from_pretrained(name)
        d2m = model.model
        if args.prior_weight is not None:
            d2m.prior_weight = args.prior_weight
        size = int(d2m.codebook.shape[0])
        for label, motions in sets.items():
            codes = [model.generate(m, seed=0).codes for m in motions]
            print(f"{name} ({label}, prior weight {d2m.prior_weight:g}): {usage(codes, size)}", flush=True)
        truth = []
        for n in names:
            y, _ = sf.read(Path(args.cache) / "audio" / f"{n}.wav", dtype="float32")
            y = y[: int(SECONDS * d2m.sample_rate)]
            with torch.no_grad():
                level = d2m.vqvae.level_for_hop(d2m.hop_length)
                truth.append(d2m.vqvae.encode(torch.from_numpy(y)[None, None], level).numpy())
        print(f"{name}'s tokenizer on the synthetic clips' music: {usage(truth, size)}", flush=True)


if __name__ == "__main__":
    main()
