"""Multi-resolution STFT loss (spectral convergence + log magnitude), Yamamoto et al. 2020 (Parallel WaveGAN,
section 2.3), and a log-mel L1 distance. Computed with torch.stft in float32 whatever the autocast state.

Waveforms are ``Tensor[B x 1 x T]`` or ``Tensor[B x T]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..constants import SAMPLE_RATE


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(-1, x.shape[-1]).float()


def stft_magnitude(x: torch.Tensor, n_fft: int, hop: int, win: int, window: torch.Tensor) -> torch.Tensor:
    """|STFT| of ``x`` [B x (1) x T] -> Tensor[B x (n_fft/2+1) x frames], clamped away from 0 for logs."""
    spec = torch.stft(_flat(x), n_fft, hop, win, window, center=True, return_complex=True)
    return spec.abs().clamp_min(1e-7)


@dataclass
class SpectralLoss:
    """The two terms of `MultiResolutionSTFTLoss`, each averaged over resolutions."""

    convergence: torch.Tensor
    log_magnitude: torch.Tensor

    @property
    def total(self) -> torch.Tensor:
        return self.convergence + self.log_magnitude


class MultiResolutionSTFTLoss(nn.Module):
    """Sum over FFT sizes of spectral convergence ``||S - S^||_F / ||S||_F`` and ``mean|log S - log S^|``.

    Several resolutions keep the model from trading time precision for frequency precision (one short FFT
    rewards smeared pitch, one long FFT rewards smeared onsets).

    Args:
        fft_sizes: FFT sizes; hop = size/4, window = size (Hann).
    """

    def __init__(self, *, fft_sizes: tuple[int, ...] = (2048, 1024, 512, 256, 128)) -> None:
        super().__init__()
        self.fft_sizes = tuple(fft_sizes)
        for n in self.fft_sizes:
            self.register_buffer(f"window_{n}", torch.hann_window(n), persistent=False)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> SpectralLoss:
        """pred, target: Tensor[B x 1 x T] -> `SpectralLoss` (scalars)."""
        sc, lm = [], []
        with torch.autocast(device_type=pred.device.type, enabled=False):
            for n in self.fft_sizes:
                w = getattr(self, f"window_{n}")
                p = stft_magnitude(pred, n, n // 4, n, w)
                t = stft_magnitude(target, n, n // 4, n, w)
                sc.append(torch.linalg.norm(t - p) / torch.linalg.norm(t).clamp_min(1e-7))
                lm.append((t.log() - p.log()).abs().mean())
        k = len(self.fft_sizes)
        return SpectralLoss(torch.stack(sc).sum() / k, torch.stack(lm).sum() / k)


def _hz_to_mel(f: torch.Tensor) -> torch.Tensor:
    """Slaney's mel scale (librosa's default): linear below 1 kHz, logarithmic above."""
    lin = f / (200.0 / 3)
    log = 15.0 + torch.log(f.clamp_min(1e-9) / 1000.0) / (math.log(6.4) / 27.0)
    return torch.where(f >= 1000.0, log, lin)


def _mel_to_hz(m: torch.Tensor) -> torch.Tensor:
    lin = m * (200.0 / 3)
    log = 1000.0 * torch.exp((math.log(6.4) / 27.0) * (m - 15.0))
    return torch.where(m >= 15.0, log, lin)


def mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None) -> torch.Tensor:
    """Triangular filters on Slaney's mel scale with area normalization (as librosa.filters.mel's defaults)
    -> Tensor[n_mels x (n_fft/2+1)]. Computed here so the losses do not need librosa (slow to import)."""
    fmax = sr / 2 if fmax is None else fmax
    freqs = torch.linspace(0, sr / 2, n_fft // 2 + 1, dtype=torch.float64)
    lo, hi = _hz_to_mel(torch.tensor(float(fmin), dtype=torch.float64)), _hz_to_mel(torch.tensor(float(fmax)))
    hz = _mel_to_hz(torch.linspace(float(lo), float(hi), n_mels + 2, dtype=torch.float64))
    fdiff = hz[1:] - hz[:-1]
    ramps = hz[:, None] - freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = torch.clamp(torch.minimum(lower, upper), min=0.0)
    weights *= (2.0 / (hz[2:] - hz[:-2]))[:, None]
    return weights.float()


class LogMelDistance(nn.Module):
    """Mean ``|log10 mel(pred) - log10 mel(target)|`` (the D2M-GAN mel loss: 128 mels, n_fft 1024, hop 256)."""

    def __init__(
        self, *, sample_rate: int = SAMPLE_RATE, n_fft: int = 1024, hop: int = 256, n_mels: int = 128
    ) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("fb", mel_filterbank(sample_rate, n_fft, n_mels), persistent=False)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def log_mel(self, x: torch.Tensor) -> torch.Tensor:
        """x: Tensor[B x 1 x T] -> Tensor[B x n_mels x frames] (log10, floored at 1e-5)."""
        mag = stft_magnitude(x, self.n_fft, self.hop, self.n_fft, self.window)
        return torch.log10((self.fb @ mag).clamp_min(1e-5))

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=pred.device.type, enabled=False):
            return (self.log_mel(pred) - self.log_mel(target)).abs().mean()

    def with_onsets(self, pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(this distance, mean L1 between the two onset envelopes (`onset_envelope`)) from one pair of log-mels."""
        with torch.autocast(device_type=pred.device.type, enabled=False):
            a, b = self.log_mel(pred), self.log_mel(target)
            return (a - b).abs().mean(), (onset_envelope(a) - onset_envelope(b)).abs().mean()


def onset_envelope(log_mel: torch.Tensor) -> torch.Tensor:
    """Tensor[B x bands x frames] -> Tensor[B x frames - 1]: the rise of the log-mel from frame to frame, its
    positive part averaged over the bands (spectral flux, as librosa's onset strength and so its beat tracker
    read music). A sound whose energy swells without an attack has little of it."""
    return torch.relu(log_mel[..., 1:] - log_mel[..., :-1]).mean(dim=-2)
