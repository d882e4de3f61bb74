"""Pose: MediaPipe on real photographs and real footage, and the track -> Motion resampling contract."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dance2music.constants import COCO17_INDEX as J
from dance2music.errors import NoPersonError
from dance2music.features.pose import (
    SMOOTH_SIGMA_S,
    PoseTracker,
    cubic_spline,
    join_cuts,
    keypoints_from_image,
    track_to_motion,
)

skdata = pytest.importorskip("skimage.data")

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-dance"

#: OpenPose BODY_25 index of each COCO-17 joint (BODY_25: 0 nose, 1 neck, 2-4 right arm, 5-7 left arm,
#: 8 mid-hip, 9-11 right leg, 12-14 left leg, 15/16 right/left eye, 17/18 right/left ear, 19-24 feet).
BODY25_TO_COCO17 = (0, 16, 15, 18, 17, 5, 2, 6, 3, 7, 4, 12, 9, 13, 10, 14, 11)


def test_pose_on_a_real_photograph(capfd: pytest.CaptureFixture[str]) -> None:
    img = skdata.astronaut()  # a real photo of a person, upper body, facing the camera
    h, w = img.shape[:2]
    kp = keypoints_from_image(img)
    assert kp is not None and kp.shape == (17, 3)
    nose, ls, rs = kp[J["nose"]], kp[J["left_shoulder"]], kp[J["right_shoulder"]]
    assert nose[1] < min(ls[1], rs[1]) - 0.1 * h  # the nose is well above the shoulders
    assert ls[0] > rs[0]  # facing the camera: the person's left shoulder is on the image's right
    for name in ("left_wrist", "right_wrist", "left_elbow", "right_elbow"):
        x, y, _ = kp[J[name]]
        assert 0 <= x < w and 0 <= y < h, name
    for name in ("nose", "left_eye", "right_eye", "left_shoulder", "right_shoulder"):
        assert kp[J[name]][2] > 0.9, name  # high confidence on the face and shoulders
    eyes_mid_x = 0.5 * (kp[J["left_eye"], 0] + kp[J["right_eye"], 0])
    assert rs[0] < eyes_mid_x < ls[0]  # the head sits between the shoulders
    out = capfd.readouterr()
    assert "Downloading" not in out.out + out.err  # model_complexity=1 is inside the wheel
    assert "XNNPACK" not in out.err  # native log lines are silenced


def test_track_to_motion_resamples_fills_and_flags() -> None:
    """Irregular frame times, a gap without a person: the grid is uniform, the gap flagged and filled."""
    rng = np.random.default_rng(0)
    times = np.sort(rng.uniform(0, 2.0, 50))
    times[0] = 0.0
    n = len(times)
    base = np.zeros((17, 2))
    base[J["left_hip"]], base[J["right_hip"]] = (110, 200), (90, 200)
    base[J["left_shoulder"]], base[J["right_shoulder"]] = (115, 100), (85, 100)
    kp = np.zeros((n, 17, 3))
    kp[..., :2] = base + np.array([50.0, 0.0]) * times[:, None, None]  # body travels right at 50 px/s
    kp[..., 2] = 0.9
    detected = ~((times > 0.8) & (times < 1.2))
    motion = track_to_motion(times, kp, detected, duration=2.0, fps=30.0, sigma=0.0)
    assert motion.keypoints.shape == (60, 17, 3) and motion.fps == 30.0
    grid = np.arange(60) / 30
    gap = (grid > 0.85) & (grid < 1.15)
    assert not motion.valid[gap].any() and motion.valid[grid < 0.75].all()
    assert np.all(motion.keypoints[gap, :, 2] == 0)
    # normalized: hips centred, torso length 1 (100 px), travel kept in `root` (0.5 torso per second)
    hips = 0.5 * (motion.keypoints[:, J["left_hip"], :2] + motion.keypoints[:, J["right_hip"], :2])
    assert np.allclose(hips, 0, atol=1e-4)
    assert motion.meta["scale_px"] == pytest.approx(100.0)
    assert np.allclose(motion.root[:, 0], (np.clip(grid, 0, times[-1]) - 0.0) * 0.5, atol=1e-3)
    assert motion.meta["detected_frames"] == detected.sum()


def test_the_shots_of_an_edited_video_are_joined() -> None:
    """A cut to a shot where the dancer stands 300 px to the left at 1.5x the size: after `join_cuts` the hips go
    on where they were and the torso keeps its length, so the motion has no jump; a travelling dancer without
    cuts is left exactly as he was."""
    times = np.arange(40) / 10.0
    base = np.zeros((17, 2))
    base[J["left_hip"]], base[J["right_hip"]] = (110, 200), (90, 200)
    base[J["left_shoulder"]], base[J["right_shoulder"]] = (115, 100), (85, 100)
    kp = np.zeros((40, 17, 3))
    kp[..., :2] = base + np.array([50.0, 0.0]) * times[:, None, None]  # travels right at 50 px/s (half a torso)
    kp[..., 2] = 0.9
    detected = np.ones(40, bool)
    same, cuts = join_cuts(times, kp, detected)
    assert cuts == 0 and np.array_equal(same, kp)
    edited = kp.copy()
    hips_at = 0.5 * (kp[20, J["left_hip"], :2] + kp[20, J["right_hip"], :2])
    edited[20:, :, :2] = (kp[20:, :, :2] - hips_at) * 1.5 + hips_at + np.array([-300.0, 0.0])
    joined, cuts = join_cuts(times, edited, detected)
    assert cuts == 1
    hips = 0.5 * (joined[:, J["left_hip"], :2] + joined[:, J["right_hip"], :2])
    assert np.abs(np.diff(hips[:, 0])).max() <= 5.0 + 1e-9 and np.allclose(joined[:20], kp[:20])  # travel only
    shoulders = 0.5 * (joined[:, J["left_shoulder"], :2] + joined[:, J["right_shoulder"], :2])
    torso = np.linalg.norm(shoulders - hips, axis=1)
    assert np.allclose(torso, 100.0)
    motion = track_to_motion(times, edited, detected, fps=30.0, sigma=0.0)
    assert motion.meta["cuts_joined"] == 1 and np.abs(np.diff(motion.root[:, 0])).max() < 0.1


def test_cubic_spline_equals_scipy() -> None:
    """The numpy spline `track_to_motion` resamples with is SciPy's not-a-knot CubicSpline, to float rounding."""
    from scipy.interpolate import CubicSpline

    rng = np.random.default_rng(0)
    for n in (4, 5, 9, 300):
        for x in (np.arange(n) / 15.0, np.cumsum(rng.uniform(0.02, 0.2, n))):  # regular, and a variable rate
            y = rng.normal(size=(n, 34)) * 300
            xq = np.clip(np.arange(-2, int(x[-1] * 30) + 3) / 30.0, x[0], x[-1])
            ref = CubicSpline(x, y, axis=0)(xq)
            np.testing.assert_allclose(cubic_spline(x, y, xq), ref, rtol=0, atol=1e-9 * np.abs(ref).max())
    with pytest.raises(ValueError):
        cubic_spline(np.arange(3.0), np.zeros((3, 1)), np.zeros(1))


def test_smoothing_is_zero_phase() -> None:
    """A symmetric bump keeps its peak time after smoothing (a causal filter would delay it)."""
    times = np.arange(90) / 30.0
    bump = np.exp(-0.5 * ((times - 1.5) / 0.1) ** 2) * 40
    kp = np.zeros((90, 17, 3))
    kp[..., 2] = 1.0
    kp[:, J["left_shoulder"], :2], kp[:, J["right_shoulder"], :2] = (110, 100), (90, 100)
    kp[:, J["left_hip"], :2], kp[:, J["right_hip"], :2] = (110, 200), (90, 200)
    kp[:, J["left_wrist"], 1] = 150 - bump
    m = track_to_motion(times, kp, np.ones(90, bool), duration=3.0, fps=60.0)
    wrist_y = m.keypoints[:, J["left_wrist"], 1]
    assert np.argmin(wrist_y) / 60.0 == pytest.approx(1.5, abs=1 / 60)
    # the bump (0.4 torso high, sigma 0.1 s) convolved with the smoothing Gaussian: slightly flattened
    expected = -0.5 - 0.4 * 0.1 / np.hypot(0.1, SMOOTH_SIGMA_S)
    assert wrist_y.min() == pytest.approx(expected, abs=0.01)
    with pytest.raises(NoPersonError):
        track_to_motion(times, kp, np.zeros(90, bool))


def test_pose_tracker_on_moving_photo() -> None:
    from dance2music.data.synth.photo_clip import photo_motion_frames

    tracker = PoseTracker()
    for i, rgb in enumerate(photo_motion_frames(skdata.astronaut(), seconds=1.0, fps=12, size=(320, 240))):
        tracker.update(i / 12, rgb)
    motion = tracker.finish(duration=1.0)
    assert motion.meta["detection_rate"] == 1.0 and motion.valid.all()
    assert motion.keypoints.shape == (30, 17, 3)
    torso = np.linalg.norm(
        0.5 * (motion.keypoints[:, J["left_shoulder"], :2] + motion.keypoints[:, J["right_shoulder"], :2])
        - 0.5 * (motion.keypoints[:, J["left_hip"], :2] + motion.keypoints[:, J["right_hip"], :2]),
        axis=1,
    )
    assert np.median(torso) == pytest.approx(1.0, abs=0.05)  # scale = median torso length


@pytest.mark.skipif(not REAL.is_dir(), reason="shared real-dance clip not available")
def test_mediapipe_matches_openpose_on_real_dance() -> None:
    """MediaPipe COCO-17 keypoints vs OpenPose BODY_25 (mapped to COCO-17) on the same real frames."""
    from dance2music.io.video import iter_frames

    ref = []
    for f in sorted((REAL / "openpose_body25").glob("*_keypoints.json")):
        people = json.loads(f.read_text())["people"]
        arr = np.array(people[0]["pose_keypoints_2d"], float).reshape(25, 3) if people else np.zeros((25, 3))
        ref.append(arr[list(BODY25_TO_COCO17)])
    ref = np.stack(ref)
    tracker = PoseTracker()
    for t, rgb in iter_frames(REAL / "hiphop_studio_2.9s.mp4", max_side=640):
        tracker.update(t, rgb, scale=1280 / rgb.shape[1])  # keypoints in full-size (1280x720) pixels
    tracker.close()
    ours = np.stack(tracker.keypoints)
    assert ours.shape == ref.shape == (69, 17, 3)
    assert np.mean(tracker.detected) > 0.95
    both = np.asarray(tracker.detected)[:, None] & (ref[..., 2] > 0.3)
    dist = np.linalg.norm(ours[..., :2] - ref[..., :2], axis=-1)[both]
    median = float(np.median(dist))
    print(f"median MediaPipe-OpenPose distance: {median:.1f} px over {both.sum()} joints (1280x720)")
    assert median < 15.0  # measured 6.1 px; a torso is ~190 px here
    assert np.percentile(dist, 90) < 40.0


def test_mediapipe_is_imported_without_matplotlib_which_still_works_after() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from dance2music.features.pose import PoseEstimator\n"
        "PoseEstimator().close()\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib was imported'\n"
        "from mediapipe.python.solutions import drawing_utils\n"
        "import matplotlib\n"
        "matplotlib.use('Agg')\n"
        "import matplotlib.pyplot as plt\n"
        "assert drawing_utils.plt.figure is plt.figure\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]


def test_quiet_stderr_is_restored_when_threads_overlap() -> None:
    """Two threads silencing fd 2 at once (pose lanes built beside the people scan): the one that leaves
    last must not put back the /dev/null the other installed."""
    import os
    import threading

    from dance2music.features.mediapipe_import import quiet_native_stderr

    def ident() -> tuple[int, int]:
        st = os.fstat(2)
        return st.st_dev, st.st_ino

    before, null = ident(), os.stat(os.devnull)
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    inside = []

    def first() -> None:
        with quiet_native_stderr():
            a_in.set()
            b_in.wait(5)
        a_out.set()  # leaves while the other is still inside

    def second() -> None:
        a_in.wait(5)
        with quiet_native_stderr():
            b_in.set()
            a_out.wait(5)
            inside.append(ident())

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert inside == [(null.st_dev, null.st_ino)]  # still silenced after the first one left
    assert ident() == before
