"""Music for every sequence of a cached split, as wav files that ``d2m evaluate --generated`` scores.

`write_samples` runs a trained `models.d2m.D2M` on each sequence's cached motion and visual features and writes
``<seq>.wav`` (the whole sequence at once: the aligned generator takes any length). The official-shape
generator only makes 2-s segments, so for it the files are ``<seq>_seg<k>.wav`` (score them with
``d2m evaluate --seconds 2``). ``mode="random-codes"`` writes the random-code baseline instead: codes drawn
uniformly from the same codebook and decoded by the same decoder, for the same lengths.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch

from ..data.cache import FeatureCache
from ..errors import ConfigError
from ..io.audio import save_wav
from ..models.d2m import D2M
from ..models.generator import OfficialGenerator


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
    max_sequences: int | None = None,
    progress: bool = True,
) -> list[Path]:
    """Write one wav per sequence (or per 2-s segment for the official-shape generator); returns the paths.

    mode: ``generate`` (the model's music), ``random-codes`` (random codes of the level, decoded) or
    ``reconstruct`` (the real music encoded and decoded at the model's level: the tokenizer's ceiling).

    use_genre / use_tempo: give the model the sequence's labelled genre / tempo (else it runs without them);
        ``use_genre="dance"`` gives it the genre the dance-genre classifier reads off the motion instead, as
        `d2m generate` does when no genre is named.
    seed: seeds the generator's noise (and the random codes), per sequence, so reruns give the same files.
    """
    if use_genre == "dance":
        from ..models.dance_genre import DanceGenreClassifier

        classifier = DanceGenreClassifier.from_pretrained()
    elif not isinstance(use_genre, bool):
        raise ConfigError(f"use_genre must be True, False or 'dance', got {use_genre!r}")
    if mode not in ("generate", "random-codes", "reconstruct"):
        raise ConfigError(f"mode must be generate, random-codes or reconstruct, got {mode!r}")
    from tqdm.auto import tqdm

    cache = FeatureCache(cache_dir, split)
    names = cache.names()[:max_sequences] if max_sequences else cache.names()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    g = model.generator
    device = next(model.parameters()).device
    sr, hop = model.sample_rate, model.hop_length
    written: list[Path] = []
    for k, name in enumerate(tqdm(names, desc=f"samples ({mode})", unit="seq", disable=not progress, file=sys.stderr)):
        torch.manual_seed(seed * 1_000_003 + k)
        entry = cache.entry(name)
        motion, visual, _ = cache.load_arrays(name)
        m = torch.from_numpy(motion.features().T.copy())[None].to(device)
        v = None
        if g.visual_dim:
            if visual is None:
                raise ConfigError(f"the model needs visual features; {name} in {cache.root} has none")
            v = torch.from_numpy(visual.features.T.copy())[None].to(device)
        if use_genre == "dance":  # as generate: no genre when the classifier is unsure or the dance unlike its data
            guess = classifier.assess(motion).genre
            genre = None if guess is None else torch.tensor([classifier.genres.index(guess)], device=device)
        else:
            labelled = use_genre and entry.get("genre") is not None
            genre = torch.tensor([entry["genre"]], device=device) if labelled else None
        tempo = torch.tensor([float(entry["tempo"])], device=device) if use_tempo and entry.get("tempo") else None
        n_samples = int(round(motion.duration * sr))
        if isinstance(g, OfficialGenerator):
            pieces = _official_segments(model, m, v, genre, mode)
            for i, audio in enumerate(pieces):
                written.append(save_wav(out / f"{name}_seg{i}.wav", audio, sr))
            continue
        if mode == "random-codes":
            codes = torch.randint(0, model.codebook.shape[0], (1, -(-n_samples // hop)), device=device)
            audio = model.vqvae.decode_chunked(codes, model.level)[..., :n_samples].clamp(-1, 1)
        elif mode == "reconstruct":  # the ceiling of this level: the real music through the tokenizer
            real = torch.from_numpy(cache.read_audio(name, 0, n_samples))[None, None].to(device)
            codes = model.vqvae.encode(real, model.level)
            audio = model.vqvae.decode_chunked(codes, model.level)[..., :n_samples].clamp(-1, 1)
        else:
            rhythm = None
            if getattr(g, "rhythm_dim", 0):  # the dance's pulse, as `d2m generate` reads it (a label tempo sets it)
                from ..features.rhythm import estimate_rhythm

                bpm = float(tempo[0]) if tempo is not None else None
                rhythm = torch.from_numpy(estimate_rhythm(motion, tempo=bpm).features().T.copy())[None].to(device)
            audio = model.generate(m, v, genre=genre, tempo=tempo, num_samples=n_samples, rhythm=rhythm).audio
        written.append(save_wav(out / f"{name}.wav", audio[0, 0].cpu().numpy().astype(np.float32), sr))
    return written


def _official_segments(model: D2M, m, v, genre, mode: str) -> list[np.ndarray]:
    """Back-to-back 2-s segments of a sequence through the fixed-size official-shape generator."""
    g = model.generator
    frames = g.motion_frames
    pieces = []
    for start in range(0, m.shape[-1] - frames + 1, frames):
        if mode == "random-codes":
            codes = torch.randint(0, model.codebook.shape[0], (1, g.num_codes), device=m.device)
            audio = model.vqvae.decode(codes, model.level).clamp(-1, 1)
        else:
            vs = None if v is None else v[..., start : start + frames]
            audio = model.generate(m[..., start : start + frames], vs, genre=genre).audio
        pieces.append(audio[0, 0].cpu().numpy().astype(np.float32))
    return pieces
