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

import numpy as np

from ..constants import COCO17_INDEX
from ..errors import NoPersonError
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
    meta = dict(meta or {})
    xy = kp[..., :2]

    # 1. root trajectory (pixels)
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
    root = _fill_gaps(root, root_known)

    # 2. root-relative posture, gaps filled per joint
    rel = xy - root[:, None, :]
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

    # 3. scale: median torso length
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

    # 4. normalize
    first = int(np.flatnonzero(valid)[0])
    conf = np.where(seen, np.clip(kp[..., 2], 0.0, 1.0), 0.0)
    out = np.concatenate([rel / scale, conf[..., None]], axis=-1).astype(np.float32)
    root_norm = ((root - root[first]) / scale).astype(np.float32)
    meta.update(scale_px=scale, root_px0=[float(root[first, 0]), float(root[first, 1])])
    return Motion(out, fps, valid, root_norm, meta)
