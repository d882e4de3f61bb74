"""Music for every sequence of a cached split, as wav files that ``d2m evaluate --generated`` scores.

`write_samples` runs `models.d2m.D2M.generate` -- the path `api.Dance2Music.generate` runs, so what is evaluated
is what users get -- on each sequence's cached motion and visual features and writes ``<seq>.wav`` (the whole
sequence: windows of any length, the dance's rhythm, the beat lock). The official-shape generator only makes
2-s segments, so for it the files are ``<seq>_seg<k>.wav`` (score them with ``d2m evaluate --seconds 2``).
``mode="random-codes"`` writes the random-code baseline instead: codes drawn uniformly from the same codebook
and decoded by the same decoder, for the same lengths; ``mode="reconstruct"`` the real music through the
tokenizer.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch

from ..constants import MOTION_FPS
from ..data.cache import FeatureCache
from ..errors import ConfigError
from ..features.rhythm import estimate_rhythm
from ..io.audio import save_wav
from ..types import Motion, Visual
from .d2m import D2M, dance_tensors
from .dance_genre import DanceGenreClassifier


def sequence_seed(seed: int, index: int) -> int:
    """The seed of the ``index``-th sequence of a run seeded ``seed`` (reruns give the same files)."""
    return seed * 1_000_003 + index


@torch.no_grad()
def write_samples(
    model: D2M,
    cache_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    split: str | None = "test",
    mode: str = "generate",
    seed: int = 0,
    use_genre: bool | str = True,
    use_tempo: bool = True,
    beat_lock: bool = True,
    max_sequences: int | None = None,
    progress: bool = True,
) -> list[Path]:
    """Write one wav per sequence (or per 2-s segment for the official-shape generator); returns the paths.

    mode: ``generate`` (the model's music), ``random-codes`` (random codes of the level, decoded) or
    ``reconstruct`` (the real music encoded and decoded at the model's level: the tokenizer's ceiling).

    use_genre / use_tempo: give the model the sequence's labelled genre / tempo (else it runs without them);
        ``use_genre="dance"`` gives it the genre the dance-genre classifier reads off the motion instead, as
        `d2m generate` does when no genre is named.
    seed: the generator's noise (and the random codes) are seeded per sequence (`sequence_seed`), so reruns
        give the same files and a sequence's music is `Dance2Music.generate(motion, seed=sequence_seed(...))`'s.
    beat_lock: as `D2M.generate`'s.
    """
    if not isinstance(use_genre, bool) and use_genre != "dance":
        raise ConfigError(f"use_genre must be True, False or 'dance', got {use_genre!r}")
    if mode not in ("generate", "random-codes", "reconstruct"):
        raise ConfigError(f"mode must be generate, random-codes or reconstruct, got {mode!r}")
    classifier = DanceGenreClassifier.from_pretrained() if use_genre == "dance" else None
    from tqdm.auto import tqdm

    cache = FeatureCache(cache_dir, split)
    names = cache.names()[:max_sequences] if max_sequences else cache.names()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    sr = model.sample_rate
    written: list[Path] = []
    for k, name in enumerate(tqdm(names, desc=f"samples ({mode})", unit="seq", disable=not progress, file=sys.stderr)):
        torch.manual_seed(sequence_seed(seed, k))  # the random codes
        entry = cache.entry(name)
        motion, visual, _ = cache.load_arrays(name)
        if model.visual_dim and visual is None:
            raise ConfigError(f"the model needs visual features; {name} in {cache.root} has none")
        n_samples = int(round(motion.duration * sr))
        if mode == "generate":
            motion = motion.resample(MOTION_FPS)
            if classifier is not None:  # as generate: no genre when the classifier is unsure or unlike its data
                guess = classifier.assess(motion).genre
                genre = None if guess is None else classifier.genres.index(guess)
            else:
                genre = int(entry["genre"]) if use_genre and entry.get("genre") is not None else None
            tempo = float(entry["tempo"]) if use_tempo and entry.get("tempo") else None
            audio = sample_music(
                model, motion, visual, genre=genre, tempo=tempo, seed=sequence_seed(seed, k), beat_lock=beat_lock,
                num_samples=n_samples,
            )  # fmt: skip
        else:
            audio = _baseline(model, cache, name, mode, n_samples)
        seg = model.segment_samples
        if seg is None:
            written.append(save_wav(out / f"{name}.wav", audio, sr))
        else:
            for i in range(audio.size // seg):
                written.append(save_wav(out / f"{name}_seg{i}.wav", audio[i * seg : (i + 1) * seg], sr))
    return written


def sample_music(
    model: D2M,
    motion: Motion,
    visual: Visual | None,
    *,
    genre: int | None,
    tempo: float | None,
    seed: int,
    beat_lock: bool = True,
    num_samples: int | None = None,
) -> np.ndarray:
    """float32[N]: `D2M.generate`'s music for one dance (the dance's rhythm read as `Dance2Music.generate` reads
    it, ``tempo`` fixing its period), before any loudness step."""
    motion = motion.resample(MOTION_FPS)
    m, v = dance_tensors(motion, visual, model.visual_dim)
    rhythm = estimate_rhythm(motion, tempo=tempo, window_beats=model.rhythm_window) if model.follows_rhythm else None
    music = model.generate(
        m, v, rhythm=rhythm, genre=genre, tempo=tempo, seed=seed, num_samples=num_samples, beat_lock=beat_lock
    )
    return music.audio[0, 0].float().cpu().numpy().astype(np.float32)


def _baseline(model: D2M, cache: FeatureCache, name: str, mode: str, n_samples: int) -> np.ndarray:
    """float32[N]: random codes of the model's level, or the real music through the tokenizer, decoded."""
    device = model.device
    seg = model.segment_samples
    if seg is not None:  # the official-shape generator's whole segments
        n_samples = n_samples // seg * seg
    hop = model.hop_length
    if mode == "random-codes":
        codes = torch.randint(0, model.codebook.shape[0], (1, -(-n_samples // hop)), device=device)
    else:  # the ceiling of this level: the real music through the tokenizer
        real = torch.from_numpy(cache.read_audio(name, 0, n_samples))[None, None].to(device)
        codes = model.vqvae.encode(real, model.level)
    audio = model.vqvae.decode_chunked(codes, model.level)[..., :n_samples].clamp(-1, 1)
    return audio[0, 0].cpu().numpy().astype(np.float32)
