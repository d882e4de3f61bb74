"""Loudness normalization of the music: ITU-R BS.1770 integrated loudness to a target, true peak under a ceiling.

Every output of `Dance2Music.generate` goes through `normalize_loudness` (unless turned off): the decoder's raw
output sat around -25 LUFS and varied from dance to dance, quieter than the music people put under videos
(streaming platforms play at -14 to -16 LUFS). The steps:

1. measure the integrated loudness (BS.1770-4: K-weighting, 400-ms blocks, absolute gate at -70 LUFS and
   relative gate at -10 LU) with pyloudnorm, and apply the gain that brings it to ``target_lufs``;
2. catch the peaks that gain pushes past ``true_peak_dbtp`` with pedalboard's lookahead brick-wall limiter,
   its side chain 4x oversampled so that peaks between samples count (`pedalboard.BrickwallLimiter`; the plain
   `pedalboard.Limiter` adds make-up gain and clips at 0 dBFS, so it cannot hold a ceiling);
3. limiting lowers the loudness a little, so steps 1-2 repeat from the original with the gain corrected by the
   measured shortfall until the loudness is within `TOLERANCE_LU` of the target (two or three rounds);
4. music too peaky for that (a still dancer's music can be sparse drum hits over near-silence, its peaks far
   above its loudness): a far-driven brick-wall limiter holds its gain down between the hits, so more gain stops
   making it louder; such music goes instead through a tanh soft clipper whose ceiling is the limiter's, with the
   drive found by bisection, then the limiter (the clipper has no memory: it flattens the tops of the hits and
   leaves the quiet between them as far under them as it was);
5. the limiter "substantially reduces" inter-sample overs but does not guarantee them away (its own
   documentation; -0.85 dBTP measured on a click track for a -1 dBTP ceiling), so the true peak is measured
   again (BS.1770-4 Annex 2: 4x oversampling) and, where it is still over, the whole signal is scaled down.

Audio too short for one 400-ms block is measured looped to one block (its mean square is the same); silence
(nothing above the -70 LUFS gate) is left as it is. ``info`` says which of these happened.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ConfigError

#: BS.1770's gating block (s): pyloudnorm cannot measure anything shorter.
BLOCK_SECONDS = 0.4
#: How close to the target the loudness is brought (LU).
TOLERANCE_LU = 0.1
#: The limiter's ceiling sits this far under the true-peak limit, so that the final check seldom has to scale.
LIMITER_MARGIN_DB = 0.3
#: The most gain applied (dB): a near-silent hum is not raised into a roar.
MAX_GAIN_DB = 50.0
#: The most one round adds to the gain (dB): a far-driven brick-wall limiter holds its gain down between
#: peaks, so that past some point more gain makes peaky music quieter, not louder.
MAX_STEP_DB = 6.0
_ROUNDS = 8
#: Bisection rounds of the soft clipper's drive (music too peaky for the limiter alone).
_CLIP_ROUNDS = 14
#: Loudness targets accepted (LUFS): quieter is barely audible, louder cannot stay under the true-peak limit
#: without the limiter crushing the music.
MIN_TARGET_LUFS, MAX_TARGET_LUFS = -40.0, -6.0


def true_peak(audio: np.ndarray) -> float:
    """True peak (dBTP) of ``audio`` (float[N] or float[N, C]): the largest magnitude of the signal 4x
    oversampled (ITU-R BS.1770-4, Annex 2), in dB relative to full scale; -inf for silence."""
    from scipy.signal import resample_poly

    x = np.asarray(audio, dtype=np.float64)
    if x.size == 0:
        return -math.inf
    up = resample_poly(x, 4, 1, axis=0)
    peak = max(float(np.max(np.abs(up))), float(np.max(np.abs(x))))
    return 20.0 * math.log10(peak) if peak > 0 else -math.inf


def frame_levels_dbfs(audio: np.ndarray, sr: int, frame_s: float = 0.1) -> np.ndarray:
    """RMS level (dBFS) of each whole ``frame_s`` frame of ``audio`` (1-D); audio shorter than a frame is one."""
    y = np.asarray(audio, np.float64).ravel()
    hop = int(round(frame_s * sr))
    frames = y[: (y.size // hop) * hop].reshape(-1, hop) if y.size >= hop else y[None]
    return 20.0 * np.log10(np.maximum(np.sqrt((frames**2).mean(axis=1)), 1e-12))


def integrated_loudness(audio: np.ndarray, sr: int) -> float:
    """BS.1770-4 integrated loudness (LUFS) by pyloudnorm; audio shorter than one 400-ms block is measured
    looped to one block. -inf for silence (nothing above the -70 LUFS absolute gate) or empty audio."""
    import pyloudnorm

    x = np.asarray(audio, dtype=np.float64)
    n = x.shape[0]
    if n == 0:
        return -math.inf
    need = int(math.ceil(BLOCK_SECONDS * sr)) + 1
    if n < need:
        x = np.concatenate([x] * int(math.ceil(need / n)), axis=0)[:need]
    with np.errstate(divide="ignore"):
        return float(pyloudnorm.Meter(sr).integrated_loudness(x))


def normalize_loudness(
    audio: np.ndarray,
    sr: int,
    target_lufs: float = -16.0,
    true_peak_dbtp: float = -1.0,
    *,
    max_gain_db: float = MAX_GAIN_DB,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Bring ``audio`` to ``target_lufs`` integrated loudness with its true peak at most ``true_peak_dbtp``.

    audio: float[N] (mono) or float[N, C], at ``sr`` Hz; returned as float32 of the same shape.
    Returns ``(audio, info)``; info: ``input_lufs``, ``output_lufs``, ``true_peak_dbtp`` (of the output),
    ``gain_db`` (the gain before limiting), ``limited`` (the limiter changed samples), ``clip_drive_db`` (the
    soft clipper's drive, None when it was not needed), ``peak_scaled_db`` (the final true-peak correction, 0 if
    none), ``note`` (what was done, in words), ``target_lufs``; levels of silence are None.
    """
    check_target(target_lufs, true_peak_dbtp)
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim not in (1, 2):
        raise ValueError(f"audio must be [N] or [N, C], not {x.shape}")
    info: dict[str, Any] = {"target_lufs": float(target_lufs), "true_peak_limit_dbtp": float(true_peak_dbtp)}
    short = x.shape[0] < BLOCK_SECONDS * sr
    measured = integrated_loudness(x, sr)
    info["input_lufs"] = _round(measured)
    if not math.isfinite(measured):
        tp = true_peak(x)
        info.update(output_lufs=info["input_lufs"], true_peak_dbtp=_round(tp), gain_db=0.0, limited=False,
                    clip_drive_db=None, peak_scaled_db=0.0,
                    note="silent (nothing above the -70 LUFS gate): left as it is")  # fmt: skip
        return x.copy(), info

    y, limited, gain_db, out = _gain_to_target(x, sr, measured, target_lufs, true_peak_dbtp, max_gain_db)
    clipped = None
    if target_lufs - out > TOLERANCE_LU and target_lufs - measured < max_gain_db:
        # Too peaky for the limiter alone (sparse drum hits over near-silence): soft-clip the hits first.
        tried = _soft_clip_to_target(x, sr, target_lufs, true_peak_dbtp, max_gain_db)
        if abs(target_lufs - tried[3]) < abs(target_lufs - out):
            y, limited, clipped, out = tried
            gain_db = clipped

    scaled = 0.0
    tp = true_peak(y)
    if tp > true_peak_dbtp:  # the limiter's leftover inter-sample overs
        scaled = true_peak_dbtp - tp - 0.01
        y = (y * 10 ** (scaled / 20)).astype(np.float32)
        tp = true_peak(y)
    out = integrated_loudness(y, sr)
    notes = [f"{_round(measured)} -> {_round(out)} LUFS"]
    if short:
        notes.append(f"shorter than {BLOCK_SECONDS:g} s: measured looped to one block")
    if target_lufs - out > TOLERANCE_LU + 0.05:
        notes.append(
            f"gain capped at +{max_gain_db:g} dB"
            if gain_db >= max_gain_db
            else "too peaky to reach the target under the true-peak limit"
        )
    if clipped is not None:
        notes.append(f"soft-clipped first, driven {clipped:.1f} dB (too peaky for the limiter alone)")
    if limited:
        notes.append(f"peaks limited to {true_peak_dbtp - LIMITER_MARGIN_DB:g} dBTP")
    if scaled:
        notes.append(f"scaled {scaled:.2f} dB for inter-sample peaks")
    info.update(output_lufs=_round(out), true_peak_dbtp=_round(tp), gain_db=_round(gain_db), limited=limited,
                clip_drive_db=None if clipped is None else _round(clipped),
                peak_scaled_db=_round(scaled), note="; ".join(notes))  # fmt: skip
    return y, info


def check_target(target_lufs: float, true_peak_dbtp: float = -1.0) -> None:
    """Refuse a loudness target outside [`MIN_TARGET_LUFS`, `MAX_TARGET_LUFS`] or a true-peak limit above 0 dBTP."""
    if not (MIN_TARGET_LUFS <= float(target_lufs) <= MAX_TARGET_LUFS):
        raise ConfigError(
            f"the loudness target must be between {MIN_TARGET_LUFS:g} and {MAX_TARGET_LUFS:g} LUFS, not "
            f"{target_lufs:g} (-16 suits video; -23 is EBU R128 broadcast; --no-loudness turns it off)"
        )
    if not (-20.0 <= float(true_peak_dbtp) <= 0.0):
        raise ConfigError(f"the true-peak limit must be between -20 and 0 dBTP, not {true_peak_dbtp:g}")


def _gain_to_target(
    x: np.ndarray, sr: int, measured: float, target_lufs: float, true_peak_dbtp: float, max_gain_db: float
) -> tuple[np.ndarray, bool, float, float]:
    """Gain (and the limiter) that bring ``x``, measured at ``measured`` LUFS, nearest ``target_lufs``:
    (audio, limited, gain_db, output LUFS) of the closest round."""
    gain_db = min(target_lufs - measured, max_gain_db)
    prev: tuple[float, float] | None = None  # (gain, loudness) of the round before
    best: tuple[float, np.ndarray, bool, float, float] | None = None  # (|miss|, audio, limited, gain, LUFS)
    for _ in range(_ROUNDS):
        y, limited = _gain_and_limit(x, sr, gain_db, true_peak_dbtp - LIMITER_MARGIN_DB)
        out = integrated_loudness(y, sr)
        miss = target_lufs - out
        if best is None or abs(miss) < best[0]:
            best = abs(miss), y, limited, gain_db, out
        if abs(miss) <= TOLERANCE_LU or gain_db >= max_gain_db:
            break
        # Under the limiter a dB of gain adds less than a dB of loudness: step by the slope seen so far (secant).
        slope = 1.0 if prev is None or gain_db == prev[0] else (out - prev[1]) / (gain_db - prev[0])
        if slope <= 0.05:  # more gain no longer makes it louder (the limiter takes it all): as close as it gets
            break
        prev = gain_db, out
        gain_db = min(gain_db + min(miss / min(1.0, slope), MAX_STEP_DB), max_gain_db)
    assert best is not None
    return best[1], best[2], best[3], best[4]


def _soft_clip_to_target(
    x: np.ndarray, sr: int, target_lufs: float, true_peak_dbtp: float, max_gain_db: float
) -> tuple[np.ndarray, bool, float, float]:
    """``x`` driven into a tanh soft clipper whose ceiling is the limiter's, then through the limiter (for the
    peaks between samples), with the drive found by bisection: (audio, limited, drive_db, output LUFS) nearest
    the target. Loudness rises steadily with the drive (the clipper has no memory, unlike the limiter's held
    gain), so the target is reached whenever the drive allowed reaches it."""
    ceiling_db = true_peak_dbtp - LIMITER_MARGIN_DB
    c = np.float32(10 ** (ceiling_db / 20))
    peak = float(np.max(np.abs(x)))
    lo = ceiling_db - 20.0 * math.log10(peak)  # drive at which the largest sample just reaches the ceiling
    hi = max(lo, max_gain_db)
    best: tuple[float, np.ndarray, bool, float, float] | None = None
    for _ in range(_CLIP_ROUNDS):
        drive = 0.5 * (lo + hi) if best is not None else hi  # the most drive first: is the target reachable?
        shaped = (c * np.tanh(x * np.float32(10 ** (drive / 20)) / c)).astype(np.float32)
        y, limited = _gain_and_limit(shaped, sr, 0.0, ceiling_db)
        out = integrated_loudness(y, sr)
        if best is None or abs(target_lufs - out) < best[0]:
            best = abs(target_lufs - out), y, limited, drive, out
        if abs(target_lufs - out) <= TOLERANCE_LU or (drive == hi and out < target_lufs):
            break
        lo, hi = (drive, hi) if out < target_lufs else (lo, drive)
    assert best is not None
    return best[1], best[2], best[3], best[4]


def _gain_and_limit(x: np.ndarray, sr: int, gain_db: float, ceiling_db: float) -> tuple[np.ndarray, bool]:
    """``x`` times the gain, through the brick-wall limiter when the gain pushes its true peak past the ceiling."""
    y = (x * np.float32(10 ** (gain_db / 20))).astype(np.float32)
    if true_peak(y) <= ceiling_db:
        return y, False
    from pedalboard import BrickwallLimiter

    limiter = BrickwallLimiter(ceiling_db=ceiling_db, true_peak=True)
    # pedalboard wants [channels, samples]; it compensates the limiter's lookahead, so the timing is kept.
    chans = y[None] if y.ndim == 1 else y.T
    out = limiter(np.ascontiguousarray(chans), float(sr), reset=True)
    out = out[0] if y.ndim == 1 else out.T
    return np.ascontiguousarray(out, dtype=np.float32), True


def _round(v: float) -> float | None:
    """Two decimals; None for -inf (silence), so that the info can go into JSON."""
    return round(float(v), 2) if math.isfinite(v) else None
