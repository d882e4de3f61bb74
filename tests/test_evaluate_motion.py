"""`d2m evaluate --motion`: keypoint sequences as `d2m generate` sees them, degraded as video pose degrades them,
and scored against the dance's own beats next to the shift null and mismatched music."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dance2music.constants import COCO17_INDEX, SAMPLE_RATE
from dance2music.errors import InputError
from dance2music.features.beats import beat_alignment, circular_shift
from dance2music.metrics.evaluate_motion import (
    LOWER_BODY,
    degrade_keypoints,
    evaluate_motion,
    keypoints_to_motion,
    load_keypoint_sequence,
    music_stats,
    shift_offsets,
    sign_flip_p,
    spectrum_distance,
    torso_length,
)

REAL_MOTION = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-motion"


def bouncing_dancer(seconds: float, bpm: float = 120.0, fps: float = 30.0, seed: int = 0) -> np.ndarray:
    """float32[T, 17, 2]: a standing skeleton in 1920x1080 pixels whose arms and knees bob once per beat."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * fps))
    t = np.arange(n) / fps
    base = np.stack([np.linspace(900, 1020, 17), np.linspace(200, 900, 17)], -1)
    kp = np.repeat(base[None], n, 0)
    bob = 30.0 * np.abs(np.sin(np.pi * bpm / 60.0 * t))  # speed is lowest at each beat
    kp[:, 5:17, 1] += bob[:, None]
    kp += rng.normal(0, 0.5, kp.shape)
    return kp.astype(np.float32)


def write_sequence(folder: Path, name: str, kp: np.ndarray, bpm: float, genre: str | None = "gHO") -> Path:
    path = folder / f"{name}.npz"
    labels = {"genre": genre} if genre else {}
    np.savez(path, keypoints2d=kp, fps=np.float32(30.0), music="mHO0", nominal_bpm=np.float32(bpm), **labels)
    return path


def test_sign_flip_p():
    assert sign_flip_p([0.1, 0.2, 0.3, 0.4, 0.5]) == pytest.approx(1 / 32)  # exact: only all-plus is as high
    assert sign_flip_p([-0.1, -0.2, -0.3]) == 1.0
    assert 0.3 < sign_flip_p([0.1, -0.1] * 20) <= 1.0  # random sign patterns past 16 units
    assert np.isnan(sign_flip_p([float("nan")]))


def test_shift_null_of_aligned_beats_is_lower():
    kin = np.arange(0.25, 6.0, 0.5)  # beats every 0.5 s
    music = kin.copy()
    a = beat_alignment(kin, music)
    assert (a.beat_align, a.beat_align_fact, a.f1, a.precision, a.recall) == pytest.approx((1.0,) * 5)
    assert a.report_scores() == pytest.approx({"ba_bailando": 1.0, "ba_fact": 1.0, "beat_f1": 1.0})
    offsets = shift_offsets(6.0, 20)
    assert offsets.min() >= 0.25 and offsets.max() <= 5.75
    null = np.mean([beat_alignment(kin, circular_shift(music, o, 6.0)).beat_align for o in offsets])
    assert null < 0.6


def test_keypoints_become_the_motion_generate_sees(tmp_path):
    kp = bouncing_dancer(4.0)
    seq = load_keypoint_sequence(write_sequence(tmp_path, "a", kp, 120))
    assert seq.keypoints.shape == (120, 17, 3) and np.all(seq.keypoints[..., 2] == 1)
    assert seq.nominal_bpm == 120 and seq.genre == "gHO" and seq.duration == pytest.approx(4.0)
    shown = keypoints_to_motion(seq.keypoints, seq.fps)  # GENERATE_ANALYSIS_FPS = 10: every third frame
    every = keypoints_to_motion(seq.keypoints, seq.fps, analysis_fps=None)
    assert shown.fps == every.fps == 30 and shown.num_frames == every.num_frames == 120
    assert shown.meta["source_frames"] == 40 and every.meta["source_frames"] == 120
    assert shown.meta["scale_px"] == pytest.approx(torso_length(seq.keypoints), rel=0.05)
    bad = tmp_path / "bad.npz"
    np.savez(bad, other=np.zeros(3))
    with pytest.raises(InputError):
        load_keypoint_sequence(bad)


def test_degradations():
    kp = np.concatenate([bouncing_dancer(20.0), np.ones((600, 17, 1), np.float32)], -1)
    out, detected = degrade_keypoints(kp, seed=3)
    again, _ = degrade_keypoints(kp, seed=3)
    np.testing.assert_array_equal(out, again)  # a fixed seed gives the same degradation
    assert 0.05 < 1 - detected.mean() < 0.15 and np.all(out[~detected, :, 2] == 0)
    assert np.all(out[:, list(LOWER_BODY), 2] == 0)
    assert COCO17_INDEX["left_hip"] not in LOWER_BODY and np.all(out[detected, COCO17_INDEX["left_hip"], 2] == 1)
    noise = (out[..., :2] - kp[..., :2]).std()
    assert noise == pytest.approx(0.03 * torso_length(kp), rel=0.1)
    motion = keypoints_to_motion(out, 30.0, detected=detected)  # still a motion of the whole length
    assert motion.num_frames == 600 and not motion.valid.all()


def test_music_stats_on_known_signals():
    sr = SAMPLE_RATE
    y = np.zeros(4 * sr, np.float32)
    for k in range(4):  # a click every 0.5 s over a quiet tone for 2 s, then 2 s of silence
        y[int(k * 0.5 * sr) : int(k * 0.5 * sr) + 200] = 0.5
    y[: 2 * sr] += 0.05 * np.sin(2 * np.pi * 220 * np.arange(2 * sr) / sr)
    s = music_stats(y, sr)
    assert s["silent_share"] == pytest.approx(0.5, abs=0.03)
    assert 0.5 <= s["onset_rate"] <= 2.0  # 4 clicks in 4 s
    assert np.isfinite(s["lufs"]) and s["peak_dbfs"] == pytest.approx(20 * np.log10(0.55), abs=0.5)


def test_spectrum_distance():
    a = np.array([-20.0, -30.0, -40.0])
    assert spectrum_distance(a, a) == 0.0
    assert spectrum_distance(a, a + 3.0) == pytest.approx(3.0)  # a level change of 3 dB in every band
    assert spectrum_distance(a, a + np.array([0.0, 0.0, 6.0])) == pytest.approx(np.sqrt(12.0))


def test_report_on_tiny_dances(tmp_path):
    from test_api import tiny_model

    folder = tmp_path / "motion"
    folder.mkdir()
    write_sequence(folder, "fast", bouncing_dancer(4.0, bpm=120, seed=1), 120)
    write_sequence(folder, "slow", bouncing_dancer(4.5, bpm=90, seed=2), 90)
    out = tmp_path / "report"
    model = tiny_model(visual_dim=0)
    rep = evaluate_motion(folder, [model], seeds=2, out_dir=out, excerpt_seconds=(2.0,), offsets=4, degrade=True)
    s = rep.summary["tiny"]
    assert set(s) == {"whole", "2s", "2s cut"} and s["whole"]["units"] == 2 and s["2s"]["units"] == 4
    for scale in s.values():
        for cond in ("generated", "shift null", "mismatched"):
            assert set(scale[cond]) >= {"ba_bailando", "ba_fact", "beat_f1"}
        assert 0 <= scale["p"]["beat_f1 vs shift null"] <= 1 or np.isnan(scale["p"]["beat_f1 vs shift null"])
    rows = rep.clips["tiny"]
    assert [r["sequence"] for r in rows] == ["fast", "slow"] and rows[0]["nominal_bpm"] == 120
    assert {"lufs", "silent_share", "onset_rate", "flux_cv", "music_tempo", "tempo_match_nominal"} <= set(rows[0])
    assert rep.settings["degrade"]["dropped_frames"] == 0.1
    pooled = rep.pooled["tiny"]
    assert pooled["between_dance_logmel_db"] >= 0 and pooled["between_seed_logmel_db"] >= 0
    data = json.loads((out / "report.json").read_text())  # strict JSON: NaN written as null
    assert data["settings"]["models"] == ["tiny"] and len(data["excerpts"]["tiny"]["2s"]) == 4
    md = (out / "report.md").read_text()
    assert "## tiny" in md and "shift null" in md and "| fast |" in md
    with pytest.raises(InputError):
        evaluate_motion(folder, [model], seeds=1, out_dir=out)  # no overwrite without force
    with pytest.raises(InputError):
        evaluate_motion(tmp_path / "missing", [model])


def test_labelled_genre_is_each_files_own_and_checked_first(tmp_path, capsys):
    """genre="labelled" generates each sequence (and its excerpts) with its file's genre; an unlabelled file or
    an unknown genre (by the command) is refused before any music is made."""
    from dance2music.cli import main
    from dance2music.metrics.evaluate_motion import LABELLED_GENRE
    from test_api import tiny_model

    model = tiny_model(visual_dim=0)
    asked: list[str | None] = []
    real_generate = model.generate

    def generate(motion, *, seed, genre=None):
        asked.append(genre)
        return real_generate(motion, seed=seed, genre=genre)

    model.generate = generate
    folder = tmp_path / "motion"
    folder.mkdir()
    write_sequence(folder, "a", bouncing_dancer(4.0, seed=1), 120, genre="gHO")
    write_sequence(folder, "b", bouncing_dancer(4.0, seed=2), 120, genre="gKR")
    rep = evaluate_motion(folder, [model], seeds=1, excerpt_seconds=(2.0,), offsets=4, genre=LABELLED_GENRE)
    assert asked == ["gHO"] * 3 + ["gKR"] * 3  # the whole dance and its two 2-s excerpts each
    assert [r["genre_used"][0]["genre"] for r in rep.clips["tiny"]] == ["gHO", "gKR"]
    asked.clear()
    write_sequence(folder, "c", bouncing_dancer(4.0, seed=3), 120, genre=None)
    with pytest.raises(InputError, match="names no AIST"):
        evaluate_motion(folder, [model], seeds=1, genre=LABELLED_GENRE)
    assert asked == []
    out = tmp_path / "report"
    assert main(["evaluate", "--motion", str(folder), "--genre", "Tango", "--out", str(out)]) == 2
    assert "unknown genre" in capsys.readouterr().err and not out.exists()


@pytest.mark.skipif(not REAL_MOTION.is_dir(), reason="../shared/data/real-motion is not here")
def test_real_motion_panel_reads():
    from dance2music.features.beats import kinematic_beats
    from dance2music.metrics.evaluate_motion import dance_tempo, tempo_match

    files = sorted(REAL_MOTION.glob("*.npz"))
    assert len(files) >= 9
    matched = 0
    for f in files:
        seq = load_keypoint_sequence(f)
        assert seq.nominal_bpm is not None and seq.fps == 30 and seq.duration > 30
        ref = kinematic_beats(keypoints_to_motion(seq.keypoints, seq.fps, analysis_fps=None)).times
        assert 1.0 < ref.size / seq.duration < 4.0  # a real dancer hits a pose about every beat or two
        matched += bool(tempo_match(dance_tempo(keypoints_to_motion(seq.keypoints, seq.fps)), seq.nominal_bpm))
    assert matched >= len(files) // 2  # the dance's pulse as generate reads it, from 10 fps keypoints
