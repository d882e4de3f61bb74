"""Kinematic measures of a `types.Motion` that the rhythm input and the beat metrics share.

`visible_joints` keeps the joints a pose estimator really saw (on a half-body crop its hallucinated legs would
add speed that is not the dancer's); `joint_speed` is the smoothed mean speed of those joints plus the root, the
curve whose minima are the kinematic beats (`features.beats`) and whose dips are the movement accents
(`features.rhythm`).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from ..types import Motion

#: Rate of the speed curve (AIST++ and Bailando compute kinematic beats at 60 fps).
BEAT_FPS = 60.0
#: Bailando's speed smoothing: Gaussian sigma of 5 frames at 60 fps.
SPEED_SMOOTH_S = 5.0 / 60.0
#: A joint counts as visible when its median confidence over detected frames is at least this.
MIN_VISIBILITY = 0.5


def visible_joints(motion: Motion, min_visibility: float = MIN_VISIBILITY) -> tuple[int, ...]:
    """COCO-17 joints whose median confidence over detected frames is at least ``min_visibility``.

    Falls back to all joints when the confidences carry no information (all zero, e.g. a motion built
    from exact 3D joints with no confidence channel).
    """
    conf = motion.keypoints[motion.valid, :, 2] if motion.valid.any() else motion.keypoints[..., 2]
    if conf.size == 0 or not np.any(conf > 0):
        return tuple(range(17))
    med = np.median(conf, axis=0)
    return tuple(int(j) for j in np.flatnonzero(med >= min_visibility))


def joint_speed(
    motion: Motion,
    *,
    fps: float = BEAT_FPS,
    smooth_s: float = SPEED_SMOOTH_S,
    joints: tuple[int, ...] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed mean joint speed of ``motion`` at ``fps``.

    Returns (speed float64[T'], valid bool[T']) where T' = round(T * fps / motion.fps) and ``valid`` marks
    samples in frames where a person was detected. ``smooth_s`` is the Gaussian sigma in seconds (0: none).
    """
    joints = visible_joints(motion) if joints is None else joints
    m = motion.resample(fps)
    if m.num_frames == 0 or not joints:
        return np.zeros(m.num_frames), np.asarray(m.valid, bool)
    pos = m.keypoints[:, list(joints), :2].astype(np.float64) + m.root[:, None, :].astype(np.float64)
    if m.num_frames < 2:
        return np.zeros(m.num_frames), np.asarray(m.valid, bool)
    vel = np.gradient(pos, axis=0) * fps  # central differences: sample t is the speed at time t / fps
    speed = np.linalg.norm(vel, axis=-1).mean(axis=1)
    if smooth_s > 0:
        speed = gaussian_filter1d(speed, sigma=smooth_s * fps, mode="reflect")
    return speed, np.asarray(m.valid, bool)
