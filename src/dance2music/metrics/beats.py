"""Music-side beat metrics: the paper's beats coverage / beats hit, the LORIS variant, onsets and tempo.

Beats coverage and beats hit follow the official evaluation script of D2M-GAN (L-YeZhu/Beats_Scores,
``beats_scores.py``), re-written from its definition:

1. onsets of each waveform with ``librosa.onset.onset_detect(sr=22050, wait=1, delta=0.2, pre_avg=1,
   post_avg=1, post_max=1, units="time")`` (librosa's default hop 512 and default ``pre_max``; librosa >= 0.10
   needs ``y=`` as a keyword, the official script passes it positionally for librosa < 0.10);
2. onsets binarised into 1-second bins: ``ceil(len(y) / sr)`` bins, bin ``int(trunc(t))`` set to 1;
3. coverage = (generated bins with an onset) / (reference bins with an onset) -- not bounded by 1;
   hit = (bins with an onset in both) / (reference bins with an onset);
4. both averaged over clips.

The official script asserts equal bin counts; here the bins are compared over the common length (the
reference is cut to the generated clip, as LORIS does, and a longer generated clip is cut to the reference).
A reference with no onset makes the official script divide by zero: here the scores are NaN and
``BeatsScores.defined`` is False, and `aggregate_beats_scores` reports how many clips were left out.

The LORIS variant (OpenGVLab/LORIS ``beats_scores.py``) redefines coverage as hits / generated bins
(precision) and hit as hits / reference bins (recall), adds their F1, and detects onsets with
``pre_avg = post_avg = pre_max = post_max = 3``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from ..constants import SAMPLE_RATE
from ..features.beats import mono

#: Peak-picking parameters of the official D2M-GAN script (librosa fills in ``pre_max`` = 0.03*sr//hop = 1).
OFFICIAL_ONSET_PARAMS: Mapping[str, float] = {"wait": 1, "delta": 0.2, "pre_avg": 1, "post_avg": 1, "post_max": 1}
#: Peak-picking parameters of the LORIS script.
LORIS_ONSET_PARAMS: Mapping[str, float] = {
    "wait": 1,
    "delta": 0.2,
    "pre_avg": 3,
    "post_avg": 3,
    "pre_max": 3,
    "post_max": 3,
}


def detect_onsets(
    y: np.ndarray, sr: int = SAMPLE_RATE, params: Mapping[str, float] = OFFICIAL_ONSET_PARAMS
) -> np.ndarray:
    """Onset times in seconds of a waveform ``y[N]``, with the official script's peak picking by default.

    Returns float64[K], sorted. A silent (or constant) waveform has no onsets.
    """
    import librosa

    y = mono(y)
    if y.size == 0:
        return np.zeros(0)
    return np.asarray(librosa.onset.onset_detect(y=y, sr=sr, units="time", **dict(params)), dtype=np.float64)


def onset_bins(onset_times: np.ndarray, num_samples: int, sr: int = SAMPLE_RATE) -> np.ndarray:
    """The official binarisation: int8[ceil(num_samples / sr)], 1 where a 1-second bin holds an onset.

    Bin ``int(trunc(t))`` is set for each onset time ``t``; an onset past the last bin (cannot happen for
    onsets of the same waveform) is ignored rather than raising like the official list indexing would.
    """
    n = int(math.ceil(num_samples / sr))
    bins = np.zeros(n, dtype=np.int8)
    idx = np.trunc(np.asarray(onset_times, dtype=np.float64)).astype(np.int64)
    idx = idx[(idx >= 0) & (idx < n)]
    bins[idx] = 1
    return bins


@dataclass(frozen=True)
class BeatsScores:
    """Beats scores of one generated clip against its reference.

    coverage, hit: the official D2M-GAN definitions (NaN when the reference has no onset bin).
    n_ref, n_gen, n_hit: reference bins with an onset, generated bins with an onset, bins with both.
    defined: False when the reference has no onset (the official script would divide by zero).
    """

    coverage: float
    hit: float
    n_ref: int
    n_gen: int
    n_hit: int
    n_bins: int

    @property
    def defined(self) -> bool:
        return self.n_ref > 0


def beats_scores_from_bins(ref_bins: np.ndarray, gen_bins: np.ndarray) -> BeatsScores:
    """Official coverage and hit from two binary bin vectors (compared over their common length)."""
    n = min(len(ref_bins), len(gen_bins))
    ref = np.asarray(ref_bins[:n], dtype=bool)
    gen = np.asarray(gen_bins[:n], dtype=bool)
    n_ref, n_gen, n_hit = int(ref.sum()), int(gen.sum()), int((ref & gen).sum())
    if n_ref == 0:
        return BeatsScores(float("nan"), float("nan"), n_ref, n_gen, n_hit, n)
    return BeatsScores(n_gen / n_ref, n_hit / n_ref, n_ref, n_gen, n_hit, n)


def beats_scores(
    ref: np.ndarray,
    gen: np.ndarray,
    sr: int = SAMPLE_RATE,
    params: Mapping[str, float] = OFFICIAL_ONSET_PARAMS,
) -> BeatsScores:
    """Official beats coverage / hit of a generated waveform ``gen[N]`` against the reference ``ref[M]``.

    Both at ``sr`` (the official script loads at 22050 Hz). ``params`` are the onset peak-picking
    parameters; pass `LORIS_ONSET_PARAMS` for LORIS's counts (then use `loris_scores` on the result).
    """
    ref, gen = mono(ref), mono(gen)
    ref_bins = onset_bins(detect_onsets(ref, sr, params), ref.size, sr)
    gen_bins = onset_bins(detect_onsets(gen, sr, params), gen.size, sr)
    return beats_scores_from_bins(ref_bins, gen_bins)


@dataclass(frozen=True)
class LorisScores:
    """LORIS's variant of one clip: coverage = hits / generated bins, hit = hits / reference bins.

    coverage is 0 when nothing was generated (LORIS's convention); hit is NaN when the reference is empty
    (LORIS scores that 0, which would silently pull the mean down; here it is left out and counted).
    """

    coverage: float
    hit: float

    @property
    def defined(self) -> bool:
        return not math.isnan(self.hit)


def loris_scores(s: BeatsScores) -> LorisScores:
    """The LORIS precision/recall pair from the bin counts of `BeatsScores` (computed with LORIS's params)."""
    coverage = s.n_hit / s.n_gen if s.n_gen else 0.0
    hit = s.n_hit / s.n_ref if s.n_ref else float("nan")
    return LorisScores(coverage, hit)


def f1(precision: float, recall: float) -> float:
    """Harmonic mean; 0 when both are 0, NaN when either is NaN."""
    if math.isnan(precision) or math.isnan(recall):
        return float("nan")
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


@dataclass(frozen=True)
class BeatsSummary:
    """Means over clips. ``n_clips`` clips were scored, ``n_undefined`` had no reference onset and are left out.

    loris_f1 is computed from the mean LORIS coverage and hit, as LORIS's script does.
    """

    coverage: float
    hit: float
    coverage_std: float
    hit_std: float
    loris_coverage: float
    loris_hit: float
    loris_f1: float
    n_clips: int
    n_undefined: int


def aggregate_beats_scores(
    official: Iterable[BeatsScores], loris: Iterable[LorisScores] | None = None
) -> BeatsSummary:
    """Average per-clip scores over the clips whose reference has onsets (std with ddof=1, as LORIS)."""
    official = list(official)
    loris = list(loris) if loris is not None else []
    cov = np.array([s.coverage for s in official if s.defined])
    hit = np.array([s.hit for s in official if s.defined])
    lc = np.array([s.coverage for s in loris if s.defined])
    lh = np.array([s.hit for s in loris if s.defined])

    def mean(a: np.ndarray) -> float:
        return float(a.mean()) if a.size else float("nan")

    def std(a: np.ndarray) -> float:
        return float(a.std(ddof=1)) if a.size > 1 else float("nan")

    return BeatsSummary(
        coverage=mean(cov),
        hit=mean(hit),
        coverage_std=std(cov),
        hit_std=std(hit),
        loris_coverage=mean(lc),
        loris_hit=mean(lh),
        loris_f1=f1(mean(lc), mean(lh)),
        n_clips=len(official),
        n_undefined=sum(not s.defined for s in official),
    )


# --------------------------------------------------------------------------------------------------------------
# Onsets and tempo of a music waveform (the music's beats are `features.beats.music_beats`)


def music_onsets(y: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Onset times in seconds with librosa's default peak picking (for plots and onset-based alignment)."""
    return detect_onsets(y, sr, params={})


def estimate_tempo(y: np.ndarray, sr: int = SAMPLE_RATE, hop_length: int = 512) -> float:
    """Global tempo in BPM (librosa's autocorrelation estimate); NaN for silence or a clip too short."""
    import librosa

    y = mono(y)
    if y.size < hop_length * 4 or not np.any(y):
        return float("nan")
    env = librosa.onset.onset_strength(y=y, sr=sr, hop_length=hop_length)
    if not env.any():
        return float("nan")
    return float(librosa.feature.tempo(onset_envelope=env, sr=sr, hop_length=hop_length)[0])


def tempo_error(estimate: float, reference: float, octave: bool = True) -> float:
    """Relative tempo error ``|est - ref| / ref``.

    With ``octave`` the estimate may be off by a factor 2 or 1/2 (the usual tolerance: a beat tracker on
    half-time or double-time music is not wrong about the tempo) and the smallest error counts.
    NaN when either tempo is unknown.
    """
    if not (math.isfinite(estimate) and math.isfinite(reference)) or reference <= 0:
        return float("nan")
    factors = (0.5, 1.0, 2.0) if octave else (1.0,)
    return min(abs(estimate * f - reference) / reference for f in factors)
