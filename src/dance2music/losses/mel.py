"""Log-mel spectrogram and its L1 distance, as the official D2M-GAN code's ``Audio2Mel`` loss.

Settings follow the official code (reference ``d2m-gan.md`` Sec. 1.5): 22.05 kHz, n_fft 1024, hop 256, window
1024, 128 mel bands, ``log10(clamp(mel, 1e-5))``. Computed with ``torch.stft`` so it is differentiable (the
generator is trained through it) and runs on any device; the filterbank comes from librosa once, at build time.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


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
        import librosa  # build-time only: the filterbank is a buffer afterwards

        fb = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
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
