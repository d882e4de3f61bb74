"""Multi-scale patch discriminators (MelGAN-style), for VQ feature sequences and for waveforms.

D2M-GAN's discriminator (paper Sec. 3.3; official ``Discriminator(num_D=3, ndf=32, n_layers=4,
downsamp=4)``) never sees audio: it scores the generator's continuous VQ features against the VQ-VAE encoder's
output for the real music. Three copies look at the sequence at 1x, 2x and 4x average-pooled resolution and
each returns a sequence of window (patch) logits rather than one score, so the hinge loss judges every window.

Input modes:

* ``flatten=True`` (the paper's "reshape trick", ``xs.view(B, 1, -1)``): ``Tensor[B x C x T]`` is flattened
  channel-major to ``Tensor[B x 1 x (C*T)]`` -- channel 0's whole time series, then channel 1's, ...
* ``flatten=False``: the ``C``-channel sequence goes in as it is (``in_channels = C``), so every window is a
  stretch of time with all 64 latent dimensions.

With ``in_channels=1`` and ``flatten=False`` the same class is MelGAN's waveform discriminator, used to
fine-tune the synthesizer (`training.synth_task`).

Genre conditioning (``num_genres > 0``, not in the paper): each scale adds a projection term (Miyato & Koyama,
"cGANs with Projection Discriminator", 2018) to every window logit, the inner product of that window's last
feature vector with a learned embedding of the clip's genre (one extra row for "unknown"), initialised to zero
so training starts from the unconditional discriminator. Music of the wrong genre for the dance then scores as
fake, which an unconditional discriminator cannot tell; with the generator's own genre input hidden at random,
the generator has to read the genre off the dance to pass.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

from ..nn.gan_blocks import LEAKY_SLOPE, DiscriminatorOutput, collect_outputs, genre_index, records_config, wn_conv1d


class PatchDiscriminator(nn.Module):
    """One scale: ``Tensor[B x in_channels x T]`` -> (logits ``Tensor[B x 1 x W]``, feature maps).

    ``W ~ T / downsample ** n_layers`` windows.

    Layer 0: ``Conv1d(in_channels -> channels, 15)``; layers 1..n_layers: grouped strided convs
    ``Conv1d(k = 10 * downsample + 1, stride = downsample)`` multiplying the width by ``downsample`` up to
    ``max_channels``; then ``Conv1d(k=5)`` and ``Conv1d(-> 1, k=3)`` giving one logit per window.
    Feature maps (for feature matching) are the activations after every layer but the last.
    Built by `MultiScaleDiscriminator`, which holds the default sizes.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        channels: int,
        max_channels: int,
        n_layers: int,
        downsample: int,
        groups_divisor: int,
        num_genres: int,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Sequential(wn_conv1d(in_channels, channels, 15), nn.LeakyReLU(LEAKY_SLOPE))]
        ch = channels
        for _ in range(n_layers):
            out = min(ch * downsample, max_channels)
            groups = max(1, ch // groups_divisor)
            while ch % groups or out % groups:  # grouped convs need both widths divisible
                groups -= 1
            layers.append(
                nn.Sequential(
                    wn_conv1d(ch, out, downsample * 10 + 1, stride=downsample, groups=groups),
                    nn.LeakyReLU(LEAKY_SLOPE),
                )
            )
            ch = out
        out = min(ch * 2, max_channels)
        layers.append(nn.Sequential(wn_conv1d(ch, out, 5), nn.LeakyReLU(LEAKY_SLOPE)))
        layers.append(wn_conv1d(out, 1, 3))
        self.layers = nn.ModuleList(layers)
        self.num_genres = num_genres
        self.genre_embedding = nn.Embedding(num_genres + 1, out) if num_genres > 0 else None
        if self.genre_embedding is not None:
            nn.init.zeros_(self.genre_embedding.weight)

    def forward(self, x: torch.Tensor, genre: torch.Tensor | None = None) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """x: Tensor[B x C x T]; genre: LongTensor[B] (negative = unknown), used with ``num_genres > 0``."""
        feats = []
        for layer in self.layers[:-1]:
            x = layer(x)
            feats.append(x)
        logits = self.layers[-1](x)
        if self.genre_embedding is not None:
            g = genre_index(genre, x.shape[0], self.num_genres, x.device)
            logits = logits + (self.genre_embedding(g)[:, :, None] * x).sum(1, keepdim=True)
        return logits, feats


class MultiScaleDiscriminator(nn.Module):
    """``num_scales`` `PatchDiscriminator` s on the input at 1x, 2x, 4x ... average-pooled resolution.

    forward: ``Tensor[B x C x T]`` -> ``(list[logits Tensor[B x 1 x W_s]], list[list[feature maps]])``, one
    entry per scale (finest first). With ``flatten`` the input is first reshaped to ``Tensor[B x 1 x C*T]``.
    """

    @records_config
    def __init__(
        self,
        *,
        in_channels: int = 1,
        flatten: bool = True,
        num_scales: int = 3,
        channels: int = 32,
        max_channels: int = 1024,
        n_layers: int = 4,
        downsample: int = 4,
        groups_divisor: int = 4,
        num_genres: int = 0,
    ) -> None:
        super().__init__()
        self.flatten = flatten
        self.in_channels = in_channels
        sizes = {k: v for k, v in self.config.items() if k not in ("flatten", "num_scales")}
        sizes["in_channels"] = 1 if flatten else in_channels
        self.discriminators = nn.ModuleList([PatchDiscriminator(**sizes) for _ in range(num_scales)])
        # As the official code / MelGAN: halve the resolution between scales, ignoring padding in the mean.
        self.pool = nn.AvgPool1d(4, stride=2, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor, genre: torch.Tensor | None = None) -> DiscriminatorOutput:
        """x: Tensor[B x C x T]; genre: LongTensor[B] for a genre-conditioned discriminator (else ignored).

        Per scale (finest first): logits ``Tensor[B x 1 x windows]`` and feature maps."""
        if self.flatten:
            x = x.reshape(x.shape[0], 1, -1)  # channel-major: [c0 t0..tT, c1 t0..tT, ...]
        elif x.shape[1] != self.in_channels:
            raise ValueError(f"discriminator expects {self.in_channels} channels, got {x.shape[1]}")
        return collect_outputs(d(h, genre) for d, h in zip(self.discriminators, self._scales(x)))

    def _scales(self, x: torch.Tensor) -> Iterator[torch.Tensor]:
        """The input of each scale: ``x``, then pooled once more for each next scale."""
        for i in range(len(self.discriminators)):
            if i:
                x = self.pool(x)
            yield x
