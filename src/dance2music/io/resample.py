"""Audio resampling shared by the audio and video readers and writers (`io.audio`, `io.video`)."""

from __future__ import annotations

import numpy as np


def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """float32[C, N] from ``sr_in`` to ``sr_out`` (soxr high quality through librosa)."""
    if sr_in == sr_out:
        return audio
    import librosa

    return librosa.resample(audio, orig_sr=sr_in, target_sr=sr_out, res_type="soxr_hq", axis=-1).astype(np.float32)
