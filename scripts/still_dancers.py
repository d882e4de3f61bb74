"""Music for slow and barely moving dancers: is it still music, at the promised loudness?

Each keypoint sequence of a folder (the real-motion panel) is cut to its first ``--seconds`` and turned into
dancers who move less or more slowly than the original: the movement around each joint's mean position scaled by
``--amplitudes`` (1 = as danced, 0.1 = a tenth of the excursion, the pose kept), and the dance slowed by
``--slowdowns`` (2 = half speed, twice as long), plus one dancer standing still (the first pose held). Music
comes from a model as `d2m generate` makes it (keypoints analysed at its default rate, loudness-normalized to
-16 LUFS); per variant the table gives the integrated loudness, true peak, the share of 100-ms frames below
-40 dBFS, onsets per second, spectral-flux variation and whether the loudness stage had to soft-clip.

    python scripts/still_dancers.py ../shared/data/real-motion [--model d2m-top] [--seconds 15]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from dance2music.api import Dance2Music
from dance2music.constants import SAMPLE_RATE
from dance2music.io.loudness import true_peak
from dance2music.metrics import evaluate_motion as em


def scaled(keypoints: np.ndarray, amplitude: float) -> np.ndarray:
    """Each joint's excursion from its mean position times ``amplitude`` (confidences kept)."""
    kp = np.array(keypoints, np.float64, copy=True)
    mean = kp[..., :2].mean(axis=0, keepdims=True)
    kp[..., :2] = mean + amplitude * (kp[..., :2] - mean)
    return kp


def slowed(keypoints: np.ndarray, factor: float) -> np.ndarray:
    """The dance ``factor`` times slower (linear interpolation between frames, same frame rate)."""
    kp = np.asarray(keypoints, np.float64)
    n = kp.shape[0]
    t = np.arange(0.0, n - 1, 1.0 / factor)
    flat = kp.reshape(n, -1)
    out = np.stack([np.interp(t, np.arange(n), flat[:, c]) for c in range(flat.shape[1])], axis=1)
    return out.reshape(-1, *kp.shape[1:])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder")
    p.add_argument("--model", default="d2m-top")
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--amplitudes", type=float, nargs="+", default=[1.0, 0.5, 0.25, 0.1])
    p.add_argument("--slowdowns", type=float, nargs="+", default=[2.0])
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    model = Dance2Music.from_pretrained(args.model)
    head = "LUFS | true peak (dBTP) | silent | onsets/s | flux CV | soft-clip drive (dB)"
    print(f"| {args.model}: dance | variant | {head} |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    rows = []
    for f in sorted(Path(args.folder).glob("*.npz")):
        s = em.load_keypoint_sequence(f)
        kp = s.keypoints[: int(round(args.seconds * s.fps))]
        variants = {f"movement x{a:g}": scaled(kp, a) for a in args.amplitudes}
        variants.update({f"{k:g}x slower": slowed(kp, k) for k in args.slowdowns})
        variants["standing still"] = np.repeat(kp[:1], kp.shape[0], axis=0)
        for name, k in variants.items():
            res = model.generate(em.keypoints_to_motion(k, s.fps), seed=args.seed, genre=None)
            st = em.music_stats(res.audio, SAMPLE_RATE)
            drive = res.meta["loudness"].get("clip_drive_db")
            row = (st["lufs"], true_peak(res.audio), st["silent_share"], st["onset_rate"], st["flux_cv"])
            rows.append(row)
            print(f"| {s.name} | {name} | {row[0]:.1f} | {row[1]:.1f} | {row[2]:.1%} | {row[3]:.2f} | {row[4]:.2f} | "
                  f"{'-' if drive is None else f'{drive:.1f}'} |", flush=True)  # fmt: skip
    a = np.asarray(rows)
    off = np.abs(a[:, 0] + 16.0) > 1.0
    print(f"\n{len(a)} outputs: LUFS {a[:, 0].min():.2f} to {a[:, 0].max():.2f} ({off.sum()} off -16 +- 1), true peak "
          f"at most {a[:, 1].max():.2f} dBTP, silent share at most {a[:, 2].max():.1%}, onsets/s "
          f"{a[:, 3].min():.2f} to {a[:, 3].max():.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
