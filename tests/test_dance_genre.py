"""The dance-genre classifier: it learns genres from movement, round-trips through its file, and `generate`
uses it when no genre is named."""

from __future__ import annotations

import numpy as np
import pytest

from dance2music.api import NO_GENRE, parse_genre
from dance2music.constants import GENRES, MOTION_FPS
from dance2music.errors import ModelError
from dance2music.models.dance_genre import DanceGenreClassifier, window_features
from dance2music.pretrained.registry import REGISTRY, resolve, sha256_file
from dance2music.types import Motion


def styled_dance(style: int, seed: int, seconds: float = 6.0) -> Motion:
    """Style 0: slow, wide sways; style 1: fast, small bounces of the arms; style 2: a still, low stance."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * MOTION_FPS))
    t = np.arange(n) / MOTION_FPS
    kp = np.zeros((n, 17, 3), np.float32)
    kp[..., 0] = np.linspace(-0.5, 0.5, 17)[None]
    kp[..., 1] = np.linspace(-1.5, 1.8, 17)[None]
    kp[..., 2] = 0.9
    bpm = rng.uniform(90, 130)
    if style == 0:
        kp[..., 0] += 0.4 * np.sin(2 * np.pi * bpm / 120 * t)[:, None]
    elif style == 1:
        kp[:, 5:11, 1] += 0.1 * np.abs(np.sin(2 * np.pi * bpm / 30 * t))[:, None]
    else:
        kp[..., 1] *= 0.7
    kp[..., :2] += 0.03 * rng.normal(size=(n, 17, 2))
    return Motion(kp, MOTION_FPS)


def test_learns_styles_and_round_trips(tmp_path):
    train = [(styled_dance(s, seed), s) for s in range(3) for seed in range(6)]
    model = DanceGenreClassifier.fit([m for m, _ in train], [y for _, y in train], c=1.0)
    for s in range(3):
        code, prob = model.predict(styled_dance(s, seed=100 + s))
        assert code == GENRES[s] and 1 / 3 < prob <= 1
    never_seen = model.predict_proba(styled_dance(0, 7))[3:]
    assert np.all(never_seen < 1e-6)  # genres absent from the training data are never chosen
    two = DanceGenreClassifier.fit([m for m, y in train if y < 2], [y for _, y in train if y < 2], c=1.0)
    assert [two.predict(styled_dance(s, seed=200 + s))[0] for s in range(2)] == list(GENRES[:2])  # binary case
    path = model.save(tmp_path / "dg.safetensors")
    again = DanceGenreClassifier.load(path)
    probe = styled_dance(1, 55)
    np.testing.assert_allclose(again.predict_proba(probe), model.predict_proba(probe), rtol=1e-5)
    assert (tmp_path / "dg.json").is_file()


def test_windows_and_bad_input(tmp_path):
    m = styled_dance(0, 0, seconds=5.0)
    assert window_features(m).shape == (2, 4 * 53)  # two whole 2-s windows; the last 1 s is dropped
    assert window_features(styled_dance(0, 0, seconds=0.5)).shape == (1, 212)  # short: one window of all
    with pytest.raises(ModelError):
        window_features(Motion(np.zeros((1, 17, 3), np.float32), MOTION_FPS))
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelError):
        DanceGenreClassifier.load(bad)


def test_shipped_classifier_and_genre_parsing():
    path = resolve("dance-genre")
    assert sha256_file(path) == REGISTRY["dance-genre"].sha256
    model = DanceGenreClassifier.from_pretrained()
    assert model.genres == list(GENRES) and model.meta["accuracy"]["test"]["dance"] >= 0.5
    p = model.predict_proba(styled_dance(1, 3))
    assert p.shape == (10,) and abs(float(p.sum()) - 1) < 1e-5
    assert parse_genre("none") == NO_GENRE and parse_genre(None) is None and parse_genre("House") == 5


def test_generate_reads_the_genre_off_the_dance():
    from test_api import tiny_model

    model = tiny_model(visual_dim=0)
    dance = styled_dance(0, 1, seconds=3.0)
    inferred = model.generate(dance, seed=0)
    assert inferred.meta["genre_source"] == "dance" and inferred.meta["genre"] in GENRES
    code = inferred.meta["genre"]
    given = model.generate(dance, seed=0, genre=code)
    assert given.meta["genre_source"] == "given"
    np.testing.assert_array_equal(inferred.codes, given.codes)  # the same as naming that genre
    none = model.generate(dance, seed=0, genre="none")
    assert none.meta["genre_source"] == "none" and none.meta["genre"] is None
