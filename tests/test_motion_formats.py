"""Motion readers and the shared keypoint normalization."""

from __future__ import annotations

import numpy as np
import pytest

from dance2music.constants import COCO17_INDEX
from dance2music.errors import NoPersonError
from dance2music.features.motion_formats import normalize_keypoints

LHIP, RHIP = COCO17_INDEX["left_hip"], COCO17_INDEX["right_hip"]
LSH, RSH = COCO17_INDEX["left_shoulder"], COCO17_INDEX["right_shoulder"]

# A standing figure in "body units" (torso length 1, y down), COCO-17 order.
POSE = np.array(
    [
        [0.0, -1.5], [-0.1, -1.6], [0.1, -1.6], [-0.2, -1.55], [0.2, -1.55],
        [-0.4, -1.0], [0.4, -1.0], [-0.5, -0.5], [0.5, -0.5], [-0.55, 0.0], [0.55, 0.0],
        [-0.25, 0.0], [0.25, 0.0], [-0.25, 0.9], [0.25, 0.9], [-0.25, 1.8], [0.25, 1.8],
    ]
)  # fmt: skip


def pixel_track(t: int = 20, scale: float = 80.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """[T, 17, 3] pixel keypoints of POSE moving across the image, and the true hip path [T, 2] in pixels."""
    rng = np.random.default_rng(seed)
    hips = np.stack([300 + 5.0 * np.arange(t), 400 + 10 * np.sin(np.arange(t) / 3)], axis=1)
    xy = hips[:, None, :] + scale * POSE[None]
    conf = rng.uniform(0.6, 1.0, size=(t, 17, 1))
    return np.concatenate([xy, conf], axis=-1), hips


def test_normalize_root_scale_and_trajectory():
    kp, hips = pixel_track()
    m = normalize_keypoints(kp, 60.0)
    assert m.keypoints.shape == (20, 17, 3) and m.fps == 60.0 and m.valid.all()
    np.testing.assert_allclose(m.keypoints[..., :2], np.broadcast_to(POSE, (20, 17, 2)), atol=1e-4)
    np.testing.assert_allclose(m.root, (hips - hips[0]) / 80.0, atol=1e-4)
    assert m.meta["scale_px"] == pytest.approx(80.0)
    np.testing.assert_allclose(m.keypoints[..., 2], kp[..., 2], atol=1e-6)


def test_normalize_fills_missing_frames_and_joints():
    kp, hips = pixel_track()
    kp[5:8] = 0.0  # three frames with no detection
    kp[:, COCO17_INDEX["left_ear"], 2] = 0.0  # a joint never seen
    kp[10, COCO17_INDEX["right_wrist"], :] = np.nan  # a broken value
    m = normalize_keypoints(kp, 30.0)
    assert not m.valid[5:8].any() and m.valid[:5].all() and m.valid[8:].all()
    assert (m.keypoints[5:8, :, 2] == 0).all()
    assert (m.keypoints[:, COCO17_INDEX["left_ear"], 2] == 0).all()
    assert m.keypoints[10, COCO17_INDEX["right_wrist"], 2] == 0
    assert np.isfinite(m.keypoints).all() and np.isfinite(m.root).all()
    # gaps are interpolated: posture constant, root on the straight line between its neighbours
    np.testing.assert_allclose(m.keypoints[6, :, :2][[LSH, RSH, LHIP]], POSE[[LSH, RSH, LHIP]], atol=1e-4)
    np.testing.assert_allclose(m.root[6], 0.5 * (m.root[4] + m.root[8]), atol=1e-4)
    # the unseen ear borrows the left eye's track
    np.testing.assert_allclose(m.joint("left_ear")[:, :2], m.joint("left_eye")[:, :2], atol=1e-6)


def test_normalize_no_person():
    with pytest.raises(NoPersonError):
        normalize_keypoints(np.zeros((5, 17, 3)), 30.0)
    kp, _ = pixel_track(t=4)
    with pytest.raises(NoPersonError):
        normalize_keypoints(kp, 30.0, valid=np.zeros(4, bool))
