"""An SMPL-like 24-joint skeleton: rest offsets, forward kinematics, rotations and the COCO-17 mapping.

Coordinates follow SMPL: metres, y up, the body faces +z and its left side is +x. The rest pose is SMPL's
T-pose; a pose is 24 local rotations (the parent-relative rotation of each joint), so it can be written as
SMPL's ``smpl_poses`` (24 axis-angle vectors = 72 numbers per frame) exactly as AIST++ stores them.
"""

from __future__ import annotations

import numpy as np

JOINTS = (
    "pelvis", "l_hip", "r_hip", "spine1", "l_knee", "r_knee", "spine2", "l_ankle", "r_ankle", "spine3",
    "l_foot", "r_foot", "neck", "l_collar", "r_collar", "head", "l_shoulder", "r_shoulder", "l_elbow",
    "r_elbow", "l_wrist", "r_wrist", "l_hand", "r_hand",
)  # fmt: skip
J = {name: i for i, name in enumerate(JOINTS)}
PARENTS = np.array([-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21])

# Rest joint positions of an average adult in the T-pose (metres, pelvis near the origin); the numbers are
# rounded, symmetric approximations of SMPL's template joints, which is all the renderer and the
# kinematic-beat maths need.
_REST = {
    "pelvis": (0.0, 0.0, 0.0),
    "l_hip": (0.075, -0.09, -0.01),
    "r_hip": (-0.075, -0.09, -0.01),
    "spine1": (0.0, 0.11, -0.02),
    "l_knee": (0.10, -0.47, -0.005),
    "r_knee": (-0.10, -0.47, -0.005),
    "spine2": (0.0, 0.245, -0.005),
    "l_ankle": (0.09, -0.865, -0.045),
    "r_ankle": (-0.09, -0.865, -0.045),
    "spine3": (0.0, 0.30, 0.0),
    "l_foot": (0.115, -0.925, 0.08),
    "r_foot": (-0.115, -0.925, 0.08),
    "neck": (0.0, 0.51, -0.035),
    "l_collar": (0.078, 0.415, -0.025),
    "r_collar": (-0.078, 0.415, -0.025),
    "head": (0.0, 0.585, 0.01),
    "l_shoulder": (0.17, 0.445, -0.035),
    "r_shoulder": (-0.17, 0.445, -0.035),
    "l_elbow": (0.43, 0.435, -0.05),
    "r_elbow": (-0.43, 0.435, -0.05),
    "l_wrist": (0.685, 0.44, -0.05),
    "r_wrist": (-0.685, 0.44, -0.05),
    "l_hand": (0.77, 0.435, -0.055),
    "r_hand": (-0.77, 0.435, -0.055),
}
REST_JOINTS = np.array([_REST[n] for n in JOINTS], dtype=np.float64)  # [24, 3]
REST_OFFSETS = REST_JOINTS - np.where(PARENTS[:, None] >= 0, REST_JOINTS[np.maximum(PARENTS, 0)], 0.0)
#: Height of the ankles below the pelvis in the rest pose (m): feet on the floor put the pelvis this high.
PELVIS_HEIGHT = float(-REST_JOINTS[J["l_ankle"], 1]) + 0.07  # + ankle height above the sole

# Face points in the head joint's frame (m): nose, left/right eye, left/right ear, and the skull's centre.
HEAD_POINTS = {
    "nose": (0.0, 0.085, 0.115),
    "left_eye": (0.034, 0.115, 0.09),
    "right_eye": (-0.034, 0.115, 0.09),
    "left_ear": (0.075, 0.095, 0.0),
    "right_ear": (-0.075, 0.095, 0.0),
    "skull": (0.0, 0.11, 0.015),
}

#: COCO-17 index -> SMPL joint index for the body points (the face points come from `HEAD_POINTS`).
COCO_FROM_SMPL = {
    5: J["l_shoulder"], 6: J["r_shoulder"], 7: J["l_elbow"], 8: J["r_elbow"], 9: J["l_wrist"],
    10: J["r_wrist"], 11: J["l_hip"], 12: J["r_hip"], 13: J["l_knee"], 14: J["r_knee"],
    15: J["l_ankle"], 16: J["r_ankle"],
}  # fmt: skip
_COCO_FACE = ("nose", "left_eye", "right_eye", "left_ear", "right_ear")


def rot_x(a: np.ndarray | float) -> np.ndarray:
    """Rotation matrices ``[..., 3, 3]`` about x by ``a`` radians."""
    a = np.asarray(a, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def rot_y(a: np.ndarray | float) -> np.ndarray:
    """Rotation matrices ``[..., 3, 3]`` about y (up) by ``a`` radians."""
    a = np.asarray(a, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def rot_z(a: np.ndarray | float) -> np.ndarray:
    """Rotation matrices ``[..., 3, 3]`` about z (forward) by ``a`` radians."""
    a = np.asarray(a, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def rot_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation ``[3, 3]`` taking unit vector ``a`` to unit vector ``b``."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    v = np.cross(a, b)
    c = float(np.dot(a, b))
    if c < -0.999999:  # opposite: turn half a circle about any axis orthogonal to a
        axis = np.cross(a, [0.0, 0.0, 1.0] if abs(a[2]) < 0.9 else [1.0, 0.0, 0.0])
        return axis_angle_to_matrix(axis / np.linalg.norm(axis) * np.pi)
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + k + k @ k / (1.0 + c)


def axis_angle_to_matrix(aa: np.ndarray) -> np.ndarray:
    """Rodrigues: axis-angle ``[..., 3]`` -> rotation matrices ``[..., 3, 3]``."""
    aa = np.asarray(aa, dtype=np.float64)
    theta = np.linalg.norm(aa, axis=-1, keepdims=True)
    axis = aa / np.maximum(theta, 1e-12)
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    zero = np.zeros_like(x)
    k = np.stack([np.stack([zero, -z, y], -1), np.stack([z, zero, -x], -1), np.stack([-y, x, zero], -1)], -2)
    th = theta[..., None]
    return np.eye(3) + np.sin(th) * k + (1.0 - np.cos(th)) * (k @ k)


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """Rotation matrices ``[..., 3, 3]`` -> unit quaternions ``[..., 4]`` (w, x, y, z), w >= 0."""
    m = np.asarray(m, dtype=np.float64)
    tr = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    cand = np.stack(
        [
            1.0 + tr,
            1.0 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2],
            1.0 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2],
            1.0 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2],
        ],
        -1,
    )
    best = np.argmax(cand, axis=-1)
    q = np.empty(m.shape[:-2] + (4,))
    # Each branch divides by the largest component, the numerically safe one.
    for k in range(4):
        sel = best == k
        if not np.any(sel):
            continue
        mm = m[sel]
        r = np.sqrt(np.maximum(cand[sel][:, k], 1e-12))
        if k == 0:
            qs = [r, (mm[:, 2, 1] - mm[:, 1, 2]) / r, (mm[:, 0, 2] - mm[:, 2, 0]) / r, (mm[:, 1, 0] - mm[:, 0, 1]) / r]
        elif k == 1:
            qs = [(mm[:, 2, 1] - mm[:, 1, 2]) / r, r, (mm[:, 0, 1] + mm[:, 1, 0]) / r, (mm[:, 0, 2] + mm[:, 2, 0]) / r]
        elif k == 2:
            qs = [(mm[:, 0, 2] - mm[:, 2, 0]) / r, (mm[:, 0, 1] + mm[:, 1, 0]) / r, r, (mm[:, 1, 2] + mm[:, 2, 1]) / r]
        else:
            qs = [(mm[:, 1, 0] - mm[:, 0, 1]) / r, (mm[:, 0, 2] + mm[:, 2, 0]) / r, (mm[:, 1, 2] + mm[:, 2, 1]) / r, r]
        q[sel] = np.stack(qs, -1) * 0.5
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(q[..., :1] < 0, -q, q)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Unit quaternions ``[..., 4]`` (w, x, y, z) -> rotation matrices ``[..., 3, 3]``."""
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
            np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
            np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


def quat_to_axis_angle(q: np.ndarray) -> np.ndarray:
    """Unit quaternions ``[..., 4]`` -> axis-angle ``[..., 3]`` with angle in [0, pi]."""
    q = np.where(q[..., :1] < 0, -q, q)
    s = np.linalg.norm(q[..., 1:], axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(s, q[..., :1])
    return q[..., 1:] / np.maximum(s, 1e-12) * angle


def slerp(q0: np.ndarray, q1: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation of quaternions ``[..., 4]`` at fractions ``t`` (broadcast over ``[...]``)."""
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)
    dot = np.clip(np.abs(dot), -1.0, 1.0)
    t = np.asarray(t, dtype=np.float64)[..., None]
    theta = np.arccos(dot)
    sin_t = np.sin(theta)
    small = sin_t < 1e-6
    w0 = np.where(small, 1.0 - t, np.sin((1.0 - t) * theta) / np.where(small, 1.0, sin_t))
    w1 = np.where(small, t, np.sin(t * theta) / np.where(small, 1.0, sin_t))
    q = w0 * q0 + w1 * q1
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def forward_kinematics(local_rot: np.ndarray, offsets: np.ndarray = REST_OFFSETS) -> tuple[np.ndarray, np.ndarray]:
    """Global joint positions and rotations from local rotations.

    local_rot: float[N, 24, 3, 3] parent-relative rotations (joint 0's is the global orientation).
    Returns (positions float[N, 24, 3] with the pelvis at the origin, global rotations float[N, 24, 3, 3]).
    """
    n = local_rot.shape[0]
    glob = np.empty_like(local_rot)
    pos = np.zeros((n, 24, 3))
    glob[:, 0] = local_rot[:, 0]
    for j in range(1, 24):
        p = PARENTS[j]
        glob[:, j] = glob[:, p] @ local_rot[:, j]
        pos[:, j] = pos[:, p] + glob[:, p] @ offsets[j]
    return pos, glob


def head_points(pos: np.ndarray, glob: np.ndarray) -> dict[str, np.ndarray]:
    """World positions float[N, 3] of the face points and skull centre, from the head joint's frame."""
    head_p, head_r = pos[:, J["head"]], glob[:, J["head"]]
    return {k: head_p + head_r @ np.asarray(v) for k, v in HEAD_POINTS.items()}


def coco17(pos: np.ndarray, glob: np.ndarray) -> np.ndarray:
    """COCO-17 keypoints float[N, 17, 3] from FK output (same units and origin as ``pos``)."""
    out = np.zeros((pos.shape[0], 17, 3))
    face = head_points(pos, glob)
    for i, name in enumerate(_COCO_FACE):
        out[:, i] = face[name]
    for c, s in COCO_FROM_SMPL.items():
        out[:, c] = pos[:, s]
    return out
