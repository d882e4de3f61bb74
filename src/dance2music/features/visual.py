"""Offline per-frame visual features ("flowgrid"): optical-flow statistics on a spatial grid plus appearance.

The paper feeds I3D features of the video frames to its visual module. No I3D (or any image network) weights
can be shipped or downloaded here, so the default visual descriptor is computed from the pixels with
classical tools that run anywhere, the same code for rendered and for real frames:

* motion: dense Farneback optical flow between consecutive small grayscale frames (short side
  `FLOW_SHORT_SIDE`), summarised per cell of a ``grid x grid`` layout (mean dx, mean dy, mean magnitude),
  plus global statistics (magnitude mean/std, mean flow = camera pan proxy, share of moving pixels, the
  mean magnitude per each of 8 flow directions) and the mean absolute frame difference;
* appearance: per-cell brightness, per-cell colour on a coarser grid, per-cell edge energy (Sobel).

Units do not depend on the video: displacements are in percent of the frame's short side per 1/30 s and the
frame difference in percent of full intensity per 1/30 s (so frame rate and resolution cancel out, and
typical dance values are O(0.1-10) rather than O(0.001)); appearance intensities are in [0, 1].
Motion statistics describe the interval between two frames and are stamped at its midpoint; appearance is
stamped at the frame's time; both are then resampled linearly onto the uniform `VISUAL_FPS` grid.
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from ..constants import VISUAL_FPS
from ..types import Visual

#: Optical flow runs on frames scaled so that their short side has this many pixels.
FLOW_SHORT_SIDE = 128

#: Cells per side of the motion / brightness / edge grid, and of the (coarser) colour grid.
GRID = 4
COLOR_GRID = 2

#: Direction histogram bins of the global flow.
DIR_BINS = 8

#: A pixel "moves" when its flow exceeds this (percent of the short side per 1/30 s: about 1 px at 128).
MOVING_THRESHOLD = 0.8


def _dims(grid: int = GRID, color_grid: int = COLOR_GRID) -> dict[str, int]:
    return {
        "flow_grid": 3 * grid * grid,
        "flow_global": 5 + DIR_BINS,
        "frame_diff": 1,
        "brightness_grid": grid * grid,
        "color_grid": 3 * color_grid * color_grid,
        "edge_grid": grid * grid,
    }


#: Names of the feature blocks in order, with their sizes; the motion blocks come first.
FEATURE_BLOCKS = _dims()
MOTION_DIM = FEATURE_BLOCKS["flow_grid"] + FEATURE_BLOCKS["flow_global"] + FEATURE_BLOCKS["frame_diff"]
FLOWGRID_DIM = sum(FEATURE_BLOCKS.values())


def _cell_means(x: np.ndarray, grid: int) -> np.ndarray:
    """Mean of ``x[H, W, ...]`` over each cell of a ``grid x grid`` partition -> [grid * grid, ...]."""
    h, w = x.shape[:2]
    ys = np.linspace(0, h, grid + 1).round().astype(int)
    xs = np.linspace(0, w, grid + 1).round().astype(int)
    return np.stack(
        [x[ys[i] : ys[i + 1], xs[j] : xs[j + 1]].mean(axis=(0, 1)) for i in range(grid) for j in range(grid)]
    )


def small_size(width: int, height: int, short_side: int = FLOW_SHORT_SIDE) -> tuple[int, int]:
    """(w, h) of a frame scaled so its short side is ``short_side`` (never upscaled)."""
    s = min(1.0, short_side / min(width, height))
    return max(8, int(round(width * s))), max(8, int(round(height * s)))


def appearance_features(rgb_small: np.ndarray) -> np.ndarray:
    """float32[16 + 12 + 16]: brightness grid, colour grid, edge-energy grid of a small RGB frame."""
    rgbf = rgb_small.astype(np.float32) / 255.0
    gray = cv2.cvtColor(rgbf, cv2.COLOR_RGB2GRAY)
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    edges = np.sqrt(gx * gx + gy * gy) / 4.0  # a unit step gives 4 with this kernel: scale to ~[0, 1]
    return np.concatenate(
        [
            _cell_means(gray, GRID),
            _cell_means(rgbf, COLOR_GRID).reshape(-1),
            _cell_means(edges, GRID),
        ]
    ).astype(np.float32)


def motion_features(gray_prev: np.ndarray, gray: np.ndarray, dt: float) -> np.ndarray:
    """float32[MOTION_DIM]: flow grid, global flow statistics, frame difference between two small frames.

    gray_prev, gray: uint8[h, w] (short side `FLOW_SHORT_SIDE`); dt: seconds between them.
    """
    flow = cv2.calcOpticalFlowFarneback(
        gray_prev, gray, None, pyr_scale=0.5, levels=3, winsize=13, iterations=3, poly_n=5, poly_sigma=1.1, flags=0
    )
    # pixels per frame interval -> percent of the short side per 1/30 s: resolution and fps independent
    unit = 100.0 * (1.0 / 30.0) / max(dt, 1e-4) / float(min(gray.shape))
    flow = flow * unit
    mag = np.sqrt((flow * flow).sum(axis=-1))
    per_cell = np.concatenate([_cell_means(flow, GRID), _cell_means(mag, GRID)[:, None]], axis=1).reshape(-1)
    ang = np.arctan2(flow[..., 1], flow[..., 0])
    bins = ((ang + np.pi) / (2 * np.pi) * DIR_BINS).astype(int) % DIR_BINS
    # Mean magnitude per direction (sums to the mean magnitude): not normalized to a distribution, which
    # would blow sub-pixel noise of a still frame up into a confident-looking direction.
    hist = np.bincount(bins.ravel(), weights=mag.ravel(), minlength=DIR_BINS) / mag.size
    glob = [mag.mean(), mag.std(), flow[..., 0].mean(), flow[..., 1].mean(), (mag > MOVING_THRESHOLD).mean()]
    diff = 100.0 * np.abs(gray.astype(np.float32) - gray_prev.astype(np.float32)).mean() / 255.0
    diff *= (1.0 / 30.0) / max(dt, 1e-4)  # per 1/30 s, like the flow
    return np.concatenate([per_cell, glob, hist, [diff]]).astype(np.float32)


class FlowGridExtractor:
    """Accumulates flowgrid features frame by frame; `finish` returns a `Visual` at ``fps``.

    Feed ``(time_seconds, rgb uint8[H, W, 3])`` with `update`, in presentation order. Any frame size works
    (frames are scaled to short side `FLOW_SHORT_SIDE`; the size is fixed by the first frame).
    """

    kind = "flowgrid"

    def __init__(self) -> None:
        self._size: tuple[int, int] | None = None
        self._prev: np.ndarray | None = None
        self._prev_t: float | None = None
        self.frame_times: list[float] = []
        self.appearance: list[np.ndarray] = []
        self.motion_times: list[float] = []
        self.motion: list[np.ndarray] = []

    def update(self, t: float, rgb: np.ndarray) -> None:
        if self._size is None:
            self._size = small_size(rgb.shape[1], rgb.shape[0])
        if (rgb.shape[1], rgb.shape[0]) != self._size:
            rgb = cv2.resize(rgb, self._size, interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        self.frame_times.append(float(t))
        self.appearance.append(appearance_features(rgb))
        if self._prev is not None and t > self._prev_t:
            self.motion.append(motion_features(self._prev, gray, t - self._prev_t))
            self.motion_times.append(0.5 * (t + self._prev_t))  # the flow describes the interval
        self._prev, self._prev_t = gray, float(t)

    def finish(self, *, duration: float | None = None, fps: float = VISUAL_FPS) -> Visual:
        """float32[T, FLOWGRID_DIM] on the grid ``k / fps`` (``T = round(duration * fps)``), as a `Visual`."""
        if not self.frame_times:
            raise ValueError("FlowGridExtractor.finish: no frames were given")
        ft = np.asarray(self.frame_times)
        if duration is None:
            step = float(np.median(np.diff(ft))) if len(ft) > 1 else 1.0 / fps
            duration = ft[-1] + step
        grid = np.arange(max(1, int(round(duration * fps)))) / fps
        app = _interp_rows(grid, ft, np.stack(self.appearance))
        if self.motion:
            mot = _interp_rows(grid, np.asarray(self.motion_times), np.stack(self.motion))
        else:  # a single frame: nothing moves
            mot = np.zeros((len(grid), MOTION_DIM), np.float32)
        return Visual(np.concatenate([mot, app], axis=1), fps, self.kind)


def _interp_rows(grid: np.ndarray, times: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``values[N, D]`` at ``times[N]`` onto ``grid[T]`` (held at the ends)."""
    order = np.argsort(times, kind="stable")
    times, values = times[order], values[order]
    return np.stack([np.interp(grid, times, values[:, d]) for d in range(values.shape[1])], axis=1).astype(np.float32)


def visual_features(
    frames: Iterable[tuple[float, np.ndarray]], *, duration: float | None = None, fps: float = VISUAL_FPS
) -> Visual:
    """Flowgrid features float32[T, FLOWGRID_DIM] at ``fps`` from ``(time_seconds, rgb)`` frames."""
    ex = FlowGridExtractor()
    for t, rgb in frames:
        ex.update(t, rgb)
    return ex.finish(duration=duration, fps=fps)
