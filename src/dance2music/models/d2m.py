"""The composed D2M-GAN model: generator + the frozen VQ-VAE level that turns its output into music.

``D2M`` holds a generator (`models.generator`) for one VQ level and the VQ-VAE (`models.vqvae`) whose codebook
and decoder of that level are the synthesizer (paper Sec. 3.2). It is what inference loads:

    model = D2M.from_pretrained("d2m-top")
    m, v = dance_tensors(motion, visual, model.visual_dim)
    out = model.generate(m, v, rhythm=estimate_rhythm(motion), genre=genre, seed=0)  # out.audio: [1 x 1 x N]

`generate` is the one generating path: the API (`api.Dance2Music`), the evaluation samples (`models.samples`),
the benchmarks and the ship check all run it, in windows of any length with the beat lock.

Builders turn config dicts into modules (`build_generator`, `build_discriminator`); the modules themselves
take typed keyword arguments and never see a config. A generator file is a safetensors file whose metadata
holds the generator spec (``kind`` + constructor kwargs), the VQ level's hop and which VQ-VAE it was trained
against (registered name + sha256), so one ``D2M.load(path)`` rebuilds everything.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..arrays import fit_length
from ..constants import MOTION_FPS
from ..errors import ConfigError, InputError, ModelError
from ..features.beats import beat_alignment, music_beats
from ..features.rhythm import Rhythm, for_generator
from ..io.files import atomic_output
from ..io.loudness import frame_levels_dbfs, normalize_loudness
from ..pretrained.registry import resolve
from ..types import MOTION_FEATURE_DIM, Motion, Visual
from .discriminator import MultiScaleDiscriminator
from .generator import D2MGenerator, OfficialGenerator
from .generator_file import FORMAT as _FORMAT
from .generator_file import FORMAT_VERSION as _FORMAT_VERSION
from .generator_file import generator_header
from .vqvae import VQVAE

#: Window starts are multiples of this many 30-fps frames: 128 frames = 4.27 s is a whole number of codes at
#: hop 128 (735) and hop 32 (2940) for 22.05 kHz, so windows share the whole-length run's code grid exactly.
_GRID_FRAMES = 128
#: The beat lock scores each try's music on at most this much of it (decoded twice: keep it short).
BEAT_LOCK_EXCERPT_S = 12.0
#: The genre code prior's silence guard (`D2M._unmuted`) judges the music as `d2m generate` delivers it: brought
#: to this loudness (LUFS, with its limiter), a frame of `MUTE_FRAME_S` under `MUTE_DBFS` is muted, as the silence
#: measure counts it (`metrics.evaluate_motion.SILENCE_DBFS`); while more than `MUTE_MAX_SHARE` of the frames are
#: muted, the muted stretches and `MUTE_PAD_S` on each side are looked up again with the prior's weight halved
#: (`PRIOR_BACKOFF` times, then without it); the rest keeps the full weight.
MUTE_LOUDNESS_LUFS = -16.0
MUTE_FRAME_S = 0.1
MUTE_DBFS = -40.0
MUTE_MAX_SHARE = 0.02
MUTE_PAD_S = 0.2
PRIOR_BACKOFF = 2

#: Generator architectures by name: ``kind`` picks the class, the rest are its keyword arguments.
GENERATOR_PRESETS: dict[str, dict[str, Any]] = {
    # For tests and smoke runs: a training step on CPU in well under a second.
    "tiny": dict(
        kind="aligned", motion_channels=16, visual_channels=8, channels=16, kernel_size=3,
        dilations=[1, 3], motion_stacks=1, vq_stacks=1, genre_dim=4,
    ),
    # The default: ~1.5 M parameters, much faster than real time on 2 CPU cores at both levels.
    "small": dict(
        kind="aligned", motion_channels=128, visual_channels=64, channels=128, kernel_size=7,
        dilations=[1, 3, 9, 27], motion_stacks=2, vq_stacks=2, genre_dim=32,
    ),
    # The official code's shapes (AIST++ setting: 120 frames x 219 SMPL features at 60 fps, I3D 2048).
    "official": dict(kind="official", level="top"),
    "official-lower": dict(kind="official", level="lower"),
}  # fmt: skip

#: Discriminator architectures by name (`MultiScaleDiscriminator` keyword arguments).
DISCRIMINATOR_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(flatten=False, in_channels=64, channels=8, max_channels=32, n_layers=2, downsample=2),
    # Default: the 64-channel variant (every window is a stretch of time with all latent dims); cheap on CPU.
    "small": dict(flatten=False, in_channels=64, channels=64, max_channels=256, n_layers=2, downsample=2),
    # The paper's reshape trick with the official sizes (num_D=3, ndf=32, n_layers=4, downsamp=4).
    "official": dict(flatten=True, in_channels=1, channels=32, max_channels=1024, n_layers=4, downsample=4),
    # MelGAN's waveform discriminator, for synthesizer fine-tuning.
    "waveform": dict(flatten=False, in_channels=1, channels=16, max_channels=1024, n_layers=4, downsample=4),
    "waveform-tiny": dict(flatten=False, in_channels=1, channels=4, max_channels=16, n_layers=2, downsample=4),
}


def _spec(presets: Mapping[str, Mapping[str, Any]], spec: Mapping[str, Any] | str, what: str) -> dict[str, Any]:
    """A preset name, or a dict with an optional ``preset`` key plus overrides -> the full kwargs dict."""
    if isinstance(spec, str):
        spec = {"preset": spec}
    spec = dict(spec)
    name = spec.pop("preset", None)
    if name is not None:
        if name not in presets:
            raise ConfigError(f"unknown {what} preset {name!r} (choose from {', '.join(presets)})")
        spec = {**presets[name], **spec}
    return spec


def build_generator(spec: Mapping[str, Any] | str, **overrides: Any) -> D2MGenerator | OfficialGenerator:
    """Build a generator from a preset name or a spec dict (``preset``/``kind`` + keyword arguments).

    ``overrides`` (e.g. ``hop_length`` and ``visual_dim`` decided by the data and the VQ-VAE) win over the spec.
    """
    kwargs = {**_spec(GENERATOR_PRESETS, spec, "generator"), **overrides}
    kind = kwargs.pop("kind", "aligned")
    try:
        if kind == "aligned":
            return D2MGenerator(**kwargs)
        if kind == "official":
            return OfficialGenerator(**kwargs)
    except TypeError as e:  # an unknown key in a config file
        raise ConfigError(f"bad {kind} generator setting: {e}") from e
    raise ConfigError(f"unknown generator kind {kind!r} (aligned or official)")


def generator_spec(generator: nn.Module) -> dict[str, Any]:
    """The spec that `build_generator` turns back into ``generator``'s architecture."""
    kind = "official" if isinstance(generator, OfficialGenerator) else "aligned"
    return {"kind": kind, **generator.config}  # type: ignore[dict-item]


def build_discriminator(spec: Mapping[str, Any] | str, **overrides: Any) -> MultiScaleDiscriminator:
    """Build a `MultiScaleDiscriminator` from a preset name or a spec dict."""
    kwargs = {**_spec(DISCRIMINATOR_PRESETS, spec, "discriminator"), **overrides}
    try:
        return MultiScaleDiscriminator(**kwargs)
    except TypeError as e:
        raise ConfigError(f"bad discriminator setting: {e}") from e


@dataclass
class GeneratedMusic:
    """What `D2M.generate` returns: the music as tensors, before any loudness step.

    codes: LongTensor[1 x T_code] -- the VQ codes the generator chose (on the CPU).
    audio: Tensor[1 x 1 x N] in [-1, 1] at ``sample_rate``, N the requested length.
    seed: the seed of the generator's noise (the one drawn when none was given).
    beat_lock: {"shift": beats the kept grid was moved, "scores": per try}, or None when there was no choice.
    grid_scale: 1, or 0.5 when the grid was faster than `features.rhythm.MAX_GRID_BPM` and the music follows it
        in half time (`features.rhythm.for_generator`).
    prior_weight: the lowest weight of the genre code prior the music was looked up with, or None where no prior
        applied (lower than the model's where the prior had muted the music: `D2M._unmuted`).
    prior_lowered: the share of the music looked up with a weight lower than the model's.
    """

    codes: torch.Tensor
    audio: torch.Tensor
    sample_rate: int
    seed: int
    beat_lock: dict | None = None
    grid_scale: float = 1.0
    prior_weight: float | None = None
    prior_lowered: float = 0.0


def muted_frames(audio: torch.Tensor, sample_rate: int) -> np.ndarray:
    """Whether each whole `MUTE_FRAME_S` frame of ``audio`` (1-D) is under `MUTE_DBFS` once the music is brought to
    `MUTE_LOUDNESS_LUFS`: bool[n_frames] (none for music shorter than a frame; all for digital silence)."""
    x = audio.detach().float().cpu().numpy()
    frame = int(round(MUTE_FRAME_S * sample_rate))
    if x.size < frame:
        return np.zeros(0, dtype=bool)
    if not np.any(x):
        return np.ones(x.size // frame, dtype=bool)
    y, _ = normalize_loudness(x, sample_rate, MUTE_LOUDNESS_LUFS)
    return frame_levels_dbfs(y, sample_rate, MUTE_FRAME_S) < MUTE_DBFS


def muted_share(audio: torch.Tensor, sample_rate: int) -> float:
    """Share of the `MUTE_FRAME_S` frames of ``audio`` (1-D) that are muted (`muted_frames`; 0 for music shorter
    than a frame, 1 for digital silence)."""
    muted = muted_frames(audio, sample_rate)
    return float(muted.mean()) if muted.size else 0.0


def dance_tensors(
    motion: Motion, visual: Visual | None = None, visual_dim: int = 0
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A dance as `D2M.generate` takes it: ``motion`` resampled to `MOTION_FPS` -> ``Tensor[1 x 53 x T]``; for a
    generator with a ``visual_dim``-d visual module, ``visual`` resampled and fitted to T frames ->
    ``Tensor[1 x visual_dim x T]`` (zeros when None), else None. Refuses visual features of another size."""
    m = torch.from_numpy(motion.resample(MOTION_FPS).features().T.copy())[None]
    if visual_dim <= 0:
        return m, None
    if visual is None:
        return m, torch.zeros(1, visual_dim, m.shape[-1])
    vf = visual.resample(MOTION_FPS).features
    if vf.shape[1] != visual_dim:
        raise InputError(f"visual features are {vf.shape[1]}-d, the model needs {visual_dim}-d")
    return m, torch.from_numpy(fit_length(vf, m.shape[-1], axis=0, pad="edge").T.copy())[None]


def hold_still(x: torch.Tensor, frames: int, *, velocity: bool = True) -> torch.Tensor:
    """``x`` [1 x C x T] with ``frames`` frames before and after it repeating its first and last frame; with
    ``velocity``, ``x`` is a motion tensor (`types.Motion.features`: xy, confidences, root velocity) and the held
    frames' root velocity is zero: a dancer standing still."""
    if frames <= 0 or x.shape[-1] == 0:
        return x
    held = F.pad(x, (frames, frames), mode="replicate")
    if velocity:
        held[:, MOTION_FEATURE_DIM - 2 : MOTION_FEATURE_DIM, :frames] = 0.0
        held[:, MOTION_FEATURE_DIM - 2 : MOTION_FEATURE_DIM, -frames:] = 0.0
    return held


class D2M(nn.Module):
    """A D2M-GAN generator for one VQ level plus the frozen VQ-VAE (codebook + decoder of that level).

    generator: a `D2MGenerator` or `OfficialGenerator` whose ``hop_length`` is one of ``vqvae.hops``.
    vqvae: a `models.vqvae.VQVAE`; it is frozen here (eval mode, no gradients to its weights), but gradients
        still flow through its decoder to the generator's output, which is how the audio losses train G.
    vqvae_ref: name or path the VQ-VAE was loaded from (recorded in saved generator files).
    """

    def __init__(
        self,
        generator: nn.Module,
        vqvae: nn.Module,
        *,
        vqvae_ref: str | None = None,
        code_prior: torch.Tensor | None = None,
        prior_weight: float = 0.0,
        noise_scale: float = 1.0,
        latent_match: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> None:
        super().__init__()
        self.generator = generator
        self.vqvae = vqvae
        self.vqvae_ref = vqvae_ref
        self.level = vqvae.level_for_hop(generator.hop_length)
        #: ``Tensor[G x K]`` log-frequency of each code in the real music of each genre (`training.code_prior`),
        #: or None; with ``prior_weight`` > 0 the lookup of a known genre adds ``-prior_weight * code_prior[g]``.
        self.register_buffer("code_prior", None if code_prior is None else code_prior.float())
        self.prior_weight = float(prior_weight)
        #: Standard deviation of the generator's noise at inference (training draws it at 1): below 1 the music
        #: varies less from seed to seed (the GAN "truncation trick"), above 1 more.
        self.noise_scale = check_noise_scale(noise_scale)
        #: ``(Tensor[D x D], Tensor[D])`` or None: the affine map `match_latents` applies to the generator's output
        #: before the code lookup at inference (`training.latent_match`); training never uses it.
        self.register_buffer("latent_map", None if latent_match is None else latent_match[0].float())
        self.register_buffer("latent_shift", None if latent_match is None else latent_match[1].float())
        self._latent_log: list[torch.Tensor] | None = None
        if vqvae.emb_width != generator.latent_dim:
            raise ModelError(f"generator makes {generator.latent_dim}-d features, the VQ-VAE needs {vqvae.emb_width}")
        freeze(vqvae)

    # ---- timelines ---------------------------------------------------------------------------------------
    @property
    def hop_length(self) -> int:
        return int(self.generator.hop_length)

    @property
    def sample_rate(self) -> int:
        return int(self.vqvae.sample_rate)

    @property
    def level_name(self) -> str:
        """``"top"`` (the coarsest VQ level) or ``"lower"``."""
        return "top" if self.level == len(self.vqvae.hops) - 1 else "lower"

    @property
    def codebook(self) -> torch.Tensor:
        """``Tensor[K x 64]``: the code vectors of this level."""
        return self.vqvae.bottleneck[self.level].k

    def train(self, mode: bool = True) -> D2M:
        super().train(mode)
        self.vqvae.eval()  # frozen: no codebook updates, ever
        return self

    # ---- the pieces the training task uses --------------------------------------------------------------
    def targets(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Real music -> (continuous encoder features, their looked-up codes), both ``Tensor[B x 64 x T_code]``.

        audio: ``Tensor[B x 1 x N]`` with N a multiple of the hop (else zero-padded by the VQ-VAE).
        """
        with torch.no_grad():
            feats = self.vqvae.encode_features(audio, self.level)
            quantized = self.vqvae.quantize(feats, self.level).quantized
        return feats, quantized.detach()

    def lookup(self, latents: torch.Tensor):
        """Nearest-code lookup with a straight-through gradient (`nn.quantizer.QuantizedResult`)."""
        return self.vqvae.quantize(latents, self.level)

    def lookup_codes(
        self, latents: torch.Tensor, genre: torch.Tensor | None = None, weight: float | None = None
    ) -> torch.Tensor:
        """Codes ``LongTensor[B x T_code]`` for the generator's ``latents`` ``Tensor[B x 64 x T_code]``.

        The nearest code vector, as the paper; with a genre code prior (``code_prior``, ``prior_weight`` > 0) and a
        known ``genre`` (``Tensor[B]``; negative = unknown), the code minimising ``|f - e_k|^2 - prior_weight *
        log p(k | genre)`` instead: among the codes near the generator's output, those the genre's real music
        uses win. Not in the paper; it sharpens the genre of the music without touching its timeline.
        ``weight``: the prior's weight for this lookup (default ``prior_weight``).
        """
        bottleneck = self.vqvae.bottleneck[self.level]
        weight = self.prior_weight if weight is None else float(weight)
        if self.code_prior is None or weight <= 0 or genre is None:
            return bottleneck.encode(latents)
        genre = genre.to(latents.device).long().reshape(-1)
        known = (genre >= 0) & (genre < self.code_prior.shape[0])
        prior = self.code_prior[genre.clamp(0, self.code_prior.shape[0] - 1)] * known[:, None]  # unknown: 0
        return bottleneck.encode(latents, -weight * prior)

    def decode(self, quantized: torch.Tensor) -> torch.Tensor:
        """``Tensor[B x 64 x T_code]`` code vectors -> waveform ``Tensor[B x 1 x T_code * hop]`` (differentiable)."""
        return self.vqvae.decode_features(quantized, self.level)

    # ---- inference ---------------------------------------------------------------------------------------
    @property
    def follows_rhythm(self) -> bool:
        """Whether the generator takes the dance's rhythm (`features.rhythm.Rhythm.features()`) as an input."""
        return bool(getattr(self.generator, "rhythm_dim", 0))

    @property
    def rhythm_window(self) -> float:
        """The phase window (beats) of the grids the generator learned from: pass it to
        `features.rhythm.estimate_rhythm` (``window_beats``) so that it meets the same kind of grid."""
        return float(getattr(self.generator, "rhythm_window", 3.0))

    @torch.no_grad()
    def generate(
        self,
        motion: torch.Tensor,
        visual: torch.Tensor | None = None,
        *,
        rhythm: Rhythm | None = None,
        genre: int | None = None,
        tempo: float | None = None,
        seed: int | None = None,
        num_samples: int | None = None,
        window_seconds: float = 34.0,
        beat_lock: bool = True,
        progress: bool = False,
    ) -> GeneratedMusic:
        """Dance features -> music of exactly ``num_samples`` samples, generated window by window.

        motion: ``Tensor[1 x 53 x T]`` at `MOTION_FPS` (see `dance_tensors`); visual: ``Tensor[1 x D x T]`` or
        None (a generator with a visual module then needs zeros, see `dance_tensors`).
        rhythm: the whole dance's pulse (``estimate_rhythm(motion)``), required by a generator that follows it
            (`follows_rhythm`); each window takes its cut of it.
        genre: an index into `constants.GENRES`, or None (unknown); tempo: BPM given to the generator, or None.
        seed: seeds the noise, drawn once for the whole length (so windows do not change the music); None draws
            a fresh one (recorded in the result).
        num_samples: output length; default ``round(T / MOTION_FPS * sample_rate)``.
        window_seconds: length of each generation window: memory is bounded by it, not by the dance. Windows
            start on multiples of `_GRID_FRAMES` and carry the generator's receptive field as context, so the
            result equals a whole-length run.
        beat_lock: with a rhythm, also try the grid moved by half a beat and keep the music whose own beats land
            nearer the grid's (`_beat_locked_codes`).
        A grid faster than `features.rhythm.MAX_GRID_BPM` (and a given tempo with it) is counted in half time, as
        in training (`features.rhythm.for_generator`; ``grid_scale`` in the result).
        The generator sees `_GRID_FRAMES` frames of context before and after the dance, its first and last pose held
        still with the grid running on (`hold_still`, `Rhythm.extended`): without it a short clip is all edge,
        where the generator's convolutions see no dance. Codes and audio are then cut back to the dance.
        The official-shape generator makes fixed 2-s segments: its music is back-to-back segments (the last
        partial one dropped), each decoded alone.
        Where a genre code prior applies and mutes the music, its weight backs off (`_unmuted`).
        """
        self.eval()
        if seed is None:
            seed = int(torch.randint(0, 2**31 - 1, (1,)).item())
        if isinstance(self.generator, OfficialGenerator):
            return self._fixed_segments(motion, visual, genre, seed)
        if num_samples is None:
            num_samples = int(round(motion.shape[-1] / MOTION_FPS * self.sample_rate))
        if self.follows_rhythm and rhythm is None:
            raise ConfigError("this generator follows the dance's rhythm: pass rhythm=estimate_rhythm(motion)")
        # Context at both ends: the first and last pose held still (and the grid run on) for one window-grid step,
        # which is longer than the generator's receptive field; the music is cut back to the dance afterwards.
        ctx = _GRID_FRAMES if motion.shape[-1] > 0 else 0
        k0 = self.context_codes if ctx else 0
        s0 = k0 * self.hop_length
        motion, visual = hold_still(motion, ctx), None if visual is None else hold_still(visual, ctx, velocity=False)
        args = (motion, visual, genre, tempo, seed, num_samples + 2 * s0, window_seconds, progress)
        lock, scale = None, 1.0
        if self.follows_rhythm:
            given = for_generator(rhythm)  # a grid faster than the generator learned: half time on the same grid
            if given is not rhythm:
                scale = given.tempo / rhythm.tempo
                rhythm, args = given, (motion, visual, genre, None if tempo is None else tempo * scale, *args[4:])
            ladder, lock = self._beat_locked_codes(rhythm.extended(ctx), args, tries=2 if beat_lock else 1)
        else:
            ladder = self._generate_codes(motion, visual, None, *args[2:])
        codes, audio, weight, lowered = self._unmuted(ladder, slice(s0, s0 + num_samples))
        audio = audio[..., s0 : s0 + num_samples].clamp(-1, 1)
        if audio.shape[-1] < num_samples:
            audio = F.pad(audio, (0, num_samples - audio.shape[-1]))
        codes = codes[:, k0 : k0 + max(1, -(-num_samples // self.hop_length))]
        return GeneratedMusic(codes, audio, self.sample_rate, seed, lock, scale, weight, lowered)

    @property
    def context_codes(self) -> int:
        """Codes of the still context `generate` puts before (and after) a dance: whole codes, see `_GRID_FRAMES`."""
        return int(round(_GRID_FRAMES / MOTION_FPS * self.sample_rate / self.hop_length))

    def match_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """The generator's output ``Tensor[B x D x T]`` moved by the affine map fitted on the training music
        (``latent_map @ f + latent_shift`` per frame), or as it is when the model has none."""
        if self.latent_map is None:
            return latents
        mapped = torch.einsum("ij,bjt->bit", self.latent_map.to(latents), latents)
        return mapped + self.latent_shift.to(latents)[None, :, None]

    @contextlib.contextmanager
    def logging_latents(self):
        """Within it, `generate` appends each window's raw generator output (before `match_latents`, the
        windows' context cut) to the yielded list: ``Tensor[1 x D x T]`` pieces in timeline order."""
        self._latent_log = log = []
        try:
            yield log
        finally:
            self._latent_log = None

    @property
    def device(self) -> torch.device:
        return self.codebook.device

    @property
    def segment_samples(self) -> int | None:
        """Samples of one fixed segment for the official-shape generator (its music is whole segments), else None."""
        g = self.generator
        return int(g.num_codes * g.hop_length) if isinstance(g, OfficialGenerator) else None

    @property
    def visual_dim(self) -> int:
        """Size of the visual features the generator takes (0: none)."""
        return int(getattr(self.generator, "visual_dim", 0) or 0)

    def _beat_locked_codes(self, rhythm: Rhythm, args: tuple, tries: int) -> tuple[list, dict | None]:
        """Codes that follow ``rhythm``; with ``tries`` 2, the grid moved by half a beat is tried too.

        Each try's music is decoded over an excerpt (at most `BEAT_LOCK_EXCERPT_S`, from the middle) and its own
        beats (librosa's tracker) are scored against the grid's beats there: BeatAlign + beat F1. The try that
        scores higher wins (the first on a tie). ``args``: `_generate_codes`'s arguments, the rhythm left out.
        Returns (`_generate_codes`'s ladder, {"shift": beats moved, "scores": per try}) or (the ladder, None).
        """
        m, v, *rest = args
        tries_out = []
        for shift in (0.0, 0.5)[: max(1, tries)]:
            r = torch.from_numpy(rhythm.shifted(shift).features().T.copy())[None]
            codes = self._generate_codes(m, v, r, *rest)
            score = self._grid_score(codes[0][1], rhythm) if tries > 1 else 0.0
            tries_out.append((score, shift, codes))
        if tries <= 1:
            return tries_out[0][2], None
        best = max(tries_out, key=lambda t: t[0])  # max keeps the first of equals
        return best[2], {"shift": best[1], "scores": [round(t[0], 3) for t in tries_out]}

    def _grid_score(self, codes: torch.Tensor, rhythm: Rhythm) -> float:
        """BeatAlign + beat F1 of the music's own beats against the grid's, on an excerpt of ``codes``."""
        hop, sr = self.hop_length, self.sample_rate
        n = codes.shape[-1]
        width = min(n, int(BEAT_LOCK_EXCERPT_S * sr / hop))
        k0 = (n - width) // 2
        audio = self.vqvae.decode_chunked(codes[:, k0 : k0 + width].to(self.device), self.level)
        t0, t1 = k0 * hop / sr, (k0 + width) * hop / sr
        music = music_beats(audio[0, 0].clamp(-1, 1).float().cpu().numpy(), sr=sr) + t0
        grid = rhythm.beat_times()
        grid = grid[(grid >= t0) & (grid < t1)]
        if music.size == 0 or grid.size == 0:
            return 0.0
        score = beat_alignment(grid, music)  # the grid's beats stand where the dancer's would
        return float(score.beat_align + score.f1)

    def _generate_codes(
        self,
        motion: torch.Tensor,
        visual: torch.Tensor | None,
        rhythm: torch.Tensor | None,
        genre: int | None,
        tempo: float | None,
        seed: int,
        num_samples: int,
        window_seconds: float,
        progress: bool,
    ) -> list[tuple[float | None, torch.Tensor]]:
        """The generator run window by window on the shared code grid (call without grad), its output looked up
        as codes ``LongTensor[1 x T_code]``: [(None, codes)] where no genre code prior applies, else
        [(weight, codes)] for the prior's weight halved `PRIOR_BACKOFF` times, then (0, the nearest codes)."""
        g = self.generator
        dev = self.device
        kwargs = {
            "genre": None if genre is None else torch.tensor([genre], device=dev),
            "tempo": None if tempo is None else torch.tensor([float(tempo)], device=dev),
        }
        n_codes = max(1, -(-num_samples // self.hop_length))
        code_rate = float(g.code_rate)
        gen = torch.Generator().manual_seed(seed)
        noise_dim = int(getattr(g, "noise_dim", 0) or 0)
        noise = torch.randn(1, noise_dim, n_codes, generator=gen) * self.noise_scale if noise_dim else None

        t_frames = motion.shape[-1]
        win = max(1, int(round(window_seconds * MOTION_FPS / _GRID_FRAMES))) * _GRID_FRAMES
        ctx = int(math.ceil(g.receptive_field_seconds * MOTION_FPS / _GRID_FRAMES)) * _GRID_FRAMES
        starts = list(range(0, t_frames, win))
        prior_applies = self.code_prior is not None and self.prior_weight > 0 and genre is not None and genre >= 0
        weights = [self.prior_weight / 2**i for i in range(PRIOR_BACKOFF + 1)] + [0.0] if prior_applies else [None]
        ladder = [(w, torch.empty(1, n_codes, dtype=torch.long)) for w in weights]
        bar = None
        if progress and len(starts) > 1:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(starts), desc="music", unit="window", leave=False)
        for f0 in starts:
            f1 = min(t_frames, f0 + win)
            lo, hi = max(0, f0 - ctx), min(t_frames, f1 + ctx)
            k_lo = int(round(lo / MOTION_FPS * code_rate))
            k0 = int(round(f0 / MOTION_FPS * code_rate))
            k1 = n_codes if f1 == t_frames else int(round(f1 / MOTION_FPS * code_rate))
            k_hi = n_codes if hi == t_frames else int(round(hi / MOTION_FPS * code_rate))
            mw = motion[..., lo:hi].to(dev)
            vw = None if visual is None else visual[..., lo:hi].to(dev)
            nw = None if noise is None else noise[..., k_lo:k_hi].to(dev)
            extra = {} if rhythm is None else {"rhythm": rhythm[..., lo:hi].to(dev)}
            latents = g(mw, vw, num_codes=k_hi - k_lo, noise=nw, **kwargs, **extra)[..., k0 - k_lo : k1 - k_lo]
            if self._latent_log is not None:
                self._latent_log.append(latents.detach().cpu())
            latents = self.match_latents(latents)
            for w, out in ladder:
                out[:, k0:k1] = self.lookup_codes(latents, kwargs["genre"], weight=w).cpu()
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        return ladder

    def _unmuted(
        self, ladder: list[tuple[float | None, torch.Tensor]], kept: slice
    ) -> tuple[torch.Tensor, torch.Tensor, Any, float]:
        """The genre code prior re-ranks codes to sharpen the genre; it must not mute the music. Decode the first
        rung of ``ladder`` (`_generate_codes`) and, while more than `MUTE_MAX_SHARE` of the frames of its ``kept``
        samples (the music without its context) are muted (`muted_frames`), give the codes of the muted frames
        and `MUTE_PAD_S` around them the next rung's (a lower weight), and decode again. Elsewhere the music keeps
        the full weight. Returns (codes, audio, the lowest weight used, the share of the kept codes lowered)."""
        sr, hop, last = self.sample_rate, self.hop_length, len(ladder) - 1
        codes = ladder[0][1].clone()
        if last == 0:  # no prior applies: nothing to lower, and no need to judge the music
            return codes, self.vqvae.decode_chunked(codes.to(self.device), self.level), ladder[0][0], 0.0
        rung = torch.zeros(codes.shape[-1], dtype=torch.long)
        frame, pad = int(round(MUTE_FRAME_S * sr)), int(round(MUTE_PAD_S / MUTE_FRAME_S))
        k0, k1 = kept.start // hop, -(-kept.stop // hop)
        for _ in range(2 * len(ladder)):  # raising the level of one stretch may mute another a little: a few rounds
            audio = self.vqvae.decode_chunked(codes.to(self.device), self.level)
            muted = muted_frames(audio[0, 0, kept], sr)
            if not muted.size or muted.mean() <= MUTE_MAX_SHARE:
                break
            near = np.convolve(muted.astype(np.float64), np.ones(2 * pad + 1), mode="same") > 0
            sel = torch.zeros_like(rung, dtype=torch.bool)
            for j in np.flatnonzero(near):  # the codes that sound in frame j
                sel[(kept.start + j * frame) // hop : -(-(kept.start + (j + 1) * frame) // hop)] = True
            sel &= rung < last
            if not bool(sel.any()):
                break  # every muted stretch is already without the prior
            rung[sel] += 1
            for i in range(1, last + 1):
                now = sel & (rung == i)
                codes[0, now] = ladder[i][1][0, now]
        else:
            audio = self.vqvae.decode_chunked(codes.to(self.device), self.level)
        lowest = ladder[int(rung.max())][0]
        return codes, audio, lowest, float((rung[k0:k1] > 0).float().mean()) if k1 > k0 else 0.0

    def _fixed_segments(
        self, motion: torch.Tensor, visual: torch.Tensor | None, genre: int | None, seed: int
    ) -> GeneratedMusic:
        """Back-to-back segments through the fixed-size official-shape generator, each decoded alone."""
        g = self.generator
        frames = g.motion_frames
        dev = self.device
        genre_t = None if genre is None else torch.tensor([genre], device=dev)
        codes, audio = [], []
        for start in range(0, motion.shape[-1] - frames + 1, frames):
            vs = None if visual is None else visual[..., start : start + frames].to(dev)
            latents = g(motion[..., start : start + frames].to(dev), vs, genre=genre_t)
            c = self.lookup_codes(self.match_latents(latents), genre_t)
            codes.append(c.cpu())
            audio.append(self.vqvae.decode_chunked(c, self.level).clamp(-1, 1))
        if not codes:
            raise ConfigError(f"the official-shape generator needs at least {frames} frames of dance")
        return GeneratedMusic(torch.cat(codes, -1), torch.cat(audio, -1), self.sample_rate, seed, None)

    # ---- persistence -------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, *, meta: Mapping[str, Any] | None = None, half: bool = False) -> Path:
        """Write the generator (safetensors) with its spec and the VQ-VAE it belongs to; also ``<stem>.json``."""
        return save_generator(
            path, self.generator, vqvae=self.vqvae, vqvae_ref=self.vqvae_ref, meta=meta, half=half,
            code_prior=self.code_prior, prior_weight=self.prior_weight, noise_scale=self.noise_scale,
            latent_match=None if self.latent_map is None else (self.latent_map, self.latent_shift),
        )  # fmt: skip

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        *,
        vqvae: nn.Module | str | None = None,
        map_location: str | torch.device = "cpu",
    ) -> D2M:
        """Rebuild a model from a generator file; the VQ-VAE is the one recorded in it unless given."""
        generator, header = load_generator(path, map_location=map_location)
        ref = header.get("vqvae")
        prior = dict(code_prior=header.get("code_prior"), prior_weight=float(header.get("prior_weight") or 0.0),
                     noise_scale=float(header.get("noise_scale", 1.0)),
                     latent_match=header.get("latent_match"))  # fmt: skip
        if vqvae is None or isinstance(vqvae, str):
            ref = vqvae or ref
            if not ref:
                raise ModelError(f"{path} does not say which VQ-VAE it needs; pass one")
            vqvae = VQVAE.from_pretrained(ref, map_location=map_location)
            _check_vqvae(vqvae, header["meta"], path)
        return cls(generator, vqvae, vqvae_ref=ref, **prior).to(map_location).eval()

    @classmethod
    def from_pretrained(cls, name_or_path: str = "d2m-top", *, map_location: str | torch.device = "cpu") -> D2M:
        """Load shipped weights by registered name (``d2m-top``, ``d2m-lower``) or a generator file path."""
        return cls.load(resolve(name_or_path, kind="d2m"), map_location=map_location)


def _check_vqvae(vqvae: VQVAE, meta: dict, generator_path: str | os.PathLike) -> None:
    """Warn when the VQ-VAE is not one the generator's codes are meant for: neither the file it was trained
    against (``meta["vqvae_sha256"]``) nor one with the same codebooks (``meta["vqvae_codebook_sha256"]``,
    e.g. the same tokenizer with new decoders)."""
    expected_sha256 = meta.get("vqvae_sha256")
    if not expected_sha256:
        return
    if vqvae.source_sha256() == expected_sha256:
        return
    codebooks = meta.get("vqvae_codebook_sha256")
    if not (codebooks and codebooks == vqvae.codebook_sha256()):
        warnings.warn(
            f"{generator_path} was trained against another VQ-VAE (sha256 {expected_sha256[:12]}...) than "
            f"{vqvae.source_path}: its music will be wrong until the generator is retrained on this one",
            stacklevel=3,
        )


def check_noise_scale(scale: float) -> float:
    """``scale`` as a float, or a `ConfigError` unless it is finite and at least 0."""
    value = float(scale)
    if not (math.isfinite(value) and value >= 0.0):
        raise ConfigError(f"the noise scale must be a finite number >= 0 (1: as trained), not {scale}")
    return value


def freeze(module: nn.Module) -> nn.Module:
    """Eval mode and ``requires_grad=False`` on every parameter; returns ``module``."""
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


_PRIOR_KEY = "lookup.code_prior"
_MATCH_KEYS = ("lookup.latent_map", "lookup.latent_shift")


def save_generator(
    path: str | os.PathLike,
    generator: nn.Module,
    *,
    vqvae: nn.Module | None = None,
    vqvae_ref: str | None = None,
    meta: Mapping[str, Any] | None = None,
    half: bool = False,
    code_prior: torch.Tensor | None = None,
    prior_weight: float = 0.0,
    noise_scale: float = 1.0,
    latent_match: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> Path:
    """Write ``generator`` to ``path`` (safetensors; metadata: spec, hop, VQ-VAE name and sha256) atomically.

    A JSON copy of the metadata is written next to it (``<stem>.json``, as the pretrained registry expects).
    half: store float weights as float16 (halves the file; buffers such as ``sigma`` stay float32).
    code_prior, prior_weight: the genre code prior of `D2M.lookup_codes` (stored as ``lookup.code_prior``).
    noise_scale: `D2M.noise_scale`, stored only when it is not 1 (files without it read as 1).
    latent_match: `D2M.match_latents`'s (map, shift), stored as ``lookup.latent_map`` / ``lookup.latent_shift``.
    """
    from safetensors.torch import save_file

    path = Path(path)
    buffers = {name for name, _ in generator.named_buffers()}
    tensors = {}
    for k, v in generator.state_dict().items():
        v = v.detach().cpu().contiguous()
        if half and v.is_floating_point() and k not in buffers:
            v = v.half()
        tensors[k] = v
    if code_prior is not None:
        tensors[_PRIOR_KEY] = code_prior.detach().float().cpu().contiguous()
    if latent_match is not None:
        for key, t in zip(_MATCH_KEYS, latent_match):
            tensors[key] = t.detach().float().cpu().contiguous()
    fields: dict[str, Any] = {
        "version": _FORMAT_VERSION,
        "generator": generator_spec(generator),
        "hop_length": int(generator.hop_length),
        "vqvae": vqvae_ref or "",
        "vqvae_config": getattr(vqvae, "config", None),
        "meta": dict(meta or {}),
    }
    if code_prior is not None:
        fields["prior_weight"] = float(prior_weight)
    if check_noise_scale(noise_scale) != 1.0:
        fields["noise_scale"] = float(noise_scale)
    # One metadata key, as `VQVAE.save` writes: safetensors orders several keys at random, so the same
    # generator saved twice would get two different file sha256s (the registry's checksum).
    header = {_FORMAT: json.dumps(fields, sort_keys=True)}
    with atomic_output(path) as tmp:
        save_file(tensors, str(tmp), metadata=header)
    with atomic_output(path.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps({"format": _FORMAT, **fields}, indent=2) + "\n")
    return path


def load_generator(
    path: str | os.PathLike, *, map_location: str | torch.device = "cpu"
) -> tuple[D2MGenerator | OfficialGenerator, dict[str, Any]]:
    """Rebuild a generator written by `save_generator`; returns it (eval mode) and the file's metadata."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"no such model file: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = dict(f.metadata() or {})
        tensors = load_file(str(path), device=str(map_location))
    except Exception as e:  # safetensors raises several types for a bad file
        raise ModelError(f"cannot read {path} as a safetensors model ({e})") from e
    header = generator_header(header)
    if header is None:
        raise ModelError(f"{path} is not a dance2music D2M-GAN generator file")
    generator = build_generator(header["generator"])
    header["code_prior"] = tensors.pop(_PRIOR_KEY, None)
    match = [tensors.pop(k, None) for k in _MATCH_KEYS]
    header["latent_match"] = None if match[0] is None else (match[0], match[1])
    result = generator.load_state_dict({k: v.float() for k, v in tensors.items()}, strict=False)
    if result.missing_keys or result.unexpected_keys:
        bad = (result.missing_keys or result.unexpected_keys)[0]
        raise ModelError(f"{path} does not match its own architecture (e.g. {bad})")
    return generator.to(map_location).eval(), header
