"""One generating path: the evaluation samples, the tensor-level `D2M.generate` and the API make the same music
for the same dance and seed; `d2m ship` copies, checks and registers weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dance2music.api import Dance2Music
from dance2music.features.rhythm import estimate_rhythm
from dance2music.models.d2m import D2M, build_generator, dance_tensors, load_generator
from dance2music.models.samples import sample_music, sequence_seed, write_samples
from dance2music.models.vqvae import VQVAE
from test_rhythm import bouncing, tiny_rhythm_model


def tiny_generator(**kw):
    torch.manual_seed(1)
    return build_generator("tiny", **kw)


def test_tensor_level_generate_is_the_apis_music():
    """The API adds only I/O and options: the same dance, genre, tempo and seed give the same samples."""
    api = tiny_rhythm_model()
    dance = bouncing(110.0, 9.0)
    for tempo in (None, 96.0):
        res = api.generate(dance, seed=4, genre="gBR", tempo=tempo, window_seconds=4.0, loudness=None)
        audio = sample_music(api.model, dance, None, genre=0, tempo=tempo, seed=4)
        np.testing.assert_array_equal(audio, res.audio)
        m, v = dance_tensors(dance, None, api.model.visual_dim)
        music = api.model.generate(m, v, rhythm=estimate_rhythm(dance, tempo=tempo), genre=0, tempo=tempo, seed=4)
        np.testing.assert_array_equal(music.codes[0].numpy(), res.codes)
        assert music.beat_lock == res.meta["beat_lock"] and music.seed == 4


def test_a_rhythm_generator_needs_the_rhythm():
    from dance2music.errors import ConfigError

    model = tiny_rhythm_model().model
    with pytest.raises(ConfigError, match="rhythm"):
        model.generate(torch.zeros(1, 53, 30), seed=0)


def test_training_samples_are_the_apis_music(tmp_path):
    """`write_samples` (what `d2m evaluate --generated` scores) writes what the API makes for each sequence."""
    import soundfile as sf

    from dance2music.data.cache import FeatureCache
    from gan_fixtures import make_cache, make_vqvae

    cache_dir, vq_path = make_cache(tmp_path), make_vqvae(tmp_path)
    model = D2M(tiny_generator(hop_length=8, latent_dim=8, visual_dim=6), VQVAE.load(vq_path))
    files = write_samples(model, cache_dir, tmp_path / "gen", split="val", seed=2, progress=False)
    cache = FeatureCache(cache_dir, "val")
    api = Dance2Music(model, name="tiny")
    for k, (name, path) in enumerate(zip(cache.names(), files)):
        motion, visual, _ = cache.load_arrays(name)
        entry = cache.entry(name)
        tempo = float(entry["tempo"]) if entry.get("tempo") else None
        genre = entry.get("genre")
        res = api.generate(motion, visual=visual, genre="none" if genre is None else int(genre), tempo=tempo,
                           seed=sequence_seed(2, k), loudness=None)  # fmt: skip
        written = sf.read(path, dtype="float32")[0]
        assert written.shape == res.audio.shape
        np.testing.assert_allclose(written, res.audio, atol=1.0 / 32767)  # the wav's 16-bit rounding


@pytest.fixture
def scratch_registry(tmp_path, monkeypatch):
    """`d2m ship` writing into a copy of the registry module and an empty weights folder: (registry.py, weights)."""
    import shutil

    from dance2music.cli import ship
    from dance2music.pretrained import registry

    source = tmp_path / "registry.py"
    shutil.copyfile(registry.__file__, source)
    weights = tmp_path / "weights"
    weights.mkdir()
    monkeypatch.setattr(registry, "__file__", str(source))
    monkeypatch.setattr(ship, "WEIGHTS_DIR", weights)
    saved = dict(registry.REGISTRY)
    yield source, weights
    registry.REGISTRY.clear()
    registry.REGISTRY.update(saved)


def test_ship_d2m_copies_checks_and_registers(tmp_path, scratch_registry):
    """`d2m ship d2m` writes half-size weights beside their .json, generates with them, and writes the registry
    entry: a new name gets one, shipping again updates its sha256; a shipped file shipped again (new decoders)
    keeps its genre code prior, its weight and the source it was first shipped from."""
    import ast
    import shutil

    from dance2music.cli import main
    from dance2music.pretrained import registry

    vq = VQVAE.from_preset("tiny", downs_t=(5, 2))
    vq_file = vq.save(tmp_path / "vq.safetensors")
    prior = torch.log_softmax(torch.randn(10, vq.l_bins), dim=1)
    gen_file = D2M(tiny_generator(hop_length=128, latent_dim=vq.emb_width), vq, code_prior=prior,
                   prior_weight=2.5).save(tmp_path / "g.safetensors")  # fmt: skip
    source, weights = scratch_registry
    assert main(["ship", "d2m", str(gen_file), "--name", "d2m-test", "--vqvae", str(vq_file)]) == 0
    entry = registry.REGISTRY["d2m-test"]
    assert entry.kind == "d2m" and entry.sha256 == registry.sha256_file(weights / "d2m_test.safetensors")
    assert (weights / "d2m_test.json").is_file()
    text = source.read_text()
    assert text.count('name="d2m-test"') == 1 and entry.sha256 in text
    ast.parse(text)  # the edited file is still Python
    (weights / "d2m_test.safetensors").unlink()
    assert main(["ship", "d2m", str(gen_file), "--name", "d2m-test", "--vqvae", str(vq_file)]) == 0
    assert source.read_text().count('name="d2m-test"') == 1  # updated in place, not added twice
    first = tmp_path / "first.safetensors"
    shutil.copyfile(weights / "d2m_test.safetensors", first)
    assert main(["ship", "d2m", str(first), "--name", "d2m-test", "--vqvae", str(vq_file)]) == 0
    again = D2M.load(weights / "d2m_test.safetensors")
    assert again.prior_weight == 2.5 and torch.allclose(again.code_prior, prior)
    assert load_generator(weights / "d2m_test.safetensors")[1]["meta"]["source"] == str(gen_file)
    # A new generator of the same level takes the shipped one's prior (it is counted from the music alone).
    plain = D2M(tiny_generator(hop_length=128, latent_dim=vq.emb_width), vq).save(tmp_path / "plain.safetensors")
    donor = str(weights / "d2m_test.safetensors")
    args = ["ship", "d2m", str(plain), "--name", "d2m-test2", "--vqvae", str(vq_file), "--prior-from", donor]
    assert main(args) == 0
    taken = D2M.load(weights / "d2m_test2.safetensors")
    assert taken.prior_weight == 2.5 and torch.allclose(taken.code_prior, prior)
    assert main([*args, "--prior-cache", str(tmp_path)]) != 0  # one source of prior or the other
    # The noise scale is set by --noise-scale and kept when a shipped file is shipped again.
    assert main([*args, "--noise-scale", "0.5"]) == 0
    assert D2M.load(weights / "d2m_test2.safetensors").noise_scale == 0.5
    shutil.copyfile(weights / "d2m_test2.safetensors", first)
    assert main(["ship", "d2m", str(first), "--name", "d2m-test2", "--vqvae", str(vq_file)]) == 0
    assert D2M.load(weights / "d2m_test2.safetensors").noise_scale == 0.5
    assert main([*args, "--noise-scale", "-1"]) == 2


def test_ship_d2m_keeps_or_drops_a_latent_match(tmp_path, scratch_registry):
    """A generator file's latent match ships with it, is kept when the shipped file is shipped again, and
    ``--no-match`` drops it."""
    import shutil

    from dance2music.cli import main

    vq = VQVAE.from_preset("tiny", downs_t=(5, 2))
    vq_file = vq.save(tmp_path / "vq.safetensors")
    match = (torch.eye(vq.emb_width) * 2.0, torch.full((vq.emb_width,), 0.5))
    gen_file = D2M(tiny_generator(hop_length=128, latent_dim=vq.emb_width), vq,
                   latent_match=match).save(tmp_path / "g.safetensors")  # fmt: skip
    _, weights = scratch_registry
    shipped = weights / "d2m_test.safetensors"
    assert main(["ship", "d2m", str(gen_file), "--name", "d2m-test", "--vqvae", str(vq_file)]) == 0
    assert torch.equal(D2M.load(shipped).latent_map, match[0])
    first = tmp_path / "first.safetensors"
    shutil.copyfile(shipped, first)
    assert main(["ship", "d2m", str(first), "--name", "d2m-test", "--vqvae", str(vq_file)]) == 0
    assert torch.equal(D2M.load(shipped).latent_shift, match[1])
    assert main(["ship", "d2m", str(gen_file), "--name", "d2m-test", "--vqvae", str(vq_file), "--no-match"]) == 0
    assert main(["ship", "d2m", str(gen_file), "--name", "d2m-test", "--vqvae", str(vq_file), "--no-match",
                 "--match-cache", str(tmp_path)]) == 2  # fmt: skip
    assert D2M.load(shipped).latent_map is None


def test_ship_vqvae_keeps_every_stage_of_its_record(tmp_path, scratch_registry):
    """`d2m ship vqvae --record A --record B` keeps both stages' records, in order; one record stays as it is."""
    import json

    from dance2music.cli import main

    run = tmp_path / "run"
    run.mkdir()
    VQVAE.from_preset("tiny", downs_t=(5, 2)).save(run / "vqvae.safetensors")
    records = []
    for k in range(2):
        records.append(tmp_path / f"r{k}.json")
        records[-1].write_text(json.dumps({"command": f"stage {k}", "curve": [{"step": k}]}))
    _, weights = scratch_registry
    base = ["ship", "vqvae", str(run), "--name", "vqvae-test", "--command", "a && b"]
    assert main([*base, "--record", str(records[0]), "--record", str(records[1])]) == 0
    info = json.loads((weights / "vqvae_test.json").read_text())
    assert [s["command"] for s in info["training"]["stages"]] == ["stage 0", "stage 1"]
    assert info["command"] == "a && b"
    assert main([*base, "--record", str(records[1])]) == 0
    assert json.loads((weights / "vqvae_test.json").read_text())["training"]["command"] == "stage 1"
    # a record that is not there: a non-zero status before anything is written
    before = (weights / "vqvae_test.safetensors").read_bytes()
    assert main([*base, "--name", "vqvae-test2", "--record", str(tmp_path / "none.json")]) != 0
    assert not (weights / "vqvae_test2.safetensors").exists()
    assert (weights / "vqvae_test.safetensors").read_bytes() == before
