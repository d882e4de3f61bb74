"""A contact sheet of one synthetic sequence: frames, the music with its beats, the dancer's speed with its beats.

`contact_sheet(root, name, out_png)` reads the files `make_dataset` wrote (so it shows what a reader gets):
a row of video frames taken on labelled beats, the waveform with beat and downbeat markers, and the mean
joint speed of the 3D keypoints with its local minima (the kinematic beats) against the labelled beats.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np

from ...constants import GENRE_NAMES
from ...features import motion_formats as mf
from ...features.beats import kinematic_beats
from ...io.audio import load_audio
from ...io.files import atomic_output
from ...io.video import iter_frames


def contact_sheet(root: str | os.PathLike, name: str, out_png: str | os.PathLike, *, frames: int = 4) -> Path:
    """Write the contact sheet of sequence ``name`` of the dataset at ``root`` to ``out_png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt


    root = Path(root)
    lab = json.loads((root / "labels" / f"{name}.json").read_text())
    beats, downbeats = np.asarray(lab["beats"]), np.asarray(lab["downbeats"])
    sr = 22050
    y = load_audio(root / "music" / f"{lab['music_id']}.wav", sr=sr)
    dur = len(y) / sr
    with open(root / "keypoints3d" / f"{name}.pkl", "rb") as f:
        k3 = pickle.load(f)["keypoints3d"]
    kb = kinematic_beats(mf.read_aist_keypoints3d(root / "keypoints3d" / f"{name}.pkl"))

    # Frames on beats spread over the clip.
    want = beats[np.linspace(1, max(1, len(beats) - 2), frames).round().astype(int)] if len(beats) > 2 else None
    want = want if want is not None else np.linspace(0.5, dur - 0.5, frames)
    shots: list[tuple[float, np.ndarray]] = []
    video = root / "videos" / f"{name.replace('cAll', 'c01')}.mp4"
    k = 0
    for t, rgb in iter_frames(video):
        if k < len(want) and t >= want[k] - 1e-3:
            shots.append((t, rgb))
            k += 1
        if k == len(want):
            break

    fig = plt.figure(figsize=(15, 7.4), dpi=100)
    gs = fig.add_gridspec(3, len(shots) or 1, height_ratios=[1.05, 0.8, 1.0], hspace=0.32, wspace=0.03)
    for i, (t, rgb) in enumerate(shots):
        ax = fig.add_subplot(gs[0, i])
        ax.imshow(rgb)
        ax.set_title(f"t = {t:.2f} s (beat)", fontsize=9)
        ax.axis("off")
    title = (f"{name}: {GENRE_NAMES.get(lab['genre'], lab['genre'])} ({lab['genre']}), {lab['tempo']:.1f} BPM, "
             f"{lab.get('key', '')}, danced on {lab['timing']} time")  # fmt: skip
    fig.suptitle(title, fontsize=12)

    ax = fig.add_subplot(gs[1, :])
    t = np.arange(len(y)) / sr
    step = max(1, len(y) // 6000)
    ax.plot(t[::step], y[::step], color="0.35", lw=0.5)
    for b in beats:
        ax.axvline(b, color="tab:blue", lw=0.8, alpha=0.7)
    for b in downbeats:
        ax.axvline(b, color="tab:red", lw=1.6)
    ax.set_xlim(0, dur)
    ax.set_ylabel("music")
    ax.set_title("waveform with labelled beats (blue) and downbeats (red)", fontsize=10)

    ax = fig.add_subplot(gs[2, :])
    st = np.arange(kb.speed.size) / kb.fps
    ax.plot(st, kb.speed, color="tab:green", lw=1.2, label="mean joint speed (3D keypoints, smoothed)")
    mins = np.clip(np.round(kb.times * kb.fps).astype(int), 0, kb.speed.size - 1)
    ax.plot(kb.times, kb.speed[mins], "o", color="tab:orange", ms=6, label="speed minima (kinematic beats)")
    for i, b in enumerate(beats):
        ax.axvline(b, color="tab:blue", lw=0.8, alpha=0.7, label="labelled music beats" if i == 0 else None)
    ax.set_xlim(0, dur)
    ax.set_xlabel("seconds")
    ax.set_ylabel("speed (torso lengths / s)")
    ax.legend(loc="upper right", fontsize=8, ncol=3)
    ax.set_title(f"dancer's joint speed: {len(kb.times)} minima vs {len(beats)} beats "
                 f"({k3.shape[0]} frames at 60 fps)", fontsize=10)  # fmt: skip

    out = Path(out_png)
    with atomic_output(out) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    plt.close(fig)
    return out
