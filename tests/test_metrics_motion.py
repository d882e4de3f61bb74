"""Kinematic beats, BeatAlign and beat F1 on motions whose beats are known by construction."""

import math

import numpy as np
import pytest

from dance2music.features import beats as MB
from dance2music.types import Motion


def periodic_motion(first=0.25, period=0.5, seconds=6.0, fps=60.0, seed=0):
    """Every joint sways with x = 1 - cos(2 pi (t - first) / (2 period)): speed is zero exactly at
    ``first + k * period``, so the kinematic beats are known."""
    t = np.arange(int(round(seconds * fps))) / fps
    x = 0.5 * (1 - np.cos(np.pi * (t - first) / period))
    base = np.random.default_rng(seed).standard_normal((17, 2))
    kp = np.zeros((t.size, 17, 3), np.float32)
    kp[..., 0] = base[:, 0] + x[:, None]
    kp[..., 1] = base[:, 1]
    kp[..., 2] = 0.9
    return Motion(kp, fps)


def expected_beats(first=0.25, period=0.5, seconds=6.0):
    return np.arange(first, seconds - 1e-9, period)


@pytest.mark.parametrize("fps", [60.0, 30.0])
def test_kinematic_beats_land_on_known_times(fps):
    kb = MB.kinematic_beats(periodic_motion(fps=fps))
    np.testing.assert_allclose(kb.times, expected_beats(), atol=1e-9)
    assert kb.fps == 60.0 and kb.speed.size == 360


def test_invisible_joints_are_ignored():
    m = periodic_motion()
    kp = m.keypoints.copy()
    kp[:, 13:, 0] += np.random.default_rng(1).standard_normal((kp.shape[0], 4)) * 0.5  # hallucinated legs
    kp[:, 13:, 2] = 0.1
    kb = MB.kinematic_beats(Motion(kp, m.fps))
    assert 13 not in kb.joints and 16 not in kb.joints
    np.testing.assert_allclose(kb.times, expected_beats(), atol=1e-9)


def test_no_beat_in_undetected_frames():
    m = periodic_motion()
    valid = np.ones(m.num_frames, bool)
    valid[int(1.0 * 60) : int(2.0 * 60)] = False  # 1.25 and 1.75 fall in frames without a person
    kb = MB.kinematic_beats(Motion(m.keypoints, m.fps, valid))
    want = [b for b in expected_beats() if not 0.98 <= b <= 2.02]
    np.testing.assert_allclose(kb.times, want, atol=1e-9)


def test_beat_align_golden_and_directions():
    motion = MB.kinematic_beats(periodic_motion()).times
    assert MB.beat_align(motion, motion) == pytest.approx(1.0)
    # every music beat 50 ms (= sigma) late: exp(-1/2) in both directions
    assert MB.beat_align(motion + 0.05, motion) == pytest.approx(math.exp(-0.5))
    assert MB.beat_align(motion + 0.05, motion, direction="fact") == pytest.approx(math.exp(-0.5))
    # directions differ: music on every other motion beat scores 1 over music beats, less over motion beats
    half = motion[::2]
    assert MB.beat_align(half, motion, direction="bailando") == pytest.approx(1.0)
    fact = MB.beat_align(half, motion, direction="fact")
    assert 0.5 <= fact < 0.6
    with pytest.raises(ValueError):
        MB.beat_align(half, motion, direction="sideways")


def test_beat_align_separates_aligned_from_shifted():
    motion = MB.kinematic_beats(periodic_motion()).times
    aligned = MB.beat_align(motion + 0.01, motion)
    shifted = MB.beat_align(MB.circular_shift(motion, 0.2, 6.0), motion)
    assert aligned > 0.95 and shifted < 0.01


def test_empty_sets():
    some = np.array([0.5, 1.0])
    assert math.isnan(MB.beat_align([], some))  # no music beat: no score
    assert MB.beat_align(some, []) == 0.0  # no motion beat: 0
    assert math.isnan(MB.beat_align(some, [], direction="fact"))
    assert MB.beat_align([], some, direction="fact") == 0.0
    f = MB.beat_f1([], [])
    assert math.isnan(f.f1)
    f = MB.beat_f1(some, [])
    assert f.f1 == 0.0 and f.recall == 0.0 and math.isnan(f.precision)


def test_beat_f1_is_one_to_one_within_tolerance():
    ref = np.array([1.0, 2.0, 3.0])
    # two estimates near 1.0 can match only once; 2.15 is outside the window; 3.09 inside
    f = MB.beat_f1(ref, np.array([0.95, 1.05, 2.15, 3.09]))
    assert f.matches == 2 and f.f1 == pytest.approx(2 * 2 / 7)
    assert f.precision == pytest.approx(0.5) and f.recall == pytest.approx(2 / 3)
    # a greedy nearest match would pair 1.08 with 1.0 and lose 0.93; the assignment keeps both
    f = MB.beat_f1(np.array([0.9, 1.0]), np.array([0.93, 1.08]))
    assert f.matches == 2
    assert MB.beat_f1(ref, ref).f1 == 1.0


def test_circular_shift():
    b = MB.circular_shift(np.array([0.5, 1.5, 2.5]), 1.0, 3.0)
    np.testing.assert_allclose(b, [0.5, 1.5, 2.5])
    np.testing.assert_allclose(MB.circular_shift(np.array([0.5, 2.5]), 0.75, 3.0), [0.25, 1.25])
