"""Small array helpers every layer uses."""

from __future__ import annotations

from typing import Literal

import numpy as np


def fit_length(x: np.ndarray, n: int, *, axis: int = -1, pad: Literal["zeros", "edge"] = "zeros") -> np.ndarray:
    """``x`` cut or padded to ``n`` entries along ``axis`` (dtype kept).

    pad: ``"zeros"`` appends zeros; ``"edge"`` repeats the last entry (zeros when ``x`` is empty there). Two
    streams of one recording (audio and frames, motion and visual) can differ by a few entries at the end.
    """
    x = np.asarray(x)
    axis = axis % x.ndim
    have = x.shape[axis]
    if have >= n:
        return x[(slice(None),) * axis + (slice(0, n),)]
    widths = [(0, 0)] * x.ndim
    widths[axis] = (0, n - have)
    mode = "edge" if pad == "edge" and have else "constant"
    return np.pad(x, widths, mode=mode)
