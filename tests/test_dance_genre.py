"""The dance-genre classifier: it learns genres from movement, round-trips through its file, and `generate`
uses it when no genre is named."""

from __future__ import annotations

import numpy as np
import pytest

from dance2music.api import NO_GENRE, parse_genre
from dance2music.constants import GENRES, MOTION_FPS
from dance2music.errors import ModelError
from dance2music.models.dance_genre import MOVEMENT_COLUMNS, DanceGenreClassifier, GenreGuess, window_features
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


def test_calibrated_and_knows_what_it_does_not_know(tmp_path):
    train = [(styled_dance(s, seed), s) for s in range(3) for seed in range(8)]
    held = [(styled_dance(s, 50 + seed), s) for s in range(3) for seed in range(4)]
    model = DanceGenreClassifier.fit([m for m, _ in train], [y for _, y in train], c=1.0)
    assert model.columns is not None and np.array_equal(model.columns, MOVEMENT_COLUMNS)
    assert model.coef.shape[1] == len(MOVEMENT_COLUMNS) == 144  # positions and root velocity, no confidences
    numbers = model.calibrate(
        ([m for m, _ in train], [y for _, y in train]), ([m for m, _ in held], [y for _, y in held])
    )
    assert model.temperature > 0 and numbers["nll_after"] <= numbers["nll_before"] + 1e-9
    assert np.isfinite(model.ood_threshold) and 0 <= model.min_probability < 1
    like = model.assess(styled_dance(1, 99))
    assert like.verdict == "dance" and like.genre == GENRES[1] and like.distance <= model.ood_threshold
    wild = styled_dance(1, 98)
    wild.keypoints[..., :2] *= 8.0  # a dancer eight times as big and as fast as anything seen
    odd = model.assess(wild)
    assert odd.verdict == "unlike-training" and odd.genre is None and "unlike" in odd.reason
    np.testing.assert_allclose(model.predict_proba(wild).sum(), 1.0, rtol=1e-5)
    model.min_probability = 1.01  # nothing is that sure
    unsure = model.assess(styled_dance(1, 99))
    assert unsure.verdict == "uncertain" and unsure.genre is None and "unclear" in unsure.reason
    model.min_probability = numbers["min_probability"]
    again = DanceGenreClassifier.load(model.save(tmp_path / "calibrated.safetensors"))
    assert again.temperature == pytest.approx(model.temperature)
    assert again.ood_threshold == pytest.approx(model.ood_threshold)
    assert again.assess(wild).verdict == "unlike-training" and again.assess(styled_dance(1, 99)) == like


def test_shipped_classifier_and_genre_parsing():
    path = resolve("dance-genre")
    assert sha256_file(path) == REGISTRY["dance-genre"].sha256
    model = DanceGenreClassifier.from_pretrained()
    assert model.genres == list(GENRES) and model.meta["accuracy"]["test"]["dance"] >= 0.5
    assert model.ood_precision is not None and np.isfinite(model.ood_threshold) and model.temperature > 0
    p = model.predict_proba(styled_dance(1, 3))
    assert p.shape == (10,) and abs(float(p.sum()) - 1) < 1e-5
    assert parse_genre("none") == NO_GENRE and parse_genre(None) is None and parse_genre("House") == 5


def test_generate_reads_the_genre_off_the_dance(monkeypatch):
    import dance2music.api as api
    from test_api import tiny_model

    model = tiny_model(visual_dim=0)
    dance = styled_dance(0, 1, seconds=3.0)
    sure = GenreGuess("gHO", 0.9, 3.0, "dance")
    monkeypatch.setattr(api, "infer_genre", lambda motion: sure)
    inferred = model.generate(dance, seed=0)
    assert inferred.meta["genre_source"] == "dance" and inferred.meta["genre"] == "gHO"
    assert inferred.meta["genre_probability"] == 0.9 and inferred.meta["genre_note"] is None
    given = model.generate(dance, seed=0, genre="gHO")
    assert given.meta["genre_source"] == "given"
    np.testing.assert_array_equal(inferred.codes, given.codes)  # the same as naming that genre
    none = model.generate(dance, seed=0, genre="none")
    assert none.meta["genre_source"] == "none" and none.meta["genre"] is None
    for verdict in ("uncertain", "unlike-training"):  # it does not know: no genre, and it says why
        monkeypatch.setattr(api, "infer_genre", lambda motion, v=verdict: GenreGuess("gJS", 0.4, 40.0, v, "why"))
        fallback = model.generate(dance, seed=0)
        assert fallback.meta["genre"] is None and fallback.meta["genre_source"] == verdict
        assert fallback.meta["genre_note"] == "why"
        np.testing.assert_array_equal(fallback.codes, none.codes)
        assert model.generate(dance, seed=0, genre="gJS").meta["genre_source"] == "given"  # --genre still rules
    real = api.infer_genre(dance)  # the shipped classifier answers with a verdict and a reason when it has one
    assert real is None or (
        real.verdict in ("dance", "uncertain", "unlike-training") and (real.verdict == "dance") != bool(real.reason)
    )


def test_training_script_pools_caches_and_adds_degraded_copies(tmp_path):
    import importlib.util
    import json
    from pathlib import Path

    from dance2music.data.cache import prepare
    from gan_fixtures import BeatSource

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("train_dance_genre", root / "scripts" / "train_dance_genre.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    caches = []
    for k, n in enumerate((20, 10)):  # every genre in train and val
        caches.append(tmp_path / f"cache{k}")
        prepare(BeatSource(n_train=n, n_val=10, seconds=4.0), caches[-1], progress=False)
    out = tmp_path / "dg"
    assert script.main(["--cache", *map(str, caches), "--augment", "1", "--c", "1", "--out", str(out)]) == 0
    meta = json.loads((tmp_path / "dg.json").read_text())["meta"]
    assert meta["train_dances"] == 30 and meta["augment"] == 1 and meta["trained_on"] == " ".join(map(str, caches))
    assert DanceGenreClassifier.load(tmp_path / "dg.safetensors").genres
