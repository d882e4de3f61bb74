"""Training stage 2: D2M-GAN, one VQ level per run (top: hop 128, lower: hop 32), on the shared trainer.

Each step, on a batch of aligned 2-s clips (motion, visual, music):

1. targets: the frozen VQ-VAE's continuous encoding of the real music ``real`` (the official code's ``xs``)
   and its looked-up codes ``real_q``. By default every sequence of the cache is encoded once before training
   (`encode_cache`, stored under ``CACHE/latents/``) and clips start on the code grid (`LatentClipDataset`);
   ``data.targets=online`` encodes each clip at every step instead (needed for gain augmentation);
2. the generator G makes ``fake`` from the dance (genre and tempo dropped at random, so it also works without);
3. D step: hinge loss on ``D(real)`` vs ``D(fake.detach())`` (one forward on both, as a batch), Adam;
4. G step: ``adv/gen`` + ``adv/feat`` from the updated D, ``code/commit`` = L1(fake, real_q), and
   ``audio/wav``/``audio/mel`` between the real music and the VQ-VAE decoding of ``fake`` through a
   straight-through codebook lookup, so those two terms really train G (they run under no_grad in the
   official code); ``audio_window`` limits them to a random window of each clip to save compute. An
   ``audio/onset`` weight adds the L1 between the two musics' onset envelopes on the same window.
   Weights: ``loss_weights``, keyed by the logged names (paper: 1, 3, 15, 40, 15).

G and D use Adam(1e-4, betas (0.5, 0.9)) as the paper. The VQ-VAE is never updated; its file's sha256 is kept
in the checkpoint so a resumed run refuses a different one. ``export`` writes ``generator.safetensors`` (see
`models.d2m.save_generator`) into the run folder at every checkpoint, and with ``ema_decay`` a moving average
of G's weights beside it (``generator_ema.safetensors``), the usual way to steady a GAN's generator.
"""

from __future__ import annotations

import copy
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import Dataset

from ..constants import CLIP_SECONDS
from ..data.augment import MotionAugment
from ..data.cache import FeatureCache
from ..data.latents import GANClipDataset, LatentClipDataset, encode_cache, input_statistics, latent_dir
from ..errors import ConfigError, D2MError
from ..features.rhythm import PHASE_WINDOW_BEATS, RHYTHM_DIM
from ..losses.adversarial import GAN_LOSS_WEIGHTS, code_usage_loss
from ..losses.spectral import LogMelDistance
from ..losses.weighting import weighted_total
from ..models.d2m import (
    D2M,
    build_discriminator,
    build_generator,
    generator_spec,
    load_generator,
    save_generator,
)
from ..models.generator import OfficialGenerator
from ..types import MOTION_FEATURE_DIM
from . import checkpoint as ckpt_io
from .adversary import Adversary, frozen_vqvae
from .config import GANOptimConfig, TrainerConfig
from .distributed import barrier
from .trainer import Task, TrainContext


@dataclass
class GANData:
    """Where the training pairs come from: a feature cache made by ``d2m data prepare``."""

    cache: str = ""  # the cache folder (required)
    split: str = "train"
    val_split: str = "val"  # clips for `evaluate` (skipped when the cache has none)
    seconds: float = CLIP_SECONDS  # segment length (the paper: 2 s)
    visual: bool | str = "auto"  # "auto" (use visual features when every sequence has them), true or false
    targets: str = "cached"  # "cached": encode every sequence once (stored in CACHE/latents/); "online": per step
    gain: list[float] | None = None  # random music gain (low, high), online targets only; official: (0.3, 1.0)
    val_clips: int = 8  # evaluation clips (evenly spread over the val split)
    rhythm: bool = False  # give G the dance's rhythm (features.rhythm), read from the (augmented) pose of each clip
    augment: bool = False  # degrade the training motion as real footage through pose does (data.augment)
    context_seconds: float = 3.0  # up to this much dance each side of a clip is seen when its rhythm is read
    rhythm_window: float = PHASE_WINDOW_BEATS  # the rhythm's phase window in beats (features.rhythm); G records it
    grid_tempo_tolerance: float = 0.0  # >0: train on crops whose grid keeps the music's labelled tempo (data.latents)


@dataclass
class GANExperiment:
    """Everything ``d2m train gan`` reads from its YAML config (see configs/gan_*.yaml)."""

    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(batch_size=16))
    data: GANData = field(default_factory=GANData)
    vqvae: str = "vqvae-small"  # registered name or .safetensors path of the frozen VQ-VAE
    hop_length: int = 128  # which VQ level: 128 (top) or 32 (lower)
    generator: dict[str, Any] = field(default_factory=dict)  # `build_generator` spec ({} = the small preset)
    discriminator: dict[str, Any] = field(default_factory=dict)  # `build_discriminator` spec ({} = small)
    optim: GANOptimConfig = field(default_factory=GANOptimConfig)
    genre_dropout: float = 0.2  # chance a clip's genre is hidden (the model must work without one)
    tempo_dropout: float = 0.2
    adversarial_start: int = 0  # steps of regression-only warm-up before D is trained and used
    # Steps in which only D learns, against a frozen G: a fine-tune (init_from a generator file) gives its fresh
    # D time to become a critic before its gradients reach the trained G.
    generator_start: int = 0
    # Start from the weights of an earlier GAN run on the same VQ-VAE: its RUN/checkpoint.pt (G and D) or an
    # exported generator .safetensors (G only). The optimizers and the step count start afresh; D layers the
    # earlier run lacked (e.g. a genre projection) keep their initialisation.
    init_from: str = ""
    audio_window: float = 0.0  # seconds of each clip decoded for audio/wav and audio/mel (0: the whole clip)
    # An exponential moving average of G's weights (0: none), kept from step ema_start (a copy of G until then)
    # and exported beside G as generator_ema.safetensors; a run resumed without one starts it from G.
    ema_decay: float = 0.0
    ema_start: int = 0
    loss_weights: dict[str, float] = field(default_factory=lambda: dict(GAN_LOSS_WEIGHTS))


def _visual_flag(value: str) -> bool | str:
    v = str(value).lower()
    if v in ("auto", "true", "false"):
        return {"auto": "auto", "true": True, "false": False}[v]
    raise ConfigError(f"data.visual must be auto, true or false, got {value!r}")


class GANTask(Task):
    """D2M-GAN training for one VQ level (see the module docstring)."""

    name = "gan"
    config_cls = GANExperiment

    def __init__(self, config: GANExperiment) -> None:
        super().__init__(config)
        if not config.data.cache:
            raise ConfigError("data.cache is required: a folder made by `d2m data prepare`")
        if not 0 <= config.genre_dropout <= 1 or not 0 <= config.tempo_dropout <= 1:
            raise ConfigError("genre_dropout and tempo_dropout must be in [0, 1]")
        if config.data.targets not in ("cached", "online"):
            raise ConfigError(f"data.targets must be cached or online, got {config.data.targets!r}")
        if config.data.gain and config.data.targets == "cached":
            raise ConfigError("data.gain changes the music, so it needs data.targets=online")
        if (config.data.rhythm or config.data.augment) and config.data.targets != "cached":
            raise ConfigError("data.rhythm and data.augment need data.targets=cached")
        if config.generator_start < 0 or 0 < config.generator_start < config.adversarial_start:
            raise ConfigError("generator_start must be 0 or at least adversarial_start (D learns while G waits)")
        if not 0 <= config.ema_decay < 1 or config.ema_start < 0:
            raise ConfigError("ema_decay must be in [0, 1) and ema_start >= 0")
        self._dataset: Dataset | None = None
        self._val: list[dict[str, torch.Tensor]] | None = None
        self._logged_real = False

    # ---- set-up ------------------------------------------------------------------------------------------
    def _make_dataset(self, split: str, train: bool) -> LatentClipDataset | GANClipDataset:
        d, seed = self.config.data, self.config.trainer.seed
        visual = _visual_flag(d.visual)
        if d.targets == "cached":
            cache = FeatureCache(d.cache, split)
            return LatentClipDataset(
                cache, self._latents, hop_length=self.config.hop_length, seconds=d.seconds, seed=seed,
                random_crop=train, visual=visual, rhythm=d.rhythm, context_seconds=d.context_seconds,
                rhythm_window=d.rhythm_window, grid_tempo_tolerance=d.grid_tempo_tolerance,
                augment=MotionAugment() if d.augment else None,
            )  # fmt: skip
        gain = tuple(d.gain) if d.gain and train else None
        return GANClipDataset(d.cache, d.seconds, split=split, random_crop=train, seed=seed, visual=visual, gain=gain)

    def train_dataset(self) -> Dataset:
        if self._dataset is None:
            raise RuntimeError("GANTask.build() makes the dataset (it needs the VQ-VAE first)")
        return self._dataset

    def build(self, ctx: TrainContext) -> None:
        cfg = self.config
        self.vqvae, self.level = frozen_vqvae(cfg.vqvae, cfg.hop_length, ctx.device)
        self.vqvae_sha256 = self.vqvae.source_sha256()
        if cfg.data.targets == "cached":
            self._latents = latent_dir(Path(cfg.data.cache), self.vqvae_sha256, cfg.hop_length)
            if ctx.is_main:  # one process encodes, the others wait and read the files
                encode_cache(FeatureCache(cfg.data.cache), self.vqvae, self.level, self._latents,
                             progress=cfg.trainer.progress)  # fmt: skip
            barrier()
        ds = self._dataset = self._make_dataset(cfg.data.split, train=True)
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
            if cfg.data.rhythm:
                data_args.update(rhythm_dim=RHYTHM_DIM, rhythm_window=cfg.data.rhythm_window)
        generator = build_generator(spec, **data_args)
        if isinstance(generator, OfficialGenerator) and generator.num_codes != self.num_codes:
            raise ConfigError(
                f"the official-shape generator makes {generator.num_codes} codes; "
                f"{cfg.data.seconds} s at hop {cfg.hop_length} is {self.num_codes}"
            )
        generator.set_sigma_from_codebook(self.vqvae.bottleneck[self.level].k)
        if hasattr(generator, "set_input_stats"):
            generator.set_input_stats(**input_statistics(ds.cache, ds.use_visual))
        disc = build_discriminator(cfg.discriminator or "small")
        if not disc.flatten and disc.in_channels != self.vqvae.emb_width:
            raise ConfigError(f"discriminator in_channels {disc.in_channels} != VQ width {self.vqvae.emb_width}")
        if cfg.init_from:
            self._init_from(cfg.init_from, generator, disc)
        # G and the frozen VQ-VAE as the model `generate` uses: its targets, lookup and decoder serve the losses.
        self.model = D2M(generator, self.vqvae, vqvae_ref=cfg.vqvae)
        self.g = ctx.add_model("g", generator)
        # The average is not a registered model: no DDP wrapper, no gradients; it is checkpointed as task state.
        self.g_ema = copy.deepcopy(generator).eval().requires_grad_(False) if cfg.ema_decay > 0 else None
        betas = tuple(cfg.optim.betas)
        ctx.add_optimizer("g", torch.optim.Adam(ctx.models["g"].parameters(), lr=cfg.optim.lr_g, betas=betas))
        self.adversary = Adversary(ctx, disc, lr=cfg.optim.lr_d, betas=betas)
        self.mel = LogMelDistance(sample_rate=self.vqvae.sample_rate).to(ctx.device)
        # Codes decoded per clip for the audio losses (decoding with gradients is the costliest part of a step).
        window = int(cfg.audio_window * self.vqvae.sample_rate) // cfg.hop_length
        self.window_codes = min(self.num_codes, max(1, window)) if cfg.audio_window > 0 else self.num_codes
        if ctx.is_main:
            n_g = sum(p.numel() for p in generator.parameters())
            n_d = sum(p.numel() for p in disc.parameters())
            print(
                f"gan: level hop {cfg.hop_length} ({self.num_codes} codes per {cfg.data.seconds:g} s clip), "
                f"G {n_g / 1e6:.2f} M, D {n_d / 1e6:.2f} M parameters, {len(ds)} training clips, "
                f"visual features: {visual_dim or 'off'}, targets {cfg.data.targets}",
                file=sys.stderr,
            )

    def _init_from(self, ref: str, generator: nn.Module, disc: nn.Module) -> None:
        """Load an earlier run's weights (see `GANExperiment.init_from`) into ``generator`` and ``disc``."""
        path = Path(ref).expanduser()
        if not path.is_file():
            raise ConfigError(f"init_from: no such file {ref}")
        if path.suffix == ".safetensors":
            try:
                other, header = load_generator(path, map_location="cpu")
            except D2MError as e:
                raise ConfigError(f"init_from {ref}: {e}") from None
            sha, g_state, d_state = header["meta"].get("vqvae_sha256"), other.state_dict(), None
        else:
            try:
                state = ckpt_io.load_checkpoint(path, map_location="cpu")
                sha = state.get("task", {}).get("vqvae_sha256")
                g_state, d_state = state["models"]["g"], state["models"]["d"]
            except Exception as e:  # a foreign or damaged file
                raise ConfigError(f"init_from {ref} is not a GAN run's checkpoint ({e})") from None
        if sha and sha != self.vqvae_sha256:
            raise ConfigError(f"init_from {ref} was trained on another VQ-VAE (sha256 {sha[:12]}...)")
        try:
            generator.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in g_state.items()})
        except RuntimeError as e:
            raise ConfigError(f"init_from {ref}: its generator differs from this config's ({e})") from None
        if d_state is not None:
            result = disc.load_state_dict(d_state, strict=False)
            new = [k for k in result.missing_keys if ".genre_embedding." not in k]
            if new or result.unexpected_keys:
                raise ConfigError(f"init_from {ref}: its discriminator differs from this config's")

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
        rhythm = batch["rhythm"].transpose(1, 2) if "rhythm" in batch else None
        return dict(motion=motion, visual=visual, genre=genre, tempo=tempo, rhythm=rhythm)

    def _targets(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(music ``[B, 1, n * hop]``, encoder features ``[B, emb, n]``, their looked-up codes), no gradients.

        Cached targets come with the batch (``latents``); online ones are encoded here.
        """
        audio = batch["audio"][..., : self.num_codes * self.config.hop_length].float()
        if "latents" not in batch:
            real, real_q = self.model.targets(audio)
            return audio, real.detach(), real_q
        real = batch["latents"].float()
        with torch.no_grad():
            real_q = self.model.lookup(real).quantized
        return audio, real.detach(), real_q.detach()

    def _g_losses(self, fake: torch.Tensor, real_q: torch.Tensor, real: torch.Tensor, audio: torch.Tensor):
        """The non-adversarial generator terms."""
        w = self.config.loss_weights
        losses = {
            "code/commit": F.l1_loss(fake.float(), real_q),
            "code/latent": F.l1_loss(fake.float(), real),
        }
        if w.get("code/usage", 0):
            losses["code/usage"] = code_usage_loss(fake, self.model.lookup_codes(real), self.model.codebook)
        if w.get("audio/wav", 0) or w.get("audio/mel", 0) or w.get("audio/onset", 0):
            hop, n = self.config.hop_length, self.window_codes
            # One random window of the clip (the same for the whole batch; global RNG, so resumable).
            c0 = int(torch.randint(0, self.num_codes - n + 1, ())) if n < self.num_codes else 0
            # Straight-through lookup: forward = nearest code vectors, backward = identity to `fake`.
            q = self.model.lookup(fake[..., c0 : c0 + n].float()).quantized
            pred = self.model.decode(q)
            target = audio[..., c0 * hop : (c0 + n) * hop]
            losses["audio/wav"] = F.l1_loss(pred, target)
            losses["audio/mel"], losses["audio/onset"] = self.mel.with_onsets(pred, target)  # one log-mel pair
        return losses

    def train_step(self, batch: dict[str, torch.Tensor], ctx: TrainContext) -> dict[str, Any]:
        cfg = self.config
        audio, real, real_q = self._targets(batch)
        inputs = self._inputs(batch, train=True)
        extra = {"rhythm": inputs["rhythm"]} if inputs["rhythm"] is not None else {}
        frozen = ctx.step < cfg.generator_start
        with torch.set_grad_enabled(not frozen):
            fake = self.g(
                inputs["motion"], inputs["visual"], genre=inputs["genre"], tempo=inputs["tempo"],
                num_codes=self.num_codes, **extra,
            )  # fmt: skip
        logs: dict[str, Any] = {}
        if frozen:  # D alone learns (see GANExperiment.generator_start)
            d_step = self.adversary.step(ctx, real, fake.float(), batch["genre"])
            logs["adv/disc"] = d_step.loss.detach()
            logs.update(d_step.mean_scores())
            return logs
        losses = self._g_losses(fake, real_q, real, audio)
        adversarial = ctx.step >= cfg.adversarial_start
        if adversarial:
            genre = batch["genre"]  # D always sees the true genre (G's may be hidden); ignored by an unconditional D
            d_step = self.adversary.step(ctx, real, fake.float(), genre)
            losses.update(self.adversary.generator_terms(fake.float(), d_step, genre))
            logs["adv/disc"] = d_step.loss.detach()
            logs.update(d_step.mean_scores())
        weights = {k: v for k, v in cfg.loss_weights.items() if adversarial or not k.startswith("adv/")}
        total = weighted_total(losses, weights)
        if ctx.optimize("g", total):
            self._update_ema(ctx.step)
        with torch.no_grad():
            codes_fake = self.model.lookup_codes(fake.detach().float())
            logs["code/accuracy"] = (codes_fake == self.model.lookup_codes(real)).float().mean()
        logs.update({k: v.detach() for k, v in losses.items()})
        logs["loss/g"] = total.detach()
        return logs

    @torch.no_grad()
    def _update_ema(self, step: int) -> None:
        """Move the average toward G after a G step (``step`` counts the steps before this one)."""
        if self.g_ema is None:
            return
        decay = self.config.ema_decay if step >= self.config.ema_start else 0.0
        for avg, p in zip(self.g_ema.parameters(), self.g_raw.parameters(), strict=True):
            avg.lerp_(p.detach(), 1.0 - decay)
        for avg, b in zip(self.g_ema.buffers(), self.g_raw.buffers(), strict=True):
            avg.copy_(b)

    # ---- evaluation and export ---------------------------------------------------------------------------
    def _val_batches(self) -> list[dict[str, torch.Tensor]]:
        if self._val is None:
            d = self.config.data
            self._val = []
            try:
                ds = self._make_dataset(d.val_split, train=False)
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
        """On the val clips, with genre/tempo given and zero noise: code accuracy, commit L1, wav and mel L1
        (of the weight average too, as ``ema/...``, when the run keeps one)."""
        result = self._evaluate_generator(ctx, ctx.models["g"].eval(), log_audio=True)
        if self.g_ema is not None:
            result.update({f"ema/{k}": v for k, v in self._evaluate_generator(ctx, self.g_ema, False).items()})
        return result

    def _evaluate_generator(self, ctx: TrainContext, g: nn.Module, log_audio: bool) -> dict[str, float]:
        batches = self._val_batches()
        if not batches:
            return {}
        sums: dict[str, float] = {}
        n = 0
        first_audio = None
        for batch in batches:
            batch = {k: v.to(ctx.device) for k, v in batch.items()}
            audio, real, real_q = self._targets(batch)
            inp = self._inputs(batch, train=False)
            noise = None
            if getattr(g, "noise_dim", 0):
                noise = torch.zeros(audio.shape[0], g.noise_dim, self.num_codes, device=ctx.device)
            extra = {"rhythm": inp["rhythm"]} if inp["rhythm"] is not None else {}
            fake = g(
                inp["motion"], inp["visual"], genre=inp["genre"], tempo=inp["tempo"], num_codes=self.num_codes,
                noise=noise, **extra,
            )  # fmt: skip
            codes = self.model.lookup_codes(fake)
            pred = self.vqvae.decode(codes, self.level)[..., : audio.shape[-1]]
            vals = {
                "code/accuracy": float((codes == self.model.lookup_codes(real)).float().mean()),
                "code/commit": float(F.l1_loss(fake, real_q)),
                "audio/wav": float(F.l1_loss(pred, audio)),
            }
            vals["audio/mel"], vals["audio/onset"] = (float(x) for x in self.mel.with_onsets(pred, audio))
            for k, v in vals.items():
                sums[k] = sums.get(k, 0.0) + v * len(audio)
            n += len(audio)
            if first_audio is None:
                first_audio = (pred[0, 0].cpu(), audio[0, 0].cpu())
        if log_audio and ctx.writer is not None and first_audio is not None:
            sr = self.vqvae.sample_rate
            ctx.writer.add_audio("eval/generated", first_audio[0].clamp(-1, 1)[None], ctx.step, sample_rate=sr)
            if not self._logged_real:
                ctx.writer.add_audio("eval/real", first_audio[1][None], ctx.step, sample_rate=sr)
                self._logged_real = True
        return {k: v / n for k, v in sums.items() if math.isfinite(v)}

    def export(self, ctx: TrainContext) -> None:
        meta = {
            "step": ctx.step, "task": self.name, "vqvae_sha256": self.vqvae_sha256,
            "vqvae_codebook_sha256": self.vqvae.codebook_sha256(),
        }  # fmt: skip
        save = dict(vqvae=self.vqvae, vqvae_ref=self.config.vqvae)
        save_generator(ctx.out_dir / "generator.safetensors", ctx.models["g"], meta=meta, **save)
        if self.g_ema is not None:
            ema_meta = {**meta, "ema_decay": self.config.ema_decay, "ema_start": self.config.ema_start}
            save_generator(ctx.out_dir / "generator_ema.safetensors", self.g_ema, meta=ema_meta, **save)

    def state_dict(self) -> dict[str, Any]:
        state = {"vqvae_sha256": self.vqvae_sha256, "generator_spec": generator_spec(self.g_raw)}
        if self.g_ema is not None:
            state["g_ema"] = self.g_ema.state_dict()
        return state

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
        if self.g_ema is not None:  # G is restored by now; a run checkpointed without an average starts one from G
            self.g_ema.load_state_dict(state.get("g_ema", self.g_raw.state_dict()))
