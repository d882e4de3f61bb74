"""People over time: detections on sampled frames linked into tracks, and the most prominent track chosen."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .detect import MATCH_IOU, PersonBox

#: Tracks whose prominence is within this ratio of the best count as a tie; the most central one wins.
TIE_RATIO = 0.9


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
