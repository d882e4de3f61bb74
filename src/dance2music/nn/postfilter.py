"""A learned spectral post-filter for a VQ-VAE decoder's output (issue 17: the decoders' noise floor).

A decoder trained to reconstruct from codes fills the quiet parts of the spectrum (between notes, above the
instruments' range) with a noise floor. The post-filter reads the decoded waveform's log-magnitude STFT and
predicts a gain in (0, 1) for every time-frequency bin; the decoded STFT times that gain, inverted, is the
output. It can only attenuate, so it cannot invent content; what it learns is where the decoder's output is
louder than the music it came from. Trained on round trips (music -> codes -> decoder) against the music's own
magnitudes (`scripts/train_postfilter.py`); the oracle gain ``min(|X| / |Y|, 1)`` is what it approximates.

The network is a stack of residual 1-D convolutions over time with the STFT's bins as channels (dilations
1, 2, 4, ...), so each bin's gain sees the whole spectrum of a few hundred milliseconds around it.
`apply` runs it on any length in bounded memory: windows of audio padded with real neighbouring samples, so the
joins are exact (the same result as one pass over the whole signal).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

#: log10 floor of the magnitudes (the project's log-mel distance floors its mel magnitudes at the same value).
LOG_FLOOR = 1e-5


class _Block(nn.Module):
    def __init__(self, channels: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(channels, channels, kernel, dilation=dilation, padding=dilation * (kernel - 1) // 2)
        self.conv2 = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.gelu(self.conv1(F.gelu(x))))


class SpectralPostfilter(nn.Module):
    """Gain mask over the decoded STFT.

    n_fft, hop: the STFT (Hann window, centred frames).
    channels, blocks, kernel: the residual stack's width, depth and kernel; block i has dilation ``2 ** i``.
    """

    def __init__(self, *, n_fft: int = 1024, hop: int = 256, channels: int = 256, blocks: int = 5, kernel: int = 3):
        super().__init__()
        if n_fft % hop:
            raise ValueError("n_fft must be a multiple of hop")
        self._kwargs = dict(n_fft=n_fft, hop=hop, channels=channels, blocks=blocks, kernel=kernel)
        self.n_fft, self.hop = n_fft, hop
        bins = n_fft // 2 + 1
        self.inp = nn.Conv1d(bins, channels, 1)
        self.blocks = nn.ModuleList(_Block(channels, kernel, 2**i) for i in range(blocks))
        self.out = nn.Conv1d(channels, bins, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.constant_(self.out.bias, 4.0)  # starts near unity gain (sigmoid(4) = 0.98): as decoded
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        #: STFT frames of context each side that one frame's gain depends on.
        self.context_frames = sum((kernel - 1) // 2 * 2**i for i in range(blocks))

    @property
    def config(self) -> dict[str, Any]:
        """Constructor keyword arguments: ``SpectralPostfilter(**f.config)`` rebuilds it."""
        return dict(self._kwargs)

    def stft(self, audio: torch.Tensor) -> torch.Tensor:
        """audio: Tensor[B x T] -> complex Tensor[B x bins x frames] (float32, whatever the autocast)."""
        return torch.stft(audio.float(), self.n_fft, self.hop, window=self.window, return_complex=True)

    def gain(self, magnitude: torch.Tensor) -> torch.Tensor:
        """magnitude: Tensor[B x bins x frames] -> gains in (0, 1) of the same shape."""
        x = self.inp(torch.log10(magnitude.clamp_min(LOG_FLOOR)))
        for block in self.blocks:
            x = block(x)
        return torch.sigmoid(self.out(F.gelu(x)))

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """audio: Tensor[B x 1 x T] -> the filtered Tensor[B x 1 x T] (one pass over the whole signal)."""
        b, c, t = audio.shape
        spec = self.stft(audio.reshape(b * c, t))
        spec = spec * self.gain(spec.abs())
        y = torch.istft(spec, self.n_fft, self.hop, window=self.window, length=t)
        return y.reshape(b, c, t).to(audio.dtype)

    @property
    def context_samples(self) -> int:
        """Samples each side that one output sample depends on, rounded up to whole hops."""
        return (self.context_frames + self.n_fft // self.hop) * self.hop

    @torch.no_grad()
    def apply(self, audio: torch.Tensor, chunk: int = 1 << 17) -> torch.Tensor:
        """`forward` in bounded memory: windows of ``chunk`` samples (a multiple of the hop), each with
        `context_samples` of real signal on both sides, so every frame inside a window is framed as in a whole
        pass and the result is the whole pass's up to float rounding. audio: Tensor[B x 1 x T]."""
        t = audio.shape[-1]
        chunk = max(self.hop, chunk // self.hop * self.hop)
        if t <= chunk:
            return self(audio)
        ctx = self.context_samples
        out = torch.empty_like(audio)
        for start in range(0, t, chunk):
            stop = min(t, start + chunk)
            lo, hi = max(0, start - ctx), min(t, stop + ctx)
            y = self(audio[..., lo:hi])
            out[..., start:stop] = y[..., start - lo : stop - lo]
        return out
