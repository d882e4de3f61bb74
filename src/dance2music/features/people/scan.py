"""The people scan: detect everyone on a few sampled frames, link them over time, choose whom pose follows.

`scan_people` looks at about one frame per second, at most `SCAN_MAX_FRAMES` (keyframes where they cover the
video, `scan_frames`, so the scan decodes a handful of frames, not the video), and reports `PeopleScan`:
``people`` (most people seen in one sampled frame), ``followed`` (the chosen box and why) and ``people_note``
(the sentence ``d2m generate`` prints). With one person of ordinary size nothing is cropped: pose runs
exactly as without the scan. When no sampled frame shows anyone, the scan searches tiles of the frames
(`TILE_FRACTIONS`): a dancer found only there is small in the frame (far from the camera) and is followed
although alone, since MediaPipe's pose, which starts from the same detector, would not see them either.
What the scan costs is in docs/people.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...io.frames import decoded_near, keyframe_times, keyframes_near
from ...io.video import VideoInfo, probe
from ..pose import POSE_MAX_SIDE
from .detect import PersonDetector
from .follow import SMALL_SEARCH_HEIGHTS, FollowedPose, Lanes
from .track import PersonTrack, choose_person, link_tracks

#: Sampled frames per second of video for the scan, and their most (a long video is sampled more sparsely).
SCAN_INTERVAL_S = 1.0
SCAN_MAX_FRAMES = 12

#: The scan samples keyframes alone (a few milliseconds each) when they fall in at least this many of its
#: slices of the video; with fewer it decodes towards the slices' centres (`scan_frames`).
SCAN_MIN_KEYFRAMES = 4

#: A dancer whom a whole-frame pass misses (smaller than about a third of the frame's height: the detector
#: sees a 224-px letterbox of the frame) is searched for in square tiles, half a tile apart, of these
#: fractions of the frame's shorter side (the next only when the previous finds nobody), and then followed.
TILE_FRACTIONS = (1.0, 0.5)


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

    def follow(self, lanes: Lanes, *, detector: PersonDetector | None = None) -> Lanes:
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
    are served; a file re-encoded with ffmpeg's defaults carries one every 250 frames (8 s at 30 fps), whose
    keyframes serve too few slices (the cost of each way is in docs/people.md).
    """
    times = scan_times(duration, interval=interval, max_frames=max_frames)
    width = duration / len(times)
    keys = keyframe_times(path)
    served = []
    for k, centre in enumerate(times):
        inside = [t for t in keys if k * width <= t < (k + 1) * width]
        if inside:
            served.append(min(inside, key=lambda t: abs(t - centre)))
    if len(served) >= min(len(times), SCAN_MIN_KEYFRAMES):
        found, missing = keyframes_near(path, served, 1e-3, max_side)
        if not missing:
            return found
    return sample_frames(path, times, max_side=max_side)


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
        keyframes_near(path, times, keyframe_tolerance, max_side) if keyframe_tolerance > 0 else ([], times)
    )
    taken = {round(t, 6) for t, _ in found}
    exact = [(t, rgb) for t, rgb in decoded_near(path, missing, max_side) if round(t, 6) not in taken]
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
