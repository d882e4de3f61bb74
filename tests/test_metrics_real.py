"""Kinematic beats on the shared real dance clip: two pose estimators must find the same beats.

The clip's OpenPose BODY_25 keypoints and MediaPipe's keypoints of its video are independent measurements of
the same dancer; the kinematic beats (what BeatAlign and beat F1 measure against) must not depend on which
one is used. Skips when ../shared is absent.
"""

from pathlib import Path

import pytest

from dance2music.features import beats as MB

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-dance"


@pytest.mark.slow
def test_openpose_and_mediapipe_give_the_same_kinematic_beats():
    if not (REAL / "hiphop_studio_2.9s.mp4").is_file() or not (REAL / "openpose_body25").is_dir():
        pytest.skip("shared real dance clip not available")
    from dance2music.features.motion_formats import read_openpose_folder
    from dance2music.features.pose import motion_from_video

    openpose = MB.kinematic_beats(read_openpose_folder(REAL / "openpose_body25", fps=23.976))
    mediapipe = MB.kinematic_beats(motion_from_video(REAL / "hiphop_studio_2.9s.mp4"))
    # a 2.9 s hip-hop clip: a few beats, at most one every 0.2 s
    assert 2 <= openpose.times.size <= 15
    f = MB.beat_f1(openpose.times, mediapipe.times, tolerance=0.05)
    assert f.f1 >= 0.8, (openpose.times, mediapipe.times)
