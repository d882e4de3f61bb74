"""Plots of the evaluation (matplotlib, Agg backend): one figure per clip and a summary bar chart.

Per clip: the dancer's smoothed joint speed with its kinematic beats, an event raster (kinematic beats,
the reference's onsets and beats, each shown music's onsets and beats), and mel spectrograms of the
reference and of each generated music. Imported only when a report is written (matplotlib is slow to import).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ..constants import SAMPLE_RATE
from ..features.beats import music_beats
from .beats import detect_onsets


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _mel_db(audio: np.ndarray) -> np.ndarray:
    import librosa

    mel = librosa.feature.melspectrogram(y=np.asarray(audio, np.float32), sr=SAMPLE_RATE, n_mels=64, hop_length=256)
    return librosa.power_to_db(mel, ref=1.0, top_db=80.0)


def plot_clip(ref: Any, shown: dict[str, np.ndarray], path: str | Path) -> Path:
    """Write the figure of one clip to ``path`` (PNG). ``shown``: {method: audio} to draw next to the reference.

    ref: the clip's `metrics.evaluate.ClipReference` (its name, seq, start, seconds, audio, kin, beats,
    label_beats); taken as it comes, so that this module does not import the evaluation that calls it.
    """
    plt = _pyplot()
    n_spec = 1 + len(shown)
    fig = plt.figure(figsize=(10, 2.6 + 1.0 + 1.6 * n_spec))
    grid = fig.add_gridspec(2 + n_spec, 1, height_ratios=[2.2, 1.0 + 0.25 * len(shown)] + [1.6] * n_spec)
    dur = ref.seconds

    ax = fig.add_subplot(grid[0])
    ax.plot(ref.kin.speed_times, ref.kin.speed, color="0.2", lw=1.2, label="mean joint speed (smoothed)")
    for i, t in enumerate(ref.kin.times):
        ax.axvline(t, color="tab:red", lw=0.8, alpha=0.7, label="kinematic beats" if i == 0 else None)
    if ref.label_beats is not None:
        for i, t in enumerate(ref.label_beats):
            ax.axvline(t, color="tab:green", lw=0.8, ls="--", alpha=0.6, label="labelled beats" if i == 0 else None)
    ax.set_xlim(0, dur)
    ax.set_ylabel("speed")
    ax.set_title(f"{ref.name}  (t = {ref.start:.2f} s in {ref.seq})", fontsize=10)
    ax.legend(loc="upper right", fontsize=7)

    rows = [("kinematic beats", ref.kin.times, "tab:red"), ("reference onsets", detect_onsets(ref.audio), "0.3"),
            ("reference beats", ref.beats, "tab:blue")]  # fmt: skip
    for m, audio in shown.items():
        rows.append((f"{m} onsets", detect_onsets(audio), "0.5"))
        rows.append((f"{m} beats", music_beats(audio), "tab:purple"))
    ax = fig.add_subplot(grid[1])
    for i, (_, times, color) in enumerate(rows):
        ax.vlines(times, i + 0.1, i + 0.9, color=color, lw=1.5)
    ax.set_yticks(np.arange(len(rows)) + 0.5, [r[0] for r in rows], fontsize=7)
    ax.set_ylim(len(rows), 0)
    ax.set_xlim(0, dur)

    specs = [("reference", ref.audio)] + list(shown.items())
    for i, (label, audio) in enumerate(specs):
        ax = fig.add_subplot(grid[2 + i])
        db = _mel_db(audio)
        ax.imshow(db, origin="lower", aspect="auto", extent=(0, audio.size / SAMPLE_RATE, 0, db.shape[0]),
                  cmap="magma", vmin=-80, vmax=max(0.0, float(db.max())))  # fmt: skip
        ax.set_ylabel(f"{label}\nmel", fontsize=8)
        ax.set_xlim(0, dur)
    ax.set_xlabel("time (s)")
    # fixed margins: tight_layout measures every text box and costs more than drawing the figure
    fig.subplots_adjust(left=0.14, right=0.98, top=0.96, bottom=0.06, hspace=0.35)
    path = Path(path)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def plot_summary(report: Any, path: str | Path) -> Path:
    """Bar chart of BeatAlign (Bailando) and beat F1 per method, with standard errors (``report``: a
    `metrics.evaluate.EvaluationReport`)."""
    plt = _pyplot()
    methods = report.methods
    fig, axes = plt.subplots(1, 2, figsize=(max(6.0, 1.3 * len(methods) + 2), 3.2))
    for ax, key, title in ((axes[0], "ba_bailando", "BeatAlign (Bailando)"), (axes[1], "beat_f1", "beat F1 (±100 ms)")):
        vals = [report.summary[m].get(key, math.nan) for m in methods]
        errs = [report.summary[m].get(f"{key}_sem", math.nan) for m in methods]
        errs = [0.0 if not math.isfinite(e) else e for e in errs]
        ax.bar(range(len(methods)), vals, yerr=errs, color="tab:blue", alpha=0.8, capsize=3)
        ax.set_xticks(range(len(methods)), methods, rotation=30, ha="right", fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_ylim(0, 1)
    fig.subplots_adjust(left=0.08, right=0.98, top=0.9, bottom=0.3, wspace=0.25)
    path = Path(path)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
