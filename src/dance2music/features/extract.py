"""The whole feature pipeline for one video: decode once -> pose -> Motion, and visual features -> Visual.

Each frame is decoded once; the frames picked for analysis (`AnalysisGrid`) are scaled down to
`pose.POSE_MAX_SIDE` and handed to every extractor in turn, so a long video is never held in memory and
never decoded twice. Decoding runs in a background thread a few frames ahead of the extractors.
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..constants import MOTION_FPS, VISUAL_FPS
from ..errors import InputError, NoPersonError
from ..io.files import atomic_output
from ..io.video import VideoInfo, iter_frames, probe
from ..types import Motion, Visual
from .people.follow import Lanes
from .people.scan import PeopleScan, scan_people
from .pose import POSE_MAX_SIDE, PoseTracker, track_to_motion
from .visual import FlowGridExtractor


@dataclass
class VideoFeatures:
    """What one video gives the model: motion and visual features, plus what is known of the file."""

    motion: Motion  # at constants.MOTION_FPS
    visual: Visual  # at constants.VISUAL_FPS
    duration: float  # seconds of video
    fps: float  # the video's own (average) frame rate
    meta: dict[str, Any] = field(default_factory=dict)  # size, rotation, person-tracking notes, ...


#: Frames the decoding thread may run ahead of pose (each a 640-px RGB frame, under 1 MB).
PREFETCH_FRAMES = 4
#: `same_picture`: block size (pixels) and the brightness change (0-255 levels) under which a frame repeats the
#: last analysed one (docs/results.md, "Frozen and frame-repeated videos": a re-encoded repeat moves a block by
#: at most 3 levels, a dancer 0.1 s later by 17 or more).
REPEAT_BLOCK, REPEAT_LEVELS = 8, 8.0


class AnalysisGrid:
    """Chooses which decoded frames are analysed: at most ``analysis_fps`` per second, by timestamp.

    Instants lie on a grid of ``1 / analysis_fps`` from the first frame; a frame within half a video frame
    of the next instant takes it, so a 30 fps video at ``analysis_fps=30`` keeps every frame, a 60 fps one
    every other, and a variable-frame-rate one the frame nearest each instant. Called once per decoded
    frame, in order (it is the ``keep`` predicate of `io.video.iter_frames`); None keeps every frame.
    """

    def __init__(self, analysis_fps: float | None, video_fps: float | None) -> None:
        self.step = 1.0 / float(analysis_fps) if analysis_fps else 0.0
        self.tol = 0.5 / video_fps if video_fps and video_fps > 0 else 0.0
        self.next_t = -math.inf

    def __call__(self, t: float) -> bool:
        if t < self.next_t - self.tol:
            return False  # between analysis instants
        if math.isfinite(self.next_t):
            # the next instant on the grid, or one step past this frame when a gap skipped some instants
            self.next_t = max(self.next_t + self.step, t + self.step - self.tol)
        else:
            self.next_t = t + self.step
        return True

    def plan(self, times: Sequence[float]) -> list[bool]:
        """Which of ``times`` (every frame time of a stream, increasing) this grid will take, leaving its own
        state untouched (`io.video.iter_frames` then need not decode the frames it will refuse)."""
        sim = AnalysisGrid(None, None)
        sim.step, sim.tol, sim.next_t = self.step, self.tol, self.next_t
        return [sim(t) for t in times]

    def expected(self, duration: float, num_frames: int | None) -> int | None:
        """About how many frames of a ``duration``-second video with ``num_frames`` frames are kept."""
        if not self.step:
            return num_frames
        n = math.ceil(duration / self.step)
        return min(n, num_frames) if num_frames else n


class PoseLanes:
    """Pose over a frame stream with one or two MediaPipe trackers ("lanes") that take turns.

    With ``lanes=2`` frame ``k`` goes to tracker ``k % 2``; the second tracker runs in a worker thread
    (MediaPipe releases the GIL), so two cores estimate pose at once. Each tracker follows its own frames
    (video mode: it crops around its previous result, two analysed frames back), and `finish` merges the
    two tracks by time before smoothing and resampling. ``lanes=1`` is the plain `PoseTracker`.

    With two lanes the trackers' MediaPipe graphs are built in the worker thread, so that whatever the caller
    does meanwhile (`extract_features` scans for people) overlaps with it.
    """

    def __init__(self, lanes: int = 1) -> None:
        if lanes not in (1, 2):
            raise ValueError(f"lanes must be 1 or 2, got {lanes}")
        self._trackers: list[PoseTracker] | None = None
        self._building: Future | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pose") if lanes == 2 else None
        if self._pool is None:
            self._trackers = [PoseTracker(max_side=None)]  # frames arrive scaled for pose
        else:
            self._building = self._pool.submit(lambda: [PoseTracker(max_side=None) for _ in range(lanes)])
        self._pending: Future | None = None
        self._count = 0

    @property
    def trackers(self) -> list[PoseTracker]:
        """The lanes' trackers (waits for them to be built; raises the builder's error)."""
        if self._trackers is None:
            assert self._building is not None
            self._trackers = self._building.result()
        return self._trackers

    def update(self, t: float, rgb: np.ndarray, scale: float, origin: tuple[float, float] = (0.0, 0.0)) -> None:
        """Add frame ``rgb`` (uint8[H, W, 3]) at ``t`` seconds; keypoint pixels are multiplied by ``scale``.

        origin: where ``rgb`` was cropped from a larger frame (`PoseTracker.update`; `people.FollowedPose`)."""
        lane = self._count % len(self.trackers)
        self._count += 1
        if lane == 0:
            self.trackers[0].update(t, rgb, scale, origin)
            return
        self._wait()  # this lane's previous frame first: a tracker sees its frames in order, one at a time
        self._pending = self._pool.submit(self.trackers[1].update, t, rgb, scale, origin)

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()  # raises the worker's error here

    def close(self) -> None:
        """Wait for the worker and release every tracker (safe to call twice)."""
        try:
            self._wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
            built = self._trackers
            if built is None and self._building is not None and self._building.exception() is None:
                built = self._building.result()  # built but never used (the scan failed)
            for tr in built or []:
                tr.close()

    def finish(self, *, duration: float, fps: float, meta: dict[str, Any], t0: float = 0.0) -> Motion:
        """The normalized `Motion` of all frames (`pose.track_to_motion`), time 0 at ``t0`` on the frames' clock;
        closes the trackers."""
        self.close()
        if len(self.trackers) == 1:
            return self.trackers[0].finish(duration=duration, fps=fps, meta=meta, t0=t0)
        times = np.concatenate([np.asarray(tr.times, np.float64) for tr in self.trackers]) - t0
        kp = [k for tr in self.trackers for k in tr.keypoints]
        detected = np.concatenate([np.asarray(tr.detected, bool) for tr in self.trackers])
        order = np.argsort(times, kind="stable")
        keypoints = np.stack(kp)[order] if kp else np.zeros((0, 17, 3), np.float32)
        return track_to_motion(times[order], keypoints, detected[order], duration=duration, fps=fps, meta=meta)


class VisualExtractor(Protocol):
    """A visual feature extractor `extract_features` feeds (`visual.FlowGridExtractor`, `i3d.I3DFeatures`)."""

    def update(self, t: float, rgb: np.ndarray) -> Any: ...

    def finish(self, *, duration: float | None = None, fps: float = VISUAL_FPS) -> Visual: ...


def extract_features(
    video: str | Path,
    *,
    progress: bool = False,
    visual: bool = True,
    visual_extractor: VisualExtractor | None = None,
    analysis_fps: float | None = MOTION_FPS,
    pose_lanes: int = 1,
    on_pose_start: Callable[[], None] | None = None,
    origin: str = "container",
) -> VideoFeatures:
    """Decode ``video`` as a stream and return its `VideoFeatures`.

    motion: COCO-17 keypoints ``[T, 17, 3]`` at `MOTION_FPS`, normalized (see `features.pose`).
    visual: flowgrid features ``[T, FLOWGRID_DIM]`` at `VISUAL_FPS`, or those of ``visual_extractor`` when one
        is given (e.g. ``i3d.I3DFeatures(i3d.load_i3d(weights))``: I3D features ``[T, 1024]``).
    Both cover the video's duration (``T = round(duration * fps)``), time 0 being the container start, or with
    ``origin="first_frame"`` the first frame (then ``duration`` counts from it, and ``meta["video_start"]``
    says where that frame lies after the container start): the same frames with the same intervals then give
    the same features whatever their file's timestamps (an .avi and its remux to .mp4 that starts the video
    later), which is what `Dance2Music.generate_video` uses.
    ``progress`` shows a tqdm bar on stderr.
    visual: False skips the flowgrid features (``Visual`` with zero columns) for models that do not use them.
    analysis_fps: pose and visual features run on at most this many frames per second (frames are taken by
        their timestamps; a 60 fps video is analysed at 30 fps by default); the keypoints are then spline-
        resampled to `MOTION_FPS`. None analyses every frame. A lower rate costs less for slightly less
        accurate kinematic beats (`constants.GENERATE_ANALYSIS_FPS` is what `d2m generate` uses; the trade-off
        is measured in docs/evaluation.md, "Analysis rate").
    pose_lanes: 2 runs two MediaPipe trackers on alternate analysed frames, one in a worker thread, so
        that two free cores share the pose work (`PoseLanes`). 1 (default) is one tracker on every analysed
        frame. Either way the result does not depend on thread timing.
    on_pose_start: called once pose is under way (the scan done and every pose lane started), so that work
        needing the interpreter can overlap with pose, which runs in native code (`api.Dance2Music` loads
        its model then).

    Raises `InputError`/`VideoError` for unreadable input and `NoPersonError` when no person is found.
    """
    path = Path(video)
    info = probe(path)
    if origin not in ("container", "first_frame"):
        raise ValueError(f"origin must be 'container' or 'first_frame', not {origin!r}")
    t0 = info.start if origin == "first_frame" else 0.0
    duration = info.duration - t0
    grid = AnalysisGrid(analysis_fps, info.fps)
    # Decoding and scaling run in a background thread a few frames ahead, so that on two cores they
    # overlap with pose (PyAV and MediaPipe both release the GIL); frames between analysis instants are
    # decoded but never converted to RGB.
    decoded = iter_frames(path, max_side=POSE_MAX_SIDE, keep=grid, prefetch=PREFETCH_FRAMES)
    people, tracker = _start_pose(path, info, pose_lanes)
    extractor = visual_extractor if visual_extractor is not None else FlowGridExtractor() if visual else None
    bar = (grid.expected(info.duration, info.num_frames), f"features {path.name}") if progress else None
    repeated = _analyse(decoded, tracker, extractor, info, t0, pose_lanes, on_pose_start, bar)
    meta = _video_meta(path, info, origin, people)
    meta["repeated_frames"] = repeated
    try:
        motion = tracker.finish(duration=duration, fps=MOTION_FPS, meta=dict(meta), t0=t0)
    except NoPersonError as e:
        raise NoPersonError(f"{path.name}: {e}") from e
    if extractor is not None:
        visual_feats = extractor.finish(duration=duration, fps=VISUAL_FPS)
    else:
        visual_feats = Visual(np.zeros((motion.num_frames, 0), np.float32), VISUAL_FPS, kind="none")
    meta.update(
        detection_rate=motion.meta["detection_rate"],
        detected_frames=motion.meta["detected_frames"],
        decoded_frames=motion.meta["source_frames"],
        visual_kind=visual_feats.kind,
        analysis_fps=analysis_fps,
    )
    return VideoFeatures(motion=motion, visual=visual_feats, duration=duration, fps=info.fps, meta=meta)


def _start_pose(path: Path, info: VideoInfo, pose_lanes: int) -> tuple[PeopleScan, Lanes]:
    """The people scan, and the pose runner: `PoseLanes`, or a `FollowedPose` around it when the scan chose
    someone to follow."""
    lanes = PoseLanes(pose_lanes)  # with two lanes MediaPipe builds their graphs in a thread during the scan
    try:
        people = scan_people(path, info)
    except BaseException:
        lanes.close()
        raise
    return people, people.follow(lanes)


def picture_blocks(rgb: np.ndarray) -> np.ndarray:
    """int32[H/8, W/8]: the sum of each `REPEAT_BLOCK`-pixel square block of ``rgb`` over its pixels and colours
    (integer sums: a fraction of a millisecond for a 640-px frame)."""
    k = REPEAT_BLOCK
    h, w = (rgb.shape[0] // k) * k, (rgb.shape[1] // k) * k
    return rgb[:h, :w].reshape(h // k, k, w // k, k * 3).sum(axis=(1, 3), dtype=np.int32)


def same_blocks(a: np.ndarray, b: np.ndarray) -> bool:
    """`same_picture` on two frames' `picture_blocks`."""
    scale = REPEAT_BLOCK * REPEAT_BLOCK * 3
    return a.shape == b.shape and a.size > 0 and int(np.abs(a - b).max()) < REPEAT_LEVELS * scale


def same_picture(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two RGB frames show the same picture: no 8x8-pixel block's mean brightness differs by
    `REPEAT_LEVELS` or more (a repeated frame decodes within a few levels; movement, even of a small dancer,
    moves some block by tens of levels, and camera noise averages out over a block). `_analyse` compares each
    frame with the last one given to pose, so slow movement still gets a pose whenever it adds up."""
    return a.shape == b.shape and same_blocks(picture_blocks(a), picture_blocks(b))


def _analyse(
    decoded: Iterator[tuple[float, np.ndarray]],
    tracker: Lanes,
    extractor: VisualExtractor | None,
    info: VideoInfo,
    t0: float,
    pose_lanes: int,
    on_pose_start: Callable[[], None] | None,
    bar: tuple[int | None, str] | None,
) -> int:
    """Hand every analysed frame to pose and to the visual extractor, with a tqdm progress bar when ``bar``
    (total, description) is given; then close the tracker, the bar and the decoder, also when one failed.

    A frame that shows the same picture as the last one given to pose (`same_picture`: a freeze, or slow motion
    made by repeating frames) is not given to pose: the pose would be the last one again, a stair in the track
    that reads as accents; the spline then runs smoothly between the distinct pictures. Returns how many were
    left out.
    """
    frames: Iterable[tuple[float, np.ndarray]] = decoded
    scale = None
    analysed = repeated = 0
    previous: np.ndarray | None = None  # `picture_blocks` of the last frame given to pose
    try:
        if bar is not None:
            from tqdm.auto import tqdm

            frames = tqdm(decoded, total=bar[0], desc=bar[1], unit="frame", leave=False)
        for t, rgb in frames:
            if scale is None:  # keypoints are reported in pixels of the full-size (displayed) frame
                scale = max(info.width, info.height) / max(rgb.shape[:2])
            if extractor is not None:
                extractor.update(t - t0, rgb)
            blocks = picture_blocks(rgb)
            if previous is not None and same_blocks(previous, blocks):
                repeated += 1
                continue
            previous = blocks
            tracker.update(t, rgb, scale)
            analysed += 1
            if analysed == pose_lanes and on_pose_start is not None:
                on_pose_start()  # every lane has had its first frame
        return repeated
    finally:
        tracker.close()
        if frames is not decoded:
            frames.close()  # the progress bar
        decoded.close()  # stops the decoding thread and releases the file


def _video_meta(path: Path, info: VideoInfo, origin: str, people: PeopleScan) -> dict[str, Any]:
    """What is known of the file, and the people scan's report (``people``, ``followed``, ``people_note``)."""
    return {
        "source": str(path),
        "width": info.width,
        "height": info.height,
        "rotation": info.rotation,
        "fps": info.fps,
        "vfr": info.vfr,
        "has_audio": info.has_audio,
        "codec": info.codec,
        "num_frames": info.num_frames,
        "video_start": info.start,
        "origin": origin,
        **people.meta(),  # in Motion.meta too
    }


#: Format version of the files `save_features` writes.
FEATURES_FORMAT = 1


def save_features(path: str | os.PathLike, feats: VideoFeatures) -> Path:
    """Write `VideoFeatures` to an ``.npz`` file atomically (see `load_features` for the keys)."""
    arrays = {
        "format": np.int64(FEATURES_FORMAT),
        "motion_keypoints": feats.motion.keypoints,  # float32[T, 17, 3]
        "motion_valid": feats.motion.valid,  # bool[T]
        "motion_root": feats.motion.root,  # float32[T, 2]
        "motion_fps": np.float64(feats.motion.fps),
        "visual": feats.visual.features,  # float32[T, D]
        "visual_fps": np.float64(feats.visual.fps),
        "visual_kind": np.str_(feats.visual.kind),
        "duration": np.float64(feats.duration),
        "fps": np.float64(feats.fps),
        "meta_json": np.str_(json.dumps({"video": feats.meta, "motion": feats.motion.meta}, default=str)),
    }
    p = Path(path)
    buf = io.BytesIO()  # np.savez on a path would append ".npz" to the temporary name
    np.savez_compressed(buf, **arrays)
    with atomic_output(p) as tmp:
        tmp.write_bytes(buf.getvalue())
    return p


def load_features(path: str | os.PathLike) -> VideoFeatures:
    """Read a file written by `save_features`; `InputError` when it is missing or not such a file."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"no such features file: {p}")
    try:
        with np.load(p, allow_pickle=False) as z:
            if int(z["format"]) != FEATURES_FORMAT:
                raise InputError(f"{p.name}: features format {int(z['format'])}, expected {FEATURES_FORMAT}")
            meta = json.loads(str(z["meta_json"]))
            motion = Motion(
                z["motion_keypoints"], float(z["motion_fps"]), z["motion_valid"], z["motion_root"], meta["motion"]
            )
            visual = Visual(z["visual"], float(z["visual_fps"]), str(z["visual_kind"]))
            return VideoFeatures(motion, visual, float(z["duration"]), float(z["fps"]), meta["video"])
    except (KeyError, ValueError, OSError, zipfile.BadZipFile) as e:
        raise InputError(f"{p.name} is not a dance2music features file ({type(e).__name__})") from e
