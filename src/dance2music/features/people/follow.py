"""Pose that follows one person: each analysed frame is cropped around them before pose sees it.

The crop is the followed person's box, interpolated in time between the known boxes and refreshed by a live
detection whenever the last one is more than `LIVE_INTERVAL_S` old, so MediaPipe cannot lock onto someone
else; keypoints are mapped back to full-frame pixels.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np

from ...types import Motion
from .detect import MATCH_IOU, PersonBox, PersonDetector
from .track import PersonTrack

#: While following, a live detection refreshes the followed box once the last known box is this old.
LIVE_INTERVAL_S = 1.0

#: Side of the window, in heights of the followed dancer, that a live detection searches when that dancer
#: is small in the frame (found in tiles): big enough for a second of movement, small enough to be seen.
SMALL_SEARCH_HEIGHTS = 3.0

#: Side of the crop handed to pose, in heights of the followed person: about a third of a height of room on
#: every side covers what a dancer moves between two known boxes (a second apart) without taking in much
#: of a neighbour.
CROP_HEIGHTS = 1.75

#: Smallest crop side (pixels of the analysed frame); MediaPipe's networks see 224-256 px inputs anyway.
MIN_CROP_SIDE = 64


class Lanes(Protocol):
    """What `FollowedPose` drives: `features.extract.PoseLanes` (or a single `pose.PoseTracker`)."""

    def update(self, t: float, rgb: np.ndarray, scale: float, origin: tuple[float, float] = (0.0, 0.0)) -> Any: ...

    def close(self) -> None: ...

    def finish(self, *, duration: float, fps: float, meta: dict[str, Any], t0: float = 0.0) -> Motion: ...


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
        lanes: Lanes,
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
