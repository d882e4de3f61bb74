"""The speed paths of `extract_features`: frames skipped before conversion, and two pose lanes."""

from __future__ import annotations

import itertools
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from dance2music.features import extract
from dance2music.features.extract import PoseLanes, extract_features
from dance2music.io.video import iter_frames, write_video


@pytest.fixture(scope="module")
def dance_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 1.5 s (30 fps, 640x360) of the bundled demo dance."""
    from dance2music.cli.demo import demo_video

    frames = (rgb for _, rgb in itertools.islice(iter_frames(demo_video()), 45))
    return write_video(frames, 30, tmp_path_factory.mktemp("clip") / "dance.mp4")


def test_two_pose_lanes_agree_with_one(dance_clip: Path) -> None:
    stderr = os.fstat(2)
    one = extract_features(dance_clip, visual=False, analysis_fps=15)
    two = extract_features(dance_clip, visual=False, analysis_fps=15, pose_lanes=2)
    after = os.fstat(2)  # the lanes' graphs were built beside the scan's detector: stderr is stderr again
    assert (after.st_dev, after.st_ino) == (stderr.st_dev, stderr.st_ino)
    assert one.meta["decoded_frames"] == two.meta["decoded_frames"] == 23  # every other frame of 30 fps
    assert one.meta["repeated_frames"] == two.meta["repeated_frames"] == 0
    assert one.motion.keypoints.shape == two.motion.keypoints.shape == (45, 17, 3)
    assert one.motion.valid.all() and two.motion.valid.all()
    # the same frames, two trackers taking turns: the same pose up to MediaPipe's crop-to-crop jitter,
    # well under what the dancer moves in 0.1 s (measured: 0.007 against 0.015, a torso being 1.0)
    kp1, kp2 = one.motion.keypoints[..., :2], two.motion.keypoints[..., :2]
    assert np.median(np.abs(kp1 - kp2)) < 0.6 * np.median(np.abs(kp1[3:] - kp1[:-3]))
    assert not [t for t in threading.enumerate() if t.name.startswith(("pose", "decode "))]


def test_a_failing_lane_raises_and_stops_everything(dance_clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real_update = extract.PoseTracker.update

    def update(self, t, rgb, scale=1.0, *origin):  # PoseTracker.update, failing on the 4th frame (lane 2)
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("pose failed")
        return real_update(self, t, rgb, scale, *origin)

    monkeypatch.setattr(extract.PoseTracker, "update", update)
    with pytest.raises(RuntimeError, match="pose failed"):
        extract_features(dance_clip, visual=False, analysis_fps=None, pose_lanes=2)
    assert not [t for t in threading.enumerate() if t.name.startswith(("pose", "decode "))]
    with pytest.raises(ValueError, match="lanes"):
        PoseLanes(3)


def test_same_picture_tells_a_repeat_from_movement() -> None:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (90, 160, 3), dtype=np.uint8)
    noisy = np.clip(frame.astype(int) + rng.integers(-2, 3, frame.shape), 0, 255).astype(np.uint8)
    assert extract.same_picture(frame, frame) and extract.same_picture(frame, noisy)  # a re-encoded repeat
    moved = frame.copy()
    moved[40:52, 70:82] = 255  # a small bright patch appears: something moved
    assert not extract.same_picture(frame, moved)
    assert not extract.same_picture(frame, frame[:, :80])


def test_repeated_frames_are_not_given_to_pose(dance_clip: Path, tmp_path: Path) -> None:
    """Slow motion made by repeating each frame 4 times: pose runs on the distinct pictures only."""
    frames = [rgb for _, rgb in itertools.islice(iter_frames(dance_clip), 0, 45, 3)]  # 15 distinct pictures
    slow = write_video((f for f in frames for _ in range(4)), 30, tmp_path / "slow.mp4")  # 2 s at 30 fps
    feats = extract_features(slow, visual=False, analysis_fps=30)
    assert feats.meta["repeated_frames"] + feats.meta["decoded_frames"] == 60
    assert 13 <= feats.meta["decoded_frames"] <= 15 and feats.motion.num_frames == 60 and feats.motion.valid.all()
