"""Visual features: flowgrid measures known motion in video-independent units; I3D loads the public layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dance2music.errors import ModelError
from dance2music.features.i3d import I3D_FEATURE_DIM, I3DFeatures, load_i3d
from dance2music.features.visual import (
    DIR_BINS,
    FEATURE_BLOCKS,
    FLOWGRID_DIM,
    GRID,
    MOTION_DIM,
    visual_features,
)

# Column offsets of the blocks (motion first, then appearance), from the documented block order.
_OFF = np.cumsum([0] + list(FEATURE_BLOCKS.values()))
BLOCK = {name: slice(_OFF[i], _OFF[i + 1]) for i, name in enumerate(FEATURE_BLOCKS)}


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth random texture (trackable by optical flow), uint8[h, w, 3]."""
    import cv2

    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 8 + 2, w // 8 + 2, 3)).astype(np.uint8)
    return cv2.resize(small, (w + 16, h + 16), interpolation=cv2.INTER_CUBIC)[:h, :w]


def sliding(speed_frac_per_s: float, fps: float, seconds: float, size: tuple[int, int], seed: int = 0):
    """Frames of a texture sliding right at ``speed_frac_per_s`` short sides per second."""
    w, h = size
    big = texture(h, w * 3, seed)
    for i in range(int(round(seconds * fps))):
        shift = int(round(speed_frac_per_s * min(w, h) * i / fps))
        yield i / fps, np.ascontiguousarray(big[:, w - shift : 2 * w - shift])


def test_shapes_and_grid() -> None:
    assert FLOWGRID_DIM == sum(FEATURE_BLOCKS.values()) and 64 <= FLOWGRID_DIM <= 128
    v = visual_features(sliding(0.3, 24, 1.0, (160, 120)), duration=1.0, fps=30.0)
    assert v.features.shape == (30, FLOWGRID_DIM) and v.fps == 30.0 and v.kind == "flowgrid"
    assert np.isfinite(v.features).all()


def test_flow_measures_known_motion_in_video_independent_units() -> None:
    """0.3 short sides per second = 1 % of the short side per 1/30 s, whatever the fps and resolution."""
    results = []
    for fps, size in ((30, (160, 120)), (15, (160, 120)), (30, (320, 240))):
        v = visual_features(sliding(0.3, fps, 1.5, size), duration=1.5)
        f = v.features[5:-5]
        flow = f[:, BLOCK["flow_grid"]].reshape(len(f), GRID * GRID, 3)
        glob = f[:, BLOCK["flow_global"]]
        dx, dy = flow[..., 0].mean(), flow[..., 1].mean()
        assert dx == pytest.approx(1.0, rel=0.2), (fps, size)  # rightwards, 1 % per 1/30 s
        assert abs(dy) < 0.1
        hist = glob[:, 5 : 5 + DIR_BINS].mean(axis=0)
        assert np.argmax(hist) in (DIR_BINS // 2 - 1, DIR_BINS // 2)  # angle 0 (rightwards) bins
        results.append(dx)
    assert max(results) / min(results) < 1.25  # fps and resolution cancel out


def test_static_scene_has_no_motion_and_appearance_tracks_content() -> None:
    frame = texture(120, 160)
    static = visual_features(((i / 30, frame) for i in range(20)), duration=20 / 30)
    assert np.abs(static.features[:, :MOTION_DIM]).max() < 0.05
    dark = np.full((120, 160, 3), 30, np.uint8)
    red = np.zeros((120, 160, 3), np.uint8)
    red[..., 0] = 220
    fd = visual_features([(0.0, dark), (1 / 30, dark)]).features[0]
    fr = visual_features([(0.0, red), (1 / 30, red)]).features[0]
    color = fr[BLOCK["color_grid"]].reshape(-1, 3)
    assert np.allclose(color[:, 0], 220 / 255, atol=0.01) and np.allclose(color[:, 1:], 0, atol=0.01)
    assert fd[BLOCK["brightness_grid"]].max() < fr[BLOCK["brightness_grid"]].min()
    assert fd[BLOCK["edge_grid"]].max() < 1e-6  # flat frames have no edges
    assert texture(120, 160).std() > 0 and static.features[0, BLOCK["edge_grid"]].min() > 0.005


# ------------------------------------------------------------------------------------------------ I3D

#: The piergiaj/pytorch-i3d InceptionI3d layout, written out from its channel table (I3D paper, Inception-v1):
#: stem units (name, in, out, kernel) and inception blocks (name, [b0, b1a, b1b, b2a, b2b, b3b]).
STEM = [("Conv3d_1a_7x7", 3, 64, 7), ("Conv3d_2b_1x1", 64, 64, 1), ("Conv3d_2c_3x3", 64, 192, 3)]
MIXED = [
    ("Mixed_3b", [64, 96, 128, 16, 32, 32]),
    ("Mixed_3c", [128, 128, 192, 32, 96, 64]),
    ("Mixed_4b", [192, 96, 208, 16, 48, 64]),
    ("Mixed_4c", [160, 112, 224, 24, 64, 64]),
    ("Mixed_4d", [128, 128, 256, 24, 64, 64]),
    ("Mixed_4e", [112, 144, 288, 32, 64, 64]),
    ("Mixed_4f", [256, 160, 320, 32, 128, 128]),
    ("Mixed_5b", [256, 160, 320, 32, 128, 128]),
    ("Mixed_5c", [384, 192, 384, 48, 128, 128]),
]


def piergiaj_state_dict(num_classes: int = 400, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights under the key names and shapes of a released ``rgb_imagenet.pt`` (no BN counters)."""
    g = torch.Generator().manual_seed(seed)
    sd: dict[str, torch.Tensor] = {}

    def unit(prefix: str, cin: int, cout: int, k: int) -> None:
        sd[f"{prefix}.conv3d.weight"] = torch.randn(cout, cin, k, k, k, generator=g) * (2.0 / (cin * k**3)) ** 0.5
        sd[f"{prefix}.bn.weight"] = 1 + 0.1 * torch.randn(cout, generator=g)
        sd[f"{prefix}.bn.bias"] = 0.1 * torch.randn(cout, generator=g)
        sd[f"{prefix}.bn.running_mean"] = 0.1 * torch.randn(cout, generator=g)
        sd[f"{prefix}.bn.running_var"] = 1 + 0.1 * torch.rand(cout, generator=g)

    for name, cin, cout, k in STEM:
        unit(name, cin, cout, k)
    cin = 192
    for name, c in MIXED:
        unit(f"{name}.b0", cin, c[0], 1)
        unit(f"{name}.b1a", cin, c[1], 1)
        unit(f"{name}.b1b", c[1], c[2], 3)
        unit(f"{name}.b2a", cin, c[3], 1)
        unit(f"{name}.b2b", c[3], c[4], 3)
        unit(f"{name}.b3b", cin, c[5], 1)
        cin = c[0] + c[2] + c[4] + c[5]
    assert cin == I3D_FEATURE_DIM
    sd["logits.conv3d.weight"] = 0.01 * torch.randn(num_classes, cin, 1, 1, 1, generator=g)
    sd["logits.conv3d.bias"] = torch.zeros(num_classes)
    return sd


def test_i3d_loads_the_public_layout_with_random_weights(tmp_path: Path) -> None:
    torch.manual_seed(0)
    sd = piergiaj_state_dict(num_classes=157)  # a Charades-sized classifier
    path = tmp_path / "rgb_random.pt"
    torch.save(sd, path)
    model = load_i3d(path)
    assert model.num_classes == 157 and not model.training
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in sd.items())  # every released tensor lands in place
    clip = torch.rand(1, 3, 8, 32, 32) * 2 - 1  # tiny clip: [B, C, T, H, W] in [-1, 1]
    with torch.no_grad():
        feats, logits = model.features(clip), model(clip)
    assert feats.shape == (1, I3D_FEATURE_DIM) and logits.shape == (1, 157)
    assert torch.isfinite(feats).all() and feats.abs().sum() > 0

    frames = [(i / 30, np.random.default_rng(i).integers(0, 256, (40, 56, 3), dtype=np.uint8)) for i in range(12)]
    ex = I3DFeatures(model, window=8, hop=4, size=32)
    windows = list(ex.iter_windows(frames))
    assert [round(t, 4) for t, _ in windows] == [round(3.5 / 30, 4), round(7.5 / 30, 4)]
    assert all(f.shape == (I3D_FEATURE_DIM,) for _, f in windows)
    visual = ex(frames, duration=0.4)
    assert visual.kind == "i3d" and visual.features.shape == (12, I3D_FEATURE_DIM)

    # DataParallel's "module." prefix and a {"state_dict": ...} wrapper are accepted
    torch.save({"state_dict": {f"module.{k}": v for k, v in sd.items()}}, tmp_path / "wrapped.pt")
    assert torch.equal(load_i3d(tmp_path / "wrapped.pt").Mixed_5c.b0.conv3d.weight, sd["Mixed_5c.b0.conv3d.weight"])


def test_i3d_rejects_other_files(tmp_path: Path) -> None:
    sd = piergiaj_state_dict()
    sd["Mixed_4c.b1b.conv3d.weight"] = torch.zeros(224, 112, 1, 3, 3)
    torch.save(sd, tmp_path / "bad_shape.pt")
    with pytest.raises(ModelError, match="Mixed_4c.b1b.conv3d.weight"):
        load_i3d(tmp_path / "bad_shape.pt")
    torch.save({"fc.weight": torch.zeros(3, 3)}, tmp_path / "other.pt")
    with pytest.raises(ModelError):
        load_i3d(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError):
        load_i3d(tmp_path / "junk.pt")
