"""A music genre classifier trained by the project, and the embedding it gives for FAD and retrieval.

No pretrained audio network (VGGish, PANNs) is available offline, so the project trains its own: a small CNN
on log-mel spectrograms that classifies the 10 AIST++ genres (`constants.GENRES`). Its penultimate layer
(``embed_dim`` values per window) is the embedding that `metrics.fad` and the paper's retrieval definition
of genre accuracy use.

- `GenreCNN`: waveform ``[B, N]`` at 22.05 kHz -> `GenreOutput(logits [B, G], embedding [B, E])`; any length of
  at least `GenreCNN.min_samples` (the network pools over time).
- `classify` / `embed_windows`: a whole clip, cut into ``window_s`` windows, averaged.
- `retrieve_genre`: the paper's retrieval definition -- the genre of the nearest reference segment by
  embedding (cosine similarity).
- `train_genre_classifier`: training on a dataset in the AIST++ layout (the synthetic set or AIST++ itself).
- `save_genre_model` / `load_genre_model`: safetensors weights + a JSON config that rebuilds the model.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..constants import GENRES, SAMPLE_RATE
from ..errors import InputError, ModelError

#: Version of the checkpoint format written by `save_genre_model`.
FORMAT_VERSION = 1
#: Length of the windows the classifier is trained on and that clips are cut into.
WINDOW_S = 2.0


class LogMel(nn.Module):
    """Log-mel spectrogram: waveform ``[B, N]`` -> ``[B, n_mels, T]`` with T = N // hop_length + 1.

    torch.stft with a Hann window (centred frames) and librosa's Slaney mel filterbank; log(mel power + 1e-5)
    (the floor keeps silence finite without dominating quiet passages).
    """

    def __init__(self, *, sr: int, n_fft: int, hop_length: int, n_mels: int, fmin: float, fmax: float | None):
        super().__init__()
        import librosa

        self.n_fft, self.hop_length = n_fft, hop_length
        fb = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
        # not persistent: rebuilt from the config, so the weights file holds only learned values
        self.register_buffer("fb", torch.from_numpy(fb).float(), persistent=False)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(
            wav, self.n_fft, self.hop_length, window=self.window, center=True, return_complex=True
        )
        power = spec.real**2 + spec.imag**2  # [B, F, T]
        return torch.log(torch.matmul(self.fb, power) + 1e-5)


@dataclass
class GenreOutput:
    """logits: [B, G] genre scores; embedding: [B, E] penultimate-layer features (for FAD and retrieval)."""

    logits: torch.Tensor
    embedding: torch.Tensor


class GenreCNN(nn.Module):
    """Small VGG-like CNN on log-mel: 4 conv blocks (3x3 conv, batch norm, ReLU, 2x2 max pool), then mean and
    max over time, a linear embedding layer and a linear classifier.

    Input: waveform ``[B, N]`` at ``sr``; N >= `min_samples`. Output: `GenreOutput` (logits ``[B, num_genres]``,
    embedding ``[B, embed_dim]`` taken before the ReLU that feeds the classifier, so it is not sparse).
    """

    def __init__(
        self,
        *,
        sr: int = SAMPLE_RATE,
        n_fft: int = 1024,
        hop_length: int = 512,
        n_mels: int = 64,
        fmin: float = 30.0,
        fmax: float | None = None,
        channels: Sequence[int] = (16, 32, 64, 64),
        embed_dim: int = 64,
        num_genres: int = len(GENRES),
        dropout: float = 0.3,
    ):
        super().__init__()
        # every constructor argument, so that a checkpoint rebuilds exactly this network
        self.config = {"sr": sr, "n_fft": n_fft, "hop_length": hop_length, "n_mels": n_mels, "fmin": fmin,
                       "fmax": fmax, "channels": [int(c) for c in channels], "embed_dim": embed_dim,
                       "num_genres": num_genres, "dropout": dropout}  # fmt: skip
        self.sr, self.hop_length = sr, hop_length
        self.frontend = LogMel(sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, fmin=fmin, fmax=fmax)
        self.input_norm = nn.BatchNorm1d(n_mels)  # per-mel-bin standardisation, learned from the data
        blocks: list[nn.Module] = []
        c_in = 1
        for c in channels:
            blocks += [nn.Conv2d(c_in, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2)]
            c_in = c
        self.blocks = nn.Sequential(*blocks)
        self.num_pools = len(channels)
        freq_out = n_mels >> self.num_pools
        if freq_out < 1:
            raise ValueError(f"n_mels={n_mels} is too small for {len(channels)} pooling blocks")
        self.embed = nn.Linear(2 * c_in * freq_out, embed_dim)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(embed_dim, num_genres)

    @property
    def min_samples(self) -> int:
        """Shortest waveform the pooling stack accepts (2^blocks frames)."""
        return (2**self.num_pools - 1) * self.hop_length + 1

    def forward(self, wav: torch.Tensor) -> GenreOutput:
        if wav.dim() == 3:  # [B, 1, N]
            wav = wav.squeeze(1)
        x = self.input_norm(self.frontend(wav)).unsqueeze(1)  # [B, 1, M, T]
        x = self.blocks(x)  # [B, C, M', T']
        x = torch.cat([x.mean(dim=-1), x.amax(dim=-1)], dim=1).flatten(1)  # [B, 2*C*M']
        emb = self.embed(x)
        return GenreOutput(self.head(self.dropout(torch.relu(emb))), emb)


# --------------------------------------------------------------------------------------------------------------
# Checkpoints


def save_genre_model(model: GenreCNN, path: str | os.PathLike, info: dict | None = None) -> Path:
    """Write ``path`` (safetensors, float16 to stay small) and ``path.with_suffix('.json')`` (config + info).

    The JSON holds ``model.config`` (every constructor argument) and ``info``, free provenance (training
    data, accuracy, command). Returns the weights path.
    """
    from safetensors.torch import save_file

    from ..io.files import atomic_output

    path = Path(path).with_suffix(".safetensors")
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    # float16 halves the file; batch-norm counters stay integers
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in state.items()}
    with atomic_output(path) as tmp:
        save_file(state, str(tmp), metadata={"kind": "genre_cnn", "version": str(FORMAT_VERSION)})
    meta = {"kind": "genre_cnn", "version": FORMAT_VERSION, "config": model.config, "info": info or {}}
    with atomic_output(path.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return path


def load_genre_model(name_or_path: str | os.PathLike = "genre-cnn", device: str = "cpu") -> GenreCNN:
    """Rebuild a `GenreCNN` from a registered name or a weights path (eval mode, float32)."""
    from safetensors.torch import load_file

    from ..pretrained.registry import config_path, resolve

    weights = resolve(name_or_path, kind="genre_cnn")
    cfg_file = config_path(weights)
    if not cfg_file.is_file():
        raise ModelError(f"model config not found next to the weights: {cfg_file}")
    try:
        meta = json.loads(cfg_file.read_text())
        if meta.get("kind") != "genre_cnn":
            raise ModelError(f"{cfg_file} describes a {meta.get('kind')!r}, not a genre_cnn")
        model = GenreCNN(**meta["config"])
        state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(weights)).items()}
        model.load_state_dict(state)
    except ModelError:
        raise
    except Exception as e:  # a corrupt or foreign file: one line for the user
        raise ModelError(f"cannot load genre model from {weights}: {type(e).__name__}: {e}") from e
    return model.to(device).eval()


# --------------------------------------------------------------------------------------------------------------
# Inference on clips


def cut_windows(audio: np.ndarray, sr: int, window_s: float = WINDOW_S, min_samples: int = 1) -> np.ndarray:
    """Non-overlapping windows ``[W, window]`` of a mono clip; a trailing part shorter than half a window is
    dropped, a longer one is taken as the last full window ending at the clip's end. A clip shorter than a
    window is one window of its own length (zero-padded up to ``min_samples``)."""
    audio = np.asarray(audio, dtype=np.float32).ravel()
    win = int(round(window_s * sr))
    if audio.size < win:
        if audio.size < min_samples:
            audio = np.pad(audio, (0, min_samples - audio.size))
        return audio[None]
    starts = list(range(0, audio.size - win + 1, win))
    if audio.size - (starts[-1] + win) >= win // 2:
        starts.append(audio.size - win)
    return np.stack([audio[s : s + win] for s in starts])


@torch.no_grad()
def _run_windows(model: GenreCNN, windows: np.ndarray, batch_size: int = 64) -> GenreOutput:
    device = next(model.parameters()).device
    logits, embs = [], []
    for i in range(0, len(windows), batch_size):
        out = model(torch.from_numpy(np.ascontiguousarray(windows[i : i + batch_size])).to(device))
        logits.append(out.logits.cpu())
        embs.append(out.embedding.cpu())
    return GenreOutput(torch.cat(logits), torch.cat(embs))


def _to_model_rate(audio: np.ndarray, sr: int, model: GenreCNN) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32).ravel()
    if sr != model.sr:
        import librosa

        audio = librosa.resample(audio, orig_sr=sr, target_sr=model.sr).astype(np.float32)
    return audio


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
    windows = cut_windows(_to_model_rate(audio, sr, model), model.sr, window_s, model.min_samples)
    out = _run_windows(model, windows)
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


# --------------------------------------------------------------------------------------------------------------
# Training


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
    from ..data.aist import AISTDataset, genre_index, parse_seq_name
    from ..io.audio import load_audio

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


@dataclass
class TrainResult:
    """What `train_genre_classifier` returns: the best model (by validation window accuracy) and its curve."""

    model: GenreCNN
    val_accuracy: float
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def _window_set(tracks: Sequence[GenreTrack], sr: int, window_s: float, min_samples: int):
    xs, ys = [], []
    for t in tracks:
        w = cut_windows(t.audio, sr, window_s, min_samples)
        xs.append(w)
        ys += [t.genre] * len(w)
    return np.concatenate(xs), np.array(ys)


def window_accuracy(model: GenreCNN, windows: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of windows classified as their label."""
    model.eval()
    pred = _run_windows(model, windows).logits.argmax(-1).numpy()
    return float((pred == labels).mean()) if len(labels) else float("nan")


def degrade(batch: np.ndarray, sr: int, rng: np.random.Generator, p: float = 0.75) -> np.ndarray:
    """Degrade a batch of windows ``[B, N]`` the way imperfect synthesis does, each window with probability p.

    A classifier trained only on clean renderings keys on details that any generated audio lacks: additive
    white noise at 20 dB SNR halved its accuracy, and a VQ-VAE reconstruction took it to chance. So training
    windows get, independently: a low-pass at 2-10 kHz, a random spectral tilt of +-6 dB per octave around
    1 kHz, a synthetic room reverb (RT60 0.1-0.8 s) and white or pink noise at 0-35 dB SNR. Generic damage,
    not the artefacts of any one model.
    """
    out = batch.astype(np.float32, copy=True)
    n = out.shape[-1]
    freqs = np.fft.rfftfreq(n, 1.0 / sr)
    octaves = np.log2(np.maximum(freqs, 20.0) / 1000.0)
    for r in range(len(out)):
        if rng.random() >= p:
            continue
        x = out[r]
        power = float(np.mean(x**2)) + 1e-12
        spec = np.fft.rfft(x)
        gain = np.ones_like(freqs)
        if rng.random() < 0.5:
            gain *= freqs <= rng.uniform(2000.0, 10000.0)
        if rng.random() < 0.5:
            gain *= 10 ** (rng.uniform(-6.0, 6.0) * octaves / 20.0)
        x = np.fft.irfft(spec * gain, n)
        if rng.random() < 0.5:  # room reverb: noise under an exponential decay smears every transient
            rt60 = rng.uniform(0.1, 0.8)
            m = int(rt60 * sr)
            ir = rng.standard_normal(m) * np.exp(-6.9 * np.arange(m) / m)
            ir[0] = np.sqrt(np.sum(ir[1:] ** 2) * 10 ** (rng.uniform(-5.0, 15.0) / 10))  # direct-to-reverb ratio
            x = np.fft.irfft(np.fft.rfft(x, n + m) * np.fft.rfft(ir, n + m), n + m)[:n]
            x *= np.sqrt(power / (np.mean(x**2) + 1e-12))
        if rng.random() < 0.7:
            noise_spec = np.fft.rfft(rng.standard_normal(n))
            if rng.random() < 0.5:  # pink: power falls as 1/f
                noise_spec /= np.sqrt(np.maximum(freqs, 20.0))
            noise = np.fft.irfft(noise_spec, n)
            snr_db = rng.uniform(0.0, 35.0)
            x = x + noise * np.sqrt(power / (np.mean(noise**2) + 1e-12) / 10 ** (snr_db / 10))
        out[r] = x.astype(np.float32)
    return out


def train_genre_classifier(
    train: Sequence[GenreTrack],
    val: Sequence[GenreTrack] = (),
    *,
    model_kwargs: dict | None = None,
    epochs: int = 30,
    batch_size: int = 32,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    window_s: float = WINDOW_S,
    crops_per_window: float = 1.0,
    augment: bool = False,
    seed: int = 0,
    log: Callable[[str], None] | None = print,
) -> TrainResult:
    """Train a `GenreCNN` on random ``window_s`` crops of the training tracks.

    Each epoch draws ``crops_per_window`` random crops per ``window_s`` of each track's length, with a random
    gain of +-6 dB (loudness must not decide the genre); with ``augment`` also `degrade`. The model with the
    best validation window accuracy is kept (the last one when there is no validation set); with ``augment``
    that accuracy is the mean over the clean validation windows and a degraded copy of them (fixed seed).
    Deterministic for a seed on one thread.
    """
    if not train:
        raise InputError("no training music found")
    kwargs = dict(model_kwargs or {})
    kwargs.setdefault("sr", SAMPLE_RATE)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = GenreCNN(**kwargs)
    sr = model.sr
    win = int(round(window_s * sr))
    audios = [_to_model_rate(t.audio, t.sr, model) for t in train]
    audios = [a if a.size >= win else np.pad(a, (0, win - a.size)) for a in audios]
    labels = np.array([t.genre for t in train])
    n_crops = [max(1, int(round(crops_per_window * a.size / win))) for a in audios]
    if val:
        val_x, val_y = _window_set(
            [GenreTrack(t.name, _to_model_rate(t.audio, t.sr, model), sr, t.genre) for t in val],
            sr, window_s, model.min_samples,
        )  # fmt: skip
        val_noisy = degrade(val_x, sr, np.random.default_rng(seed + 1), p=1.0) if augment else None
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs))
    best_acc, best_state, history = -1.0, None, []
    t0 = time.time()
    for epoch in range(epochs):
        model.train()
        items = np.repeat(np.arange(len(audios)), n_crops)
        rng.shuffle(items)
        total, correct, loss_sum = 0, 0, 0.0
        for i in range(0, len(items), batch_size):
            idx = items[i : i + batch_size]
            batch = np.empty((len(idx), win), np.float32)
            for r, k in enumerate(idx):
                s = rng.integers(0, audios[k].size - win + 1)
                batch[r] = audios[k][s : s + win] * 10 ** (rng.uniform(-6, 6) / 20)
            if augment:
                batch = degrade(batch, sr, rng)
            y = torch.from_numpy(labels[idx])
            out = model(torch.from_numpy(batch))
            loss = nn.functional.cross_entropy(out.logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((out.logits.argmax(-1) == y).sum())
            total += len(idx)
        sched.step()
        row = {"epoch": epoch + 1, "loss": loss_sum / total, "train_acc": correct / total}
        if val:
            row["val_acc"] = window_accuracy(model, val_x, val_y)
            if val_noisy is not None:
                row["val_acc_clean"] = row["val_acc"]
                row["val_acc_degraded"] = window_accuracy(model, val_noisy, val_y)
                row["val_acc"] = 0.5 * (row["val_acc_clean"] + row["val_acc_degraded"])
        history.append(row)
        score = row.get("val_acc", row["train_acc"]) if val else epoch
        if score >= best_acc:
            best_acc = score
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if log:
            log(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
    model.load_state_dict(best_state)
    model.eval()
    val_acc = float(best_acc) if val else float("nan")
    return TrainResult(model, val_acc, history, time.time() - t0)


def clip_accuracy(model: GenreCNN, tracks: Sequence[GenreTrack], window_s: float = WINDOW_S) -> float:
    """Fraction of whole tracks whose predicted genre (mean over windows) is their label."""
    if not tracks:
        return float("nan")
    hits = [classify(model, t.audio, t.sr, window_s).genre == t.genre for t in tracks]
    return float(np.mean(hits))


def model_summary(model: GenreCNN) -> dict:
    """Parameter count, for logs and the config's info."""
    return {"parameters": int(sum(p.numel() for p in model.parameters()))}


__all__ = [
    "GenreCNN",
    "GenreOutput",
    "GenrePrediction",
    "GenreTrack",
    "LogMel",
    "TrainResult",
    "classify",
    "clip_accuracy",
    "cut_windows",
    "embed_windows",
    "load_genre_model",
    "load_genre_tracks",
    "retrieve_genre",
    "save_genre_model",
    "train_genre_classifier",
    "degrade",
    "window_accuracy",
]
