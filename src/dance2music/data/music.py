"""Music for the audio tokenizer: files -> mono 22.05 kHz -> random crops with gain augmentation.

Sources are folders (every wav/opus/ogg/flac/mp3 inside, recursively), single files, globs, or the 28
MIT-licensed tracks shipped by the ``immich-memories-music`` package (``immich:train`` / ``immich:eval``; a fixed
few are held out for evaluation). Each item is a pure function of (seed, epoch, index), so a resumed run sees
exactly the crops an uninterrupted one would (see `dance2music.training.trainer`).
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..arrays import fit_length
from ..constants import SAMPLE_RATE
from ..errors import ConfigError, InputError

AUDIO_EXTENSIONS = (".wav", ".opus", ".ogg", ".flac", ".mp3")
_EQ_MARGIN = 1024  # samples filtered on each side of a crop and dropped: the spectrum's circular wrap-around

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


def to_float(a: np.ndarray) -> np.ndarray:
    """int16 or float audio -> float32 in [-1, 1]."""
    if a.dtype == np.int16:
        return a.astype(np.float32) / 32767.0
    return a.astype(np.float32)


def eq_curve(freqs: np.ndarray, rng: np.random.Generator, *, shelf_db: float, tilt_db: float) -> np.ndarray:
    """One random EQ move as a linear gain per frequency: a low shelf (corner 80-400 Hz), a high shelf
    (2-8 kHz) or a tilt (0 dB at 1 kHz, linear in log-frequency), each with an equal chance."""
    octaves = np.log2(np.maximum(freqs, 20.0) / 1000.0)
    kind = int(rng.integers(0, 3))
    if kind == 2:
        db = rng.uniform(-tilt_db, tilt_db) * octaves / np.log2(11025.0 / 1000.0)
    else:
        lo, hi = (80.0, 400.0) if kind == 0 else (2000.0, 8000.0)
        corner = np.log2(np.exp(rng.uniform(np.log(lo), np.log(hi))) / 1000.0)
        step = 1.0 / (1.0 + np.exp(-2.0 * (octaves - corner)))  # 0 -> 1 over about two octaves
        db = rng.uniform(-shelf_db, shelf_db) * (1.0 - step if kind == 0 else step)
    return 10.0 ** (db / 20.0)


class AugmentedCrops(Dataset):
    """Random crops of ``tracks`` (mono arrays, int16 or float) with EQ and gain augmentation.

    Augmentation per crop, from the item's generator: one random EQ move with probability ``eq_prob``
    (`eq_curve`: a low shelf, a high shelf or a tilt of up to ``shelf_db`` / ``tilt_db``, as a smooth zero-phase
    gain on the crop's spectrum), then a gain U(``gain``).

    ``len()`` is the total duration divided by the crop length. Item ``i`` of epoch ``e`` picks a track with
    probability proportional to its length and a uniform offset, from ``default_rng([seed, e, i])``; tracks
    shorter than a crop are zero-padded. Returns Tensor[1 x segment] in [-1, 1].
    """

    def __init__(
        self,
        tracks: list[np.ndarray],
        *,
        segment: int,
        seed: int = 0,
        gain: tuple[float, float] = (0.3, 1.0),
        eq_prob: float = 0.0,
        shelf_db: float = 6.0,
        tilt_db: float = 6.0,
        sample_rate: int = SAMPLE_RATE,
    ) -> None:
        if not tracks:
            raise ConfigError("no music to train on")
        self.tracks = list(tracks)
        self.segment, self.seed, self.gain, self.epoch = int(segment), int(seed), gain, 0
        self.eq_prob, self.shelf_db, self.tilt_db, self.sample_rate = eq_prob, shelf_db, tilt_db, sample_rate
        lengths = np.array([max(len(a), 1) for a in self.tracks], dtype=np.float64)
        self.prob = lengths / lengths.sum()
        self._len = max(1, int(lengths.sum() // self.segment))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, index: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        a = self.tracks[int(rng.choice(len(self.tracks), p=self.prob))]
        start = int(rng.integers(0, max(1, len(a) - self.segment + 1)))
        eq = self.eq_prob > 0 and rng.random() < self.eq_prob
        m = _EQ_MARGIN if eq else 0
        lo, hi = max(0, start - m), min(len(a), start + self.segment + m)
        crop = to_float(a[lo:hi])
        if eq:
            n_fft = 1 << max(0, len(crop) - 1).bit_length()  # a power of two: numpy's FFT is slow on primes
            spec = np.fft.rfft(crop, n=n_fft)
            freqs = np.fft.rfftfreq(n_fft, 1.0 / self.sample_rate)
            spec *= eq_curve(freqs, rng, shelf_db=self.shelf_db, tilt_db=self.tilt_db)
            crop = np.fft.irfft(spec, n=n_fft)[: len(crop)].astype(np.float32)
            peak = float(np.abs(crop).max()) if crop.size else 0.0
            if peak > 0.99:  # a boost must not clip
                crop *= 0.99 / peak
        crop = fit_length(crop[start - lo :], self.segment)
        g = float(rng.uniform(*self.gain)) if self.gain[1] > self.gain[0] else float(self.gain[0])
        return torch.from_numpy(crop * g).float().unsqueeze(0)


class MusicCrops(AugmentedCrops):
    """Random crops of a set of music files, held in memory as mono float32 at ``sample_rate``, with gain
    augmentation (`AugmentedCrops` without EQ; ``files`` keeps their paths).
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
        tracks = [load_audio(f, sample_rate) for f in self.files]
        super().__init__(tracks, segment=segment, seed=seed, gain=gain, sample_rate=sample_rate)


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
