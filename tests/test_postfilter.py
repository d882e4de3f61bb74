"""The decoders' spectral post-filter (`nn.postfilter`) and its place in `VQVAE.decode_chunked`."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from dance2music.models.vqvae import VQVAE
from dance2music.nn.postfilter import SpectralPostfilter

SMALL = dict(n_fft=256, hop=64, channels=16, blocks=3)


def _trained_like(pf: SpectralPostfilter, seed: int = 0) -> SpectralPostfilter:
    """Random weights everywhere (a fresh filter is near unity gain, which would hide framing errors)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in pf.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return pf.eval()


def test_fresh_filter_is_near_unity_and_gains_stay_in_0_1():
    pf = SpectralPostfilter(**SMALL).eval()
    x = torch.randn(2, 1, 4000) * 0.3
    with torch.no_grad():
        y = pf(x)
        assert y.shape == x.shape
        # sigmoid(4) = 0.982 everywhere: the output is the input scaled by that, away from the edges
        torch.testing.assert_close(y[..., 256:-256], x[..., 256:-256] * torch.sigmoid(torch.tensor(4.0)), atol=1e-4,
                                   rtol=1e-3)  # fmt: skip
        g = _trained_like(pf).gain(pf.stft(x[:, 0]).abs())
    assert float(g.min()) >= 0.0 and float(g.max()) <= 1.0 and float(g.std()) > 0.01


def test_chunked_apply_equals_one_pass_at_any_chunk():
    pf = _trained_like(SpectralPostfilter(**SMALL))
    x = torch.randn(1, 1, 9001) * 0.3
    with torch.no_grad():
        whole = pf(x)
    for chunk in (64, 1000, 4096, 20000):
        torch.testing.assert_close(pf.apply(x, chunk=chunk), whole, rtol=0, atol=1e-5)
    assert pf.context_frames == 1 + 2 + 4  # kernel 3, dilations 1, 2, 4


def test_vqvae_with_postfilters_saves_loads_and_filters_only_when_asked(tmp_path):
    m = VQVAE.from_preset("tiny").eval()
    codes = torch.randint(0, m.l_bins, (1, 300))
    plain = m.decode_chunked(codes, 1)
    m.add_postfilters(SMALL)
    for pf in m.postfilters:
        _trained_like(pf)
    assert m.config["postfilter"] == SpectralPostfilter(**SMALL).config
    assert torch.equal(m.decode_chunked(codes, 1, postfilter=False), plain)
    filtered = m.decode_chunked(codes, 1)
    assert filtered.shape == plain.shape and not torch.allclose(filtered, plain)
    torch.testing.assert_close(filtered, m.postfilters[1](plain), rtol=0, atol=1e-5)
    m2 = VQVAE.load(m.save(tmp_path / "pf.safetensors"))
    assert m2.config == m.config and m2.codebook_sha256() == m.codebook_sha256()
    assert torch.equal(m2.decode_chunked(codes, 1), filtered)
    # a file without post-filters still loads without them
    assert VQVAE.load(VQVAE.from_preset("tiny").save(tmp_path / "no.safetensors")).postfilters is None


def test_training_script_writes_a_filtered_tokenizer_and_its_loss_falls(tmp_path, monkeypatch):
    """A few steps of `scripts/train_postfilter.py` on a tiny tokenizer write a tokenizer with post-filters whose
    training loss falls, and its record."""
    import soundfile as sf

    from dance2music.constants import SAMPLE_RATE as SR

    rng = np.random.default_rng(0)
    music = tmp_path / "music"
    music.mkdir()
    t = np.arange(3 * SR) / SR
    for i in range(3):  # tones with silences: a decoder from random codes fills the silences with noise
        y = 0.5 * np.sin(2 * np.pi * (220 + 110 * i) * t) * (np.sin(2 * np.pi * 2 * t) > 0)
        sf.write(music / f"{i}.wav", (y + 1e-3 * rng.standard_normal(len(t))).astype(np.float32), SR)
    tok = VQVAE.from_preset("tiny")
    tok_path = tok.save(tmp_path / "tok.safetensors")
    spec = importlib.util.spec_from_file_location(
        "train_postfilter", Path(__file__).resolve().parents[1] / "scripts" / "train_postfilter.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "run"
    rc = script.main([
        "--vqvae", str(tok_path), "--real", str(music), "--real-seconds", "3", "--synth", str(music),
        "--synth-clips", "2", "--eval", str(music / "0.wav"), "--eval-seconds", "2", "--channels", "16",
        "--blocks", "2", "--steps", "40", "--batch", "4", "--crop", "0.5", "--lr", "3e-3", "--eval-every", "20",
        "--threads", "1", "--out", str(out),
    ])  # fmt: skip
    assert rc == 0
    import json

    record = json.loads((out / "record.json").read_text())
    steps = [p["step"] for p in record["curve"]]
    assert steps == [0, 20, 40]
    first, last = record["curve"][1], record["curve"][-1]
    for hop in tok.hops:
        assert last[f"train/hop{hop}/loss"] < first[f"train/hop{hop}/loss"]
    trained = VQVAE.load(out / "vqvae.safetensors")
    assert trained.postfilters is not None and trained.codebook_sha256() == tok.codebook_sha256()
    # trained on from there with bins left too loud weighted more (--overshoot), the filter takes more away
    hop = tok.hops[0]
    y = torch.from_numpy(sf.read(music / "0.wav", dtype="float32")[0])[None, None]
    gains = {}
    for w in ("1", "8"):
        rc = script.main([
            "--vqvae", str(out / "vqvae.safetensors"), "--levels", str(hop), "--real", str(music), "--real-seconds",
            "3", "--synth", str(music), "--synth-clips", "2", "--eval", str(music / "0.wav"), "--eval-seconds", "2",
            "--steps", "20", "--batch", "4", "--crop", "0.5", "--lr", "3e-3", "--eval-every", "20", "--threads", "1",
            "--overshoot", w, "--out", str(tmp_path / f"os{w}"),
        ])  # fmt: skip
        assert rc == 0
        pf = VQVAE.load(tmp_path / f"os{w}" / "vqvae.safetensors").postfilters[0]
        with torch.no_grad():
            decoded = trained.decode_chunked(trained.encode(y, 0), 0, postfilter=False)
            gains[w] = float(pf.gain(pf.stft(decoded[:, 0]).abs()).mean())
    assert gains["8"] < gains["1"] - 0.02, gains
    # a tokenizer that is not there, or a hop it lacks: one line and a non-zero status, nothing written
    assert script.main(["--vqvae", str(tmp_path / "none.safetensors"), "--out", str(tmp_path / "r2")]) != 0
    assert script.main(["--vqvae", str(tok_path), "--levels", "7", "--out", str(tmp_path / "r3")]) != 0
    assert script.main(["--vqvae", str(tok_path), "--overshoot", "0", "--out", str(tmp_path / "r4")]) != 0
    assert not any((tmp_path / r).exists() for r in ("r2", "r3", "r4"))


def test_shipped_postfilter_tokenizer_keeps_the_codes_and_quiets_the_floor():
    """vqvae-base-pf is vqvae-base-adv (same encoders, codebooks and decoders) plus trained post-filters; on a
    held-out immich eval tracks' round trips they lower the high-band noise floor and the log-mel distance at both
    levels."""
    from dance2music.data.music import load_audio, resolve_sources
    from dance2music.losses.spectral import LogMelDistance
    from dance2music.metrics.sound import floor_rise_db
    from dance2music.pretrained.registry import REGISTRY, resolve, sha256_file

    assert sha256_file(resolve("vqvae-base-pf", kind="vqvae")) == REGISTRY["vqvae-base-pf"].sha256
    adv, pf = VQVAE.from_pretrained("vqvae-base-adv"), VQVAE.from_pretrained("vqvae-base-pf")
    assert pf.postfilters is not None and adv.postfilters is None
    assert pf.codebook_sha256() == adv.codebook_sha256()
    for k, v in adv.state_dict().items():  # the same weights (the copy is stored as float16)
        torch.testing.assert_close(pf.state_dict()[k], v, rtol=0, atol=1e-3)
    sr = pf.sample_rate
    tracks = [load_audio(f, sr)[: 30 * sr] for f in resolve_sources(["immich:eval"])]  # as bench_sound.py
    mel = LogMelDistance(sample_rate=sr)
    with torch.no_grad():
        for L in range(pf.levels):
            scores = []  # per track: floor rise and mel L1, as decoded and filtered
            for y in tracks:
                x = torch.from_numpy(y)[None, None]
                codes = pf.encode(x, L)
                assert torch.equal(codes, adv.encode(x, L))
                plain = pf.decode_chunked(codes, L, postfilter=False)[..., : x.shape[-1]]
                filtered = pf.decode_chunked(codes, L)[..., : x.shape[-1]]
                scores.append([floor_rise_db(plain[0, 0].numpy(), y, sr), floor_rise_db(filtered[0, 0].numpy(), y, sr),
                               float(mel(plain, x)), float(mel(filtered, x))])  # fmt: skip
            rise_plain, rise_filtered, l1_plain, l1_filtered = np.mean(scores, axis=0)
            assert rise_filtered < rise_plain - 1.0, (L, scores)
            assert l1_filtered < l1_plain, (L, scores)
            assert np.median([s[1] for s in scores]) <= 1.0, (L, scores)  # issue 17: within +1 dB of the music
