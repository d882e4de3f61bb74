"""The page's beat-alignment figure: the dancer's movement beats against the generated music's onsets.

The numbers come from `dance2music.metrics` (kinematic beats = local minima of the smoothed joint speed; music
onsets from librosa; one-to-one matching within +-100 ms); this module only draws them. Music beats from
librosa's beat tracker are left out on purpose: its first call compiles for several seconds, and onsets are
what a viewer hears land on the moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class BeatReport:
    """What the figure shows, in numbers.

    motion_beats: float64[K] kinematic beat times (s). onsets: float64[M] music onset times (s).
    matched: movement beats with a music onset within ``tolerance`` seconds (one-to-one).
    """

    motion_beats: np.ndarray
    onsets: np.ndarray
    matched: int
    tolerance: float

    def as_dict(self) -> dict[str, float | int]:
        return {"motion_beats": int(self.motion_beats.size), "music_onsets": int(self.onsets.size),
                "matched_beats": self.matched}  # fmt: skip

    def sentence(self) -> str:
        k = self.motion_beats.size
        if k == 0:
            return "No movement beats were found (the dancer hardly moves, or was not seen)."
        return (
            f"{self.matched} of {k} movement beats have a music onset within ±{1000 * self.tolerance:.0f} ms "
            f"({self.onsets.size} onsets in all)."
        )


def beat_alignment_plot(result, path: str | Path, *, dpi: int = 90) -> BeatReport:
    """Draw the figure of a `api.GenerationResult` (which must carry its features) into ``path`` (PNG).

    Top: mean joint speed (smoothed) with the kinematic beats; bottom: a raster of kinematic beats and music
    onsets, the matched beats marked. Returns the numbers shown.
    """
    from ..metrics.beats import music_onsets
    from ..metrics.motion_beats import BEAT_F1_TOLERANCE_S, kinematic_beats, match_beats

    if result.features is None:
        raise ValueError("the result carries no dance features to plot")
    kin = kinematic_beats(result.features.motion)
    onsets = music_onsets(result.audio, result.sample_rate)
    tol = BEAT_F1_TOLERANCE_S
    matched = match_beats(kin.times, onsets, tol)
    report = BeatReport(kin.times, onsets, matched, tol)
    hit = _near(kin.times, onsets, tol)

    import matplotlib

    matplotlib.use("Agg")  # no display on a server
    from matplotlib.figure import Figure

    # A bare Figure (not pyplot): pyplot keeps global state that concurrent requests would share.
    fig = Figure(figsize=(8.0, 3.4))
    grid = fig.add_gridspec(2, 1, height_ratios=[2.2, 1.0], hspace=0.12)
    dur = max(result.duration, 1e-3)

    ax = fig.add_subplot(grid[0])
    ax.plot(kin.speed_times, kin.speed, color="0.25", lw=1.3, label="dancer's joint speed")
    for i, t in enumerate(kin.times):
        ax.axvline(t, color="tab:red", lw=1.0, alpha=0.75, label="movement beats" if i == 0 else None)
    ax.set_xlim(0, dur)
    ax.set_ylabel("speed")
    ax.tick_params(labelbottom=False)
    ax.legend(loc="upper right", fontsize=7, framealpha=0.8)
    ax.set_title("Beat alignment: movement beats (speed minima) vs. music onsets", fontsize=9)

    ax = fig.add_subplot(grid[1])
    ax.vlines(onsets, 0.1, 0.9, color="tab:blue", lw=1.4)
    ax.vlines(kin.times[~hit], 1.1, 1.9, color="tab:red", lw=1.4, alpha=0.45)
    ax.vlines(kin.times[hit], 1.1, 1.9, color="tab:red", lw=2.4)
    ax.set_yticks([0.5, 1.5], ["music onsets", "movement beats"], fontsize=7)
    ax.set_ylim(2.0, 0.0)
    ax.set_xlim(0, dur)
    ax.set_xlabel("time (s)   (bold: a music onset within ±100 ms)", fontsize=8)
    fig.subplots_adjust(left=0.14, right=0.98, top=0.9, bottom=0.17)
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    return report


def _near(points: np.ndarray, targets: np.ndarray, tol: float) -> np.ndarray:
    """bool[K]: whether each of ``points`` has a target within ``tol`` (for drawing; not one-to-one)."""
    if points.size == 0 or targets.size == 0:
        return np.zeros(points.size, dtype=bool)
    return np.min(np.abs(points[:, None] - targets[None, :]), axis=1) <= tol + 1e-9
