"""A spectral gate after the decoder, measured as a way to the issue-17 noise floor (tried, not kept).

Round trips of real music through a tokenizer (`bench_sound.py`'s measures: high-band floor rise over the
original, median over tracks; log-mel L1 to the input; flatness, onset contrast, H/P ratio), then the same
round trips through noisereduce's spectral gating (Sainburg et al. 2020; `pip install noisereduce`, not a
dependency of the project): stationary gating over the whole band at several strengths, and over the band above
1.5 kHz only (a 4th-order Butterworth split, the low band left as decoded).

    python scripts/spectral_gate_trial.py [--files immich:train] [--tracks 6] [--model vqvae-base-adv]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", default="immich:train", help="music to round-trip (tuning on the train tracks)")
    p.add_argument("--tracks", type=int, default=6)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--model", default="vqvae-base-adv")
    args = p.parse_args()
    try:
        import noisereduce as nr
    except ImportError:
        print("error: this trial needs noisereduce (pip install noisereduce)", file=sys.stderr)
        return 2
    from scipy.signal import butter, sosfiltfilt

    from dance2music.constants import SAMPLE_RATE as SR
    from dance2music.data.music import load_audio, resolve_sources
    from dance2music.losses.spectral import LogMelDistance
    from dance2music.metrics.sound import floor_rise_db, sound_measures
    from dance2music.models.vqvae import VQVAE
    from dance2music.pretrained.registry import resolve

    torch.set_num_threads(2)
    tracks = [load_audio(f, SR)[: int(args.seconds * SR)] for f in resolve_sources([args.files])[: args.tracks]]
    model = VQVAE.load(resolve(args.model)).eval()
    mel = LogMelDistance(sample_rate=SR)
    high = butter(4, 1500, "highpass", fs=SR, output="sos")

    def gate(y: np.ndarray, strength: float, high_only: bool) -> np.ndarray:
        if not high_only:
            return nr.reduce_noise(y=y, sr=SR, stationary=True, prop_decrease=strength, n_jobs=1)
        h = sosfiltfilt(high, y)
        return (y - h) + nr.reduce_noise(y=h, sr=SR, stationary=True, prop_decrease=strength, n_jobs=1)

    variants = [("as decoded", None, False)] + [(f"gate {s:g}", s, False) for s in (0.3, 0.5, 0.8)]
    variants += [(f"gate {s:g} above 1.5 kHz", s, True) for s in (0.6, 0.8)]
    print("| level | music | floor rise (dB) | mel L1 | flatness | onset contrast (dB) | H/P ratio (dB) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for level in range(model.levels):
        with torch.no_grad():
            codes = [model.encode(torch.from_numpy(y)[None, None], level) for y in tracks]
            decoded = [model.decode_chunked(c, level)[0, 0, : len(y)].numpy() for c, y in zip(codes, tracks)]
        for name, strength, high_only in variants:
            rises, l1s, ms = [], [], []
            for y, r in zip(tracks, decoded):
                out = r if strength is None else gate(r, strength, high_only).astype(np.float32)
                rises.append(floor_rise_db(out, y, SR))
                l1s.append(float(mel(torch.from_numpy(out)[None, None], torch.from_numpy(y)[None, None])))
                ms.append(sound_measures(out, SR).as_dict())
            m = {k: float(np.mean([x[k] for x in ms])) for k in ms[0]}
            print(
                f"| hop {model.hops[level]} | {name} | {np.median(rises):+.2f} | {np.mean(l1s):.3f} | "
                f"{m['flatness']:.4f} | {m['onset_contrast_db']:.1f} | {m['hpr_db']:+.1f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
