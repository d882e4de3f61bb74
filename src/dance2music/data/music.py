"""Music for the audio tokenizer: files -> mono 22.05 kHz -> random crops with gain augmentation.

Sources are folders (every wav/opus/ogg/flac/mp3 inside, recursively), single files, globs, or the 28
MIT-licensed tracks shipped by the ``immich-memories-music`` package (``immich:train`` / ``immich:eval``; a fixed
few are held out for evaluation). Each item is a pure function of (seed, epoch, index), so a resumed run sees
exactly the crops an uninterrupted one would (see `dance2music.training.trainer`).
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..constants import SAMPLE_RATE
from ..errors import ConfigError, InputError

AUDIO_EXTENSIONS = (".wav", ".opus", ".ogg", ".flac", ".mp3")

#: Every 7th bundled track (sorted by name, starting at the 4th) is held out: 4 of 28, across moods and styles.
_IMMICH_EVAL_EVERY, _IMMICH_EVAL_OFFSET = 7, 3


def load_audio(path: str | os.PathLike, sr: int = SAMPLE_RATE, normalize: bool = True) -> np.ndarray:
    """Decode a music file to float32[T] mono at ``sr``; ``normalize`` scales its peak to 0.95 (D2M-GAN's
    ``0.95 * librosa.util.normalize``)."""
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such audio file: {path}")
    try:
        y, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
        y = y.mean(axis=1)
    except Exception:
        import librosa

        try:  # formats libsndfile lacks (mp3 on old builds ...): librosa's fallback decoders
            y, file_sr = librosa.load(str(path), sr=None, mono=True)
        except Exception as e:
            raise InputError(f"cannot decode {path} as audio ({type(e).__name__})") from e
    if file_sr != sr:
        import librosa

        y = librosa.resample(y, orig_sr=file_sr, target_sr=sr, res_type="soxr_hq")
    y = np.ascontiguousarray(y, dtype=np.float32)
    if normalize:
        peak = float(np.abs(y).max()) if y.size else 0.0
        if peak > 0:
            y *= 0.95 / peak
    return y


def immich_tracks(split: str = "all") -> list[Path]:
    """The tracks bundled by ``immich-memories-music`` (``all``, ``train`` or ``eval``), sorted by name."""
    try:
        from immich_memories_music import tracks_dir
    except ImportError as e:
        raise ConfigError("the immich-memories-music package is not installed (pip install '.[data]')") from e
    files = sorted(Path(tracks_dir()).rglob("*.opus"), key=lambda p: p.name)
    held = {i for i in range(len(files)) if i % _IMMICH_EVAL_EVERY == _IMMICH_EVAL_OFFSET}
    if split == "all":
        return files
    if split == "eval":
        return [f for i, f in enumerate(files) if i in held]
    if split == "train":
        return [f for i, f in enumerate(files) if i not in held]
    raise ConfigError(f"unknown immich split {split!r} (all, train, eval)")


def aist_split_music(root: str | os.PathLike, split: str) -> list[Path]:
    """Music files of the sequences in ``ROOT/splits/crossmodal_<split>.txt`` of an AIST++-layout dataset
    (the music id is the fifth ``_`` token of a sequence name; files in ``music/`` or ``all_musics/``)."""
    root = Path(root)
    lst = root / "splits" / f"crossmodal_{split}.txt"
    if not lst.is_file():
        raise ConfigError(f"no split list {lst}")
    ids = sorted({line.split("_")[4] for line in lst.read_text().split() if line.count("_") >= 5})
    out = []
    for music_id in ids:
        for folder in ("music", "all_musics"):
            hits = [p for p in (root / folder).glob(f"{music_id}.*") if p.suffix.lower() in AUDIO_EXTENSIONS]
            if hits:
                out.append(hits[0])
                break
    return out


def resolve_sources(sources: list[str]) -> list[Path]:
    """Expand sources to a sorted, de-duplicated list of files. A source is a folder, a file, a glob,
    ``immich:<all|train|eval>``, or ``aist:<ROOT>:<train|val|test>`` (the music of one split of an
    AIST++-layout dataset such as the synthetic set, so that held-out music stays held out).

    A folder that does not exist (yet) contributes nothing; a source that matches nothing at all is fine as
    long as some other source does.
    """
    files: list[Path] = []
    for src in sources:
        if src.startswith("immich:"):
            files += immich_tracks(src.split(":", 1)[1])
            continue
        if src.startswith("aist:"):
            root, _, split = src[len("aist:") :].rpartition(":")
            if Path(root).is_dir():  # a dataset not generated (yet) contributes nothing
                files += aist_split_music(root, split)
            continue
        p = Path(src).expanduser()
        if p.is_dir():
            files += [f for f in p.rglob("*") if f.suffix.lower() in AUDIO_EXTENSIONS]
        elif p.is_file():
            files.append(p)
        else:
            files += [Path(f) for f in glob.glob(src, recursive=True) if Path(f).suffix.lower() in AUDIO_EXTENSIONS]
    out = sorted(set(files), key=str)
    if not out:
        raise ConfigError(f"no music files found in {', '.join(sources) or '(no sources)'}")
    return out


@dataclass
class MusicDataConfig:
    """Where the music comes from and how it is cut."""

    sources: list[str] = field(default_factory=lambda: ["immich:train", "aist:data/synth:train"])
    eval_sources: list[str] = field(default_factory=lambda: ["immich:eval"])
    segment_seconds: float = 1.0  # length of a training crop
    gain_min: float = 0.3  # random gain U(gain_min, gain_max) per crop (D2M-GAN uses 0.3 .. 1.0)
    gain_max: float = 1.0
    sample_rate: int = SAMPLE_RATE

    def train_crops(self, seed: int) -> MusicCrops:
        """The training set these settings describe: `MusicCrops` of ``sources`` (crops depend on ``seed``)."""
        return MusicCrops(
            resolve_sources(self.sources),
            segment=int(round(self.segment_seconds * self.sample_rate)),
            seed=seed,
            gain=(self.gain_min, self.gain_max),
            sample_rate=self.sample_rate,
        )


class MusicCrops(Dataset):
    """Random crops of a set of music files, held in memory as mono float32 at ``sample_rate``.

    ``len()`` is the total duration divided by the crop length (one epoch sees about every second once).
    Item ``i`` of epoch ``e`` picks a file with probability proportional to its length and a uniform offset,
    both drawn from ``default_rng([seed, e, i])``; files shorter than a crop are zero-padded.
    Returns Tensor[1 x segment] in [-1, 1].
    """

    def __init__(
        self,
        files: list[Path],
        *,
        segment: int,
        seed: int = 0,
        gain: tuple[float, float] = (0.3, 1.0),
        sample_rate: int = SAMPLE_RATE,
    ) -> None:
        if not files:
            raise ConfigError("no music files to train on")
        self.files = list(files)
        self.audio = [load_audio(f, sample_rate) for f in self.files]
        self.segment, self.seed, self.gain, self.epoch = int(segment), int(seed), gain, 0
        lengths = np.array([max(len(a), 1) for a in self.audio], dtype=np.float64)
        self.prob = lengths / lengths.sum()
        self._len = max(1, int(lengths.sum() // self.segment))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, index: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        a = self.audio[int(rng.choice(len(self.audio), p=self.prob))]
        start = int(rng.integers(0, max(1, len(a) - self.segment + 1)))
        crop = a[start : start + self.segment]
        if len(crop) < self.segment:
            crop = np.pad(crop, (0, self.segment - len(crop)))
        g = float(rng.uniform(*self.gain)) if self.gain[1] > self.gain[0] else float(self.gain[0])
        return torch.from_numpy(crop * g).float().unsqueeze(0)


def eval_segments(
    files: list[Path], *, seconds: float, count: int, sample_rate: int = SAMPLE_RATE
) -> torch.Tensor:
    """``count`` fixed crops per file, evenly spaced (no randomness): Tensor[N x 1 x seconds*sr]."""
    seg = int(round(seconds * sample_rate))
    out = []
    for f in files:
        a = load_audio(f, sample_rate)
        if len(a) < seg:
            a = np.pad(a, (0, seg - len(a)))
        starts = np.linspace(0, len(a) - seg, num=count + 2)[1:-1].astype(int) if count else []
        out += [a[s : s + seg] for s in starts]
    return torch.from_numpy(np.stack(out)).float().unsqueeze(1)
