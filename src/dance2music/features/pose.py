"""Pose: MediaPipe body landmarks -> COCO-17 keypoints -> a normalized `Motion` at `constants.MOTION_FPS`.

Pipeline (choices measured on real dance clips, see the project's beat-alignment notes):

1. MediaPipe ``solutions.pose.Pose`` in video mode, ``model_complexity=1`` (the only model inside the
   0.10.14 wheel) and ``smooth_landmarks=False``: its own filter adds lag, which shifts kinematic beats.
2. The 33 landmarks are mapped to COCO-17 (x, y in pixels of the full-size frame, confidence = visibility).
3. Frame times are the decoder's presentation timestamps, not ``index / fps``.
4. A zero-phase Gaussian smoothing in time (sigma ~33 ms) over the frames with a detection, evaluated at
   each frame's own time (so it also works for variable frame rates and never reaches across a gap).
5. A cubic spline resamples the track onto the uniform `MOTION_FPS` grid (linear upsampling would create
   equal neighbours that break strict-minimum beat detection).
6. `motion_formats.normalize_keypoints` centres on the hip midpoint and divides by the median torso length,
   the same normalization every dataset reader uses. Frames with no person are filled (interpolated inside,
   held at the ends) and flagged ``valid=False`` with confidence 0.

MediaPipe follows one person (whoever its detector ranked first); with several people in the video,
`features.people` chooses the most prominent and crops every frame around them before it reaches
`PoseTracker.update` (its ``origin`` maps the keypoints back). `PoseTracker` takes frames one at a time,
so a caller can decode a video once and feed the same frames to several extractors (`features.extract` does).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from ..constants import COCO17_INDEX, MOTION_FPS
from ..errors import NoPersonError
from ..io.video import iter_frames, probe
from ..types import Motion
from .mediapipe_import import GraphOwner, import_mediapipe, quiet_native_stderr
from .motion_formats import normalize_keypoints

#: MediaPipe pose landmark index for each COCO-17 joint (nose, eyes, ears, shoulders ... ankles).
MEDIAPIPE_TO_COCO17 = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)

#: Frames are scaled down to this longer side before pose estimation: MediaPipe resizes to 256x256
#: internally anyway, and the full-size conversion costs more than the network on 1080p input.
POSE_MAX_SIDE = 640

#: Standard deviation (seconds) of the zero-phase Gaussian smoothing: about one frame at 30 fps, enough
#: to remove MediaPipe's frame-to-frame jitter without moving velocity minima.
SMOOTH_SIGMA_S = 0.033

#: Below this share of frames with a detection, a video is said to have no person.
MIN_DETECTION_RATE = 0.05

#: A cut (an edit to another shot): the hips move more than this many torso lengths between two frames at most
#: `CUT_MAX_GAP_S` apart, faster than any dancer travels (docs/results.md, edited videos).
CUT_JUMP_TORSO = 1.0
CUT_MAX_GAP_S = 0.25

# protobuf 4.25 warns on every `Pose.process` call from MediaPipe's own code; nothing to act on.
warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype\(\) is deprecated", category=UserWarning)


class PoseEstimator(GraphOwner):
    """MediaPipe pose on single RGB images -> COCO-17 keypoints in that image's pixels.

    static_image: True for unrelated photos (detect every time); False for video frames (detect once,
    then track, which is faster and steadier).
    """

    def __init__(
        self,
        *,
        static_image: bool = False,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
    ) -> None:
        with quiet_native_stderr():
            import_mediapipe()
            from mediapipe.python.solutions import pose as mp_pose

            self._graph = mp_pose.Pose(
                static_image_mode=static_image,
                model_complexity=1,  # 0 and 2 download their models at run time; 1 ships in the wheel
                smooth_landmarks=False,  # its smoothing lags; we smooth zero-phase afterwards
                enable_segmentation=False,
                min_detection_confidence=min_detection_confidence,
                min_tracking_confidence=min_tracking_confidence,
            )
            # The graph opens its models (and logs about it) on worker threads after the constructor
            # returns; one blank frame waits for that while native output is still silenced.
            self._graph.process(np.zeros((64, 64, 3), np.uint8))
        self._closed = False

    def __call__(self, rgb: np.ndarray) -> np.ndarray | None:
        """float32[17, 3] (x, y pixels of ``rgb``, visibility in [0, 1]) or None when no person is found.

        rgb: uint8[H, W, 3].
        """
        result = self._graph.process(np.ascontiguousarray(rgb))
        if result.pose_landmarks is None:
            return None
        h, w = rgb.shape[:2]
        lm = result.pose_landmarks.landmark
        out = np.empty((17, 3), np.float32)
        for k, i in enumerate(MEDIAPIPE_TO_COCO17):
            out[k] = (lm[i].x * w, lm[i].y * h, min(1.0, max(0.0, lm[i].visibility)))
        return out


def keypoints_from_image(rgb: np.ndarray) -> np.ndarray | None:
    """COCO-17 keypoints float32[17, 3] (pixels, visibility) of the person in one photo, or None."""
    with PoseEstimator(static_image=True) as est:
        return est(rgb)


def _gaussian_smooth(times: np.ndarray, values: np.ndarray, known: np.ndarray, sigma: float) -> np.ndarray:
    """Zero-phase Gaussian smoothing of ``values[N, C]`` sampled at (possibly irregular) ``times[N]``.

    Each known sample becomes the Gaussian-weighted mean of the known samples around it (a kernel
    regression: symmetric in time, so no lag). Unknown samples are returned unchanged.
    """
    out = values.copy()
    if sigma <= 0 or known.sum() < 2:
        return out
    idx = np.flatnonzero(known)
    t = times[idx]
    v = values[idx]
    half = 4.0 * sigma
    lo = np.searchsorted(t, t - half, side="left")
    hi = np.searchsorted(t, t + half, side="right")
    for k in range(len(idx)):  # windows hold a handful of frames: a loop over frames is cheap
        w = np.exp(-0.5 * ((t[lo[k] : hi[k]] - t[k]) / sigma) ** 2)
        out[idx[k]] = (w[:, None] * v[lo[k] : hi[k]]).sum(axis=0) / w.sum()
    return out


def cubic_spline(x: np.ndarray, y: np.ndarray, xq: np.ndarray) -> np.ndarray:
    """``scipy.interpolate.CubicSpline(x, y, axis=0)(xq)`` (not-a-knot ends) for ``x[N >= 4]`` increasing.

    The same linear system as SciPy's (slopes at the knots, tridiagonal once the not-a-knot rows are written
    in SciPy's way), solved by elimination in numpy; agrees with SciPy to float rounding. It spares
    `d2m generate` importing scipy.interpolate (and scipy.spatial and scipy.sparse with it).
    y: float[N, C]; xq: float[M] -> float[M, C].
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64).reshape(len(x), -1)
    n = len(x)
    if n < 4:
        raise ValueError(f"cubic_spline needs at least 4 points, got {n}")
    dx = np.diff(x)
    slope = np.diff(y, axis=0) / dx[:, None]
    lower = np.zeros(n)  # A[i, i-1]
    diag = np.empty(n)
    upper = np.zeros(n)  # A[i, i+1]
    b = np.empty_like(y)
    diag[1:-1] = 2.0 * (dx[:-1] + dx[1:])
    upper[1:-1] = dx[:-1]
    lower[1:-1] = dx[1:]
    b[1:-1] = 3.0 * (dx[1:, None] * slope[:-1] + dx[:-1, None] * slope[1:])
    d = x[2] - x[0]  # not-a-knot at the start: the third derivative is continuous across x[1]
    diag[0], upper[0] = dx[1], d
    b[0] = ((dx[0] + 2.0 * d) * dx[1] * slope[0] + dx[0] ** 2 * slope[1]) / d
    d = x[-1] - x[-3]  # and across x[-2]
    diag[-1], lower[-1] = dx[-2], d
    b[-1] = (dx[-1] ** 2 * slope[-2] + (2.0 * d + dx[-1]) * dx[-2] * slope[-1]) / d
    # Thomas elimination (the system is diagonally dominant after the first row)
    cp = np.empty(n)
    dp = np.empty_like(y)
    cp[0], dp[0] = upper[0] / diag[0], b[0] / diag[0]
    for i in range(1, n):
        m = diag[i] - lower[i] * cp[i - 1]
        cp[i] = upper[i] / m
        dp[i] = (b[i] - lower[i] * dp[i - 1]) / m
    s = dp
    for i in range(n - 2, -1, -1):
        s[i] = dp[i] - cp[i] * s[i + 1]
    # piecewise cubic Hermite: y0 + s0 t + c2 t^2 + c3 t^3 on each interval
    k = np.clip(np.searchsorted(x, xq, side="right") - 1, 0, n - 2)
    h = dx[k][:, None]
    t = (np.asarray(xq, np.float64) - x[k])[:, None]
    s0, s1, m = s[k], s[k + 1], slope[k]
    c2 = (3.0 * m - 2.0 * s0 - s1) / h
    c3 = (s0 + s1 - 2.0 * m) / (h * h)
    return y[k] + t * (s0 + t * (c2 + t * c3))


def join_cuts(times: np.ndarray, keypoints_px: np.ndarray, detected: np.ndarray) -> tuple[np.ndarray, int]:
    """``keypoints_px`` float[N, 17, 3] with the shots of an edited video joined: at each cut (see
    `CUT_JUMP_TORSO`) every later frame is moved and scaled about its hips so that the hips continue where the
    last shot left them and the torso keeps the last shot's length. Returns (keypoints, number of cuts).

    Without this a cut is a jump of the whole body in one frame: a speed no dance has, in the motion the
    generator sees and in the rhythm read from it."""
    ls, rs, lh, rh = (COCO17_INDEX[j] for j in ("left_shoulder", "right_shoulder", "left_hip", "right_hip"))
    kp = np.array(keypoints_px, np.float64, copy=True)
    ok = np.asarray(detected, bool) & (kp[:, [ls, rs, lh, rh], 2] > 0).all(axis=1)
    hips = 0.5 * (kp[:, lh, :2] + kp[:, rh, :2])
    torso = np.linalg.norm(0.5 * (kp[:, ls, :2] + kp[:, rs, :2]) - hips, axis=1)
    idx = np.flatnonzero(ok)
    if idx.size < 3:
        return kp, 0
    ref = float(np.median(torso[idx]))
    step = np.linalg.norm(np.diff(hips[idx], axis=0), axis=1)
    close = np.diff(times[idx]) <= CUT_MAX_GAP_S
    cut_at = idx[1:][close & (step > CUT_JUMP_TORSO * ref)]
    bounds = [int(idx[0]), *cut_at.tolist(), kp.shape[0]]
    for k, start in enumerate(cut_at):
        before = idx[(idx >= bounds[k]) & (idx < start)]
        after = idx[(idx >= start) & (idx < bounds[k + 2])]
        last = int(before[-1])
        scale = float(np.median(torso[before]) / max(np.median(torso[after]), 1e-9))
        kp[start:, :, :2] = (kp[start:, :, :2] - hips[start]) * scale + hips[last]
        hips[start:] = (hips[start:] - hips[start]) * scale + hips[last]
        torso[start:] *= scale
    return kp, int(cut_at.size)


def track_to_motion(
    times: np.ndarray,
    keypoints_px: np.ndarray,
    detected: np.ndarray,
    *,
    duration: float | None = None,
    fps: float = MOTION_FPS,
    sigma: float = SMOOTH_SIGMA_S,
    min_detection_rate: float = MIN_DETECTION_RATE,
    meta: dict | None = None,
) -> Motion:
    """Turn per-frame pixel keypoints into a normalized `Motion` on a uniform grid.

    times: float[N] presentation times (s, increasing) of the frames.
    keypoints_px: float[N, 17, 3] COCO-17 (x, y pixels, confidence); rows where ``detected`` is False are
        ignored.
    detected: bool[N] frames where a person was found.
    duration: seconds the output covers (grid ``k / fps`` for ``k < round(duration * fps)``); default: up to
        the last frame plus one frame interval.

    Steps: the shots of an edited video joined (`join_cuts`), zero-phase Gaussian smoothing (``sigma`` s) over
    detected frames, gaps filled linearly in time
    (held at the ends), cubic resampling to ``fps``, then `normalize_keypoints`. Grid frames whose nearest
    source frame had no detection, or that fall inside a gap, are ``valid=False`` with confidence 0.
    Raises `NoPersonError` when fewer than ``min_detection_rate`` of the frames had a person.
    """
    times = np.asarray(times, np.float64)
    kp = np.asarray(keypoints_px, np.float64).reshape(len(times), 17, 3)
    detected = np.asarray(detected, bool)
    n = len(times)
    n_det = int(detected.sum())
    if n == 0 or n_det == 0 or n_det < min_detection_rate * n:
        raise NoPersonError(
            f"no person found in the video (a person was detected in {n_det} of {n} frames; a dancer under about "
            "a third of the frame's height is missed: crop the video around the dancer)"
        )
    if np.any(np.diff(times) <= 0):
        order = np.argsort(times, kind="stable")
        times, kp, detected = times[order], kp[order], detected[order]
        keep = np.concatenate([[True], np.diff(times) > 0])  # duplicate timestamps: keep the first
        times, kp, detected = times[keep], kp[keep], detected[keep]
        n = len(times)
    kp, cuts = join_cuts(times, kp, detected)
    flat = kp.reshape(n, 51)
    flat = _gaussian_smooth(times, flat, detected, sigma)
    # Fill undetected frames in time (linear, held at the ends) so the spline sees a continuous track;
    # they stay flagged and carry no confidence.
    det_t = times[detected]
    for c in range(51):
        flat[~detected, c] = np.interp(times[~detected], det_t, flat[detected, c])
    kp = flat.reshape(n, 17, 3)

    if duration is None:
        step = float(np.median(np.diff(times))) if n > 1 else 1.0 / fps
        duration = times[-1] + step
    t_out = max(1, int(round(duration * fps)))
    grid = np.arange(t_out) / fps
    grid_c = np.clip(grid, times[0], times[-1])  # before the first / after the last frame: hold
    if n >= 4:
        xy = cubic_spline(times, kp[..., :2].reshape(n, 34), grid_c).reshape(t_out, 17, 2)
    else:
        xy = np.stack([np.interp(grid_c, times, kp[:, j // 2, j % 2]) for j in range(34)], 1).reshape(t_out, 17, 2)
    conf = np.stack([np.interp(grid_c, times, kp[:, j, 2]) for j in range(17)], axis=1)
    # A grid frame is valid when the source frames on both sides of it had a person (nearest when it
    # lies on a source frame or outside the covered span).
    right = np.clip(np.searchsorted(times, grid_c, side="left"), 0, n - 1)
    left = np.clip(right - 1, 0, n - 1)
    on_frame = np.isclose(times[right], grid_c, atol=1e-9)
    valid = np.where(on_frame, detected[right], detected[left] & detected[right])
    outside = (grid < times[0]) | (grid > times[-1])
    nearest = np.where(grid < times[0], 0, n - 1)
    valid = np.where(outside, detected[nearest], valid)
    conf = np.where(valid[:, None], np.clip(conf, 0.0, 1.0), 0.0)
    out_px = np.concatenate([xy, conf[..., None]], axis=-1)

    info = dict(meta or {})
    info.update(
        source_frames=int(n),
        detected_frames=n_det,
        detection_rate=n_det / n,
        smooth_sigma_s=float(sigma),
        cuts_joined=cuts,
        pose_model="mediapipe-pose-full (model_complexity=1)",
    )
    return normalize_keypoints(out_px, fps, valid, meta=info)


class PoseTracker:
    """Accumulates pose keypoints frame by frame; `finish` returns the `Motion`.

    Feed ``(time_seconds, rgb)`` pairs with `update` (frames larger than ``max_side`` are scaled down for
    the network; keypoints are reported in pixels of the frame as given, times ``scale``).
    """

    def __init__(self, *, max_side: int | None = POSE_MAX_SIDE, min_detection_confidence: float = 0.5) -> None:
        self.max_side = max_side
        self._est = PoseEstimator(static_image=False, min_detection_confidence=min_detection_confidence)
        self.times: list[float] = []
        self.keypoints: list[np.ndarray] = []
        self.detected: list[bool] = []

    def update(
        self, t: float, rgb: np.ndarray, scale: float = 1.0, origin: tuple[float, float] = (0.0, 0.0)
    ) -> np.ndarray | None:
        """Add one frame at time ``t`` (s); ``scale`` maps its pixels to the reported pixel units.

        origin: (x, y) of ``rgb``'s top-left corner in a larger frame it was cropped from (pixels of that
        frame before ``scale``), so keypoints are reported in the larger frame (`features.people` crops).
        """
        h, w = rgb.shape[:2]
        shift = np.array(origin, np.float32) * scale
        if self.max_side and max(h, w) > self.max_side:
            import cv2

            s = self.max_side / max(h, w)
            small = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
            scale = scale / s
        else:
            small = rgb
        kp = self._est(small)
        self.times.append(float(t))
        if kp is None:
            self.keypoints.append(np.zeros((17, 3), np.float32))
            self.detected.append(False)
        else:
            kp[:, :2] *= scale
            kp[:, :2] += shift
            self.keypoints.append(kp)
            self.detected.append(True)
        return kp

    def finish(
        self, *, duration: float | None = None, fps: float = MOTION_FPS, meta: dict | None = None, t0: float = 0.0
    ) -> Motion:
        """The normalized `Motion` at ``fps`` (see `track_to_motion`); closes the estimator.

        t0: the instant (s, on the frames' clock) that becomes the motion's time 0; ``duration`` counts from it."""
        self.close()
        kp = np.stack(self.keypoints) if self.keypoints else np.zeros((0, 17, 3), np.float32)
        times = np.asarray(self.times, np.float64) - t0
        return track_to_motion(times, kp, np.asarray(self.detected, bool), duration=duration, fps=fps, meta=meta)

    def close(self) -> None:
        self._est.close()


def estimate_motion(
    frames: Iterable[tuple[float, np.ndarray]],
    *,
    duration: float | None = None,
    fps: float = MOTION_FPS,
    scale: float = 1.0,
    meta: dict | None = None,
) -> Motion:
    """Pose over an iterator of ``(time_seconds, rgb uint8[H, W, 3])`` frames -> normalized `Motion` at ``fps``.

    ``scale`` multiplies keypoint pixels (e.g. full-size width / decoded width when the frames were decoded
    small). Raises `NoPersonError` when (almost) no frame has a person.
    """
    tracker = PoseTracker()
    try:
        for t, rgb in frames:
            tracker.update(t, rgb, scale)
    finally:
        tracker.close()
    return tracker.finish(duration=duration, fps=fps, meta=meta)


def motion_from_video(path: str | os.PathLike, *, fps: float = MOTION_FPS) -> Motion:
    """Decode ``path`` and return its dancer's `Motion` (keypoint pixels in the displayed frame's size)."""
    info = probe(path)
    frames = iter_frames(path, max_side=POSE_MAX_SIDE)
    first = next(frames)
    s = max(info.width, info.height) / max(first[1].shape[:2])

    def all_frames() -> Iterator[tuple[float, np.ndarray]]:
        yield first
        yield from frames

    meta = {"source": str(Path(path)), "width": info.width, "height": info.height}
    return estimate_motion(all_frames(), duration=info.duration, fps=fps, scale=s, meta=meta)
