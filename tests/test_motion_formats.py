"""Motion readers and the shared keypoint normalization."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dance2music.constants import COCO17, COCO17_INDEX
from dance2music.errors import InputError, NoPersonError
from dance2music.features.motion_formats import (
    AIST_FPS,
    BODY25,
    BODY25_TO_COCO17,
    body25_to_coco17,
    normalize_keypoints,
    project_points,
    read_aist_keypoints2d,
    read_aist_keypoints3d,
    read_aist_smpl,
    read_body25_array,
    read_openpose_folder,
    smpl_to_219,
)
from dataset_fixtures import COCO_TO_BODY25, POSE, dancing_pixels, write_openpose_frame, write_pkl

LHIP, RHIP = COCO17_INDEX["left_hip"], COCO17_INDEX["right_hip"]
LSH, RSH = COCO17_INDEX["left_shoulder"], COCO17_INDEX["right_shoulder"]


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


# ---------------------------------------------------------------- AIST++ readers


def test_aist_keypoints2d_views_and_detections(tmp_path):
    n = 40
    kp = dancing_pixels(n, 60.0)
    views = np.stack([kp * [1, 1, 0.3], kp])  # view 0 unreliable, view 1 good
    det = np.stack([np.full(n, 0.4), np.full(n, 0.9)])
    det[1, 5:9] = 0.0  # lost detections in the good view
    path = tmp_path / "keypoints2d" / "gBR_sBM_cAll_d04_mBR0_ch01.pkl"
    write_pkl(path, {"keypoints2d": views, "det_scores": det, "timestamps": np.arange(n)})
    m = read_aist_keypoints2d(path)
    assert m.meta["view"] == 1 and m.fps == AIST_FPS and m.num_frames == n
    assert not m.valid[5:9].any() and m.valid[:5].all() and m.valid[9:].all()
    np.testing.assert_allclose(m.keypoints[20, LSH, :2], POSE[LSH], atol=0.05)
    assert read_aist_keypoints2d(path, "c01").meta["view"] == 0
    assert read_aist_keypoints2d(path, 0).meta["view"] == 0
    with pytest.raises(InputError):
        read_aist_keypoints2d(path, 5)
    with pytest.raises(InputError):
        read_aist_keypoints2d(tmp_path / "missing.pkl")
    (tmp_path / "bad.pkl").write_bytes(b"not a pickle")
    with pytest.raises(InputError):
        read_aist_keypoints2d(tmp_path / "bad.pkl")


def _world_pose(n: int, yaw_deg: float = 0.0) -> np.ndarray:
    """[n, 17, 3] world joints (cm, y up) of POSE, 170 cm tall-ish, facing the front camera, slight depth."""
    kp = dancing_pixels(n, 60.0, scale=50.0)
    world = np.zeros((n, 17, 3))
    world[..., 0] = kp[..., 0] - 640
    world[..., 1] = 100 - (kp[..., 1] - 400)
    world[..., 2] = np.linspace(-5, 5, 17)
    a = np.deg2rad(yaw_deg)
    x, z = world[..., 0].copy(), world[..., 2].copy()
    world[..., 0] = np.cos(a) * x - np.sin(a) * z
    world[..., 2] = np.sin(a) * x + np.cos(a) * z
    return world


@pytest.mark.parametrize("camera", ["orthographic", "perspective"])
def test_aist_keypoints3d_projection(tmp_path, camera):
    n = 30
    world = _world_pose(n)
    world_noisy = world.copy()
    world_noisy[3, :, :] = np.nan  # a frame the optimizer lost: invalid
    path = tmp_path / "k3.pkl"
    write_pkl(path, {"keypoints3d": world_noisy, "keypoints3d_optim": world})
    m = read_aist_keypoints3d(path, camera=camera)
    assert m.meta["key"] == "keypoints3d_optim" and m.valid.all()
    # the body seen from the front: left shoulder on the image right (x > 0), head up (y < 0), near POSE
    tol = 1e-4 if camera == "orthographic" else 0.05
    torso = [LSH, RSH, LHIP, RHIP]
    np.testing.assert_allclose(m.keypoints[:, torso, :2], np.broadcast_to(POSE[torso], (n, 4, 2)), atol=tol)
    assert m.joint("nose")[:, 1].max() < -1.0 < 1.0 < m.joint("left_ankle")[:, 1].min()
    assert (m.keypoints[..., 2] == 1).all()
    raw = read_aist_keypoints3d(path, camera=camera, optimized=False)
    assert raw.meta["key"] == "keypoints3d" and not raw.valid[3] and raw.valid.sum() == n - 1


def test_project_points_yaw_undoes_a_turn():
    world = _world_pose(5, yaw_deg=90.0)  # dancer turned to the side
    side = project_points(world)
    front = project_points(world, yaw_deg=90.0)  # x' = cos(a) x + sin(a) z turns it back
    assert np.ptp(side[0, [LSH, RSH], 0]) < 15  # shoulders overlap seen from the side
    np.testing.assert_allclose(front, project_points(_world_pose(5)), atol=1e-6)
    with pytest.raises(ValueError):
        project_points(world, camera="fisheye")


def test_smpl_219_representation(tmp_path):
    n = 6
    rng = np.random.default_rng(1)
    poses = rng.normal(0, 0.5, (n, 72))
    poses[0] = 0.0
    poses[1, 3:6] = [0, 0, np.pi / 2]  # joint 1: a quarter turn about z
    trans = rng.normal(0, 50, (n, 3))
    path = tmp_path / "motions" / "gBR_sBM_cAll_d04_mBR0_ch01.pkl"
    write_pkl(path, {"smpl_poses": poses, "smpl_trans": trans, "smpl_scaling": np.array([90.0]), "smpl_loss": 0.0})
    smpl = read_aist_smpl(path)
    assert smpl.num_frames == n and smpl.scaling == 90.0 and smpl.fps == 60.0
    f = smpl.features_219()
    assert f.shape == (n, 219) and f.dtype == np.float32
    np.testing.assert_allclose(f[:, :3], trans / 90.0, rtol=1e-5)
    rot = f[:, 3:].reshape(n, 24, 3, 3)
    np.testing.assert_allclose(rot[0], np.broadcast_to(np.eye(3), (24, 3, 3)), atol=1e-6)
    np.testing.assert_allclose(rot[1, 1], [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-6)
    np.testing.assert_allclose(rot @ rot.transpose(0, 1, 3, 2), np.broadcast_to(np.eye(3), rot.shape), atol=1e-5)
    np.testing.assert_allclose(smpl_to_219(poses, trans, np.array([90.0])), f, atol=1e-6)
    write_pkl(tmp_path / "bad.pkl", {"smpl_poses": poses[:, :70], "smpl_trans": trans})
    with pytest.raises(InputError):
        read_aist_smpl(tmp_path / "bad.pkl")


# ---------------------------------------------------------------- OpenPose BODY_25


def test_body25_mapping_names():
    for coco_i, b in enumerate(BODY25_TO_COCO17):
        assert BODY25[b] == COCO17[coco_i]
    kp25 = np.arange(75, dtype=float).reshape(25, 3)
    assert body25_to_coco17(kp25)[COCO17_INDEX["left_hip"], 0] == 12 * 3
    assert tuple(BODY25_TO_COCO17) == COCO_TO_BODY25


def test_openpose_folder_tracks_the_main_dancer(tmp_path):
    n = 14
    dancer = dancing_pixels(n, 30.0, scale=100.0)
    bystander = dancing_pixels(n, 30.0, scale=30.0, seed=3)
    bystander[..., 0] += 400  # small, to the side
    rng = np.random.default_rng(0)
    for t in range(n):
        people = [bystander[t]] if t in (6, 7) else [dancer[t], bystander[t]]  # dancer missed twice
        if rng.random() < 0.5:
            people = people[::-1]
        # frame numbers unpadded, so name order is not frame order (10 sorts before 2)
        write_openpose_frame(tmp_path / "op" / f"clip_{t}_keypoints.json", people)
    m = read_openpose_folder(tmp_path / "op", fps=30.0)
    assert m.num_frames == n and m.meta["max_people"] == 2
    assert not m.valid[6:8].any() and m.valid[:6].all() and m.valid[8:].all()
    # the dancer's own keypoints every valid frame (the bystander would give a different root path)
    ref = normalize_keypoints(dancer, 30.0)
    np.testing.assert_allclose(m.keypoints[m.valid], ref.keypoints[m.valid], atol=2e-3)
    np.testing.assert_allclose(m.root[m.valid], ref.root[m.valid], atol=2e-3)


def test_openpose_errors(tmp_path):
    with pytest.raises(InputError):
        read_openpose_folder(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError):
        read_openpose_folder(tmp_path / "empty")
    (tmp_path / "coco18").mkdir()
    (tmp_path / "coco18" / "a_0_keypoints.json").write_text('{"people": [{"pose_keypoints_2d": [1, 2, 0.5]}]}')
    with pytest.raises(InputError):
        read_openpose_folder(tmp_path / "coco18")
    (tmp_path / "nobody").mkdir()
    (tmp_path / "nobody" / "a_0_keypoints.json").write_text('{"version": 1.2, "people": []}')
    with pytest.raises(NoPersonError):
        read_openpose_folder(tmp_path / "nobody")


def test_body25_array_tiktok_shape():
    kp17 = dancing_pixels(60, 30.0)
    kp25 = np.zeros((60, 25, 3))
    kp25[:, list(COCO_TO_BODY25)] = kp17
    m = read_body25_array(kp25.reshape(60, 75), 30.0)
    np.testing.assert_allclose(m.keypoints, normalize_keypoints(kp17, 30.0).keypoints, atol=1e-5)
    with pytest.raises(InputError):
        read_body25_array(np.zeros((60, 74)))


def test_real_openpose_clip():
    folder = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-dance" / "openpose_body25"
    if not folder.is_dir():
        pytest.skip("shared real-dance data not present")
    m = read_openpose_folder(folder, fps=23.976)
    assert m.num_frames == len(list(folder.glob("*.json"))) == 69
    assert m.valid.mean() > 0.95 and m.keypoints[..., 2][m.valid].mean() > 0.6
    y = lambda j: m.joint(j)[m.valid, 1]  # noqa: E731 (y grows downwards)
    assert (y("nose") < y("left_hip")).all() and (y("left_hip") < y("left_ankle")).all()
    torso = np.linalg.norm(
        0.5 * (m.joint("left_shoulder") + m.joint("right_shoulder"))[:, :2]
        - 0.5 * (m.joint("left_hip") + m.joint("right_hip"))[:, :2],
        axis=1,
    )
    assert abs(np.median(torso) - 1.0) < 1e-3  # scale = median torso length
    assert m.resample(30.0).num_frames == round(69 * 30 / 23.976)
