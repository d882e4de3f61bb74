"""The audio tokenizer: JukeBox-layout loading, shapes, codebook behaviour, chunked decoding, persistence."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch
from torch import nn

from dance2music.errors import ModelError
from dance2music.losses.spectral import LogMelDistance, MultiResolutionSTFTLoss
from dance2music.models.vqvae import VQVAE
from dance2music.nn.quantizer import VectorQuantizer
from dance2music.nn.resnet import PolyphaseConvTranspose1d

torch.set_num_threads(1)


def tiny(**kw) -> VQVAE:
    torch.manual_seed(0)
    return VQVAE.from_preset("tiny", **kw)


# -- OpenAI JukeBox checkpoint layout -------------------------------------------------------------------------
def jukebox_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """A random state dict built from the documented key patterns and shapes (reference/d2m-gan.md section 4),
    written out independently of the model code: levels 3, downs (3,2,2), width 32, depth 4, multipliers (2,1,1),
    emb 64, 2048 codes."""
    g = torch.Generator().manual_seed(seed)
    sd: dict[str, torch.Tensor] = {}

    def put(key, *shape):
        sd[key] = torch.randn(*shape, generator=g) * 0.02

    downs, mult, emb = (3, 2, 2), (2, 1, 1), 64
    for L in range(3):
        w, depth = 32 * mult[L], 4 * mult[L]
        for b in range(L + 1):
            e = f"encoders.{L}.level_blocks.{b}.model"
            for i in range(downs[b]):
                c_in = (1 if b == 0 else emb) if i == 0 else w
                put(f"{e}.{i}.0.weight", w, c_in, 4)
                put(f"{e}.{i}.0.bias", w)
                for j in range(depth):
                    put(f"{e}.{i}.1.model.{j}.model.1.weight", w, w, 3)
                    put(f"{e}.{i}.1.model.{j}.model.1.bias", w)
                    put(f"{e}.{i}.1.model.{j}.model.3.weight", w, w, 1)
                    put(f"{e}.{i}.1.model.{j}.model.3.bias", w)
            put(f"{e}.{downs[b]}.weight", emb, w, 3)
            put(f"{e}.{downs[b]}.bias", emb)
            d = f"decoders.{L}.level_blocks.{b}.model"
            put(f"{d}.0.weight", w, emb, 3)
            put(f"{d}.0.bias", w)
            for i in range(downs[b]):
                for j in range(depth):
                    put(f"{d}.{i + 1}.0.model.{j}.model.1.weight", w, w, 3)
                    put(f"{d}.{i + 1}.0.model.{j}.model.1.bias", w)
                    put(f"{d}.{i + 1}.0.model.{j}.model.3.weight", w, w, 1)
                    put(f"{d}.{i + 1}.0.model.{j}.model.3.bias", w)
                out = emb if i == downs[b] - 1 else w
                put(f"{d}.{i + 1}.1.weight", w, out, 4)
                put(f"{d}.{i + 1}.1.bias", out)
        put(f"decoders.{L}.out.weight", 1, emb, 3)
        put(f"decoders.{L}.out.bias", 1)
        sd[f"bottleneck.level_blocks.{L}.k"] = torch.randn(2048, emb, generator=g)
    return sd


def test_jukebox_layout_matches_documented_counts():
    sd = jukebox_state_dict()
    assert len(sd) == 669
    assert sum(v.numel() for k, v in sd.items() if not k.endswith(".k")) == 1_485_763


def test_from_jukebox_loads_openai_checkpoint_format(tmp_path):
    sd = jukebox_state_dict()
    # JukeBox pickles its own hyperparameter class beside the weights; emulate a class from a module this
    # environment does not have, and DDP's "module." prefix.
    fake = types.ModuleType("jukebox_hparams_fake")

    class Hyperparams(dict):
        pass

    Hyperparams.__module__ = "jukebox_hparams_fake"
    Hyperparams.__qualname__ = "Hyperparams"
    fake.Hyperparams = Hyperparams
    sys.modules["jukebox_hparams_fake"] = fake
    try:
        path = tmp_path / "vqvae.pth.tar"
        torch.save({"model": {f"module.{k}": v for k, v in sd.items()}, "hps": Hyperparams(sr=44100), "step": 1}, path)
    finally:
        del sys.modules["jukebox_hparams_fake"]
    m = VQVAE.from_jukebox(path)
    assert m.hops == [8, 32, 128] and m.l_bins == 2048 and m.emb_width == 64
    got = m.state_dict()
    for k, v in sd.items():
        assert torch.equal(got[k], v), k
    x = torch.randn(1, 1, 1000)
    with torch.no_grad():
        codes = m.encode(x, 2)
        assert codes.shape == (1, 8) and codes.max() < 2048
        assert m.decode(codes, 2).shape == (1, 1, 1024)


def test_from_jukebox_rejects_other_files(tmp_path):
    p = tmp_path / "x.pt"
    torch.save({"model": {"foo": torch.zeros(1)}}, p)
    with pytest.raises(ModelError, match="JukeBox"):
        VQVAE.from_jukebox(p)
    sd = jukebox_state_dict()
    del sd["decoders.1.out.weight"]
    torch.save({"model": sd}, p)
    with pytest.raises(ModelError, match="1 missing"):
        VQVAE.from_jukebox(p)


# -- shapes and gradients ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("length", [1, 37, 1001])
def test_encode_decode_shapes_at_odd_lengths(length):
    m = tiny().eval()
    x = torch.randn(2, 1, length)
    for L, hop in enumerate(m.hops):
        codes = m.encode(x, L)
        assert codes.shape == (2, -(-length // hop)) and codes.dtype == torch.long
        assert m.encode_features(x, L).shape == (2, m.emb_width, codes.shape[1])
        assert m.decode(codes, L).shape == (2, 1, codes.shape[1] * hop)
    out = m(x)
    assert all(r.shape == x.shape for r in out.recon)


def test_straight_through_gradient_reaches_features_and_encoder():
    m = tiny().train()
    x = torch.randn(2, 1, 256)
    out = m(x)
    (out.recon[1] - x).abs().mean().backward()
    enc_grad = m.encoders[1].level_blocks[0].model[0][0].weight.grad
    assert enc_grad is not None and enc_grad.abs().sum() > 0
    # the lookup alone (what a generator trains through): gradient is the identity
    feats = torch.randn(1, m.emb_width, 5, requires_grad=True)
    q = m.quantize(feats, 0)
    torch.testing.assert_close(q.quantized, m.codes_to_features(q.codes, 0))
    q.quantized.sum().backward()
    torch.testing.assert_close(feats.grad, torch.ones_like(feats))


# -- the codebook -----------------------------------------------------------------------------------------------
def test_codebook_init_ema_and_restart():
    torch.manual_seed(0)
    vq = VectorQuantizer(l_bins=8, emb_width=2, mu=0.5).train()
    a = torch.randn(1, 2, 64)
    vq(a)  # first batch initializes the codebook from its vectors
    assert bool(vq.initialized)
    assert a.min() <= vq.k.min() and vq.k.max() <= a.max() and len(set(vq.k[:, 0].tolist())) == 8
    # A far-away cluster: the codes it uses move toward it by EMA; the others die and restart on it.
    b = torch.randn(1, 2, 64) * 0.01 + 10.0
    before = vq.k.clone()
    for _ in range(6):
        r = vq(b)
    assert not torch.equal(before, vq.k)
    assert (vq.k - 10.0).abs().max() < 1.0, "every code ends near the data (EMA + restarts)"
    assert r.commit_loss < 0.1 and 1.0 <= float(r.perplexity) <= 8.0
    # eval mode never touches the codebook
    vq.eval()
    k = vq.k.clone()
    vq(torch.randn(1, 2, 64))
    assert torch.equal(k, vq.k)


def test_perplexity_and_usage_of_a_uniform_assignment():
    vq = VectorQuantizer(l_bins=4, emb_width=1).eval()
    vq.k.copy_(torch.tensor([[0.0], [1.0], [2.0], [3.0]]))
    r = vq(torch.tensor([[[0.0, 1.0, 2.0, 3.0] * 5]]))
    assert float(r.perplexity) == pytest.approx(4.0) and float(r.usage) == 1.0
    assert r.codes.tolist()[0] == [0, 1, 2, 3] * 5 and float(r.commit_loss) == 0.0


# -- chunked decoding, fast transposed conv -------------------------------------------------------------------
def test_chunked_decode_equals_full_decode():
    m = tiny(depth=3).eval()
    for L in range(m.levels):
        codes = torch.randint(0, m.l_bins, (2, 61))
        full = m.decode(codes, L)
        for chunk in (5, 16, 61, 100):
            torch.testing.assert_close(m.decode_chunked(codes, L, chunk=chunk), full, rtol=0, atol=1e-5)
        # windows decoded by parallel threads land in the same places, and the thread setting comes back
        threads = torch.get_num_threads()
        one = m.decode_chunked(codes, L, chunk=7, workers=1)
        assert torch.equal(m.decode_chunked(codes, L, chunk=7, workers=3), one)
        assert torch.get_num_threads() == threads
        with torch.inference_mode():  # the workers write into a buffer made in the caller's mode
            assert torch.equal(m.decode_chunked(codes, L, chunk=7, workers=3), one)


def test_decoder_context_is_needed_and_enough():
    m = tiny(depth=3).eval()
    ctx = m.decoder_context(1)
    codes = torch.randint(0, m.l_bins, (1, 4 * ctx + 1))
    full = m.decode(codes, 1)
    mid = 2 * ctx  # the sample block of the middle code depends on codes within +-ctx only
    cut = m.decode(codes[:, mid - ctx : mid + ctx + 1], 1)
    hop = m.hops[1]
    torch.testing.assert_close(cut[..., ctx * hop : (ctx + 1) * hop], full[..., mid * hop : (mid + 1) * hop])
    short = m.decode(codes[:, mid - 1 : mid + 2], 1)  # one frame of context is not enough
    assert not torch.allclose(short[..., hop : 2 * hop], full[..., mid * hop : (mid + 1) * hop], atol=1e-6)


@pytest.mark.parametrize("stride", [2, 4])
def test_polyphase_transposed_conv_matches_pytorch(stride):
    torch.manual_seed(0)
    fast = PolyphaseConvTranspose1d(5, 3, 2 * stride, stride, stride // 2)
    x = torch.randn(2, 5, 17)
    torch.testing.assert_close(fast(x), nn.ConvTranspose1d.forward(fast, x), rtol=0, atol=1e-5)


def test_fused_decoder_tail_matches_separate_layers_and_gradients():
    from dance2music.nn.resnet import fused_upsample_out

    torch.manual_seed(0)
    up, out = PolyphaseConvTranspose1d(6, 5, 4, 2, 1), nn.Conv1d(5, 1, 3, 1, 1)
    for t in (3, 9, 40):
        h = torch.randn(2, 6, t, requires_grad=True)
        a, b = fused_upsample_out(up, out, h), out(up(h))
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
        g = torch.randn_like(a)
        ga = torch.autograd.grad(a, [h, up.weight, out.weight, up.bias], g)
        gb = torch.autograd.grad(b, [h, up.weight, out.weight, up.bias], g)
        for x, y in zip(ga, gb):
            torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-5)


def test_time_major_decoder_equals_the_module_and_follows_weight_changes():
    from dance2music.nn.timemajor import TimeMajorDecoder

    for kw in ({"depth": 3}, {"depth": 2, "width": 24}, {"depth": 2, "decoder_width": 4}):
        m = tiny(**kw).eval()
        for L in range(m.levels):
            dec = m.decoders[L]
            assert TimeMajorDecoder.supports(dec)
            for t in (1, 4, 9, 33):  # below and above the fused tail's exact-edge length
                feats = m.codes_to_features(torch.randint(0, m.l_bins, (2, t)), L)
                with torch.no_grad():
                    fast = m.decode_features(feats, L)  # the plan (no grad, CPU, float32)
                    ref = dec(feats)
                assert fast.shape == ref.shape == (2, 1, t * m.hops[L])
                torch.testing.assert_close(fast, ref, rtol=0, atol=1e-5)
    # an optimizer step (an in-place parameter update) rebuilds the plan; with grad the module runs
    m = tiny(depth=3).eval()
    feats = m.codes_to_features(torch.randint(0, m.l_bins, (1, 12)), 1)
    with torch.no_grad():
        before = m.decode_features(feats, 1)
        m.decoders[1].out.bias.add_(0.5)
        after = m.decode_features(feats, 1)
    torch.testing.assert_close(after, before + 0.5, rtol=0, atol=1e-5)
    y = m.decode_features(feats.requires_grad_(), 1)
    assert y.requires_grad


# -- persistence ----------------------------------------------------------------------------------------------
def test_save_load_roundtrip(tmp_path):
    m = tiny().train()
    m(torch.randn(2, 1, 512))  # initialize the codebooks
    m.eval()
    x = torch.randn(1, 1, 300)
    path = m.save(tmp_path / "m.safetensors", meta={"step": 3})
    m2 = VQVAE.load(path)
    assert m2.config == m.config
    with torch.no_grad():
        torch.testing.assert_close(m2(x).recon[1], m(x).recon[1], rtol=0, atol=0)
        m3 = VQVAE.load(m.save(tmp_path / "h.safetensors", half=True))
        # encoders and codebooks stay float32: the same music gives exactly the same codes
        assert torch.equal(m3.encode(x, 0), m.encode(x, 0)) and torch.equal(m3.encode(x, 1), m.encode(x, 1))
        from safetensors.torch import load_file

        stored = load_file(str(tmp_path / "h.safetensors"))
        assert {str(v.dtype) for k, v in stored.items() if k.startswith("decoders.")} == {"torch.float16"}
        assert {str(v.dtype) for k, v in stored.items() if k.startswith("encoders.")} == {"torch.float32"}
        torch.testing.assert_close(m3.decode(m.encode(x, 1), 1), m.decode(m.encode(x, 1), 1), rtol=0, atol=2e-3)
    with pytest.raises(ModelError):
        VQVAE.load(tmp_path / "missing.safetensors")
    # the same weights always give the same file (the registry checks files by sha256)
    again = m.save(tmp_path / "again.safetensors", meta={"step": 3})
    assert again.read_bytes() == path.read_bytes()


def test_presets_and_levels():
    assert VQVAE(**{**VQVAE.from_preset("tiny").config}).hops == [4, 8]
    small = VQVAE.from_preset("small")
    assert small.hops == [32, 128] and small.level_for_hop(128) == 1
    assert small.l_bins == 512 and small.emb_width == 64
    with pytest.raises(ModelError):
        VQVAE.from_preset("huge")
    with pytest.raises(ModelError):
        small.level_for_hop(8)


# -- losses and data --------------------------------------------------------------------------------------------
def test_spectral_losses_are_zero_on_identity_and_grow_with_error():
    torch.manual_seed(0)
    x = torch.randn(2, 1, 4096) * 0.1
    mr, mel = MultiResolutionSTFTLoss(fft_sizes=(512, 128)), LogMelDistance(n_fft=512, hop=128, n_mels=40)
    assert float(mr(x, x).total) == pytest.approx(0.0, abs=1e-6) and float(mel(x, x)) == 0.0
    small, big = mr(x + 0.01 * torch.randn_like(x), x).total, mr(x + 0.1 * torch.randn_like(x), x).total
    assert 0 < small < big


def test_onset_distance_sees_an_attack_that_a_swell_lacks():
    from dance2music.losses.spectral import onset_envelope

    sr, n = 22050, 16384
    t = torch.arange(n) / sr
    gen = torch.Generator().manual_seed(0)
    noise = torch.randn(n, generator=gen)
    bed = 0.02 * torch.randn(n, generator=gen)  # a quiet bed under both, so no band rises from silence
    decay = torch.exp(-(t - 0.3).clamp_min(0) * 20)
    click = bed + 0.5 * noise * (t >= 0.3).float() * decay  # a hit at 0.3 s
    swell = bed + 0.5 * noise * torch.clamp((t - 0.15) / 0.15, 0, 1) * decay  # the same hit, faded in
    mel = LogMelDistance(sample_rate=sr)

    def env(x):
        return onset_envelope(mel.log_mel(x[None, None]))[0, 3:-3]  # away from the clip's edges

    e = env(click)
    assert torch.all(e >= 0) and abs((int(e.argmax()) + 4) * mel.hop / sr - 0.3) <= 2 * mel.hop / sr
    assert float(env(swell).max()) < 0.5 * float(e.max())
    d_mel, d_onset = mel.with_onsets(click[None, None], click[None, None])
    assert float(d_mel) == 0.0 and float(d_onset) == 0.0
    d_mel, d_onset = mel.with_onsets(swell[None, None], click[None, None])
    assert float(d_mel) == pytest.approx(float(mel(swell[None, None], click[None, None]))) and float(d_onset) > 0


def test_mel_filterbank_matches_librosa():
    librosa = pytest.importorskip("librosa")
    from dance2music.losses.spectral import mel_filterbank

    ref = librosa.filters.mel(sr=22050, n_fft=1024, n_mels=128)
    np.testing.assert_allclose(mel_filterbank(22050, 1024, 128).numpy(), ref, atol=1e-6)


def test_music_crops_are_a_function_of_seed_epoch_index(tmp_path):
    import soundfile as sf

    from dance2music.data.music import MusicCrops, resolve_sources

    sr = 22050
    sf.write(tmp_path / "a.wav", np.random.default_rng(0).normal(size=sr).astype(np.float32) * 0.1, sr)
    sf.write(tmp_path / "b.flac", np.random.default_rng(1).normal(size=sr // 2).astype(np.float32) * 0.1, sr)
    files = resolve_sources([str(tmp_path)])
    assert [f.name for f in files] == ["a.wav", "b.flac"]
    ds = MusicCrops(files, segment=1000, seed=3)
    assert len(ds) == int(1.5 * sr) // 1000
    x = ds[5]
    assert x.shape == (1, 1000) and x.abs().max() <= 0.95 + 1e-6
    assert torch.equal(MusicCrops(files, segment=1000, seed=3)[5], x)
    ds.set_epoch(1)
    assert not torch.equal(ds[5], x)


@pytest.mark.parametrize("name", ["vqvae-small", "vqvae-base", "vqvae-base-fast"])
def test_shipped_weights_load_offline_and_reconstruct(name):
    from dance2music.models.vqvae import Tokenizer
    from dance2music.pretrained.registry import REGISTRY, resolve, sha256_file

    entry = REGISTRY[name]
    path = resolve(name, kind="vqvae")
    assert sha256_file(path) == entry.sha256
    m = Tokenizer.from_pretrained(name)
    assert m.hops == [32, 128] and m.sample_rate == 22050
    assert all(bool(vq.initialized) for vq in m.bottleneck.level_blocks)
    # trained weights: the reconstruction of a tone is spectrally closer to it than noise of the same level
    mr = MultiResolutionSTFTLoss(fft_sizes=(1024, 256))
    t = torch.arange(8192) / 22050
    x = (0.5 * torch.sin(2 * torch.pi * 220 * t))[None, None]
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(0)) * x.std()
    with torch.no_grad():
        for L in range(m.levels):
            y = m.decode(m.encode(x, L), L)[..., : x.shape[-1]]
            assert float(mr(y, x).total) < float(mr(noise, x).total)


def test_fast_tokenizer_has_the_base_codes_and_d2m_top_takes_it_silently():
    import warnings

    from dance2music.models.d2m import D2M
    from dance2music.pretrained.registry import resolve

    base, fast = VQVAE.from_pretrained("vqvae-base"), VQVAE.from_pretrained("vqvae-base-fast")
    assert fast.codebook_sha256() == base.codebook_sha256()
    assert fast.config["decoder_width"] == 16 and "decoder_width" not in base.config
    x = torch.randn(1, 1, 4096, generator=torch.Generator().manual_seed(0)) * 0.2
    for L in range(2):
        assert torch.equal(fast.encode(x, L), base.encode(x, L))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shipped = D2M.from_pretrained("d2m-top")  # with vqvae-base, the tokenizer it was trained against
        swapped = D2M.load(resolve("d2m-top", kind="d2m"), vqvae="vqvae-base-fast")  # same codebooks: no warning
    assert "decoder_width" not in shipped.vqvae.config and swapped.vqvae.config["decoder_width"] == 16


def test_aist_split_source_keeps_held_out_music_out(tmp_path):
    import soundfile as sf

    from dance2music.data.music import resolve_sources

    (tmp_path / "splits").mkdir()
    (tmp_path / "music").mkdir()
    train = "gBR_sBM_cAll_d01_mBR10_ch01\ngPO_sBM_cAll_d02_mPO11_ch02\n"
    (tmp_path / "splits" / "crossmodal_train.txt").write_text(train)
    (tmp_path / "splits" / "crossmodal_test.txt").write_text("gBR_sBM_cAll_d03_mBR12_ch03\n")
    for music_id in ("mBR10", "mPO11", "mBR12"):
        sf.write(tmp_path / "music" / f"{music_id}.wav", np.zeros(100, np.float32), 22050)
    assert [p.stem for p in resolve_sources([f"aist:{tmp_path}:train"])] == ["mBR10", "mPO11"]
    assert [p.stem for p in resolve_sources([f"aist:{tmp_path}:test"])] == ["mBR12"]
