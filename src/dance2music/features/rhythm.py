"""The dance's pulse read from its motion: a beat grid (tempo and phase over time) and a movement-accent envelope.

One function, `estimate_rhythm`, computes it from a `types.Motion` for training (the training dance's pose,
never its labels) and for `d2m generate` alike, so the generator learns "put the music's pulse on this grid"
from the synthetic set and meets the same grid on real dancers. A dancer's look, framing and pose noise change
the raw keypoints a lot but the pulse little, which is why this input transfers where raw keypoints do not.

Steps (at the motion's frame rate, normally `constants.MOTION_FPS`):

1. speed: mean joint speed of the visible joints plus the root (`features.kinematics.joint_speed`, the same
   kinematic-beat definition the metrics use), lightly smoothed;
2. accent envelope: how deep the speed dips below its surroundings, ``max(0, local mean - speed)`` divided by
   its 95th percentile; kinematic beats (the moments a dancer hits a pose) are its peaks; a dancer whose dips
   stay under `MIN_ACCENT_DIP` (a still person's pose noise) has none, and jumps faster than any dance (the
   cuts of an edited video, `MAX_DANCE_SPEED`) are bridged over;
3. tempo: the autocorrelation tempogram of the accent envelope (8-s windows, averaged) under a log-normal
   prior centred on 110 BPM, up to 200 BPM; a clip shorter than one such window (a few accents, a lag or two of
   the period) is read instead by the comb of beats its accents fit best (`comb_tempo`); a user's tempo
   replaces either;
4. beat grid: the local phase of the envelope at that period, estimated in sliding windows of about three beats
   (the complex sum ``sum e(s) exp(-2 pi i s / P)``) and unwrapped into a continuous beat count, so the grid may
   drift and change phase but never stops: through still passages it keeps the last period and phase, and a
   2-s clip has a grid from its first frame.

`Rhythm.features()` is the generator's input: cos and sin of the beat phase and of twice it, log2 of the local
tempo over 120 BPM, the accent envelope and whether a person was seen (`RHYTHM_DIM` channels).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.ndimage import binary_dilation, gaussian_filter1d, uniform_filter1d

from ..types import Motion
from .kinematics import joint_speed, visible_joints

#: Channels of `Rhythm.features`.
RHYTHM_DIM = 7
#: Tempo search range and prior (BPM): dances are danced on beats of 60-200 BPM, most near 110.
MIN_BPM, MAX_BPM, PRIOR_BPM = 60.0, 200.0, 110.0
#: Width of the log-normal tempo prior, in octaves.
PRIOR_OCTAVES = 1.0
#: Window of the tempogram (seconds); shorter clips are read by `comb_tempo`.
TEMPOGRAM_S = 8.0
#: Candidate tempi of `comb_tempo`, evenly spaced in log tempo over `MIN_BPM`..`MAX_BPM`.
COMB_STEPS = 400
#: `comb_tempo` takes half its best tempo where the half keeps this share of the fit: so half-beat accents up to a
#: third as strong as the beat's leave the dancer's tempo, stronger ones make an even pulse at twice it.
COMB_OCTAVE_FIT = 0.5
#: Tempo assumed when the motion says nothing about it (too short, or no movement).
DEFAULT_BPM = 110.0
#: Reference tempo of the log-tempo channel.
REFERENCE_BPM = 120.0
#: Sliding window of the local phase estimate, in beats.
PHASE_WINDOW_BEATS = 3.0
#: Speed smoothing (Gaussian sigma, seconds) and the surroundings the dips are measured against (seconds).
SPEED_SMOOTH_S = 0.04
DIP_WINDOW_S = 0.5
#: The tempo is read from dips against shorter surroundings (a sharper envelope).
TEMPO_DIP_WINDOW_S = 0.3
#: Dips shallower than this (torso lengths per second, the clip's 95th percentile) are pose noise, not a
#: dancer's accents: the envelope stays empty and the grid takes the default tempo (docs/results.md measures
#: the pose of a still dancer against the slowest training dances).
MIN_ACCENT_DIP = 0.02
#: A mean joint speed (torso lengths per second) above any dance's: a jump cut or a tracking jump, whose speed
#: spike would otherwise rule the envelope's scale and the tempo (docs/results.md: real, synthetic, cut dances).
MAX_DANCE_SPEED = 10.0
#: Seconds on each side of such a jump whose speed is set aside too (the spline resampling rings around it).
JUMP_MARGIN_S = 0.1
#: Grids faster than this (BPM; the top 3 % of the synthetic training songs' tempi) are given to a generator in
#: half time (every other beat; `for_generator`), in training and in `models.d2m.D2M.generate` alike. Slow grids
#: are left alone: the generator already plays them in double time (docs/results.md, "Tempi outside the
#: generator's range").
MAX_GRID_BPM = 150.0


@dataclass(frozen=True)
class Rhythm:
    """The pulse of a dance on its motion's frame grid.

    fps: frame rate of every array below.
    tempo: the grid's overall tempo in BPM (median of the local tempi).
    beat_count: float64[T] continuous beat count; beat k falls where it crosses the integer k, so the phase
        is its fractional part.
    local_bpm: float64[T] the grid's tempo at each frame.
    accent: float32[T] movement-accent envelope (about 0-1; peaks at the dancer's hits).
    present: bool[T] frames where a person was detected.
    source: "motion" (estimated), "given" (the tempo was given) or "default" (no usable movement).
    """

    fps: float
    tempo: float
    beat_count: np.ndarray
    local_bpm: np.ndarray
    accent: np.ndarray
    present: np.ndarray
    source: str

    @property
    def num_frames(self) -> int:
        return int(self.beat_count.size)

    @property
    def phase(self) -> np.ndarray:
        """float64[T] in [0, 1): position within the current beat."""
        return np.mod(self.beat_count, 1.0)

    def shifted(self, beats: float) -> Rhythm:
        """The same grid moved later by ``beats`` of a beat (its phase shifted; tempo and accents unchanged)."""
        return replace(self, beat_count=self.beat_count - float(beats))

    def extended(self, frames: int) -> Rhythm:
        """The grid run on for ``frames`` frames before and after the dance, at its first and last tempo, with no
        accents and a person present: the pulse of a dancer holding still at both ends (`models.d2m` gives the
        generator this as context, so that a clip's first and last seconds are not its edges)."""
        if frames <= 0 or self.num_frames == 0:
            return self
        step = np.arange(1, frames + 1, dtype=np.float64)
        before = self.beat_count[0] - self.local_bpm[0] / 60.0 / self.fps * step[::-1]
        after = self.beat_count[-1] + self.local_bpm[-1] / 60.0 / self.fps * step
        return replace(
            self,
            beat_count=np.concatenate([before, self.beat_count, after]),
            local_bpm=np.pad(self.local_bpm, frames, mode="edge"),
            accent=np.pad(self.accent, frames).astype(np.float32),
            present=np.pad(self.present, frames, constant_values=True),
        )

    def scaled(self, factor: float) -> Rhythm:
        """The same grid counted ``factor`` times as fast: 0.5 keeps every other beat (half time), 2 adds a beat
        between each two (double time); the accents are unchanged."""
        k = float(factor)
        return replace(self, tempo=self.tempo * k, beat_count=self.beat_count * k, local_bpm=self.local_bpm * k)

    def beat_times(self) -> np.ndarray:
        """float64[K]: seconds where the grid's beats fall (linear interpolation of the beat count)."""
        c = self.beat_count
        if c.size < 2:
            return np.zeros(0)
        ks = np.arange(np.ceil(c[0]), np.floor(c[-1]) + 1)
        return np.interp(ks, c, np.arange(c.size) / self.fps)

    def features(self) -> np.ndarray:
        """float32[T, RHYTHM_DIM]: cos, sin of 2 pi phase and 4 pi phase, log2(bpm / 120), accent, present."""
        a = 2.0 * np.pi * self.beat_count
        cols = [np.cos(a), np.sin(a), np.cos(2 * a), np.sin(2 * a), np.log2(self.local_bpm / REFERENCE_BPM),
                self.accent, self.present.astype(np.float64)]  # fmt: skip
        return np.stack(cols, axis=1).astype(np.float32)


def for_generator(rhythm: Rhythm) -> Rhythm:
    """The grid a generator is given for ``rhythm``: the same, or in half time when faster than `MAX_GRID_BPM`
    (a dance read at double tempo, or a fast given tempo), so that it meets the tempi it learns from."""
    return rhythm.scaled(0.5) if rhythm.tempo > MAX_GRID_BPM else rhythm


def speed_dips(motion: Motion, window_s: float = DIP_WINDOW_S) -> np.ndarray:
    """float64[T]: how far the dancer's speed dips under its mean over ``window_s`` around each frame (torso
    lengths per second; 0 where no person was seen), at the motion's own frame rate."""
    fps = motion.fps
    if motion.num_frames < 3:
        return np.zeros(motion.num_frames)
    speed, valid = joint_speed(motion, fps=fps, smooth_s=SPEED_SMOOTH_S, joints=visible_joints(motion))
    speed, valid = _without_jumps(speed, valid, fps)
    if not np.any(speed > 0):
        return np.zeros(motion.num_frames)
    around = uniform_filter1d(speed, size=max(3, int(round(window_s * fps)) | 1), mode="nearest")
    return np.clip(around - speed, 0.0, None) * valid


def accent_envelope(motion: Motion, window_s: float = DIP_WINDOW_S) -> np.ndarray:
    """float64[T]: the movement-accent envelope of ``motion`` at its own frame rate (see the module docstring)."""
    dip = speed_dips(motion, window_s)
    scale = np.percentile(dip, 95) if np.any(dip > 0) else 0.0
    return np.clip(dip / scale, 0.0, 1.5) if scale > MIN_ACCENT_DIP else np.zeros_like(dip)


def _without_jumps(speed: np.ndarray, valid: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """``speed`` with the frames around jumps faster than `MAX_DANCE_SPEED` bridged linearly from their
    neighbours, and ``valid`` without them: a cut is neither an accent nor the scale of the accents."""
    jump = speed > MAX_DANCE_SPEED
    if not jump.any():
        return speed, valid
    jump = binary_dilation(jump, iterations=max(1, int(round(JUMP_MARGIN_S * fps))))
    if jump.all():
        return np.zeros_like(speed), np.zeros_like(valid)
    idx = np.arange(speed.size)
    return np.interp(idx, idx[~jump], speed[~jump]), valid & ~jump


def estimate_tempo(envelope: np.ndarray, fps: float) -> float | None:
    """BPM of the envelope's strongest periodicity in 60-200 BPM under the prior, or None if it has none.

    librosa's autocorrelation tempogram in 8-s windows, averaged over the dance, weighted by a log-normal
    prior (one octave wide) centred on 110 BPM. An envelope shorter than one window is read by `comb_tempo`,
    in the octave (the comb's tempo, its half or its double) nearest the tempogram's: the comb is precise
    within an octave, the autocorrelation leans to the slower of two that fit alike.
    """
    import librosa

    if envelope.size < int(fps * 60.0 / MAX_BPM) * 2 + 2 or not np.any(envelope > 0):
        return None
    bpm = librosa.feature.tempo(onset_envelope=envelope.astype(np.float64), sr=fps, hop_length=1,
                                start_bpm=PRIOR_BPM, std_bpm=PRIOR_OCTAVES, ac_size=TEMPOGRAM_S,
                                max_tempo=MAX_BPM)[0]  # fmt: skip
    auto = float(bpm) if np.isfinite(bpm) and MIN_BPM / 2 <= bpm <= MAX_BPM else None
    if envelope.size >= TEMPOGRAM_S * fps:
        return auto
    comb = comb_tempo(envelope, fps)
    if comb is None or auto is None:
        return comb if comb is not None else auto
    octaves = [b for b in (comb / 2, comb, comb * 2) if MIN_BPM <= b <= MAX_BPM]
    return min(octaves, key=lambda b: abs(np.log2(b / auto)))


def comb_tempo(envelope: np.ndarray, fps: float) -> float | None:
    """BPM (60-200) whose comb of beats the envelope's accents fit best, or None if it has none.

    The fit at a tempo is the magnitude of the envelope's Fourier component there over its sum (1 when every
    accent falls on one phase of the beat), weighted by the tempogram's prior. Accents on the half beats as well
    make the double tempo fit better than the dancer's own, so the half of the best tempo is taken where it keeps
    at least `COMB_OCTAVE_FIT` of the fit. In a clip of a few seconds the autocorrelation sees one or two lags of
    the period, quantised to whole frames; the comb counts every accent, at any tempo.
    """
    env = np.asarray(envelope, np.float64)
    total = env.sum()
    if env.size < 2 or total <= 0:
        return None
    t = np.arange(env.size) / fps

    def fit(bpm: np.ndarray) -> np.ndarray:
        return np.abs(np.exp(-2j * np.pi * (bpm[:, None] / 60.0) * t[None]) @ env) / total

    bpms = np.geomspace(MIN_BPM, MAX_BPM, COMB_STEPS)
    prior = np.exp(-0.5 * (np.log2(bpms / PRIOR_BPM) / PRIOR_OCTAVES) ** 2)
    fits = fit(bpms)
    best = int(np.argmax(fits * prior))
    bpm = float(bpms[best])
    if bpm / 2 >= MIN_BPM and fit(np.array([bpm / 2]))[0] >= COMB_OCTAVE_FIT * fits[best]:
        bpm /= 2
    return bpm


def _local_phase(envelope: np.ndarray, fps: float, bpm: float, window_beats: float) -> tuple[np.ndarray, np.ndarray]:
    """(phase offset float64[T] in cycles, confidence float64[T]) of the envelope at the period of ``bpm``, in a
    Gaussian window of about ``window_beats`` beats.

    phase offset p(t): the beats near t fall where ``t * bpm / 60 - p(t)`` is an integer.
    """
    n = envelope.size
    f = bpm / 60.0 / fps  # cycles per frame
    t = np.arange(n)
    z = envelope * np.exp(-2j * np.pi * f * t)
    sigma = window_beats / f / 2.5
    re = gaussian_filter1d(z.real, sigma, mode="constant")
    im = gaussian_filter1d(z.imag, sigma, mode="constant")
    w = gaussian_filter1d(envelope, sigma, mode="constant")
    mag = np.hypot(re, im)
    conf = mag / np.maximum(w, 1e-9)
    return -np.angle(re + 1j * im) / (2 * np.pi), np.where(w > 1e-9, conf, 0.0)


def estimate_rhythm(motion: Motion, *, tempo: float | None = None, window_beats: float | None = None) -> Rhythm:
    """The beat grid and accent envelope of ``motion`` (see the module docstring).

    tempo: the user's BPM; the grid then keeps exactly this period and takes only its phase from the dance.
    window_beats: the phase window in beats (default `PHASE_WINDOW_BEATS`); a generator follows grids made with
        the window it was trained with (`models.d2m.D2M.rhythm_window`).
    """
    fps, n = motion.fps, motion.num_frames
    present = np.asarray(motion.valid, bool).copy()
    env = accent_envelope(motion)
    tempo_env = accent_envelope(motion, TEMPO_DIP_WINDOW_S)
    source = "given" if tempo is not None else "motion"
    bpm = float(tempo) if tempo is not None else estimate_tempo(tempo_env, fps)
    if bpm is None:
        bpm, source = DEFAULT_BPM, "default"
    t = np.arange(n)
    f = bpm / 60.0 / fps
    if n == 0:
        return Rhythm(fps, bpm, np.zeros(0), np.zeros(0), np.zeros(0, np.float32), present, source)
    window = PHASE_WINDOW_BEATS if window_beats is None else float(window_beats)
    offset, conf = _local_phase(env, fps, bpm, window)
    if not np.any(conf > 0):
        offset = np.zeros(n)
    else:
        # Where the dance says little (still passages), hold the phase of the nearest confident frames.
        good = conf >= 0.25 * conf.max()
        offset = _fill_circular(offset, good)
        if tempo is not None:  # a given tempo: one phase for the whole dance, the envelope-weighted mean
            weights = conf * good
            offset = np.full(n, np.angle(np.sum(weights * np.exp(2j * np.pi * offset))) / (2 * np.pi))
    count = f * t - np.unwrap(2 * np.pi * offset) / (2 * np.pi)
    # A phase slip may not run the grid backwards: hold the count instead (no drift is accumulated).
    count = np.maximum.accumulate(count + 1e-6 * t) - 1e-6 * t
    local = np.clip(gaussian_filter1d(np.gradient(count), max(1.0, fps / 2)) * fps * 60.0, MIN_BPM / 2, MAX_BPM * 2)
    return Rhythm(fps, float(np.median(local)), count, local, env.astype(np.float32), present, source)


def _fill_circular(phase: np.ndarray, good: np.ndarray) -> np.ndarray:
    """Phases (cycles) at frames where ``good`` is False replaced by the nearest good frame's."""
    if good.all() or not good.any():
        return phase
    idx = np.flatnonzero(good)
    pos = np.clip(np.searchsorted(idx, np.arange(phase.size)), 1, idx.size - 1) if idx.size > 1 else None
    if pos is None:
        return np.full_like(phase, phase[idx[0]])
    left, right = idx[pos - 1], idx[pos]
    nearest = np.where(np.abs(np.arange(phase.size) - left) <= np.abs(right - np.arange(phase.size)), left, right)
    return np.where(good, phase, phase[nearest])
