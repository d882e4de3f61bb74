"""``d2m demo``: run the pipeline on the bundled demo clip and write the results to ``out/``.

For now the pipeline is the feature extraction (pose + visual) and, as its audible result, a tone pulsed on
the dancer's kinematic beats (speed minima) muxed into the clip; the music generator takes over this command
once it exists. The demo's own outputs in the output folder are replaced on every run.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import resources
from pathlib import Path

import numpy as np

from ..constants import SAMPLE_RATE


def demo_video() -> Path:
    """Path of the bundled demo clip (``dance2music/assets/demo.mp4``)."""
    return Path(str(resources.files("dance2music") / "assets" / "demo.mp4"))


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="run the pipeline on the bundled demo clip, writing results to out/",
        description="Extract features from the bundled demo clip (or --video) and write a summary, the "
        "features and the clip with a beat-synchronous tone to the output folder.",
    )
    p.add_argument("--out-dir", default="out", help="output folder (default: out)")
    p.add_argument("--video", help="use this video instead of the bundled demo clip")
    p.set_defaults(func=run)


def motion_beats(speed: np.ndarray, fps: float, sigma_frames: float = 2.0, min_gap_s: float = 0.25) -> np.ndarray:
    """Times (s) of the kinematic beats: local minima of the smoothed mean joint speed ``speed[T]``."""
    from scipy.ndimage import gaussian_filter1d
    from scipy.signal import argrelextrema

    if len(speed) < 3:
        return np.zeros(0)
    s = gaussian_filter1d(speed.astype(np.float64), sigma_frames)
    order = max(1, int(round(min_gap_s * fps / 2)))
    return argrelextrema(s, np.less, order=order)[0] / fps


def beat_tone(beats: np.ndarray, duration: float, sr: int = SAMPLE_RATE) -> np.ndarray:
    """float32[round(duration * sr)]: a soft 110 Hz drone with an 880 Hz blip (80 ms decay) on each beat."""
    n = int(round(duration * sr))
    t = np.arange(n) / sr
    audio = 0.05 * np.sin(2 * np.pi * 110.0 * t)
    blip_t = np.arange(int(0.25 * sr)) / sr
    blip = 0.5 * np.sin(2 * np.pi * 880.0 * blip_t) * np.exp(-blip_t / 0.08)
    for b in beats:
        i = int(round(b * sr))
        if 0 <= i < n:
            m = min(len(blip), n - i)
            audio[i : i + m] += blip[:m]
    return np.clip(audio, -1.0, 1.0).astype(np.float32)


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..features.extract import extract_features, save_features
    from ..io.video import mux_audio

    video = Path(args.video) if args.video else demo_video()
    if not args.video and not video.is_file():
        raise InputError(f"the bundled demo clip is missing ({video}); reinstall dance2music")
    out_dir = Path(args.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out-dir is not a folder: {out_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)

    feats = extract_features(video, progress=sys.stderr.isatty())
    m = feats.motion
    xy = m.keypoints[..., :2] + m.root[:, None, :]  # body-relative pose plus the body's travel
    speed = np.zeros(m.num_frames)
    speed[1:] = np.linalg.norm(np.diff(xy, axis=0), axis=-1).mean(axis=1) * m.fps
    beats = motion_beats(speed, m.fps)
    audio = beat_tone(beats, feats.duration)

    features_path = save_features(out_dir / "demo_features.npz", feats)
    video_path = mux_audio(video, audio, SAMPLE_RATE, out_dir / "demo.mp4")
    ibi = np.diff(beats)
    summary = {
        "video": str(video),
        "duration_s": round(feats.duration, 3),
        "size": [feats.meta["width"], feats.meta["height"]],
        "fps": round(feats.fps, 3),
        "person_detected_share": round(float(feats.meta["detection_rate"]), 3),
        "motion": {"frames": m.num_frames, "fps": m.fps, "shape": list(m.keypoints.shape)},
        "visual": {"kind": feats.visual.kind, "shape": list(feats.visual.features.shape), "fps": feats.visual.fps},
        "motion_beats_s": [round(float(b), 3) for b in beats],
        "motion_tempo_bpm": round(60.0 / float(np.median(ibi)), 1) if len(ibi) else None,
        "outputs": {"video": str(video_path), "features": str(features_path)},
    }
    summary_path = out_dir / "demo_summary.json"
    from ..io.files import atomic_output

    with atomic_output(summary_path) as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"demo: {video.name}, {feats.duration:.2f} s, person in {100 * summary['person_detected_share']:.0f}% of frames"
    )
    print(f"  motion {tuple(m.keypoints.shape)} at {m.fps:g} fps, visual {tuple(feats.visual.features.shape)}")
    tempo = f", ~{summary['motion_tempo_bpm']} BPM" if summary["motion_tempo_bpm"] else ""
    print(f"  {len(beats)} kinematic beats{tempo}")
    print(f"  wrote {video_path}, {features_path}, {summary_path}")
    return 0
