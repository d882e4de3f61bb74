"""Frechet Audio Distance on the project's own embedding (`models.genre_cnn.GenreCNN`'s penultimate layer).

FAD (Kilgour et al. 2019) fits a Gaussian to the embeddings of each set of audio windows and measures

    ||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)).

The usual FAD uses VGGish, which cannot be downloaded here, so numbers are comparable only between runs
that use the same embedding model (the report names it).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GaussianStats:
    """Mean float64[E] and covariance float64[E, E] of ``n`` embeddings."""

    mean: np.ndarray
    cov: np.ndarray
    n: int


def embedding_stats(embeddings: np.ndarray) -> GaussianStats:
    """Mean and (unbiased) covariance of ``embeddings[N, E]``; N >= 2."""
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"need at least 2 embeddings [N, E], got shape {x.shape}")
    return GaussianStats(x.mean(axis=0), np.cov(x, rowvar=False), x.shape[0])


def frechet_distance(a: GaussianStats, b: GaussianStats, eps: float = 1e-6) -> float:
    """Frechet distance between two Gaussians.

    The matrix square root of ``S_a S_b`` is computed with ``scipy.linalg.sqrtm``. With fewer samples than
    dimensions a covariance is singular and the square root can come out non-finite or complex with large
    imaginary parts: then ``eps * I`` is added to both covariances (the standard remedy). Small imaginary
    parts (numerical noise) are dropped; a large one raises ``ValueError``. The result is clamped at 0
    (rounding can make identical sets slightly negative).
    """
    from scipy import linalg

    mu1, mu2 = np.asarray(a.mean, np.float64), np.asarray(b.mean, np.float64)
    s1, s2 = np.atleast_2d(a.cov).astype(np.float64), np.atleast_2d(b.cov).astype(np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape:
        raise ValueError("the two sets have embeddings of different sizes")
    diff = mu1 - mu2
    with warnings.catch_warnings():  # singular products are expected and handled just below
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all() or (
        np.iscomplexobj(covmean) and np.abs(covmean.imag).max() > 1e-3 * max(1.0, np.abs(covmean.real).max())
    ):
        offset = np.eye(s1.shape[0]) * eps
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", linalg.LinAlgWarning)
            covmean = linalg.sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3 * max(1.0, np.abs(covmean.real).max())):
            raise ValueError(f"matrix square root has a large imaginary part ({np.abs(covmean.imag).max():.3g})")
        covmean = covmean.real
    d = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))
    return max(d, 0.0)


def fad(embeddings_a: np.ndarray, embeddings_b: np.ndarray) -> float:
    """FAD between two sets of embeddings ``[N_a, E]`` and ``[N_b, E]``; NaN when a set has fewer than 2."""
    if len(embeddings_a) < 2 or len(embeddings_b) < 2:
        return float("nan")
    return frechet_distance(embedding_stats(embeddings_a), embedding_stats(embeddings_b))
