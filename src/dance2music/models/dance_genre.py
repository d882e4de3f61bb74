"""Which dance genre a motion is: a small classifier on the dancer's movement, so that `d2m generate` can pick
the music's genre from the dance when the user does not name one.

D2M-GAN's generator takes an optional genre; without one it makes music of no particular style (on the synthetic
set its music then sounded alike for every genre). The dance itself says a lot about its genre: tempo, how much
and how sharply each joint moves, the stance. This model reads that off the same 53-d motion features the
generator takes (`types.Motion.features`), in 2-s windows: per window the mean and standard deviation of every
feature and of its frame-to-frame change (212 numbers), standardised, then multinomial logistic regression. A
video's genre is the argmax of the window probabilities averaged over the whole dance.

Weights are plain arrays (safetensors, loaded with numpy alone: no torch needed); `fit` trains one with
scikit-learn (`scripts/train_dance_genre.py`), and the shipped one is registered as ``dance-genre``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..constants import GENRES, MOTION_FPS
from ..errors import ModelError
from ..types import Motion

#: Window length (s) of the classifier's features; dances shorter than this are one window.
WINDOW_SECONDS = 2.0
_FORMAT = "dance2music.dance-genre"


def window_features(motion: Motion, seconds: float = WINDOW_SECONDS) -> np.ndarray:
    """float32[W, 4 * 53]: per window of ``seconds`` (hop = length; the last partial window is dropped unless
    it is the only one) the mean and std of each motion feature and of its frame-to-frame difference."""
    m = motion if motion.fps == MOTION_FPS else motion.resample(MOTION_FPS)
    f = m.features().astype(np.float64)
    if len(f) < 2:
        raise ModelError("a dance of fewer than 2 frames has no movement to classify")
    n = max(2, int(round(seconds * MOTION_FPS)))
    starts = list(range(0, len(f) - n + 1, n)) or [0]
    rows = []
    for s in starts:
        w = f[s : s + n]
        d = np.diff(w, axis=0)
        rows.append(np.concatenate([w.mean(0), w.std(0), np.abs(d).mean(0), d.std(0)]))
    return np.asarray(rows, np.float32)


@dataclass
class DanceGenreClassifier:
    """Standardise (``mean``, ``scale``), then ``softmax(x @ coef.T + intercept)`` over ``genres``."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # [G x D]
    intercept: np.ndarray  # [G]
    genres: list[str] = field(default_factory=lambda: list(GENRES))
    meta: dict[str, Any] = field(default_factory=dict)

    def window_probabilities(self, motion: Motion) -> np.ndarray:
        """float32[W, G]: the genre probabilities of each 2-s window."""
        x = (window_features(motion) - self.mean) / self.scale
        z = x @ self.coef.T + self.intercept
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)

    def predict_proba(self, motion: Motion) -> np.ndarray:
        """float32[G]: the window probabilities averaged over the dance."""
        return self.window_probabilities(motion).mean(axis=0)

    def predict(self, motion: Motion) -> tuple[str, float]:
        """(AIST++ genre code, its probability) for the dance."""
        p = self.predict_proba(motion)
        i = int(np.argmax(p))
        return self.genres[i], float(p[i])

    # ---- training and files ----------------------------------------------------------------------------
    @classmethod
    def fit(cls, motions: list[Motion], labels: list[int], *, c: float = 0.1, meta: dict | None = None):
        """Train on whole dances (each cut into windows that inherit its label); needs scikit-learn."""
        from sklearn.linear_model import LogisticRegression

        xs, ys = [], []
        for m, y in zip(motions, labels):
            w = window_features(m)
            xs.append(w)
            ys.extend([int(y)] * len(w))
        x = np.concatenate(xs).astype(np.float64)
        mean, scale = x.mean(0), x.std(0)
        scale[scale < 1e-8] = 1.0
        y = np.asarray(ys)
        lr = LogisticRegression(C=c, max_iter=5000).fit((x - mean) / scale, y)
        coef = np.zeros((len(GENRES), x.shape[1]))
        intercept = np.full(len(GENRES), -1e4)  # a genre never seen in training is never predicted
        binary = len(lr.classes_) == 2  # one logit for the second class: softmax([0, z]) is its sigmoid
        coef[lr.classes_] = np.vstack([np.zeros_like(lr.coef_), lr.coef_]) if binary else lr.coef_
        intercept[lr.classes_] = np.r_[0.0, lr.intercept_] if binary else lr.intercept_
        f32 = np.float32
        return cls(mean.astype(f32), scale.astype(f32), coef.astype(f32), intercept.astype(f32), meta=dict(meta or {}))

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``path`` (safetensors) and ``<stem>.json`` (genres, meta) beside it, atomically."""
        from safetensors.numpy import save_file

        from ..io.files import atomic_output

        path = Path(path)
        header = {"format": _FORMAT, "genres": json.dumps(self.genres), "meta": json.dumps(self.meta)}
        arrays = {"mean": self.mean, "scale": self.scale, "coef": self.coef, "intercept": self.intercept}
        with atomic_output(path) as tmp:
            save_file({k: np.ascontiguousarray(v, np.float32) for k, v in arrays.items()}, str(tmp), metadata=header)
        side = path.with_suffix(".json")
        with atomic_output(side) as tmp:
            Path(tmp).write_text(json.dumps({"format": _FORMAT, "genres": self.genres, "meta": self.meta}, indent=2))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> DanceGenreClassifier:
        from safetensors import safe_open

        path = Path(path)
        try:
            with safe_open(str(path), framework="numpy") as f:
                header = dict(f.metadata() or {})
                arrays = {k: f.get_tensor(k) for k in f.keys()}
        except Exception as e:  # safetensors raises several types for a bad file
            raise ModelError(f"cannot read {path} as a dance-genre model ({e})") from e
        if header.get("format") != _FORMAT:
            raise ModelError(f"{path} is not a dance2music dance-genre model")
        return cls(
            arrays["mean"], arrays["scale"], arrays["coef"], arrays["intercept"],
            genres=json.loads(header["genres"]), meta=json.loads(header.get("meta") or "{}"),
        )  # fmt: skip

    @classmethod
    def from_pretrained(cls, name_or_path: str = "dance-genre") -> DanceGenreClassifier:
        from ..pretrained.registry import resolve

        return cls.load(resolve(name_or_path, kind="dance_genre"))
