"""D2M-GAN generators: dance (motion + visual features) -> continuous VQ features.

Two designs share one call signature (see `D2MGenerator.forward`):

* `D2MGenerator`, the default: fully convolutional along TIME and aligned with the dance. The motion module
  and the visual module run at the input frame rate (30 fps); their features are resampled by timestamps to
  the code rate (``sample_rate / hop_length`` per second) and the VQ generator runs there. The music at second
  ``t`` therefore comes from the dance around second ``t`` and any length works (the official code is fixed
  at 2 s and not aligned in time; D2M-GAN issue #10).
* `OfficialGenerator`: the official code's shapes (L-YeZhu/D2M-GAN ``d2m/d2m_modules.py``): motion frames as
  convolution channels, a per-segment visual vector, fixed length (344 top codes or 1378 lower codes for 2 s).
  Kept for comparison and benchmarking.

Both end in ``tanh(.) * sigma`` (paper Sec. 3.2), so the output lies in the codebook's range; ``sigma`` is
a buffer that `set_sigma_from_codebook` sets from the frozen VQ-VAE's codebook (the official code: 100).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..nn.gan_blocks import LEAKY_SLOPE, ResidualStack, genre_index, records_config, resample_time, wn_conv1d

#: Tempo (BPM) that maps to 0 in the generator's log-tempo input.
REFERENCE_BPM = 120.0


class _SigmaMixin:
    """Shared handling of the output scale ``sigma`` (a float buffer)."""

    sigma: torch.Tensor

    @torch.no_grad()
    def set_sigma_from_codebook(self, codebook: torch.Tensor, margin: float = 1.0) -> None:
        """Set ``sigma = margin * max |codebook|`` so that ``tanh(.) * sigma`` covers every code vector.

        codebook: ``Tensor[K x latent_dim]`` (the VQ-VAE level's code vectors).
        """
        self.sigma.fill_(float(codebook.detach().abs().max()) * margin)


def tempo_features(tempo: torch.Tensor | None, batch: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``Tensor[B x 2]``: (log2(bpm / 120), known flag); unknown (None, NaN or <= 0) gives (0, 0)."""
    if tempo is None:
        return torch.zeros(batch, 2, device=device, dtype=dtype)
    tempo = tempo.to(device=device, dtype=dtype).reshape(batch)
    known = torch.isfinite(tempo) & (tempo > 0)
    safe = torch.where(known, tempo, torch.full_like(tempo, REFERENCE_BPM))
    return torch.stack([torch.log2(safe / REFERENCE_BPM), known.to(dtype)], dim=1)


class D2MGenerator(_SigmaMixin, nn.Module):
    """The default, time-aligned D2M-GAN generator G = {G_m, G_v, G_vq} for one VQ level.

    Motion module G_m: ``Conv1d(motion_dim -> motion_channels, kernel_size)`` + ``motion_stacks`` dilated
    residual stacks, at ``input_fps``. Visual module G_v: the same on visual features (none if visual_dim 0).
    Both are resampled to the code rate; the VQ generator G_vq concatenates them with the genre embedding,
    the tempo input, the dance's rhythm (`features.rhythm`, when ``rhythm_dim > 0``) and optional noise,
    and runs ``Conv1d(kernel_size)`` + ``vq_stacks`` residual stacks +
    ``Conv1d(channels -> latent_dim, kernel_size)`` + ``tanh * sigma``.

    ``rhythm_window`` records the phase window (beats) of the training grids (`D2M.rhythm_window`).

    Inputs are standardised with ``motion_mean/std`` and ``visual_mean/std`` buffers (set from the training
    data by the training task, saved with the weights), so raw `Motion.features()` go in.
    """

    @records_config
    def __init__(
        self,
        *,
        motion_dim: int = 53,
        visual_dim: int = 0,
        input_fps: float = 30.0,
        sample_rate: int = 22050,
        hop_length: int = 128,
        latent_dim: int = 64,
        motion_channels: int = 128,
        visual_channels: int = 64,
        channels: int = 128,
        kernel_size: int = 7,
        residual_kernel_size: int = 3,
        dilations: Sequence[int] = (1, 3, 9, 27),
        motion_stacks: int = 2,
        vq_stacks: int = 2,
        num_genres: int = 10,
        genre_dim: int = 32,
        use_tempo: bool = True,
        noise_dim: int = 0,
        rhythm_dim: int = 0,
        rhythm_window: float = 3.0,
        sigma: float = 100.0,
    ) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd for a time-aligned generator, got {kernel_size}")
        self.motion_dim, self.visual_dim = motion_dim, visual_dim
        self.input_fps = float(input_fps)
        self.sample_rate, self.hop_length, self.latent_dim = sample_rate, hop_length, latent_dim
        self.num_genres, self.genre_dim = num_genres, genre_dim
        self.use_tempo, self.noise_dim, self.rhythm_dim = use_tempo, noise_dim, rhythm_dim
        self.rhythm_window = float(rhythm_window)  # the phase window (beats) of the grids it learned from

        def module(in_dim: int, width: int, stacks: int) -> nn.Sequential:
            layers: list[nn.Module] = [wn_conv1d(in_dim, width, kernel_size)]
            layers += [
                ResidualStack(width, dilations=dilations, kernel_size=residual_kernel_size) for _ in range(stacks)
            ]
            return nn.Sequential(*layers)

        self.motion_module = module(motion_dim, motion_channels, motion_stacks)
        self.visual_module = module(visual_dim, visual_channels, motion_stacks) if visual_dim > 0 else None
        self.genre_embedding = nn.Embedding(num_genres + 1, genre_dim) if num_genres > 0 and genre_dim > 0 else None
        fused = (
            motion_channels
            + (visual_channels if visual_dim > 0 else 0)
            + (genre_dim if self.genre_embedding is not None else 0)
            + (2 if use_tempo else 0)
            + rhythm_dim
            + noise_dim
        )
        self.vq_generator = nn.Sequential(
            module(fused, channels, vq_stacks),
            nn.LeakyReLU(LEAKY_SLOPE),
            wn_conv1d(channels, latent_dim, kernel_size),
            nn.Tanh(),
        )
        self.register_buffer("sigma", torch.tensor(float(sigma)))
        self.register_buffer("motion_mean", torch.zeros(motion_dim))
        self.register_buffer("motion_std", torch.ones(motion_dim))
        self.register_buffer("visual_mean", torch.zeros(max(visual_dim, 0)))
        self.register_buffer("visual_std", torch.ones(max(visual_dim, 0)))

        # Half receptive fields, for alignment checks and for chunked inference.
        stack_reach = sum(d * (residual_kernel_size - 1) // 2 for d in dilations)
        self._input_reach_frames = (kernel_size - 1) // 2 + motion_stacks * stack_reach
        self._code_reach = (kernel_size - 1) + vq_stacks * stack_reach

    # ---- timelines -------------------------------------------------------------------------------------
    @property
    def code_rate(self) -> float:
        """Codes per second: ``sample_rate / hop_length`` (172.3 for the top level, 689 for the lower)."""
        return self.sample_rate / self.hop_length

    def num_codes_for(self, num_frames: int) -> int:
        """Codes for ``num_frames`` input frames: ``round(duration * sample_rate / hop_length)`` (>= 1)."""
        return max(1, int(round(num_frames / self.input_fps * self.code_rate)))

    @property
    def receptive_field_seconds(self) -> float:
        """How far (seconds) each side of its own time one output code can see into the input."""
        return (self._input_reach_frames + 1) / self.input_fps + self._code_reach / self.code_rate

    @torch.no_grad()
    def set_input_stats(
        self,
        motion_mean: torch.Tensor,
        motion_std: torch.Tensor,
        visual_mean: torch.Tensor | None = None,
        visual_std: torch.Tensor | None = None,
    ) -> None:
        """Set the input standardisation (``Tensor[motion_dim]``, ``Tensor[visual_dim]``); floors the stds."""
        self.motion_mean.copy_(motion_mean)
        self.motion_std.copy_(motion_std.clamp_min(1e-3))
        if self.visual_dim > 0 and visual_mean is not None and visual_std is not None:
            self.visual_mean.copy_(visual_mean)
            self.visual_std.copy_(visual_std.clamp_min(1e-3))

    # ---- forward ---------------------------------------------------------------------------------------
    def forward(
        self,
        motion: torch.Tensor,
        visual: torch.Tensor | None = None,
        *,
        genre: torch.Tensor | None = None,
        tempo: torch.Tensor | None = None,
        num_codes: int | None = None,
        noise: torch.Tensor | None = None,
        rhythm: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Dance features -> continuous VQ features.

        motion: ``Tensor[B x motion_dim x T_m]`` at ``input_fps`` (`Motion.features()` transposed).
        visual: ``Tensor[B x visual_dim x T_v]`` at ``input_fps``; required when ``visual_dim > 0``.
        genre: ``Tensor[B]`` genre indices (`constants.GENRES`); None or negative = unknown.
        tempo: ``Tensor[B]`` in BPM; None, NaN or <= 0 = unknown.
        num_codes: output length; default ``round(T_m / input_fps * sample_rate / hop_length)``.
        noise: ``Tensor[B x noise_dim x num_codes]``; default standard normal (seed with `torch.manual_seed`).
        rhythm: ``Tensor[B x rhythm_dim x T_m]`` at ``input_fps`` (`features.rhythm.Rhythm.features()`
            transposed); required when ``rhythm_dim > 0``. It is resampled to the code rate as it is.
        Returns ``Tensor[B x latent_dim x num_codes]`` in ``[-sigma, sigma]``; code ``k`` is the music at
        time ``k * hop_length / sample_rate`` of the dance.
        """
        if motion.dim() != 3 or motion.shape[1] != self.motion_dim:
            raise ValueError(f"motion must be [B, {self.motion_dim}, T], got {tuple(motion.shape)}")
        batch, device, dtype = motion.shape[0], motion.device, motion.dtype
        n = self.num_codes_for(motion.shape[-1]) if num_codes is None else int(num_codes)
        m = (motion - self.motion_mean[:, None]) / self.motion_std[:, None]
        parts = [resample_time(self.motion_module(m), self.input_fps, self.code_rate, n)]
        if self.visual_module is not None:
            if visual is None or visual.dim() != 3 or visual.shape[1] != self.visual_dim:
                got = None if visual is None else tuple(visual.shape)
                raise ValueError(f"visual must be [B, {self.visual_dim}, T], got {got}")
            v = (visual - self.visual_mean[:, None]) / self.visual_std[:, None]
            parts.append(resample_time(self.visual_module(v), self.input_fps, self.code_rate, n))
        if self.genre_embedding is not None:
            g = self.genre_embedding(genre_index(genre, batch, self.num_genres, device))
            parts.append(g[:, :, None].expand(-1, -1, n))
        if self.use_tempo:
            parts.append(tempo_features(tempo, batch, device, dtype)[:, :, None].expand(-1, -1, n))
        if self.rhythm_dim > 0:
            if rhythm is None or rhythm.dim() != 3 or rhythm.shape[1] != self.rhythm_dim:
                got = None if rhythm is None else tuple(rhythm.shape)
                raise ValueError(f"rhythm must be [B, {self.rhythm_dim}, T], got {got}")
            parts.append(resample_time(rhythm.to(dtype), self.input_fps, self.code_rate, n))
        if self.noise_dim > 0:
            if noise is None:
                noise = torch.randn(batch, self.noise_dim, n, device=device, dtype=dtype)
            parts.append(noise)
        return self.vq_generator(torch.cat(parts, dim=1)) * self.sigma


class _OfficialResBlock(nn.Module):
    """The official ``ResnetBlock(dim, d)``: reflection-padded dilated conv unit plus a 1x1-conv shortcut."""

    def __init__(self, dim: int, dilation: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.LeakyReLU(LEAKY_SLOPE),
            nn.ReflectionPad1d(dilation),
            wn_conv1d(dim, dim, 3, dilation=dilation, padding=0),
            nn.LeakyReLU(LEAKY_SLOPE),
            wn_conv1d(dim, dim, 1),
        )
        self.shortcut = wn_conv1d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.block(x)


def _official_stage(
    in_ch: int, out_ch: int, kernel: int, *, stride: int = 1, padding: int = 1, pre_pad: int = 0,
    act: bool = True, resblocks: bool = True,
) -> nn.Sequential:  # fmt: skip
    layers: list[nn.Module] = [nn.LeakyReLU(LEAKY_SLOPE)] if act else []
    if pre_pad:
        layers.append(nn.ReflectionPad1d(pre_pad))
    layers.append(wn_conv1d(in_ch, out_ch, kernel, stride=stride, padding=padding))
    if resblocks:
        layers += [_OfficialResBlock(out_ch, d) for d in (1, 3, 9, 27)]
    return nn.Sequential(*layers)


class OfficialGenerator(_SigmaMixin, nn.Module):
    """The official code's generator shapes, for comparison (reference ``d2m-gan.md`` Sec. 1.3).

    Motion module: ``Linear(motion_dim -> 800)`` per frame, then the ``motion_frames`` frames act as Conv1d
    channels (120 x 219 at 60 fps in the official AIST++ setting) -> ``Linear(786 -> 1024)``. There is no
    learned visual module: the per-segment visual vector (``visual_dim``, 2048 I3D in the paper; here the
    time average of the visual input) is concatenated with the motion code and a 256-d genre embedding.
    ``level="top"``: ``Linear(3328 -> 2058)`` -> conv stack -> ``Tensor[B x 64 x 344]``; ``level="lower"``:
    ``Linear(3328 -> 2048)`` -> conv stack -> ``Linear(1045 -> 1378)`` -> ``Tensor[B x 64 x 1378]``.
    Fixed length (2 s at 22.05 kHz) and no time alignment: that is the point of comparison.
    An unknown genre uses the mean of the genre embeddings (the official code always has one).
    """

    TOP_CODES, LOWER_CODES = 344, 1378

    @records_config
    def __init__(
        self,
        *,
        level: str = "top",
        motion_dim: int = 219,
        motion_frames: int = 120,
        visual_dim: int = 2048,
        num_genres: int = 10,
        genre_dim: int = 256,
        latent_dim: int = 64,
        sigma: float = 100.0,
        input_fps: float = 60.0,
        sample_rate: int = 22050,
    ) -> None:
        super().__init__()
        if level not in ("top", "lower"):
            raise ValueError(f"level must be 'top' or 'lower', got {level!r}")
        self.level, self.motion_dim, self.motion_frames = level, motion_dim, motion_frames
        self.visual_dim = visual_dim
        self.num_genres, self.latent_dim, self.input_fps = num_genres, latent_dim, float(input_fps)
        self.sample_rate = sample_rate
        self.hop_length = 128 if level == "top" else 32
        self.num_codes = self.TOP_CODES if level == "top" else self.LOWER_CODES
        self.register_buffer("sigma", torch.tensor(float(sigma)))

        # motion_encoder: 800 -> 795 -> 792 -> 789 -> 786 along the per-frame feature axis
        self.motion_in = nn.Linear(motion_dim, 800)
        self.motion_convs = nn.Sequential(
            wn_conv1d(motion_frames, 256, 6, padding=0),
            nn.ReLU(),
            *[_OfficialResBlock(256, d) for d in (1, 3, 9, 27)],
            _official_stage(256, 512, 4, padding=0),
            _official_stage(512, 1024, 4, padding=0),
            _official_stage(1024, 1, 4, padding=0, resblocks=False),
        )
        self.motion_out = nn.Linear(786, 1024)
        self.genre_embedding = nn.Embedding(num_genres, genre_dim)
        fused = 1024 + visual_dim + genre_dim
        if level == "top":
            self.fuse = nn.Linear(fused, 2058)
            self.convs = nn.Sequential(  # 2058 -> 1028 -> 495 -> 457 -> 419 -> 381 -> 344
                _official_stage(1, 32, 6, stride=2, act=False),
                _official_stage(32, 64, 41, stride=2),
                _official_stage(64, 128, 41),
                _official_stage(128, 256, 41),
                _official_stage(256, 512, 41),
                _official_stage(512, latent_dim, 40, resblocks=False),
                nn.Tanh(),
            )
            self.out_fc = None
        else:
            self.fuse = nn.Linear(fused, 2048)
            self.convs = nn.Sequential(  # 2048 -> 1026 -> 1089 -> 590 -> 681 -> 772 -> 863 -> 954 -> 1045
                _official_stage(1, 32, 6, stride=2, pre_pad=3, act=False),
                _official_stage(32, 64, 4, pre_pad=32, resblocks=False),
                _official_stage(64, 128, 40, stride=2, pre_pad=64),
                _official_stage(128, 256, 40, pre_pad=64),
                _official_stage(256, 512, 40, pre_pad=64),
                _official_stage(512, 1024, 40, pre_pad=64),
                _official_stage(1024, 1024, 40, pre_pad=64, resblocks=False),
                _official_stage(1024, latent_dim, 40, pre_pad=64, resblocks=False),
                nn.Tanh(),
            )
            self.out_fc = nn.Linear(1045, self.LOWER_CODES)

    @property
    def code_rate(self) -> float:
        return self.sample_rate / self.hop_length

    @property
    def receptive_field_seconds(self) -> float:
        """Every output sees the whole (fixed) segment."""
        return self.motion_frames / self.input_fps

    def num_codes_for(self, num_frames: int) -> int:
        return self.num_codes

    def forward(
        self,
        motion: torch.Tensor,
        visual: torch.Tensor | None = None,
        *,
        genre: torch.Tensor | None = None,
        tempo: torch.Tensor | None = None,
        num_codes: int | None = None,
        noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Same signature as `D2MGenerator.forward`; ``tempo`` and ``noise`` are ignored (not in the paper).

        motion: ``Tensor[B x motion_dim x motion_frames]`` exactly; visual: ``Tensor[B x visual_dim x T_v]``
        (averaged over time) or None (zeros). Returns ``Tensor[B x latent_dim x 344 | 1378]``.
        """
        if motion.dim() != 3 or motion.shape[1:] != (self.motion_dim, self.motion_frames):
            raise ValueError(
                f"the official-shape generator needs motion [B, {self.motion_dim}, {self.motion_frames}], "
                f"got {tuple(motion.shape)}"
            )
        if num_codes is not None and int(num_codes) != self.num_codes:
            raise ValueError(f"the official-shape generator makes exactly {self.num_codes} codes, not {num_codes}")
        batch = motion.shape[0]
        x = self.motion_in(motion.transpose(1, 2))  # [B, frames, 800]: frames are channels from here on
        mx = self.motion_out(self.motion_convs(x))  # [B, 1, 1024]
        if visual is None:
            vx = motion.new_zeros(batch, 1, self.visual_dim)
        else:
            vx = visual.mean(dim=-1, keepdim=True).transpose(1, 2)  # [B, 1, visual_dim]
        if genre is None:
            gx = self.genre_embedding.weight.mean(0).expand(batch, -1)
        else:
            g = genre.to(motion.device, torch.long).reshape(batch)
            known = (g >= 0) & (g < self.num_genres)
            gx = torch.where(
                known[:, None],
                self.genre_embedding(g.clamp(0, self.num_genres - 1)),
                self.genre_embedding.weight.mean(0).expand(batch, -1),
            )
        h = self.fuse(torch.cat([mx, vx, gx[:, None, :]], dim=2))  # [B, 1, 2058 | 2048]
        out = self.convs(h)
        if self.out_fc is not None:
            out = self.out_fc(out)
        return out * self.sigma


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


__all__ = ["D2MGenerator", "OfficialGenerator", "count_parameters", "tempo_features", "REFERENCE_BPM"]
