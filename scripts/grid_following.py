"""Where a generator puts its loudness and its attacks against the beat grid it is given.

    python scripts/grid_following.py --cache data/cache/synth --split val --model d2m-top [--model FILE ...]
        [--max 40] [--profile PNG]

For each sequence of a cached split (its clean motion, its rhythm read as `d2m generate` reads it) the music is
made twice without the beat lock: once on the dance's grid, once on the grid moved by half a beat (the accents,
the motion and the noise unchanged). Each music's onset strength (librosa, 11.6-ms hops) is placed on the
dance's own grid; per music it prints the onset phase (the angle of the onset-weighted mean of exp(2 pi i phase),
in beats; 0 = on the dance's beats) and its strength (the mean's length), the onset strength on the beat over
that on the half beat (each within 1/16 beat; median over the sequences), the same for the music's RMS energy,
and the onset envelope's correlation with the ground-truth music's.
The ground truth is printed the same way. "Following" is the circular distance between the two musics' onset
phases per sequence, averaged: 0.5 when the music moves with the grid, 0 when the grid's phase is ignored.
The beat profile (`--profile`, and the peaks in the table) is each envelope over its mean, averaged in
`PROFILE_BINS` bins of the dance's beat phase, then over the sequences: where in the beat the attacks and the
loudness sit, an attack (a sharp rise, then decay) against a swell (a slow rise to a peak).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from dance2music.constants import MOTION_FPS
from dance2music.data.cache import FeatureCache
from dance2music.errors import D2MError
from dance2music.features.rhythm import Rhythm, estimate_rhythm
from dance2music.models.d2m import D2M, dance_tensors

HOP = 256
NEAR = 1.0 / 16  # beats on each side of the beat and the half beat
PROFILE_BINS = 16


def onset_envelope(audio: np.ndarray, sr: int) -> np.ndarray:
    import librosa

    return librosa.onset.onset_strength(y=np.asarray(audio, np.float32), sr=sr, hop_length=HOP)


def energy_envelope(audio: np.ndarray) -> np.ndarray:
    import librosa

    return librosa.feature.rms(y=np.asarray(audio, np.float32), frame_length=4 * HOP, hop_length=HOP)[0]


def _phase(n: int, sr: int, rhythm: Rhythm) -> np.ndarray:
    t = np.arange(n) * HOP / sr
    return np.mod(np.interp(t, np.arange(rhythm.num_frames) / rhythm.fps, rhythm.beat_count), 1.0)


def beat_ratio(env: np.ndarray, phase: np.ndarray) -> float:
    """Mean of ``env`` within `NEAR` of the beats over its mean within `NEAR` of the half beats."""
    dist = np.abs(phase - np.round(phase))  # beats from the nearest beat
    on, half = env[dist <= NEAR], env[np.abs(dist - 0.5) <= NEAR]
    eps = 1e-3 * float(env.mean()) + 1e-12  # a grid with nothing on its half beats has a large, finite ratio
    return float((on.mean() + eps) / (half.mean() + eps)) if on.size and half.size else float("nan")


def beat_profile(env: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """``env`` over its mean, averaged in `PROFILE_BINS` bins of the beat ``phase`` (bin 0 starts on the beat;
    a bin nothing falls in is NaN)."""
    rel = env / max(float(env.mean()), 1e-12)
    idx = np.minimum((phase * PROFILE_BINS).astype(int), PROFILE_BINS - 1)
    total = np.bincount(idx, rel, PROFILE_BINS)
    count = np.bincount(idx, minlength=PROFILE_BINS)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def grid_stats(env: np.ndarray, sr: int, rhythm: Rhythm, energy: np.ndarray | None = None) -> dict:
    """Onset phase and strength on ``rhythm``'s grid, the beat / half-beat onset ratio and the onset beat
    profile (`beat_profile`); given the music's RMS ``energy`` (`energy_envelope`), its ratio and profile too."""
    phase = _phase(env.size, sr, rhythm)
    z = np.sum(env * np.exp(2j * np.pi * phase)) / max(float(env.sum()), 1e-9)
    out = {"phase": float(np.mod(np.angle(z) / (2 * np.pi), 1.0)), "strength": float(np.abs(z)),
           "ratio": beat_ratio(env, phase), "onset_profile": beat_profile(env, phase)}  # fmt: skip
    if energy is not None:
        e_phase = _phase(energy.size, sr, rhythm)
        out["energy"] = beat_ratio(energy, e_phase)
        out["energy_profile"] = beat_profile(energy, e_phase)
    return out


def circular_mean(phases: list[float]) -> float:
    return float(np.mod(np.angle(np.mean(np.exp(2j * np.pi * np.asarray(phases)))) / (2 * np.pi), 1.0))


def follow(model: D2M, cache: FeatureCache, names: list[str], seed: int = 0):
    """({music: [grid_stats + "corr", per sequence]}, [following per sequence]) for ``names`` of ``cache``."""
    rows: dict[str, list[dict[str, float]]] = {"ground truth": [], "dance's grid": [], "grid moved half a beat": []}
    following = []
    sr = model.sample_rate
    for k, name in enumerate(names):
        motion, _, _ = cache.load_arrays(name)
        motion = motion.resample(MOTION_FPS)
        m, v = dance_tensors(motion, None, model.visual_dim)
        rhythm = estimate_rhythm(motion, window_beats=model.rhythm_window)
        n = int(round(motion.num_frames / MOTION_FPS * sr))
        truth = cache.read_audio(name, 0, n)
        gt_env = onset_envelope(truth, sr)
        rows["ground truth"].append(grid_stats(gt_env, sr, rhythm, energy_envelope(truth)))
        phases = []
        for key, grid in (("dance's grid", rhythm), ("grid moved half a beat", rhythm.shifted(0.5))):
            out = model.generate(m, v, rhythm=grid, seed=seed + k, num_samples=n, beat_lock=False)
            audio = out.audio[0, 0].float().numpy()
            env = onset_envelope(audio, sr)
            s = grid_stats(env, sr, rhythm, energy_envelope(audio))
            both = min(env.size, gt_env.size)
            s["corr"] = float(np.corrcoef(env[:both], gt_env[:both])[0, 1])
            rows[key].append(s)
            phases.append(s["phase"])
        d = abs(phases[1] - phases[0]) % 1.0
        following.append(min(d, 1.0 - d))
    return rows, following


def mean_profile(rs: list[dict], key: str) -> np.ndarray:
    return np.nanmean(np.stack([r[key] for r in rs]), axis=0)


def print_table(name: str, rows: dict, following: list[float], n: int, args) -> None:
    print(f"{name} on {n} {args.split} sequences of {args.cache} (no beat lock, seed {args.seed})\n")
    print("| music | onset phase (beats) | phase strength | beat / half-beat onsets | beat / half-beat energy "
          "| onset / energy profile peak (beats) | onset corr. with ground truth |\n"
          "| --- | --- | --- | --- | --- | --- | --- |")  # fmt: skip
    for key, rs in rows.items():
        ph = circular_mean([r["phase"] for r in rs])
        st = np.mean([r["strength"] for r in rs])
        ratio = np.nanmedian([r["ratio"] for r in rs])
        energy = np.nanmedian([r["energy"] for r in rs])
        peaks = [np.nanargmax(mean_profile(rs, k)) / PROFILE_BINS for k in ("onset_profile", "energy_profile")]
        corr = "" if key == "ground truth" else f"{np.nanmean([r['corr'] for r in rs]):.3f}"
        print(f"| {key} | {ph:.3f} | {st:.3f} | {ratio:.2f} | {energy:.2f} | {peaks[0]:.3f} / {peaks[1]:.3f} "
              f"| {corr} |")  # fmt: skip
    f = np.asarray(following)
    se = f.std(ddof=1) / np.sqrt(f.size) if f.size > 1 else float("nan")
    print(f"\nfollowing (circular distance between the two musics' onset phases; 0.5 = moves with the grid): "
          f"{f.mean():.3f} ± {se:.3f}\n")  # fmt: skip


def plot_profiles(results: list[tuple[str, dict]], path: str) -> None:
    """One row per model: the onset and the energy beat profiles of each music, over two beats."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(results), 2, figsize=(10, 2.8 * len(results)), squeeze=False, sharex=True)
    x = (np.arange(2 * PROFILE_BINS) + 0.5) / PROFILE_BINS
    for (name, rows), row in zip(results, axes):
        for ax, key, what in zip(row, ("onset_profile", "energy_profile"), ("onset strength", "RMS energy")):
            for music, rs in rows.items():
                ax.plot(x, np.tile(mean_profile(rs, key), 2), label=music, marker=".")
            for b in (0.0, 1.0, 2.0):
                ax.axvline(b, color="0.6", lw=0.8)
            ax.set_title(f"{Path(name).stem}: {what} (over its mean)", fontsize=9)
        row[0].legend(fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("the dance's beat phase (beats; lines on its beats)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", required=True)
    ap.add_argument("--split", default="val")
    ap.add_argument("--model", action="append", help="a generator name or file (repeat to compare; d2m-top)")
    ap.add_argument("--max", type=int, default=40, help="sequences (evenly spread over the split)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--profile", help="write the beat profiles of every model's music to this PNG")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    names_of_models = args.model or ["d2m-top"]
    try:
        models = [D2M.from_pretrained(name) for name in names_of_models]
        for name, model in zip(names_of_models, models):
            if not model.follows_rhythm:
                raise D2MError(f"{name} does not take a beat grid")
        cache = FeatureCache(args.cache, args.split)
    except D2MError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    names = cache.names()
    pick = np.unique(np.linspace(0, len(names) - 1, min(args.max, len(names))).round().astype(int))
    results = []
    for name, model in zip(names_of_models, models):
        rows, following = follow(model, cache, [names[k] for k in pick], args.seed)
        print_table(name, rows, following, len(pick), args)
        results.append((name, rows))
    if args.profile:
        plot_profiles(results, args.profile)
        print(f"wrote {args.profile}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
