"""Training stage 3: synthesizer fine-tuning, the VQ-VAE decoder of one level trained as a GAN generator.

The paper fine-tunes JukeBox's decoder adversarially (Adam, lr 1e-5) so that decoded codes sound less noisy.
Here: the encoder and codebook stay frozen; real music is encoded and looked up, the level's decoder turns the
codes back into a waveform, and MelGAN-style multi-scale waveform discriminators (`models.discriminator`,
preset ``waveform``: 3 scales, raw audio at 1x, 2x, 4x) judge it window by window. The decoder's loss:
``adv/gen`` (hinge) + ``adv/feat`` (feature matching, MelGAN's weight 10) + ``audio/mel`` (log-mel L1 to the
real music, which keeps the content) + optional ``audio/wav``. D: hinge loss, Adam(lr_d).

``export`` writes the whole VQ-VAE with the fine-tuned decoder (``vqvae.safetensors``) into the run folder:
pass that file as ``vqvae:`` to the GAN stage or to `models.d2m.D2M.load`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.nn import functional as F

from ..data.music import MusicCrops, MusicDataConfig, eval_segments, resolve_sources
from ..errors import ConfigError, D2MError
from ..losses.adversarial import (
    check_loss_weights,
    feature_matching_loss,
    hinge_discriminator_loss,
    hinge_generator_loss,
    weighted_total,
)
from ..losses.spectral import LogMelDistance
from ..models.d2m import build_discriminator
from .config import TrainerConfig
from .gan_task import load_frozen_vqvae, no_param_grads
from .trainer import Task, TrainContext

#: Decoder loss weights, keyed by the logged names (MelGAN's feature-matching weight; the paper's mel weight).
SYNTH_LOSS_WEIGHTS: dict[str, float] = {"adv/gen": 1.0, "adv/feat": 10.0, "audio/mel": 15.0, "audio/wav": 0.0}


@dataclass
class SynthExperiment:
    """Everything ``d2m train synth`` reads from its YAML config (see configs/gan_synth.yaml)."""

    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(batch_size=16))
    data: MusicDataConfig = field(default_factory=MusicDataConfig)
    vqvae: str = "vqvae-small"  # the VQ-VAE whose decoder is fine-tuned (name or .safetensors path)
    hop_length: int = 128  # which level's decoder: 128 (top) or 32 (lower)
    discriminator: dict[str, Any] = field(default_factory=dict)  # `build_discriminator` spec ({} = waveform)
    lr_g: float = 1e-5  # the paper's synthesizer fine-tuning rate
    lr_d: float = 1e-4  # MelGAN's discriminator rate (the discriminators start from scratch)
    betas: tuple[float, float] = (0.5, 0.9)
    loss_weights: dict[str, float] = field(default_factory=lambda: dict(SYNTH_LOSS_WEIGHTS))
    eval_seconds: float = 2.0
    eval_clips_per_file: int = 1


class SynthTask(Task):
    """Fine-tunes one level's VQ-VAE decoder against waveform discriminators (see the module docstring)."""

    name = "synth"
    config_cls = SynthExperiment

    def __init__(self, config: SynthExperiment) -> None:
        super().__init__(config)
        check_loss_weights(config.loss_weights, SYNTH_LOSS_WEIGHTS)
        self._eval_audio: torch.Tensor | None = None

    def build(self, ctx: TrainContext) -> None:
        cfg = self.config
        self.vqvae, self.vqvae_sha256 = load_frozen_vqvae(cfg.vqvae, ctx.device)
        try:
            self.level = self.vqvae.level_for_hop(cfg.hop_length)
        except D2MError as e:
            raise ConfigError(f"hop_length {cfg.hop_length}: {e}") from None
        if cfg.data.sample_rate != self.vqvae.sample_rate:
            raise ConfigError(f"data.sample_rate {cfg.data.sample_rate} != the VQ-VAE's {self.vqvae.sample_rate}")
        decoder = self.vqvae.decoders[self.level]
        for p in decoder.parameters():  # only this level's decoder learns; encoder and codebook stay frozen
            p.requires_grad_(True)
        self.decoder = ctx.add_model("decoder", decoder)
        disc = build_discriminator(cfg.discriminator or "waveform")
        if disc.flatten or disc.in_channels != 1:
            raise ConfigError("the synthesizer's discriminator must take raw audio (flatten false, in_channels 1)")
        self.d = ctx.add_model("d", disc)
        betas = tuple(cfg.betas)
        ctx.add_optimizer("decoder", torch.optim.Adam(decoder.parameters(), lr=cfg.lr_g, betas=betas))
        ctx.add_optimizer("d", torch.optim.Adam(disc.parameters(), lr=cfg.lr_d, betas=betas))
        self.mel = LogMelDistance(sample_rate=self.vqvae.sample_rate).to(ctx.device)
        if ctx.is_main:
            n_g = sum(p.numel() for p in decoder.parameters())
            n_d = sum(p.numel() for p in disc.parameters())
            print(
                f"synth: fine-tuning the hop-{cfg.hop_length} decoder ({n_g / 1e6:.2f} M) against "
                f"{len(disc.discriminators)} waveform discriminators ({n_d / 1e6:.2f} M)",
                file=sys.stderr,
            )

    def train_dataset(self) -> MusicCrops:
        return self.config.data.train_crops(self.config.trainer.seed)

    def _codes(self, audio: torch.Tensor) -> torch.Tensor:
        """Real music ``[B, 1, N]`` -> its looked-up code vectors (frozen encoder and codebook, no grad)."""
        with torch.no_grad():
            feats = self.vqvae.encode_features(audio.float(), self.level)
            return self.vqvae.quantize(feats, self.level).quantized.detach()

    def train_step(self, batch: torch.Tensor, ctx: TrainContext) -> dict[str, Any]:
        audio = batch.float()
        n = audio.shape[-1]
        fake = self.decoder(self._codes(audio))[..., :n].float()
        b = audio.shape[0]
        logits, feats = self.d(torch.cat([audio, fake.detach()]))
        loss_d = hinge_discriminator_loss([x[:b] for x in logits], [x[b:] for x in logits])
        ctx.optimize("d", loss_d)
        real_feats = [[f[:b].detach() for f in fs] for fs in feats]
        with no_param_grads(ctx.models["d"]):
            fake_logits, fake_feats = ctx.models["d"](fake)
        losses = {
            "adv/gen": hinge_generator_loss(fake_logits),
            "adv/feat": feature_matching_loss(real_feats, fake_feats),
            "audio/mel": self.mel(fake, audio),
            "audio/wav": F.l1_loss(fake, audio),
        }
        total = weighted_total(losses, self.config.loss_weights)
        ctx.optimize("decoder", total)
        return {**{k: v.detach() for k, v in losses.items()}, "adv/disc": loss_d.detach(), "loss/g": total.detach()}

    @torch.no_grad()
    def evaluate(self, ctx: TrainContext) -> dict[str, float]:
        """Log-mel and waveform L1 of the decoded held-out music (lower is better)."""
        cfg = self.config
        if self._eval_audio is None:
            try:
                files = resolve_sources(cfg.data.eval_sources)
            except ConfigError:
                return {}
            if cfg.eval_clips_per_file < 1:
                return {}
            self._eval_audio = eval_segments(
                files, seconds=cfg.eval_seconds, count=cfg.eval_clips_per_file, sample_rate=cfg.data.sample_rate
            )
        decoder = ctx.models["decoder"].eval()
        mel = wav = 0.0
        for x in self._eval_audio.split(4):
            x = x.to(ctx.device)
            y = decoder(self._codes(x))[..., : x.shape[-1]]
            mel += float(self.mel(y, x)) * len(x)
            wav += float(F.l1_loss(y, x)) * len(x)
        n = len(self._eval_audio)
        return {"audio/mel": mel / n, "audio/wav": wav / n}

    def export(self, ctx: TrainContext) -> None:
        self.vqvae.save(
            ctx.out_dir / "vqvae.safetensors",
            meta={"step": ctx.step, "task": self.name, "fine_tuned_hop": self.config.hop_length,
                  "base_sha256": self.vqvae_sha256},
        )  # fmt: skip

    def state_dict(self) -> dict[str, Any]:
        return {"vqvae_sha256": self.vqvae_sha256}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        sha = state.get("vqvae_sha256")
        if sha and sha != self.vqvae_sha256:
            raise ConfigError(
                f"this run fine-tunes another VQ-VAE (sha256 {sha[:12]}..., now {self.vqvae_sha256[:12]}...)"
            )
