"""Log-mel spectrogram and its L1 distance, as the official D2M-GAN code's ``Audio2Mel`` loss.

Settings follow the official code (reference ``d2m-gan.md`` Sec. 1.5): 22.05 kHz, n_fft 1024, hop 256, window
1024, 128 mel bands, ``log10(clamp(mel, 1e-5))``. Computed with ``torch.stft`` so it is differentiable (the
generator is trained through it) and runs on any device. The Slaney-style filterbank (the one librosa builds by
default) is computed here with numpy: the GAN's training processes then never import librosa/scipy.signal,
which costs seconds per process (every DDP rank pays it).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

# Slaney's mel scale: linear below 1 kHz (3 mels per 200 Hz), logarithmic above (27 mels per factor 6.4).
_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(f: np.ndarray) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    lin = f / _F_SP
    log = _MIN_LOG_MEL + np.log(np.maximum(f, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(f >= _MIN_LOG_HZ, log, lin)


def mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    lin = m * _F_SP
    log = _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - _MIN_LOG_MEL))
    return np.where(m >= _MIN_LOG_MEL, log, lin)


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """float32[n_mels, n_fft // 2 + 1]: triangular filters evenly spaced in mel, each of unit area (Slaney)."""
    fmax = sample_rate / 2 if fmax is None else fmax
    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - freqs[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]  # equal area, so wide high bands are not louder
    return weights.astype(np.float32)


class LogMel(nn.Module):
    """``Tensor[B x 1 x N]`` (or ``[B x N]``) waveform -> ``Tensor[B x n_mels x frames]`` log10 mel magnitude."""

    def __init__(
        self,
        *,
        sample_rate: int = 22050,
        n_fft: int = 1024,
        hop_length: int = 256,
        win_length: int = 1024,
        n_mels: int = 128,
        fmin: float = 0.0,
        fmax: float | None = None,
        floor: float = 1e-5,
    ) -> None:
        super().__init__()
        fb = mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax)
        self.register_buffer("mel_basis", torch.from_numpy(fb).float(), persistent=False)
        self.register_buffer("window", torch.hann_window(win_length), persistent=False)
        self.n_fft, self.hop_length, self.win_length, self.floor = n_fft, hop_length, win_length, floor

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        x = audio.reshape(-1, audio.shape[-1]).float()
        # Reflect-pad so frames are centred like MelGAN's Audio2Mel (centre=False after manual padding).
        pad = (self.n_fft - self.hop_length) // 2
        if x.shape[-1] > pad:
            x = F.pad(x[:, None], (pad, pad), mode="reflect")[:, 0]
        else:
            x = F.pad(x, (pad, pad))
        spec = torch.stft(
            x,
            self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window,
            center=False,
            return_complex=True,
        )
        mag = torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + 1e-12)  # eps: finite gradient at silence
        mel = torch.matmul(self.mel_basis, mag)
        return torch.log10(mel.clamp_min(self.floor))


class LogMelL1(nn.Module):
    """``L1(log-mel(pred), log-mel(target))`` over ``Tensor[B x 1 x N]`` waveforms of equal length."""

    def __init__(self, **mel_kwargs) -> None:
        super().__init__()
        self.mel = LogMel(**mel_kwargs)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if pred.shape[-1] != target.shape[-1]:
            raise ValueError(f"waveform lengths differ: {pred.shape[-1]} vs {target.shape[-1]}")
        return F.l1_loss(self.mel(pred), self.mel(target))
