"""Training stage 3: synthesizer fine-tuning, the VQ-VAE decoder of one level trained as a GAN generator.

The paper fine-tunes JukeBox's decoder adversarially (Adam, lr 1e-5) so that decoded codes sound less noisy.
Here: the encoder and codebook stay frozen (the codes, and so every generator trained on them, stay valid);
real music is encoded and looked up, the level's decoder (starting from the tokenizer's own) turns the codes
back into a waveform, and one or more waveform discriminators judge it (``discriminators``):

* ``waveform``: MelGAN-style multi-scale waveform discriminators (`models.discriminator`, preset ``waveform``:
  3 scales, raw audio at 1x, 2x, 4x), the first recipe;
* ``stft``: a multi-scale complex-STFT discriminator (EnCodec / DAC; `models.audio_discriminators`);
* ``period``: a multi-period waveform discriminator (HiFi-GAN, periods 2, 3, 5, 7, 11).

The decoder's loss, weights keyed by the logged names (``loss_weights``): ``adv/gen`` (hinge or least
squares, ``adv_loss``, summed over every sub-discriminator) + ``adv/feat`` (feature matching: mean L1 between
the discriminators' feature maps on real and decoded music) + the reconstruction terms that keep the content:
``audio/mel`` (log-mel L1), ``audio/spec`` (multi-resolution STFT: spectral convergence + log magnitude) and
``audio/wav`` (waveform L1). D: the same adversarial loss, Adam(``optim.lr_d``). STFTs run in float32; the decoder runs
in float32 too unless ``decoder_amp`` (bfloat16 rounding would add the very noise floor this stage removes).

Music: `training.synth_data` (files or one .npy bundle, gain and EQ augmentation).

``export`` writes the whole VQ-VAE with the fine-tuned decoder (``vqvae.safetensors``) into the run folder:
pass that file as ``vqvae:`` to the GAN stage or to `models.d2m.D2M.load`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import ConfigError
from ..losses.adversarial import ADV_LOSSES
from ..losses.spectral import LogMelDistance, MultiResolutionSTFTLoss
from ..losses.weighting import weighted_total
from ..models.audio_discriminators import build_audio_discriminator
from ..models.d2m import build_discriminator
from .adversary import Adversary, frozen_vqvae
from .config import GANOptimConfig, TrainerConfig
from .synth_data import SynthDataConfig, describe, eval_audio, train_crops
from .trainer import Task, TrainContext

#: Decoder loss weights, keyed by the logged names (MelGAN's feature-matching weight; the paper's mel weight).
SYNTH_LOSS_WEIGHTS: dict[str, float] = {
    "adv/gen": 1.0,
    "adv/feat": 10.0,
    "audio/mel": 15.0,
    "audio/wav": 0.0,
    "audio/spec": 0.0,
}

#: The adversaries ``discriminators`` may name, and the default spec of each (a preset name).
DISCRIMINATOR_KINDS = {"waveform": "waveform", "stft": "stft", "period": "period"}


@dataclass
class SynthOptim(GANOptimConfig):
    lr_g: float = 1e-5  # the paper's synthesizer fine-tuning rate
    lr_d: float = 1e-4  # MelGAN's discriminator rate (the discriminators start from scratch)


@dataclass
class SynthExperiment:
    """Everything ``d2m train synth`` reads from its YAML config (see configs/synth_top.yaml)."""

    MOVED_KEYS: ClassVar[dict[str, str]] = {"lr_g": "optim.lr_g", "lr_d": "optim.lr_d", "betas": "optim.betas"}

    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(batch_size=16))
    data: SynthDataConfig = field(default_factory=SynthDataConfig)
    vqvae: str = "vqvae-small"  # the VQ-VAE whose decoder is fine-tuned (name or .safetensors path)
    hop_length: int = 128  # which level's decoder: 128 (top) or 32 (lower)
    discriminators: list[str] = field(default_factory=lambda: ["waveform"])  # any of waveform, stft, period
    discriminator: dict[str, Any] = field(default_factory=dict)  # the ``waveform`` one ({} = preset waveform)
    stft_discriminator: dict[str, Any] = field(default_factory=dict)  # `build_audio_discriminator` ({} = stft)
    period_discriminator: dict[str, Any] = field(default_factory=dict)  # ({} = preset period)
    adv_loss: str = "hinge"  # hinge | ls (least squares, HiFi-GAN's)
    decoder_amp: bool = False  # let the decoder run in bfloat16 under the trainer's autocast (CUDA)
    optim: SynthOptim = field(default_factory=SynthOptim)
    loss_weights: dict[str, float] = field(default_factory=lambda: dict(SYNTH_LOSS_WEIGHTS))
    spectral_fft_sizes: list[int] = field(default_factory=lambda: [2048, 1024, 512, 256, 128])  # audio/spec
    eval_seconds: float = 2.0
    eval_clips_per_file: int = 1


class Discriminators(nn.Module):
    """Several discriminators as one: their per-sub-discriminator logits and feature maps, concatenated.

    forward: Tensor[B x 1 x T] -> (list[logits], list[list[feature maps]]).
    """

    def __init__(self, discriminators: dict[str, nn.Module]) -> None:
        super().__init__()
        self.parts = nn.ModuleDict(discriminators)

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        logits: list[torch.Tensor] = []
        feats: list[list[torch.Tensor]] = []
        for d in self.parts.values():
            out, f = d(x)
            logits += out
            feats += f
        return logits, feats


def build_discriminators(cfg: SynthExperiment) -> Discriminators:
    """The adversaries ``cfg.discriminators`` names, built from their specs."""
    if not cfg.discriminators:
        raise ConfigError("discriminators: name at least one of " + ", ".join(DISCRIMINATOR_KINDS))
    parts: dict[str, nn.Module] = {}
    for kind in cfg.discriminators:
        if kind == "waveform":
            disc = build_discriminator(cfg.discriminator or "waveform")
            if disc.flatten or disc.in_channels != 1:
                raise ConfigError("the synthesizer's discriminator must take raw audio (flatten false, in_channels 1)")
        elif kind == "stft":
            disc = build_audio_discriminator(cfg.stft_discriminator or "stft")
        elif kind == "period":
            disc = build_audio_discriminator(cfg.period_discriminator or "period")
        else:
            raise ConfigError(f"unknown discriminator {kind!r} (known: {', '.join(DISCRIMINATOR_KINDS)})")
        parts[kind] = disc
    return Discriminators(parts)


class SynthTask(Task):
    """Fine-tunes one level's VQ-VAE decoder against waveform discriminators (see the module docstring)."""

    name = "synth"
    config_cls = SynthExperiment
    _eval_audio: torch.Tensor | None = None  # the held-out clips, read at the first evaluation

    def __init__(self, config: SynthExperiment) -> None:
        super().__init__(config)
        if config.adv_loss not in ADV_LOSSES:
            raise ConfigError(f"adv_loss must be one of {', '.join(ADV_LOSSES)}, got {config.adv_loss!r}")
        unknown = set(config.discriminators) - set(DISCRIMINATOR_KINDS)
        if unknown:
            raise ConfigError(f"unknown discriminator {sorted(unknown)[0]!r} (known: {', '.join(DISCRIMINATOR_KINDS)})")

    def build(self, ctx: TrainContext) -> None:
        cfg = self.config
        self.vqvae, self.level = frozen_vqvae(cfg.vqvae, cfg.hop_length, ctx.device)
        self.vqvae_sha256 = self.vqvae.source_sha256()
        if cfg.data.sample_rate != self.vqvae.sample_rate:
            raise ConfigError(f"data.sample_rate {cfg.data.sample_rate} != the VQ-VAE's {self.vqvae.sample_rate}")
        self.codebook_sha256 = self.vqvae.codebook_sha256()
        decoder = self.vqvae.decoders[self.level]
        for p in decoder.parameters():  # only this level's decoder learns; encoder and codebook stay frozen
            p.requires_grad_(True)
        self.decoder = ctx.add_model("decoder", decoder)
        disc = build_discriminators(cfg)
        betas = tuple(cfg.optim.betas)
        self.adversary = Adversary(ctx, disc, lr=cfg.optim.lr_d, betas=betas, loss=cfg.adv_loss)
        ctx.add_optimizer("decoder", torch.optim.Adam(decoder.parameters(), lr=cfg.optim.lr_g, betas=betas))
        self.mel = LogMelDistance(sample_rate=self.vqvae.sample_rate).to(ctx.device)
        self.spec = MultiResolutionSTFTLoss(fft_sizes=tuple(cfg.spectral_fft_sizes)).to(ctx.device)
        self.weights = {k: float(w) for k, w in cfg.loss_weights.items() if w != 0}
        if ctx.is_main:
            n_g = sum(p.numel() for p in decoder.parameters())
            sizes = ", ".join(
                f"{k} {sum(p.numel() for p in m.parameters()) / 1e6:.2f} M" for k, m in disc.parts.items()
            )
            print(
                f"synth: fine-tuning the hop-{cfg.hop_length} decoder ({n_g / 1e6:.2f} M) against {sizes} "
                f"({cfg.adv_loss} loss)",
                file=sys.stderr,
            )

    def train_dataset(self):
        return train_crops(self.config.data, self.config.trainer.seed)

    def _codes(self, audio: torch.Tensor) -> torch.Tensor:
        """Real music ``[B, 1, N]`` -> its looked-up code vectors (frozen encoder and codebook, no grad)."""
        with torch.no_grad(), torch.autocast(device_type=audio.device.type, enabled=False):
            feats = self.vqvae.encode_features(audio.float(), self.level)
            return self.vqvae.quantize(feats, self.level).quantized.detach().float()

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Code vectors -> waveform through the trained decoder (float32 unless ``decoder_amp``)."""
        if self.config.decoder_amp:
            return self.decoder(codes).float()
        with torch.autocast(device_type=codes.device.type, enabled=False):
            return self.decoder(codes).float()

    def train_step(self, batch: torch.Tensor, ctx: TrainContext) -> dict[str, Any]:
        audio = batch.float()
        n = audio.shape[-1]
        fake = self._decode(self._codes(audio))[..., :n]
        d_step = self.adversary.step(ctx, audio, fake)
        losses = self.adversary.generator_terms(fake, d_step)
        if "audio/mel" in self.weights:
            losses["audio/mel"] = self.mel(fake, audio)
        if "audio/wav" in self.weights:
            losses["audio/wav"] = F.l1_loss(fake, audio)
        if "audio/spec" in self.weights:
            losses["audio/spec"] = self.spec(fake, audio).total
        total = weighted_total(losses, {k: w for k, w in self.weights.items() if k in losses})
        ctx.optimize("decoder", total)
        logs = {k: v.detach() for k, v in losses.items()}
        return {**logs, "adv/disc": d_step.loss.detach(), "loss/g": total.detach()}

    @torch.no_grad()
    def evaluate(self, ctx: TrainContext) -> dict[str, float]:
        """Log-mel, multi-resolution STFT and waveform L1 of the decoded held-out music (lower is better), and the
        median rise of its high-band noise floor (dB; 0 = as quiet as the original)."""
        cfg = self.config
        if self._eval_audio is None:
            self._eval_audio = eval_audio(cfg.data, seconds=cfg.eval_seconds, count=cfg.eval_clips_per_file)
            if self._eval_audio is None:
                return {}
        decoder = ctx.models["decoder"].eval()
        mel = wav = spec = 0.0
        rises = []
        for x in self._eval_audio.split(4):
            x = x.to(ctx.device)
            with torch.autocast(device_type=x.device.type, enabled=False):
                y = decoder(self._codes(x))[..., : x.shape[-1]].float()
                rises.append(self._floor_rise(y, x))
            mel += float(self.mel(y, x)) * len(x)
            wav += float(F.l1_loss(y, x)) * len(x)
            spec += float(self.spec(y, x).total) * len(x)
        n = len(self._eval_audio)
        floor = float(torch.cat(rises).median())
        return {"audio/mel": mel / n, "audio/wav": wav / n, "audio/spec": spec / n, "sound/floor_rise_db": floor}

    def _floor_rise(self, y: torch.Tensor, x: torch.Tensor, fmin: float = 2000.0) -> torch.Tensor:
        """Per clip, the mean over mel bands above ``fmin`` of the rise of the 10th-percentile log-mel level (dB)
        from ``x`` to ``y`` (`metrics.sound.floor_rise_db` in torch, so that it needs no librosa): Tensor[B]."""
        fb = self.mel.fb
        centres = fb.argmax(1).float() * (self.vqvae.sample_rate / 2) / (fb.shape[1] - 1)
        high = centres >= fmin
        floors = [torch.quantile(20 * self.mel.log_mel(a)[:, high], 0.1, dim=-1) for a in (y, x)]
        return (floors[0] - floors[1]).mean(1).cpu()

    def export(self, ctx: TrainContext) -> None:
        cfg = self.config
        self.vqvae.save(
            ctx.out_dir / "vqvae.safetensors",
            meta={"step": ctx.step, "task": self.name, "fine_tuned_hop": cfg.hop_length,
                  "base_sha256": self.vqvae_sha256, "codebook_sha256": self.codebook_sha256,
                  "discriminators": list(cfg.discriminators), "adv_loss": cfg.adv_loss, "data": describe(cfg.data)},
        )  # fmt: skip

    def state_dict(self) -> dict[str, Any]:
        return {"vqvae_sha256": self.vqvae_sha256}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        sha = state.get("vqvae_sha256")
        if sha and sha != self.vqvae_sha256:
            raise ConfigError(
                f"this run fine-tunes another VQ-VAE (sha256 {sha[:12]}..., now {self.vqvae_sha256[:12]}...)"
            )
