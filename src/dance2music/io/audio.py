"""Audio files in and out: load (any sample rate, any container) and save WAV atomically."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..constants import SAMPLE_RATE
from ..errors import InputError
from .files import atomic_output
from .resample import resample
from .video import read_audio, read_audio_rate


def load_audio(path: str | os.PathLike, sr: int | None = SAMPLE_RATE, mono: bool = True) -> np.ndarray:
    """Read an audio file, or the soundtrack of a video file, as float32 in [-1, 1].

    Returns float32[N] when ``mono`` (channels averaged) else float32[C, N], resampled to ``sr`` (None keeps
    the file's own rate; use `audio_info` to learn it). WAV/FLAC/OGG/MP3 go through soundfile; anything else
    (mp4, m4a, webm, mkv ...) through PyAV. Raises `InputError` for a missing, empty or unreadable file or one
    without audio.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"no such file: {p}")
    if p.is_dir():
        raise InputError(f"expected an audio file, got a directory: {p}")
    if p.stat().st_size == 0:
        raise InputError(f"{p.name} is empty (0 bytes)")
    import soundfile as sf

    try:
        data, file_sr = sf.read(str(p), dtype="float32", always_2d=True)  # [N, C]
        audio = np.ascontiguousarray(data.T)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        audio, file_sr = None, None
    if audio is None:  # not a format libsndfile knows: let FFmpeg (PyAV) decode it, video containers included
        file_sr = read_audio_rate(p)
        target = int(sr) if sr else file_sr
        audio = read_audio(p, sr=target, mono=False)
        file_sr = target
    if audio.shape[1] == 0:
        raise InputError(f"{p.name} holds no audio samples")
    if sr and file_sr != sr:
        audio = resample(audio, int(file_sr), int(sr))
    if mono:
        return audio.mean(axis=0).astype(np.float32)
    return audio.astype(np.float32)


def audio_info(path: str | os.PathLike) -> tuple[int, float]:
    """(sample rate, duration in seconds) of an audio file or of a video's soundtrack."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"no such file: {p}")
    import soundfile as sf

    try:
        info = sf.info(str(p))
        return int(info.samplerate), float(info.duration)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        rate = read_audio_rate(p)
        return rate, len(read_audio(p, sr=rate)) / rate


def save_wav(path: str | os.PathLike, audio: np.ndarray, sr: int = SAMPLE_RATE) -> Path:
    """Write float audio ([N] mono or [C, N]) as 16-bit PCM WAV (FLAC when ``path`` ends in .flac), atomically
    (whole file or nothing).

    Samples are clipped to [-1, 1]; NaN or infinite samples are refused (`InputError`), since they would
    silently become full-scale clicks.
    """
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 2:
        a = a.T  # soundfile wants [N, C]
    elif a.ndim != 1:
        raise InputError(f"audio to save must be [N] or [C, N], got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise InputError("audio to save contains NaN or infinite samples")
    import soundfile as sf

    p = Path(path)
    fmt = "FLAC" if p.suffix.lower() == ".flac" else "WAV"
    with atomic_output(p, suffix=".flac" if fmt == "FLAC" else ".wav") as tmp:
        sf.write(str(tmp), np.clip(a, -1.0, 1.0), int(sr), subtype="PCM_16", format=fmt)
    return p
