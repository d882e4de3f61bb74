"""Frechet distance: closed forms on Gaussians whose answer is known, and numerically hard inputs."""

import math

import numpy as np
import pytest

from dance2music.metrics.fad import GaussianStats, embedding_stats, fad, frechet_distance


def test_closed_forms():
    e = 5
    a = GaussianStats(np.zeros(e), np.eye(e) * 4.0, 100)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    # same covariance, means 3 apart along one axis: distance = 9
    b = GaussianStats(np.r_[3.0, np.zeros(e - 1)], np.eye(e) * 4.0, 100)
    assert frechet_distance(a, b) == pytest.approx(9.0)
    # isotropic covariances sigma^2 = 4 and 1: E (2 - 1)^2 = 5
    c = GaussianStats(np.zeros(e), np.eye(e), 100)
    assert frechet_distance(a, c) == pytest.approx(5.0)


def test_symmetric_and_grows_with_shift():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 8))
    y = rng.standard_normal((400, 8))
    near, far = fad(x, y), fad(x, y + 1.0)
    assert near == pytest.approx(fad(y, x), rel=1e-6)
    assert near < 0.5 < far and far == pytest.approx(8.0, rel=0.2)


def test_singular_covariances_stay_finite():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((5, 32)), rng.standard_normal((6, 32))  # fewer samples than dimensions
    d = fad(x, y)
    assert math.isfinite(d) and d >= 0
    assert fad(x, x) == pytest.approx(0.0, abs=1e-4)
    assert math.isnan(fad(x[:1], y))
    with pytest.raises(ValueError):
        embedding_stats(x[:1])
