"""The project's music genre classifier: a small CNN on log-mel spectrograms, its checkpoints and its windows.

No pretrained audio network (VGGish, PANNs) is available offline, so the project trains its own
(`training.genre_cnn`): it classifies the 10 AIST++ genres (`constants.GENRES`), and its penultimate layer
(``embed_dim`` values per window) is the embedding that `metrics.fad` and the paper's retrieval definition of
genre accuracy use (`metrics.genre`).

- `GenreCNN`: waveform ``[B, N]`` at 22.05 kHz -> `GenreOutput(logits [B, G], embedding [B, E])`; any length of
  at least `GenreCNN.min_samples` (the network pools over time).
- `cut_windows` / `run_windows`: a clip cut into ``window_s`` windows, and the model run on them.
- `save_genre_model` / `load_genre_model`: safetensors weights + a JSON config that rebuilds the model.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..constants import GENRES, SAMPLE_RATE
from ..errors import ModelError
from ..io.files import atomic_output
from ..pretrained.registry import config_path, resolve

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
# Windows of a clip


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
def run_windows(model: GenreCNN, windows: np.ndarray, batch_size: int = 64) -> GenreOutput:
    """The model on windows ``[W, N]`` in batches, without gradients: logits [W, G] and embeddings [W, E]."""
    device = next(model.parameters()).device
    logits, embs = [], []
    for i in range(0, len(windows), batch_size):
        out = model(torch.from_numpy(np.ascontiguousarray(windows[i : i + batch_size])).to(device))
        logits.append(out.logits.cpu())
        embs.append(out.embedding.cpu())
    return GenreOutput(torch.cat(logits), torch.cat(embs))


def to_model_rate(audio: np.ndarray, sr: int, model: GenreCNN) -> np.ndarray:
    """A mono clip at ``sr`` as float32[N] at the model's rate."""
    audio = np.asarray(audio, dtype=np.float32).ravel()
    if sr != model.sr:
        import librosa

        audio = librosa.resample(audio, orig_sr=sr, target_sr=model.sr).astype(np.float32)
    return audio
