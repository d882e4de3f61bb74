"""The composed D2M-GAN model: generator + the frozen VQ-VAE level that turns its output into music.

``D2M`` holds a generator (`models.generator`) for one VQ level and the VQ-VAE (`models.vqvae`) whose codebook
and decoder of that level are the synthesizer (paper Sec. 3.2). It is what inference loads:

    model = D2M.from_pretrained("d2m-top")
    out = model.generate(motion, visual, genre=genre)   # out.audio: Tensor[B x 1 x N] at 22.05 kHz

Builders turn config dicts into modules (`build_generator`, `build_discriminator`); the modules themselves
take typed keyword arguments and never see a config. A generator file is a safetensors file whose metadata
holds the generator spec (``kind`` + constructor kwargs), the VQ level's hop and which VQ-VAE it was trained
against (registered name + sha256), so one ``D2M.load(path)`` rebuilds everything.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError, ModelError
from .discriminator import MultiScaleDiscriminator
from .generator import D2MGenerator, OfficialGenerator
from .generator_file import FORMAT as _FORMAT
from .generator_file import FORMAT_VERSION as _FORMAT_VERSION
from .generator_file import generator_header

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
class D2MOutput:
    """What `D2M.generate` returns.

    latents: Tensor[B x 64 x T_code] -- the generator's continuous VQ features.
    codes: LongTensor[B x T_code] -- their nearest codebook entries.
    audio: Tensor[B x 1 x N] -- the decoded music at ``sample_rate``, N = T_code * hop (or the requested length).
    sample_rate: int.
    """

    latents: torch.Tensor
    codes: torch.Tensor
    audio: torch.Tensor
    sample_rate: int


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
    ) -> None:
        super().__init__()
        self.generator = generator
        self.vqvae = vqvae
        self.vqvae_ref = vqvae_ref
        self.level = vqvae.level_for_hop(generator.hop_length)
        #: ``Tensor[G x K]`` log-frequency of each code in the real music of each genre (`code_prior_from_cache`),
        #: or None; with ``prior_weight`` > 0 the lookup of a known genre adds ``-prior_weight * code_prior[g]``.
        self.register_buffer("code_prior", None if code_prior is None else code_prior.float())
        self.prior_weight = float(prior_weight)
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

    def lookup_codes(self, latents: torch.Tensor, genre: torch.Tensor | None = None) -> torch.Tensor:
        """Codes ``LongTensor[B x T_code]`` for the generator's ``latents`` ``Tensor[B x 64 x T_code]``.

        The nearest code vector, as the paper; with a genre code prior (``code_prior``, ``prior_weight`` > 0) and a
        known ``genre`` (``Tensor[B]``; negative = unknown), the code minimising ``|f - e_k|^2 - prior_weight *
        log p(k | genre)`` instead: among the codes near the generator's output, those the genre's real music
        uses win. Not in the paper; it sharpens the genre of the music without touching its timeline.
        """
        bottleneck = self.vqvae.bottleneck[self.level]
        if self.code_prior is None or self.prior_weight <= 0 or genre is None:
            return bottleneck.encode(latents)
        genre = genre.to(latents.device).long().reshape(-1)
        known = (genre >= 0) & (genre < self.code_prior.shape[0])
        prior = self.code_prior[genre.clamp(0, self.code_prior.shape[0] - 1)] * known[:, None]  # unknown: 0
        return bottleneck.encode(latents, -self.prior_weight * prior)

    def decode(self, quantized: torch.Tensor) -> torch.Tensor:
        """``Tensor[B x 64 x T_code]`` code vectors -> waveform ``Tensor[B x 1 x T_code * hop]`` (differentiable)."""
        return self.vqvae.decode_features(quantized, self.level)

    # ---- inference ---------------------------------------------------------------------------------------
    @torch.no_grad()
    def generate(
        self,
        motion: torch.Tensor,
        visual: torch.Tensor | None = None,
        *,
        genre: torch.Tensor | None = None,
        tempo: torch.Tensor | None = None,
        num_samples: int | None = None,
        noise: torch.Tensor | None = None,
        rhythm: torch.Tensor | None = None,
        chunk: int = 4096,
    ) -> D2MOutput:
        """Dance features -> music.

        motion: ``Tensor[B x 53 x T_m]`` at 30 fps; visual: ``Tensor[B x D x T_v]`` at 30 fps (when the generator
        has a visual module); genre/tempo: ``Tensor[B]`` or None; rhythm: ``Tensor[B x R x T_m]`` at 30 fps for a
        generator that takes the dance's rhythm (see `D2MGenerator.forward`).
        num_samples: output length; default ``round(T_m / fps * sample_rate)``. Decoding runs in windows of
        ``chunk`` codes so memory does not grow with the length.
        """
        self.eval()
        g = self.generator
        fps = g.input_fps
        if num_samples is None:
            num_samples = int(round(motion.shape[-1] / fps * self.sample_rate))
        n_codes = None if isinstance(g, OfficialGenerator) else max(1, -(-num_samples // self.hop_length))
        extra = {} if rhythm is None else {"rhythm": rhythm}
        latents = g(motion, visual, genre=genre, tempo=tempo, num_codes=n_codes, noise=noise, **extra)
        codes = self.lookup_codes(latents, genre)
        audio = self.vqvae.decode_chunked(codes, self.level, chunk=chunk)
        if not isinstance(g, OfficialGenerator):
            audio = audio[..., :num_samples]
        return D2MOutput(latents, codes, audio.clamp(-1, 1), self.sample_rate)

    # ---- persistence -------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, *, meta: Mapping[str, Any] | None = None, half: bool = False) -> Path:
        """Write the generator (safetensors) with its spec and the VQ-VAE it belongs to; also ``<stem>.json``."""
        return save_generator(
            path, self.generator, vqvae=self.vqvae, vqvae_ref=self.vqvae_ref, meta=meta, half=half,
            code_prior=self.code_prior, prior_weight=self.prior_weight,
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
        prior = dict(code_prior=header.get("code_prior"), prior_weight=float(header.get("prior_weight") or 0.0))
        if vqvae is None or isinstance(vqvae, str):
            from .vqvae import VQVAE

            ref = vqvae or ref
            if not ref:
                raise ModelError(f"{path} does not say which VQ-VAE it needs; pass one")
            local = Path(ref).expanduser()
            if not local.is_file():
                from ..pretrained.registry import resolve

                local = resolve(ref, kind="vqvae")
            vqvae = VQVAE.load(local, map_location=map_location)
            _check_vqvae(local, vqvae, header["meta"], path)
        return cls(generator, vqvae, vqvae_ref=ref, **prior).to(map_location).eval()

    @classmethod
    def from_pretrained(cls, name_or_path: str = "d2m-top", *, map_location: str | torch.device = "cpu") -> D2M:
        """Load shipped weights by registered name (``d2m-top``, ``d2m-lower``) or a generator file path."""
        from ..pretrained.registry import resolve

        return cls.load(resolve(name_or_path, kind="d2m"), map_location=map_location)


def _check_vqvae(vqvae_path: Path, vqvae: nn.Module, meta: dict, generator_path: str | os.PathLike) -> None:
    """Warn when the VQ-VAE is not one the generator's codes are meant for: neither the file it was trained
    against (``meta["vqvae_sha256"]``) nor one with the same codebooks (``meta["vqvae_codebook_sha256"]``,
    e.g. the same tokenizer with new decoders)."""
    expected_sha256 = meta.get("vqvae_sha256")
    if not expected_sha256:
        return
    import hashlib
    import warnings

    if hashlib.sha256(Path(vqvae_path).read_bytes()).hexdigest() == expected_sha256:
        return
    codebooks = meta.get("vqvae_codebook_sha256")
    if not (codebooks and codebooks == vqvae.codebook_sha256()):
        warnings.warn(
            f"{generator_path} was trained against another VQ-VAE (sha256 {expected_sha256[:12]}...) than "
            f"{vqvae_path}: its music will be wrong until the generator is retrained on this one",
            stacklevel=3,
        )


def freeze(module: nn.Module) -> nn.Module:
    """Eval mode and ``requires_grad=False`` on every parameter; returns ``module``."""
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


_PRIOR_KEY = "lookup.code_prior"


@torch.no_grad()
def code_prior_from_cache(
    model: D2M, cache_dir: str | os.PathLike, split: str = "train", max_sequences: int | None = None
) -> torch.Tensor:
    """``Tensor[G x K]``: log-frequency of each code of ``model``'s level in the real music of each genre of a
    feature cache's ``split`` (add-one smoothed), for `D2M.lookup_codes`. Genres absent from the cache get the
    pooled frequencies of all. ``max_sequences``: count over at most this many, evenly spread (encoding every
    sequence of a large cache takes long on a CPU)."""
    from ..constants import GENRES
    from ..data.cache import FeatureCache

    cache = FeatureCache(cache_dir, split)
    k = model.codebook.shape[0]
    counts = torch.zeros(len(GENRES), k, dtype=torch.float64)
    entries = cache.entries
    if max_sequences is not None and len(entries) > max_sequences:
        step = len(entries) / max_sequences
        entries = [entries[int(i * step)] for i in range(max_sequences)]
    for e in entries:
        if e.get("genre") is None:
            continue
        audio = torch.from_numpy(cache.read_audio(e["name"]))[None, None].to(model.codebook.device)
        codes = model.vqvae.encode(audio, model.level)[0].cpu()
        counts[int(e["genre"])] += torch.bincount(codes, minlength=k).double()
    pooled = counts.sum(0)
    counts[counts.sum(1) == 0] = pooled
    counts += 1.0
    return (counts / counts.sum(1, keepdim=True)).log().float()


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
) -> Path:
    """Write ``generator`` to ``path`` (safetensors; metadata: spec, hop, VQ-VAE name and sha256) atomically.

    A JSON copy of the metadata is written next to it (``<stem>.json``, as the pretrained registry expects).
    half: store float weights as float16 (halves the file; buffers such as ``sigma`` stay float32).
    code_prior, prior_weight: the genre code prior of `D2M.lookup_codes` (stored as ``lookup.code_prior``).
    """
    from safetensors.torch import save_file

    from ..io.files import atomic_output

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
    result = generator.load_state_dict({k: v.float() for k, v in tensors.items()}, strict=False)
    if result.missing_keys or result.unexpected_keys:
        bad = (result.missing_keys or result.unexpected_keys)[0]
        raise ModelError(f"{path} does not match its own architecture (e.g. {bad})")
    return generator.to(map_location).eval(), header
