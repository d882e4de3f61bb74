"""Tiny datasets written in each dataset's exact on-disk layout (shared by the dataset and cache tests)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import soundfile as sf

from dance2music.features.extract import VideoFeatures
from dance2music.types import Motion, Visual

# A standing figure in body units (torso length 1, y down), COCO-17 order.
POSE = np.array(
    [
        [0.0, -1.5], [-0.1, -1.6], [0.1, -1.6], [-0.2, -1.55], [0.2, -1.55],
        [-0.4, -1.0], [0.4, -1.0], [-0.5, -0.5], [0.5, -0.5], [-0.55, 0.0], [0.55, 0.0],
        [-0.25, 0.0], [0.25, 0.0], [-0.25, 0.9], [0.25, 0.9], [-0.25, 1.8], [0.25, 1.8],
    ]
)  # fmt: skip

# COCO-17 -> BODY_25 index (the inverse of the reader's mapping, written out independently).
COCO_TO_BODY25 = (0, 16, 15, 18, 17, 5, 2, 6, 3, 7, 4, 12, 9, 13, 10, 14, 11)


def dancing_pixels(n: int, fps: float, scale: float = 100.0, seed: int = 0) -> np.ndarray:
    """[n, 17, 3] pixel keypoints of POSE bouncing at 2 Hz with waving wrists."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fps
    xy = np.broadcast_to(POSE, (n, 17, 2)).copy()
    xy[:, 9, 1] += 0.4 * np.sin(2 * np.pi * 2 * t)
    xy[:, 10, 1] += 0.4 * np.cos(2 * np.pi * 2 * t)
    hips = np.stack([640 + 20 * np.sin(t), 400 + 15 * np.abs(np.sin(2 * np.pi * 2 * t))], axis=1)
    px = hips[:, None] + scale * xy
    conf = rng.uniform(0.7, 1.0, (n, 17, 1))
    return np.concatenate([px, conf], axis=-1)


def tone(seconds: float, sr: int, freq: float = 440.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_pkl(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(data, f)


def make_aist(
    root: Path,
    seconds: float = 5.0,
    *,
    music_sr: int = 22050,
) -> dict[str, list[str]]:
    """An AIST++-layout folder: 4 train, 1 val, 1 test sequences, one of them ignored, one 3D-only.

    Returns the split lists. Music files are tones (music ids shared by two sequences), at ``music_sr``.
    """
    splits = {
        "train": [
            "gBR_sBM_cAll_d04_mBR0_ch01",
            "gHO_sFM_cAll_d20_mHO3_ch09",
            "gJB_sBM_cAll_d07_mJB2_ch03",
            "gPO_sBM_cAll_d10_mPO1_ch05",
        ],
        "val": ["gBR_sBM_cAll_d05_mBR0_ch02"],
        "test": ["gKR_sBM_cAll_d28_mKR4_ch07"],
    }
    (root / "splits").mkdir(parents=True)
    for s, names in splits.items():
        (root / "splits" / f"crossmodal_{s}.txt").write_text("\n".join(names) + "\n")
    (root / "ignore_list.txt").write_text("gPO_sBM_cAll_d10_mPO1_ch05\n")
    rng = np.random.default_rng(0)
    n = int(round(seconds * 60))
    for i, name in enumerate(sum(splits.values(), [])):
        kp = dancing_pixels(n, 60.0, seed=i)
        views = np.stack([kp, kp * [1, 1, 0.2]])  # view 1: same points, low confidence
        det = np.stack([np.full(n, 0.95), np.full(n, 0.3)])
        det[0, 10:13] = 0.0  # three frames where the detector lost the dancer
        if name.startswith("gHO"):  # this one ships 3D keypoints only
            world = np.zeros((n, 17, 3))
            world[..., 0] = kp[..., 0]
            world[..., 1] = -kp[..., 1]
            world[..., 2] = rng.normal(0, 1, (n, 17))
            write_pkl(root / "keypoints3d" / f"{name}.pkl", {"keypoints3d": world, "keypoints3d_optim": world})
        else:
            write_pkl(
                root / "keypoints2d" / f"{name}.pkl",
                {"keypoints2d": views, "det_scores": det, "timestamps": np.arange(n) * 1e6 / 60},
            )
        poses = rng.normal(0, 0.3, (n, 72))
        trans = rng.normal(0, 10, (n, 3))
        write_pkl(
            root / "motions" / f"{name}.pkl",
            {"smpl_poses": poses, "smpl_trans": trans, "smpl_scaling": np.array([93.0]), "smpl_loss": 0.1},
        )
        beats = np.arange(0.25, seconds, 0.5)
        (root / "labels").mkdir(exist_ok=True)
        (root / "labels" / f"{name}.json").write_text(
            json.dumps({"genre": name[:3], "tempo": 120.0, "beats": beats.tolist(), "downbeats": beats[::4].tolist()})
        )
    (root / "music").mkdir()
    for k, mid in enumerate(("mBR0", "mHO3", "mJB2", "mPO1", "mKR4")):
        # music a little longer than the dance, as in AIST++
        sf.write(root / "music" / f"{mid}.wav", tone(seconds + 1.0, music_sr, 220.0 * (k + 1)), music_sr)
    return splits


def fake_features(duration: float, dim: int = 8, fps: float = 30.0) -> VideoFeatures:
    """VideoFeatures whose visual feature 0 is the time in seconds (to check alignment)."""
    n = int(round(duration * fps))
    vis = np.zeros((n, dim), np.float32)
    vis[:, 0] = np.arange(n) / fps
    kp = np.zeros((n, 17, 3), np.float32)
    kp[..., :2] = POSE
    kp[..., 2] = 0.9
    kp[:, 0, 0] = np.arange(n) / fps  # the nose x also tells the time
    return VideoFeatures(Motion(kp, fps), Visual(vis, fps), duration, fps, {"fake": True})


def write_openpose_frame(path: Path, people: list[np.ndarray]) -> None:
    """One OpenPose 1.2 JSON frame; ``people`` are COCO-17 [17, 3] arrays spread into BODY_25 slots."""
    out = []
    for kp17 in people:
        kp25 = np.zeros((25, 3))
        kp25[list(COCO_TO_BODY25)] = kp17
        kp25[1] = 0.5 * (kp17[5] + kp17[6])  # neck
        kp25[8] = 0.5 * (kp17[11] + kp17[12])  # mid hip
        out.append(
            {
                "pose_keypoints_2d": [round(float(v), 3) for v in kp25.reshape(-1)],
                "face_keypoints_2d": [],
                "hand_left_keypoints_2d": [],
                "hand_right_keypoints_2d": [],
            }
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": 1.2, "people": out}))


def write_tiny_video(path: Path, seconds: float, fps: float = 30.0, size: tuple[int, int] = (64, 48)) -> Path:
    """A real H.264 file of a texture drifting right (so optical flow has something to see), no audio."""
    from dance2music.io.video import write_video

    w, h = size
    rng = np.random.default_rng(0)
    texture = (rng.random((h, w + int(seconds * fps) * 2, 3)) * 255).astype(np.uint8)
    frames = (texture[:, 2 * i : 2 * i + w] for i in range(int(round(seconds * fps))))
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_video(frames, fps, path)
