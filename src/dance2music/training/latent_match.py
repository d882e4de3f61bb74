"""The latent match of `models.d2m.D2M.match_latents`, fitted on the training split of a feature cache.

The generator's output is spread over about a third of the variance of the encoder features of real music
(it regresses towards their mean), so its nearest codes crowd the middle of the codebook. The match is the
affine map that gives the generated features the mean and covariance of the real music's, both measured on the
training dances: ``A = C_real^(1/2) C_gen^(-1/2)``, ``b = mu_real - A mu_gen``. Built when a generator is
shipped (`d2m ship d2m --match-cache ...`) and stored in its file; inference only reads it back.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from ..constants import MOTION_FPS
from ..data.cache import FeatureCache
from ..errors import ConfigError
from ..models.d2m import D2M
from ..models.samples import sample_music


def _sqrtm(cov: np.ndarray, power: float) -> np.ndarray:
    """``cov ** power`` of a symmetric positive semi-definite matrix (eigenvalues floored at 1e-6)."""
    w, v = np.linalg.eigh(cov)
    return (v * np.maximum(w, 1e-6) ** power) @ v.T


def affine_match(gen: np.ndarray, real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(A ``[D x D]``, b ``[D]``) that map rows of ``gen`` ``[N x D]`` onto the mean and covariance of ``real``."""
    gen, real = np.asarray(gen, np.float64), np.asarray(real, np.float64)
    a = _sqrtm(np.cov(real.T), 0.5) @ _sqrtm(np.cov(gen.T), -0.5)
    return a, real.mean(0) - a @ gen.mean(0)


@torch.no_grad()
def latent_match_from_cache(
    model: D2M, cache_dir: str | os.PathLike, split: str = "train", max_sequences: int | None = 150, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """`affine_match` of ``model``'s generated features (each dance of the split through `D2M.generate` as
    `d2m generate` runs it, no genre, no tempo, one try; the still context cut) onto the encoder features of the
    same dances' own music. ``max_sequences``: at most this many, evenly spread. The log holds the output
    before any match, so a model that already has one is fitted afresh."""
    if model.segment_samples is not None:
        raise ConfigError("the latent match is for the windowed generator, not the official-shape one")
    cache = FeatureCache(cache_dir, split)
    names = cache.names()
    if not names:
        raise ConfigError(f"{cache_dir} has no {split} sequences to fit the latent match on")
    if max_sequences is not None and len(names) > max_sequences:
        names = [names[int(i * len(names) / max_sequences)] for i in range(max_sequences)]
    gen, real, c = [], [], model.context_codes
    for k, name in enumerate(names):
        motion, visual, _ = cache.load_arrays(name)
        n = int(round(motion.duration * model.sample_rate))
        with model.logging_latents() as log:
            sample_music(model, motion.resample(MOTION_FPS), visual, genre=None, tempo=None, seed=seed + k,
                         beat_lock=False, num_samples=n)  # fmt: skip
        g = torch.cat(log, -1)[0].T.numpy()
        gen.append(g[c : g.shape[0] - c])
        audio = torch.from_numpy(cache.read_audio(name, 0, n))[None, None].to(model.device)
        real.append(model.targets(audio)[0][0].T.cpu().numpy())
    a, b = affine_match(np.concatenate(gen), np.concatenate(real))
    return torch.from_numpy(a).float(), torch.from_numpy(b).float()
