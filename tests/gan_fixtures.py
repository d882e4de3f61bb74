"""A tiny feature cache and a tiny VQ-VAE for the D2M-GAN training tests (shared by test_gan and test_ddp)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dance2music.constants import MOTION_FPS, SAMPLE_RATE
from dance2music.data.cache import prepare
from dance2music.data.clips import Sequence, SequenceSource
from dance2music.types import Motion, Visual

VISUAL_DIM = 6


class BeatSource(SequenceSource):
    """Sequences whose dancer bounces on the beats of a click track (tempo and genre vary per sequence)."""

    kind = "gan-test"

    def __init__(self, n_train: int = 4, n_val: int = 2, seconds: float = 3.0) -> None:
        self.seconds = seconds
        self.splits = {f"seq{i}": ("train" if i < n_train else "val") for i in range(n_train + n_val)}

    def names(self) -> list[str]:
        return list(self.splits)

    def load(self, name: str) -> Sequence:
        i = int(name[3:])
        rng = np.random.default_rng(i)
        bpm = 90.0 + 15 * i
        n = int(round(self.seconds * MOTION_FPS))
        t = np.arange(n) / MOTION_FPS
        phase = 2 * np.pi * bpm / 60 * t
        kp = np.zeros((n, 17, 3), np.float32)
        kp[..., 0] = np.linspace(-0.5, 0.5, 17)[None] + 0.02 * rng.normal(size=(n, 17))
        kp[..., 1] = np.linspace(-1.5, 1.8, 17)[None] + 0.3 * np.abs(np.sin(phase / 2))[:, None]
        kp[..., 2] = 0.9
        ts = np.arange(int(round(self.seconds * SAMPLE_RATE))) / SAMPLE_RATE
        beats = np.arange(0, self.seconds, 60 / bpm)
        audio = 0.1 * np.sin(2 * np.pi * (200 + 40 * i) * ts)
        for b in beats:
            k = int(b * SAMPLE_RATE)
            audio[k : k + 400] += 0.5 * np.exp(-np.arange(len(audio[k : k + 400])) / 80)
        visual = rng.normal(size=(n, VISUAL_DIM)).astype(np.float32)
        return Sequence(
            name=name,
            motion=Motion(kp, MOTION_FPS),
            audio=audio.astype(np.float32),
            visual=Visual(visual, MOTION_FPS),
            genre=i % 10,
            split=self.splits[name],
            meta={"tempo": bpm, "beats": beats.tolist()},
        )


def make_cache(root: Path, **kw) -> Path:
    out = root / "cache"
    prepare(BeatSource(**kw), out, progress=False)
    return out


def make_vqvae(root: Path) -> Path:
    """A tiny VQ-VAE (hops 4 and 8, 16 codes of width 8) with data-initialised codebooks, saved to a file."""
    from dance2music.models.vqvae import VQVAE

    torch.manual_seed(0)
    vq = VQVAE.from_preset("tiny")
    vq.train()
    vq(torch.randn(2, 1, 2048) * 0.3)
    return vq.save(root / "vq.safetensors")


def gan_overrides(cache: Path, vqvae: Path, steps: int, **extra) -> list[str]:
    """``--set`` strings for a tiny GAN run (hop 8, 0.5-s clips, batch 2) on the fixtures above."""
    sets = {
        "data.cache": str(cache),
        "data.seconds": 0.5,
        "data.val_clips": 2,
        "vqvae": str(vqvae),
        "hop_length": 8,
        "generator.preset": "tiny",
        "generator.noise_dim": 2,
        "discriminator.preset": "tiny",
        "discriminator.in_channels": 8,
        "trainer.batch_size": 2,
        "trainer.max_steps": steps,
        "trainer.log_every": 1,
        "trainer.ckpt_every": 2,
        "trainer.progress": "false",
        "trainer.threads": 1,
        **extra,
    }
    return [f"{k}={v}" for k, v in sets.items()]
