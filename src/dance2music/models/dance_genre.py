"""Which dance genre a motion is: a small classifier on the dancer's movement, so that `d2m generate` can pick
the music's genre from the dance when the user does not name one.

D2M-GAN's generator takes an optional genre; without one it makes music of no particular style (on the synthetic
set its music then sounded alike for every genre). The dance itself says a lot about its genre: tempo, how much
and how sharply each joint moves, the stance. This model reads that off the same 53-d motion features the
generator takes (`types.Motion.features`), in 2-s windows: per window the mean and standard deviation of every
feature and of its frame-to-frame change (212 numbers), of which the movement's (positions and root velocity,
`MOVEMENT_COLUMNS`: 144) are standardised, then multinomial logistic regression. A video's genre is the argmax
of the window probabilities averaged over the whole dance.

It knows when it does not know (`assess`): its probabilities are calibrated by temperature scaling on held-out
dances (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017), and each window's Mahalanobis
distance to the training windows (Ledoit-Wolf shrunk covariance; Lee et al., NeurIPS 2018, use the same distance
to flag inputs unlike the training data) says whether the movement is like anything it learned from. A dance
whose median window distance is past `ood_threshold` (chosen so that ~97.5 % of held-out synthetic windows
pass), or whose calibrated probability is under `min_probability`, gets no genre rather than a confident wrong
one. The pose estimator's confidences are left out: they describe the video and the estimator (synthetic
dancers' jittered confidences, MediaPipe's visibilities, a keypoint file's ones), not the dance, and they alone
made every real dance look unlike the training set.

Weights are plain arrays (safetensors, loaded with numpy alone: no torch needed); `fit` trains one with
scikit-learn (`scripts/train_dance_genre.py`), and the shipped one is registered as ``dance-genre``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..constants import COCO17, GENRE_NAMES, GENRES, MOTION_FPS
from ..errors import ModelError
from ..io.files import atomic_output
from ..pretrained.registry import resolve
from ..types import Motion

#: Window length (s) of the classifier's features; dances shorter than this are one window.
WINDOW_SECONDS = 2.0
_FORMAT = "dance2music.dance-genre"
#: Columns of `window_features` that describe the movement: every statistic of the 34 positions and the root
#: velocity, none of the 17 confidences (`types.Motion.features` order: xy, confidences, root velocity).
MOVEMENT_COLUMNS = np.asarray([k * 53 + i for k in range(4) for i in (*range(34), 51, 52)], np.int64)
#: Held-out synthetic windows that pass the out-of-distribution check (the rest sets `ood_threshold`).
OOD_PASS_SHARE = 0.975
#: Accuracy that the held-out windows at or above `min_probability` must reach.
CONFIDENT_ACCURACY = 0.85


def feature_names() -> list[str]:
    """Names of the 212 columns of `window_features` (e.g. ``"std(left_wrist.y)"``)."""
    base = [f"{j}.{a}" for j in COCO17 for a in "xy"] + [f"{j}.conf" for j in COCO17] + ["root.vx", "root.vy"]
    return [f"{stat}({b})" for stat in ("mean", "std", "mean|diff|", "std(diff)") for b in base]


@dataclass(frozen=True)
class GenreGuess:
    """What the classifier says of a dance.

    code: the most probable genre (AIST++ code); probability: its calibrated probability (mean over windows);
    distance: median over windows of the Mahalanobis distance to the training windows (NaN without statistics);
    verdict: "dance" (use ``code``), "uncertain" (probability under the threshold) or "unlike-training";
    reason: one line for the user when the verdict is not "dance".
    """

    code: str
    probability: float
    distance: float
    verdict: str
    reason: str = ""

    @property
    def genre(self) -> str | None:
        """The genre to use, or None when the classifier does not know."""
        return self.code if self.verdict == "dance" else None


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
    """Take ``columns`` of `window_features`, standardise (``mean``, ``scale``), then
    ``softmax((x @ coef.T + intercept) / temperature)`` over ``genres``.

    columns: int[D] (None: all 212); ood_location [D] and ood_precision [D x D]: the training windows' mean and
    shrunk inverse covariance (standardised units), ood_threshold: the window distance past which a window is
    unlike them; min_probability: the calibrated probability under which the classifier is unsure.
    """

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # [G x D]
    intercept: np.ndarray  # [G]
    genres: list[str] = field(default_factory=lambda: list(GENRES))
    meta: dict[str, Any] = field(default_factory=dict)
    columns: np.ndarray | None = None
    temperature: float = 1.0
    ood_location: np.ndarray | None = None
    ood_precision: np.ndarray | None = None
    ood_threshold: float = float("inf")
    min_probability: float = 0.0

    def _standardised(self, motion: Motion) -> np.ndarray:
        return self._standardise(window_features(motion).astype(np.float64))

    def window_logits(self, motion: Motion) -> np.ndarray:
        """float64[W, G]: uncalibrated logits of each 2-s window."""
        return self._logits_of(window_features(motion).astype(np.float64))

    def window_probabilities(self, motion: Motion) -> np.ndarray:
        """float32[W, G]: the calibrated genre probabilities of each 2-s window."""
        return _softmax(self.window_logits(motion) / self.temperature).astype(np.float32)

    def window_distances(self, motion: Motion) -> np.ndarray:
        """float64[W]: each window's Mahalanobis distance to the training windows (NaN without statistics)."""
        x = self._standardised(motion)
        if self.ood_precision is None or self.ood_location is None:
            return np.full(len(x), np.nan)
        d = x - self.ood_location
        return np.sqrt(np.maximum(np.einsum("wi,ij,wj->w", d, self.ood_precision.astype(np.float64), d), 0.0))

    def assess(self, motion: Motion) -> GenreGuess:
        """The dance's genre, or why there is none: unlike the training dances first, then unsure."""
        p = self.predict_proba(motion)
        i = int(np.argmax(p))
        code, prob = self.genres[i], float(p[i])
        dist = self.window_distances(motion)
        d = float(np.median(dist)) if np.isfinite(dist).all() else float("nan")
        if np.isfinite(d) and d > self.ood_threshold:
            x = self._standardised(motion)
            z = np.abs(x - self.ood_location).mean(axis=0)  # per-feature distance in training standard deviations
            names = np.asarray(feature_names())[self.columns if self.columns is not None else slice(None)]
            worst = ", ".join(f"{names[j]} {z[j]:.0f} sd" for j in np.argsort(-z)[:2])
            reason = (
                f"the movement is unlike the dances the genre classifier learned from (distance {d:.0f}, theirs up "
                f"to {self.ood_threshold:.0f}; furthest: {worst}), so no genre was chosen"
            )
            return GenreGuess(code, prob, d, "unlike-training", reason)
        if prob < self.min_probability:
            reason = (
                f"the dance's genre is unclear (best guess {code} {GENRE_NAMES.get(code, code)}, p={prob:.2f} < "
                f"{self.min_probability:.2f}), so no genre was chosen"
            )
            return GenreGuess(code, prob, d, "uncertain", reason)
        return GenreGuess(code, prob, d, "dance")

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
    def fit(
        cls,
        motions: list[Motion],
        labels: list[int],
        *,
        c: float = 0.1,
        columns: np.ndarray | None = MOVEMENT_COLUMNS,
        meta: dict | None = None,
    ):
        """Train on whole dances (each cut into windows that inherit its label); needs scikit-learn.

        Calibration and the out-of-distribution statistics come after, from held-out dances (`calibrate`).
        """
        from sklearn.linear_model import LogisticRegression

        x, ys = _windows(motions, labels, columns)
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
        cols = None if columns is None else np.asarray(columns, np.int64)
        return cls(
            mean.astype(f32), scale.astype(f32), coef.astype(f32), intercept.astype(f32),
            meta=dict(meta or {}), columns=cols,
        )  # fmt: skip

    def calibrate(
        self,
        train: tuple[list[Motion], list[int]],
        held_out: tuple[list[Motion], list[int]],
        *,
        pass_share: float = OOD_PASS_SHARE,
        accuracy: float = CONFIDENT_ACCURACY,
    ) -> dict[str, float]:
        """Fit what lets the classifier say it does not know; returns the numbers it chose.

        temperature: minimises the negative log-likelihood of the ``held_out`` windows (temperature scaling);
        ood statistics: mean and Ledoit-Wolf covariance of the ``train`` windows, ``ood_threshold`` = the
        ``pass_share`` quantile of the held-out windows' distances; ``min_probability``: the lowest calibrated
        window probability at which the held-out windows above it are right at least ``accuracy`` of the time.
        """
        from scipy.optimize import minimize_scalar
        from sklearn.covariance import LedoitWolf

        xh, yh = _windows(*held_out, None)
        zh = self._logits_of(xh)

        def nll(log_t: float) -> float:
            p = _softmax(zh / np.exp(log_t))
            return float(-np.mean(np.log(p[np.arange(len(yh)), yh] + 1e-12)))

        nll_before = nll(0.0)
        self.temperature = float(np.exp(minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded").x))
        xt, _ = _windows(*train, None)
        st = self._standardise(xt)
        lw = LedoitWolf().fit(st)
        self.ood_location = lw.location_.astype(np.float32)
        self.ood_precision = lw.precision_.astype(np.float32)
        sh = self._standardise(xh) - lw.location_
        dist = np.sqrt(np.maximum(np.einsum("wi,ij,wj->w", sh, lw.precision_, sh), 0.0))
        self.ood_threshold = float(np.quantile(dist, pass_share))
        p = _softmax(zh / self.temperature)
        conf, right = p.max(axis=1), p.argmax(axis=1) == yh
        self.min_probability = 1.0
        for t in np.round(np.arange(0.0, 1.0, 0.05), 2):
            if right[conf >= t].size and right[conf >= t].mean() >= accuracy:
                self.min_probability = float(t)
                break
        sure = conf >= self.min_probability
        return {
            "temperature": self.temperature,
            "nll_before": nll_before,
            "nll_after": nll(np.log(self.temperature)),
            "ood_threshold": self.ood_threshold,
            "ood_shrinkage": float(lw.shrinkage_),
            "min_probability": self.min_probability,
            "confident_share": float(np.mean(sure)),
            "confident_accuracy": float(right[sure].mean()) if sure.any() else math.nan,  # NaN: none that sure
        }

    def _standardise(self, x: np.ndarray) -> np.ndarray:
        """Rows of all 212 window statistics -> the standardised columns the model reads."""
        if self.columns is not None:
            x = x[:, self.columns]
        return (x - self.mean) / self.scale

    def _logits_of(self, x: np.ndarray) -> np.ndarray:
        return self._standardise(x) @ self.coef.T.astype(np.float64) + self.intercept

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``path`` (safetensors) and ``<stem>.json`` (genres, meta, calibration) beside it, atomically."""
        from safetensors.numpy import save_file

        path = Path(path)
        calib = {"temperature": self.temperature, "ood_threshold": self.ood_threshold,
                 "min_probability": self.min_probability}  # fmt: skip
        header = {"format": _FORMAT, "genres": json.dumps(self.genres), "meta": json.dumps(self.meta),
                  "calibration": json.dumps(calib)}  # fmt: skip
        arrays = {"mean": self.mean, "scale": self.scale, "coef": self.coef, "intercept": self.intercept}
        arrays = {k: np.ascontiguousarray(v, np.float32) for k, v in arrays.items()}
        if self.ood_location is not None and self.ood_precision is not None:
            arrays["ood_location"] = np.ascontiguousarray(self.ood_location, np.float32)
            arrays["ood_precision"] = np.ascontiguousarray(self.ood_precision, np.float32)
        if self.columns is not None:
            arrays["columns"] = np.ascontiguousarray(self.columns, np.int64)
        with atomic_output(path) as tmp:
            save_file(arrays, str(tmp), metadata=header)
        side = path.with_suffix(".json")
        doc = {"format": _FORMAT, "genres": self.genres, "calibration": calib, "meta": self.meta}
        with atomic_output(side) as tmp:
            Path(tmp).write_text(json.dumps(doc, indent=2))
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
        calib = json.loads(header.get("calibration") or "{}")  # files from before calibration have none
        return cls(
            arrays["mean"], arrays["scale"], arrays["coef"], arrays["intercept"],
            genres=json.loads(header["genres"]), meta=json.loads(header.get("meta") or "{}"),
            columns=arrays.get("columns"), temperature=float(calib.get("temperature", 1.0)),
            ood_location=arrays.get("ood_location"), ood_precision=arrays.get("ood_precision"),
            ood_threshold=float(calib.get("ood_threshold", float("inf"))),
            min_probability=float(calib.get("min_probability", 0.0)),
        )  # fmt: skip

    @classmethod
    def from_pretrained(cls, name_or_path: str = "dance-genre") -> DanceGenreClassifier:
        return cls.load(resolve(name_or_path, kind="dance_genre"))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def _windows(motions: list[Motion], labels: list[int], columns: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Window statistics of whole dances (float64[N, D], ``columns`` of them or all) and their labels int[N]."""
    xs, ys = [], []
    for m, y in zip(motions, labels):
        w = window_features(m)
        xs.append(w if columns is None else w[:, columns])
        ys.extend([int(y)] * len(w))
    return np.concatenate(xs).astype(np.float64), np.asarray(ys, np.int64)
