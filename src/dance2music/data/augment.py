"""Motion augmentation for training: the dance as real footage through the pose pipeline shows it.

The generators learn from the synthetic dancers' keypoints, but `d2m generate` feeds them MediaPipe's pose of
real video analysed at a few frames per second (`constants.GENERATE_ANALYSIS_FPS`), often mirrored (selfie
cameras), half-body, jittery, with frames where nobody was found. `degrade_motion` turns a clean normalized
`types.Motion` into such a one, at random, so that training sees what inference sees. Framing and scale need
no augmentation here: `features.motion_formats.normalize_keypoints` removes them (root-centred, torso-scaled)
before the model sees any keypoints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from ..arrays import fit_length
from ..types import Motion

#: COCO-17 joint order with left and right swapped (a mirrored video).
MIRROR = (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)
#: Hips, knees and ankles: what a half-body framing leaves out.
LOWER_BODY = (11, 12, 13, 14, 15, 16)


@dataclass(frozen=True)
class MotionAugment:
    """Chances and ranges of each degradation (see `degrade_motion`); ``enabled=False`` returns the input."""

    enabled: bool = True
    mirror: float = 0.5  # chance of a mirrored dancer
    analysis: float = 0.7  # chance of re-sampling the pose at a few fps, as `d2m generate` analyses video
    analysis_fps: tuple[float, float] = (8.0, 15.0)
    jitter: float = 0.6  # chance of per-frame keypoint noise
    jitter_torso: tuple[float, float] = (0.005, 0.04)  # its std, in torso lengths
    drop: float = 0.3  # chance of frames with no detection
    drop_share: tuple[float, float] = (0.02, 0.15)
    half_body: float = 0.15  # chance that hips, knees and ankles are out of the frame


def degrade_motion(motion: Motion, rng: np.random.Generator, aug: MotionAugment = MotionAugment()) -> Motion:
    """A randomly degraded copy of ``motion`` (same frame rate and length).

    In order, each with its chance: mirrored; pose re-sampled at ``analysis_fps`` and back (cubic, as the video
    path upsamples its analysis); keypoint jitter (independent per frame and joint, plus a slow drift); runs of
    frames with no detection (``valid`` False, confidence 0, positions held as the pose pipeline fills them);
    the lower body out of frame (confidence 0, positions hallucinated around the hips with noise).
    """
    if not aug.enabled or motion.num_frames < 4:
        return motion
    n, fps = motion.num_frames, motion.fps
    kp, valid, root = motion.keypoints.copy(), motion.valid.copy(), motion.root.copy()
    if rng.random() < aug.mirror:
        kp = kp[:, list(MIRROR)]
        kp[..., 0] *= -1.0
        root[:, 0] *= -1.0
    if rng.random() < aug.analysis:
        low = Motion(kp, fps, valid, root).resample(float(rng.uniform(*aug.analysis_fps)))
        back = low.resample(fps)
        kp, valid, root = (fit_length(a, n, axis=0, pad="edge") for a in (back.keypoints, back.valid, back.root))
        kp = kp.copy()
    if rng.random() < aug.jitter:
        std = float(rng.uniform(*aug.jitter_torso))
        noise = rng.normal(0.0, std, (n, 17, 2)) + gaussian_filter1d(rng.normal(0.0, std, (n, 17, 2)), 3.0, axis=0)
        kp[..., :2] += noise.astype(np.float32)
    if rng.random() < aug.drop:
        missed = np.zeros(n, bool)
        target = float(rng.uniform(*aug.drop_share)) * n
        while missed.sum() < target:
            s = int(rng.integers(0, n))
            missed[s : s + int(rng.integers(1, max(2, int(0.4 * fps))))] = True
        held = np.maximum.accumulate(np.where(~missed, np.arange(n), 0))
        kp, root = kp[held], root[held]
        kp[missed, :, 2] = 0.0
        valid = valid & ~missed
    if rng.random() < aug.half_body:
        legs = list(LOWER_BODY)
        hips = kp[:, [11, 12], :2].mean(axis=1, keepdims=True)
        kp[:, legs, :2] = hips + rng.normal(0.0, 0.3, (1, len(legs), 2)) + rng.normal(0.0, 0.05, (n, len(legs), 2))
        kp[:, legs, 2] = 0.0
    return Motion(kp.astype(np.float32), fps, valid, root.astype(np.float32), dict(motion.meta))
