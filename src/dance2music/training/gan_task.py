"""Training stage 2: D2M-GAN, one VQ level per run (top: hop 128, lower: hop 32), on the shared trainer.

Each step, on a batch of aligned 2-s clips (motion, visual, music):

1. targets: the frozen VQ-VAE encodes the real music into continuous features ``real`` (what the official code
   calls ``xs``) and their looked-up codes ``real_q``;
2. the generator G makes ``fake`` from the dance (genre and tempo dropped at random, so it also works without);
3. D step: hinge loss on ``D(real)`` vs ``D(fake.detach())`` (one forward on both, as a batch), Adam;
4. G step: ``adv/gen`` + ``adv/feat`` from the updated D, ``code/commit`` = L1(fake, real_q), and
   ``audio/wav``/``audio/mel`` between the real music and the VQ-VAE decoding of ``fake`` through a
   straight-through codebook lookup, so those two terms really train G (they run under no_grad in the
   official code). Weights: ``loss_weights``, keyed by the logged names (paper: 1, 3, 15, 40, 15).

G and D use Adam(1e-4, betas (0.5, 0.9)) as the paper. The VQ-VAE is never updated; its file's sha256 is kept
in the checkpoint so a resumed run refuses a different one. ``export`` writes ``generator.safetensors`` (see
`models.d2m.save_generator`) into the run folder at every checkpoint.
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..constants import CLIP_SECONDS
from ..data.dataset import CachedClipDataset
from ..errors import ConfigError, D2MError
from ..losses.adversarial import (
    GAN_LOSS_WEIGHTS,
    feature_matching_loss,
    hinge_discriminator_loss,
    hinge_generator_loss,
    weighted_total,
)
from ..models.d2m import build_discriminator, build_generator, freeze, generator_spec, save_generator
from ..models.generator import OfficialGenerator
from ..types import MOTION_FEATURE_DIM
from .config import TrainerConfig
from .trainer import Task, TrainContext


@dataclass
class GANData:
    """Where the training pairs come from: a feature cache made by ``d2m data prepare``."""

    cache: str = ""  # the cache folder (required)
    split: str = "train"
    val_split: str = "val"  # clips for `evaluate` (skipped when the cache has none)
    seconds: float = CLIP_SECONDS  # segment length (the paper: 2 s)
    visual: str = "auto"  # "auto" (use visual features when every sequence has them), "true" or "false"
    gain: list[float] | None = None  # random music gain (low, high); the official code uses (0.3, 1.0)
    val_clips: int = 8  # evaluation clips (evenly spread over the val split)


@dataclass
class GANOptim:
    lr_g: float = 1e-4  # the paper's Adam settings, for G and D alike
    lr_d: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.9)


@dataclass
class GANExperiment:
    """Everything ``d2m train gan`` reads from its YAML config (see configs/gan_*.yaml)."""

    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(batch_size=16))
    data: GANData = field(default_factory=GANData)
    vqvae: str = "vqvae-small"  # registered name or .safetensors path of the frozen VQ-VAE
    hop_length: int = 128  # which VQ level: 128 (top) or 32 (lower)
    generator: dict[str, Any] = field(default_factory=dict)  # `build_generator` spec ({} = the small preset)
    discriminator: dict[str, Any] = field(default_factory=dict)  # `build_discriminator` spec ({} = small)
    optim: GANOptim = field(default_factory=GANOptim)
    genre_dropout: float = 0.2  # chance a clip's genre is hidden (the model must work without one)
    tempo_dropout: float = 0.2
    adversarial_start: int = 0  # steps of regression-only warm-up before D is trained and used
    loss_weights: dict[str, float] = field(default_factory=lambda: dict(GAN_LOSS_WEIGHTS))


def _visual_flag(value: str) -> bool | str:
    v = str(value).lower()
    if v in ("auto", "true", "false"):
        return {"auto": "auto", "true": True, "false": False}[v]
    raise ConfigError(f"data.visual must be auto, true or false, got {value!r}")


@contextlib.contextmanager
def no_param_grads(module: nn.Module) -> Iterator[None]:
    """Run ``module`` without computing gradients for its own weights (inputs still get theirs).

    The G step backpropagates through D only to reach G; skipping D's weight gradients saves compute.
    """
    flags = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, f in zip(module.parameters(), flags):
            p.requires_grad_(f)


def load_frozen_vqvae(ref: str, device: torch.device) -> tuple[nn.Module, str]:
    """The VQ-VAE named by ``ref`` (a .safetensors path or a registered name; frozen, on ``device``) and the
    sha256 of its file."""
    import hashlib
    from pathlib import Path

    from ..models.vqvae import VQVAE

    path = Path(ref).expanduser()
    if not path.is_file():
        from ..pretrained.registry import resolve

        path = resolve(ref, kind="vqvae")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return freeze(VQVAE.load(path).to(device)), digest


def input_statistics(cache: Any, use_visual: bool) -> dict[str, torch.Tensor]:
    """Per-dimension mean and std of the motion (and visual) features over every sequence of ``cache``."""
    m_sum = m_sq = None
    v_sum = v_sq = None
    m_n = v_n = 0
    for name in cache.names():
        motion, visual, _ = cache.load_arrays(name)
        f = motion.features().astype(np.float64)
        m_sum = f.sum(0) if m_sum is None else m_sum + f.sum(0)
        m_sq = (f**2).sum(0) if m_sq is None else m_sq + (f**2).sum(0)
        m_n += len(f)
        if use_visual and visual is not None:
            v = visual.features.astype(np.float64)
            v_sum = v.sum(0) if v_sum is None else v_sum + v.sum(0)
            v_sq = (v**2).sum(0) if v_sq is None else v_sq + (v**2).sum(0)
            v_n += len(v)

    def stats(s: np.ndarray, sq: np.ndarray, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        mean = s / n
        std = np.sqrt(np.maximum(sq / n - mean**2, 0.0))
        return torch.from_numpy(mean).float(), torch.from_numpy(std).float()

    out: dict[str, torch.Tensor] = {}
    out["motion_mean"], out["motion_std"] = stats(m_sum, m_sq, m_n)
    if v_n:
        out["visual_mean"], out["visual_std"] = stats(v_sum, v_sq, v_n)
    return out


class GANClipDataset(CachedClipDataset):
    """`CachedClipDataset` items plus ``tempo`` (float32 BPM from the sequence's labels, NaN when unknown)."""

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = super().__getitem__(index)
        if "tempo" not in item:
            tempo = self.entries[self._items[index][0]].get("tempo")
            item["tempo"] = torch.tensor(float("nan") if tempo is None else float(tempo))
        return item


class GANTask(Task):
    """D2M-GAN training for one VQ level (see the module docstring)."""

    name = "gan"
    config_cls = GANExperiment

    def __init__(self, config: GANExperiment) -> None:
        super().__init__(config)
        unknown = set(config.loss_weights) - set(GAN_LOSS_WEIGHTS)
        if unknown:
            raise ConfigError(f"unknown loss weight {sorted(unknown)[0]!r} (known: {', '.join(GAN_LOSS_WEIGHTS)})")
        if not config.data.cache:
            raise ConfigError("data.cache is required: a folder made by `d2m data prepare`")
        if not 0 <= config.genre_dropout <= 1 or not 0 <= config.tempo_dropout <= 1:
            raise ConfigError("genre_dropout and tempo_dropout must be in [0, 1]")
        self._dataset: GANClipDataset | None = None
        self._val: list[dict[str, torch.Tensor]] | None = None
        self._logged_real = False

    # ---- set-up ------------------------------------------------------------------------------------------
    def train_dataset(self) -> GANClipDataset:
        if self._dataset is None:
            d = self.config.data
            self._dataset = GANClipDataset(
                d.cache,
                d.seconds,
                split=d.split,
                random_crop=True,
                seed=self.config.trainer.seed,
                visual=_visual_flag(d.visual),
                gain=tuple(d.gain) if d.gain else None,
            )
        return self._dataset

    def build(self, ctx: TrainContext) -> None:
        cfg = self.config
        ds = self.train_dataset()
        self.vqvae, self.vqvae_sha256 = load_frozen_vqvae(cfg.vqvae, ctx.device)
        try:
            self.level = self.vqvae.level_for_hop(cfg.hop_length)
        except D2MError as e:
            raise ConfigError(f"hop_length {cfg.hop_length}: {e}") from None
        self.num_codes = ds.audio_samples // cfg.hop_length  # whole codes only: the audio is cut to match
        if self.num_codes < 1:
            raise ConfigError(f"data.seconds {cfg.data.seconds} is shorter than one code")
        visual_dim = int(ds.entries[0]["visual_dim"]) if ds.use_visual else 0
        spec = dict(cfg.generator)
        data_args: dict[str, Any] = dict(
            motion_dim=MOTION_FEATURE_DIM,
            visual_dim=visual_dim,
            latent_dim=self.vqvae.emb_width,
            sample_rate=self.vqvae.sample_rate,
            input_fps=ds.motion_fps,
        )
        if spec.get("kind") == "official" or str(spec.get("preset", "")).startswith("official"):
            # Fixed-size preset: frames as channels, one visual vector; the level decides 344 / 1378 codes.
            data_args.update(motion_frames=ds.motion_frames, level="top" if cfg.hop_length == 128 else "lower")
        else:
            data_args["hop_length"] = cfg.hop_length
        generator = build_generator(spec, **data_args)
        if generator.num_codes_for(ds.motion_frames) != self.num_codes and isinstance(generator, OfficialGenerator):
            raise ConfigError(
                f"the official-shape generator makes {generator.num_codes} codes; "
                f"{cfg.data.seconds} s at hop {cfg.hop_length} is {self.num_codes}"
            )
        generator.set_sigma_from_codebook(self.vqvae.bottleneck[self.level].k)
        if hasattr(generator, "set_input_stats"):
            stats = input_statistics(ds.cache, ds.use_visual)
            generator.set_input_stats(**stats)
        disc = build_discriminator(cfg.discriminator or "small")
        if not disc.flatten and disc.in_channels != self.vqvae.emb_width:
            raise ConfigError(f"discriminator in_channels {disc.in_channels} != VQ width {self.vqvae.emb_width}")
        self.g = ctx.add_model("g", generator)
        self.d = ctx.add_model("d", disc)
        betas = tuple(cfg.optim.betas)
        ctx.add_optimizer("g", torch.optim.Adam(ctx.models["g"].parameters(), lr=cfg.optim.lr_g, betas=betas))
        ctx.add_optimizer("d", torch.optim.Adam(ctx.models["d"].parameters(), lr=cfg.optim.lr_d, betas=betas))
        from ..losses.mel import LogMelL1

        self.mel = LogMelL1(sample_rate=self.vqvae.sample_rate).to(ctx.device)
        if ctx.is_main:
            n_g = sum(p.numel() for p in generator.parameters())
            n_d = sum(p.numel() for p in disc.parameters())
            print(
                f"gan: level hop {cfg.hop_length} ({self.num_codes} codes per {cfg.data.seconds:g} s clip), "
                f"G {n_g / 1e6:.2f} M, D {n_d / 1e6:.2f} M parameters, {len(ds)} training clips, "
                f"visual features: {visual_dim or 'off'}",
                file=sys.stderr,
            )

    # ---- one step ----------------------------------------------------------------------------------------
    def _inputs(self, batch: dict[str, torch.Tensor], train: bool) -> dict[str, Any]:
        motion = batch["motion"].transpose(1, 2)  # [B, T, 53] -> [B, 53, T]
        visual = batch["visual"].transpose(1, 2) if "visual" in batch else None
        genre = batch["genre"].clone()
        tempo = batch.get("tempo")
        tempo = tempo.clone().float() if tempo is not None else None
        if train and self.config.genre_dropout > 0:
            genre[torch.rand(genre.shape, device=genre.device) < self.config.genre_dropout] = -1
        if train and tempo is not None and self.config.tempo_dropout > 0:
            tempo[torch.rand(tempo.shape, device=tempo.device) < self.config.tempo_dropout] = float("nan")
        return dict(motion=motion, visual=visual, genre=genre, tempo=tempo)

    def _targets(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Music ``[B, 1, N]`` -> (audio cut to whole codes, encoder features, looked-up codes) without grad."""
        audio = audio[..., : self.num_codes * self.config.hop_length].float()
        with torch.no_grad():
            real = self.vqvae.encode_features(audio, self.level)
            real_q = self.vqvae.quantize(real, self.level).quantized
        return audio, real.detach(), real_q.detach()

    def _g_losses(self, fake: torch.Tensor, real_q: torch.Tensor, real: torch.Tensor, audio: torch.Tensor):
        """The non-adversarial generator terms (and the decoded audio, for logging)."""
        w = self.config.loss_weights
        losses = {
            "code/commit": F.l1_loss(fake.float(), real_q),
            "code/latent": F.l1_loss(fake.float(), real),
        }
        if w.get("audio/wav", 0) or w.get("audio/mel", 0):
            # Straight-through lookup: forward = nearest code vectors, backward = identity to `fake`.
            q = self.vqvae.quantize(fake.float(), self.level).quantized
            pred = self.vqvae.decode_features(q, self.level)[..., : audio.shape[-1]]
            losses["audio/wav"] = F.l1_loss(pred, audio)
            losses["audio/mel"] = self.mel(pred, audio)
        return losses

    def train_step(self, batch: dict[str, torch.Tensor], ctx: TrainContext) -> dict[str, Any]:
        cfg = self.config
        audio, real, real_q = self._targets(batch["audio"])
        inputs = self._inputs(batch, train=True)
        fake = self.g(
            inputs["motion"], inputs["visual"], genre=inputs["genre"], tempo=inputs["tempo"], num_codes=self.num_codes
        )
        logs: dict[str, Any] = {}
        losses = self._g_losses(fake, real_q, real, audio)
        adversarial = ctx.step >= cfg.adversarial_start
        if adversarial:
            # D step: real and (detached) fake in one forward, so DDP sees one forward per backward.
            b = real.shape[0]
            logits, feats = self.d(torch.cat([real, fake.detach().float()]))
            loss_d = hinge_discriminator_loss([x[:b] for x in logits], [x[b:] for x in logits])
            ctx.optimize("d", loss_d)
            logs["adv/disc"] = loss_d.detach()
            real_feats = [[f[:b].detach() for f in fs] for fs in feats]
            # G step against the updated D: the raw module (no DDP sync of D here), no D weight gradients.
            d_raw = ctx.models["d"]
            with no_param_grads(d_raw):
                fake_logits, fake_feats = d_raw(fake.float())
            losses["adv/gen"] = hinge_generator_loss(fake_logits)
            losses["adv/feat"] = feature_matching_loss(real_feats, fake_feats)
            logs["d/real"] = torch.stack([x[:b].mean() for x in logits]).mean().detach()
            logs["d/fake"] = torch.stack([x[b:].mean() for x in logits]).mean().detach()
        weights = {k: v for k, v in cfg.loss_weights.items() if adversarial or not k.startswith("adv/")}
        total = weighted_total(losses, weights)
        ctx.optimize("g", total)
        with torch.no_grad():
            codes_fake = self.vqvae.bottleneck[self.level].encode(fake.detach().float())
            codes_real = self.vqvae.bottleneck[self.level].encode(real)
            logs["code/accuracy"] = (codes_fake == codes_real).float().mean()
        logs.update({k: v.detach() for k, v in losses.items()})
        logs["loss/g"] = total.detach()
        return logs

    # ---- evaluation and export ---------------------------------------------------------------------------
    def _val_batches(self) -> list[dict[str, torch.Tensor]]:
        if self._val is None:
            d = self.config.data
            self._val = []
            try:
                ds = GANClipDataset(
                    d.cache, d.seconds, split=d.val_split, random_crop=False, visual=_visual_flag(d.visual)
                )
            except D2MError:
                return self._val  # no validation split: evaluation is skipped
            n = min(len(ds), max(1, d.val_clips))
            idx = np.linspace(0, len(ds) - 1, n).round().astype(int)
            items = [ds[int(i)] for i in idx]
            for start in range(0, n, 4):
                chunk = items[start : start + 4]
                self._val.append({k: torch.stack([it[k] for it in chunk]) for k in chunk[0]})
        return self._val

    @torch.no_grad()
    def evaluate(self, ctx: TrainContext) -> dict[str, float]:
        """On the val clips, with genre/tempo given and zero noise: code accuracy, commit L1, wav and mel L1."""
        batches = self._val_batches()
        if not batches:
            return {}
        g = ctx.models["g"].eval()
        sums: dict[str, float] = {}
        n = 0
        first_audio = None
        for batch in batches:
            batch = {k: v.to(ctx.device) for k, v in batch.items()}
            audio, real, real_q = self._targets(batch["audio"])
            inp = self._inputs(batch, train=False)
            noise = None
            if getattr(g, "noise_dim", 0):
                noise = torch.zeros(audio.shape[0], g.noise_dim, self.num_codes, device=ctx.device)
            fake = g(
                inp["motion"], inp["visual"], genre=inp["genre"], tempo=inp["tempo"], num_codes=self.num_codes,
                noise=noise,
            )  # fmt: skip
            codes = self.vqvae.bottleneck[self.level].encode(fake)
            pred = self.vqvae.decode(codes, self.level)[..., : audio.shape[-1]]
            vals = {
                "code/accuracy": float((codes == self.vqvae.bottleneck[self.level].encode(real)).float().mean()),
                "code/commit": float(F.l1_loss(fake, real_q)),
                "audio/wav": float(F.l1_loss(pred, audio)),
                "audio/mel": float(self.mel(pred, audio)),
            }
            for k, v in vals.items():
                sums[k] = sums.get(k, 0.0) + v * len(audio)
            n += len(audio)
            if first_audio is None:
                first_audio = (pred[0, 0].cpu(), audio[0, 0].cpu())
        if ctx.writer is not None and first_audio is not None:
            sr = self.vqvae.sample_rate
            ctx.writer.add_audio("eval/generated", first_audio[0].clamp(-1, 1)[None], ctx.step, sample_rate=sr)
            if not self._logged_real:
                ctx.writer.add_audio("eval/real", first_audio[1][None], ctx.step, sample_rate=sr)
                self._logged_real = True
        return {k: v / n for k, v in sums.items() if math.isfinite(v)}

    def export(self, ctx: TrainContext) -> None:
        save_generator(
            ctx.out_dir / "generator.safetensors",
            ctx.models["g"],
            vqvae=self.vqvae,
            vqvae_ref=self.config.vqvae,
            meta={"step": ctx.step, "task": self.name, "vqvae_sha256": self.vqvae_sha256},
        )

    def state_dict(self) -> dict[str, Any]:
        return {"vqvae_sha256": self.vqvae_sha256, "generator_spec": generator_spec(self.g_raw)}

    @property
    def g_raw(self) -> nn.Module:
        g = self.g
        return g.module if hasattr(g, "module") else g

    def load_state_dict(self, state: dict[str, Any]) -> None:
        sha = state.get("vqvae_sha256")
        if sha and sha != self.vqvae_sha256:
            raise ConfigError(
                f"this run was trained against another VQ-VAE (sha256 {sha[:12]}..., now {self.vqvae_sha256[:12]}...)"
            )
