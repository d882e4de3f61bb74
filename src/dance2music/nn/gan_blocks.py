"""Convolution blocks shared by the D2M-GAN generator and discriminators.

Everything here works along TIME on tensors shaped ``Tensor[B x C x T]`` and is length-preserving unless a
stride says otherwise, so the models built from these blocks accept any length.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import weight_norm

#: Negative slope of every Leaky ReLU in the GAN (the paper and MelGAN use 0.2).
LEAKY_SLOPE = 0.2


#: What every discriminator returns: per sub-discriminator logits and per sub-discriminator feature maps.
DiscriminatorOutput = tuple[list[torch.Tensor], list[list[torch.Tensor]]]

_Init = TypeVar("_Init", bound=Callable[..., None])


def records_config(init: _Init) -> _Init:
    """Decorates a model's ``__init__``: ``self.config`` holds the arguments it received, defaults included,
    JSON-ready (tuples as lists), so ``cls(**config)`` rebuilds it. It is set before the body runs, which can
    hand it on to sub-modules.

    Checkpoints store this next to the weights so that one ``load(path)`` rebuilds the model.
    """
    signature = inspect.signature(init)

    @functools.wraps(init)
    def wrapper(self, *args, **kwargs) -> None:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        given = list(bound.arguments.items())[1:]  # without self
        self.config = {k: list(v) if isinstance(v, tuple) else v for k, v in given}
        init(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def collect_outputs(outputs: Iterable[tuple[torch.Tensor, list[torch.Tensor]]]) -> DiscriminatorOutput:
    """(logits, feature maps) of each sub-discriminator -> (all the logits, all the feature-map lists)."""
    logits, feats = [], []
    for out, f in outputs:
        logits.append(out)
        feats.append(f)
    return logits, feats


def activations(layers: Iterable[nn.Module], h: torch.Tensor) -> list[torch.Tensor]:
    """Each layer in turn on ``h`` followed by a Leaky ReLU: every activation (feature maps), the last one last."""
    feats = []
    for layer in layers:
        h = F.leaky_relu(layer(h), LEAKY_SLOPE)
        feats.append(h)
    return feats


def wn_conv1d(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    *,
    stride: int = 1,
    dilation: int = 1,
    groups: int = 1,
    padding: int | None = None,
    padding_mode: str = "zeros",
) -> nn.Conv1d:
    """A weight-normalised ``Conv1d``; ``padding=None`` pads to keep the length ("same") when stride is 1.

    Weight norm (as the official code and MelGAN) keeps the adversarial training of the generator and the
    discriminator stable without batch statistics, which also makes outputs independent of the batch.
    """
    if padding is None:
        padding = dilation * (kernel_size - 1) // 2
    conv = nn.Conv1d(
        in_channels,
        out_channels,
        kernel_size,
        stride=stride,
        dilation=dilation,
        groups=groups,
        padding=padding,
        padding_mode=padding_mode,
    )
    return weight_norm(conv)


class ResidualUnit(nn.Module):
    """``x + conv1x1(lrelu(conv_k,d(lrelu(x))))``: one dilated residual unit, ``Tensor[B x C x T] -> same``.

    ``kernel_size`` must be odd so that "same" padding is symmetric: output ``t`` then depends on inputs
    ``t - r .. t + r`` with ``r = dilation * (kernel_size - 1) / 2``, which keeps the model aligned in time.
    ``learned_shortcut`` adds the 1x1 convolution on the skip path that the official code uses.
    """

    def __init__(
        self,
        channels: int,
        *,
        dilation: int,
        kernel_size: int = 3,
        padding_mode: str = "zeros",
        learned_shortcut: bool = False,
    ) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd for a time-aligned block, got {kernel_size}")
        self.block = nn.Sequential(
            nn.LeakyReLU(LEAKY_SLOPE),
            wn_conv1d(channels, channels, kernel_size, dilation=dilation, padding_mode=padding_mode),
            nn.LeakyReLU(LEAKY_SLOPE),
            wn_conv1d(channels, channels, 1),
        )
        self.shortcut = wn_conv1d(channels, channels, 1) if learned_shortcut else nn.Identity()
        self.reach = dilation * (kernel_size - 1) // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.block(x)


class ResidualStack(nn.Sequential):
    """Residual units with growing dilations (default 1, 3, 9, 27): a wide receptive field at little cost.

    ``reach`` is how many steps each side one output looks at (the half receptive field).
    """

    def __init__(
        self,
        channels: int,
        *,
        dilations: Sequence[int] = (1, 3, 9, 27),
        kernel_size: int = 3,
        padding_mode: str = "zeros",
        learned_shortcut: bool = False,
    ) -> None:
        super().__init__(
            *[
                ResidualUnit(
                    channels,
                    dilation=d,
                    kernel_size=kernel_size,
                    padding_mode=padding_mode,
                    learned_shortcut=learned_shortcut,
                )
                for d in dilations
            ]
        )
        self.reach = sum(u.reach for u in self)  # type: ignore[attr-defined]


def resample_time(x: torch.Tensor, rate_in: float, rate_out: float, length_out: int) -> torch.Tensor:
    """Linear resampling along time by timestamps: ``Tensor[B x C x T_in] -> Tensor[B x C x length_out]``.

    Output sample ``k`` is the input at time ``k / rate_out`` seconds, i.e. at input position
    ``k * rate_in / rate_out`` (input sample ``i`` sits at ``i / rate_in``, as every timeline in the project),
    interpolated between its two neighbours and held at the ends. This is what keeps the generator aligned:
    the features for second ``t`` of music are computed from the dance around second ``t``, whatever the
    lengths. Differentiable in ``x``.
    """
    t_in = x.shape[-1]
    if t_in == 0:
        raise ValueError("cannot resample an empty sequence")
    pos = torch.arange(length_out, device=x.device, dtype=torch.float64) * (rate_in / rate_out)
    pos = pos.clamp(0, t_in - 1)
    i0 = pos.floor().long()
    i1 = (i0 + 1).clamp(max=t_in - 1)
    w = (pos - i0.to(pos.dtype)).to(x.dtype)
    return x.index_select(-1, i0) * (1 - w) + x.index_select(-1, i1) * w


def genre_index(genre: torch.Tensor | None, batch: int, num_genres: int, device: torch.device) -> torch.Tensor:
    """Genre indices ``LongTensor[B]`` with unknown (None, negative or out of range) mapped to ``num_genres``,
    the extra row of a genre embedding."""
    if genre is None:
        return torch.full((batch,), num_genres, dtype=torch.long, device=device)
    genre = genre.to(device=device, dtype=torch.long).reshape(batch)
    return torch.where((genre < 0) | (genre >= num_genres), torch.full_like(genre, num_genres), genre)
