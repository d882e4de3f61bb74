"""The Python API and `d2m generate`: lengths, windowed == whole-length generation, outputs written safely."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dance2music.api import Dance2Music, parse_genre
from dance2music.cli import main
from dance2music.constants import MOTION_FPS
from dance2music.errors import ConfigError
from dance2music.features.extract import VideoFeatures
from dance2music.models.d2m import D2M, build_generator
from dance2music.models.vqvae import VQVAE
from dance2music.types import Motion, Visual

VISUAL_DIM = 5


def tiny_model(visual_dim: int = VISUAL_DIM, noise_dim: int = 2) -> Dance2Music:
    torch.manual_seed(0)
    vqvae = VQVAE.from_preset("tiny", downs_t=(5, 2))  # hops 32 and 128, like the real levels
    for block in vqvae.bottleneck:  # a trained codebook is spread out; a fresh one is all zeros
        block.k.normal_()
    gen = build_generator("tiny", latent_dim=vqvae.emb_width, hop_length=128, visual_dim=visual_dim,
                          noise_dim=noise_dim)  # fmt: skip
    model = D2M(gen, vqvae)
    gen.set_sigma_from_codebook(model.codebook)  # as training does: outputs span the codebook
    return Dance2Music(model, name="tiny")


def dance(seconds: float, seed: int = 0) -> VideoFeatures:
    rng = np.random.default_rng(seed)
    n = int(round(seconds * MOTION_FPS))
    kp = rng.normal(size=(n, 17, 3)).astype(np.float32)
    kp[..., 2] = 0.9
    motion = Motion(kp, MOTION_FPS, root=np.cumsum(rng.normal(size=(n, 2)), 0) * 0.01)
    visual = Visual(rng.normal(size=(n, VISUAL_DIM)), MOTION_FPS)
    return VideoFeatures(motion=motion, visual=visual, duration=seconds, fps=MOTION_FPS)


def test_length_matches_the_dance():
    model = tiny_model()
    for seconds in (0.5, 2.0, 3.7):
        res = model.generate(dance(seconds), seed=1)
        assert res.sample_rate == 22050
        assert res.audio.shape == (int(round(seconds * 22050)),)
        assert res.audio.dtype == np.float32 and np.all(np.abs(res.audio) <= 1)
        assert res.codes.shape == (-(-res.audio.shape[0] // 128),)


def test_windowed_generation_equals_whole_length_run():
    """Windows on the shared code grid with receptive-field context: no seam, the same codes and samples."""
    model = tiny_model()
    feats = dance(30.0, seed=3)
    whole = model.generate(feats, seed=7, window_seconds=1000.0)
    windowed = model.generate(feats, seed=7, window_seconds=4.0)  # 7 windows of 128 frames
    assert len(np.unique(whole.codes)) > 3  # a real sequence of codes, not one repeated
    np.testing.assert_array_equal(whole.codes, windowed.codes)
    np.testing.assert_allclose(whole.audio, windowed.audio, atol=1e-5)


def test_seed_makes_it_reproducible_and_genre_is_used():
    model = tiny_model()
    feats = dance(3.0)
    a = model.generate(feats, seed=5)
    b = model.generate(feats, seed=5)
    np.testing.assert_array_equal(a.audio, b.audio)
    c = model.generate(feats, seed=6)
    assert not np.array_equal(a.codes, c.codes)
    gbr = model.generate(feats, seed=5, genre="gBR")
    gho = model.generate(feats, seed=5, genre="House")
    assert gbr.meta["genre"] == "gBR" and gho.meta["genre"] == "gHO"
    assert not np.array_equal(gbr.codes, gho.codes)


def test_parse_genre():
    assert parse_genre("gBR") == 0 and parse_genre("ballet jazz") == 9 and parse_genre("3") == 3
    assert parse_genre(None) is None
    with pytest.raises(ConfigError):
        parse_genre("polka")


def test_generate_video_writes_mp4_with_music(tmp_path, monkeypatch):
    from dance2music.io.video import probe, read_audio, write_video

    video = tmp_path / "dance.mp4"
    frames = ((i / 30, np.full((64, 96, 3), 5 * i, np.uint8)) for i in range(45))
    write_video((f for _, f in frames), 30.0, video)
    model = tiny_model()
    feats = dance(1.5)
    monkeypatch.setattr("dance2music.features.extract.extract_features", lambda *a, **k: feats)
    out, wav = tmp_path / "out.mp4", tmp_path / "out.wav"
    res = model.generate_video(video, out, wav_path=wav, seed=0)
    info = probe(out)
    assert info.has_audio and info.num_frames == 45
    assert abs(len(read_audio(out)) / 22050 - info.duration) <= 1 / 30
    assert wav.exists() and res.duration == pytest.approx(1.5, abs=1e-3)
    before = out.read_bytes()
    with pytest.raises(Exception, match="exists"):
        model.generate_video(video, out, seed=0)
    assert out.read_bytes() == before


def test_cli_generate_refuses_bad_input_in_one_line(tmp_path, capsys):
    rc = main(["generate", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "o.mp4"), "--genre", "polka"])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and err.startswith("error:") and "\n" not in err
    assert not (tmp_path / "o.mp4").exists()


def test_background_load_leaves_torch_to_the_loading_thread():
    """`from_pretrained(background=True)` reads what generate needs first without importing torch itself
    (importing it on the main thread would delay the pose work by about 2 s)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from dance2music.api import _generator_spec\n"
        "from dance2music.pretrained.registry import resolve\n"
        "spec = _generator_spec(resolve('d2m-top', kind='d2m'))\n"
        "assert spec['kind'] == 'aligned' and 'visual_dim' in spec, spec\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_background_load_waits_for_its_start_and_survives_a_cancel(monkeypatch):
    import time

    import dance2music.api as api

    calls = []
    monkeypatch.setattr(api, "_load_model", lambda path: calls.append(path) or f"model of {path}")
    load = api._BackgroundLoad("p")
    time.sleep(0.2)
    assert calls == []  # nothing imported before it is told to start
    load.start()
    assert load.result() == "model of p" and calls == ["p"]
    dropped = api._BackgroundLoad("q")
    dropped.cancel()  # the video failed: the thread ends without loading ...
    dropped._future.result(timeout=5)
    assert calls == ["p"]
    assert dropped.result() == "model of q" and calls == ["p", "q"]  # ... and a later use still gets the model


def test_a_weakened_genre_code_prior_is_said():
    """Where the genre code prior would mute the music, the result says so (meta prior_weight and prior_note)."""
    model = tiny_model()
    d2m = model.model
    k = d2m.codebook.shape[0]
    d2m.code_prior = torch.full((10, k), -10.0)
    d2m.code_prior[:, 0] = 0.0  # every genre's favourite: code 0
    d2m.prior_weight = 1e6

    def decode(codes, level):  # code 0 decodes to silence, every other code to noise
        loud = (codes != 0).float().repeat_interleave(d2m.hop_length, -1)
        return (0.3 * torch.randn(loud.shape) * loud)[:, None]

    d2m.vqvae.decode_chunked = decode
    res = model.generate(dance(2.0), genre="gHO", seed=0)
    assert res.meta["prior_weight"] == 0.0
    assert "weakened from weight 1e+06 (to 0 at the lowest) over 100 % of the music" in res.meta["prior_note"]
    assert res.meta["prior_lowered"] == 1.0  # every code is the favourite, so every stretch was muted
    free = model.generate(dance(2.0), genre="none", seed=0)
    assert free.meta["prior_weight"] is None and "prior_note" not in free.meta
