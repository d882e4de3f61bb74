"""``d2m generate VIDEO -o OUT.mp4``: the product's main job, a dance video in, the video with its music out."""

from __future__ import annotations

import argparse
import sys
import time

from ..constants import GENERATE_ANALYSIS_FPS, GENRE_NAMES, GENRES


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "generate",
        help="make music for a dance video and write the video with the music as its soundtrack",
        description="Extract the dancer's pose and visual features from VIDEO, generate music of exactly the "
        "video's length with D2M-GAN, and write OUT.mp4 (the input video with the new music; the video "
        "stream is copied where the container allows). Nothing is overwritten without --force.",
    )
    p.add_argument("video", help="input dance video (mp4, mov, avi, mkv, webm ...)")
    p.add_argument("-o", "--output", required=True, help="output video (.mp4)")
    p.add_argument("--wav", metavar="OUT.wav", help="also write the music alone as a wav file")
    p.add_argument(
        "--model",
        default=None,
        help="registered model name or a generator .safetensors path (default: d2m-top, or d2m-lower with "
        "--level lower)",
    )
    p.add_argument("--level", choices=("top", "lower", "low"), default="top", help="VQ level (default: top)")
    p.add_argument(
        "--genre",
        help=f"music genre: AIST++ code ({', '.join(GENRES)}) or name (e.g. Break, House); default: the dance's "
        "genre as the dance-genre classifier sees it; none: no genre",
    )
    p.add_argument("--tempo", type=float, help="tempo hint in BPM (default: the model decides from the dance)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0: the same video gives the same music)")
    p.add_argument(
        "--analysis-fps", type=float, default=GENERATE_ANALYSIS_FPS,
        help=f"frames per second the pose tracker analyses (default {GENERATE_ANALYSIS_FPS:g}; 30 analyses every "
        "frame of a 30 fps video at three times the cost, for about 0.01 more beat F1)",
    )  # fmt: skip
    p.add_argument(
        "--pose-lanes", type=int, choices=(1, 2), default=None,
        help="pose trackers working at once on alternate frames (default: 2 when two CPUs are free to use, else 1)",
    )  # fmt: skip
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default cpu)")
    p.add_argument("-f", "--force", action="store_true", help="overwrite outputs that exist")
    bar = p.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None, help="show progress bars")
    bar.add_argument("--no-progress", dest="progress", action="store_false", help="never show progress bars")
    p.set_defaults(func=run, quick_exit=True)


def default_model(level: str) -> str:
    return "d2m-lower" if level in ("lower", "low") else "d2m-top"


def run(args: argparse.Namespace) -> int:
    from ..api import Dance2Music, parse_genre
    from ..io.files import check_output_path
    from ..io.video import probe

    # Validate every cheap thing before loading a model or decoding a frame.
    probe(args.video)  # a missing, non-video, truncated or audio-only file fails here, in one line
    check_output_path(args.output, force=args.force)
    if args.wav:
        check_output_path(args.wav, force=args.force)
    parse_genre(args.genre)
    progress = sys.stderr.isatty() if args.progress is None else args.progress

    t0 = time.perf_counter()
    # On the CPU, torch is imported and the model built in a thread while the video's features are extracted.
    model = Dance2Music.from_pretrained(args.model or default_model(args.level), device=args.device, background=True)
    result = model.generate_video(
        args.video,
        args.output,
        wav_path=args.wav,
        force=args.force,
        progress=progress,
        genre=args.genre,
        tempo=args.tempo,
        seed=args.seed,
        analysis_fps=args.analysis_fps,
        pose_lanes=args.pose_lanes,
    )
    took = time.perf_counter() - t0
    feats = result.features
    notes = []
    if result.meta.get("genre_source") == "dance":
        code, prob = result.meta["genre"], result.meta["genre_probability"]
        notes.append(f"genre {code} ({GENRE_NAMES[code]}) read off the dance, p={prob:.2f}")
    if feats is not None:
        rate = feats.meta.get("detection_rate")
        if rate is not None:
            notes.append(f"dancer found in {100 * rate:.0f}% of frames")
        if feats.meta.get("people_note"):  # several people: say whom the music follows, on its own line
            print(f"note: {feats.meta['people_note']}", file=sys.stderr)
    print(
        f"{args.output}: {result.duration:.2f} s of music ({result.meta['level']} level, model {result.meta['model']}, "
        f"seed {result.meta['seed']}) in {took:.1f} s" + (f"; {'; '.join(notes)}" if notes else "")
    )
    if args.wav:
        print(f"{args.wav}: music only")
    return 0
