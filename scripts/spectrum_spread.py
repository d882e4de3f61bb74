"""How far apart the mean log-mel spectra of different real songs are: the scale for "the music changes with
the dance" (`d2m evaluate --motion` reports the same two measures for the music of different dances).

    python scripts/spectrum_spread.py [--seconds 30] [--files aist:data/synth:test runs/eval/lower ...]

The immich-memories-music tracks (all of them; or each ``--files`` source in turn: folders of generated music,
``aist:ROOT:SPLIT``), one cut of ``--seconds`` from each track's start, each brought
to -16 LUFS as `d2m generate`'s music is (`io.loudness.normalize_loudness`); over the pairs of different
tracks: the mean (min, max) correlation of their mean log-mel spectra and their RMS distance in dB
(`metrics.evaluate_motion.mean_logmel`, `spectrum_distance`).
"""

from __future__ import annotations

import argparse

import numpy as np

from dance2music.constants import SAMPLE_RATE
from dance2music.data.music import resolve_sources
from dance2music.io.audio import load_audio
from dance2music.io.loudness import normalize_loudness
from dance2music.metrics.evaluate_motion import mean_logmel, spectrum_distance


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--files", nargs="*", default=["immich:all"], help="music sources, each measured on its own")
    args = ap.parse_args(argv)
    for src in args.files:
        spread(src, args.seconds)
    return 0


def spread(src: str, seconds: float) -> None:
    n = int(seconds * SAMPLE_RATE)
    cuts = [load_audio(t, sr=SAMPLE_RATE)[:n] for t in resolve_sources([src])]
    if len(cuts) < 2:
        raise SystemExit(f"error: {src}: fewer than two pieces of music")
    spectra = [mean_logmel(normalize_loudness(c, SAMPLE_RATE)[0]) for c in cuts]
    pairs = [(a, b) for a in range(len(spectra)) for b in range(a + 1, len(spectra))]
    corr = np.array([np.corrcoef(spectra[a], spectra[b])[0, 1] for a, b in pairs])
    dist = np.array([spectrum_distance(spectra[a], spectra[b]) for a, b in pairs])
    print(f"{src}: {len(spectra)} pieces, {len(pairs)} pairs, first {seconds:g} s of each:")
    print(f"  mean log-mel correlation {corr.mean():.3f} (min {corr.min():.3f}, max {corr.max():.3f})")
    print(f"  RMS distance {dist.mean():.2f} dB (min {dist.min():.2f}, max {dist.max():.2f})")


if __name__ == "__main__":
    raise SystemExit(main())
