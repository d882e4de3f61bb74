"""Music for the synthesizer stage: crops with gain and EQ augmentation, from music files or from one bundle.

Two ways in:

* ``sources`` (as `data.music`: folders, files, ``immich:train``, ``aist:ROOT:train`` ...), decoded with
  `data.music.load_audio` (soundfile / librosa, imported only then);
* ``bundle``: a single ``.npy`` (int16 or float16, every track end to end) plus ``<stem>.json`` with the track
  boundaries, written by `write_bundle` (``scripts/bundle_audio.py``). Reading it needs numpy alone, so a
  machine without librosa, soundfile or the immich-memories-music package (the GPU box) trains from it.

Augmentation (per crop, drawn from ``default_rng([seed, epoch, index])`` so a resumed run sees the same
crops): one random EQ move with probability ``eq_prob`` (a low shelf, a high shelf or a spectral tilt of up to
``shelf_db`` / ``tilt_db``, applied as a smooth zero-phase gain curve on the crop's spectrum), then a random
gain U(low, high) (``gain``). The decoder learns to render every colour and level the encoder can be given.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..arrays import fit_length
from ..constants import SAMPLE_RATE
from ..data.music import AugmentedCrops, eval_segments, load_audio, resolve_sources, to_float
from ..errors import ConfigError
from .config import MusicData

_BUNDLE_FORMAT = "dance2music.audio_bundle"


@dataclass
class SynthDataConfig(MusicData):
    """Where the synthesizer's music comes from (`MusicData`, or bundles) and how it is augmented."""

    bundle: str | None = None  # a .npy written by scripts/bundle_audio.py: used instead of ``sources``
    eval_bundle: str | None = None  # the same for the held-out music, instead of ``eval_sources``
    eq_prob: float = 0.0  # probability of one random EQ move per crop (0: none, as the tokenizer was trained)
    shelf_db: float = 6.0  # low / high shelf gain U(-shelf_db, shelf_db)
    tilt_db: float = 6.0  # tilt: U(-tilt_db, tilt_db) at 11 kHz relative to 1 kHz, log-frequency linear


# -- bundles ----------------------------------------------------------------------------------------------------
def bundle_meta_path(path: str | os.PathLike) -> Path:
    """The JSON of track boundaries next to a bundle (same stem)."""
    return Path(path).with_suffix(".json")


def write_bundle(
    pieces: list[tuple[str, np.ndarray]], path: str | os.PathLike, *, sample_rate: int, dtype: str = "int16"
) -> Path:
    """Write ``pieces`` (name, float32[T] in [-1, 1]) end to end as ``path`` (.npy of ``dtype``) + its JSON."""
    if dtype not in ("int16", "float16"):
        raise ConfigError(f"bundle dtype must be int16 or float16, got {dtype!r}")
    if not pieces:
        raise ConfigError("no music to bundle")
    tracks, start = [], 0
    for name, a in pieces:
        tracks.append({"name": name, "start": start, "length": int(len(a))})
        start += len(a)
    audio = np.concatenate([np.asarray(a, dtype=np.float32) for _, a in pieces])
    audio = np.clip(audio, -1.0, 1.0)
    data = np.round(audio * 32767.0).astype(np.int16) if dtype == "int16" else audio.astype(np.float16)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, data)
    meta = {"format": _BUNDLE_FORMAT, "version": 1, "sample_rate": sample_rate, "dtype": dtype, "tracks": tracks}
    bundle_meta_path(path).write_text(json.dumps(meta, indent=1))
    return path


def load_bundle(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> list[np.ndarray]:
    """The tracks of a bundle as views into one array (int16 or float16; `to_float` converts a crop)."""
    path = Path(path)
    meta_path = bundle_meta_path(path)
    if not path.is_file() or not meta_path.is_file():
        raise ConfigError(f"no audio bundle {path} (+ {meta_path.name}): write it with scripts/bundle_audio.py")
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != _BUNDLE_FORMAT:
        raise ConfigError(f"{meta_path} is not an audio bundle description")
    if int(meta["sample_rate"]) != sample_rate:
        raise ConfigError(f"{path} holds {meta['sample_rate']} Hz audio, the model wants {sample_rate} Hz")
    data = np.load(path)
    return [data[t["start"] : t["start"] + t["length"]] for t in meta["tracks"]]


def excerpts(
    tracks: list[tuple[str, np.ndarray]], budget_seconds: float, *, sample_rate: int, piece_seconds: float = 6.0
) -> list[tuple[str, np.ndarray]]:
    """At most ``budget_seconds`` of ``tracks``, shared fairly (water-filling: a short track gives its unused
    share to the others), each track's share cut into pieces of up to ``piece_seconds`` spread evenly over it."""
    budget = int(budget_seconds * sample_rate)
    order = sorted(range(len(tracks)), key=lambda i: len(tracks[i][1]))
    share: dict[int, int] = {}
    left, n_left = budget, len(tracks)
    for i in order:
        share[i] = min(len(tracks[i][1]), left // max(1, n_left))
        left -= share[i]
        n_left -= 1
    piece = int(piece_seconds * sample_rate)
    out = []
    for i, (name, a) in enumerate(tracks):
        n = share[i]
        if n <= 0:
            continue
        k = max(1, int(np.ceil(n / piece)))
        size = n // k
        starts = np.linspace(0, len(a) - size, num=k + 2)[1:-1].astype(int) if k > 1 else [(len(a) - size) // 2]
        out += [(f"{name}@{s / sample_rate:.2f}", a[s : s + size]) for s in starts]
    return out


def train_crops(cfg: SynthDataConfig, seed: int) -> AugmentedCrops:
    """The training set ``cfg`` describes: from its bundle if it names one, else from its sources."""
    if cfg.bundle:
        tracks = load_bundle(cfg.bundle, cfg.sample_rate)
    else:
        tracks = [load_audio(f, cfg.sample_rate) for f in resolve_sources(cfg.sources)]
    return AugmentedCrops(
        tracks, segment=int(round(cfg.seconds * cfg.sample_rate)), seed=seed,
        gain=tuple(cfg.gain), eq_prob=cfg.eq_prob, shelf_db=cfg.shelf_db, tilt_db=cfg.tilt_db,
        sample_rate=cfg.sample_rate,
    )  # fmt: skip


def eval_audio(cfg: SynthDataConfig, *, seconds: float, count: int) -> torch.Tensor | None:
    """Held-out music, Tensor[N x 1 x seconds*sr]: every track of ``eval_bundle`` (cut or padded to
    ``seconds``), or ``count`` fixed crops per file of ``eval_sources``; None when there is none."""
    seg = int(round(seconds * cfg.sample_rate))
    if cfg.eval_bundle:
        clips = [to_float(fit_length(a, seg)) for a in load_bundle(cfg.eval_bundle, cfg.sample_rate)]
        return torch.from_numpy(np.stack(clips)).float().unsqueeze(1) if clips else None
    if count < 1 or not cfg.eval_sources:
        return None
    try:
        files = resolve_sources(cfg.eval_sources)
    except ConfigError:
        return None
    return eval_segments(files, seconds=seconds, count=count, sample_rate=cfg.sample_rate)


def describe(cfg: SynthDataConfig) -> dict[str, Any]:
    """Where the music came from, for the exported file's metadata."""
    return {"bundle": cfg.bundle} if cfg.bundle else {"sources": list(cfg.sources)}
