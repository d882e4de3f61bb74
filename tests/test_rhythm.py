"""The dance's pulse (features.rhythm), the motion augmentation (data.augment) and generators that take both."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from dance2music.data.augment import MIRROR, MotionAugment, degrade_motion
from dance2music.features.beats import beat_align, kinematic_beats
from dance2music.features.rhythm import RHYTHM_DIM, TEMPO_DIP_WINDOW_S, accent_envelope, comb_tempo, estimate_rhythm
from dance2music.types import Motion

REAL_MOTION = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-motion"


def bouncing(bpm: float, seconds: float, fps: float = 30.0, *, still: tuple[float, float] | None = None,
             seed: int = 0) -> Motion:  # fmt: skip
    """A dancer whose arms and knees hit a pose (speed minimum) on every beat of ``bpm``, from 0.2 s on."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * fps))
    t = np.arange(n) / fps
    hit = 0.2 + np.arange(0, seconds, 60 / bpm)
    # Position follows |sin|: speed is lowest where the sine peaks, i.e. at the hits.
    phase = np.pi * (t - 0.2) * bpm / 60 + np.pi / 2
    wave = np.abs(np.sin(phase))
    if still is not None:
        wave[(t >= still[0]) & (t < still[1])] = wave[int(still[0] * fps)]
    kp = np.zeros((n, 17, 3), np.float32)
    kp[..., 0] = np.linspace(-0.5, 0.5, 17)[None] + 0.003 * rng.normal(size=(n, 17))
    kp[..., 1] = np.linspace(-1.5, 1.8, 17)[None]
    kp[:, 7:11, 1] -= 0.6 * wave[:, None]  # elbows and wrists
    kp[:, 13:15, 1] += 0.2 * wave[:, None]  # knees
    kp[..., 2] = 0.9
    m = Motion(kp, fps)
    m.meta["hits"] = hit[hit < seconds]
    return m


@pytest.mark.parametrize("bpm", [82.0, 100.0, 128.0])
def test_tempo_and_beats_follow_the_dance(bpm):
    m = bouncing(bpm, 10.0)
    r = estimate_rhythm(m)
    assert r.source == "motion"
    ratio = r.tempo / bpm
    assert min(abs(ratio - 1), abs(ratio / 2 - 1), abs(2 * ratio - 1)) < 0.04, r.tempo
    beats = r.beat_times()
    assert beat_align(beats, m.meta["hits"]) > 0.8  # the grid's beats are on the dancer's hits
    f = r.features()
    assert f.shape == (m.num_frames, RHYTHM_DIM) and np.isfinite(f).all()


@pytest.mark.parametrize("bpm", [84.0, 92.0, 128.0])
@pytest.mark.parametrize("seconds", [2.0, 2.9])
def test_a_short_clip_reads_its_tempo_from_its_few_accents(bpm, seconds):
    """Under the tempogram's window the tempo comes from the comb of beats its accents fit: within 2 % where
    whole frames of autocorrelation lag step by about 5 % near 90 BPM, and the grid is on the hits."""
    m = bouncing(bpm, seconds)
    r = estimate_rhythm(m)
    assert r.source == "motion" and r.tempo == pytest.approx(bpm, rel=0.02)
    assert beat_align(r.beat_times(), m.meta["hits"]) > 0.8


def test_comb_tempo_takes_the_dancers_beat_over_its_half_beats():
    fps, n = 30.0, 87
    t = np.arange(n) / fps
    beats = np.exp(-0.5 * ((np.mod(t - 0.3 + 1 / 3, 2 / 3) - 1 / 3) / 0.03) ** 2)  # accents at 90 BPM
    halves = np.exp(-0.5 * ((np.mod(t - 0.3, 2 / 3) - 1 / 3) / 0.03) ** 2)  # and between them
    assert comb_tempo(beats, fps) == pytest.approx(90.0, rel=0.02)
    assert comb_tempo(beats + 0.25 * halves, fps) == pytest.approx(90.0, rel=0.02)  # weaker half beats
    assert comb_tempo(beats + halves, fps) == pytest.approx(180.0, rel=0.02)  # an even pulse at 180
    assert comb_tempo(np.zeros(n), fps) is None


def test_a_long_dance_keeps_the_tempogram(monkeypatch):
    import dance2music.features.rhythm as rhythm

    env = accent_envelope(bouncing(100.0, 10.0), TEMPO_DIP_WINDOW_S)

    def refuse(*_):
        raise AssertionError("the comb is for clips shorter than the tempogram's window")

    monkeypatch.setattr(rhythm, "comb_tempo", refuse)
    assert rhythm.estimate_tempo(env, 30.0) == pytest.approx(100.0, rel=0.04)


def test_a_given_tempo_is_kept_exactly_and_takes_its_phase_from_the_dance():
    m = bouncing(100.0, 8.0)
    r = estimate_rhythm(m, tempo=100.0)
    assert r.source == "given"
    gaps = np.diff(r.beat_times())
    assert np.allclose(gaps, 0.6, atol=0.002)
    assert beat_align(r.beat_times(), m.meta["hits"]) > 0.8


def test_the_grid_goes_on_through_a_still_passage_and_from_the_first_frame():
    m = bouncing(110.0, 10.0, still=(4.0, 7.0))
    r = estimate_rhythm(m)
    beats = r.beat_times()
    period = 60.0 / 110.0
    assert beats[0] < period + 1e-6  # a beat in the first beat period
    assert np.all(np.diff(beats) < 1.5 * period)  # no gap through the still part
    assert np.all(np.diff(r.beat_count) >= 0)


def test_a_short_or_motionless_dance_gets_a_default_grid():
    still = Motion(np.tile(bouncing(100, 1.0).keypoints[:1], (60, 1, 1)), 30.0)
    r = estimate_rhythm(still)
    assert r.source == "default" and r.tempo == pytest.approx(110.0, rel=0.01)
    assert np.isfinite(r.features()).all()
    short = estimate_rhythm(bouncing(120.0, 2.0))
    assert short.num_frames == 60 and np.isfinite(short.features()).all()
    assert estimate_rhythm(Motion(np.zeros((0, 17, 3)), 30.0)).num_frames == 0


def test_a_still_dancer_with_pose_noise_gets_the_default_grid_not_a_tempo_read_from_the_noise():
    rng = np.random.default_rng(5)
    pose = np.tile(bouncing(100, 1.0).keypoints[:1], (300, 1, 1))
    noisy = pose.copy()
    noisy[..., :2] += 0.001 * rng.normal(size=noisy[..., :2].shape)  # a pose model's jitter on a still person
    r = estimate_rhythm(Motion(noisy.astype(np.float32), 30.0))
    assert r.source == "default" and r.tempo == pytest.approx(110.0, rel=0.01) and not r.accent.any()
    dancing = bouncing(100.0, 10.0)  # a dancer (the fixture has a jitter of its own): the pulse is read
    assert estimate_rhythm(dancing).source == "motion"


def test_the_cuts_of_an_edited_video_do_not_make_the_pulse():
    """A jump cut every 2 s (the dancer shifted by three torso lengths, as a new framing puts him) is bridged:
    the tempo and the grid stay the dance's instead of following the cuts' speed spikes."""
    m = bouncing(100.0, 12.0)
    root = np.zeros((m.num_frames, 2), np.float32)
    for k, start in enumerate(range(60, m.num_frames, 60)):
        root[start:, 0] += 3.0 if k % 2 == 0 else -2.5
    cut = Motion(m.keypoints, m.fps, m.valid, root)
    clean, edited = estimate_rhythm(m), estimate_rhythm(cut)
    assert edited.tempo == pytest.approx(clean.tempo, rel=0.03)
    hits = m.meta["hits"]
    near = [np.min(np.abs(edited.beat_times() - h)) for h in hits if 1.0 < h < 11.0]
    assert np.median(near) < 0.05


def test_degrade_motion_keeps_the_timeline_and_the_pulse():
    m = bouncing(100.0, 6.0)
    rng = np.random.default_rng(3)
    for _ in range(10):
        d = degrade_motion(m, rng)
        assert d.keypoints.shape == m.keypoints.shape and d.valid.shape == m.valid.shape and d.fps == m.fps
        assert np.isfinite(d.keypoints).all()
        assert estimate_rhythm(d).tempo == pytest.approx(estimate_rhythm(m).tempo, rel=0.05)
    assert degrade_motion(m, rng, MotionAugment(enabled=False)) is m
    only_mirror = MotionAugment(mirror=1.0, analysis=0.0, jitter=0.0, drop=0.0, half_body=0.0)
    mirrored = degrade_motion(m, rng, only_mirror)
    assert np.allclose(mirrored.keypoints[:, 5, 0], -m.keypoints[:, 6, 0])  # left shoulder <- right, flipped
    assert sorted(MIRROR) == list(range(17))
    dropped = degrade_motion(m, rng, MotionAugment(mirror=0.0, analysis=0.0, jitter=0.0, drop=1.0, half_body=0.0))
    assert not dropped.valid.all() and np.all(dropped.keypoints[~dropped.valid, :, 2] == 0)


def test_the_phase_window_changes_the_grid_only_where_the_phase_changes():
    a = bouncing(100.0, 8.0)
    later = np.roll(a.keypoints, 3, axis=0)  # from 8 s on the hits come 0.3 s off the first grid: half a beat
    m = Motion(np.concatenate([a.keypoints, later]), a.fps)
    diff = np.abs(estimate_rhythm(m, window_beats=2.0).beat_count - estimate_rhythm(m, window_beats=3.0).beat_count)
    assert diff[60:180].max() < 0.005 and diff[300:420].max() < 0.005  # steady: the same grid
    assert diff[220:280].max() > 0.01  # around the change the windows weigh the two phases differently
    np.testing.assert_array_equal(estimate_rhythm(m).beat_count, estimate_rhythm(m, window_beats=3.0).beat_count)


def test_kinematic_beats_of_the_fixture_are_its_hits():
    m = bouncing(100.0, 6.0)
    assert beat_align(kinematic_beats(m).times, m.meta["hits"]) > 0.7


def test_a_generator_with_rhythm_needs_it_and_depends_on_it():
    from dance2music.models.generator import D2MGenerator

    torch.manual_seed(0)
    g = D2MGenerator(hop_length=512, motion_channels=8, channels=8, genre_dim=4, dilations=(1,), noise_dim=0,
                     rhythm_dim=RHYTHM_DIM, sigma=1.0)  # fmt: skip
    motion = torch.randn(1, 53, 30)
    r = torch.from_numpy(estimate_rhythm(bouncing(100, 1.0)).features().T.copy())[None]
    with pytest.raises(ValueError, match="rhythm"):
        g(motion)
    a = g(motion, rhythm=r)
    b = g(motion, rhythm=torch.roll(r, 7, dims=-1))
    assert a.shape == (1, 64, 43) and not torch.allclose(a, b)


@pytest.fixture(scope="module")
def gan_data(tmp_path_factory):
    from gan_fixtures import make_cache, make_vqvae

    root = tmp_path_factory.mktemp("gan_rhythm")
    return make_cache(root), make_vqvae(root)


def test_gan_task_with_rhythm_and_augmentation_trains_and_exports(gan_data, tmp_path):
    from dance2music.models.d2m import D2M
    from dance2music.training.config import load_config
    from dance2music.training.gan_task import GANExperiment, GANTask
    from dance2music.training.trainer import fit
    from gan_fixtures import gan_overrides

    sets = gan_overrides(*gan_data, 2, **{"data.rhythm": "true", "data.augment": "true", "data.visual": "false",
                                          "generator.use_tempo": "false", "data.rhythm_window": "2.0",
                                          "loss_weights.audio/onset": "5.0"})  # fmt: skip
    task = GANTask(load_config(GANExperiment, None, sets))
    res = fit(task, tmp_path / "run")
    assert res.step == 2 and math.isfinite(res.logs["audio/mel"]) and "audio/mel" in res.eval
    assert res.logs["audio/onset"] > 0 and "audio/onset" in res.eval  # the onset term trains and is evaluated
    ds = task.train_dataset()
    a, b = ds[1], ds[1]
    assert a["rhythm"].shape == (a["motion"].shape[0], RHYTHM_DIM)
    assert torch.equal(a["rhythm"], b["rhythm"]) and torch.equal(a["motion"], b["motion"])  # pure in the index
    ds.augment, ds._motions[0] = None, bouncing(160.0, 8.0)  # a grid too fast for G: half time, as generate does
    _, fast = ds._dance(0, 1.0, 0)
    assert np.median(fast[:, 4]) == pytest.approx(np.log2(80.0 / 120.0), abs=0.03)
    model = D2M.load(tmp_path / "run" / "generator.safetensors")
    assert model.generator.rhythm_dim == RHYTHM_DIM and not model.generator.use_tempo
    assert model.rhythm_window == 2.0  # the grids it learned from: generate reads the dance's with the same window


@pytest.mark.skipif(not REAL_MOTION.is_dir(), reason="../shared/data/real-motion is absent")
def test_real_dances_tempo_is_read_from_their_pose():
    """The real AIST++ panel: the grid's tempo matches the music's (or double/half) for most dances."""
    from dance2music.features.pose import track_to_motion

    hits = 0
    files = sorted(REAL_MOTION.glob("*.npz"))
    for f in files:
        d = np.load(f)
        kp = d["keypoints2d"]
        idx = np.arange(0, len(kp), 3)  # analysed at 10 fps, as `d2m generate` analyses video
        kp3 = np.concatenate([kp[idx], np.ones((len(idx), 17, 1))], -1)
        m = track_to_motion(idx / 30.0, kp3, np.ones(len(idx), bool), duration=len(kp) / 30.0)
        ratio = estimate_rhythm(m).tempo / float(d["nominal_bpm"])
        hits += min(abs(ratio - 1), abs(ratio / 2 - 1), abs(2 * ratio - 1)) < 0.04
    assert hits >= len(files) - 2


def tiny_rhythm_model():
    from dance2music.api import Dance2Music
    from dance2music.models.d2m import D2M, build_generator
    from dance2music.models.vqvae import VQVAE

    torch.manual_seed(0)
    vqvae = VQVAE.from_preset("tiny", downs_t=(5, 2))  # hops 32 and 128, like the real levels
    for block in vqvae.bottleneck:
        block.k.normal_()
    gen = build_generator("tiny", latent_dim=vqvae.emb_width, hop_length=128, noise_dim=2, rhythm_dim=RHYTHM_DIM,
                          use_tempo=False)  # fmt: skip
    model = D2M(gen, vqvae)
    gen.set_sigma_from_codebook(model.codebook)
    return Dance2Music(model, name="tiny-rhythm")


def test_api_reads_the_rhythm_obeys_a_tempo_and_windows_change_nothing():
    model = tiny_rhythm_model()
    m = bouncing(100.0, 12.0)
    whole = model.generate(m, seed=3, window_seconds=1000.0, loudness=None)
    assert whole.meta["tempo_source"] == "motion" and whole.meta["dance_tempo"] == pytest.approx(100.0, rel=0.04)
    lock = whole.meta["beat_lock"]
    assert lock["shift"] in (0.0, 0.5) and len(lock["scores"]) == 2
    windowed = model.generate(m, seed=3, window_seconds=4.0, loudness=None)  # the grid is the whole dance's
    np.testing.assert_array_equal(whole.codes, windowed.codes)
    given = model.generate(m, seed=3, tempo=90.0, loudness=None)
    assert given.meta["tempo_source"] == "given" and given.meta["dance_tempo"] == pytest.approx(90.0, rel=0.01)
    assert not np.array_equal(given.codes, whole.codes)
    plain = model.generate(m, seed=3, beat_lock=False, loudness=None)
    assert plain.meta["beat_lock"] is None
    # Without the lock the grid as read is used: the same music as the lock's when it kept that try.
    assert np.array_equal(plain.codes, whole.codes) == (lock["shift"] == 0.0)


def test_a_grid_too_fast_for_the_generator_is_followed_in_half_time():
    from dance2music.features.rhythm import MAX_GRID_BPM, for_generator
    from dance2music.models.d2m import dance_tensors

    r = estimate_rhythm(bouncing(90.0, 6.0), tempo=180.0)
    h = r.scaled(0.5)
    assert h.tempo == pytest.approx(90.0) and h.tempo < MAX_GRID_BPM < r.tempo
    assert for_generator(r).tempo == h.tempo and for_generator(h) is h
    beats, kept = r.beat_times(), h.beat_times()  # half time keeps the grid's beats at even counts
    np.testing.assert_allclose(kept, beats[np.mod(np.ceil(r.beat_count[0]) + np.arange(beats.size), 2) == 0])
    double = r.scaled(2.0).beat_times()  # double time adds a beat between each two
    np.testing.assert_allclose(double[np.mod(np.ceil(2 * r.beat_count[0]) + np.arange(double.size), 2) == 0], beats)
    model = tiny_rhythm_model()
    m, v = dance_tensors(bouncing(90.0, 6.0))
    fast = model.model.generate(m, v, rhythm=r, tempo=180.0, seed=2, beat_lock=False)
    slow = model.model.generate(m, v, rhythm=h, tempo=90.0, seed=2, beat_lock=False)
    assert fast.grid_scale == 0.5 and slow.grid_scale == 1.0
    torch.testing.assert_close(fast.codes, slow.codes, rtol=0, atol=0)  # the fast grid is given as its half
    given = model.generate(bouncing(90.0, 6.0), seed=2, tempo=180.0, loudness=None)
    assert given.meta["grid_scale"] == 0.5 and given.meta["dance_tempo"] == pytest.approx(180.0, rel=0.01)
    assert model.generate(bouncing(90.0, 6.0), seed=2, tempo=60.0, loudness=None).meta["grid_scale"] == 1.0


def test_the_grid_extended_runs_on_still_at_both_ends():
    r = estimate_rhythm(bouncing(100.0, 4.0))
    e = r.extended(30)
    assert e.num_frames == r.num_frames + 60
    np.testing.assert_array_equal(e.beat_count[30:-30], r.beat_count)
    step = np.diff(e.beat_count)
    assert step[:29] == pytest.approx(r.local_bpm[0] / 60 / r.fps) and step[-29:] == pytest.approx(
        r.local_bpm[-1] / 60 / r.fps
    )  # the grid keeps its tempo outside the dance
    assert not e.accent[:30].any() and not e.accent[-30:].any() and e.present[:30].all() and e.present[-30:].all()
    assert e.features().shape == (r.num_frames + 60, RHYTHM_DIM) and r.extended(0) is r


def test_generate_gives_the_generator_still_context_and_cuts_it_away():
    from dance2music.models.d2m import dance_tensors, hold_still
    from dance2music.types import MOTION_FEATURE_DIM

    m = bouncing(100.0, 2.0)
    x, _ = dance_tensors(m)
    held = hold_still(x, 5)
    assert held.shape[-1] == x.shape[-1] + 10
    torch.testing.assert_close(held[..., 5:-5], x)
    torch.testing.assert_close(held[:, :51, :5], x[:, :51, :1].expand(-1, -1, 5))  # the first pose, held
    assert not held[:, MOTION_FEATURE_DIM - 2 :, :5].any() and not held[:, MOTION_FEATURE_DIM - 2 :, -5:].any()
    model = tiny_rhythm_model()
    out = model.generate(m, seed=1, loudness=None)
    hop = model.model.hop_length
    n = int(round(2.0 * model.sample_rate))
    assert out.audio.shape[0] == n and out.codes.shape[0] == -(-n // hop)
