"""How late the music's onsets and tracked beats fall after the beats they are meant to hit.

Ground truth: each synthetic song against its labelled beats (``labels/<seq>.json``). Generated: the model's music
for the same dance, from its keypoint file (`scripts/synth_motion_files.py`) analysed as `d2m generate` analyses
video, against the grid it followed (`features.rhythm.estimate_rhythm`). Onsets are librosa's onset detector,
beats its tracker (`features.beats.music_beats`); each beat takes the nearest event within 100 ms. A model that
adds latency of its own shows up as generated offsets later than the ground truth's.

    python scripts/synth_motion_files.py data/synth --split val --max 60 --out DIR
    python scripts/music_latency.py data/synth DIR [--model d2m-top] [--max 30]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from dance2music import Dance2Music
from dance2music.constants import SAMPLE_RATE
from dance2music.features.beats import music_beats
from dance2music.features.rhythm import estimate_rhythm
from dance2music.io.audio import load_audio
from dance2music.metrics.evaluate_motion import keypoints_to_motion, load_keypoint_sequence

WINDOW_S = 0.1  # an event further than this from every beat is not that beat's


def offsets(events: np.ndarray, beats: np.ndarray, window: float = WINDOW_S) -> list[float]:
    """Signed seconds from each beat to its nearest event, for beats with an event within ``window``."""
    if events.size == 0:
        return []
    d = events[None, :] - beats[:, None]
    near = d[np.arange(beats.size), np.argmin(np.abs(d), axis=1)]
    return [float(x) for x in near if abs(x) <= window]


def onset_times(y: np.ndarray, sr: int) -> np.ndarray:
    import librosa

    return librosa.onset.onset_detect(y=y, sr=sr, hop_length=512, units="time")


def measure(root: Path, files: list[Path], model: Dance2Music, seed: int = 0) -> dict[str, list[float]]:
    """Offsets (s) of the songs' and the model's onsets and tracked beats after their beats, pooled over ``files``."""
    got: dict[str, list[float]] = {"truth, onsets": [], "truth, tracked beats": [], "generated, onsets": [],
                                   "generated, tracked beats": []}  # fmt: skip
    for f in files:
        label = json.loads((root / "labels" / f"{f.stem}.json").read_text())
        beats = np.asarray(label["beats"], np.float64)
        song = load_audio(root / "music" / f"{label['music_id']}.wav", SAMPLE_RATE)
        song = song[: int(float(label["seconds"]) * SAMPLE_RATE)]
        got["truth, onsets"] += offsets(onset_times(song, SAMPLE_RATE), beats)
        got["truth, tracked beats"] += offsets(music_beats(song, sr=SAMPLE_RATE), beats)
        seq = load_keypoint_sequence(f)
        motion = keypoints_to_motion(seq.keypoints, seq.fps)
        grid = estimate_rhythm(motion).beat_times()
        music = np.asarray(model.generate(motion, seed=seed).audio, np.float32).reshape(-1)
        got["generated, onsets"] += offsets(onset_times(music, SAMPLE_RATE), grid)
        got["generated, tracked beats"] += offsets(music_beats(music, sr=SAMPLE_RATE), grid)
    return got


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path, help="the synthetic set (its labels/ and music/)")
    ap.add_argument("motion", type=Path, help="keypoint files written by scripts/synth_motion_files.py")
    ap.add_argument("--model", default="d2m-top")
    ap.add_argument("--max", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    files = sorted(args.motion.glob("*.npz"))[: args.max]
    if not files or not (args.root / "labels").is_dir():
        print(f"error: no keypoint files in {args.motion}, or no labels/ in {args.root}", file=sys.stderr)
        return 2
    got = measure(args.root, files, Dance2Music.from_pretrained(args.model), args.seed)
    print(f"{len(files)} dances, `{args.model}`, seed {args.seed}: offset of the nearest event after each beat (ms)\n")
    print("| events | beats matched | median | mean | quartiles |\n| --- | --- | --- | --- | --- |")
    for name, v in got.items():
        ms = np.asarray(v) * 1000.0
        if ms.size == 0:
            print(f"| {name} | 0 | | | |")
            continue
        q1, q3 = np.percentile(ms, [25, 75])
        print(f"| {name} | {ms.size} | {np.median(ms):+.1f} | {ms.mean():+.1f} | {q1:+.0f} to {q3:+.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
