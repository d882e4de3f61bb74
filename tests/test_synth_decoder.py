"""The adversarial synthesizer (issue 17): audio discriminators, bundles and augmentation, `d2m train synth` on
a tiny VQ-VAE from a bundle (decoder-only: encoder and codebook unchanged), the export loading back."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dance2music.losses.adversarial import ls_discriminator_loss, ls_generator_loss
from dance2music.models.audio_discriminators import build_audio_discriminator
from dance2music.models.vqvae import VQVAE
from dance2music.training.synth_data import AugmentedCrops, excerpts, load_bundle, to_float, write_bundle

SR = 22050


@pytest.mark.parametrize("preset", ["stft-tiny", "period-tiny"])
@pytest.mark.parametrize("length", [2205, 2999])  # odd lengths: the period discriminators pad
def test_discriminator_contract(preset, length):
    d = build_audio_discriminator(preset)
    logits, feats = d(torch.randn(3, 1, length))
    assert len(logits) == len(feats) == len(d.discriminators)
    assert all(x.shape[0] == 3 and x.shape[1] == 1 for x in logits)
    assert all(f.shape[0] == 3 for fs in feats for f in fs)
    x = torch.randn(2, 1, length, requires_grad=True)
    sum(y.mean() for y in d(x)[0]).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_stft_runs_in_float32_under_autocast():
    d = build_audio_discriminator("stft-tiny")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        spec = d.discriminators[0].spectrogram(torch.randn(2, 1, 2048))
    assert spec.dtype == torch.float32 and spec.shape[1] == 2  # real, imaginary


def test_least_squares_losses():
    ones, zeros = [torch.ones(2, 1, 5)], [torch.zeros(2, 1, 5)]
    assert float(ls_generator_loss(ones)) == 0.0 and float(ls_discriminator_loss(ones, zeros)) == 0.0
    assert float(ls_discriminator_loss(zeros, ones)) == 2.0


def test_bundle_round_trip_and_crops(tmp_path):
    t = np.arange(SR) / SR
    tracks = [("a", 0.5 * np.sin(2 * np.pi * 440 * t)), ("b", 0.3 * np.sin(2 * np.pi * 97 * t[:3000]))]
    path = write_bundle(tracks, tmp_path / "m.npy", sample_rate=SR)
    back = load_bundle(path, SR)
    assert [len(a) for a in back] == [SR, 3000] and back[0].dtype == np.int16
    assert np.abs(to_float(back[0]) - tracks[0][1]).max() < 1e-4
    ds = AugmentedCrops(back, segment=4000, seed=1, gain=(0.5, 1.0), eq_prob=1.0, shelf_db=12, tilt_db=12)
    a, b = ds[3], ds[3]
    assert a.shape == (1, 4000) and torch.equal(a, b)  # a pure function of (seed, epoch, index)
    assert all(float(ds[i].abs().max()) <= 1.0 for i in range(len(ds)))
    ds.set_epoch(1)
    assert not torch.equal(ds[3], a)
    got = excerpts([(n, a) for n, a in tracks], 0.5, sample_rate=SR, piece_seconds=0.1)
    assert sum(len(a) for _, a in got) <= SR // 2 and len(got) > 2


@pytest.fixture(scope="module")
def tiny_vqvae(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthdec")
    torch.manual_seed(0)
    path = VQVAE.from_preset("tiny").save(root / "tiny.safetensors")
    t = np.arange(2 * SR) / SR
    rng = np.random.default_rng(0)
    music = [(f"t{i}", 0.3 * np.sin(2 * np.pi * (200 + 70 * i) * t) + 0.02 * rng.normal(size=len(t))) for i in range(3)]
    write_bundle(music, root / "train.npy", sample_rate=SR)
    write_bundle(music[:1], root / "eval.npy", sample_rate=SR)
    return root, path


def test_train_synth_from_bundle_decoder_only(tiny_vqvae, tmp_path):
    from dance2music.training.config import load_config
    from dance2music.training.synth_task import SynthExperiment, SynthTask
    from dance2music.training.trainer import fit

    root, vq_path = tiny_vqvae
    sets = {
        "vqvae": vq_path, "hop_length": 8, "data.bundle": root / "train.npy", "data.eval_bundle": root / "eval.npy",
        "data.seconds": 0.1, "data.eq_prob": 0.5, "discriminators": "[stft, period]",
        "stft_discriminator.preset": "stft-tiny", "period_discriminator.preset": "period-tiny", "adv_loss": "ls",
        "optim.lr_g": 1e-3, "loss_weights.audio/spec": 1.0, "loss_weights.audio/wav": 1.0, "eval_seconds": 0.2,
        "trainer.batch_size": 2, "trainer.max_steps": 3, "trainer.progress": "false", "trainer.threads": 1,
    }  # fmt: skip
    task = SynthTask(load_config(SynthExperiment, None, [f"{k}={v}" for k, v in sets.items()]))
    res = fit(task, tmp_path / "run")
    assert res.step == 3
    for k in ("adv/gen", "adv/feat", "adv/disc", "audio/mel", "audio/spec", "audio/wav"):
        assert math.isfinite(res.logs[k]), k
    assert res.eval["audio/mel"] > 0
    before = VQVAE.load(vq_path)
    after = VQVAE.from_pretrained(str(tmp_path / "run" / "vqvae.safetensors"))  # the registry's loader
    level = before.level_for_hop(8)
    a, b = before.state_dict(), after.state_dict()
    changed = {k for k in a if not torch.equal(a[k], b[k])}
    assert changed and all(k.startswith(f"decoders.{level}.") for k in changed)
    assert after.codebook_sha256() == before.codebook_sha256()
    x = torch.randn(1, 1, 800)
    assert after.decode(after.encode(x, level), level).shape == (1, 1, 800)


def test_max_minutes_stops_early(tiny_vqvae, tmp_path):
    from dance2music.training.config import load_config
    from dance2music.training.synth_task import SynthExperiment, SynthTask
    from dance2music.training.trainer import fit

    root, vq_path = tiny_vqvae
    sets = {
        "vqvae": vq_path, "hop_length": 8, "data.bundle": root / "train.npy", "data.seconds": 0.1,
        "data.eval_sources": "[]", "discriminators": "[stft]", "stft_discriminator.preset": "stft-tiny",
        "trainer.batch_size": 2, "trainer.max_steps": 50, "trainer.max_minutes": 1e-6, "trainer.progress": "false",
        "trainer.threads": 1,
    }  # fmt: skip
    res = fit(SynthTask(load_config(SynthExperiment, None, [f"{k}={v}" for k, v in sets.items()])), tmp_path / "r")
    assert res.step == 1 and (tmp_path / "r" / "vqvae.safetensors").is_file()


def test_sound_measures_known_answers():
    from dance2music.metrics.sound import floor_rise_db, sound_measures

    rng = np.random.default_rng(0)
    t = np.arange(2 * SR) / SR
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    noise = (0.1 * rng.normal(size=len(t))).astype(np.float32)
    assert floor_rise_db(tone, tone, SR) == 0.0
    assert floor_rise_db(tone + 0.01 * noise, tone, SR) > 20  # a noise floor where the high band was silent
    s_tone, s_noise = sound_measures(tone, SR), sound_measures(noise, SR)
    assert s_tone.flatness < 0.01 < 0.3 < s_noise.flatness
    assert s_tone.hpr_db > s_noise.hpr_db
    clicks = np.zeros_like(tone)
    clicks[:: SR // 2] = 1.0  # 120 BPM: events with silence between them
    assert sound_measures(clicks, SR).onset_contrast_db > sound_measures(noise, SR).onset_contrast_db + 10


@pytest.mark.parametrize("name", ["synth_top", "synth_lower"])
def test_synth_configs_load(name):
    from pathlib import Path

    from dance2music.training.config import load_config
    from dance2music.training.synth_task import SynthExperiment, SynthTask, build_discriminators

    cfg = load_config(SynthExperiment, Path(__file__).resolve().parents[1] / "configs" / f"{name}.yaml")
    SynthTask(cfg)
    assert set(build_discriminators(cfg).parts) == {"stft", "period"}
