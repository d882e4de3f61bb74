"""How far apart the mean log-mel spectra of different real songs are: the scale for "the music changes with
the dance" (`d2m evaluate --motion` reports the same two measures for the music of different dances).

    python scripts/spectrum_spread.py [--seconds 30]

The immich-memories-music tracks (all of them), one cut of ``--seconds`` from each track's start, each brought
to -16 LUFS as `d2m generate`'s music is (`io.loudness.normalize_loudness`); over the pairs of different
tracks: the mean (min, max) correlation of their mean log-mel spectra and their RMS distance in dB
(`metrics.evaluate_motion.mean_logmel`, `spectrum_distance`).
"""

from __future__ import annotations

import argparse

import numpy as np

from dance2music.constants import SAMPLE_RATE
from dance2music.data.music import immich_tracks
from dance2music.io.audio import load_audio
from dance2music.io.loudness import normalize_loudness
from dance2music.metrics.evaluate_motion import mean_logmel, spectrum_distance


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args(argv)
    n = int(args.seconds * SAMPLE_RATE)
    cuts = [load_audio(t, sr=SAMPLE_RATE)[:n] for t in immich_tracks("all")]
    spectra = [mean_logmel(normalize_loudness(c, SAMPLE_RATE)[0]) for c in cuts]
    pairs = [(a, b) for a in range(len(spectra)) for b in range(a + 1, len(spectra))]
    corr = np.array([np.corrcoef(spectra[a], spectra[b])[0, 1] for a, b in pairs])
    dist = np.array([spectrum_distance(spectra[a], spectra[b]) for a, b in pairs])
    print(f"{len(spectra)} real tracks, {len(pairs)} pairs of different tracks, first {args.seconds:g} s of each:")
    print(f"  mean log-mel correlation {corr.mean():.3f} (min {corr.min():.3f}, max {corr.max():.3f})")
    print(f"  RMS distance {dist.mean():.2f} dB (min {dist.min():.2f}, max {dist.max():.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
