"""Genre of music by the project's classifier (`models.genre_cnn`), its embedding, the paper's retrieval
definition, and the labelled music of a dataset split.

- `classify` / `embed_windows`: a whole clip, cut into ``window_s`` windows, averaged.
- `retrieve_genre`: the paper's retrieval definition -- the genre of the nearest reference segment by
  embedding (cosine similarity).
- `load_genre_tracks`: the music of a split of a dataset in the AIST++ layout (for reference banks and training).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..constants import SAMPLE_RATE
from ..data.aist import AISTDataset, genre_index, parse_seq_name
from ..errors import InputError
from ..io.audio import load_audio
from ..models.genre_cnn import WINDOW_S, GenreCNN, cut_windows, run_windows, to_model_rate


@dataclass
class GenrePrediction:
    """Genre of one clip: ``probs`` float[G] (mean of the windows' softmax), ``genre`` its argmax,
    ``embeddings`` float[W, E] one per window."""

    probs: np.ndarray
    genre: int
    embeddings: np.ndarray


def classify(model: GenreCNN, audio: np.ndarray, sr: int = SAMPLE_RATE, window_s: float = WINDOW_S) -> GenrePrediction:
    """Classify a mono clip ``audio[N]``: mean class probabilities over its ``window_s`` windows."""
    if model.training:
        model.eval()
    windows = cut_windows(to_model_rate(audio, sr, model), model.sr, window_s, model.min_samples)
    out = run_windows(model, windows)
    probs = torch.softmax(out.logits, dim=-1).mean(0).numpy()
    return GenrePrediction(probs, int(np.argmax(probs)), out.embedding.numpy())


def embed_windows(model: GenreCNN, audio: np.ndarray, sr: int = SAMPLE_RATE, window_s: float = WINDOW_S) -> np.ndarray:
    """float32[W, E]: the embedding of each ``window_s`` window of a mono clip."""
    return classify(model, audio, sr, window_s).embeddings


def retrieve_genre(query: np.ndarray, bank: np.ndarray, bank_genres: np.ndarray) -> int:
    """The paper's retrieval definition: the genre of the reference segment nearest to the query.

    query: float[E] or float[W, E] (windows are averaged into one query); bank: float[R, E] reference segment
    embeddings; bank_genres: int[R]. Nearest = highest cosine similarity.
    """
    q = np.asarray(query, dtype=np.float64)
    q = q.mean(0) if q.ndim == 2 else q
    b = np.asarray(bank, dtype=np.float64)
    if b.size == 0:
        raise ValueError("empty retrieval bank")
    sim = (b @ q) / (np.linalg.norm(b, axis=1) * np.linalg.norm(q) + 1e-12)
    return int(np.asarray(bank_genres)[int(np.argmax(sim))])


@dataclass
class GenreTrack:
    """A piece of labelled music for training or reference banks: mono ``audio`` at ``sr``, genre index."""

    name: str
    audio: np.ndarray
    sr: int
    genre: int


def load_genre_tracks(data_dir: str | os.PathLike, split: str, max_tracks: int | None = None) -> list[GenreTrack]:
    """The music of a split of a dataset in the AIST++ layout, one track per distinct music id.

    Genre from the sequence name (AIST++), else from ``labels/<seq>.json``. AIST++ reuses each song for many
    sequences: keeping each music id once avoids weighting songs by how often they were danced to.
    """
    ds = AISTDataset(data_dir, split, visual="none")
    tracks: list[GenreTrack] = []
    seen: set[str] = set()
    for seq in ds.names():
        code, music_id = parse_seq_name(seq)
        path = ds.music_path(seq)
        if str(path) in seen:
            continue
        seen.add(str(path))
        genre = genre_index(code)
        if genre is None:
            genre = genre_index(str(ds.labels(seq).get("genre")))
        if genre is None:
            raise InputError(f"cannot tell the genre of {seq!r} (name or labels/{seq}.json)")
        tracks.append(GenreTrack(music_id or seq, load_audio(path, SAMPLE_RATE), SAMPLE_RATE, genre))
        if max_tracks and len(tracks) >= max_tracks:
            break
    return tracks


def clip_accuracy(model: GenreCNN, tracks: Sequence[GenreTrack], window_s: float = WINDOW_S) -> float:
    """Fraction of whole tracks whose predicted genre (mean over windows) is their label."""
    if not tracks:
        return float("nan")
    hits = [classify(model, t.audio, t.sr, window_s).genre == t.genre for t in tracks]
    return float(np.mean(hits))
