"""Waveform discriminators for the adversarial synthesizer: multi-scale complex STFT and multi-period.

The shipped tokenizers were trained with L1 and spectral losses only; such decoders smear transients and
fill quiet parts of the spectrum with a noise floor. Neural codecs and vocoders fix that with two kinds of
discriminator, both here:

* `MultiScaleSTFTDiscriminator` (EnCodec, Defossez et al. 2022, Sec. 3.4; DAC, Kumar et al. 2023): 2-D convs on
  the complex STFT (real and imaginary parts as 2 channels) at several resolutions, so it sees phase and the
  fine structure of every band, quiet ones included.
* `MultiPeriodDiscriminator` (HiFi-GAN, Kong et al. 2020, Sec. 2.2): the waveform reshaped to
  ``[T / p x p]`` for prime periods ``p``, then 2-D convs with kernels ``(k x 1)``, so each sub-discriminator
  judges the periodic structure of the samples ``p`` apart (harmonics, transients) on the raw waveform.

Every discriminator takes ``Tensor[B x 1 x T]`` and returns ``(list[logits], list[list[feature_maps]])``: one
entry per sub-discriminator (resolution or period), the feature maps for feature matching. The STFT is
computed in float32 with autocast off (bfloat16 STFTs lose the quiet bands); the convolutions follow the
autocast state. Every size is a constructor argument; `AUDIO_DISCRIMINATOR_PRESETS` holds named sizes and
`build_audio_discriminator` turns a spec (preset name or dict) into a module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import weight_norm

from ..errors import ConfigError
from ..nn.gan_blocks import DiscriminatorOutput, activations, collect_outputs, records_config


def _wn_conv2d(c_in: int, c_out: int, kernel: tuple[int, int], stride=(1, 1), dilation=(1, 1), padding=None):
    """Weight-normalised Conv2d; ``padding=None`` keeps the size along each axis when its stride is 1."""
    if padding is None:
        padding = tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation))
    return weight_norm(nn.Conv2d(c_in, c_out, kernel, stride=stride, dilation=dilation, padding=padding))


class STFTDiscriminator(nn.Module):
    """One resolution: complex STFT -> 2-D convs over (time x frequency) -> a map of patch logits.

    Layout (EnCodec's): ``Conv2d(2 -> channels, (3 x 9))``, then ``len(dilations)`` convs ``(3 x 9)`` with
    dilation ``d`` along time and stride 2 along frequency, a ``(3 x 3)`` conv, and a ``(3 x 3)`` conv to one
    logit per (frame, band) patch. Channels grow by ``growth`` per strided layer up to ``max_channels``.

    x: Tensor[B x 1 x T] -> (logits Tensor[B x 1 x frames x bands], feature maps).
    Built by `MultiScaleSTFTDiscriminator`, which holds the default sizes.
    """

    def __init__(
        self,
        *,
        n_fft: int,
        hop_length: int | None = None,
        channels: int,
        max_channels: int,
        growth: int,
        dilations: Sequence[int],
        normalize_stft: bool,
    ) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop_length or n_fft // 4
        self.normalize_stft = normalize_stft
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        layers: list[nn.Module] = [_wn_conv2d(2, channels, (3, 9))]
        ch = channels
        for d in dilations:
            out = min(ch * growth, max_channels)
            layers.append(_wn_conv2d(ch, out, (3, 9), stride=(1, 2), dilation=(d, 1), padding=(d, 4)))
            ch = out
        layers.append(_wn_conv2d(ch, ch, (3, 3)))
        self.layers = nn.ModuleList(layers)
        self.post = _wn_conv2d(ch, 1, (3, 3))

    def spectrogram(self, x: torch.Tensor) -> torch.Tensor:
        """x: Tensor[B x 1 x T] -> Tensor[B x 2 x frames x (n_fft/2+1)] (real, imaginary), float32."""
        with torch.autocast(device_type=x.device.type, enabled=False):
            z = torch.stft(
                x.reshape(-1, x.shape[-1]).float(), self.n_fft, self.hop, self.n_fft, self.window,
                center=True, normalized=self.normalize_stft, return_complex=True,
            )  # fmt: skip
            return torch.stack([z.real, z.imag], dim=1).transpose(2, 3).contiguous()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        feats = activations(self.layers, self.spectrogram(x))
        return self.post(feats[-1]), feats


class _DiscriminatorSet(nn.Module):
    """Several sub-discriminators (``self.discriminators``) on the same waveform: their logits and features."""

    discriminators: nn.ModuleList

    def forward(self, x: torch.Tensor) -> DiscriminatorOutput:
        return collect_outputs(d(x) for d in self.discriminators)


class MultiScaleSTFTDiscriminator(_DiscriminatorSet):
    """`STFTDiscriminator` s at several FFT sizes (hop = n_fft / 4), e.g. 2048 / 1024 / 512 at 22.05 kHz.

    forward: Tensor[B x 1 x T] -> (list[logits], list[list[feature maps]]), one entry per FFT size.
    """

    @records_config
    def __init__(
        self,
        *,
        n_ffts: Sequence[int] = (2048, 1024, 512),
        channels: int = 32,
        max_channels: int = 256,
        growth: int = 1,
        dilations: Sequence[int] = (1, 2, 4),
        normalize_stft: bool = True,
    ) -> None:
        super().__init__()
        sizes = {k: v for k, v in self.config.items() if k != "n_ffts"}
        self.discriminators = nn.ModuleList(STFTDiscriminator(n_fft=n, **sizes) for n in n_ffts)


class PeriodDiscriminator(nn.Module):
    """One period ``p``: Tensor[B x 1 x T] -> reflect-padded to a multiple of ``p`` -> ``[B x 1 x T/p x p]``
    -> ``n_layers`` convs ``(kernel x 1)`` with stride ``(stride x 1)`` (channels x ``growth`` per layer, up to
    ``max_channels``) -> a ``(kernel x 1)`` conv -> a ``(3 x 1)`` conv to one logit per (frame, phase).

    The columns never mix, so each conv sees only samples ``p`` apart (HiFi-GAN). Built by
    `MultiPeriodDiscriminator`, which holds the default sizes.
    """

    def __init__(
        self,
        *,
        period: int,
        channels: int,
        max_channels: int,
        growth: int,
        n_layers: int,
        kernel_size: int,
        stride: int,
    ) -> None:
        super().__init__()
        self.period = period
        pad = (kernel_size - 1) // 2
        layers: list[nn.Module] = []
        c_in, ch = 1, channels
        for _ in range(n_layers):
            layers.append(_wn_conv2d(c_in, ch, (kernel_size, 1), stride=(stride, 1), padding=(pad, 0)))
            c_in, ch = ch, min(ch * growth, max_channels)
        layers.append(_wn_conv2d(c_in, c_in, (kernel_size, 1), padding=(pad, 0)))
        self.layers = nn.ModuleList(layers)
        self.post = _wn_conv2d(c_in, 1, (3, 1), padding=(1, 0))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        b, c, t = x.shape
        extra = (-t) % self.period
        if extra:
            x = F.pad(x, (0, extra), mode="reflect" if extra < t else "constant")
        feats = activations(self.layers, x.reshape(b, c, -1, self.period))
        return self.post(feats[-1]), feats


class MultiPeriodDiscriminator(_DiscriminatorSet):
    """`PeriodDiscriminator` s for several periods (HiFi-GAN's primes 2, 3, 5, 7, 11: little overlap).

    forward: Tensor[B x 1 x T] -> (list[logits], list[list[feature maps]]), one entry per period.
    """

    @records_config
    def __init__(
        self,
        *,
        periods: Sequence[int] = (2, 3, 5, 7, 11),
        channels: int = 32,
        max_channels: int = 512,
        growth: int = 4,
        n_layers: int = 4,
        kernel_size: int = 5,
        stride: int = 3,
    ) -> None:
        super().__init__()
        sizes = {k: v for k, v in self.config.items() if k != "periods"}
        self.discriminators = nn.ModuleList(PeriodDiscriminator(period=p, **sizes) for p in periods)


#: Named sizes. ``tiny`` runs a CPU training step in a fraction of a second (tests); ``base`` is the GPU one.
AUDIO_DISCRIMINATOR_PRESETS: dict[str, dict[str, Any]] = {
    "stft": dict(kind="stft", n_ffts=[2048, 1024, 512], channels=32, max_channels=256, growth=1),
    "stft-tiny": dict(kind="stft", n_ffts=[256, 128], channels=4, max_channels=4, dilations=[1, 2]),
    "period": dict(kind="period", periods=[2, 3, 5, 7, 11], channels=32, max_channels=256, growth=4),
    "period-tiny": dict(kind="period", periods=[2, 3], channels=4, max_channels=8, growth=2, n_layers=2),
}

_KINDS: dict[str, type[nn.Module]] = {"stft": MultiScaleSTFTDiscriminator, "period": MultiPeriodDiscriminator}


def build_audio_discriminator(spec: Mapping[str, Any] | str) -> nn.Module:
    """A discriminator from a preset name (`AUDIO_DISCRIMINATOR_PRESETS`) or a dict: ``{"preset": name,
    **overrides}`` or ``{"kind": "stft" | "period", **constructor kwargs}``."""
    spec = {"preset": spec} if isinstance(spec, str) else dict(spec)
    name = spec.pop("preset", None)
    if name is not None:
        if name not in AUDIO_DISCRIMINATOR_PRESETS:
            raise ConfigError(f"unknown audio discriminator preset {name!r} ({', '.join(AUDIO_DISCRIMINATOR_PRESETS)})")
        spec = {**AUDIO_DISCRIMINATOR_PRESETS[name], **spec}
    kind = spec.pop("kind", None)
    if kind not in _KINDS:
        raise ConfigError(f"audio discriminator kind must be one of {', '.join(_KINDS)}, got {kind!r}")
    try:
        return _KINDS[kind](**spec)
    except TypeError as e:
        raise ConfigError(f"bad {kind} discriminator setting: {e}") from e


__all__ = [
    "AUDIO_DISCRIMINATOR_PRESETS",
    "MultiPeriodDiscriminator",
    "MultiScaleSTFTDiscriminator",
    "PeriodDiscriminator",
    "STFTDiscriminator",
    "build_audio_discriminator",
]
