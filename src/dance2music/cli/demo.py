"""``d2m demo``: make music for the bundled demo dance with the shipped weights, writing to out/.

Generate music for the bundled demo clip (or --video) with the shipped D2M-GAN weights, write OUT_DIR/demo.mp4 (the
clip with its new music), OUT_DIR/demo.wav and OUT_DIR/demo_summary.json, and print the beat alignment of the music
with the dance.

The demo clip is a synthetic dancer made by `d2m data synth`, with its own music as the soundtrack; the beat
alignment is printed next to the clip's own music and that music shifted out of step. The demo's outputs in the
output folder are replaced on every run.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import resources
from pathlib import Path

import numpy as np

from . import add_command


def demo_video() -> Path:
    """Path of the bundled demo clip (``dance2music/assets/demo.mp4``)."""
    return Path(str(resources.files("dance2music") / "assets" / "demo.mp4"))


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, __name__, run, quick_exit=True)
    p.add_argument("--out-dir", default="out", help="output folder (default: out)")
    p.add_argument("--video", help="use this video instead of the bundled demo clip")
    p.add_argument("--model", default="d2m-top", help="registered model name or path (default d2m-top)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def alignment(motion, audio: np.ndarray, sr: int) -> dict[str, float]:
    """Bailando BeatAlign and beat F1 (+-100 ms) between the dance's kinematic beats and the music's beats
    (`features.beats.beat_alignment`), as the demo's summary writes them."""
    from ..features.beats import beat_alignment, kinematic_beats, music_beats

    a = beat_alignment(kinematic_beats(motion).times, music_beats(audio, sr=sr))
    return {
        "beat_align": round(a.beat_align, 3),
        "beat_f1": round(a.f1, 3),
        "music_beats": a.music_beats,
        "motion_beats": a.motion_beats,
    }


def run(args: argparse.Namespace) -> int:
    from ..api import Dance2Music
    from ..errors import InputError
    from ..io.files import atomic_output
    from ..io.video import probe, read_audio

    video = Path(args.video) if args.video else demo_video()
    if not args.video and not video.is_file():
        raise InputError(f"the bundled demo clip is missing ({video}); reinstall dance2music")
    probe(video)
    out_dir = Path(args.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out-dir is not a folder: {out_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)

    model = Dance2Music.from_pretrained(args.model)
    video_out, wav_out = out_dir / "demo.mp4", out_dir / "demo.wav"
    result = model.generate_video(
        video, video_out, wav_path=wav_out, force=True, progress=sys.stderr.isatty(), seed=args.seed
    )
    motion = result.features.motion
    rows = {"generated": alignment(motion, result.audio, result.sample_rate)}
    if result.features.meta.get("has_audio"):
        own = read_audio(video, sr=result.sample_rate)
        rows["the clip's own music"] = alignment(motion, own, result.sample_rate)
        shift = len(own) // 2 + int(0.23 * result.sample_rate)  # half the clip plus a fraction of a beat
        rows["own music, shifted"] = alignment(motion, np.roll(own, shift), result.sample_rate)

    summary = {
        "video": str(video),
        "model": args.model,
        "seed": args.seed,
        "duration_s": round(result.duration, 3),
        "person_detected_share": round(float(result.features.meta["detection_rate"]), 3),
        "alignment": rows,
        "outputs": {"video": str(video_out), "wav": str(wav_out)},
    }
    with atomic_output(out_dir / "demo_summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"demo: {video.name}, {result.duration:.2f} s, dancer in {100 * summary['person_detected_share']:.0f}% of "
          f"frames; music by {args.model} ({result.meta['level']} level, seed {args.seed})")
    print(f"  {'music':<22} {'BeatAlign':>9} {'beat F1':>8} {'beats':>6}")
    for name, r in rows.items():
        print(f"  {name:<22} {r['beat_align']:>9.3f} {r['beat_f1']:>8.3f} {r['music_beats']:>6}")
    print(f"  ({rows['generated']['motion_beats']} movement beats; BeatAlign: Bailando's, beat F1 at +-100 ms)")
    print(f"  wrote {video_out}, {wav_out}, {out_dir / 'demo_summary.json'}")
    return 0
