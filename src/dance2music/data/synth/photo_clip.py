"""Short test videos made from a still photograph moved over time (no package ships a video of a person).

The photo (e.g. ``skimage.data.astronaut()``, a real person) is placed on a canvas and moved by a smooth
camera path: a slow pan and zoom plus a small circle per beat at ``tempo`` beats per minute, so that the apparent
motion has regular speed minima (kinematic beats) at known times. Used for the bundled demo clip, tests and
benchmarks; frames are produced one at a time.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import cv2
import numpy as np


def photo_motion_frames(
    photo: np.ndarray,
    *,
    seconds: float = 3.0,
    fps: float = 24.0,
    size: tuple[int, int] = (480, 360),
    tempo: float = 120.0,
    bob: float = 0.06,
    zoom: float = 0.15,
    pan: float = 0.1,
    background: tuple[int, int, int] = (40, 40, 48),
) -> Iterator[np.ndarray]:
    """Yield ``round(seconds * fps)`` frames uint8[H, W, 3] (``size`` = (W, H)) of ``photo`` in motion.

    photo: uint8[h, w, 3] (or [h, w] grayscale) RGB image; it fills the canvas height at zoom 1.
    tempo: beats per minute; the photo circles once per beat and momentarily stops (a speed minimum) at
        multiples of ``60 / tempo`` seconds.
    bob: radius of that circle as a fraction of the canvas height; pan: horizontal pan amplitude as a
        fraction of the width; zoom: relative zoom swing over the clip.
    """
    img = np.asarray(photo)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    img = np.ascontiguousarray(img[..., :3].astype(np.uint8))
    w_out, h_out = size
    n = max(1, int(round(seconds * fps)))
    base = h_out / img.shape[0]
    period = 60.0 / tempo
    for i in range(n):
        t = i / fps
        phase = t / max(seconds, 1e-6)
        s = base * (1.0 + zoom * math.sin(math.pi * phase))  # zoom in then out over the clip
        # One small circle per beat whose angular speed is (1 - cos) shaped: the photo stops for an instant
        # on each beat and is fastest between beats. (A back-and-forth bob would have two turning points,
        # i.e. two speed minima, per cycle.)
        u = t / period
        theta = 2 * math.pi * u - math.sin(2 * math.pi * u)
        dy = bob * h_out * math.sin(theta)
        dx = pan * w_out * math.sin(2 * math.pi * phase) + bob * h_out * (math.cos(theta) - 1.0)
        cx = w_out / 2 + dx - s * img.shape[1] / 2
        cy = h_out / 2 + dy - s * img.shape[0] / 2
        m = np.array([[s, 0.0, cx], [0.0, s, cy]], np.float32)
        yield cv2.warpAffine(
            img, m, (w_out, h_out), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=background
        )


def noise_frames(
    *, seconds: float = 1.0, fps: float = 24.0, size: tuple[int, int] = (160, 120), seed: int = 0
) -> Iterator[np.ndarray]:
    """Frames with no person: a drifting colour gradient with noise (for "no person" error paths)."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for i in range(max(1, int(round(seconds * fps)))):
        g = (xx / w * 180 + yy / h * 60 + 8 * i) % 256
        frame = np.stack([g, 255 - g, (g * 0.5 + 64) % 256], axis=-1)
        frame += rng.normal(0, 12, frame.shape)
        yield np.clip(frame, 0, 255).astype(np.uint8)
