"""Motion readers: every dance-motion format the datasets use, mapped to one `types.Motion` (COCO-17).

- `normalize_keypoints`: pixel keypoints ``[T, 17, 3]`` -> normalized `Motion`. The pose pipeline
  (`features.pose`) and every reader below call it, so the model sees one normalization whatever the source.
- AIST++ ``keypoints2d/<seq>.pkl`` (`read_aist_keypoints2d`), ``keypoints3d/<seq>.pkl`` projected to 2D with a
  simple camera (`read_aist_keypoints3d`), ``motions/<seq>.pkl`` SMPL parameters (`read_aist_smpl`,
  `smpl_to_219`: the official code's 219-d representation).
- OpenPose BODY_25 JSON folders (the TikTok dance-music set): `read_openpose_folder`.

SMPL parameters alone cannot give joint positions here: forward kinematics needs the SMPL body model (its
template mesh, joint regressor and blend weights), which is licensed separately and not shipped. So a `Motion`
for an AIST++ sequence comes from its keypoints (2D preferred, else 3D projected); the SMPL pkl feeds only the
219-d vector (`smpl_to_219`) that the paper's AIST++ model consumed.
"""

from __future__ import annotations

import json
import os
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..constants import COCO17, COCO17_INDEX
from ..errors import InputError, NoPersonError
from ..types import Motion

_LHIP, _RHIP = COCO17_INDEX["left_hip"], COCO17_INDEX["right_hip"]
_LSH, _RSH = COCO17_INDEX["left_shoulder"], COCO17_INDEX["right_shoulder"]

#: For a joint never seen in a whole clip: the joint whose (root-relative) track stands in for it.
#: Follows the skeleton towards the torso, so a hidden wrist sits at its elbow, an unseen ear at its eye.
_STAND_IN = {
    1: 0, 2: 0, 3: 1, 4: 2,  # eyes -> nose, ears -> eyes
    5: 6, 6: 5,  # shoulders -> each other
    7: 5, 8: 6, 9: 7, 10: 8,  # arms -> towards the shoulders
    11: 12, 12: 11,  # hips -> each other
    13: 11, 14: 12, 15: 13, 16: 14,  # legs -> towards the hips
}  # fmt: skip
_STAND_IN_ORDER = (5, 6, 11, 12, 0, 1, 2, 3, 4, 7, 8, 9, 10, 13, 14, 15, 16)


def _fill_gaps(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Fill ``values[T, C]`` where ``known[T]`` is False: linear between known frames, held at the ends."""
    if known.all() or not known.any():
        return values
    t = np.arange(values.shape[0])
    out = values.copy()
    for c in range(values.shape[1]):
        out[~known, c] = np.interp(t[~known], t[known], values[known, c])
    return out


def normalize_keypoints(
    kp_px: np.ndarray,
    fps: float,
    valid: np.ndarray | None = None,
    *,
    meta: dict | None = None,
) -> Motion:
    """Normalize pixel keypoints into a `Motion`: root-centred on the hip midpoint, scaled by torso length.

    kp_px: float[T, 17, 3] -- COCO-17 (x, y, confidence) in pixels, y down. A joint with confidence <= 0 or
        a non-finite coordinate counts as not seen.
    fps: frame rate of ``kp_px`` (the Motion keeps it; resample afterwards with `Motion.resample`).
    valid: bool[T] -- frames where a person was detected; default: frames with any joint seen.

    Steps (the same for every source, so the model's input does not depend on where keypoints came from):
    1. root[t] = midpoint of the two hips in frames where both are seen; other frames interpolate it in time
       (if the hips are never seen, the centroid of the seen joints is used instead, noted in ``meta``).
    2. Each joint's position relative to the root is interpolated in time over the frames where it is unseen
       (posture changes more slowly than global position); a joint never seen borrows its skeleton
       neighbour's track. Filled joints and all joints of invalid frames get confidence 0.
    3. scale = median over frames of the torso length (shoulder midpoint to hip midpoint) where all four
       joints are seen; fallback: a third of the median height of the seen joints' bounding box.
    4. keypoints = relative positions / scale; root = (root - root at the first valid frame) / scale.

    Returns a `Motion` at ``fps`` with ``meta`` holding ``scale_px`` and ``root_px0`` (to map back to pixels).
    Raises `NoPersonError` when no frame has a person.
    """
    kp, seen, valid = _seen_joints(kp_px, valid)
    meta = dict(meta or {})
    xy = kp[..., :2]
    root, hips_seen = _root_track(xy, seen, valid, meta)
    rel = _posture(xy - root[:, None, :], seen)
    scale = _torso_scale(xy, seen, valid, hips_seen, meta)
    # 4. normalize
    first = int(np.flatnonzero(valid)[0])
    conf = np.where(seen, np.clip(kp[..., 2], 0.0, 1.0), 0.0)
    out = np.concatenate([rel / scale, conf[..., None]], axis=-1).astype(np.float32)
    root_norm = ((root - root[first]) / scale).astype(np.float32)
    meta.update(scale_px=scale, root_px0=[float(root[first, 0]), float(root[first, 1])])
    return Motion(out, fps, valid, root_norm, meta)


def _seen_joints(kp_px: np.ndarray, valid: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(keypoints float64[T, 17, 3] with non-finite ones zeroed, seen bool[T, 17], valid bool[T]); raises
    `NoPersonError` when no frame has a person."""
    kp = np.array(kp_px, dtype=np.float64, copy=True)
    if kp.ndim != 3 or kp.shape[1:] != (17, 3):
        raise ValueError(f"keypoints must be [T, 17, 3], got {kp.shape}")
    t_len = kp.shape[0]
    finite = np.isfinite(kp).all(axis=-1)
    kp[~finite] = 0.0
    seen = finite & (kp[..., 2] > 0)
    if valid is None:
        valid = seen.any(axis=1)
    else:
        valid = np.asarray(valid, bool).copy()
        if valid.shape != (t_len,):
            raise ValueError(f"valid must be [T]={t_len}, got {valid.shape}")
        valid &= seen.any(axis=1)  # a "detected" frame with no joint seen carries no information
    seen &= valid[:, None]
    if t_len == 0 or not valid.any():
        raise NoPersonError("no person found in any frame of the motion")
    return kp, seen, valid


def _root_track(xy: np.ndarray, seen: np.ndarray, valid: np.ndarray, meta: dict) -> tuple[np.ndarray, np.ndarray]:
    """Step 1: the root trajectory float64[T, 2] (pixels) and where both hips are seen, bool[T]."""
    t_len = xy.shape[0]
    hips_seen = seen[:, _LHIP] & seen[:, _RHIP]
    root = np.zeros((t_len, 2))
    if hips_seen.any():
        root[hips_seen] = 0.5 * (xy[hips_seen, _LHIP] + xy[hips_seen, _RHIP])
        root_known = hips_seen
    else:
        counts = np.maximum(seen.sum(axis=1, keepdims=True), 1)
        root = (xy * seen[..., None]).sum(axis=1) / counts
        root_known = valid.copy()
        meta["root"] = "centroid (hips never seen)"
    return _fill_gaps(root, root_known), hips_seen


def _posture(rel: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Step 2: root-relative positions float64[T, 17, 2] with each joint's gaps filled in time, and a joint
    never seen on its stand-in's track (``rel`` is changed in place and returned)."""
    joint_seen = seen.any(axis=0)
    for j in range(17):
        if joint_seen[j]:
            rel[:, j] = _fill_gaps(rel[:, j], seen[:, j])
    rel[:, ~joint_seen] = 0.0
    for j in _STAND_IN_ORDER:  # the order puts each stand-in before the joints that borrow from it
        if joint_seen[j]:
            continue
        if j == 0:  # nose never seen: at the shoulder midpoint (zero when the shoulders are unseen too)
            rel[:, 0] = 0.5 * (rel[:, _LSH] + rel[:, _RSH])
        else:
            rel[:, j] = rel[:, _STAND_IN[j]]
    return rel


def _torso_scale(xy: np.ndarray, seen: np.ndarray, valid: np.ndarray, hips_seen: np.ndarray, meta: dict) -> float:
    """Step 3: the median torso length in pixels, or the fallbacks (noted in ``meta``)."""
    torso_ok = seen[:, _LSH] & seen[:, _RSH] & hips_seen
    scale = 0.0
    if torso_ok.any():
        sh_mid = 0.5 * (xy[torso_ok, _LSH] + xy[torso_ok, _RSH])
        hip_mid = 0.5 * (xy[torso_ok, _LHIP] + xy[torso_ok, _RHIP])
        scale = float(np.median(np.linalg.norm(sh_mid - hip_mid, axis=1)))
    if not scale > 1e-6:
        heights = []
        for t in np.flatnonzero(valid):
            ys = xy[t, seen[t], 1]
            if ys.size >= 2:
                heights.append(ys.max() - ys.min())
        scale = float(np.median(heights)) / 3.0 if heights else 0.0
        meta["scale"] = "bbox height / 3 (torso never seen)"
    if not scale > 1e-6:
        scale = 1.0
        meta["scale"] = "unit (degenerate keypoints)"
    return scale


# --------------------------------------------------------------------------------------------------
# AIST++ (google/aistplusplus_api layout): pickled dicts of numpy arrays, 60 fps.

#: Frame rate of every AIST++ annotation (keypoints2d, keypoints3d, motions).
AIST_FPS = 60.0


def load_pickle(path: str | os.PathLike) -> dict:
    """Load an AIST++-style ``.pkl`` dict; a missing or unreadable file raises `InputError`."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"no such file: {p}")
    try:
        with open(p, "rb") as f:
            data = pickle.load(f)
    except Exception as e:  # pickle raises many types for a damaged file
        raise InputError(f"cannot read {p}: {type(e).__name__}: {e}") from None
    if not isinstance(data, dict):
        raise InputError(f"{p} does not hold a dict (got {type(data).__name__})")
    return data


def _require(data: dict, key: str, path: Path, ndim: int) -> np.ndarray:
    if key not in data:
        raise InputError(f"{path} has no '{key}' (keys: {', '.join(map(str, data))})")
    arr = np.asarray(data[key], dtype=np.float64)
    if arr.ndim != ndim:
        raise InputError(f"{path}: '{key}' should have {ndim} dimensions, got shape {arr.shape}")
    return arr


def choose_view(keypoints2d: np.ndarray, det_scores: np.ndarray | None = None) -> int:
    """Index of the camera view with the most reliable keypoints: ``keypoints2d[V, N, 17, 3]``.

    Scores each view by its mean keypoint confidence over frames (non-finite keypoints count as 0),
    times its mean detection score when ``det_scores[V, N]`` is given.
    """
    conf = np.where(np.isfinite(keypoints2d).all(-1), keypoints2d[..., 2], 0.0)
    score = np.clip(conf, 0, None).mean(axis=(1, 2))
    if det_scores is not None:
        score = score * np.nan_to_num(np.clip(det_scores, 0, None)).mean(axis=1)
    return int(np.argmax(score))


def read_aist_keypoints2d(
    path: str | os.PathLike, view: int | str | None = None, *, min_det_score: float = 0.0
) -> Motion:
    """AIST++ ``keypoints2d/<seq>.pkl`` -> `Motion` at 60 fps.

    The file holds ``keypoints2d[V, N, 17, 3]`` (COCO-17 x, y in pixels, confidence), ``det_scores[V, N]``
    and ``timestamps[N]``. ``view``: a view index, a camera name (``"c01"`` is index 0), or None for the view
    with the most reliable keypoints (`choose_view`). Frames whose detection score is <= ``min_det_score``
    (or not finite) are marked invalid.
    """
    p = Path(path)
    data = load_pickle(p)
    kp = _require(data, "keypoints2d", p, 4)
    if kp.shape[2:] != (17, 3):
        raise InputError(f"{p}: keypoints2d should be [views, frames, 17, 3], got {kp.shape}")
    det = data.get("det_scores")
    det = None if det is None else np.asarray(det, dtype=np.float64).reshape(kp.shape[0], -1)
    if det is not None and det.shape[1] != kp.shape[1]:
        raise InputError(f"{p}: det_scores {det.shape} does not match keypoints2d {kp.shape}")
    if view is None:
        v = choose_view(kp, det)
    elif isinstance(view, str):
        if not (view.startswith("c") and view[1:].isdigit()):
            raise InputError(f"camera name should look like 'c01', got {view!r}")
        v = int(view[1:]) - 1
    else:
        v = int(view)
    if not 0 <= v < kp.shape[0]:
        raise InputError(f"{p} has {kp.shape[0]} view(s); view {view!r} does not exist")
    valid = None
    if det is not None:
        d = det[v]
        valid = np.isfinite(d) & (d > min_det_score)
    meta = {"source": str(p), "format": "aist-keypoints2d", "view": v}
    return normalize_keypoints(kp[v], AIST_FPS, valid, meta=meta)


def project_points(
    points: np.ndarray,
    *,
    camera: str = "orthographic",
    yaw_deg: float = 0.0,
    distance: float = 500.0,
    focal: float = 1000.0,
) -> np.ndarray:
    """Project world points ``points[T, J, 3]`` (y up, as AIST++) to image coordinates ``[T, J, 2]`` (y down).

    The camera looks at the scene from the front as AIST++'s camera ``c01`` does (from +z towards -z,
    upright), after turning the scene by ``yaw_deg`` about the vertical axis. ``camera="orthographic"``:
    x, -y in world units. ``"perspective"``: a pinhole ``focal`` pixels long, ``distance`` world units in
    front of the median position of the points (so closer limbs look bigger, as in a real video).
    """
    pts = np.asarray(points, dtype=np.float64)
    a = np.deg2rad(yaw_deg)
    ca, sa = np.cos(a), np.sin(a)
    x = ca * pts[..., 0] + sa * pts[..., 2]
    z = -sa * pts[..., 0] + ca * pts[..., 2]
    y = pts[..., 1]
    if camera == "orthographic":
        return np.stack([x, -y], axis=-1)
    if camera != "perspective":
        raise ValueError(f"camera must be 'orthographic' or 'perspective', got {camera!r}")
    finite = np.isfinite(x) & np.isfinite(y) & np.isfinite(z)
    cx, cy, cz = (float(np.median(v[finite])) if finite.any() else 0.0 for v in (x, y, z))
    depth = np.maximum((cz + distance) - z, 1e-3)  # camera at z = cz + distance, looking towards -z
    return np.stack([focal * (x - cx) / depth, -focal * (y - cy) / depth], axis=-1)


def read_aist_keypoints3d(
    path: str | os.PathLike,
    *,
    camera: str = "orthographic",
    yaw_deg: float = 0.0,
    optimized: bool = True,
    distance: float = 500.0,
    focal: float = 1000.0,
) -> Motion:
    """AIST++ ``keypoints3d/<seq>.pkl`` (COCO-17 joints in cm, y up, 60 fps) projected to a 2D `Motion`.

    Uses ``keypoints3d_optim`` (the smoothed, optimized joints) when present and ``optimized``, else
    ``keypoints3d``. Projection: `project_points`. Joints are fully confident where finite; frames with
    no finite joint are invalid.
    """
    p = Path(path)
    data = load_pickle(p)
    key = "keypoints3d_optim" if optimized and "keypoints3d_optim" in data else "keypoints3d"
    kp3 = _require(data, key, p, 3)
    if kp3.shape[1:] != (17, 3):
        raise InputError(f"{p}: {key} should be [frames, 17, 3], got {kp3.shape}")
    xy = project_points(kp3, camera=camera, yaw_deg=yaw_deg, distance=distance, focal=focal)
    conf = np.isfinite(kp3).all(-1).astype(np.float64)
    meta = {"source": str(p), "format": "aist-keypoints3d", "key": key, "camera": camera, "yaw_deg": yaw_deg}
    return normalize_keypoints(np.concatenate([xy, conf[..., None]], -1), AIST_FPS, meta=meta)


@dataclass
class SmplMotion:
    """AIST++ ``motions/<seq>.pkl``: SMPL parameters at 60 fps.

    poses: float32[N, 72] -- axis-angle rotations of the 24 SMPL joints (root first).
    trans: float32[N, 3] -- root translation (in the capture's units, y up).
    scaling: float -- the body scale the capture was fitted with (``trans / scaling`` is in SMPL's metres).
    """

    poses: np.ndarray
    trans: np.ndarray
    scaling: float
    fps: float = AIST_FPS

    @property
    def num_frames(self) -> int:
        return int(self.poses.shape[0])

    def features_219(self) -> np.ndarray:
        """float32[N, 219]: the representation D2M-GAN's AIST++ model takes (see `smpl_to_219`)."""
        return smpl_to_219(self.poses, self.trans, self.scaling)


def smpl_to_219(poses: np.ndarray, trans: np.ndarray, scaling: float | np.ndarray) -> np.ndarray:
    """The 219-d AIST++ motion vector of FACT / D2M-GAN: float32[N, 219].

    poses: [N, 72] axis-angle of 24 joints; trans: [N, 3]; scaling: scalar (or a 1-element array).
    Per frame: ``trans / scaling`` (3 values), then the 24 joints' 3x3 rotation matrices, row-major (216).
    """
    poses = np.asarray(poses, dtype=np.float64)
    trans = np.asarray(trans, dtype=np.float64)
    n = poses.shape[0]
    if poses.shape != (n, 72) or trans.shape != (n, 3):
        raise ValueError(f"poses must be [N, 72] and trans [N, 3], got {poses.shape} and {trans.shape}")
    s = float(np.asarray(scaling, dtype=np.float64).reshape(-1)[0])
    from scipy.spatial.transform import Rotation  # here: scipy.spatial costs 0.5 s to import, pose never needs it

    rotmats = Rotation.from_rotvec(poses.reshape(n * 24, 3)).as_matrix().reshape(n, 216)
    return np.concatenate([trans / s, rotmats], axis=1).astype(np.float32)


def read_aist_smpl(path: str | os.PathLike) -> SmplMotion:
    """AIST++ ``motions/<seq>.pkl`` -> `SmplMotion` (smpl_poses [N, 72], smpl_trans [N, 3], smpl_scaling).

    SMPL parameters cannot become a `Motion` here: joint positions need SMPL forward kinematics with the
    SMPL body model, which is licensed separately and not shipped. Use the sequence's keypoints for the
    `Motion`, and this for the 219-d vector.
    """
    p = Path(path)
    data = load_pickle(p)
    poses = _require(data, "smpl_poses", p, 2)
    trans = _require(data, "smpl_trans", p, 2)
    if poses.shape[1] != 72 or trans.shape != (poses.shape[0], 3):
        raise InputError(f"{p}: smpl_poses should be [N, 72] and smpl_trans [N, 3], got {poses.shape}, {trans.shape}")
    scaling = np.asarray(data.get("smpl_scaling", 1.0), dtype=np.float64).reshape(-1)
    if scaling.size < 1 or not np.isfinite(scaling[0]) or scaling[0] <= 0:
        raise InputError(f"{p}: smpl_scaling should be a positive number")
    return SmplMotion(poses.astype(np.float32), trans.astype(np.float32), float(scaling[0]))


# --------------------------------------------------------------------------------------------------
# OpenPose BODY_25 (the TikTok dance-music set).

#: OpenPose BODY_25 joint names in index order.
BODY25 = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "mid_hip", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
    "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe", "left_small_toe",
    "left_heel", "right_big_toe", "right_small_toe", "right_heel",
)  # fmt: skip

#: For each COCO-17 joint (constants.COCO17 order), its BODY_25 index.
BODY25_TO_COCO17 = tuple(BODY25.index(name) for name in COCO17)


def body25_to_coco17(kp25: np.ndarray) -> np.ndarray:
    """``[..., 25, 3]`` BODY_25 keypoints -> ``[..., 17, 3]`` COCO-17 (OpenPose's own hip points)."""
    kp25 = np.asarray(kp25)
    if kp25.shape[-2:] != (25, 3):
        raise ValueError(f"BODY_25 keypoints must be [..., 25, 3], got {kp25.shape}")
    return kp25[..., BODY25_TO_COCO17, :]


def _frame_number(path: Path) -> tuple[int, str]:
    """Sort key: the last run of digits in an OpenPose file name (``<video>_000000000012_keypoints.json``)."""
    digits = re.findall(r"\d+", path.name)
    return (int(digits[-1]) if digits else -1, path.name)


def read_openpose_json(path: str | os.PathLike) -> list[np.ndarray]:
    """One OpenPose frame file -> a list of ``[25, 3]`` arrays (x, y pixels, confidence), one per person.

    Accepts ``pose_keypoints_2d`` (OpenPose >= 1.2) and ``pose_keypoints`` (older releases). A person whose
    keypoints are not 25 x 3 (another model such as COCO-18 or MPI) raises `InputError`.
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read OpenPose JSON {p}: {e}") from None
    people = []
    for person in data.get("people", []) if isinstance(data, dict) else []:
        flat = person.get("pose_keypoints_2d", person.get("pose_keypoints"))
        if not flat:
            continue
        arr = np.asarray(flat, dtype=np.float64)
        if arr.size != 75:
            raise InputError(f"{p}: expected BODY_25 (75 values per person), got {arr.size}")
        people.append(arr.reshape(25, 3))
    return people


def _bbox(kp: np.ndarray) -> np.ndarray | None:
    """(x0, y0, x1, y1) of the seen joints of ``kp[J, 3]``, or None."""
    seen = (kp[:, 2] > 0) & np.isfinite(kp).all(-1)
    if seen.sum() < 2:
        return None
    xy = kp[seen, :2]
    return np.concatenate([xy.min(0), xy.max(0)])


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def prominence(kp: np.ndarray) -> float:
    """How prominent a detected person ``kp[J, 3]`` is: bounding-box area x mean confidence of seen joints."""
    box = _bbox(kp)
    if box is None:
        return 0.0
    seen = kp[:, 2] > 0
    return float((box[2] - box[0]) * (box[3] - box[1]) * kp[seen, 2].mean())


def track_main_person(frames: list[list[np.ndarray]], *, min_iou: float = 0.2, max_gap: int = 10) -> np.ndarray:
    """Follow the most prominent person through ``frames`` (per frame, a list of ``[J, 3]`` people).

    People are linked frame to frame into tracks by bounding-box overlap (greedy, most overlapping pairs
    first; a track survives ``max_gap`` frames without a match). The track with the largest summed
    `prominence` is the dancer. Returns ``[T, J, 3]`` with zeros where that track has no detection.
    """
    n_joints = next((p.shape[0] for people in frames for p in people), 25)
    tracks: list[dict] = []  # {"box", "last", "score", "frames": {t: kp}}
    for t, people in enumerate(frames):
        boxes = [_bbox(p) for p in people]
        live = [k for k, tr in enumerate(tracks) if t - tr["last"] <= max_gap]
        pairs = sorted(
            (
                (_iou(tracks[k]["box"], boxes[i]), k, i)
                for k in live
                for i in range(len(people))
                if boxes[i] is not None
            ),
            reverse=True,
        )
        used_tracks, used_people = set(), set()
        for iou, k, i in pairs:
            if iou < min_iou or k in used_tracks or i in used_people:
                continue
            used_tracks.add(k)
            used_people.add(i)
            tr = tracks[k]
            tr.update(box=boxes[i], last=t)
            tr["score"] += prominence(people[i])
            tr["frames"][t] = people[i]
        for i, person in enumerate(people):
            if i not in used_people and boxes[i] is not None:
                tracks.append({"box": boxes[i], "last": t, "score": prominence(person), "frames": {t: person}})
    out = np.zeros((len(frames), n_joints, 3))
    if tracks:
        best = max(tracks, key=lambda tr: tr["score"])
        for t, kp in best["frames"].items():
            out[t] = kp
    return out


def read_openpose_pixels(folder: str | os.PathLike) -> tuple[np.ndarray, int]:
    """A folder of OpenPose ``*_keypoints.json`` files (one per video frame, BODY_25) -> (the dancer's COCO-17
    keypoints float[N, 17, 3] in pixels with confidences, the most people in one frame).

    Frames are ordered by the frame number in their names. With several people the most prominent one,
    tracked over frames, is the dancer (`track_main_person`); frames where that person is not detected are zeros.
    """
    d = Path(folder)
    if not d.is_dir():
        raise InputError(f"not a folder of OpenPose JSON files: {d}")
    files = sorted((f for f in d.iterdir() if f.suffix == ".json"), key=_frame_number)
    if not files:
        raise InputError(f"no OpenPose .json files in {d}")
    frames = [read_openpose_json(f) for f in files]
    return body25_to_coco17(track_main_person(frames)), max(len(p) for p in frames)


def read_openpose_folder(folder: str | os.PathLike, fps: float = 30.0) -> Motion:
    """A folder of OpenPose ``*_keypoints.json`` files -> `Motion` at ``fps`` (`read_openpose_pixels`; frames
    without the dancer are invalid, filled by `normalize_keypoints`)."""
    kp, max_people = read_openpose_pixels(folder)
    meta = {"source": str(Path(folder)), "format": "openpose-body25", "max_people": max_people}
    return normalize_keypoints(kp, fps, meta=meta)


def read_body25_array(arr: np.ndarray, fps: float = 30.0, *, source: str = "") -> Motion:
    """BODY_25 keypoints in an array (``[T, 75]`` or ``[T, 25, 3]``: TikTok ``motion_s2`` npy) -> `Motion`."""
    a = np.asarray(arr, dtype=np.float64)
    if a.size % 75:
        raise InputError(f"{source or 'array'}: BODY_25 motion needs 75 values per frame, got shape {a.shape}")
    kp25 = a.reshape(-1, 25, 3)
    return normalize_keypoints(body25_to_coco17(kp25), fps, meta={"source": source, "format": "body25-array"})
