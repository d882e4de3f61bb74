"""Real movement against the synthetic dancers': speed, acceleration spectrum, limb ranges, pauses, travel, tempo.

    python scripts/motion_stats.py --real ../shared/data/real-motion --cache data/cache/synth [--split train]

Both sides go through what the generators see: real keypoints (30 fps pixels) are analysed at 10 fps and
normalized as `d2m generate` analyses video (`metrics.evaluate_motion.keypoints_to_motion`); the synthetic
dances are the feature cache's normalized motion, re-sampled at 10 fps and back in the same way. Each statistic
is computed per dance and summarized by its median and 10th-90th percentiles over the dances, in torso lengths
and seconds:

- speed: median of the mean joint speed (`features.kinematics.joint_speed`, torso lengths per second);
- acceleration spectrum: the frequency below which half of the joint-acceleration power lies (Hz);
- limb range: the 5-95 % range of the wrists' and ankles' positions relative to the hips (torso lengths);
- pauses: the share of time the mean joint speed stays below a quarter of the dance's median for 0.3 s or more;
- travel: the hip midpoint's speed over the floor (torso lengths per second);
- tempo: the dance's tempo as `features.rhythm` reads it (BPM);
- accents on the beat: where the dancer's accents (`features.rhythm.accent_envelope`, the generator's accent
  input) fall in the grid's beat: their weighted mean of cos(2 pi phase) (1: all on the beat, -1: all on the half
  beat) and the share of them within a quarter beat of the half beat;
- body: the skeleton's proportions (median bone lengths: hip and shoulder width, the nose above the shoulders'
  midpoint, forearm, shin; torso lengths), and head sway, the standard deviation of the nose's x (torso lengths).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.ndimage import uniform_filter1d

from dance2music.constants import GENERATE_ANALYSIS_FPS
from dance2music.data.cache import FeatureCache
from dance2music.features.kinematics import joint_speed
from dance2music.features.rhythm import accent_envelope, estimate_rhythm
from dance2music.metrics.evaluate_motion import keypoints_to_motion, load_keypoint_sequence
from dance2music.types import Motion

LIMBS = (9, 10, 15, 16)  # wrists and ankles
BONES = {  # COCO-17 joint pairs whose distance is each bone
    "hip width": ((11, 12),), "shoulder width": ((5, 6),), "forearm": ((7, 9), (8, 10)), "shin": ((13, 15), (14, 16)),
}  # fmt: skip


def body(xy: np.ndarray) -> dict[str, float]:
    """The skeleton's proportions and head sway (see the module docstring) of keypoints ``xy[T, 17, 2]``."""
    out = {
        f"{name} (torso)": float(np.mean([np.median(np.linalg.norm(xy[:, a] - xy[:, b], axis=-1)) for a, b in pairs]))
        for name, pairs in BONES.items()
    }
    out["nose above the shoulders (torso)"] = float(np.median(xy[:, 5:7, 1].mean(axis=1) - xy[:, 0, 1]))
    out["head sway (torso)"] = float(np.std(xy[:, 0, 0]))
    return out


def stats(m: Motion) -> dict[str, float]:
    speed, _ = joint_speed(m, fps=m.fps, smooth_s=0.04)
    xy = m.keypoints[..., :2].astype(np.float64)
    acc = np.diff(xy, 2, axis=0) * m.fps**2
    power = (np.abs(np.fft.rfft(acc, axis=0)) ** 2).sum(axis=(1, 2))
    freqs = np.fft.rfftfreq(acc.shape[0], 1.0 / m.fps)
    half = freqs[np.searchsorted(np.cumsum(power), power.sum() / 2)]
    rng = np.percentile(xy[:, LIMBS], 95, axis=0) - np.percentile(xy[:, LIMBS], 5, axis=0)
    still = speed < 0.25 * np.median(speed)
    run = int(round(0.3 * m.fps))
    paused = uniform_filter1d(still.astype(float), run, mode="nearest") > 0.999
    travel = np.linalg.norm(np.diff(m.root, axis=0), axis=1).mean() * m.fps
    rhythm = estimate_rhythm(m)
    env = accent_envelope(m)
    mass = max(float(env.sum()), 1e-9)
    return {
        "speed (torso/s)": float(np.median(speed)),
        "acceleration half-power (Hz)": float(half),
        "limb range (torso)": float(rng.mean()),
        "pauses (share of time)": float(paused.mean()),
        "travel (torso/s)": float(travel),
        "tempo (BPM)": float(rhythm.tempo),
        "accents on the beat (mean cos of phase)": float(np.sum(env * np.cos(2 * np.pi * rhythm.phase)) / mass),
        "accents near the half beat (share)": float(env[np.abs(rhythm.phase - 0.5) < 0.25].sum() / mass),
        **body(xy),
    }


def analysed(m: Motion) -> Motion:
    """A synthetic dance as `d2m generate` sees a video of it: pose at 10 fps, brought back to the motion rate."""
    back = m.resample(GENERATE_ANALYSIS_FPS).resample(m.fps)
    n = min(back.num_frames, m.num_frames)
    return Motion(back.keypoints[:n], m.fps, back.valid[:n], back.root[:n])


def summarize(rows: list[dict[str, float]]) -> dict[str, str]:
    out = {}
    for k in rows[0]:
        v = np.array([r[k] for r in rows])
        out[k] = f"{np.median(v):.3g} ({np.percentile(v, 10):.3g}-{np.percentile(v, 90):.3g})"
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", type=Path, required=True, help="folder of real keypoint sequences (<name>.npz)")
    ap.add_argument("--cache", required=True, help="the synthetic feature cache")
    ap.add_argument("--split", default="train")
    ap.add_argument("--max", type=int, default=200, help="at most this many synthetic dances")
    args = ap.parse_args(argv)
    seqs = [load_keypoint_sequence(p) for p in sorted(args.real.glob("*.npz"))]
    real = [stats(keypoints_to_motion(s.keypoints, s.fps)) for s in seqs]
    cache = FeatureCache(args.cache, args.split)
    synth = [stats(analysed(cache.load_arrays(n)[0])) for n in cache.names()[: args.max]]
    r, s = summarize(real), summarize(synth)
    print(f"| statistic (median, 10th-90th percentile) | real ({len(real)} dances) | synthetic ({len(synth)}) |")
    print("| --- | --- | --- |")
    for k in r:
        print(f"| {k} | {r[k]} | {s[k]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
