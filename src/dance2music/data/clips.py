"""Whole dance sequences and the aligned clips cut from them.

Every dataset reader (`data.aist`, `data.tiktok`, `data.videos`) is a `SequenceSource`: it lists sequence
names and loads one whole `Sequence` (motion at `MOTION_FPS`, visual at `VISUAL_FPS`, music at
`SAMPLE_RATE`, on one timeline starting at 0 s). `cut_clips` turns a sequence into `types.Clip`s of any
length. The feature cache stores whole sequences for the same reason: any clip length can be cut later.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..constants import CLIP_SECONDS, MOTION_FPS, SAMPLE_RATE, VISUAL_FPS
from ..errors import ConfigError
from ..features.pose import POSE_MAX_SIDE
from ..features.visual import visual_features
from ..io.video import iter_frames, probe
from ..types import Clip, Motion, Visual

#: Meta keys holding times in seconds on the sequence's timeline (shifted to the clip's start when cut).
TIME_KEYS = ("beats", "downbeats", "dance_beats")


@dataclass
class Sequence:
    """One whole dance with its music, every stream starting at time 0.

    motion: `Motion` at `MOTION_FPS`.
    audio: float32[N] mono music at ``sr`` (None when unknown).
    visual: `Visual` at `VISUAL_FPS` (None without video or cached features).
    genre: index into `constants.GENRES`, or None. split: ``"train"``, ``"val"``, ``"test"`` or None.
    meta: provenance and labels: ``beats``/``downbeats`` (seconds), ``tempo`` (BPM), ``smpl219``
        (float32[N, 219] at ``smpl219_fps``) ...
    """

    name: str
    motion: Motion
    audio: np.ndarray | None
    sr: int = SAMPLE_RATE
    visual: Visual | None = None
    genre: int | None = None
    split: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        """Seconds covered by every stream present (motion, audio and visual)."""
        d = self.motion.duration
        if self.audio is not None:
            d = min(d, len(self.audio) / self.sr)
        if self.visual is not None:
            d = min(d, self.visual.duration)
        return d


def clip_starts(duration: float, seconds: float, hop: float | None = None) -> list[int]:
    """Start frames (on the `MOTION_FPS` grid) of the whole clips of ``seconds`` that fit in ``duration``.

    Clips start every ``hop`` seconds (default ``seconds``: back to back), rounded to motion frames so that
    motion, visual and audio of a clip start at the same instant.
    """
    if not seconds > 0:
        raise ConfigError(f"clip length must be positive, got {seconds}")
    hop = seconds if hop is None else hop
    if not hop > 0:
        raise ConfigError(f"hop must be positive, got {hop}")
    step = max(1, int(round(hop * MOTION_FPS)))
    n_m = int(round(seconds * MOTION_FPS))
    last = int(np.floor(duration * MOTION_FPS + 1e-6)) - n_m
    return list(range(0, last + 1, step)) if last >= 0 else []


def _window(n_total: int, start: float, rate: float, seconds: float) -> tuple[int, int] | None:
    i0 = int(round(start * rate))
    n = int(round(seconds * rate))
    return (i0, i0 + n) if i0 + n <= n_total else None


def cut_clip(seq: Sequence, start: float, seconds: float, name: str) -> Clip | None:
    """The clip of ``seconds`` at ``start`` seconds, or None if a stream does not cover it.

    Lengths are exact: ``round(seconds * MOTION_FPS)`` motion frames, ``round(seconds * VISUAL_FPS)``
    visual frames, ``round(seconds * sr)`` audio samples.
    """
    m = _window(seq.motion.num_frames, start, seq.motion.fps, seconds)
    if m is None:
        return None
    i0, i1 = m
    mo = seq.motion
    motion = Motion(mo.keypoints[i0:i1], mo.fps, mo.valid[i0:i1], mo.root[i0:i1], dict(mo.meta))
    audio = None
    if seq.audio is not None:
        a = _window(len(seq.audio), start, seq.sr, seconds)
        if a is None:
            return None
        audio = np.asarray(seq.audio[a[0] : a[1]], dtype=np.float32)
    visual = None
    if seq.visual is not None:
        v = _window(seq.visual.num_frames, start, seq.visual.fps, seconds)
        if v is None:
            return None
        visual = Visual(seq.visual.features[v[0] : v[1]], seq.visual.fps, seq.visual.kind)
    meta: dict[str, Any] = {"sequence": seq.name, "start": start, "seconds": seconds, "split": seq.split}
    for key, value in seq.meta.items():
        if key in TIME_KEYS and value is not None:
            t = np.asarray(value, dtype=np.float64) - start
            meta[key] = [float(x) for x in t[(t >= 0) & (t < seconds)]]
        elif key == "smpl219" and value is not None:
            fps = float(seq.meta.get("smpl219_fps", 60.0))
            w = _window(len(value), start, fps, seconds)
            meta[key] = None if w is None else np.asarray(value[w[0] : w[1]])
        else:
            meta[key] = value
    return Clip(name, motion, visual, audio, seq.sr, seq.genre, meta)


def cut_clips(seq: Sequence, seconds: float = CLIP_SECONDS, hop: float | None = None) -> list[Clip]:
    """All whole clips of ``seconds`` in ``seq``, every ``hop`` seconds, named ``<seq>_seg<k>`` (k from 0).

    Clip ``k`` starts at ``k * hop`` (rounded to the motion frame grid); a tail shorter than ``seconds``
    is dropped. Beats in ``meta`` are shifted to the clip's start and kept only if inside the clip.
    """
    clips = []
    for k, i0 in enumerate(clip_starts(seq.duration, seconds, hop)):
        clip = cut_clip(seq, i0 / seq.motion.fps, seconds, f"{seq.name}_seg{k}")
        if clip is not None:
            clips.append(clip)
    return clips


def as_motion_fps(motion: Motion) -> Motion:
    """``motion`` resampled to `MOTION_FPS` (a no-op when already there)."""
    return motion.resample(MOTION_FPS)


def as_visual_fps(visual: Visual | None) -> Visual | None:
    return None if visual is None else visual.resample(VISUAL_FPS)


class SequenceSource(ABC):
    """A dataset reader: names of whole sequences, each loadable as a `Sequence`."""

    #: Dataset kind, as ``d2m data prepare KIND`` names it.
    kind: str = ""

    @abstractmethod
    def names(self) -> list[str]:
        """Sequence names in a stable order (split and ignore lists applied)."""

    @abstractmethod
    def load(self, name: str) -> Sequence:
        """One whole sequence; raises `D2MError` for missing or unreadable files."""

    def options(self) -> dict[str, Any]:
        """What the cache must record to know whether it was prepared the same way (JSON-serializable)."""
        return {}

    def __len__(self) -> int:
        return len(self.names())

    def __iter__(self) -> Iterator[Sequence]:
        for name in self.names():
            yield self.load(name)

    def clips(self, seconds: float = CLIP_SECONDS, hop: float | None = None) -> Iterator[Clip]:
        """Aligned `Clip`s of ``seconds`` from every sequence (see `cut_clips`)."""
        for seq in self:
            yield from cut_clips(seq, seconds, hop)


#: Audio file types the readers look for, in order of preference.
AUDIO_EXTS = (".wav", ".flac", ".ogg", ".mp3", ".opus")


def find_file(folders: list[Path], stem: str, exts: tuple[str, ...]) -> Path | None:
    """The first ``folder/stem.ext`` that exists, trying folders then extensions in order."""
    for folder in folders:
        for ext in exts:
            p = folder / f"{stem}{ext}"
            if p.is_file():
                return p
    return None


def video_visual(path: str | Path) -> Visual:
    """Visual features of a video exactly as `features.extract.extract_features` computes them (same decode
    size, same extractor), without its pose pass: for datasets whose motion comes from keypoint files."""

    info = probe(path)
    return visual_features(iter_frames(path, max_side=POSE_MAX_SIDE), duration=info.duration, fps=VISUAL_FPS)
