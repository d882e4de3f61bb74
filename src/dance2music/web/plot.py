"""The page's beat-alignment figure: the dancer's movement beats against the generated music's onsets.

The numbers come from `dance2music.features.beats` and `metrics.beats` (kinematic beats = local minima of the
smoothed joint speed; music onsets from librosa; one-to-one matching within +-100 ms); this module only draws
them. Music beats from
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


#: Seconds of dance one row of the figure covers at most: about 15 pixels a second on the page, so movement
#: beats (typically 1-3 a second) stay apart.
ROW_SECONDS = 30.0
#: Rows at most; a longer video shows its first ``MAX_ROWS * ROW_SECONDS`` seconds (the title says so).
MAX_ROWS = 6


def plot_windows(
    duration: float, *, row_seconds: float = ROW_SECONDS, max_rows: int = MAX_ROWS
) -> list[tuple[float, float]]:
    """The time spans (start, end) in seconds of the figure's rows for a video of ``duration`` seconds.

    One row up to ``row_seconds``; longer videos get equal rows of at most ``row_seconds`` each, up to ``max_rows``
    rows; beyond that the rows cover the first ``max_rows * row_seconds`` seconds.
    """
    duration = max(float(duration), 1e-3)
    shown = min(duration, max_rows * row_seconds)
    rows = max(1, int(np.ceil(shown / row_seconds - 1e-9)))
    width = shown / rows
    return [(i * width, (i + 1) * width if i < rows - 1 else shown) for i in range(rows)]


def beat_alignment_plot(result, path: str | Path, *, dpi: int = 90) -> BeatReport:
    """Draw the figure of a `api.GenerationResult` (which must carry its features) into ``path`` (PNG).

    Each row (`plot_windows`: at most 30 s, so a 2-minute video gets 4 rows) has, on top, the mean joint speed
    (smoothed) with the kinematic beats and, below, a raster of kinematic beats and music onsets, the matched
    beats marked. Returns the numbers shown (for the whole video, also when the figure shows only its start).
    """
    from ..features.beats import BEAT_F1_TOLERANCE_S, kinematic_beats, match_beats
    from ..metrics.beats import music_onsets

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

    dur = max(result.duration, 1e-3)
    windows = plot_windows(dur)
    n = len(windows)
    # A bare Figure (not pyplot): pyplot keeps global state that concurrent requests would share.
    fig = Figure(figsize=(8.0, 0.75 + 2.65 * n))  # 2.65 in a row; one row: 8 x 3.4 in, as before
    # each row: the speed, the raster, then a gap (none after the last row)
    grid = fig.add_gridspec(3 * n - 1, 1, height_ratios=([2.2, 1.0, 0.55] * n)[:-1], hspace=0.12)
    finite = np.asarray(kin.speed)[np.isfinite(kin.speed)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    pad = 0.06 * (hi - lo) or 0.5  # the same speed scale on every row
    st = np.asarray(kin.speed_times)
    for r, (t0, t1) in enumerate(windows):
        ax = fig.add_subplot(grid[3 * r])
        sel = (st >= t0 - 1.0) & (st <= t1 + 1.0)
        ax.plot(st[sel], np.asarray(kin.speed)[sel], color="0.25", lw=1.3, label="dancer's joint speed")
        beats = kin.times[(kin.times >= t0) & (kin.times <= t1)]
        for i, t in enumerate(beats):
            ax.axvline(t, color="tab:red", lw=1.0, alpha=0.75, label="movement beats" if i == 0 else None)
        ax.set_xlim(t0, t1)
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_ylabel("speed")
        ax.tick_params(labelbottom=False)
        if r == 0:
            ax.legend(loc="upper right", fontsize=7, framealpha=0.8)

        ax = fig.add_subplot(grid[3 * r + 1])
        ax.vlines(onsets, 0.1, 0.9, color="tab:blue", lw=1.4)
        ax.vlines(kin.times[~hit], 1.1, 1.9, color="tab:red", lw=1.4, alpha=0.45)
        ax.vlines(kin.times[hit], 1.1, 1.9, color="tab:red", lw=2.4)
        ax.set_yticks([0.5, 1.5], ["music onsets", "movement beats"], fontsize=7)
        ax.set_ylim(2.0, 0.0)
        ax.set_xlim(t0, t1)
        ax.tick_params(axis="x", labelsize=8)
        if r == n - 1:
            ax.set_xlabel("time (s)   (bold: a music onset within ±100 ms)", fontsize=8)
    title = "Beat alignment: movement beats (speed minima) vs. music onsets"
    shown = windows[-1][1]
    if shown < dur - 1e-6:
        title += f"\n(the first {shown:.0f} s of {dur:.0f} s; the numbers under the video count all of it)"
    fig.suptitle(title, fontsize=9, y=1 - 0.08 / fig.get_figheight())
    fig.subplots_adjust(left=0.14, right=0.98, top=1 - (0.45 if shown < dur - 1e-6 else 0.33) / fig.get_figheight(),
                        bottom=0.55 / fig.get_figheight())  # fmt: skip
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    return report


def _near(points: np.ndarray, targets: np.ndarray, tol: float) -> np.ndarray:
    """bool[K]: whether each of ``points`` has a target within ``tol`` (for drawing; not one-to-one)."""
    if points.size == 0 or targets.size == 0:
        return np.zeros(points.size, dtype=bool)
    return np.min(np.abs(points[:, None] - targets[None, :]), axis=1) <= tol + 1e-9
