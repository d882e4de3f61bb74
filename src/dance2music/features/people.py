"""Several people in the video: find them, choose the most prominent dancer, and make pose follow that one.

MediaPipe's pose solution (`features.pose`) tracks one person: whoever its detector ranked first when it
(re)started. In a group video that may be anyone, and it may jump from one dancer to another. This module

1. detects every person on a few sampled frames (`scan_people`: about one per second, at most
   `SCAN_MAX_FRAMES`; keyframes where they cover the video, `scan_frames`, so the scan decodes a handful of
   frames, not the video);
2. links the detections into tracks by box overlap and chooses the most prominent track: tall (large
   on screen) and persistent (its mean height over all sampled frames, counting 0 where it is absent),
   the most central one when two are within `TIE_RATIO` of each other (`choose_person`);
3. while pose runs, crops each analysed frame to a margin around the chosen person's box (interpolated
   in time between the known boxes, refreshed by a live detection whenever the last one is more than
   `LIVE_INTERVAL_S` old), so MediaPipe cannot lock onto someone else; keypoints are mapped back to
   full-frame pixels (`FollowedPose`);
4. reports it: `PeopleScan.meta` (``people``: most people seen in one sampled frame, ``followed``: the
   chosen box and why, ``people_note``: the sentence ``d2m generate`` prints).

With one person of ordinary size nothing is cropped: pose runs exactly as without this module, and only
the scan's cost is added: 0.46 s on the 2.9 s real test clip (0.19 s starting the detector, 2 detector
passes of 30-45 ms on each of 3 sampled frames), at most about 1 s on a long video. When no sampled frame
shows anyone, the scan searches tiles of the frames (`TILE_FRACTIONS`): a dancer found only there is small
in the frame (far from the camera) and is followed although alone, since MediaPipe's pose, which starts from
the same detector, would not see them either.

The detector. MediaPipe's BlazePose detector (``mediapipe/modules/pose_detection/pose_detection.tflite``,
inside the wheel) is a multi-person SSD: 2254 anchors, each with a box and 4 keypoints (hip centre, a point
on the full-body circle, shoulder centre, a point on the upper-body circle). It is run here through
MediaPipe's own ``PoseDetectionCpu`` subgraph, compiled into the wheel, in a graph of its own (the pose
solution keeps only the first detection). That subgraph holds the model's real decoding parameters, read
from the wheel's compiled graph: input 224x224 letterboxed into [-1, 1]; SSD anchors with 5 layers, strides
8, 16, 32, 32, 32, scales 0.1484375 to 0.75, aspect ratio 1, fixed anchor size, offset 0.5; 12 coordinates per
box with ``reverse_output_order``, scaled by 224; sigmoid scores clipped at 100, kept above 0.5; weighted
non-maximum suppression at IoU 0.3; letterbox removal. Measured against the alternative of running the
same ``.tflite`` through the ``ai-edge-litert`` interpreter (version 2.3.0, it installs and runs with numpy
2) and decoding anchors in numpy: 30 ms against 19 ms per 640x360 frame on one core, i.e. at most 0.3 s
over a whole scan, for a 22 MB extra dependency (plus ml_dtypes) and a hand-written copy of decoding that
MediaPipe already does. The face detector (``solutions.face_detection``) was the other option; it misses
dancers who face away from the camera, which dancers often do.

The network was trained with one person per picture, and it shows: beside a prominent dancer, a second
one at 0.75x the size scored 0.3-0.6 (0.95 alone). `PersonDetector` therefore paints over each person it
finds and looks again, until a pass finds nobody new: one extra pass per frame for a single dancer.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..types import Motion
from .pose import POSE_MAX_SIDE, _quiet_native_stderr

if TYPE_CHECKING:
    from ..io.video import VideoInfo

#: Detections scoring below this are dropped (the value MediaPipe's pose solution uses).
DETECTION_MIN_SCORE = 0.5

#: Most people one frame is searched for (each costs one more pass of the detector).
MAX_PEOPLE = 8

#: Around each person found, the area painted over before the detector looks again: half-width and
#: half-height in heights of that person, centred on the hip (the torso and legs, most of the arms).
ERASE_HALF_WIDTH = 0.3
ERASE_HALF_HEIGHT = 0.6

#: MediaPipe's pose ROI is the full-body circle's diameter times this (``PoseDetectionToRoi``: scale 1.25).
ROI_SCALE = 1.25

#: Sampled frames per second of video for the scan, and their most (a long video is sampled more sparsely).
SCAN_INTERVAL_S = 1.0
SCAN_MAX_FRAMES = 12

#: The scan samples keyframes alone (a few milliseconds each) when they fall in at least this many of its
#: slices of the video; with fewer it decodes towards the slices' centres (`scan_frames`).
SCAN_MIN_KEYFRAMES = 4

#: While following, a live detection refreshes the followed box once the last known box is this old.
LIVE_INTERVAL_S = 1.0

#: A dancer whom a whole-frame pass misses (smaller than about a third of the frame's height: the detector
#: sees a 224-px letterbox of the frame) is searched for in square tiles, half a tile apart, of these
#: fractions of the frame's shorter side (the next only when the previous finds nobody), and then followed.
TILE_FRACTIONS = (1.0, 0.5)

#: Side of the window, in heights of the followed dancer, that a live detection searches when that dancer
#: is small in the frame (found in tiles): big enough for a second of movement, small enough to be seen.
SMALL_SEARCH_HEIGHTS = 3.0

#: Side of the crop handed to pose, in heights of the followed person: about a third of a height of room on
#: every side covers what a dancer moves between two known boxes (a second apart) without taking in much
#: of a neighbour.
CROP_HEIGHTS = 1.75

#: Smallest crop side (pixels of the analysed frame); MediaPipe's networks see 224-256 px inputs anyway.
MIN_CROP_SIDE = 64

#: Two detections (or a detection and a track) are the same person at or above this IoU of their ROIs.
MATCH_IOU = 0.2

#: Tracks whose prominence is within this ratio of the best count as a tie; the most central one wins.
TIE_RATIO = 0.9


@dataclass(frozen=True)
class PersonBox:
    """One detected person, in pixels of the full-size (displayed) frame.

    cx, cy: body centre (MediaPipe's hip-centre keypoint).
    height: diameter of the circle around the whole body, about the person's height when upright.
    score: detector confidence in [0, 1].
    """

    cx: float
    cy: float
    height: float
    score: float = 1.0

    @property
    def roi(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of MediaPipe's square pose ROI for this person (may extend past the frame)."""
        h = 0.5 * ROI_SCALE * self.height
        return (self.cx - h, self.cy - h, self.cx + h, self.cy + h)

    def iou(self, other: PersonBox) -> float:
        """Intersection over union of the two ROIs."""
        a, b = self.roi, other.roi
        iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = iw * ih
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return inter / union if union > 0 else 0.0

    def scaled(self, s: float) -> PersonBox:
        """The same box in pixels of an image ``s`` times the size."""
        return PersonBox(self.cx * s, self.cy * s, self.height * s, self.score)


class PersonDetector:
    """MediaPipe's BlazePose detector on single RGB images -> every person in it (see the module docstring).

    Each call is independent (no tracking): people in pixels of the given image, tallest first.
    """

    def __init__(self, *, min_score: float = DETECTION_MIN_SCORE, max_people: int = MAX_PEOPLE) -> None:
        self.max_people = max_people
        with _quiet_native_stderr():
            from .mediapipe_import import import_mediapipe

            import_mediapipe()
            from mediapipe.framework import calculator_pb2
            from mediapipe.python.solution_base import SolutionBase

            config = calculator_pb2.CalculatorGraphConfig()
            config.input_stream.append("image")
            config.output_stream.append("detections")
            node = config.node.add()
            node.calculator = "PoseDetectionCpu"  # the subgraph compiled into the wheel
            node.input_stream.append("IMAGE:image")
            node.output_stream.append("DETECTIONS:detections")
            self._graph = SolutionBase(
                graph_config=config,
                # the subgraph's node names are prefixed by the lower-cased subgraph type once expanded
                calculator_params={"posedetectioncpu__TensorsToDetectionsCalculator.min_score_thresh": min_score},
            )
            self._graph.process({"image": np.zeros((64, 64, 3), np.uint8)})  # opens the model while silenced
        self._closed = False

    def detect_once(self, rgb: np.ndarray) -> list[PersonBox]:
        """One pass of the network over ``rgb`` (uint8[H, W, 3]): the people it scores above ``min_score``."""
        result = self._graph.process({"image": np.ascontiguousarray(rgb)})
        h, w = rgb.shape[:2]
        out = []
        for det in result.detections or []:
            kp = det.location_data.relative_keypoints
            if len(kp) < 2:
                continue
            cx, cy = kp[0].x * w, kp[0].y * h  # hip centre
            # keypoint 1 lies on the circle around the whole body (MediaPipe aligns its ROI with it)
            radius = math.hypot(kp[1].x * w - cx, kp[1].y * h - cy)
            out.append(PersonBox(float(cx), float(cy), float(2.0 * radius), float(det.score[0])))
        return out

    def __call__(self, rgb: np.ndarray) -> list[PersonBox]:
        """People in ``rgb`` (uint8[H, W, 3]), tallest first.

        The network was trained for one person per picture: next to a prominent person it scores the others
        low (a dancer at 0.75x the size of another scored 0.3-0.6 beside them, 0.95 alone). So it runs again
        with the people already found painted over (`ERASE_HALF_WIDTH` x `ERASE_HALF_HEIGHT` heights around
        each hip centre, in the picture's mean colour) until a pass finds nobody new, at most ``max_people``
        people. A find whose hip centre lies in a painted area is a remnant of someone found already.
        """
        img = np.array(rgb, np.uint8, copy=True)
        fill = img.reshape(-1, 3).mean(axis=0).astype(np.uint8)
        h, w = img.shape[:2]
        found: list[PersonBox] = []
        painted: list[tuple[int, int, int, int]] = []
        while len(found) < self.max_people:
            new = [
                b
                for b in self.detect_once(img)
                if not any(x0 <= b.cx < x1 and y0 <= b.cy < y1 for x0, y0, x1, y1 in painted)
            ]
            if not new:
                break
            for b in sorted(new, key=lambda b: -b.score)[: self.max_people - len(found)]:
                found.append(b)
                x0, x1 = int(b.cx - ERASE_HALF_WIDTH * b.height), int(b.cx + ERASE_HALF_WIDTH * b.height) + 1
                y0, y1 = int(b.cy - ERASE_HALF_HEIGHT * b.height), int(b.cy + ERASE_HALF_HEIGHT * b.height) + 1
                painted.append((x0, y0, x1, y1))
                img[max(0, y0) : max(0, min(h, y1)), max(0, x0) : max(0, min(w, x1))] = fill
        return sorted(found, key=lambda b: -b.height)

    def in_tiles(self, rgb: np.ndarray, side: int) -> list[PersonBox]:
        """People in ``rgb`` searched in square tiles of ``side`` pixels, half a tile apart (the last ones flush
        with the far edges), in its pixels, tallest first; one person seen in overlapping tiles counts once."""
        h, w = rgb.shape[:2]
        side = max(16, min(int(side), h, w))

        def starts(n: int) -> list[int]:
            return sorted({*range(0, n - side + 1, max(1, side // 2)), n - side})

        found: list[PersonBox] = []
        for y in starts(h):
            for x in starts(w):
                for b in self(rgb[y : y + side, x : x + side]):
                    found.append(PersonBox(b.cx + x, b.cy + y, b.height, b.score))
        kept: list[PersonBox] = []
        for b in sorted(found, key=lambda b: -b.score):
            if all(b.iou(k) < MATCH_IOU for k in kept):
                kept.append(b)
        return sorted(kept, key=lambda b: -b.height)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._graph.close()

    def __enter__(self) -> PersonDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def detect_people(rgb: np.ndarray) -> list[PersonBox]:
    """Every person in one image (uint8[H, W, 3]), tallest first, in its pixels."""
    with PersonDetector() as det:
        return det(rgb)


@dataclass
class PersonTrack:
    """One person over time: boxes (full-frame pixels) at increasing times (seconds)."""

    times: list[float] = field(default_factory=list)
    boxes: list[PersonBox] = field(default_factory=list)

    def add(self, t: float, box: PersonBox) -> None:
        """Insert a box at time ``t``, keeping times sorted."""
        k = int(np.searchsorted(self.times, t))
        self.times.insert(k, float(t))
        self.boxes.insert(k, box)

    def at(self, t: float) -> PersonBox:
        """The box at ``t``: linear in time between known boxes, held before the first and after the last."""
        ts = np.asarray(self.times)
        return PersonBox(
            float(np.interp(t, ts, [b.cx for b in self.boxes])),
            float(np.interp(t, ts, [b.cy for b in self.boxes])),
            float(np.interp(t, ts, [b.height for b in self.boxes])),
            float(np.interp(t, ts, [b.score for b in self.boxes])),
        )

    def last_before(self, t: float) -> float | None:
        """Time of the latest box at or before ``t`` (None when there is none)."""
        k = int(np.searchsorted(self.times, t, side="right"))
        return self.times[k - 1] if k > 0 else None

    def mean_box(self) -> PersonBox:
        return PersonBox(
            float(np.mean([b.cx for b in self.boxes])),
            float(np.mean([b.cy for b in self.boxes])),
            float(np.mean([b.height for b in self.boxes])),
            float(np.mean([b.score for b in self.boxes])),
        )


def link_tracks(
    times: Sequence[float], detections: Sequence[Sequence[PersonBox]], *, min_iou: float = MATCH_IOU
) -> list[PersonTrack]:
    """Link per-frame detections into tracks: greedy, highest ROI overlap with a track's last box first.

    times: float[N] sampled instants; detections: for each, the people found there.
    A track left unmatched in a frame stays open (the person may be hidden for a while).
    """
    tracks: list[PersonTrack] = []
    for t, dets in zip(times, detections, strict=True):
        pairs = sorted(
            ((tr.boxes[-1].iou(d), k, i) for k, tr in enumerate(tracks) for i, d in enumerate(dets)), reverse=True
        )
        used_t: set[int] = set()
        used_d: set[int] = set()
        for iou, k, i in pairs:
            if iou < min_iou or k in used_t or i in used_d:
                continue
            used_t.add(k)
            used_d.add(i)
            tracks[k].add(t, dets[i])
        for i, d in enumerate(dets):
            if i not in used_d:
                tracks.append(PersonTrack([float(t)], [d]))
    return tracks


def _position_word(x: float, width: float) -> str:
    """Where ``x`` lies across a frame ``width`` wide, in fifths."""
    words = ("left", "centre-left", "centre", "centre-right", "right")
    return words[min(4, max(0, int(5 * x / width)))] if width > 0 else "centre"


def choose_person(
    tracks: Sequence[PersonTrack], num_samples: int, width: float, height: float, *, tie_ratio: float = TIE_RATIO
) -> tuple[int, str]:
    """Index of the most prominent track, and how it was chosen (e.g. ``"tallest, centre-left"``).

    Prominence = summed height over the sampled frames / ``num_samples`` (absent frames count as 0), so a
    tall person seen throughout beats a taller one who only walks through. Tracks within ``tie_ratio`` of the
    best are a tie, broken by the distance of their mean centre to the frame centre.
    """
    if not tracks:
        raise ValueError("no tracks to choose from")
    prom = np.array([sum(b.height for b in tr.boxes) / max(1, num_samples) for tr in tracks])
    tied = np.flatnonzero(prom >= tie_ratio * prom.max())
    means = [tr.mean_box() for tr in tracks]

    def off_centre(k: int) -> float:
        return math.hypot(
            (means[k].cx - 0.5 * width) / max(width, 1.0), (means[k].cy - 0.5 * height) / max(height, 1.0)
        )

    best = int(min(tied, key=off_centre)) if len(tied) > 1 else int(np.argmax(prom))
    seen = [len(tr.boxes) for tr in tracks]
    if len(tied) > 1:
        how = "most central of the tallest"
    elif means[best].height >= max(m.height for m in means):
        how = "tallest"
    elif seen[best] >= max(seen):
        how = "seen most often"
    else:
        how = "tallest over the video"
    return best, f"{how}, {_position_word(means[best].cx, width)}"


class _Lanes(Protocol):
    """What `FollowedPose` drives: `features.extract.PoseLanes` (or a single `pose.PoseTracker`)."""

    def update(self, t: float, rgb: np.ndarray, scale: float, origin: tuple[float, float] = (0.0, 0.0)) -> Any: ...

    def close(self) -> None: ...

    def finish(self, *, duration: float, fps: float, meta: dict[str, Any], t0: float = 0.0) -> Motion: ...


@dataclass
class PeopleScan:
    """What `scan_people` found.

    times: the sampled instants (s); counts: people found at each.
    tracks: people linked over the samples (boxes in full-frame pixels); chosen: index of the followed one,
        None when fewer than two people were seen at once (then nothing is cropped).
    how: why ``chosen`` was chosen; width, height: the full-size frame (pixels).
    """

    times: list[float]
    counts: list[int]
    tracks: list[PersonTrack]
    chosen: int | None
    how: str
    width: int
    height: int
    small: bool = False  # found only in tiles: followed although alone, with live detection in a window

    @property
    def people(self) -> int:
        """Most people seen at once in a sampled frame. With three or more frames sampled, only the people seen
        in at least two of them count: a find in a single frame is most often not someone else but a remnant
        of a dancer whose spread limbs reach past the area painted over (`PersonDetector.__call__`), or a
        passer-by; it had made a solo breakdancer "2 people" and three dancers "4". Anyone seen: at least 1."""
        if len(self.times) < 3:
            return max(self.counts, default=0)
        lasting = [set(tr.times) for tr in self.tracks if len(tr.times) >= 2]
        most = max((sum(t in seen for seen in lasting) for t in self.times), default=0)
        return max(most, 1 if any(self.counts) else 0)

    @property
    def note(self) -> str | None:
        """The sentence for the user when several people were seen or the dancer is small, else None."""
        if self.chosen is None:
            return None
        if self.small:
            tall = 100 * self.tracks[self.chosen].mean_box().height / max(1, self.height)
            if self.people == 1:
                where = self.how.rsplit(", ", 1)[-1]
                return f"the dancer is small in the frame (about {tall:.0f}% of its height, {where}); following them"
            return f"{self.people} small people in the video; following the most prominent ({self.how})"
        if self.people < 2:  # others seen only in passing: one dancer, followed as when several are seen
            return None
        return f"{self.people} people in the video; following the most prominent ({self.how})"

    def meta(self) -> dict[str, Any]:
        """``people``, ``followed`` (None, or its mean box ``[x0, y0, x1, y1]`` in full-frame pixels, how it was
        chosen, in how many sampled frames it was seen) and ``people_note``; JSON-ready."""
        followed = None
        if self.chosen is not None:
            tr = self.tracks[self.chosen]
            m = tr.mean_box()
            x0, y0, x1, y1 = m.roi
            followed = {
                "box": [
                    round(max(0.0, x0), 1),
                    round(max(0.0, y0), 1),
                    round(min(self.width, x1), 1),
                    round(min(self.height, y1), 1),
                ],
                "height_px": round(m.height, 1),
                "how": self.how,
                "seen_in": f"{len(tr.boxes)}/{len(self.times)} sampled frames",
            }
        return {"people": self.people, "followed": followed, "people_note": self.note}

    def follow(self, lanes: _Lanes, *, detector: PersonDetector | None = None) -> _Lanes:
        """``lanes`` itself with fewer than two people (unless small); else a `FollowedPose` that crops around the
        chosen one."""
        if self.chosen is None:
            return lanes
        search = SMALL_SEARCH_HEIGHTS if self.small else None
        return FollowedPose(lanes, self.tracks[self.chosen], self.width, detector=detector, search_heights=search)


def scan_times(duration: float, *, interval: float = SCAN_INTERVAL_S, max_frames: int = SCAN_MAX_FRAMES) -> list[float]:
    """About one instant per ``interval`` seconds, at most ``max_frames``, centred in equal slices of the video."""
    n = max(1, min(max_frames, int(round(duration / interval)) if interval > 0 else max_frames))
    return [(k + 0.5) * duration / n for k in range(n)]


#: While decoding towards a sampled instant, non-reference frames (which no other frame needs) are skipped
#: until this many seconds before it: they can never be the frame taken, and skipping them saves their decode.
_SKIP_UNTIL_S = 0.15


def _rgb(frame: Any, stream: Any, max_side: int | None) -> np.ndarray:
    """A decoded frame as upright RGB scaled like `io.video.iter_frames` (uint8[H, W, 3])."""
    from ..io.video import _apply_rotation, _frame_rotation, _scaled_size

    w, h = _scaled_size(frame.width, frame.height, max_side)
    if (w, h) == (frame.width, frame.height):  # the same conversion iter_frames makes, so the same pixels
        rgb = frame.to_ndarray(format="rgb24", threads=1)
    else:
        rgb = frame.to_ndarray(format="rgb24", width=w, height=h, interpolation="AREA", threads=1)
    return _apply_rotation(rgb, _frame_rotation(frame, stream))


def _keyframes_near(
    path: Any, times: Sequence[float], tolerance: float, max_side: int | None
) -> tuple[list[tuple[float, np.ndarray]], list[float]]:
    """For each instant, the keyframe at or before it when one lies within ``tolerance`` s and was not taken
    already; those frames (time, rgb), and the instants left without one."""
    import av

    from ..io.video import _container_start, _open, _video_stream

    container = _open(path)
    try:
        vs = _video_stream(container)
        vs.codec_context.skip_frame = "NONKEY"  # the decoder drops every other frame unread
        origin = _container_start(container)
        taken: dict[float, tuple[float, np.ndarray]] = {}
        missing = []
        for target in times:
            container.seek(max(0, int((target + origin) / vs.time_base)), stream=vs, backward=True)
            frame = next(iter(container.decode(vs)), None)
            t = float(frame.time) - origin if frame is not None and frame.time is not None else math.inf
            if abs(t - target) > tolerance or round(t, 6) in taken:
                missing.append(target)
            else:
                taken[round(t, 6)] = (t, _rgb(frame, vs, max_side))
        return sorted(taken.values(), key=lambda x: x[0]), missing
    except av.FFmpegError:
        return [], list(times)  # a file that cannot seek: every instant is decoded the long way
    finally:
        container.close()


def _keyframe_times(container: Any, vs: Any, origin: float) -> list[float]:
    """Presentation times (s from the container start) of the stream's keyframes, from its packets alone."""
    tb = float(vs.time_base)
    keys = sorted(
        float(pkt.pts) * tb - origin
        for pkt in container.demux(vs)
        if pkt.size and pkt.is_keyframe and pkt.pts is not None
    )
    container.seek(0, stream=vs, backward=True)  # rewinding is cheap; every read below seeks first anyway
    return keys


def _decoded_near(path: Any, times: Sequence[float], max_side: int | None) -> list[tuple[float, np.ndarray]]:
    """For each instant (increasing), the first frame not taken yet within half a frame before it or after
    it: decoded from the keyframe before it, or on from the previous instant when no keyframe lies between
    (then nothing is decoded twice); non-reference frames well before an instant are not decoded at all."""
    import av

    from ..io.video import _container_start, _open, _video_stream, iter_frames

    todo = sorted(float(t) for t in times)
    out: list[tuple[float, np.ndarray]] = []
    if not todo:
        return out
    container = _open(path)
    try:
        vs = _video_stream(container)
        vs.thread_type = "AUTO"
        cc = vs.codec_context
        origin = _container_start(container)
        tb = float(vs.time_base)
        rate = vs.average_rate or vs.guessed_rate
        half = 0.5 / float(rate) if rate else 1.0 / 60.0
        keys = _keyframe_times(container, vs, origin)
        goal = [todo[0]]  # the instant being decoded towards (read by `decoded` as packets go in)

        def decoded() -> Any:
            """Frames from the current position on, skipping non-reference frames far before ``goal``."""
            for pkt in container.demux(vs):
                # A frame is never taken before goal - half: one that no other frame refers to can be
                # dropped unread there. The setting goes with each packet (decoder threads copy it on submit).
                early = pkt.size and pkt.pts is not None and float(pkt.pts) * tb - origin < goal[0] - _SKIP_UNTIL_S
                cc.skip_frame = "NONREF" if early else "DEFAULT"
                yield from vs.decode(pkt)

        decoder = None
        last_t = -math.inf
        done = 0
        while done < len(todo):
            target = goal[0] = todo[done]
            k = bisect.bisect_right(keys, target - half) - 1
            key = keys[k] if k >= 0 else -math.inf
            if decoder is None or key > last_t + half:  # a keyframe lies ahead: seeking skips everything before it
                container.seek(max(0, int((max(key, 0.0) + origin) / tb)), stream=vs, backward=True)
                decoder = decoded()
            frame = None
            for frame in decoder:
                last_t = float(frame.time) - origin if frame.time is not None else last_t + 2 * half
                if last_t >= target - half:
                    break
            else:
                break  # the stream ended before this instant
            out.append((last_t, _rgb(frame, vs, max_side)))
            done += 1
            while done < len(todo) and todo[done] <= last_t:
                done += 1  # several instants fell on this one frame (a very short video)
        return out
    except av.FFmpegError:
        if out:
            raise
    finally:
        container.close()
    pending = list(todo)  # a file that cannot seek: decode from the start, converting only these frames

    def keep(t: float) -> bool:
        if pending and t >= pending[0] - 1e-3:
            while pending and pending[0] <= t + 1e-3:
                pending.pop(0)
            return True
        return False

    return list(iter_frames(path, max_side=max_side, keep=keep))


def scan_frames(
    path: Any,
    duration: float,
    *,
    interval: float = SCAN_INTERVAL_S,
    max_frames: int = SCAN_MAX_FRAMES,
    max_side: int | None = POSE_MAX_SIDE,
) -> list[tuple[float, np.ndarray]]:
    """The frames the people scan looks at: ``[(frame_time, rgb)]``, about one per slice of the video.

    The video is cut into the equal slices whose centres are `scan_times`. A slice that holds a keyframe takes
    the one nearest its centre: it is as representative of the slice as the centre and costs one seek and
    one frame's decode. When keyframes serve at least `SCAN_MIN_KEYFRAMES` slices (every slice of a video
    with fewer), the slices without one are left out; otherwise the frames at the centres are decoded
    (`sample_frames`). Phone and camera videos carry a keyframe every second or two, so all their slices
    are served; a file re-encoded with ffmpeg's defaults carries one every 250 frames (8 s at 30 fps), and
    decoding a 30-s one towards twelve instants took 1.3 s against 0.1 s for its four keyframes.
    """
    times = scan_times(duration, interval=interval, max_frames=max_frames)
    width = duration / len(times)
    keys = _keyframe_list(path)
    served = []
    for k, centre in enumerate(times):
        inside = [t for t in keys if k * width <= t < (k + 1) * width]
        if inside:
            served.append(min(inside, key=lambda t: abs(t - centre)))
    if len(served) >= min(len(times), SCAN_MIN_KEYFRAMES):
        found, missing = _keyframes_near(path, served, 1e-3, max_side)
        if not missing:
            return found
    return sample_frames(path, times, max_side=max_side)


def _keyframe_list(path: Any) -> list[float]:
    """Presentation times (s from the container start) of the video's keyframes (a demux-only pass; [] for a
    file whose packets cannot be read so)."""
    import av

    from ..io.video import _container_start, _open, _video_stream

    container = _open(path)
    try:
        vs = _video_stream(container)
        return _keyframe_times(container, vs, _container_start(container))
    except av.FFmpegError:
        return []
    finally:
        container.close()


def sample_frames(
    path: Any,
    times: Sequence[float],
    *,
    max_side: int | None = POSE_MAX_SIDE,
    keyframe_tolerance: float = SCAN_INTERVAL_S,
) -> list[tuple[float, np.ndarray]]:
    """A frame near each of ``times`` (seconds): ``[(frame_time, rgb uint8[H, W, 3])]`` in time order.

    Frames are upright and scaled like `io.video.iter_frames` with the same ``max_side``. Keyframes are
    taken where one lies within ``keyframe_tolerance`` seconds before the instant: only they are decoded,
    which costs a few milliseconds each instead of decoding the video (phone and camera videos carry one
    every second or two). Instants without one are decoded exactly (seek, then decode forward). Two
    instants never share a frame.
    """
    times = sorted(float(t) for t in times)
    if not times:
        return []
    found, missing = (
        _keyframes_near(path, times, keyframe_tolerance, max_side) if keyframe_tolerance > 0 else ([], times)
    )
    taken = {round(t, 6) for t, _ in found}
    exact = [(t, rgb) for t, rgb in _decoded_near(path, missing, max_side) if round(t, 6) not in taken]
    return sorted(found + exact, key=lambda x: x[0])


def scan_people(
    path: Any,
    info: VideoInfo | None = None,
    *,
    interval: float = SCAN_INTERVAL_S,
    max_frames: int = SCAN_MAX_FRAMES,
    detector: PersonDetector | None = None,
) -> PeopleScan:
    """Detect people on sampled frames of the video at ``path`` and choose whom pose should follow.

    info: the video's `io.video.probe` result (probed when None). detector: reused when given (not closed).
    """
    from ..io.video import probe

    info = info if info is not None else probe(path)
    times, dets = [], []
    det = detector if detector is not None else PersonDetector()
    small = False
    try:
        frames = scan_frames(path, info.duration, interval=interval, max_frames=max_frames)
        for t, rgb in frames:
            s = info.width / rgb.shape[1]  # analysed pixels -> full-size pixels
            times.append(t)
            dets.append([b.scaled(s) for b in det(rgb)])
        for fraction in TILE_FRACTIONS if frames and not any(dets) else ():
            # nobody in whole frames: look closer, for a dancer far from the camera
            dets = [
                [b.scaled(info.width / rgb.shape[1]) for b in det.in_tiles(rgb, int(fraction * min(rgb.shape[:2])))]
                for _, rgb in frames
            ]
            if any(dets):
                small = True
                break
    finally:
        if detector is None:
            det.close()
    tracks = link_tracks(times, dets)
    counts = [len(d) for d in dets]
    chosen, how = None, ""
    if max(counts, default=0) >= 2 or (small and tracks):
        chosen, how = choose_person(tracks, len(times), info.width, info.height)
        if small and max(counts) == 1:
            how = "small in the frame, " + how.rsplit(", ", 1)[-1]
    return PeopleScan(times, counts, tracks, chosen, how, info.width, info.height, small)


class FollowedPose:
    """Pose that follows one person: each frame is cropped around that person before pose sees it.

    lanes: the pose runner (`features.extract.PoseLanes`); it receives the crop and its ``origin``, and maps
        keypoints back to full-frame pixels. track: the followed person (full-frame pixels); it is refreshed
        by a live detection on the analysed frame whenever its latest box is older than `LIVE_INTERVAL_S`
        (the detection overlapping the expected box most, if any overlaps by `MATCH_IOU`).
    width: full-size frame width (pixels), to relate the analysed frames' pixels to the track's.
    search_heights: for a dancer small in the frame, the live detection searches a square window this many
        of their heights wide around where they should be, not the whole frame (which the detector would see
        too small to find them in); None searches the whole frame.
    """

    def __init__(
        self,
        lanes: _Lanes,
        track: PersonTrack,
        width: int,
        *,
        detector: PersonDetector | None = None,
        live_interval: float | None = LIVE_INTERVAL_S,
        crop_heights: float = CROP_HEIGHTS,
        search_heights: float | None = None,
    ) -> None:
        self.lanes = lanes
        self.search_heights = search_heights
        self.track = PersonTrack(list(track.times), list(track.boxes))
        self.width = width
        self.live_interval = live_interval
        self.crop_heights = crop_heights
        self._own_detector = detector is None and live_interval is not None
        self._detector = PersonDetector() if self._own_detector else detector
        self.live_updates = 0  # live detections that refreshed the track
        self._checked_at = -math.inf

    def crop_box(self, t: float, frame_w: int, frame_h: int) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) in pixels of a ``frame_w`` x ``frame_h`` analysed frame at time ``t``."""
        s = frame_w / self.width
        b = self.track.at(t).scaled(s)
        half = 0.5 * max(MIN_CROP_SIDE, self.crop_heights * b.height)
        x0, y0 = max(0, int(math.floor(b.cx - half))), max(0, int(math.floor(b.cy - half)))
        x1, y1 = min(frame_w, int(math.ceil(b.cx + half))), min(frame_h, int(math.ceil(b.cy + half)))
        if x1 - x0 < 2 or y1 - y0 < 2:  # the box left the frame entirely: let pose see everything
            return 0, 0, frame_w, frame_h
        return x0, y0, x1, y1

    def _refresh(self, t: float, rgb: np.ndarray) -> None:
        """A live detection when the latest known box is `LIVE_INTERVAL_S` old (causal: only past frames)."""
        if self._detector is None or self.live_interval is None:
            return
        known = self.track.last_before(t)
        last = max(-math.inf if known is None else known, self._checked_at)
        if t - last < self.live_interval:
            return
        self._checked_at = t  # nobody may be there now: then the next check waits its turn too
        s = self.width / rgb.shape[1]
        expected = self.track.at(t)
        x0 = y0 = 0
        region = rgb
        if self.search_heights is not None:  # a small dancer: search a window around where they should be
            h, w = rgb.shape[:2]
            b = expected.scaled(1.0 / s)
            side = int(min(h, w, max(MIN_CROP_SIDE, self.search_heights * b.height)))
            x0 = int(min(max(0.0, b.cx - side / 2), w - side))
            y0 = int(min(max(0.0, b.cy - side / 2), h - side))
            region = rgb[y0 : y0 + side, x0 : x0 + side]
        found = [PersonBox(b.cx + x0, b.cy + y0, b.height, b.score).scaled(s) for b in self._detector(region)]
        best = max(found, key=expected.iou, default=None)
        if best is not None and expected.iou(best) >= MATCH_IOU:
            self.track.add(t, best)
            self.live_updates += 1

    def update(self, t: float, rgb: np.ndarray, scale: float, origin: tuple[float, float] = (0.0, 0.0)) -> None:
        """Crop frame ``rgb`` (uint8[H, W, 3]) at ``t`` s around the followed person and hand it to pose."""
        self._refresh(t, rgb)
        h, w = rgb.shape[:2]
        x0, y0, x1, y1 = self.crop_box(t, w, h)
        self.lanes.update(t, rgb[y0:y1, x0:x1], scale, (origin[0] + x0, origin[1] + y0))

    def close(self) -> None:
        try:
            self.lanes.close()
        finally:
            if self._own_detector and self._detector is not None:
                self._detector.close()

    def finish(self, *, duration: float, fps: float, meta: dict[str, Any], t0: float = 0.0) -> Motion:
        self.close()
        return self.lanes.finish(duration=duration, fps=fps, meta=meta, t0=t0)
