"""A torch `Dataset` of aligned training clips cut from the feature cache (`data.cache`)."""

from __future__ import annotations

import os

import numpy as np
import torch
from torch.utils.data import Dataset

from ..arrays import fit_length
from ..constants import CLIP_SECONDS
from ..errors import ConfigError, InputError
from .cache import FeatureCache
from .clips import clip_starts


def select_entries(cache: FeatureCache, seconds: float, visual: bool | str) -> tuple[list[dict], bool]:
    """The cache's sequences at least ``seconds`` long, and whether their visual features are used.

    visual: ``"auto"`` (when every selected sequence has them), True (required) or False.
    """
    entries = [e for e in cache.entries if e["duration"] + 1e-6 >= seconds]
    if not entries:
        where = f" (split {cache.split})" if cache.split else ""
        raise InputError(f"no sequence in the cache {cache.root}{where} is {seconds:g} s long or more")
    has_visual = all(e.get("visual_dim") for e in entries)
    if visual is True and not has_visual:
        raise InputError(f"the cache {cache.root} lacks visual features for some sequences")
    return entries, bool(has_visual if visual == "auto" else visual)


def frames_at(x: np.ndarray, t0: float, fps: float, n: int) -> np.ndarray:
    """``n`` rows of the ``fps``-rate array ``x`` from the frame nearest ``t0`` s, float32; a rounding shortfall
    at the very end holds the last frame."""
    i0 = int(round(t0 * fps))
    out = x[i0 : i0 + n]
    if len(out) < n:
        out = np.concatenate([out, np.repeat(x[-1:], n - len(out), axis=0)])
    return np.ascontiguousarray(out, dtype=np.float32)


class SequenceClips(Dataset):
    """What the clip datasets of a cache share: ``_items`` (sequence index, start) per item, the ``epoch`` that
    seeds random crops with ``seed`` and the index, and ``audio_samples`` of a clip's music."""

    cache: FeatureCache
    audio_samples: int
    _items: list[tuple[int, int]]

    def set_epoch(self, epoch: int) -> None:
        """Choose the random crops of epoch ``epoch`` (they depend only on seed, epoch and index)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self._items)

    def _music(self, name: str, start: int) -> np.ndarray:
        """``audio_samples`` of sequence ``name``'s music from sample ``start``; float rounding can leave the very
        end of a sequence short, filled with zeros."""
        return fit_length(self.cache.read_audio(name, start, self.audio_samples), self.audio_samples)


class CachedClipDataset(SequenceClips):
    """Clips of ``seconds`` from a prepared cache, as tensors.

    Each sequence at least ``seconds`` long gives as many items as clips fit in it every ``hop`` seconds
    (default back to back). With ``random_crop=False`` item ``k`` of a sequence is the clip at ``k * hop``
    (evaluation). With ``random_crop=True`` each item's start is drawn uniformly over its whole sequence
    from a generator seeded by ``(seed, epoch, index)``, so crops are reproducible and a resumed run sees
    the same data; call `set_epoch` at each epoch. Starts fall on the motion frame grid, so the streams of
    a clip begin at the same instant.

    visual: ``"auto"`` (visual features when every selected sequence has them), True (required) or False.
    gain: ``(low, high)``: multiply the music by a random gain in that range (the official code uses
        (0.3, 1.0) in training), drawn from the same generator; None keeps it as stored.

    An item is a dict:
        motion: float32[T_m, 53] -- `Motion.features()`, T_m = round(seconds * motion_fps)
        visual: float32[T_v, D] -- at visual_fps, T_v = round(seconds * visual_fps) (when visual is on)
        audio: float32[1, N] -- N = round(seconds * sr)
        genre: int64 -- index into constants.GENRES, -1 when unknown
        index: int64; start: float32 -- the item's index and its start in seconds in its sequence
    """

    def __init__(
        self,
        cache: str | os.PathLike | FeatureCache,
        seconds: float = CLIP_SECONDS,
        *,
        split: str | None = "train",
        random_crop: bool = True,
        hop: float | None = None,
        seed: int = 0,
        visual: bool | str = "auto",
        gain: tuple[float, float] | None = None,
    ) -> None:
        self.cache = cache if isinstance(cache, FeatureCache) else FeatureCache(cache, split)
        if isinstance(cache, FeatureCache) and split is not None:
            self.cache = FeatureCache(cache.root, split)
        self.seconds, self.random_crop, self.seed, self.epoch = float(seconds), random_crop, int(seed), 0
        if gain is not None and not (0 < gain[0] <= gain[1]):
            raise ConfigError(f"gain must be (low, high) with 0 < low <= high, got {gain}")
        self.gain = gain
        entries, self.use_visual = select_entries(self.cache, self.seconds, visual)
        self.entries = entries
        self._motion: list[np.ndarray] = []
        self._visual: list[np.ndarray | None] = []
        self._last: list[int] = []  # latest start frame of a whole clip, per sequence
        self._items: list[tuple[int, int]] = []  # (entry index, start motion frame on the grid)
        for i, e in enumerate(entries):
            motion, vis, _ = self.cache.load_arrays(e["name"])
            self._motion.append(motion.features())
            self._visual.append(vis.features if (self.use_visual and vis is not None) else None)
            starts = clip_starts(e["duration"], self.seconds, hop)
            self._items.extend((i, start) for start in starts)
            self._last.append(clip_starts(e["duration"], self.seconds, 1.0 / float(e["motion_fps"]))[-1])
        self.motion_fps = float(entries[0]["motion_fps"])
        self.visual_fps = float(entries[0]["visual_fps"]) if self.use_visual else None
        self.sr = int(entries[0]["sr"])
        if any(float(e["motion_fps"]) != self.motion_fps or int(e["sr"]) != self.sr for e in entries):
            raise InputError(f"the cache {self.cache.root} mixes motion rates or sample rates")
        self.motion_frames = int(round(self.seconds * self.motion_fps))
        self.audio_samples = int(round(self.seconds * self.sr))
        self.visual_frames = int(round(self.seconds * self.visual_fps)) if self.use_visual else 0

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        i, grid_start = self._items[index]
        e = self.entries[i]
        feats = self._motion[i]
        rng = np.random.default_rng([self.seed, self.epoch, index]) if (self.random_crop or self.gain) else None
        start = grid_start
        if self.random_crop:
            start = int(rng.integers(0, self._last[i] + 1))
        t0 = start / self.motion_fps
        motion = feats[start : start + self.motion_frames]
        a0 = int(round(t0 * self.sr))
        audio = self._music(e["name"], a0)
        if self.gain is not None:
            audio = audio * np.float32(rng.uniform(*self.gain))
        item = {
            "motion": torch.from_numpy(np.ascontiguousarray(motion, dtype=np.float32)),
            "audio": torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))[None],
            "genre": torch.tensor(-1 if e.get("genre") is None else int(e["genre"]), dtype=torch.int64),
            "index": torch.tensor(index, dtype=torch.int64),
            "start": torch.tensor(t0, dtype=torch.float32),
        }
        if self.use_visual:
            item["visual"] = torch.from_numpy(frames_at(self._visual[i], t0, self.visual_fps, self.visual_frames))
        return item
