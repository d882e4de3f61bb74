"""``d2m evaluate --motion DIR``: music generated from keypoint sequences, scored against the dance's own beats.

The real-footage report for dances that come as keypoints (the real-motion panel: AIST++ 2D COCO-17 keypoints in
pixels, ``<sequence>.npz`` with ``keypoints2d`` [T, 17, 2] or [T, 17, 3], ``fps`` and optionally ``genre``,
``music`` and ``nominal_bpm``). For every sequence and model:

1. The model's input is built the way `d2m generate` analyses a video (`keypoints_to_motion`): the frames that
   `features.extract.AnalysisGrid` keeps at ``analysis_fps`` (default `GENERATE_ANALYSIS_FPS`), then
   `features.pose.track_to_motion` (zero-phase smoothing, cubic resampling to `MOTION_FPS`,
   `motion_formats.normalize_keypoints`). ``degrade=True`` first degrades the keypoints as video pose does
   (`degrade_keypoints`: jitter, dropped detections, a half-body crop), with a fixed seed.
2. The reference is the dance's kinematic beats (`features.beats.kinematic_beats`) from the clean keypoints at
   every frame: the ground truth the music should follow, whatever the model was shown.
3. Music: the model's ``generate(motion, seed=s)`` (`MusicModel`; the CLI passes `api.Dance2Music`) for each
   seed, for the whole sequence and, as separate short dances, for each non-overlapping excerpt of
   ``excerpt_seconds`` (scale ``"2s"``: each excerpt's keypoints go through step 1 alone, as a 2-s video would);
   scale ``"2s cut"`` cuts the whole sequence's music instead.
4. Each unit (a sequence, or an excerpt) is scored with `features.beats.beat_alignment` (the one alignment
   scorer: BeatAlign in Bailando's and FACT's directions, beat F1 at +-100 ms; music beats by
   `features.beats.music_beats`) for (a) the generated music, (b) the shift null: its music beats circularly
   shifted by ``shift_offsets`` offsets spread over the unit (mean score), (c) mismatched music: the music
   generated (same model, same seed) for the other sequences, cut to the unit's length
   (`evaluate_videos.mismatch_cuts`; for excerpts, the other sequences' excerpt at the same place).
5. Scores are averaged over seeds within a unit; pooled means are over units with their standard errors, and
   p-values come from a paired sign-flip permutation test over units (`sign_flip_p`, one-sided: generated
   above the baseline; exact for up to 16 units). Excerpts of one sequence are not independent: read the
   excerpt p-values as optimistic.
6. Per sequence: the music's tempo (`beats.estimate_tempo`) against the dance's ``nominal_bpm`` and against the
   tempo read from the movement (`dance_tempo`), within `TEMPO_TOLERANCE` or double / half
   (`beats.tempo_error`); loudness (ITU-R BS.1770 integrated, pyloudnorm; else RMS dBFS), the share of 100-ms
   frames below `SILENCE_DBFS`, onset rate and spectral-flux variation (`music_stats`); and between sequences
   the correlation of the music's mean log-mel spectra (a lower level that ignores the dance makes the same
   spectrum for every dance).
"""

from __future__ import annotations

import json
import math
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..constants import COCO17_INDEX, GENERATE_ANALYSIS_FPS, GENRES, SAMPLE_RATE
from ..errors import InputError
from ..features.beats import beat_alignment, circular_shift, kinematic_beats, music_beats
from ..features.extract import AnalysisGrid
from ..features.pose import track_to_motion
from ..features.rhythm import estimate_rhythm
from ..io.files import atomic_output
from ..io.loudness import frame_levels_dbfs
from ..types import Motion
from . import beats as B
from .beats import music_onsets, tempo_error
from .evaluate_videos import mismatch_cuts, score_music

#: Excerpt lengths (s) of the short-clip scales.
EXCERPT_SECONDS = (2.0, 6.0)
#: Offsets of the shift null per unit.
SHIFT_OFFSETS = 20
#: The shift null's offsets keep at least this far (s) from 0 and from the unit's length (a shift by less is
#: hardly a shift: BeatAlign's sigma is 50 ms and F1's window 100 ms).
MIN_SHIFT_S = 0.25
#: Cuts of each mismatched sequence's music for a whole sequence (`evaluate_videos.mismatch_cuts`).
MISMATCH_CUTS = 2
#: Relative tempo error (after allowing double / half) that counts as the same tempo.
TEMPO_TOLERANCE = 0.04
#: A 100-ms frame below this RMS level (dBFS) counts as silent.
SILENCE_DBFS = -40.0
#: Degradations as video pose degrades keypoints (issue 18): jitter sd as a share of the torso length, the
#: share of frames with no detection, and the joints a half-body crop loses (knees and ankles; the hips stay
#: at the crop's edge).
DEGRADE_JITTER = 0.03
DEGRADE_DROP = 0.10
LOWER_BODY = tuple(COCO17_INDEX[j] for j in ("left_knee", "right_knee", "left_ankle", "right_ankle"))
_METRICS = ("ba_bailando", "ba_fact", "beat_f1")
_GEN, _SHIFT, _MIS = "generated", "shift null", "mismatched"
#: ``genre`` value that generates each sequence with the genre its file names (a user who knows the style).
LABELLED_GENRE = "labelled"


@dataclass
class KeypointSequence:
    """One dance as pixel keypoints.

    keypoints: float32[T, 17, 3] COCO-17 x, y (pixels, y down) and confidence (1 where the file has none).
    fps: frame rate; genre, music, nominal_bpm: what the file says of the dance (None when it does not).
    """

    name: str
    keypoints: np.ndarray
    fps: float
    genre: str | None = None
    music: str | None = None
    nominal_bpm: float | None = None

    @property
    def duration(self) -> float:
        return self.keypoints.shape[0] / self.fps


def load_keypoint_sequence(path: str | os.PathLike) -> KeypointSequence:
    """A ``.npz`` with ``keypoints2d`` [T, 17, 2|3] in pixels and ``fps`` -> `KeypointSequence`."""
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as d:
            data = {k: d[k] for k in d.files}
    except Exception as e:  # numpy raises several types for a damaged file
        raise InputError(f"cannot read {p} as keypoints (.npz): {e}") from None
    if "keypoints2d" not in data:
        raise InputError(f"{p} has no 'keypoints2d' (keys: {', '.join(data)})")
    kp = np.asarray(data["keypoints2d"], np.float32)
    if kp.ndim != 3 or kp.shape[1] != 17 or kp.shape[2] not in (2, 3):
        raise InputError(f"{p}: keypoints2d should be [frames, 17, 2 or 3], got {kp.shape}")
    if kp.shape[2] == 2:
        kp = np.concatenate([kp, np.ones(kp.shape[:2] + (1,), np.float32)], axis=-1)
    fps = float(data.get("fps", 30.0))
    if not fps > 0:
        raise InputError(f"{p}: fps must be positive, got {fps}")

    def opt(key: str) -> Any:
        return data[key].item() if key in data and np.ndim(data[key]) == 0 else None

    bpm = opt("nominal_bpm")
    return KeypointSequence(p.stem, kp, fps, opt("genre"), opt("music"), None if bpm is None else float(bpm))


def keypoints_to_motion(
    keypoints: np.ndarray,
    fps: float,
    *,
    analysis_fps: float | None = GENERATE_ANALYSIS_FPS,
    detected: np.ndarray | None = None,
) -> Motion:
    """Pixel keypoints ``[T, 17, 3]`` at ``fps`` -> the `Motion` `d2m generate` would make of a video of them.

    The frames `features.extract.AnalysisGrid` keeps at ``analysis_fps`` (None: every frame) go through
    `features.pose.track_to_motion`, covering ``T / fps`` seconds at `MOTION_FPS`. ``detected[T]``: frames with a
    person (default: frames with any joint of positive confidence).
    """
    kp = np.asarray(keypoints, np.float64)
    n = kp.shape[0]
    times = np.arange(n) / float(fps)
    det = (kp[..., 2] > 0).any(axis=1) if detected is None else np.asarray(detected, bool)
    keep = np.asarray(AnalysisGrid(analysis_fps, fps).plan(list(times)), bool)
    return track_to_motion(times[keep], kp[keep], det[keep], duration=n / float(fps))


def torso_length(keypoints: np.ndarray) -> float:
    """Median shoulder-midpoint to hip-midpoint distance (pixels) over frames where all four are seen."""
    i = COCO17_INDEX
    kp = np.asarray(keypoints, np.float64)
    ok = (kp[:, [i["left_shoulder"], i["right_shoulder"], i["left_hip"], i["right_hip"]], 2] > 0).all(axis=1)
    if not ok.any():
        return float("nan")
    sh = 0.5 * (kp[ok, i["left_shoulder"], :2] + kp[ok, i["right_shoulder"], :2])
    hip = 0.5 * (kp[ok, i["left_hip"], :2] + kp[ok, i["right_hip"], :2])
    return float(np.median(np.linalg.norm(sh - hip, axis=1)))


def degrade_keypoints(
    keypoints: np.ndarray,
    *,
    seed: int,
    jitter: float = DEGRADE_JITTER,
    drop: float = DEGRADE_DROP,
    crop: Sequence[int] = LOWER_BODY,
) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints as video pose would give them: (keypoints float32[T, 17, 3], detected bool[T]).

    jitter: Gaussian noise on every coordinate, sd = ``jitter`` x the torso length; drop: each frame has no
    detection with this probability (confidence 0); crop: joints that a half-body crop hides (confidence 0).
    """
    rng = np.random.default_rng(seed)
    kp = np.array(keypoints, np.float32, copy=True)
    torso = torso_length(kp)
    if jitter > 0 and np.isfinite(torso):
        kp[..., :2] += rng.normal(0.0, jitter * torso, size=kp[..., :2].shape).astype(np.float32)
    detected = rng.random(kp.shape[0]) >= drop
    if not detected.any():
        detected[0] = True
    kp[~detected, :, 2] = 0.0
    kp[:, list(crop), 2] = 0.0
    return kp, detected


def degradation_seed(seed: int, name: str) -> int:
    """The seed of `degrade_keypoints` for sequence ``name`` under run seed ``seed`` (``--degrade --seed``)."""
    return zlib.crc32(f"{seed}:{name}".encode())


def dance_tempo(motion: Motion) -> float:
    """The dance's tempo (BPM) as the dance's pulse reads it (`features.rhythm.estimate_rhythm`, what
    `d2m generate` conditions on); NaN when the movement says nothing about it."""
    r = estimate_rhythm(motion)
    return float(r.tempo) if r.source == "motion" else float("nan")


def tempo_match(estimate: float, reference: float | None, tolerance: float = TEMPO_TOLERANCE) -> bool | None:
    """Whether ``estimate`` is within ``tolerance`` of ``reference``, or of its double or half (None: unknown)."""
    if reference is None:
        return None
    err = tempo_error(estimate, reference)
    return None if not math.isfinite(err) else bool(err <= tolerance)


def music_stats(audio: np.ndarray, sr: int = SAMPLE_RATE) -> dict[str, float]:
    """Loudness and liveliness of a waveform ``audio[N]``.

    lufs: ITU-R BS.1770 integrated loudness (pyloudnorm; NaN when it is not installed or the clip is under
    0.4 s); rms_dbfs: RMS level; peak_dbfs; silent_share: share of 100-ms frames with RMS below `SILENCE_DBFS`;
    onset_rate: onsets per second (`beats.music_onsets`); flux_cv: spectral-flux variation, the coefficient of
    variation over frames of librosa's onset strength (mean positive log-mel flux; a drone or hiss keeps it low).
    """
    import librosa

    y = np.asarray(audio, np.float64).ravel()
    dur = y.size / sr
    eps = 1e-12

    def db(x: float) -> float:
        return float(20.0 * np.log10(max(x, eps)))

    frame_db = frame_levels_dbfs(y, sr, 0.1)
    lufs = float("nan")
    try:
        import pyloudnorm

        if dur >= 0.4:
            lufs = float(pyloudnorm.Meter(sr).integrated_loudness(y))
    except ImportError:
        pass
    flux = librosa.onset.onset_strength(y=y.astype(np.float32), sr=sr)
    return {
        "lufs": lufs if math.isfinite(lufs) else float("nan"),
        "rms_dbfs": db(float(np.sqrt(np.mean(y**2))) if y.size else 0.0),
        "peak_dbfs": db(float(np.abs(y).max()) if y.size else 0.0),
        "silent_share": float(np.mean(frame_db < SILENCE_DBFS)) if frame_db.size else float("nan"),
        "onset_rate": float(len(music_onsets(y.astype(np.float32), sr)) / dur) if dur > 0 else float("nan"),
        "flux_cv": float(flux.std() / flux.mean()) if flux.size and flux.mean() > 0 else float("nan"),
    }


def mean_logmel(audio: np.ndarray, sr: int = SAMPLE_RATE, n_mels: int = 64) -> np.ndarray:
    """float64[n_mels]: the mean log-mel spectrum (dB) of a waveform."""
    import librosa

    mel = librosa.feature.melspectrogram(y=np.asarray(audio, np.float32), sr=sr, n_mels=n_mels)
    return librosa.power_to_db(mel + 1e-10).mean(axis=1).astype(np.float64)


def spectrum_distance(a: np.ndarray, b: np.ndarray) -> float:
    """RMS over bands of the difference (dB) between two mean log-mel spectra (`mean_logmel`)."""
    return float(np.sqrt(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)))


def sign_flip_p(diffs: Sequence[float], *, n_perm: int = 20000, seed: int = 0) -> float:
    """One-sided p-value that the mean of paired differences is above 0: a sign-flip permutation test.

    Exact (all 2^n sign patterns) for up to 16 finite differences, else ``n_perm`` random patterns
    (p = (1 + hits) / (1 + n_perm)). NaN when no difference is finite.
    """
    d = np.asarray([x for x in diffs if np.isfinite(x)], np.float64)
    if d.size == 0:
        return float("nan")
    obs = d.mean() - 1e-12
    if d.size <= 16:
        signs = ((np.arange(2**d.size)[:, None] >> np.arange(d.size)) & 1) * 2.0 - 1.0
        return float(np.mean(signs @ d / d.size >= obs))
    rng = np.random.default_rng(seed)
    hits = 0
    for lo in range(0, n_perm, 2000):
        signs = rng.choice((-1.0, 1.0), size=(min(2000, n_perm - lo), d.size))
        hits += int(np.sum(signs @ d / d.size >= obs))
    return float((1 + hits) / (1 + n_perm))


def shift_offsets(duration: float, n: int = SHIFT_OFFSETS) -> np.ndarray:
    """``n`` offsets evenly spread over [m, duration - m], m = min(`MIN_SHIFT_S`, duration / 4)."""
    m = min(MIN_SHIFT_S, duration / 4.0)
    return np.linspace(m, duration - m, n) if duration > 0 else np.zeros(0)


def _mean_se(values: Sequence[float]) -> tuple[float, float, int]:
    a = np.asarray([v for v in values if np.isfinite(v)], np.float64)
    if a.size == 0:
        return math.nan, math.nan, 0
    se = float(a.std(ddof=1) / math.sqrt(a.size)) if a.size > 1 else math.nan
    return float(a.mean()), se, int(a.size)


@dataclass
class _Unit:
    """A scored piece of one sequence: the whole or an excerpt [start, start + seconds)."""

    seq: int
    scale: str
    index: int
    start: float
    seconds: float
    kin: np.ndarray  # the reference beats, relative to ``start``
    beats: dict[int, np.ndarray] = field(default_factory=dict)  # seed -> music beats (s, from ``start``)


@dataclass
class MotionReport:
    """summary: model -> scale -> {condition -> metric stats, "p": ...}; clips: model -> per-sequence rows."""

    summary: dict[str, dict[str, Any]]
    clips: dict[str, list[dict[str, Any]]]
    pooled: dict[str, dict[str, Any]]
    settings: dict[str, Any]
    excerpts: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class MusicModel(Protocol):
    """What `evaluate_motion` needs of a model (`api.Dance2Music` is one): a name, and music for a `Motion`."""

    name: str | None

    def generate(self, motion: Motion, *, seed: int, genre: str | None) -> Any:
        """A result with ``audio`` (float32[N] at `SAMPLE_RATE`) and ``meta`` (the genre used)."""


#: (name, excerpt length or None for the whole sequence, whether each excerpt is generated on its own).
_Scale = tuple[str, "float | None", bool]


def _model_inputs(seqs, degrade: bool, degrade_seed: int, analysis_fps: float | None):
    """Per sequence: (keypoints shown, detected or None, the `Motion` shown), reference beats, dance tempo."""
    inputs, refs, tempos = [], [], []
    for s in seqs:
        kp, det = s.keypoints, None
        if degrade:
            kp, det = degrade_keypoints(kp, seed=degradation_seed(degrade_seed, s.name))
        shown = keypoints_to_motion(kp, s.fps, analysis_fps=analysis_fps, detected=det)
        inputs.append((kp, det, shown))
        refs.append(kinematic_beats(keypoints_to_motion(s.keypoints, s.fps, analysis_fps=None)).times)
        tempos.append(dance_tempo(shown))  # the pulse the model is shown
    return inputs, refs, tempos


def _sequence_units(i: int, s: KeypointSequence, kin: np.ndarray, scales: list[_Scale], units) -> None:
    """Add sequence ``i``'s units (the whole, and each excerpt of each scale) to ``units`` (scale -> list)."""
    for name, L, _ in scales:
        if L is None:
            units[name].append(_Unit(i, name, 0, 0.0, s.duration, kin))
            continue
        for k in range(int(s.duration // L + 1e-9)):
            a = k * L
            rel = kin[(kin >= a) & (kin < a + L)] - a
            units[name].append(_Unit(i, name, k, a, L, rel))


@dataclass
class _Generation:
    """One model's run over the sequences: the settings it generates with, and what it gathered."""

    model: MusicModel
    seeds: int
    genre: str | None
    analysis_fps: float | None
    scales: list[_Scale]
    bar: Any
    units: dict[str, list[_Unit]] = field(default_factory=dict)
    whole_audio: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)

    def tick(self) -> None:
        if self.bar is not None:
            self.bar.update(1)


def _generate_sequence(g: _Generation, i: int, s: KeypointSequence, inputs, kin: np.ndarray, tempo: float) -> dict:
    """Music for sequence ``i`` with every seed (the whole, and each excerpt on its own): the units' music
    beats are filled in; returns the sequence's row (tempo, loudness, genre used)."""
    sr = SAMPLE_RATE
    kp, det, shown = inputs
    n_all = kp.shape[0]
    gmeta, stats, mtempo, mel = [], [], [], []
    genre = s.genre if g.genre == LABELLED_GENRE else g.genre
    for seed in range(g.seeds):
        res = g.model.generate(shown, seed=seed, genre=genre)
        g.tick()
        audio = res.audio
        g.whole_audio[(i, seed)] = audio
        gmeta.append({k: res.meta.get(k) for k in ("genre", "genre_source", "genre_probability", "genre_note")})
        stats.append(music_stats(audio, sr))
        mtempo.append(B.estimate_tempo(audio, sr))
        mel.append(mean_logmel(audio, sr))
        for name, L, own in g.scales:
            for u in (u for u in g.units[name] if u.seq == i):
                if L is None:
                    u.beats[seed] = music_beats(audio, sr=sr)
                elif own:
                    f0, f1 = int(round(u.start * s.fps)), min(n_all, int(round((u.start + L) * s.fps)))
                    m = keypoints_to_motion(kp[f0:f1], s.fps, analysis_fps=g.analysis_fps,
                                            detected=None if det is None else det[f0:f1])  # fmt: skip
                    u.beats[seed] = music_beats(g.model.generate(m, seed=seed, genre=genre).audio, sr=sr)
                    g.tick()
                else:
                    a0 = int(round(u.start * sr))
                    u.beats[seed] = music_beats(audio[a0 : a0 + int(round(L * sr))], sr=sr)
    st = {k: float(np.nanmean([x[k] for x in stats])) for k in stats[0]}
    return {
        "sequence": s.name, "genre": s.genre, "music": s.music, "nominal_bpm": s.nominal_bpm,
        "seconds": round(s.duration, 2), "movement_beats": int(kin.size),
        "dance_tempo": round(tempo, 1), "dance_tempo_match": tempo_match(tempo, s.nominal_bpm),
        "music_tempo": [round(t, 1) for t in mtempo],
        "tempo_match_nominal": [tempo_match(t, s.nominal_bpm) for t in mtempo],
        "tempo_match_dance": [tempo_match(t, tempo) for t in mtempo],
        "genre_used": gmeta, **{k: round(v, 4) for k, v in st.items()},
        "_mel": mel,
    }  # fmt: skip


def _score_beats(kin: np.ndarray, mbeats: np.ndarray) -> dict[str, float]:
    return beat_alignment(kin, mbeats).report_scores()


def _score_unit(g: _Generation, u: _Unit, L: float | None, seqs, offsets: int) -> dict[str, Any]:
    """One unit's row: generated, shift null and mismatched scores, each averaged over seeds."""
    sr = SAMPLE_RATE
    cond: dict[str, dict[str, list[float]]] = {c: {k: [] for k in _METRICS} for c in (_GEN, _SHIFT, _MIS)}
    for seed in range(g.seeds):
        mb = u.beats[seed]
        for k, v in _score_beats(u.kin, mb).items():
            cond[_GEN][k].append(v)
        nulls = [_score_beats(u.kin, circular_shift(mb, o, u.seconds)) for o in shift_offsets(u.seconds, offsets)]
        for k in _METRICS:
            cond[_SHIFT][k].append(float(np.nanmean([x[k] for x in nulls])) if nulls else math.nan)
        if L is None:
            n = int(round(u.seconds * sr))
            partners = [j for j in range(len(seqs)) if j != u.seq and seqs[j].duration >= u.seconds - 1e-6]
            if not partners:
                partners = [j for j in range(len(seqs)) if j != u.seq]
            mis = [score_music(u.kin, c) for j in partners
                   for c in mismatch_cuts(g.whole_audio[(j, seed)], n, MISMATCH_CUTS)]  # fmt: skip
        else:
            mis = []
            for j in range(len(seqs)):
                theirs = [v for v in g.units[u.scale] if v.seq == j]
                if j != u.seq and theirs:
                    mis.append(_score_beats(u.kin, theirs[u.index % len(theirs)].beats[seed]))
        for k in _METRICS:
            vals = [x[k] for x in mis if np.isfinite(x[k])]
            cond[_MIS][k].append(float(np.mean(vals)) if vals else math.nan)
    row = {"sequence": seqs[u.seq].name, "index": u.index, "start": u.start, "movement_beats": int(u.kin.size)}
    for c, by_metric in cond.items():
        row[c] = {k: _nanmean(v) for k, v in by_metric.items()}
    return row


def _summarize_scale(table: list[dict[str, Any]]) -> dict[str, Any]:
    """Pooled means, standard errors and counts per condition, and the sign-flip p-values against each baseline."""
    summ: dict[str, Any] = {"units": len(table)}
    for c in (_GEN, _SHIFT, _MIS):
        summ[c] = {}
        for k in _METRICS:
            m, se, cnt = _mean_se([r[c][k] for r in table])
            summ[c][k], summ[c][f"{k}_se"], summ[c][f"{k}_n"] = m, se, cnt
    summ["p"] = {}
    for c in (_SHIFT, _MIS):
        for k in _METRICS:
            diffs = [r[_GEN][k] - r[c][k] for r in table]
            summ["p"][f"{k} vs {c}"] = sign_flip_p(diffs)
            summ["p"][f"{k} wins vs {c}"] = int(np.sum(np.asarray(diffs)[np.isfinite(diffs)] > 0))
    return summ


def _pooled(rows: list[dict[str, Any]], seeds: int) -> dict[str, Any]:
    """The model's pooled music measures (tempo matches, loudness, log-mel correlation between dances);
    drops the rows' log-mel spectra."""
    mels = [[r["_mel"][sd] for r in rows] for sd in range(seeds)]
    corr = [
        float(np.corrcoef(ms[a], ms[b])[0, 1]) for ms in mels for a in range(len(ms)) for b in range(a + 1, len(ms))
    ]
    # Correlation hardly moves (different real songs correlate at about 0.96: all music shares its spectral tilt),
    # so the spectra's RMS distance (dB) between dances is set against the distance between seeds of one dance.
    between = [spectrum_distance(ms[a], ms[b]) for ms in mels for a in range(len(ms)) for b in range(a + 1, len(ms))]
    within = [spectrum_distance(r["_mel"][0], r["_mel"][sd]) for r in rows for sd in range(1, seeds)]
    for r in rows:
        r.pop("_mel")
    nominal = [r for r in rows if r["nominal_bpm"] is not None]
    return {
        "tempo_match_nominal_all_seeds": sum(all(r["tempo_match_nominal"]) for r in nominal),
        "tempo_match_nominal_pairs": sum(sum(bool(x) for x in r["tempo_match_nominal"]) for r in nominal),
        "tempo_match_dance_all_seeds": sum(all(r["tempo_match_dance"]) for r in rows),
        "dance_tempo_match_nominal": sum(bool(r["dance_tempo_match"]) for r in nominal),
        "sequences_with_nominal": len(nominal),
        "max_silent_share": max(r["silent_share"] for r in rows),
        "sequences_over_5pct_silent": sum(r["silent_share"] > 0.05 for r in rows),
        "between_dance_logmel_corr": float(np.mean(corr)) if corr else math.nan,
        "between_dance_logmel_db": float(np.mean(between)) if between else math.nan,
        "between_seed_logmel_db": float(np.mean(within)) if within else math.nan,
        **{f"mean_{k}": float(np.nanmean([r[k] for r in rows]))
           for k in ("lufs", "rms_dbfs", "peak_dbfs", "silent_share", "onset_rate", "flux_cv")},
    }  # fmt: skip


def _settings(folder: Path, models: list[str], seeds: int, analysis_fps, degrade: bool, degrade_seed: int,
              genre: str | None, excerpt_seconds: Sequence[float], offsets: int) -> dict[str, Any]:  # fmt: skip
    return {
        "motion_dir": str(folder),
        "models": models,
        "seeds": list(range(seeds)),
        "analysis_fps": analysis_fps,
        "degrade": (
            {
                "jitter_torso_share": DEGRADE_JITTER,
                "dropped_frames": DEGRADE_DROP,
                "cropped_joints": [j for j, i in COCO17_INDEX.items() if i in LOWER_BODY],
                "seed": degrade_seed,
            }
            if degrade
            else None
        ),  # fmt: skip
        "genre": genre,
        "excerpt_seconds": list(excerpt_seconds),
        "shift_offsets": offsets,
        "mismatch_cuts": MISMATCH_CUTS,
        "tempo_tolerance": TEMPO_TOLERANCE,
        "silence_dbfs": SILENCE_DBFS,
        "reference": "kinematic beats of the clean keypoints at every frame",
        "p_value": "one-sided paired sign-flip permutation test over units (sequences or excerpts), seeds averaged "
        "within a unit; exact up to 16 units, else 20000 random sign patterns",
    }


def _check_genre(genre: str | None, seqs: Sequence[KeypointSequence]) -> None:
    """With `LABELLED_GENRE`, refuse before any music is made a sequence whose file names no AIST++ genre code
    (any other genre is the models' to read: `d2m evaluate` checks it first)."""
    if genre != LABELLED_GENRE:
        return
    for s in seqs:
        if s.genre not in GENRES:
            raise InputError(f"genre {LABELLED_GENRE!r}: {s.name}.npz names no AIST++ genre code (it has {s.genre!r})")


def _load_sequences(motion_dir: str | os.PathLike) -> tuple[Path, list[KeypointSequence]]:
    folder = Path(motion_dir)
    if not folder.is_dir():
        raise InputError(f"keypoint folder not found: {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix == ".npz" and p.is_file())
    if not files:
        raise InputError(f"no keypoint sequences (.npz) in {folder}")
    return folder, [load_keypoint_sequence(p) for p in files]


def evaluate_motion(
    motion_dir: str | os.PathLike,
    models: Sequence[MusicModel],
    *,
    seeds: int = 2,
    out_dir: str | os.PathLike | None = None,
    degrade: bool = False,
    degrade_seed: int = 0,
    excerpt_seconds: Sequence[float] = EXCERPT_SECONDS,
    analysis_fps: float | None = GENERATE_ANALYSIS_FPS,
    genre: str | None = None,
    offsets: int = SHIFT_OFFSETS,
    force: bool = False,
    progress: bool = False,
) -> MotionReport:
    """Score the music each of ``models`` (loaded models, e.g. `api.Dance2Music`: see `MusicModel`) makes for
    every ``<sequence>.npz`` of ``motion_dir`` (see the module).

    seeds: generation seeds 0 .. seeds-1; degrade: degrade the model's keypoints (`degrade_keypoints`, seeded by
    ``degrade_seed`` and the sequence name); genre: passed to the model's ``generate`` (None: read off the
    dance, as `d2m generate`; `LABELLED_GENRE`: each sequence's own, from its file). Writes ``report.md`` and
    ``report.json`` into ``out_dir`` when given (refusing to overwrite without ``force``).
    """
    folder, seqs = _load_sequences(motion_dir)
    _check_genre(genre, seqs)
    if seeds < 1:
        raise InputError("seeds must be at least 1")
    if not models:
        raise InputError("name at least one model")
    out = Path(out_dir) if out_dir is not None else None
    if out is not None and (out / "report.md").exists() and not force:
        raise InputError(f"report exists: {out / 'report.md'} (use --force to overwrite)")

    # the model's input (clean or degraded) and the reference beats (clean, every frame), once per sequence
    inputs, refs, tempos = _model_inputs(seqs, degrade, degrade_seed, analysis_fps)
    scales: list[_Scale] = [("whole", None, False)]
    scales += [(f"{L:g}s", float(L), True) for L in excerpt_seconds]
    scales += [(f"{L:g}s cut", float(L), False) for L in excerpt_seconds]
    summary: dict[str, dict[str, Any]] = {}
    clips: dict[str, list[dict[str, Any]]] = {}
    pooled: dict[str, dict[str, Any]] = {}
    excerpt_rows: dict[str, dict[str, list[dict[str, Any]]]] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        per_seq = 1 + sum(int(s.duration // L) for s in seqs for _, L, own in scales if own) / max(1, len(seqs))
        bar = tqdm(total=int(len(models) * seeds * len(seqs) * per_seq), desc="music", unit="clip", leave=False)

    for model in models:
        model_name = model.name or str(model)
        g = _Generation(model, seeds, genre, analysis_fps, scales, bar, {name: [] for name, _, _ in scales})
        rows = []
        for i, s in enumerate(seqs):
            _sequence_units(i, s, refs[i], scales, g.units)
            rows.append(_generate_sequence(g, i, s, inputs[i], refs[i], tempos[i]))
        # scoring: generated, shift null, mismatched; per unit averaged over seeds
        summary[model_name], excerpt_rows[model_name] = {}, {}
        for name, L, _ in scales:
            table = [_score_unit(g, u, L, seqs, offsets) for u in g.units[name]]
            summary[model_name][name] = _summarize_scale(table)
            if name == "whole":
                for r, t in zip(rows, table):
                    r.update({c: t[c] for c in (_GEN, _SHIFT, _MIS)})
            else:
                excerpt_rows[model_name][name] = table
        pooled[model_name] = _pooled(rows, seeds)
        clips[model_name] = rows
    if bar is not None:
        bar.close()

    settings = _settings(folder, list(summary), seeds, analysis_fps, degrade, degrade_seed, genre, excerpt_seconds,
                         offsets)  # fmt: skip
    report = MotionReport(summary, clips, pooled, settings, excerpt_rows, [])
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        payload = {"settings": settings, "summary": summary, "pooled": pooled, "clips": clips,
                   "excerpts": excerpt_rows, "notes": report.notes}  # fmt: skip
        with atomic_output(out / "report.json") as tmp:
            tmp.write_text(json.dumps(_jsonable(payload), indent=1))
        with atomic_output(out / "report.md") as tmp:
            tmp.write_text(markdown_report(report))
    return report


def _nanmean(values: Sequence[float]) -> float:
    a = np.asarray(values, np.float64)
    a = a[np.isfinite(a)]
    return float(a.mean()) if a.size else math.nan


def _jsonable(x: Any) -> Any:
    """NaN -> None (strict JSON), numpy scalars -> Python."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return None if not math.isfinite(float(x)) else round(float(x), 5)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def _cell(s: dict[str, Any], k: str) -> str:
    m, se = s[k], s[f"{k}_se"]
    if not np.isfinite(m):
        return "n/a"
    return f"{m:.3f}" + (f" ± {se:.3f}" if np.isfinite(se) else "")


def _p(p: float) -> str:
    return "n/a" if not np.isfinite(p) else (f"{p:.3f}" if p >= 0.001 else f"{p:.1e}")


def markdown_summary(report: MotionReport, model: str) -> str:
    """One model's pooled alignment table: a row per scale and condition, with the p-values."""
    lines = [
        "| scale | units | music | BA (Bailando) | BA (FACT) | beat F1 | p BA-B | p BA-F | p F1 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for scale, s in report.summary[model].items():
        for c in (_GEN, _SHIFT, _MIS):
            ps = ["", "", ""]
            if c != _GEN:
                ps = [_p(s["p"][f"{k} vs {c}"]) + f" ({s['p'][f'{k} wins vs {c}']}/{s[c][f'{k}_n']})" for k in _METRICS]
            cells = " | ".join(_cell(s[c], k) for k in _METRICS)
            lines.append(f"| {scale} | {s['units']} | {c} | {cells} | {' | '.join(ps)} |")
    return "\n".join(lines)


def markdown_report(report: MotionReport) -> str:
    st = report.settings
    deg = st["degrade"]
    head = [
        "# d2m evaluate --motion",
        "",
        f"Sequences: {len(next(iter(report.clips.values())))} from `{st['motion_dir']}`; models: "
        f"{', '.join(st['models'])}; seeds {st['seeds']}; keypoints analysed at "
        f"{st['analysis_fps'] or 'every frame'} fps as `d2m generate` analyses video; "
        + (
            f"degraded (jitter {deg['jitter_torso_share']:.0%} of the torso, {deg['dropped_frames']:.0%} of frames "
            f"dropped, {', '.join(deg['cropped_joints'])} hidden; seed {deg['seed']})"
            if deg else "clean keypoints"
        )
        + f"; genre: {st['genre'] or 'read off the dance'}.",
        "",
        "- Reference: the dance's kinematic beats from the clean keypoints at every frame. BA (Bailando): mean over "
        "music beats of exp(-d²/2σ²), σ = 50 ms; BA (FACT): mean over movement beats; beat F1 at ±100 ms.",
        "- Scales: `whole` sequences; `Ns`: each N-s excerpt (non-overlapping) generated on its own, as a short "
        "video; `Ns cut`: the whole sequence's music cut into N-s excerpts.",
        f"- shift null: the music's beats circularly shifted by {st['shift_offsets']} offsets per unit (mean); "
        "mismatched: the music the same model and seed made for the other sequences, cut to length.",
        f"- p: {st['p_value']}; after it, (units where generated > baseline / units). ±: standard error over units.",
        "",
    ]  # fmt: skip
    body = []
    for model, rows in report.clips.items():
        pl = report.pooled[model]
        body += [f"## {model}", "", markdown_summary(report, model), ""]
        body += [
            f"Tempo: the music within {st['tempo_tolerance']:.0%} (or double / half) of the nominal tempo for "
            f"{pl['tempo_match_nominal_all_seeds']} of {pl['sequences_with_nominal']} sequences with every seed "
            f"({pl['tempo_match_nominal_pairs']} of {pl['sequences_with_nominal'] * len(st['seeds'])} sequence-seeds); "
            f"of the dance's tempo as generate reads it (features.rhythm) for {pl['tempo_match_dance_all_seeds']} "
            f"of {len(rows)} "
            f"(that estimate matches the nominal tempo for {pl['dance_tempo_match_nominal']}).",
            f"Loudness {pl['mean_lufs']:.1f} LUFS, {pl['mean_rms_dbfs']:.1f} dBFS RMS, peak "
            f"{pl['mean_peak_dbfs']:.1f} dBFS (means); silent share (100-ms frames below {st['silence_dbfs']:g} dBFS) "
            f"{pl['mean_silent_share']:.1%} on average, at most {pl['max_silent_share']:.1%}, "
            f"{pl['sequences_over_5pct_silent']} sequence(s) over 5 %;"
            f" {pl['mean_onset_rate']:.2f} onsets/s; spectral-flux CV {pl['mean_flux_cv']:.2f}; mean log-mel "
            f"correlation between different dances {pl['between_dance_logmel_corr']:.3f}; the mean log-mel spectra "
            f"of different dances {pl['between_dance_logmel_db']:.2f} dB apart (RMS over bands), of two seeds of "
            f"one dance {pl['between_seed_logmel_db']:.2f} dB.",
            "",
            "| sequence | s | beats | BA-B gen / shift / mis | F1 gen / shift / mis | nominal BPM | dance BPM | "
            "music BPM | tempo ok | genre used | LUFS | silent | onsets/s | flux CV |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]  # fmt: skip
        for r in rows:

            def trio(k: str, r: dict = r) -> str:
                return " / ".join("n/a" if not np.isfinite(r[c][k]) else f"{r[c][k]:.2f}" for c in (_GEN, _SHIFT, _MIS))

            ok = "".join("✓" if x else ("✗" if x is not None else "?") for x in r["tempo_match_nominal"])
            genres = ", ".join(
                f"{g['genre'] or 'none'} ({g['genre_source']}"
                + (f" {g['genre_probability']:.2f})" if g.get("genre_probability") is not None else ")")
                for g in r["genre_used"][:1]
            )
            body.append(
                f"| {r['sequence']} | {r['seconds']} | {r['movement_beats']} | {trio('ba_bailando')} | "
                f"{trio('beat_f1')} | {r['nominal_bpm'] if r['nominal_bpm'] is not None else '?'} | "
                f"{r['dance_tempo']} | {', '.join(f'{t:.0f}' for t in r['music_tempo'])} | {ok} | {genres} | "
                f"{r['lufs']:.1f} | {r['silent_share']:.1%} | {r['onset_rate']:.2f} | {r['flux_cv']:.2f} |"
            )
        body.append("")
    return "\n".join(head + body + [f"- {n}" for n in report.notes]) + "\n"
