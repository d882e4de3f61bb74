"""The audio tokenizer: a hierarchical VQ-VAE with OpenAI JukeBox's module layout.

Each level ``L`` has its own encoder (waveform -> ``emb_width`` features at ``hop_L = prod(strides**downs)``),
its own codebook and its own decoder, trained jointly but used independently: D2M-GAN predicts the features of
one level and decodes them with that level's decoder (reference/d2m-gan.md section 1.4). The attribute names
(``encoders.{L}.level_blocks.{b}.model...``, ``decoders.{L}.out``, ``bottleneck.level_blocks.{L}.k``) are those
of openai/jukebox, so OpenAI's ``vqvae.pth.tar`` loads with `VQVAE.from_jukebox`.

Shapes: waveforms are ``Tensor[B x 1 x T]`` in [-1, 1]; features ``Tensor[B x emb_width x T_L]``; codes
``LongTensor[B x T_L]`` with ``T_L = ceil(T / hop_L)``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import types
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..constants import SAMPLE_RATE
from ..errors import ModelError
from ..io.files import atomic_output
from ..nn.postfilter import SpectralPostfilter
from ..nn.quantizer import Bottleneck, QuantizedResult
from ..nn.resnet import DecoderConvBlock, EncoderConvBlock, fused_upsample_out
from ..nn.timemajor import TimeMajorDecoder
from ..pretrained.registry import resolve, sha256_file

#: Named architectures. ``jukebox`` is OpenAI's (hops 8/32/128, 2048 x 64 codebooks); ``small`` is the one
#: trained and shipped here (hops 32/128, as the two levels D2M-GAN uses); ``tiny`` is for tests.
PRESETS: dict[str, dict[str, Any]] = {
    "jukebox": dict(
        levels=3, downs_t=(3, 2, 2), strides_t=(2, 2, 2), emb_width=64, l_bins=2048, width=32, depth=4,
        multipliers=(2, 1, 1), dilation_growth_rate=3, commit=0.02, mu=0.99,
    ),
    "small": dict(
        levels=2, downs_t=(5, 2), strides_t=(2, 2), emb_width=64, l_bins=512, width=16, depth=3,
        multipliers=(1, 1), dilation_growth_rate=3, commit=0.02, mu=0.99,
    ),
    "tiny": dict(
        levels=2, downs_t=(2, 1), strides_t=(2, 2), emb_width=8, l_bins=16, width=8, depth=2,
        multipliers=(1, 1), dilation_growth_rate=3, commit=0.02, mu=0.9,
    ),
}  # fmt: skip

_FORMAT = "dance2music.vqvae"
_FORMAT_VERSION = 1


class Encoder(nn.Module):
    """``len(downs_t)`` `EncoderConvBlock` in sequence: ``[B x C_in x T] -> [B x emb_width x T / hop]``."""

    def __init__(self, *, in_channels: int, emb_width: int, downs_t, strides_t, **block_kwargs) -> None:
        super().__init__()
        self.level_blocks = nn.ModuleList(
            EncoderConvBlock(
                in_channels=in_channels if b == 0 else emb_width,
                out_channels=emb_width,
                down_t=d,
                stride_t=s,
                **block_kwargs,
            )
            for b, (d, s) in enumerate(zip(downs_t, strides_t))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.level_blocks:
            x = block(x)
        return x


class Decoder(nn.Module):
    """The mirror of `Encoder`: its blocks run from the last (coarsest) to the first, then ``out``."""

    def __init__(self, *, out_channels: int, emb_width: int, downs_t, strides_t, **block_kwargs) -> None:
        super().__init__()
        self.level_blocks = nn.ModuleList(
            DecoderConvBlock(in_channels=emb_width, out_channels=emb_width, down_t=d, stride_t=s, **block_kwargs)
            for d, s in zip(downs_t, strides_t)
        )
        self.out = nn.Conv1d(emb_width, out_channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        blocks = list(reversed(self.level_blocks))
        for block in blocks[:-1]:
            x = block(x)
        stages = list(blocks[-1].model)
        if len(stages) < 2:
            return self.out(stages[0](x))
        for stage in stages[:-1]:
            x = stage(x)
        resnet, up = stages[-1]
        # The last upsampling and the output conv, fused (same result, a fraction of the cost).
        return fused_upsample_out(up, self.out, resnet(x))


@dataclass
class VQVAEOutput:
    """A training forward pass over all levels.

    recon: per level, Tensor[B x 1 x T] -- the reconstruction cropped to the input length.
    codes: per level, LongTensor[B x T_L].
    commit_loss: scalar -- sum over levels of the commitment loss.
    level_commit, perplexity, usage: per level scalars (see `QuantizedResult`).
    """

    recon: list[torch.Tensor]
    codes: list[torch.Tensor]
    commit_loss: torch.Tensor
    level_commit: list[torch.Tensor]
    perplexity: list[torch.Tensor]
    usage: list[torch.Tensor]


class VQVAE(nn.Module):
    """Hierarchical VQ-VAE (JukeBox, Dhariwal et al. 2020) with typed constructor arguments.

    Args:
        levels: number of levels (each with its own encoder, codebook and decoder).
        downs_t: per encoder block, number of stride-``strides_t`` downsamplings; level L uses blocks 0..L,
            so ``hop_L = prod(strides_t[b] ** downs_t[b] for b <= L)``.
        strides_t: stride of each downsampling in block b.
        emb_width: size of a codebook vector (64 in JukeBox and D2M-GAN).
        l_bins: codes per codebook.
        width, depth: channels and residual blocks of each down/up-sampling stage, scaled per level by
            ``multipliers[L]``.
        decoder_width: channels of the decoders' stages if they differ from the encoders' (None: ``width``).
            Decoding cost grows with its square; the state-dict keys stay JukeBox's, only the shapes change.
        multipliers: per level scale of width and depth (JukeBox: (2, 1, 1)).
        dilation_growth_rate, dilation_cycle: dilations of the residual stacks (``rate ** i``).
        reverse_decoder_dilation: the decoder runs dilations large-to-small (mirrors the encoder).
        m_conv: hidden width multiplier of the residual blocks.
        commit: weight JukeBox gives the commitment loss (stored for tools; the trainer's loss weights rule).
        mu: EMA decay of the codebooks.
        input_channels: audio channels (1).
        sample_rate: the rate this model was trained for (metadata; the tools resample to it).
        postfilter: config of a `nn.postfilter.SpectralPostfilter` after each level's decoder (None: none), the
            gain mask that `decode_chunked` applies to take the decoders' noise floor out.
    """

    def __init__(
        self,
        *,
        levels: int = 3,
        downs_t: tuple[int, ...] = (3, 2, 2),
        strides_t: tuple[int, ...] = (2, 2, 2),
        emb_width: int = 64,
        l_bins: int = 2048,
        width: int = 32,
        depth: int = 4,
        decoder_width: int | None = None,
        multipliers: tuple[int, ...] = (2, 1, 1),
        dilation_growth_rate: int = 3,
        dilation_cycle: int | None = None,
        reverse_decoder_dilation: bool = True,
        m_conv: float = 1.0,
        commit: float = 0.02,
        mu: float = 0.99,
        input_channels: int = 1,
        sample_rate: int = SAMPLE_RATE,
        postfilter: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        downs_t, strides_t, multipliers = tuple(downs_t), tuple(strides_t), tuple(multipliers)
        if not (len(downs_t) == len(strides_t) == len(multipliers) == levels) or levels < 1:
            raise ValueError("downs_t, strides_t and multipliers need one entry per level")
        self._kwargs = dict(
            levels=levels, downs_t=list(downs_t), strides_t=list(strides_t), emb_width=emb_width,
            l_bins=l_bins, width=width, depth=depth, multipliers=list(multipliers),
            dilation_growth_rate=dilation_growth_rate, dilation_cycle=dilation_cycle,
            reverse_decoder_dilation=reverse_decoder_dilation, m_conv=m_conv, commit=commit, mu=mu,
            input_channels=input_channels, sample_rate=sample_rate,
        )  # fmt: skip
        if decoder_width is not None and decoder_width != width:
            self._kwargs["decoder_width"] = int(decoder_width)  # absent when equal: older files keep their config
        self.levels, self.emb_width, self.l_bins = levels, emb_width, l_bins
        self.commit, self.sample_rate = commit, sample_rate
        self.downs_t, self.strides_t = downs_t, strides_t
        #: hop (samples per code) of each level.
        self.hops = [math.prod(s**d for s, d in zip(strides_t[: L + 1], downs_t[: L + 1])) for L in range(levels)]

        def block_kwargs(level: int, width: int = width) -> dict[str, Any]:
            return dict(
                width=width * multipliers[level],
                depth=depth * multipliers[level],
                dilation_growth_rate=dilation_growth_rate,
                dilation_cycle=dilation_cycle,
                m_conv=m_conv,
            )

        self.encoders = nn.ModuleList(
            Encoder(
                in_channels=input_channels, emb_width=emb_width, downs_t=downs_t[: L + 1],
                strides_t=strides_t[: L + 1], **block_kwargs(L),
            )
            for L in range(levels)
        )  # fmt: skip
        self.decoders = nn.ModuleList(
            Decoder(
                out_channels=input_channels, emb_width=emb_width, downs_t=downs_t[: L + 1],
                strides_t=strides_t[: L + 1], reverse_dilation=reverse_decoder_dilation,
                **block_kwargs(L, width if decoder_width is None else decoder_width),
            )
            for L in range(levels)
        )  # fmt: skip
        self.bottleneck = Bottleneck(levels=levels, l_bins=l_bins, emb_width=emb_width, mu=mu)
        self.postfilters: nn.ModuleList | None = None
        if postfilter is not None:
            self.add_postfilters(postfilter)
        self._plans: dict[int, TimeMajorDecoder] = {}  # inference plans of the decoders, by level
        self.source_path: Path | None = None  # the weights file, when loaded by `from_pretrained`

    # -- construction -------------------------------------------------------------------------------------
    def add_postfilters(self, config: dict[str, Any]) -> None:
        """Give every level a fresh `SpectralPostfilter` built from ``config`` (recorded in `config`)."""
        self.postfilters = nn.ModuleList(SpectralPostfilter(**config) for _ in range(self.levels))
        self._kwargs["postfilter"] = self.postfilters[0].config

    @property
    def config(self) -> dict[str, Any]:
        """The constructor keyword arguments (JSON-serializable): ``VQVAE(**m.config)`` rebuilds the model."""
        return dict(self._kwargs)

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> VQVAE:
        """Build a named architecture (`PRESETS`), with keyword overrides."""
        if name not in PRESETS:
            raise ModelError(f"unknown VQ-VAE preset {name!r} (choose from {', '.join(PRESETS)})")
        return cls(**{**PRESETS[name], **overrides})

    def level_for_hop(self, hop: int) -> int:
        """The level whose hop is ``hop`` (e.g. 128 for D2M-GAN's top level)."""
        if hop not in self.hops:
            raise ModelError(f"this VQ-VAE has hops {self.hops}, not {hop}")
        return self.hops.index(hop)

    def _check_level(self, level: int) -> int:
        if not -self.levels <= level < self.levels:
            raise ModelError(f"level {level} out of range for a {self.levels}-level VQ-VAE")
        return level % self.levels

    # -- encode ---------------------------------------------------------------------------------------------
    def _pad_to_hop(self, x: torch.Tensor, hop: int) -> torch.Tensor:
        if x.dim() != 3:
            raise ValueError(f"expected a waveform [B x C x T], got shape {tuple(x.shape)}")
        pad = (-x.shape[-1]) % hop
        return F.pad(x, (0, pad)) if pad else x

    def encode_features(self, x: torch.Tensor, level: int) -> torch.Tensor:
        """Continuous encoder output of one level (D2M-GAN's ``xs``).

        x: Tensor[B x 1 x T] (any T; zero-padded at the end to a multiple of the hop)
        -> Tensor[B x emb_width x ceil(T / hop)].
        """
        level = self._check_level(level)
        return self.encoders[level](self._pad_to_hop(x, self.hops[level]))

    def quantize(self, features: torch.Tensor, level: int) -> QuantizedResult:
        """Nearest-code lookup of features Tensor[B x emb_width x T_L] without touching the codebook.

        ``result.quantized`` carries straight-through gradients to ``features``: decode it to train whatever
        produced the features with waveform losses (the generator, in D2M-GAN).
        """
        return self.bottleneck[self._check_level(level)](features, update=False)

    def encode(self, x: torch.Tensor, level: int) -> torch.Tensor:
        """x: Tensor[B x 1 x T] -> codes LongTensor[B x ceil(T / hop_level)]."""
        level = self._check_level(level)
        return self.bottleneck[level].encode(self.encode_features(x, level))

    def codebook_sha256(self) -> str:
        """sha256 of the codebooks (every level's, float32): what a code means to a model trained on them.

        Two tokenizers with the same digest encode to and decode from the same vectors; their decoders may
        differ (`vqvae-base-fast` has `vqvae-base`'s codebooks and narrower decoders).
        """
        h = hashlib.sha256()
        for vq in self.bottleneck.level_blocks:
            h.update(vq.k.detach().float().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()

    # -- decode ---------------------------------------------------------------------------------------------
    def codes_to_features(self, codes: torch.Tensor, level: int) -> torch.Tensor:
        """codes: LongTensor[B x T_L] -> codebook vectors Tensor[B x emb_width x T_L]."""
        return self.bottleneck[self._check_level(level)].decode(codes)

    def decode_features(self, features: torch.Tensor, level: int) -> torch.Tensor:
        """Decoder of one level on (quantized) features Tensor[B x emb_width x T_L] -> Tensor[B x 1 x T_L*hop].

        Without gradients on CPU it runs the decoder's time-major plan (`nn.timemajor`: the same function,
        about twice as fast); with gradients, or on another device, the module itself.
        """
        level = self._check_level(level)
        decoder = self.decoders[level]
        if torch.is_grad_enabled() or features.device.type != "cpu" or features.dtype != torch.float32:
            return decoder(features)
        plan = self._plans.get(level)
        if plan is None or plan.key != TimeMajorDecoder.params_key(decoder):
            if not TimeMajorDecoder.supports(decoder):
                return decoder(features)
            plan = self._plans[level] = TimeMajorDecoder(decoder)
        return plan(features)

    def decode(self, codes: torch.Tensor, level: int) -> torch.Tensor:
        """codes: LongTensor[B x T_L] -> waveform Tensor[B x 1 x T_L * hop_level] (whole sequence at once)."""
        return self.decode_features(self.codes_to_features(codes, level), level)

    def decoder_context(self, level: int) -> int:
        """Code frames of context on each side that one decoded sample depends on (the receptive field).

        Summed over the decoder's layers, each measured at the rate it runs at (in code frames): a kernel-k
        conv with dilation d at ``r`` samples per code frame reaches ``(k-1)//2 * d / r`` frames; a transposed
        conv reaches one input frame.
        """
        level = self._check_level(level)
        dec = self.decoders[level]
        rate, ctx = 1.0, 0.0
        for block in reversed(dec.level_blocks):
            ctx += 1.0 / rate  # kernel-3 input conv
            for stage in list(block.model)[1:]:
                resnet, up = stage[0], stage[1]
                ctx += resnet.receptive_field() / rate
                ctx += 1.0 / rate  # kernel 4, stride 2, padding 1: each output sees 2 neighbouring inputs
                rate *= up.stride[0]
        ctx += 1.0 / rate  # output conv
        return int(math.ceil(ctx)) + 1

    @torch.no_grad()
    def decode_chunked(
        self,
        codes: torch.Tensor,
        level: int,
        chunk: int | None = None,
        workers: int | None = None,
        *,
        postfilter: bool = True,
    ) -> torch.Tensor:
        """`decode` in bounded memory: windows of ``chunk`` codes, each padded with the decoder's receptive
        field of real neighbouring codes, so every output sample sees exactly the context it has in a full
        decode and the joins are seamless. Peak memory depends on ``chunk`` (and ``workers``), not on the length.
        The default chunk is about 32768 output samples: small enough for the activations to stay in the CPU
        caches (measured 1.3x faster than 131072 at hop 128), large enough that the padding costs little.

        workers: windows decoded at once, each by its own thread running single-threaded kernels (default:
            torch's intra-op thread count). The convolutions here are too thin for intra-op threads to help,
            while independent windows scale with the cores. On CPU only; the output is identical for any value.
        postfilter: run the level's post-filter, if the model has one, over the decoded waveform.

        codes: LongTensor[B x T_L] -> Tensor[B x 1 x T_L * hop_level].
        """
        level = self._check_level(level)
        hop, ctx = self.hops[level], self.decoder_context(level)
        chunk = max(1, 32768 // hop) if chunk is None else max(1, int(chunk))
        b, t = codes.shape
        out = torch.empty(b, 1, t * hop, device=codes.device, dtype=self.bottleneck[level].k.dtype)

        inference = torch.is_inference_mode_enabled()  # like grad mode, it is per thread: carry it to the workers

        def window(start: int) -> None:
            stop = min(t, start + chunk)
            lo, hi = max(0, start - ctx), min(t, stop + ctx)
            with torch.inference_mode(inference), torch.no_grad():
                y = self.decode(codes[:, lo:hi], level)
                out[:, :, start * hop : stop * hop] = y[:, :, (start - lo) * hop : (stop - lo) * hop]

        starts = range(0, t, chunk)
        n_threads = torch.get_num_threads()
        workers = n_threads if workers is None else int(workers)
        workers = min(workers, len(starts))
        if workers <= 1 or codes.device.type != "cpu":
            for start in starts:
                window(start)
        else:
            torch.set_num_threads(1)  # one core per window: intra-op threads on top would oversubscribe
            try:
                with ThreadPoolExecutor(workers, thread_name_prefix="decode") as pool:
                    for f in [pool.submit(window, s) for s in starts]:
                        f.result()
            finally:
                torch.set_num_threads(n_threads)
        if postfilter and self.postfilters is not None:  # on the caller's thread, in the caller's mode
            out = self.postfilters[level].apply(out)
        return out

    # -- training -------------------------------------------------------------------------------------------
    def forward(
        self, x: torch.Tensor, levels: list[int] | None = None, *, frozen_codes: bool = False
    ) -> VQVAEOutput:
        """Encode, quantize (updating the codebooks in training mode) and decode every level.

        frozen_codes: encode and quantize without gradients or codebook updates, so only the decoders learn
            (a new decoder for an existing tokenizer's codes; the codes any model was trained on stay valid).
        x: Tensor[B x 1 x T] -> `VQVAEOutput` with reconstructions cropped to T.
        """
        levels = list(range(self.levels)) if levels is None else [self._check_level(L) for L in levels]
        recon, codes, commits, ppl, usage = [], [], [], [], []
        for L in levels:
            if frozen_codes:
                with torch.no_grad():
                    q = self.bottleneck[L](self.encode_features(x, L), update=False)
            else:
                q = self.bottleneck[L](self.encode_features(x, L))
            recon.append(self.decoders[L](q.quantized)[..., : x.shape[-1]])
            codes.append(q.codes)
            commits.append(q.commit_loss)
            ppl.append(q.perplexity)
            usage.append(q.usage)
        return VQVAEOutput(recon, codes, torch.stack(commits).sum(), commits, ppl, usage)

    # -- persistence --------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, *, half: bool = False, meta: dict[str, Any] | None = None) -> Path:
        """Write ``path`` (safetensors) holding the weights and, in its metadata, the constructor config.

        half: store the decoders' (and post-filters') weights as float16; the encoders and codebooks stay
            float32, so that music encodes to exactly the codes of the float32 model.
        """
        from safetensors.torch import save_file

        sd = {}
        for k, v in self.state_dict().items():
            v = v.detach().cpu().contiguous()
            if half and v.is_floating_point() and not k.startswith(("bottleneck.", "encoders.")):
                v = v.half()
            sd[k] = v
        # One metadata key: safetensors writes several in a random order, which would make the file's sha256
        # (the registry's checksum) change from one save of the same weights to the next.
        header = {
            _FORMAT: json.dumps(
                {"version": _FORMAT_VERSION, "config": self.config, "meta": meta or {}}, sort_keys=True
            )
        }
        path = Path(path)
        with atomic_output(path) as tmp:
            save_file(sd, str(tmp), metadata=header)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, map_location: str | torch.device = "cpu") -> VQVAE:
        """Rebuild a model written by `save` (config from the file's metadata)."""
        from safetensors import safe_open
        from safetensors.torch import load_file

        path = Path(path)
        if not path.is_file():
            raise ModelError(f"no such model file: {path}")
        try:
            with safe_open(str(path), framework="pt") as f:
                header = f.metadata() or {}
            sd = load_file(str(path), device=str(map_location))
        except Exception as e:  # safetensors raises several types for a bad file
            raise ModelError(f"cannot read {path} as a safetensors model ({e})") from e
        if _FORMAT in header:
            config = json.loads(header[_FORMAT])["config"]
        elif header.get("format") == _FORMAT:  # the first files written had one metadata key per field
            config = json.loads(header["config"])
        else:
            raise ModelError(f"{path} is not a dance2music VQ-VAE file")
        model = cls(**config)
        model.load_state_dict({k: v.float() for k, v in sd.items() if v.is_floating_point()}, strict=False)
        missing = set(model.state_dict()) - set(sd)
        if missing:
            raise ModelError(f"{path} lacks {len(missing)} tensors, e.g. {sorted(missing)[0]}")
        model.load_state_dict({k: v for k, v in sd.items() if not v.is_floating_point()}, strict=False)
        return model.to(map_location).eval()

    @classmethod
    def from_pretrained(cls, name_or_path: str = "vqvae-small", map_location: str | torch.device = "cpu") -> VQVAE:
        """Load shipped weights by registered name (see `dance2music.pretrained`) or a file written by `save`.

        The file read is kept as ``source_path``; `source_sha256` names those exact weights (what a generator
        trained on them records).
        """
        path = resolve(name_or_path, kind="vqvae")
        model = cls.load(path, map_location=map_location)
        model.source_path = path
        return model

    def source_sha256(self) -> str:
        """sha256 of the file this model was loaded from by `from_pretrained`."""
        if self.source_path is None:
            raise ModelError("this VQ-VAE was not loaded from a file (use VQVAE.from_pretrained)")
        return sha256_file(self.source_path)

    @classmethod
    def from_jukebox(cls, path: str | os.PathLike, **overrides: Any) -> VQVAE:
        """Load OpenAI JukeBox's ``vqvae.pth.tar`` (a dict whose ``'model'`` is the state dict).

        The number of levels and codebook size are read from the tensors; the other hyperparameters are the
        ``jukebox`` preset unless overridden. ``module.`` prefixes (DDP saves) are stripped; the EMA statistics,
        which JukeBox does not save, start from the loaded codebooks.
        """
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"no such checkpoint: {path}")
        try:
            ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception:
            # JukeBox pickles its own hyperparameter class next to the weights; read it without jukebox.
            ckpt = torch.load(str(path), map_location="cpu", weights_only=False, pickle_module=_lenient_pickle)
        sd = ckpt.get("model", ckpt) if isinstance(ckpt, dict) else None
        if not isinstance(sd, dict) or not any(k.endswith("bottleneck.level_blocks.0.k") for k in sd):
            raise ModelError(f"{path} does not hold a JukeBox VQ-VAE state dict")
        sd = {k.removeprefix("module."): v for k, v in sd.items() if torch.is_tensor(v)}
        levels = sum(1 for k in sd if k.startswith("bottleneck.level_blocks.") and k.endswith(".k"))
        l_bins, emb_width = sd["bottleneck.level_blocks.0.k"].shape
        kwargs = {**PRESETS["jukebox"], "levels": levels, "l_bins": l_bins, "emb_width": emb_width, **overrides}
        model = cls(**kwargs)
        result = model.load_state_dict(sd, strict=False)
        ema = {"k_sum", "k_elem", "initialized"}
        missing = [k for k in result.missing_keys if k.rsplit(".", 1)[-1] not in ema]
        if missing or result.unexpected_keys:
            bad = (missing or result.unexpected_keys)[0]
            raise ModelError(
                f"{path} does not match the JukeBox layout ({len(missing)} missing, "
                f"{len(result.unexpected_keys)} unexpected tensors, e.g. {bad})"
            )
        for vq in model.bottleneck.level_blocks:
            vq.reset_ema_from_codebook()
        return model.eval()


class _Placeholder(dict):
    """Stands in for any class a foreign pickle names but this environment lacks (kept as a dict)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, dict):
            self.update(state)


class _LenientUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError):
            return _Placeholder


_lenient_pickle = types.SimpleNamespace(Unpickler=_LenientUnpickler, load=pickle.load, __name__="pickle")


#: The audio tokenizer under its role's name: ``Tokenizer.from_pretrained("vqvae-small")``.
Tokenizer = VQVAE
