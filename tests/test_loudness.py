"""Loudness normalization: every output at -16 LUFS (ITU-R BS.1770) with its true peak at most -1 dBTP."""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest

from dance2music.errors import ConfigError
from dance2music.io.loudness import check_target, normalize_loudness, true_peak

SR = 22050


def _music_like(seconds: float = 6.0, seed: int = 0) -> np.ndarray:
    """Kick drums on a 120-BPM grid, a bass line and a hi-hat: peaky, like the decoder's music."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    since_beat = t % 0.5
    kick = np.exp(-25 * since_beat) * np.sin(2 * np.pi * 55 * t)
    hat = np.exp(-80 * ((t + 0.25) % 0.5)) * rng.normal(size=t.size) * 0.3
    bass = 0.2 * np.sin(2 * np.pi * np.where((t // 2) % 2, 110, 82.4) * t)
    return (0.4 * (kick + hat + bass)).astype(np.float32)


SIGNALS = {
    "quiet noise": lambda: (np.random.default_rng(1).normal(size=5 * SR) * 0.01).astype(np.float32),
    "loud noise": lambda: np.clip(np.random.default_rng(2).normal(size=5 * SR) * 0.6, -1, 1).astype(np.float32),
    "music-like": _music_like,
    "clicks over a tone": lambda: _clicks(0.05),
}


def _clicks(tone: float, seconds: float = 4.0) -> np.ndarray:
    """40-sample clicks at 0.9 twice a second over a 220-Hz tone of amplitude ``tone``."""
    n = np.arange(int(seconds * SR))
    return (np.where(n % (SR // 2) < 40, 0.9, 0.0) + tone * np.sin(2 * np.pi * 220 * n / SR)).astype(np.float32)


@pytest.mark.parametrize("name", list(SIGNALS))
def test_output_is_at_target_loudness_under_the_true_peak_limit(name: str) -> None:
    audio = SIGNALS[name]()
    out, info = normalize_loudness(audio, SR)
    measured = pyloudnorm.Meter(SR).integrated_loudness(out.astype(np.float64))
    assert measured == pytest.approx(-16.0, abs=0.5)
    assert true_peak(out) <= -1.0
    assert out.shape == audio.shape and out.dtype == np.float32
    assert info["output_lufs"] == pytest.approx(measured, abs=0.01) and info["true_peak_dbtp"] <= -1.0


def test_limiter_keeps_the_timing() -> None:
    """The limiter's lookahead is compensated: loud onsets stay where they were."""
    audio = SIGNALS["clicks over a tone"]()
    out, info = normalize_loudness(audio, SR)
    assert info["limited"]
    onsets = lambda x: np.flatnonzero(np.diff((np.abs(x) > 0.5 * np.abs(x).max()).astype(int)) == 1)  # noqa: E731
    assert np.abs(onsets(out)[:8] - onsets(audio)[:8]).max() <= 2


def _sparse_hits(seconds: float = 6.0, decay: float = 0.03, seed: int = 0) -> np.ndarray:
    """Noise bursts decaying in ``decay`` s, four a second, over a faint hiss: a percussion-only track whose peaks
    stand about 23 dB above its loudness (as a still dancer's music can be)."""
    rng = np.random.default_rng(seed)
    x = 0.001 * rng.normal(size=int(seconds * SR))
    tail = np.exp(-np.arange(int(0.2 * SR)) / SR / decay)
    for k, start in enumerate(range(int(0.05 * SR), x.size - tail.size, SR // 4)):
        x[start : start + tail.size] += (0.7 if k % 2 == 0 else 0.3) * tail * rng.normal(size=tail.size)
    return (0.7 * x / np.abs(x).max()).astype(np.float32)


@pytest.mark.parametrize("decay", [0.005, 0.03])
def test_music_too_peaky_for_the_limiter_is_soft_clipped_to_the_target(decay: float) -> None:
    audio = _sparse_hits(decay=decay)
    out, info = normalize_loudness(audio, SR)
    measured = pyloudnorm.Meter(SR).integrated_loudness(out.astype(np.float64))
    assert measured == pytest.approx(-16.0, abs=0.2) and true_peak(out) <= -1.0
    assert info["clip_drive_db"] > 0 and "soft-clipped" in info["note"]


def test_soft_clipping_keeps_the_hits_and_the_quiet_between_them() -> None:
    audio = _sparse_hits(decay=0.03)
    out, _ = normalize_loudness(audio, SR)
    env = lambda x: np.convolve(np.abs(x), np.ones(256) / 256, "same")[::64]  # noqa: E731
    spread = lambda e: 20 * np.log10(np.percentile(e, 95) / np.percentile(e, 10))  # noqa: E731
    assert np.corrcoef(env(out), env(audio))[0, 1] > 0.9
    assert spread(env(out)) > spread(env(audio)) - 6.0 > 20.0  # hits still stand 20+ dB over the gaps


def test_music_the_limiter_can_bring_to_the_target_is_not_clipped() -> None:
    _, info = normalize_loudness(_music_like(), SR)
    assert info["clip_drive_db"] is None and "soft-clipped" not in info["note"]


def test_bare_clicks_cannot_reach_the_target_and_say_so() -> None:
    """Clicks alone carry all their loudness in their peaks: limiting them makes them quieter, not louder."""
    out, info = normalize_loudness(_clicks(0.0), SR)
    assert "too peaky" in info["note"] and true_peak(out) <= -1.0


def test_silence_is_left_alone_and_short_audio_is_measured() -> None:
    silence = np.zeros(2 * SR, np.float32)
    out, info = normalize_loudness(silence, SR)
    assert np.array_equal(out, silence) and info["input_lufs"] is None and "silent" in info["note"]
    short = (np.random.default_rng(3).normal(size=int(0.3 * SR)) * 0.05).astype(np.float32)  # under one 400-ms block
    out, info = normalize_loudness(short, SR)
    assert "shorter than 0.4 s" in info["note"] and true_peak(out) <= -1.0
    looped = np.tile(out, 4)  # long enough for pyloudnorm: the same mean square
    assert pyloudnorm.Meter(SR).integrated_loudness(looped.astype(np.float64)) == pytest.approx(-16.0, abs=0.5)
    assert normalize_loudness(np.zeros(0, np.float32), SR)[0].shape == (0,)


def test_stereo_and_other_targets() -> None:
    stereo = np.stack([_music_like(seed=4), _music_like(seed=5) * 0.5], axis=1)
    out, _ = normalize_loudness(stereo, SR, target_lufs=-23.0)
    assert out.shape == stereo.shape
    assert pyloudnorm.Meter(SR).integrated_loudness(out.astype(np.float64)) == pytest.approx(-23.0, abs=0.5)
    for bad in (0.0, -80.0, float("nan")):
        with pytest.raises(ConfigError, match="loudness target"):
            check_target(bad)


def test_api_normalizes_by_default_and_the_option_turns_it_off() -> None:
    from test_api import dance, tiny_model

    model = tiny_model()
    feats = dance(3.0)
    raw = model.generate(feats, seed=2, loudness=None)
    assert "loudness" not in raw.meta
    again = model.generate(feats, seed=2, loudness=None)
    np.testing.assert_array_equal(raw.audio, again.audio)  # untouched: the decoder's output as it was
    loud = model.generate(feats, seed=2)
    info = loud.meta["loudness"]
    assert info["true_peak_dbtp"] <= -1.0 and true_peak(loud.audio) <= -1.0
    meter = pyloudnorm.Meter(SR)
    assert info["input_lufs"] == pytest.approx(meter.integrated_loudness(raw.audio.astype(np.float64)), abs=0.01)
    assert meter.integrated_loudness(loud.audio.astype(np.float64)) == pytest.approx(-16, abs=0.5)
    assert loud.audio.shape == raw.audio.shape


def test_web_page_music_is_normalized(tmp_path, monkeypatch) -> None:
    """The page's path (`MusicService.run` -> `generate_video`) gets the same normalization as the CLI."""
    import shutil
    from pathlib import Path

    from dance2music.io.audio import load_audio
    from dance2music.web.service import MusicService
    from test_api import dance, tiny_model

    demo = Path(__file__).resolve().parents[1] / "src" / "dance2music" / "assets" / "demo.mp4"
    up = tmp_path / "up"
    up.mkdir()
    shutil.copy(demo, up / "dance.mp4")
    feats = dance(8.0)
    monkeypatch.setattr("dance2music.features.extract.extract_features", lambda *a, **k: feats)
    svc = MusicService({"top": tiny_model()}, upload_root=up, work_root=tmp_path / "jobs")
    job = svc.run(up / "dance.mp4", seed=1, genre="none")
    music = load_audio(job.music, sr=None)
    assert pyloudnorm.Meter(SR).integrated_loudness(music.astype(np.float64)) == pytest.approx(-16.0, abs=0.5)
    assert true_peak(music) <= -1.0 and job.meta["loudness"]["output_lufs"] == pytest.approx(-16.0, abs=0.2)
    assert "LUFS" in job.summary
    svc.discard(job)
