"""Beats of music and of movement, and how well they line up: music beats (librosa), kinematic beats,
BeatAlign, beat F1, and `beat_alignment`, the one alignment scorer of the package.

This is analysis of signals, not evaluation: generation's beat lock, the synthetic dataset and the metrics all
use it (`metrics` keeps the evaluation-only measures: the official beats coverage / hit, tempo, genre, FAD).

Music beats: librosa's dynamic-programming beat tracker (``librosa.beat.beat_track``), the music beat that
AIST++/FACT and Bailando use for BeatAlign.

Kinematic beats are the moments a dancer "hits" a pose: local minima of the mean joint speed (AIST++/FACT,
Bailando). Here, for a 2D `types.Motion`:

1. joints kept: those visible in the clip (median confidence over detected frames >= 0.5) -- on a half-body
   crop, the pose estimator's hallucinated legs would otherwise add speed that is not the dancer's;
2. positions = normalized keypoints + root trajectory (the global movement is part of the dance, as in
   Bailando's 3D joints), resampled with a cubic spline to 60 fps (linear upsampling makes equal neighbours
   that break strict-minimum detection);
3. speed = mean over the kept joints of |dp/dt| (central differences, so speed sample t belongs to time t/fps);
4. zero-phase Gaussian smoothing of the speed (Bailando: ``gaussian_filter(speed, 5)`` at 60 fps, 83 ms);
5. beats = strict local minima (``argrelextrema(speed, np.less)``), dropping minima in frames where no person
   was detected (filled frames are held or interpolated, which fakes stillness).

BeatAlign (a Gaussian of the distance to the nearest beat of the other set, averaged) comes in two
directions that are not the same number:
- Bailando (``utils/beat_align_score.py``): mean over MUSIC beats of exp(-d^2 / 2 sigma^2), d = distance to the
  nearest motion beat; sigma^2 = 9 frames^2 at 60 fps, i.e. sigma = 50 ms.
- FACT / mint (``tools/calculate_beat_scores.py``): mean over MOTION beats, d to the nearest music beat, the same
  sigma (3 frames at 60 fps).
An empty averaging set has no score (NaN, to be counted and reported); an empty other set scores 0.

Beat F1 matches motion beats and music beats one-to-one within +-100 ms (maximum matching via
``scipy.optimize.linear_sum_assignment``), F1 = 2 * matches / (n_music + n_motion).

`beat_alignment(motion_beats, music_beats)` gives all of these at once as one `BeatAlignment`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..constants import SAMPLE_RATE
from ..types import Motion
from .kinematics import BEAT_FPS, MIN_VISIBILITY, SPEED_SMOOTH_S, joint_speed, visible_joints

#: BeatAlign's sigma: 3 frames at 60 fps (Bailando's ``/ 2 / 9``; FACT's ``sigma=3``).
BEAT_ALIGN_SIGMA_S = 3.0 / 60.0
#: Tolerance window of beat F1.
BEAT_F1_TOLERANCE_S = 0.1


@dataclass(frozen=True)
class KinematicBeats:
    """Kinematic beats of one motion.

    times: float64[K] beat times in seconds (from the motion's start).
    speed: float64[T60] smoothed mean joint speed (normalized units per second) at ``fps``.
    fps: rate of ``speed`` (60).
    joints: indices of the COCO-17 joints that were used.
    """

    times: np.ndarray
    speed: np.ndarray
    fps: float
    joints: tuple[int, ...]

    @property
    def speed_times(self) -> np.ndarray:
        """float64[T60]: the time of each speed sample."""
        return np.arange(self.speed.size) / self.fps


def kinematic_beats(
    motion: Motion,
    *,
    fps: float = BEAT_FPS,
    smooth_s: float = SPEED_SMOOTH_S,
    min_visibility: float = MIN_VISIBILITY,
) -> KinematicBeats:
    """Kinematic beats (strict local minima of the smoothed mean joint speed) of a `Motion`.

    A motion with no visible joint or no detected frame has no beats.
    """
    from scipy.signal import argrelextrema

    joints = visible_joints(motion, min_visibility)
    speed, valid = joint_speed(motion, fps=fps, smooth_s=smooth_s, joints=joints)
    if speed.size < 3 or not joints:
        return KinematicBeats(np.zeros(0), speed, fps, joints)
    idx = argrelextrema(speed, np.less)[0]
    # a minimum next to a filled frame may be the filler's fake stillness: keep minima with detected neighbours
    ok = valid[idx] & valid[np.maximum(idx - 1, 0)] & valid[np.minimum(idx + 1, valid.size - 1)]
    return KinematicBeats(idx[ok] / fps, speed, fps, joints)


def _nearest_distance(points: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """For each of ``points[K]``, the distance to the nearest of ``targets[M]`` (M >= 1)."""
    targets = np.sort(targets)
    pos = np.clip(np.searchsorted(targets, points), 1, targets.size - 1) if targets.size > 1 else None
    if pos is None:
        return np.abs(points - targets[0])
    return np.minimum(np.abs(points - targets[pos - 1]), np.abs(points - targets[pos]))


def beat_align(
    music_beats: np.ndarray,
    motion_beats: np.ndarray,
    *,
    direction: str = "bailando",
    sigma: float = BEAT_ALIGN_SIGMA_S,
) -> float:
    """BeatAlign score in [0, 1] between beat times in seconds.

    direction: ``"bailando"`` averages over music beats (distance to the nearest motion beat);
        ``"fact"`` averages over motion beats (distance to the nearest music beat).
    sigma: Gaussian width in seconds (default 50 ms = 3 frames at 60 fps, both papers' value).
    Returns NaN when the averaging set is empty (no score: count and report it) and 0 when the other is.
    """
    music = np.asarray(music_beats, dtype=np.float64).ravel()
    motion = np.asarray(motion_beats, dtype=np.float64).ravel()
    if direction == "bailando":
        over, to = music, motion
    elif direction == "fact":
        over, to = motion, music
    else:
        raise ValueError(f"direction must be 'bailando' or 'fact', got {direction!r}")
    if over.size == 0:
        return float("nan")
    if to.size == 0:
        return 0.0
    d = _nearest_distance(over, to)
    return float(np.mean(np.exp(-(d**2) / (2.0 * sigma**2))))


@dataclass(frozen=True)
class BeatF1:
    """One-to-one beat matching within a tolerance.

    precision = matches / n_est, recall = matches / n_ref, f1 = 2 * matches / (n_est + n_ref)
    (NaN only when both sets are empty; precision/recall NaN when their denominator is 0).
    """

    f1: float
    precision: float
    recall: float
    matches: int
    n_ref: int
    n_est: int


def match_beats(reference: np.ndarray, estimate: np.ndarray, tolerance: float = BEAT_F1_TOLERANCE_S) -> int:
    """Size of the largest one-to-one matching of beats closer than ``tolerance`` seconds.

    Pairs within the window cost -1 plus a tiny share of their distance (so among maximum matchings the
    closest one is chosen), others cost 0: minimising the total cost maximises the number of matches.
    """
    from scipy.optimize import linear_sum_assignment

    ref = np.asarray(reference, dtype=np.float64).ravel()
    est = np.asarray(estimate, dtype=np.float64).ravel()
    if ref.size == 0 or est.size == 0:
        return 0
    d = np.abs(ref[:, None] - est[None, :])
    within = d <= tolerance + 1e-9
    if not within.any():
        return 0
    cost = np.where(within, -1.0 + d / (tolerance * 10.0 * (min(ref.size, est.size) + 1)), 0.0)
    rows, cols = linear_sum_assignment(cost)
    return int(within[rows, cols].sum())


def beat_f1(reference: np.ndarray, estimate: np.ndarray, tolerance: float = BEAT_F1_TOLERANCE_S) -> BeatF1:
    """Beat F1 of ``estimate`` (e.g. music beats) against ``reference`` (e.g. motion beats), in seconds."""
    n_ref, n_est = int(np.size(reference)), int(np.size(estimate))
    m = match_beats(reference, estimate, tolerance)
    precision = m / n_est if n_est else float("nan")
    recall = m / n_ref if n_ref else float("nan")
    f = 2.0 * m / (n_ref + n_est) if (n_ref + n_est) else float("nan")
    return BeatF1(f, precision, recall, m, n_ref, n_est)


def circular_shift(beats: np.ndarray, offset: float, duration: float) -> np.ndarray:
    """Beat times moved by ``offset`` seconds modulo ``duration`` (the shift null: same count, same rhythm)."""
    b = np.asarray(beats, dtype=np.float64)
    if duration <= 0 or b.size == 0:
        return b.copy()
    return np.sort(np.mod(b + offset, duration))


# --------------------------------------------------------------------------------------------------------------
# Beats of a music waveform


def mono(y: np.ndarray) -> np.ndarray:
    """A waveform as float32[N]: channels of ``[C, N]`` or ``[N, C]`` are averaged."""
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 2:  # [C, N] or [N, C]: average channels like librosa.load(mono=True)
        y = y.mean(axis=0 if y.shape[0] <= y.shape[1] else 1)
    if y.ndim != 1:
        raise ValueError(f"expected a mono waveform [N], got shape {y.shape}")
    return y


def music_beats(y: np.ndarray, sr: int = SAMPLE_RATE, hop_length: int = 512, trim: bool = True) -> np.ndarray:
    """Beat times in seconds (float64[K]) from librosa's dynamic-programming beat tracker.

    This is the music beat that AIST++/FACT and Bailando use for BeatAlign (their features mark
    ``librosa.beat.beat_track`` beats). Silence gives no beats.
    """
    import librosa

    y = mono(y)
    if y.size < hop_length * 4 or not np.any(y):
        return np.zeros(0)
    _, beats = librosa.beat.beat_track(y=y, sr=sr, hop_length=hop_length, trim=trim, units="time")
    return np.asarray(beats, dtype=np.float64)


@dataclass(frozen=True)
class BeatAlignment:
    """How well one music's beats land on one dance's beats (`beat_alignment`).

    beat_align: BeatAlign in Bailando's direction (over music beats); beat_align_fact: in FACT's direction
    (over motion beats); f1, precision, recall: beat F1 of the music beats against the motion beats at
    ``BEAT_F1_TOLERANCE_S``; matches: beats matched one-to-one; music_beats, motion_beats: how many of each.
    """

    beat_align: float
    beat_align_fact: float
    f1: float
    precision: float
    recall: float
    matches: int
    music_beats: int
    motion_beats: int

    def report_scores(self) -> dict[str, float]:
        """The three columns of the evaluation reports (``report.json``): ba_bailando, ba_fact, beat_f1."""
        return {"ba_bailando": self.beat_align, "ba_fact": self.beat_align_fact, "beat_f1": self.f1}


def beat_alignment(motion_beats: np.ndarray, music_beats: np.ndarray) -> BeatAlignment:
    """BeatAlign (both directions) and beat F1 of music beat times against motion beat times (seconds)."""
    f = beat_f1(motion_beats, music_beats)
    return BeatAlignment(
        beat_align=float(beat_align(music_beats, motion_beats, direction="bailando")),
        beat_align_fact=float(beat_align(music_beats, motion_beats, direction="fact")),
        f1=float(f.f1),
        precision=float(f.precision),
        recall=float(f.recall),
        matches=f.matches,
        music_beats=f.n_est,
        motion_beats=f.n_ref,
    )
