"""The synthetic paired dataset: layout, shapes, determinism, and that its beat labels hold."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from dance2music.data.synth import make_clip, make_dataset, split_of
from dance2music.data.synth import moves as mv
from dance2music.data.synth import skeleton as sk
from dance2music.data.synth.dataset import clip_name, clip_rngs, detector_keypoints
from dance2music.data.synth.music import make_song
from dance2music.errors import ConfigError
from dance2music.features.beats import match_beats

SECONDS = 2.0


def _load(path):
    with open(path, "rb") as f:
        return pickle.load(f)


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    names = make_dataset(root, 2, SECONDS, seed=3, progress=False, width=160, height=96)
    return root, names


def test_layout_and_shapes(tiny_set):
    root, names = tiny_set
    assert len(names) == 2 and names[0].startswith("gBR_") and names[1].startswith("gPO_")
    n = int(SECONDS * 60)
    for name in names:
        tokens = name.split("_")
        assert tokens[2] == "cAll" and len(tokens) == 6
        lab = json.loads((root / "labels" / f"{name}.json").read_text())
        assert {"genre", "tempo", "beats", "downbeats", "music_id", "timing"} <= set(lab)
        assert lab["genre"] == tokens[0] and lab["music_id"] == tokens[4]
        assert lab["timing"] in ("normal", "half", "double")
        assert set(lab["downbeats"]) <= set(lab["beats"])

        mo = _load(root / "motions" / f"{name}.pkl")
        assert mo["smpl_poses"].shape == (n, 72) and mo["smpl_trans"].shape == (n, 3)
        assert mo["smpl_scaling"].shape == (1,)
        k3 = _load(root / "keypoints3d" / f"{name}.pkl")
        assert k3["keypoints3d"].shape == k3["keypoints3d_optim"].shape == (n, 17, 3)
        k2 = _load(root / "keypoints2d" / f"{name}.pkl")
        assert k2["keypoints2d"].shape == (1, n, 17, 3) and k2["det_scores"].shape == (1, n)
        assert k2["timestamps"].shape == (n,)

        audio, sr = sf.read(root / "music" / f"{lab['music_id']}.wav")
        assert sr == 22050 and audio.ndim == 1 and len(audio) == int(SECONDS * sr)
        assert 0.03 < np.sqrt(np.mean(audio**2)) < 0.3  # loudness-normalized, not silent

        from dance2music.io.video import probe

        info = probe(root / "videos" / f"{name.replace('cAll', 'c01')}.mp4")
        assert (info.width, info.height) == (160, 96) and abs(info.fps - 30) < 1e-6
        assert abs(info.duration - SECONDS) < 0.1
    listed = []
    for split in ("train", "val", "test"):
        listed += (root / "splits" / f"crossmodal_{split}.txt").read_text().split()
    assert sorted(listed) == sorted(names)
    assert (root / "ignore_list.txt").is_file()


def test_aist_reader_reads_it(tiny_set):
    from dance2music.data.aist import AISTDataset

    root, names = tiny_set
    ds = AISTDataset(root, "all", visual="none")
    seq = ds.load(names[1])
    assert seq.genre == 1 and seq.motion.keypoints.shape[1:] == (17, 3)
    assert len(seq.meta["beats"]) > 0


def test_smpl_parameters_give_the_keypoints(tiny_set):
    """joints = smpl_scaling * FK(smpl_poses) + smpl_trans, as AIST++ defines them."""
    root, names = tiny_set
    mo = _load(root / "motions" / f"{names[0]}.pkl")
    k3 = _load(root / "keypoints3d" / f"{names[0]}.pkl")["keypoints3d_optim"]
    rot = sk.axis_angle_to_matrix(mo["smpl_poses"].reshape(-1, 24, 3).astype(np.float64))
    pos, _ = sk.forward_kinematics(rot)
    joints = pos * mo["smpl_scaling"][0] + mo["smpl_trans"][:, None]
    for coco, smpl in sk.COCO_FROM_SMPL.items():
        np.testing.assert_allclose(joints[:, smpl], k3[:, coco], atol=0.05)  # cm


def test_same_seed_same_clip_whatever_the_count(tiny_set, tmp_path):
    root, names = tiny_set
    make_clip(tmp_path, 1, SECONDS, seed=3, width=160, height=96, video=False)
    for sub in ("motions", "keypoints2d", "keypoints3d"):
        a, b = _load(root / sub / f"{names[1]}.pkl"), _load(tmp_path / sub / f"{names[1]}.pkl")
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    music = json.loads((root / "labels" / f"{names[1]}.json").read_text())["music_id"]
    assert (root / "music" / f"{music}.wav").read_bytes() == (tmp_path / "music" / f"{music}.wav").read_bytes()
    other, _, _ = clip_name(1, clip_rngs(4, 1)[0])
    make_clip(tmp_path, 1, SECONDS, seed=4, video=False)
    if other != names[1]:
        assert not np.array_equal(
            _load(tmp_path / "motions" / f"{other}.pkl")["smpl_poses"],
            _load(root / "motions" / f"{names[1]}.pkl")["smpl_poses"],
        )


def test_labelled_beats_are_in_the_music():
    """Every labelled beat has a note onset (a drum hit) within 30 ms, and the tempo matches the grid."""
    import librosa

    for genre in ("gHO", "gJB", "gKR"):
        song = make_song(genre, 4.0, np.random.default_rng(7))
        onsets = librosa.onset.onset_detect(y=song.audio, sr=song.sr, units="time", backtrack=False)
        d = np.min(np.abs(song.beats[:, None] - onsets[None]), axis=1)
        assert np.mean(d < 0.03 + 512 / song.sr) >= 0.8, (genre, d)
        assert abs(60.0 / np.median(np.diff(song.beats)) - song.tempo) < 0.01
        assert song.downbeats.size >= 1


def test_kinematic_beats_land_on_the_beats():
    beats = np.arange(0.3, 4.0, 0.5)
    for genre in ("gPO", "gJB", "gHO"):
        dance = mv.make_dance(genre, beats, 4.0, np.random.default_rng(1), timing="normal")
        kb = mv.kinematic_beats(dance.coco, dance.fps, sigma=5.0)
        m = match_beats(beats, kb)
        assert 2 * m / (len(beats) + len(kb)) >= 0.8, (genre, kb, beats)
        # the shifted grid (half a beat off) does not match
        assert match_beats(beats + 0.25, kb) <= len(beats) // 3
    half = mv.dance_grid(beats, "half")
    double = mv.dance_grid(beats, "double")
    assert np.allclose(half, beats[::2]) and len(double) == 2 * len(beats) - 1


def test_detector_noise_and_missing_frames():
    rng = np.random.default_rng(0)
    clean = np.tile(np.linspace(50, 250, 17)[None, :, None], (600, 1, 2))
    kp, det = detector_keypoints(clean, np.full((600, 17), 3.0), 320, 320, rng)
    missed = det == 0
    assert missed.any() and not missed.all()
    assert np.all(kp[missed] == 0) and np.all((kp[~missed, :, 2] > 0) & (kp[~missed, :, 2] <= 1))
    err = np.linalg.norm(kp[~missed, :, :2] - clean[~missed], axis=-1)
    assert 0.2 < np.median(err) < 5.0


def test_mediapipe_finds_the_rendered_dancer():
    """The real pose pipeline detects the figure and its keypoints land near the projected joints."""
    from dance2music.data.synth.render import Scene, project_keypoints, render_video_frames
    from dance2music.features.pose import PoseEstimator

    rng = np.random.default_rng(5)
    dance = mv.make_dance("gLO", np.arange(0.3, 1.0, 0.5), 1.0, rng, timing="normal")
    scene = Scene.random(rng, 640, 360)
    frames = list(render_video_frames(dance, scene))[::10]
    ref = project_keypoints(dance, scene)[::20]
    with PoseEstimator(static_image=True) as est:
        found = [est(f) for f in frames]
    hits = [(f, r) for f, r in zip(found, ref) if f is not None]
    assert len(hits) >= len(frames) - 1
    errs = [np.median(np.linalg.norm(f[:, :2] - r, axis=1)) for f, r in hits]
    assert np.median(errs) < 12.0


def test_bad_arguments(tmp_path):
    with pytest.raises(ConfigError):
        make_dataset(tmp_path, 0, 2.0, 0, progress=False)
    with pytest.raises(ConfigError):
        make_dataset(tmp_path, 1, 0.1, 0, progress=False)
    with pytest.raises(ConfigError):
        make_dataset(tmp_path, 1, 2.0, 0, progress=False, width=161)


def test_splits_are_stable_and_balanced():
    s = [split_of(i) for i in range(200)]
    assert s.count("train") == 160 and s.count("val") == 20 and s.count("test") == 20
    assert split_of(85) == "val" and split_of(95) == "test" and split_of(5) == "train"


def test_tempo_stretch_slows_or_speeds_train_songs_only(tmp_path):
    """--tempo-stretch: a train clip's song (and so its dance) by a factor in the range; val and test never."""
    import json

    from dance2music.data.synth.dataset import make_dataset, split_of, tempo_scale_of

    assert split_of(0) == "train" and split_of(80) == "val" and split_of(90) == "test"
    assert tempo_scale_of(0, 80, (0.75, 1.33)) == tempo_scale_of(0, 90, (0.75, 1.33)) == 1.0
    scales = [tempo_scale_of(0, i, (0.75, 1.33)) for i in range(40)]
    assert min(scales) >= 0.75 and max(scales) <= 1.33 and max(scales) - min(scales) > 0.3
    plain = make_dataset(tmp_path / "a", 1, 2.0, 0, progress=False, video=False)
    fast = make_dataset(tmp_path / "b", 1, 2.0, 0, progress=False, video=False, tempo_stretch=(1.3, 1.3))
    lab_a = json.loads((tmp_path / "a" / "labels" / f"{plain[0]}.json").read_text())
    lab_b = json.loads((tmp_path / "b" / "labels" / f"{fast[0]}.json").read_text())
    assert lab_a["tempo_scale"] == 1.0 and lab_b["tempo_scale"] == pytest.approx(1.3)
    assert lab_b["tempo"] == pytest.approx(lab_a["tempo"] * 1.3, abs=0.1)
    assert not (tmp_path / "b" / "videos").exists()


def test_movement_widens_the_dance_on_the_same_beats(tmp_path):
    """--movement: wider moves and more travel from the same random draws, so the keyframes stay on the beats;
    recorded in the labels, and a set made with another value is not taken as finished."""
    beats = np.arange(0.3, 4.0, 0.5)
    plain = mv.make_dance("gHO", beats, 4.0, np.random.default_rng(1), timing="normal")
    wide = mv.make_dance("gHO", beats, 4.0, np.random.default_rng(1), timing="normal", movement=2.0)
    assert np.array_equal(plain.keyframes, wide.keyframes)

    def spread(d):  # wrists and ankles about the pelvis, and the pelvis over the floor
        limbs = d.coco[:, [9, 10, 15, 16]] - d.trans[:, None]
        return np.ptp(limbs, axis=0).mean(), np.ptp(d.trans[:, [0, 2]], axis=0).sum()

    assert all(w > 1.2 * p for w, p in zip(spread(wide), spread(plain), strict=True))
    assert match_beats(beats, mv.kinematic_beats(wide.coco, wide.fps, sigma=5.0)) >= 0.8 * len(beats)

    names = make_dataset(tmp_path / "s", 1, 2.0, 0, progress=False, video=False, movement=2.0)
    label = json.loads((tmp_path / "s" / "labels" / f"{names[0]}.json").read_text())
    assert label["movement"] == 2.0
    from dance2music.data.synth.dataset import _existing

    assert _existing(tmp_path / "s", 0, 0, 2.0, None, 2.0) == names[0]
    assert _existing(tmp_path / "s", 0, 0, 2.0, None, 1.0) is None
    with pytest.raises(ConfigError, match="movement"):
        make_dataset(tmp_path / "t", 1, 2.0, 0, progress=False, video=False, movement=9.0)


def test_offbeat_dancers_also_hit_between_the_beats(tmp_path):
    """--offbeat: a share of the half beats get a hit too, so the accents the rhythm reads fall between beats as
    well (real dancers' do); 0 leaves the dance as it was; train split only, recorded in the labels."""
    from dance2music.data.synth.dataset import _existing, split_of
    from dance2music.features.rhythm import accent_envelope, estimate_rhythm
    from dance2music.metrics.evaluate_motion import keypoints_to_motion

    beats = np.arange(0.3, 8.0, 0.6)
    plain = mv.make_dance("gMH", beats, 8.0, np.random.default_rng(1), timing="normal")
    same = mv.make_dance("gMH", beats, 8.0, np.random.default_rng(1), timing="normal", offbeat=0.0)
    off = mv.make_dance("gMH", beats, 8.0, np.random.default_rng(1), timing="normal", offbeat=0.6)
    assert np.array_equal(plain.keyframes, same.keyframes) and np.array_equal(plain.coco, same.coco)
    half = np.abs(np.mod(off.keyframes - 0.3, 0.6) - 0.3) < 0.1  # keyframes near a half beat
    assert 0.3 * (beats.size - 1) <= half.sum() <= 0.9 * (beats.size - 1) and not np.any(
        np.abs(np.mod(plain.keyframes - 0.3, 0.6) - 0.3) < 0.1
    )

    def near_half(d):  # share of the accent envelope within a quarter beat of the half beat of the grid read
        px = np.concatenate([d.coco[:, :, [0, 1]] * np.array([300.0, -300.0]), np.ones_like(d.coco[..., :1])], -1)
        m = keypoints_to_motion(px, d.fps, analysis_fps=None)
        r, env = estimate_rhythm(m), accent_envelope(m)
        return env[np.abs(r.phase - 0.5) < 0.25].sum() / env.sum()

    assert near_half(off) > near_half(plain) + 0.1

    assert split_of(0) == "train"
    names = make_dataset(tmp_path / "s", 1, 2.0, 0, progress=False, video=False, offbeat=0.5)
    label = json.loads((tmp_path / "s" / "labels" / f"{names[0]}.json").read_text())
    assert label["offbeat"] == 0.5
    assert _existing(tmp_path / "s", 0, 0, 2.0, None, 1.0, 0.5) == names[0]
    assert _existing(tmp_path / "s", 0, 0, 2.0, None, 1.0, 0.0) is None
    with pytest.raises(ConfigError, match="offbeat"):
        make_dataset(tmp_path / "t", 1, 2.0, 0, progress=False, video=False, offbeat=1.5)


def _script(name: str):
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_split_becomes_keypoint_files_the_motion_evaluator_reads(tmp_path):
    from dance2music.metrics.evaluate_motion import load_keypoint_sequence

    script = _script("synth_motion_files")
    names = make_dataset(tmp_path / "d", 1, 2.0, 0, progress=False, video=False)
    assert script.main([str(tmp_path / "d"), "--split", "all", "--out", str(tmp_path / "kp")]) == 0
    seq = load_keypoint_sequence(tmp_path / "kp" / f"{names[0]}.npz")
    label = json.loads((tmp_path / "d" / "labels" / f"{names[0]}.json").read_text())
    assert seq.fps == 30 and seq.keypoints.shape[:2] == (60, 17) and seq.genre == names[0][:3]
    assert seq.nominal_bpm == pytest.approx(label["tempo"], abs=0.01)
    assert script.main(["/nonexistent", "--out", str(tmp_path / "x")]) == 2


def test_music_latency_finds_a_late_click_late_and_measures_a_split(tmp_path):
    from test_rhythm import tiny_rhythm_model

    latency = _script("music_latency")
    sr, beats = 22050, np.arange(0.5, 4.0, 0.5)
    y = np.zeros(int(4.5 * sr), np.float32)
    for t in beats + 0.06:  # every click 60 ms after its beat
        y[int(t * sr) : int(t * sr) + 200] = 0.8
    late = np.asarray(latency.offsets(latency.onset_times(y, sr), beats))
    assert late.size == beats.size and np.all(late > 0.02) and np.all(late < 0.1)
    assert latency.offsets(np.array([1.0]), np.array([2.0])) == []  # nothing within the window
    names = make_dataset(tmp_path / "d", 1, 3.0, 0, progress=False, video=False)
    kp = tmp_path / "kp"
    assert _script("synth_motion_files").main([str(tmp_path / "d"), "--split", "all", "--out", str(kp)]) == 0
    got = latency.measure(tmp_path / "d", [kp / f"{names[0]}.npz"], tiny_rhythm_model())
    assert set(got) == {"truth, onsets", "truth, tracked beats", "generated, onsets", "generated, tracked beats"}
    assert got["truth, onsets"] and all(abs(x) <= latency.WINDOW_S for v in got.values() for x in v)
    assert latency.main([str(tmp_path / "d"), str(tmp_path / "nothing")]) == 2


def test_grid_following_places_clicks_on_the_grid_and_runs_a_model(tmp_path):
    from dance2music.data.cache import FeatureCache
    from dance2music.features.rhythm import Rhythm
    from gan_fixtures import make_cache
    from test_rhythm import tiny_rhythm_model

    gf = _script("grid_following")
    sr, fps = 22050, 30.0
    frames = np.arange(int(4.0 * fps))
    count = frames / fps * 2.0  # a 120-BPM grid, beats on the half seconds
    grid = Rhythm(fps, 120.0, count, np.full(frames.size, 120.0), np.zeros(frames.size, np.float32),
                  np.ones(frames.size, bool), "given")  # fmt: skip
    y = np.zeros(int(4.0 * sr), np.float32)
    for t in np.arange(0.0, 4.0, 0.5):  # a click on every beat
        y[int(t * sr) : int(t * sr) + 100] = 0.8
    on = gf.grid_stats(gf.onset_envelope(y, sr), sr, grid)
    off = gf.grid_stats(gf.onset_envelope(y, sr), sr, grid.shifted(0.5))
    assert min(on["phase"], 1 - on["phase"]) < 0.1 and abs(off["phase"] - 0.5) < 0.1
    assert on["ratio"] > 3 and off["ratio"] < 1 / 3 and on["strength"] > 0.3
    env, rms = gf.onset_envelope(y, sr), gf.energy_envelope(y)
    assert gf.grid_stats(env, sr, grid, rms)["energy"] > 3
    assert gf.grid_stats(env, sr, grid.shifted(0.5), rms)["energy"] < 1 / 3
    prof = gf.grid_stats(env, sr, grid, rms)["onset_profile"]  # the clicks' attacks in the beat's first bin
    assert prof.shape == (gf.PROFILE_BINS,) and np.nanargmax(prof) == 0 and abs(np.nanmean(prof) - 1) < 0.5
    moved = gf.grid_stats(env, sr, grid.shifted(0.5), rms)["onset_profile"]
    assert np.nanargmax(moved) == gf.PROFILE_BINS // 2
    cache = make_cache(tmp_path)
    model = tiny_rhythm_model().model
    rows, following = gf.follow(model, FeatureCache(cache), FeatureCache(cache).names()[:1])
    assert set(rows) == {"ground truth", "dance's grid", "grid moved half a beat"}
    assert len(following) == 1 and 0 <= following[0] <= 0.5 and -1 <= rows["dance's grid"][0]["corr"] <= 1
    assert all("energy" in rows[k][0] for k in rows)
    gf.plot_profiles([("tiny", rows)], str(tmp_path / "profile.png"))
    assert (tmp_path / "profile.png").stat().st_size > 0
    assert gf.main(["--cache", str(tmp_path / "nothing")]) == 2


def test_motion_stats_reads_a_skeletons_proportions_and_head_sway():
    body = _script("motion_stats").body
    xy = np.zeros((50, 17, 2))
    xy[:, 5], xy[:, 6] = (-0.3, -1.0), (0.3, -1.0)  # shoulders 0.6 apart
    xy[:, 11], xy[:, 12] = (-0.2, 0.0), (0.2, 0.0)  # hips 0.4 apart
    xy[:, 7], xy[:, 9] = (-0.3, -0.6), (-0.3, -0.3)  # a forearm of 0.3
    xy[:, 8], xy[:, 10] = (0.3, -0.6), (0.3, -0.3)
    xy[:, 13], xy[:, 15] = (-0.2, 0.6), (-0.2, 1.3)  # shins of 0.7
    xy[:, 14], xy[:, 16] = (0.2, 0.6), (0.2, 1.3)
    xy[:, 0] = (0.0, -1.3)
    xy[::2, 0, 0] = 0.1  # the head sways +-0.05 about x = 0.05
    out = body(xy)
    assert out["hip width (torso)"] == pytest.approx(0.4) and out["shoulder width (torso)"] == pytest.approx(0.6)
    assert out["forearm (torso)"] == pytest.approx(0.3) and out["shin (torso)"] == pytest.approx(0.7)
    assert out["nose above the shoulders (torso)"] == pytest.approx(0.3)
    assert out["head sway (torso)"] == pytest.approx(0.05)
