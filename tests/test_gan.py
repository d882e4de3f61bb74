"""D2M-GAN: generator, discriminator, losses and the composed model (tiny sizes, CPU)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from dance2music.errors import ConfigError, ModelError
from dance2music.losses.adversarial import (
    GAN_LOSS_WEIGHTS,
    code_usage_loss,
    feature_matching_loss,
    hinge_discriminator_loss,
    hinge_generator_loss,
)
from dance2music.losses.spectral import LogMelDistance
from dance2music.losses.weighting import weighted_total
from dance2music.models.d2m import D2M, build_discriminator, build_generator, generator_spec, load_generator
from dance2music.models.discriminator import MultiScaleDiscriminator
from dance2music.models.generator import D2MGenerator, OfficialGenerator
from dance2music.models.vqvae import VQVAE
from dance2music.nn.gan_blocks import resample_time

torch.set_num_threads(1)


def tiny_vqvae() -> VQVAE:
    torch.manual_seed(0)
    vq = VQVAE.from_preset("tiny")  # hops 4 and 8, 16 codes of width 8
    vq.train()
    vq(torch.randn(2, 1, 2048) * 0.3)  # one training pass initialises the codebooks from data
    return vq.eval()


def tiny_generator(**kw) -> D2MGenerator:
    torch.manual_seed(1)
    return build_generator("tiny", **kw)


# ---- generator -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("hop", [128, 32])
@pytest.mark.parametrize("frames", [1, 7, 45, 61])
def test_generator_any_length(hop, frames):
    g = tiny_generator(hop_length=hop, visual_dim=5, noise_dim=2)
    motion, visual = torch.randn(2, 53, frames), torch.randn(2, 5, frames + 1)  # visual may differ by a frame
    out = g(motion, visual, genre=torch.tensor([3, -1]), tempo=torch.tensor([96.0, float("nan")]))
    expected = max(1, round(frames / 30 * 22050 / hop))
    assert out.shape == (2, 64, expected) == (2, 64, g.num_codes_for(frames))
    assert out.abs().max() <= g.sigma + 1e-4
    assert g(motion, visual, num_codes=17).shape == (2, 64, 17)


def test_generator_is_aligned_in_time():
    """A change in the dance after second t leaves the music well before t (beyond the receptive field) alone."""
    g = tiny_generator(visual_dim=4).eval()
    seconds, t_change = 8.0, 6.0
    frames = int(seconds * 30)
    motion, visual = torch.randn(1, 53, frames), torch.randn(1, 4, frames)
    genre = torch.tensor([2])
    base = g(motion, visual, genre=genre)
    m2, v2 = motion.clone(), visual.clone()
    m2[..., int(t_change * 30) :] += 3.0
    v2[..., int(t_change * 30) :] -= 2.0
    changed = g(m2, v2, genre=genre)
    rf = g.receptive_field_seconds
    assert rf < 2.0
    times = torch.arange(base.shape[-1]) / g.code_rate
    before = times < t_change - rf
    after = times >= t_change
    assert before.sum() > 100
    assert torch.allclose(base[..., before], changed[..., before], atol=1e-5)
    assert (base[..., after] - changed[..., after]).abs().mean() > 1e-3
    # Any length: the first 4 s alone give the same music as the first 4 s of the whole, away from the cut.
    head = g(motion[..., :120], visual[..., :120], genre=genre)
    keep = (times[: head.shape[-1]] < 4.0 - rf).nonzero().max() + 1
    assert torch.allclose(head[..., :keep], base[..., :keep], atol=1e-5)


def test_resample_time_uses_timestamps():
    x = torch.arange(10.0)[None, None]  # sample i at i / 10 s
    y = resample_time(x, 10.0, 40.0, 40)  # sample k at k / 40 s -> input position k / 4
    assert torch.allclose(y[0, 0, :37], torch.arange(37) / 4)
    assert y[0, 0, -1] == 9.0  # held at the end


def test_genre_and_tempo_change_the_output():
    g = tiny_generator().eval()
    m = torch.randn(1, 53, 30)
    base = g(m, genre=torch.tensor([0]), tempo=torch.tensor([100.0]))
    assert not torch.allclose(base, g(m, genre=torch.tensor([5]), tempo=torch.tensor([100.0])))
    assert not torch.allclose(base, g(m, genre=torch.tensor([0]), tempo=torch.tensor([140.0])))
    assert torch.allclose(g(m), g(m, genre=torch.tensor([-1]), tempo=torch.tensor([0.0])))  # unknown == missing


def test_sigma_follows_the_codebook():
    g = tiny_generator()
    codebook = torch.randn(16, 64) * 3
    g.set_sigma_from_codebook(codebook)
    assert math.isclose(float(g.sigma), float(codebook.abs().max()), rel_tol=1e-6)
    assert g(torch.randn(1, 53, 10)).abs().max() <= codebook.abs().max() + 1e-4


@pytest.mark.slow
def test_official_preset_shapes():
    torch.manual_seed(0)
    top = build_generator("official")
    assert isinstance(top, OfficialGenerator)
    with torch.no_grad():
        out = top(torch.randn(1, 219, 120), torch.randn(1, 2048, 1), genre=torch.tensor([4]))
    assert out.shape == (1, 64, 344)
    with pytest.raises(ValueError):
        top(torch.randn(1, 219, 60))  # fixed 2 s: the limitation the aligned generator removes
    with torch.device("meta"):  # ~140 M parameters: check the shapes without allocating them
        lower = build_generator("official-lower")
        assert lower(torch.randn(2, 219, 120)).shape == (2, 64, 1378)


def test_builder_rejects_bad_config():
    with pytest.raises(ConfigError):
        build_generator("huge")
    with pytest.raises(ConfigError):
        build_generator({"preset": "tiny", "widht": 3})
    with pytest.raises(ConfigError):
        build_discriminator({"preset": "tiny", "scales": 3})


# ---- discriminator ---------------------------------------------------------------------------------------
def test_discriminator_outputs():
    d = build_discriminator("tiny")
    logits, feats = d(torch.randn(3, 64, 80))
    assert len(logits) == len(feats) == 3
    assert [x.shape[:2] for x in logits] == [(3, 1)] * 3
    assert logits[0].shape[-1] > logits[1].shape[-1] > logits[2].shape[-1]  # 1x, 2x, 4x
    assert all(len(f) == 4 for f in feats)  # layer 0, 2 strided layers, the k5 layer


def test_genre_projection_starts_unconditional_and_then_depends_on_the_genre():
    torch.manual_seed(0)
    plain = build_discriminator("tiny")
    cond = build_discriminator({"preset": "tiny", "num_genres": 10})
    cond.load_state_dict(plain.state_dict(), strict=False)  # everything but the zero-initialised embeddings
    x, genre = torch.randn(2, 64, 80), torch.tensor([3, -1])
    for a, b in zip(plain(x)[0], cond(x, genre)[0]):
        assert torch.equal(a, b)
    with torch.no_grad():
        for d in cond.discriminators:
            d.genre_embedding.weight.normal_()
    one, other, unknown = cond(x, torch.tensor([3, 3]))[0], cond(x, torch.tensor([4, 4]))[0], cond(x)[0]
    assert not torch.allclose(one[0], other[0]) and not torch.allclose(one[0], unknown[0])
    assert torch.equal(cond(x, torch.tensor([-1, 12]))[0][0], unknown[0])  # negative / out of range = unknown
    assert [t.shape for t in one] == [t.shape for t in plain(x)[0]]


def test_flatten_is_channel_major():
    torch.manual_seed(0)
    kw = dict(channels=4, max_channels=8, n_layers=2, num_scales=2)
    flat = MultiScaleDiscriminator(flatten=True, **kw)
    plain = MultiScaleDiscriminator(flatten=False, in_channels=1, **kw)
    plain.load_state_dict(flat.state_dict())
    x = torch.randn(2, 64, 30)
    manual = torch.cat([x[:, c] for c in range(64)], dim=-1)[:, None]  # channel 0's series, then channel 1's
    for a, b in zip(flat(x)[0], plain(manual)[0]):
        assert torch.allclose(a, b, atol=1e-6)


# ---- losses ----------------------------------------------------------------------------------------------
def test_loss_identities():
    real, fake = [torch.full((2, 1, 5), 1.5)], [torch.full((2, 1, 5), -1.2)]
    assert hinge_discriminator_loss(real, fake) == 0  # both beyond the margin
    assert math.isclose(float(hinge_discriminator_loss(fake, real)), 2.5 + 2.2, rel_tol=1e-6)
    assert math.isclose(float(hinge_generator_loss([torch.full((1, 1, 3), 0.7)] * 3)), -2.1, rel_tol=1e-6)
    feats = [[torch.randn(2, 4, 9), torch.randn(2, 8, 3)]]
    assert feature_matching_loss(feats, feats) == 0
    assert feature_matching_loss(feats, [[f + 1 for f in feats[0]]]) == pytest.approx(1.0)
    x = torch.randn(2, 1, 4096) * 0.1
    mel = LogMelDistance()
    assert mel(x, x) == 0 and mel(x, x * 0.5) > 0.1  # log10 of a halved spectrum: 0.3 apart
    losses = {k: torch.tensor(1.0) for k in GAN_LOSS_WEIGHTS}
    assert weighted_total(losses, GAN_LOSS_WEIGHTS) == pytest.approx(sum(GAN_LOSS_WEIGHTS.values()))
    assert GAN_LOSS_WEIGHTS["adv/feat"] == 3 and GAN_LOSS_WEIGHTS["code/commit"] == 15
    assert GAN_LOSS_WEIGHTS["audio/wav"] == 40 and GAN_LOSS_WEIGHTS["audio/mel"] == 15
    with pytest.raises(ConfigError, match="not computed"):
        weighted_total(losses, {"audio/wave": 1.0})
    with pytest.raises(ConfigError, match="not computed"):
        weighted_total({"adv/gen": torch.tensor(1.0)}, {"adv/gen": 1.0, "audio/mel": 2.0})


def test_code_usage_loss_punishes_collapse_but_not_order():
    torch.manual_seed(0)
    codebook = torch.randn(16, 8) * 3
    real = torch.randint(0, 16, (2, 40))
    exact = codebook[real].transpose(1, 2)  # [B, D, T]: the real music's own code vectors
    shuffled = exact[..., torch.randperm(40)]  # same codes, other order
    collapsed = codebook[torch.zeros_like(real)].transpose(1, 2)  # one code for everything
    matched = float(code_usage_loss(exact, real, codebook))
    assert float(code_usage_loss(shuffled, real, codebook)) == pytest.approx(matched, rel=1e-5)
    assert float(code_usage_loss(collapsed, real, codebook)) > matched + 1.0
    x = collapsed.clone().requires_grad_(True)
    code_usage_loss(x, real, codebook).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert GAN_LOSS_WEIGHTS["code/usage"] == 0  # off unless a config asks for it


def test_audio_losses_train_the_generator_through_the_lookup():
    """The straight-through lookup gives G non-zero gradients from audio/wav and audio/mel (the official code's
    no_grad path gives none), while the frozen VQ-VAE gets no gradient at all."""
    model = D2M(tiny_generator(hop_length=8, latent_dim=8), tiny_vqvae())
    model.generator.set_sigma_from_codebook(model.codebook)
    motion = torch.randn(2, 53, 15)
    audio = torch.randn(2, 1, 11024) * 0.2  # a whole number of hop-8 codes
    n_codes = audio.shape[-1] // 8
    mel = LogMelDistance()
    for name in ("audio/wav", "audio/mel"):
        model.generator.zero_grad()
        latents = model.generator(motion, num_codes=n_codes)
        pred = model.decode(model.lookup(latents).quantized)
        loss = (pred - audio).abs().mean() if name == "audio/wav" else mel(pred, audio)
        loss.backward()
        grads = [p.grad for p in model.generator.parameters()]
        assert all(gr is not None for gr in grads)
        assert sum(float(gr.abs().sum()) for gr in grads) > 0, name
        assert all(p.grad is None for p in model.vqvae.parameters())
    # The official code's way: lookup and decode under no_grad -> the loss cannot reach the generator.
    latents = model.generator(motion, num_codes=n_codes)
    with torch.no_grad():
        pred = model.decode(model.vqvae.codes_to_features(model.vqvae.bottleneck[0].encode(latents), 1))
    assert not ((pred - audio).abs().mean()).requires_grad


def test_d2m_generate_and_save_load_round_trip(tmp_path):
    vq = tiny_vqvae()
    model = D2M(tiny_generator(hop_length=8, latent_dim=8, visual_dim=3), vq, vqvae_ref="tiny-vq")
    model.generator.set_sigma_from_codebook(model.codebook)
    motion, visual = torch.randn(1, 53, 23), torch.randn(1, 3, 23)
    out = model.generate(motion, visual, genre=1, seed=0)
    assert out.audio.shape == (1, 1, round(23 / 30 * 22050))
    assert out.codes.shape == (1, -(-out.audio.shape[-1] // 8)) and out.codes.max() < 16
    path = model.save(tmp_path / "g.safetensors", meta={"note": "test"})
    assert path.with_suffix(".json").is_file()
    again = D2M.load(path, vqvae=vq)
    assert again.vqvae_ref == "tiny-vq"
    assert torch.equal(again.generate(motion, visual, genre=1, seed=0).audio, out.audio)
    assert float(again.generator.sigma) == float(model.generator.sigma)
    half = load_generator(model.save(tmp_path / "h.safetensors", half=True))[0]
    assert (tmp_path / "h.safetensors").stat().st_size < path.stat().st_size
    assert half.sigma.dtype == torch.float32
    with pytest.raises(ModelError):
        load_generator(tmp_path / "missing.safetensors")
    with pytest.raises(ModelError):
        D2M(tiny_generator(hop_length=16, latent_dim=8), vq)  # the VQ-VAE has no hop-16 level



def test_saving_twice_gives_the_same_file(tmp_path):
    """The registry checks shipped files by sha256: the same generator must give the same bytes."""
    model = D2M(tiny_generator(hop_length=8, latent_dim=8), tiny_vqvae(), vqvae_ref="tiny-vq")
    files = [model.save(tmp_path / f"g{i}.safetensors", meta={"a": 1, "b": [2, 3]}).read_bytes() for i in range(4)]
    assert all(f == files[0] for f in files)


def test_generator_files_of_the_first_format_still_load(tmp_path):
    """The first files kept one metadata key per field (the shipped d2m-top was written so)."""
    import json

    from safetensors.torch import save_file

    vq = tiny_vqvae()
    gen = tiny_generator(hop_length=8, latent_dim=8)
    header = {
        "format": "dance2music.d2m-generator", "version": "1", "hop_length": "8", "vqvae": "tiny-vq",
        "generator": json.dumps(generator_spec(gen)), "vqvae_config": "null", "meta": json.dumps({"note": "old"}),
    }
    path = tmp_path / "old.safetensors"
    save_file({k: v.contiguous() for k, v in gen.state_dict().items()}, str(path), metadata=header)
    loaded, fields = load_generator(path)
    assert fields["meta"] == {"note": "old"} and fields["vqvae"] == "tiny-vq" and fields["hop_length"] == 8
    assert D2M.load(path, vqvae=vq).vqvae_ref == "tiny-vq"
    save_file({"x": torch.zeros(1)}, str(tmp_path / "other.safetensors"), metadata={"format": "something"})
    with pytest.raises(ModelError, match="not a dance2music"):
        load_generator(tmp_path / "other.safetensors")

# ---- the training task -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gan_data(tmp_path_factory):
    from gan_fixtures import make_cache, make_vqvae

    root = tmp_path_factory.mktemp("gan")
    return make_cache(root), make_vqvae(root)


def test_genre_code_prior_in_the_lookup(gan_data, tmp_path):
    """The prior counts each genre's codes in the cache's music; weight 0 or no genre = the nearest code; a large
    weight picks the genre's most frequent code; the prior and its weight travel in the generator file."""
    from dance2music.training.code_prior import code_prior_from_cache

    cache_dir, vq_path = gan_data
    vq = VQVAE.load(vq_path)
    model = D2M(tiny_generator(hop_length=8, latent_dim=8), vq)
    model.generator.set_sigma_from_codebook(model.codebook)
    prior = code_prior_from_cache(model, cache_dir, "train")
    assert prior.shape == (10, 16) and torch.allclose(prior.exp().sum(1), torch.ones(10))
    assert not torch.allclose(prior[0], prior[1])  # the genres' music differs (genre i % 10 in the fixture)
    latents = model.generator(torch.randn(2, 53, 30), num_codes=40)
    nearest = vq.bottleneck[1].encode(latents)
    genre = torch.tensor([1, -1])
    model.code_prior, model.prior_weight = prior, 0.0
    assert torch.equal(model.lookup_codes(latents, genre), nearest)
    model.prior_weight = 1e6
    assert torch.equal(model.lookup_codes(latents, None), nearest)
    codes = model.lookup_codes(latents, genre)
    assert torch.all(codes[0] == prior[1].argmax()) and torch.equal(codes[1], nearest[1])  # unknown: untouched
    model.prior_weight = 0.5
    path = model.save(tmp_path / "p.safetensors")
    again = D2M.load(path, vqvae=vq)
    assert again.prior_weight == 0.5 and torch.equal(again.code_prior, prior)
    motion = torch.randn(1, 53, 20)
    assert torch.equal(model.generate(motion, genre=1, seed=0).codes, again.generate(motion, genre=1, seed=0).codes)


def test_latent_match_moves_the_generated_features_onto_the_musics(gan_data, tmp_path):
    """`affine_match` gives the mapped rows the real rows' mean and covariance; `generate` logs the generator's
    raw output and looks up the mapped one; the match fitted from a cache travels in the generator file."""
    from dance2music.training.latent_match import affine_match, latent_match_from_cache

    rng = np.random.default_rng(0)
    real = rng.normal(size=(500, 4)) @ rng.normal(size=(4, 4)) + 3.0
    gen = 0.3 * rng.normal(size=(400, 4)) @ rng.normal(size=(4, 4)) - 1.0
    a, b = affine_match(gen, real)
    mapped = gen @ a.T + b
    assert np.allclose(mapped.mean(0), real.mean(0)) and np.allclose(np.cov(mapped.T), np.cov(real.T))

    cache_dir, vq_path = gan_data
    vq = VQVAE.load(vq_path)
    model = D2M(tiny_generator(hop_length=8, latent_dim=8), vq)
    model.generator.set_sigma_from_codebook(model.codebook)
    motion = torch.randn(1, 53, 20)
    with model.logging_latents() as log:
        plain = model.generate(motion, seed=0).codes
    raw, k0, n = torch.cat(log, -1), model.context_codes, plain.shape[-1]
    assert model._latent_log is None and torch.equal(model.lookup_codes(raw)[:, k0 : k0 + n], plain)
    m, s = latent_match_from_cache(model, cache_dir, "train", max_sequences=3)
    assert m.shape == (8, 8) and s.shape == (8,) and not torch.allclose(m, torch.eye(8))
    model.latent_map, model.latent_shift = m, s
    with model.logging_latents() as log:
        matched = model.generate(motion, seed=0).codes
    assert torch.equal(torch.cat(log, -1), raw)  # the log is the output before the match
    assert torch.equal(model.lookup_codes(model.match_latents(raw))[:, k0 : k0 + n], matched)
    assert not torch.equal(matched, plain)
    again = D2M.load(model.save(tmp_path / "m.safetensors"), vqvae=vq)
    assert torch.equal(again.latent_map, m) and torch.equal(again.latent_shift, s)
    assert torch.equal(again.generate(motion, seed=0).codes, matched)
    assert D2M.load(D2M(model.generator, vq).save(tmp_path / "n.safetensors"), vqvae=vq).latent_map is None
    with pytest.raises(ConfigError, match="no none sequences"):
        latent_match_from_cache(model, cache_dir, "none")


def _strong_prior_model(gan_data) -> tuple[D2M, int]:
    """A tiny model whose genre code prior (weight 1e6) makes genre 1's favourite code win every lookup."""
    from dance2music.training.code_prior import code_prior_from_cache

    cache_dir, vq_path = gan_data
    model = D2M(tiny_generator(hop_length=8, latent_dim=8), VQVAE.load(vq_path))
    model.generator.set_sigma_from_codebook(model.codebook)
    model.code_prior, model.prior_weight = code_prior_from_cache(model, cache_dir, "train"), 1e6
    return model, int(model.code_prior[1].argmax())


def test_genre_code_prior_backs_off_where_it_mutes_the_music(gan_data):
    """Music the prior mutes (here: its favourite code decodes to silence) is looked up again with the weight
    halved, and at last without the prior; music it does not mute keeps the model's weight."""
    from dance2music.models.d2m import PRIOR_BACKOFF, muted_share

    model, favourite = _strong_prior_model(gan_data)
    rng = torch.Generator().manual_seed(0)

    def decode(codes, level):  # the favourite code is silent, every other one loud noise
        loud = (codes != favourite).float().repeat_interleave(model.hop_length, -1)
        return (0.3 * torch.randn(loud.shape, generator=rng) * loud)[:, None]

    model.vqvae.decode_chunked = decode
    motion = torch.randn(1, 53, 60)
    out = model.generate(motion, genre=1, seed=0)
    assert out.prior_weight == 0.0 and muted_share(out.audio[0, 0], 22050) == 0.0
    model.prior_weight = 0.0
    assert torch.equal(out.codes, model.generate(motion, genre=1, seed=0).codes)  # the nearest codes
    model.prior_weight = 1e6
    assert muted_share(torch.zeros(22050), 22050) == 1.0 and muted_share(torch.zeros(100), 22050) == 0.0
    model.vqvae.decode_chunked = lambda codes, level: 0.3 * torch.randn(1, 1, codes.shape[-1] * model.hop_length)
    kept = model.generate(motion, genre=1, seed=0)
    assert kept.prior_weight == 1e6 and torch.all(kept.codes == favourite)
    assert model.generate(motion, genre=None, seed=0).prior_weight is None and PRIOR_BACKOFF >= 1


def test_genre_code_prior_backs_off_only_where_it_mutes_the_music(gan_data):
    """Where the prior's favourite code is silent only in the first half of the music, only that half (and a
    little around it) loses the prior; the rest keeps the favourite code at full weight."""
    from dance2music.models.d2m import MUTE_PAD_S, muted_share

    model, favourite = _strong_prior_model(gan_data)
    rng = torch.Generator().manual_seed(0)

    def decode(codes, level):  # the favourite code is silent in the first half of the (context-wide) music
        first = torch.arange(codes.shape[-1]) < codes.shape[-1] // 2
        loud = ~((codes == favourite) & first)
        return (0.3 * torch.randn(codes.shape[0], codes.shape[-1] * model.hop_length, generator=rng)
                * loud.float().repeat_interleave(model.hop_length, -1))[:, None]  # fmt: skip

    model.vqvae.decode_chunked = decode
    out = model.generate(torch.randn(1, 53, 60), genre=1, seed=0)  # 2 s, its first half in the silent stretch
    assert muted_share(out.audio[0, 0], 22050) <= 0.02 and out.prior_weight < 1e6
    assert 0.3 < out.prior_lowered < 0.9
    tail = int((1.0 - MUTE_PAD_S - 0.1) * 22050 / model.hop_length)
    assert torch.all(out.codes[0, -tail:] == favourite)  # the loud half kept the prior at full weight


def test_noise_scale_sets_how_much_the_seed_changes_the_music(gan_data, tmp_path):
    """Noise scale 1 is the music as before; 0 takes the seed out of it; the scale travels in the generator
    file (and is left out of it at 1); a negative or NaN scale is a one-line error."""
    _, vq_path = gan_data
    vq = VQVAE.load(vq_path)
    model = D2M(tiny_generator(hop_length=8, latent_dim=8, noise_dim=4), vq)
    motion = torch.randn(1, 53, 30)
    before = model.generate(motion, seed=0).codes
    assert model.noise_scale == 1.0 and "noise_scale" not in json.loads(
        model.save(tmp_path / "one.safetensors").with_suffix(".json").read_text()
    )
    model.noise_scale = 0.0
    quiet = [model.generate(motion, seed=s).codes for s in (0, 1)]
    assert torch.equal(quiet[0], quiet[1])
    model.noise_scale = 1.0
    assert torch.equal(model.generate(motion, seed=0).codes, before)
    assert not torch.equal(model.generate(motion, seed=1).codes, before)  # the seed matters at scale 1
    model.noise_scale = 0.0
    again = D2M.load(model.save(tmp_path / "zero.safetensors"), vqvae=vq)
    assert again.noise_scale == 0.0 and torch.equal(again.generate(motion, seed=3).codes, quiet[0])
    for bad in (-0.5, float("nan")):
        with pytest.raises(ConfigError, match="noise scale"):
            D2M(tiny_generator(hop_length=8, latent_dim=8, noise_dim=4), vq, noise_scale=bad)


def gan_task(gan_data, steps: int, cls=None, **extra):
    from dance2music.training.config import load_config
    from dance2music.training.gan_task import GANExperiment, GANTask
    from gan_fixtures import gan_overrides

    return (cls or GANTask)(load_config(GANExperiment, None, gan_overrides(*gan_data, steps, **extra)))


def state(task) -> dict[str, torch.Tensor]:
    from dance2music.training.gan_task import GANTask

    assert isinstance(task, GANTask)
    modules = {"g": task.g, "d": task.adversary.d, **({"g_ema": task.g_ema} if task.g_ema is not None else {})}
    return {f"{n}.{k}": v.clone() for n, m in modules.items() for k, v in m.state_dict().items()}


@pytest.mark.parametrize("targets", ["cached", "online"])
def test_gan_task_trains_exports_and_evaluates(gan_data, tmp_path, targets):
    from dance2music.training.trainer import fit

    extra = {"data.targets": targets} if targets == "cached" else {"data.targets": targets, "data.gain": "[0.5, 1]"}
    task = gan_task(gan_data, 3, **extra)
    res = fit(task, tmp_path / "run")
    assert res.step == 3
    for name in ("adv/gen", "adv/feat", "adv/disc", "code/commit", "audio/wav", "audio/mel", "code/accuracy"):
        assert math.isfinite(res.logs[name]), name
    assert {"code/accuracy", "code/commit", "audio/mel"} <= set(res.eval)
    # The exported generator rebuilds with its VQ-VAE and makes music of the dance's length.
    model = D2M.load(tmp_path / "run" / "generator.safetensors")
    assert model.hop_length == 8 and model.generator.visual_dim == 6
    out = model.generate(torch.randn(1, 53, 20), torch.randn(1, 6, 20), genre=0, seed=0)
    assert out.audio.shape == (1, 1, round(20 / 30 * 22050))
    # Input statistics and sigma come from the data and the codebook, not the defaults.
    assert not torch.allclose(model.generator.motion_std, torch.ones(53))
    assert float(model.generator.sigma) == pytest.approx(float(model.codebook.abs().max()))


def test_init_from_an_earlier_run(gan_data, tmp_path):
    """A run started from an earlier run's checkpoint (adding a genre projection to D) or exported generator
    begins with its weights; another architecture is refused."""
    from dance2music.training.trainer import fit

    fit(gan_task(gan_data, 2), tmp_path / "first")
    first = torch.load(tmp_path / "first" / "checkpoint.pt", map_location="cpu", weights_only=False)["models"]
    ckpt = str(tmp_path / "first" / "checkpoint.pt")
    task = gan_task(gan_data, 0, init_from=ckpt, **{"discriminator.num_genres": 10})
    fit(task, tmp_path / "second")
    for k, v in first["g"].items():
        assert torch.equal(task.g.state_dict()[k], v), k
    d_state = task.adversary.d.state_dict()
    assert all(torch.equal(d_state[k], v) for k, v in first["d"].items())
    assert any(".genre_embedding." in k for k in d_state)
    task = gan_task(gan_data, 0, init_from=str(tmp_path / "first" / "generator.safetensors"))
    fit(task, tmp_path / "third")
    assert torch.equal(task.g.state_dict()["motion_std"], first["g"]["motion_std"])
    with pytest.raises(ConfigError, match="init_from"):
        fit(gan_task(gan_data, 0, init_from=ckpt, **{"generator.channels": 24}), tmp_path / "bad")


def test_generator_start_trains_the_discriminator_alone_first(gan_data, tmp_path):
    """With generator_start, the first steps change D only; G learns from that step on; a start before the
    discriminator's is refused."""
    from dance2music.training.trainer import fit

    fit(gan_task(gan_data, 2), tmp_path / "first")
    ckpt = str(tmp_path / "first" / "checkpoint.pt")
    first = torch.load(ckpt, map_location="cpu", weights_only=False)["models"]
    g0, d0 = first["g"], first["d"]
    task = gan_task(gan_data, 2, init_from=ckpt, generator_start=2)
    res = fit(task, tmp_path / "frozen")
    assert all(torch.equal(task.g.state_dict()[k], v) for k, v in g0.items())
    assert math.isfinite(res.logs["adv/disc"]) and "loss/g" not in res.logs
    assert any(not torch.equal(task.adversary.d.state_dict()[k], v) for k, v in d0.items())
    task = gan_task(gan_data, 3, init_from=ckpt, generator_start=2)
    fit(task, tmp_path / "then")
    assert any(not torch.equal(task.g.state_dict()[k], v) for k, v in g0.items() if v.is_floating_point())
    with pytest.raises(ConfigError, match="generator_start"):
        gan_task(gan_data, 1, adversarial_start=5, generator_start=2)


def test_cached_targets_are_the_music_of_the_clip(gan_data):
    """A clip's precomputed targets equal the encoding of its own music (away from the clip's edges), and its
    motion starts at the clip's first instant."""
    from dance2music.data.cache import FeatureCache
    from dance2music.data.latents import LatentClipDataset, encode_cache, latent_dir

    cache_dir, vq_path = gan_data
    vq = VQVAE.load(vq_path)
    out = latent_dir(cache_dir, "0" * 64, 8)
    encode_cache(FeatureCache(cache_dir), vq, 1, out, progress=False)
    assert encode_cache(FeatureCache(cache_dir), vq, 1, out, progress=False) == 0  # resumable: nothing left
    ds = LatentClipDataset(FeatureCache(cache_dir, "train"), out, hop_length=8, seconds=0.5, seed=3)
    ds.set_epoch(1)
    item = ds[5]
    assert item["latents"].shape == (8, 1378) and item["audio"].shape == (1, 1378 * 8)
    with torch.no_grad():
        own = vq.encode_features(item["audio"][None], 1)[0]
    inner = slice(50, -50)  # the encoder's receptive field sees past the clip's edges in the whole sequence
    assert torch.allclose(own[:, inner], item["latents"][:, inner], atol=2e-2)  # float16 storage
    assert torch.equal(ds[5]["motion"], item["motion"])  # a pure function of (seed, epoch, index)
    i, _ = ds._items[5]
    frames = ds._motion[i]
    start = [k for k in range(len(frames) - 14) if np.array_equal(frames[k : k + 15], item["motion"].numpy())]
    c0 = next(c for c in range(ds._last[i] + 1) if np.array_equal(ds._codes[i][:, c], item["latents"][:, 0].numpy()))
    assert start and abs(start[0] / 30 - c0 * 8 / 22050) <= 0.5 / 30 + 1e-9  # within half a motion frame


def test_gan_task_rejects_bad_settings(gan_data, tmp_path):
    from dance2music.training.trainer import fit

    with pytest.raises(ConfigError, match="unknown loss weight"):
        gan_task(gan_data, 1, **{"loss_weights.audio/wave": 1})
    with pytest.raises(ConfigError, match="hop_length 16"):
        fit(gan_task(gan_data, 1, hop_length=16), tmp_path / "bad")


def test_gan_resume_after_interrupt_matches_uninterrupted(gan_data, tmp_path):
    """Ctrl-C at step 3 (checkpoint, stop), resume to 5: the weights equal those of a straight 5-step run."""
    import os
    import signal

    from dance2music.training.gan_task import GANTask
    from dance2music.training.trainer import fit

    class Interrupted(GANTask):
        def train_step(self, batch, ctx):
            logs = super().train_step(batch, ctx)
            if ctx.step == 2:  # the 3rd step: the trainer finishes it, checkpoints and stops
                os.kill(os.getpid(), signal.SIGINT)
            return logs

    kw = {"trainer.ckpt_every": 100, "audio_window": 0.1, "ema_decay": 0.9}  # a random window: one more RNG draw
    full = gan_task(gan_data, 5, **kw)
    fit(full, tmp_path / "full")
    with pytest.raises(KeyboardInterrupt):
        fit(gan_task(gan_data, 5, cls=Interrupted, **kw), tmp_path / "cut")
    resumed = gan_task(gan_data, 5, **kw)
    assert fit(resumed, tmp_path / "cut", resume=True).step == 5
    a, b = state(full), state(resumed)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)
    one = gan_task(gan_data, 1)
    fit(one, tmp_path / "one")
    assert any(not torch.equal(state(one)[k], a[k]) for k in a)  # training moved the weights


def test_ema_averages_the_generator_and_starts_from_g_on_a_run_without_one(gan_data, tmp_path):
    """ema_decay keeps a moving average of G (a copy of G before ema_start), evaluated and exported beside G;
    resuming a run that had none starts the average from the restored G."""
    from dance2music.training.gan_task import GANTask
    from dance2music.training.trainer import fit

    seen: list[dict[str, torch.Tensor]] = []

    class Recording(GANTask):
        def train_step(self, batch, ctx):
            logs = super().train_step(batch, ctx)
            seen.append({k: v.detach().clone() for k, v in self.g_raw.named_parameters()})
            return logs

    task = gan_task(gan_data, 3, cls=Recording, ema_decay=0.5, ema_start=1)
    res = fit(task, tmp_path / "run")
    expected = dict(seen[0])  # step 0 is before ema_start: a copy
    for g in seen[1:]:
        expected = {k: 0.5 * expected[k] + 0.5 * g[k] for k in g}
    ema = dict(task.g_ema.named_parameters())
    for k, v in expected.items():
        torch.testing.assert_close(ema[k], v, rtol=0, atol=1e-6, msg=k)
    assert any(not torch.equal(ema[k], seen[-1][k]) for k in ema)  # not G itself
    assert {"ema/audio/mel", "audio/mel"} <= set(res.eval)
    exported = D2M.load(tmp_path / "run" / "generator_ema.safetensors").generator.state_dict()
    assert all(torch.equal(exported[k], v) for k, v in task.g_ema.state_dict().items())

    fit(gan_task(gan_data, 2), tmp_path / "plain")
    g2 = torch.load(tmp_path / "plain" / "checkpoint.pt", map_location="cpu", weights_only=False)["models"]["g"]
    seen.clear()
    resumed = gan_task(gan_data, 3, cls=Recording, ema_decay=0.75)
    fit(resumed, tmp_path / "plain", resume=True)
    for k, v in resumed.g_ema.named_parameters():
        torch.testing.assert_close(v, 0.75 * g2[k] + 0.25 * seen[-1][k], rtol=0, atol=1e-6, msg=k)
    with pytest.raises(ConfigError, match="ema_decay"):
        gan_task(gan_data, 1, ema_decay=1.0)


def test_synth_task_fine_tunes_only_the_decoder(gan_data, tmp_path):
    import soundfile as sf

    from dance2music.training.config import load_config
    from dance2music.training.synth_task import SynthExperiment, SynthTask
    from dance2music.training.trainer import fit

    music = tmp_path / "music"
    music.mkdir()
    t = np.arange(22050) / 22050
    for i in range(2):
        sf.write(music / f"s{i}.wav", (0.3 * np.sin(2 * np.pi * (220 + 90 * i) * t)).astype(np.float32), 22050)
    _, vq_path = gan_data
    sets = {
        "data.sources": f"[{music}]", "data.eval_sources": f"[{music}]", "data.seconds": 0.2,
        "vqvae": vq_path, "hop_length": 8, "discriminator.preset": "waveform-tiny", "optim.lr_g": 1e-3,
        "trainer.batch_size": 2, "trainer.max_steps": 2, "trainer.progress": "false", "trainer.threads": 1,
    }  # fmt: skip
    task = SynthTask(load_config(SynthExperiment, None, [f"{k}={v}" for k, v in sets.items()]))
    res = fit(task, tmp_path / "synth")
    assert res.step == 2 and math.isfinite(res.logs["adv/gen"]) and res.eval["audio/mel"] > 0
    before, after = VQVAE.load(vq_path), VQVAE.load(tmp_path / "synth" / "vqvae.safetensors")
    level = before.level_for_hop(8)
    a, b = before.state_dict(), after.state_dict()
    changed = {k for k in a if not torch.equal(a[k], b[k])}
    assert changed and all(k.startswith(f"decoders.{level}.") for k in changed)


def test_cli_train_gan(gan_data, tmp_path, capsys):
    from dance2music.cli import main
    from gan_fixtures import gan_overrides

    args = ["train", "gan", "--out", str(tmp_path / "cli")]
    for s in gan_overrides(*gan_data, 1):
        args += ["--set", s]
    assert main(args) == 0
    assert (tmp_path / "cli" / "generator.safetensors").is_file()
    assert main(args + ["--set", "generator.widht=3", "--out", str(tmp_path / "bad")]) == 2
    assert "widht" in capsys.readouterr().err


CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize("name", sorted(p.stem for p in CONFIGS.glob("gan_*.yaml")))
def test_shipped_configs_load(name):
    from dance2music.training.config import load_config
    from dance2music.training.gan_task import GANExperiment, GANTask
    from dance2music.training.synth_task import SynthExperiment, SynthTask

    path = CONFIGS / f"{name}.yaml"
    if name == "gan_synth":
        SynthTask(load_config(SynthExperiment, path))
        return
    cfg = load_config(GANExperiment, path)
    GANTask(cfg)  # validates loss names and options
    if cfg.generator.get("preset") != "official":  # (the official preset is built in test_official_preset_shapes)
        build_generator(cfg.generator, hop_length=cfg.hop_length)
    build_discriminator(cfg.discriminator)


def test_write_samples_for_evaluate(gan_data, tmp_path):
    import soundfile as sf

    from dance2music.data.cache import FeatureCache
    from dance2music.models.samples import write_samples

    cache, vq_path = gan_data
    model = D2M(tiny_generator(hop_length=8, latent_dim=8, visual_dim=6), VQVAE.load(vq_path))
    files = write_samples(model, cache, tmp_path / "gen", split="val", progress=False)
    rand = write_samples(model, cache, tmp_path / "rnd", split="val", mode="random-codes", progress=False)
    assert [f.name for f in files] == [f.name for f in rand] == ["seq4.wav", "seq5.wav"]
    for f in files + rand:
        audio, sr = sf.read(f)
        assert sr == 22050 and len(audio) == 3 * 22050  # the whole 3-s sequence
    again = write_samples(model, cache, tmp_path / "gen2", split="val", progress=False)
    assert np.array_equal(sf.read(again[0])[0], sf.read(files[0])[0])  # seeded: reruns give the same files
    recon = write_samples(model, cache, tmp_path / "rec", split="val", mode="reconstruct", progress=False)
    real = FeatureCache(cache, "val").read_audio("seq4")
    rec = sf.read(recon[0], dtype="float32")[0]
    assert rec.shape == real.shape and not np.array_equal(rec, sf.read(rand[0], dtype="float32")[0])


def test_load_warns_about_a_different_vqvae(gan_data, tmp_path):
    import warnings

    from dance2music.pretrained.registry import sha256_file

    _, vq_path = gan_data
    vq = VQVAE.load(vq_path)
    model = D2M(tiny_generator(hop_length=8, latent_dim=8), vq, vqvae_ref=str(vq_path))
    path = model.save(tmp_path / "g.safetensors", meta={"vqvae_sha256": sha256_file(vq_path)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        D2M.load(path)  # the very file it was trained against: silent
    other = vq.save(tmp_path / "other.safetensors", meta={"note": "retrained"})
    with pytest.warns(UserWarning, match="another VQ-VAE"):
        D2M.load(path, vqvae=str(other))
    # the same codebooks with other decoders (a `decoders_only` run): silent when the generator records them
    cfg = {**vq.config, "decoder_width": 4}
    new_dec = VQVAE(**cfg)
    new_dec.load_state_dict({k: v for k, v in vq.state_dict().items() if not k.startswith("decoders.")}, strict=False)
    new_dec_path = new_dec.save(tmp_path / "new_decoders.safetensors")
    assert new_dec.codebook_sha256() == vq.codebook_sha256()
    meta = {"vqvae_sha256": sha256_file(vq_path), "vqvae_codebook_sha256": vq.codebook_sha256()}
    path2 = model.save(tmp_path / "g2.safetensors", meta=meta)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        D2M.load(path2, vqvae=str(new_dec_path))
    with pytest.warns(UserWarning, match="another VQ-VAE"):
        D2M.load(path, vqvae=str(new_dec_path))  # without the digest the file sha256 is all it can check
    rescaled = VQVAE.load(new_dec_path)
    rescaled.bottleneck.level_blocks[0].k.mul_(2.0)
    with pytest.warns(UserWarning, match="another VQ-VAE"):
        D2M.load(path2, vqvae=str(rescaled.save(tmp_path / "other_codes.safetensors")))


def test_grid_tempo_filter_redraws_crops_whose_grid_is_off_the_music(gan_data):
    """`data.grid_tempo_tolerance`: a crop is kept when its grid keeps the labelled tempo (halved above the
    generator's range, as the grid is), else drawn again; the grid itself still comes from the dance."""
    from dance2music.data.cache import FeatureCache
    from dance2music.data.latents import GRID_TRIES, LatentClipDataset, encode_cache, grid_keeps_tempo, latent_dir

    feats = np.zeros((30, 7), np.float32)
    feats[:, 4] = np.log2(100 / 120)
    assert grid_keeps_tempo(feats, 100.0, 0.06) and grid_keeps_tempo(feats, 104.0, 0.06)
    assert not grid_keeps_tempo(feats, 130.0, 0.06) and not grid_keeps_tempo(feats, 50.0, 0.06)
    assert grid_keeps_tempo(feats, 200.0, 0.06)  # a 200-BPM song's grid is given in half time
    cache_dir, vq_path = gan_data
    out = latent_dir(cache_dir, "1" * 64, 8)
    encode_cache(FeatureCache(cache_dir), VQVAE.load(vq_path), 1, out, progress=False)

    def dataset(tolerance, scale=1.0):
        ds = LatentClipDataset(FeatureCache(cache_dir, "train"), out, hop_length=8, seconds=0.5, seed=3,
                               rhythm=True, grid_tempo_tolerance=tolerance)  # fmt: skip
        for e in ds.entries:
            e["tempo"] = float(e["tempo"]) * scale
        return ds

    plain, kept = dataset(0.0), dataset(0.06)
    agree = [grid_keeps_tempo(plain[k]["rhythm"].numpy(), float(plain.entries[plain._items[k][0]]["tempo"]), 0.06)
             for k in range(6)]  # fmt: skip
    assert any(agree)  # the fixture's dancers bounce on their click track's beats
    for k in range(6):
        if agree[k]:  # a crop whose grid keeps the tempo is not drawn again
            assert torch.equal(kept[k]["latents"], plain[k]["latents"])
    off = dataset(0.06, scale=1.5)  # labels no grid keeps: every try is made, the last crop kept
    item = off[0]
    assert GRID_TRIES > 1 and item["latents"].shape == plain[0]["latents"].shape and "rhythm" in item


def test_training_grids_script_counts_crops_at_the_music_tempo(gan_data, tmp_path, capsys):
    import importlib.util

    from dance2music.data.cache import FeatureCache
    from dance2music.data.latents import encode_cache, latent_dir

    path = Path(__file__).resolve().parents[1] / "scripts" / "training_grids.py"
    spec = importlib.util.spec_from_file_location("training_grids", path)
    tg = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tg)
    cache_dir, vq_path = gan_data
    assert tg.main(["--cache", str(tmp_path / "nothing")]) == 2
    encode_cache(FeatureCache(cache_dir), VQVAE.load(vq_path), 1, latent_dir(cache_dir, "2" * 64, 8), progress=False)
    assert tg.main(["--cache", str(cache_dir), "--items", "4", "--no-augment", "--seconds", "0.5"]) == 0
    rows = [r for r in capsys.readouterr().out.splitlines() if r.startswith("| all |")]
    assert len(rows) == 1 and rows[0].split("|")[2].strip() == "4"
