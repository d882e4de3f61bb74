"""Training stage 1: the audio tokenizer (`VQVAE`) on music crops.

Loss (weights in ``loss_weights``, keyed by these logged names; each term is summed over levels):
``recon/l1`` waveform L1, ``recon/spec`` multi-resolution STFT loss (spectral convergence + log magnitude),
``code/commit`` commitment of the encoder to its codes. The codebooks move by EMA, not by gradient.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from ..data.music import MusicCrops, eval_segments, resolve_sources
from ..errors import ConfigError
from ..losses.spectral import LogMelDistance, MultiResolutionSTFTLoss
from ..losses.weighting import weighted_total
from ..models.vqvae import PRESETS, VQVAE
from .config import AdamConfig, MusicData, TrainerConfig
from .trainer import Task, TrainContext

#: The tokenizer's loss weights, keyed by the logged names (each term summed over levels).
VQVAE_LOSS_WEIGHTS: dict[str, float] = {"recon/l1": 1.0, "recon/spec": 1.0, "code/commit": 0.02}


def vqvae_arch(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Every `VQVAE` constructor argument but ``input_channels`` and ``sample_rate``, from a spec ``{preset:
    name (default small), **overrides}``: the constructor's defaults, then the preset's values, then the
    overrides (sequences as lists, as `VQVAE.config` holds them)."""
    spec = dict(spec)
    name = spec.pop("preset", "small")
    if name not in PRESETS:
        raise ConfigError(f"model.preset: unknown VQ-VAE preset {name!r} (known: {', '.join(PRESETS)})")
    params = inspect.signature(VQVAE.__init__).parameters
    known = [k for k in params if k not in ("self", "input_channels", "sample_rate")]
    unknown = sorted(set(spec) - set(known))
    if unknown:
        raise ConfigError(f"model: unknown VQ-VAE argument {unknown[0]!r} (known: preset, {', '.join(known)})")
    arch = {**{k: params[k].default for k in known}, **PRESETS[name], **spec}
    return {k: list(v) if isinstance(v, (tuple, list)) else v for k, v in arch.items()}


@dataclass
class VQVAEExperiment:
    """Everything `d2m train vqvae` reads from its YAML config."""

    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    model: dict[str, Any] = field(default_factory=lambda: {"preset": "small"})  # `vqvae_arch` spec
    data: MusicData = field(default_factory=MusicData)
    optim: AdamConfig = field(default_factory=AdamConfig)
    loss_weights: dict[str, float] = field(default_factory=lambda: dict(VQVAE_LOSS_WEIGHTS))
    spectral_fft_sizes: list[int] = field(default_factory=lambda: [2048, 1024, 512, 256, 128])
    eval_seconds: float = 4.0  # length of each held-out evaluation crop
    eval_clips_per_file: int = 2
    init_from: str | None = None  # start from these weights (a .safetensors from `VQVAE.save`, or a name)
    # Train the decoders alone on init_from's encoders and codebooks, which stay fixed: the codes are the same
    # as init_from's, so a GAN trained on those codes works with the new decoders. The decoders start afresh
    # (their architecture may differ, e.g. a smaller model.decoder_width for faster decoding).
    decoders_only: bool = False


def _arch_of(model: VQVAE, arch: dict[str, Any]) -> dict[str, Any]:
    """``model``'s values of the keys of ``arch`` (an absent ``decoder_width`` is None: the encoders' width)."""
    return {k: model.config.get(k) for k in arch}


def _with_new_decoders(source: VQVAE, arch: dict[str, Any], name: str) -> VQVAE:
    """A model of architecture ``arch`` holding ``source``'s encoders and codebooks, fixed, and fresh decoders."""
    same = {k: v for k, v in arch.items() if k != "decoder_width"}
    if _arch_of(source, same) != same:
        raise ConfigError(f"init_from {name}: its encoders or codebooks differ from the config's model")
    model = VQVAE(**arch, sample_rate=source.sample_rate)
    kept = {k: v for k, v in source.state_dict().items() if not k.startswith("decoders.")}
    model.load_state_dict(kept, strict=False)
    for part in (model.encoders, model.bottleneck):
        part.requires_grad_(False)
    return model


class VQVAETask(Task):
    """Trains a `VQVAE` on `MusicCrops` (see the module docstring for the loss)."""

    name = "vqvae"
    config_cls = VQVAEExperiment
    _eval_audio: torch.Tensor | None = None  # the held-out clips, read at the first evaluation

    def build(self, ctx: TrainContext) -> None:
        cfg = self.config
        arch = vqvae_arch(cfg.model)
        if cfg.decoders_only:
            if not cfg.init_from:
                raise ConfigError("decoders_only needs init_from: the tokenizer whose encoders and codebooks to keep")
            model = _with_new_decoders(VQVAE.from_pretrained(cfg.init_from), arch, cfg.init_from)
        elif cfg.init_from:
            model = VQVAE.from_pretrained(cfg.init_from)
            if _arch_of(model, arch) != arch:
                raise ConfigError(f"init_from {cfg.init_from}: its architecture differs from the config's model")
        else:
            model = VQVAE(**arch, sample_rate=cfg.data.sample_rate)
        self.model = ctx.add_model("vqvae", model)
        params = model.decoders.parameters() if cfg.decoders_only else ctx.models["vqvae"].parameters()
        opt = torch.optim.Adam(
            params, lr=cfg.optim.lr, betas=tuple(cfg.optim.betas), weight_decay=cfg.optim.weight_decay
        )
        ctx.add_optimizer("vqvae", opt)
        warm = max(1, cfg.optim.warmup_steps)
        self.sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm))
        self.spec = MultiResolutionSTFTLoss(fft_sizes=tuple(cfg.spectral_fft_sizes)).to(ctx.device)
        self.mel: LogMelDistance | None = None  # built on first evaluation (librosa is slow to import)

    def train_dataset(self) -> MusicCrops:
        d = self.config.data
        return MusicCrops(
            resolve_sources(d.sources), segment=int(round(d.seconds * d.sample_rate)), seed=self.config.trainer.seed,
            gain=tuple(d.gain), sample_rate=d.sample_rate,
        )  # fmt: skip

    def losses(self, x: torch.Tensor, out: Any) -> dict[str, torch.Tensor]:
        """The weighted terms and per-level diagnostics for input x[B x 1 x T] and a `VQVAEOutput`."""
        logs: dict[str, torch.Tensor] = {}
        l1, spec = [], []
        for L, r in enumerate(out.recon):
            l1.append((r.float() - x.float()).abs().mean())
            spec.append(self.spec(r, x).total)
            logs[f"level{L}/l1"] = l1[-1].detach()
            logs[f"level{L}/spec"] = spec[-1].detach()
            logs[f"level{L}/perplexity"] = out.perplexity[L]
            logs[f"level{L}/usage"] = out.usage[L]
        logs["recon/l1"] = torch.stack(l1).sum()
        logs["recon/spec"] = torch.stack(spec).sum()
        logs["code/commit"] = out.commit_loss
        return logs

    def train_step(self, batch: torch.Tensor, ctx: TrainContext) -> dict[str, Any]:
        out = self.model(batch, frozen_codes=self.config.decoders_only)
        logs = self.losses(batch, out)
        loss = weighted_total(logs, self.config.loss_weights)
        ctx.optimize("vqvae", loss)
        self.sched.step()
        return {**logs, "loss": loss.detach(), "lr": self.sched.get_last_lr()[0]}

    @torch.no_grad()
    def evaluate(self, ctx: TrainContext) -> dict[str, float]:
        cfg = self.config
        if cfg.eval_clips_per_file <= 0:
            return {}
        if self._eval_audio is None:
            try:
                files = resolve_sources(cfg.data.eval_sources)
            except ConfigError:
                return {}
            self._eval_audio = eval_segments(
                files, seconds=cfg.eval_seconds, count=cfg.eval_clips_per_file, sample_rate=cfg.data.sample_rate
            )
        if self.mel is None:
            self.mel = LogMelDistance(sample_rate=cfg.data.sample_rate).to(ctx.device)
        model = ctx.models["vqvae"].eval()
        result: dict[str, float] = {}
        for L in range(model.levels):
            l1 = spec = mel = 0.0
            hist = torch.zeros(model.l_bins)
            n = 0
            for x in self._eval_audio.split(4):
                x = x.to(ctx.device)
                codes = model.encode(x, L)
                y = model.decode(codes, L)[..., : x.shape[-1]]
                l1 += float((y - x).abs().mean()) * len(x)
                spec += float(self.spec(y, x).total) * len(x)
                mel += float(self.mel(y, x)) * len(x)
                hist += torch.bincount(codes.flatten().cpu(), minlength=model.l_bins).float()
                n += len(x)
            p = hist / hist.sum()
            ppl = float(torch.exp(-(p * p.clamp_min(1e-10).log()).sum()))
            result.update({f"level{L}/l1": l1 / n, f"level{L}/stft": spec / n, f"level{L}/mel_l1": mel / n})
            result[f"level{L}/perplexity"] = ppl
        model.train()
        return result

    def export(self, ctx: TrainContext) -> None:
        ctx.models["vqvae"].save(ctx.out_dir / "vqvae.safetensors", meta={"step": ctx.step, "task": self.name})

    def state_dict(self) -> dict[str, Any]:
        return {"sched": self.sched.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "sched" in state:
            self.sched.load_state_dict(state["sched"])
