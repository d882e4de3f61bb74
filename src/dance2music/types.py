"""The data types that flow between the stages: Motion, Visual and the paired training Clip.

All timelines are in seconds: a series sampled at ``fps`` has frame ``i`` at time ``i / fps``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from .constants import COCO17_INDEX

#: Number of values per frame in `Motion.features()`: 17 x (x, y) + 17 confidences + root velocity (2).
MOTION_FEATURE_DIM = 17 * 2 + 17 + 2


def resample_series(x: np.ndarray, fps_in: float, fps_out: float, kind: str = "cubic") -> np.ndarray:
    """Resample a time series ``x[T, ...]`` from ``fps_in`` to ``fps_out`` over the same duration.

    ``kind`` is ``"cubic"`` (smooth signals such as joint positions: linear upsampling makes equal
    neighbours that break strict-minimum beat detection), ``"linear"`` or ``"nearest"`` (masks).
    The output has ``round(T * fps_out / fps_in)`` frames (at least 1 when ``T >= 1``).
    """
    x = np.asarray(x)
    t_in = x.shape[0]
    if t_in == 0:
        return x[:0].copy()
    t_out = max(1, int(round(t_in * fps_out / fps_in)))
    if t_out == t_in and abs(fps_in - fps_out) < 1e-9:
        return x.copy()
    src = np.arange(t_in) / fps_in
    dst = np.arange(t_out) / fps_out
    dst = np.clip(dst, 0.0, src[-1])
    if t_in == 1:
        return np.repeat(x, t_out, axis=0)
    if kind == "nearest":
        idx = np.clip(np.rint(dst * fps_in).astype(np.int64), 0, t_in - 1)
        return x[idx]
    flat = x.reshape(t_in, -1).astype(np.float64)
    if kind == "cubic" and t_in >= 4:
        from scipy.interpolate import CubicSpline

        out = CubicSpline(src, flat, axis=0)(dst)
    else:
        out = np.stack([np.interp(dst, src, flat[:, j]) for j in range(flat.shape[1])], axis=1)
    return out.reshape((t_out,) + x.shape[1:]).astype(x.dtype if x.dtype.kind == "f" else np.float32)


_F = TypeVar("_F", bound="_Frames")


class _Frames:
    """The timeline Motion and Visual share: ``num_frames`` frames at ``fps``, frame ``i`` at ``i / fps`` s."""

    fps: float
    num_frames: int

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps

    def resample(self: _F, fps: float) -> _F:
        """The same series at ``fps`` (itself when it is at that rate already)."""
        if abs(fps - self.fps) < 1e-9:
            return self
        return self._resampled(fps)

    def _resampled(self: _F, fps: float) -> _F:
        raise NotImplementedError

    def _frame_range(self, start: float, end: float) -> tuple[int, int]:
        """The frames ``[i0, i1)`` with time in ``[start, end)`` seconds, within the series."""
        i0, i1 = int(round(start * self.fps)), int(round(end * self.fps))
        return max(0, i0), min(self.num_frames, max(i1, i0))


@dataclass
class Motion(_Frames):
    """A dancer's 2D body motion as COCO-17 keypoints.

    keypoints: float32[T, 17, 3] -- x, y normalized (root-centred on the hip midpoint, divided by the clip's
        median torso length, y pointing down as in images) and confidence in [0, 1].
    fps: frames per second of ``keypoints``.
    valid: bool[T] -- True where a person was detected; False frames were filled (interpolated or held)
        and carry zero confidence.
    root: float32[T, 2] -- the hip midpoint's trajectory in the same normalized units, relative to its
        first valid position (global translation: jumps, travelling steps).
    meta: free-form provenance (source file, image size, tracker notes ...).
    """

    keypoints: np.ndarray
    fps: float
    valid: np.ndarray | None = None
    root: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.keypoints = np.asarray(self.keypoints, dtype=np.float32)
        if self.keypoints.ndim != 3 or self.keypoints.shape[1:] != (17, 3):
            raise ValueError(f"Motion.keypoints must be [T, 17, 3], got {self.keypoints.shape}")
        t = self.keypoints.shape[0]
        self.valid = np.ones(t, bool) if self.valid is None else np.asarray(self.valid, bool)
        self.root = np.zeros((t, 2), np.float32) if self.root is None else np.asarray(self.root, np.float32)
        if self.valid.shape != (t,) or self.root.shape != (t, 2):
            raise ValueError("Motion.valid must be [T] and Motion.root [T, 2]")
        self.fps = float(self.fps)

    @property
    def num_frames(self) -> int:
        return int(self.keypoints.shape[0])

    def _resampled(self, fps: float) -> Motion:
        """Cubic for positions, linear for confidence, nearest for validity."""
        xy = resample_series(self.keypoints[..., :2], self.fps, fps, "cubic")
        conf = np.clip(resample_series(self.keypoints[..., 2], self.fps, fps, "linear"), 0.0, 1.0)
        kp = np.concatenate([xy, conf[..., None]], axis=-1)
        valid = resample_series(self.valid, self.fps, fps, "nearest")
        root = resample_series(self.root, self.fps, fps, "cubic")
        return Motion(kp, fps, valid, root, dict(self.meta))

    def crop(self, start: float, end: float) -> Motion:
        """Frames with time in ``[start, end)`` seconds."""
        i0, i1 = self._frame_range(start, end)
        return Motion(self.keypoints[i0:i1], self.fps, self.valid[i0:i1], self.root[i0:i1], dict(self.meta))

    def features(self) -> np.ndarray:
        """float32[T, MOTION_FEATURE_DIM]: the model's motion input (xy, confidences, root velocity)."""
        t = self.num_frames
        xy = self.keypoints[..., :2].reshape(t, 34)
        conf = self.keypoints[..., 2]
        root_vel = np.zeros((t, 2), np.float32)
        if t > 1:
            root_vel[1:] = np.diff(self.root, axis=0) * self.fps / 30.0  # per 1/30 s, fps-independent
        return np.concatenate([xy, conf, root_vel], axis=1).astype(np.float32)

    def joint(self, name: str) -> np.ndarray:
        """float32[T, 3] for one COCO-17 joint by name."""
        return self.keypoints[:, COCO17_INDEX[name]]


@dataclass
class Visual(_Frames):
    """Per-frame visual features: float32[T, D] at ``fps``; ``kind`` names the extractor (e.g. ``"flowgrid"``)."""

    features: np.ndarray
    fps: float
    kind: str = "flowgrid"

    def __post_init__(self) -> None:
        self.features = np.asarray(self.features, dtype=np.float32)
        if self.features.ndim != 2:
            raise ValueError(f"Visual.features must be [T, D], got {self.features.shape}")
        self.fps = float(self.fps)

    @property
    def num_frames(self) -> int:
        return int(self.features.shape[0])

    @property
    def dim(self) -> int:
        return int(self.features.shape[1])

    def _resampled(self, fps: float) -> Visual:
        return Visual(resample_series(self.features, self.fps, fps, "linear"), fps, self.kind)

    def crop(self, start: float, end: float) -> Visual:
        i0, i1 = self._frame_range(start, end)
        return Visual(self.features[i0:i1], self.fps, self.kind)


@dataclass
class Clip:
    """One aligned training/evaluation example: the dance and the music that goes with it.

    audio: float32[N] mono waveform at ``sr`` (None when only the dance is known);
    genre: index into `constants.GENRES`, or None.
    """

    name: str
    motion: Motion
    visual: Visual | None
    audio: np.ndarray | None
    sr: int
    genre: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
