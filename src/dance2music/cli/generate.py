"""``d2m generate``: make music for a dance video and write the video with the music as its soundtrack.

Extract the dancer's pose and visual features from VIDEO, generate music of exactly the video's length with D2M-GAN,
and write OUT (the input video with the new music in the container its extension names: mp4, m4v, mov, mkv or webm;
the video stream is copied where the container allows; .wav or .flac: the music alone). The music is brought to
-16 LUFS with its true peak at most -1 dBTP. Every option and output is checked before any work; nothing is
overwritten without --force.

The product's main job, a dance video in, the video with its music out: ``d2m generate VIDEO -o OUT.mp4``.
"""

from __future__ import annotations

import argparse
import sys
import time

from ..constants import ANALYSIS_FPS_RANGE, GENERATE_ANALYSIS_FPS, GENRE_NAMES, GENRES, SEED_RANGE, TEMPO_RANGE
from . import add_command


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, __name__, run, quick_exit=True)
    p.add_argument("video", help="input dance video (mp4, mov, avi, mkv, webm ...)")
    p.add_argument(
        "-o", "--output", required=True,
        help="output: a video (.mp4, .m4v, .mov, .mkv, .webm) or the music alone (.wav, .flac)",
    )  # fmt: skip
    p.add_argument("--wav", metavar="OUT.wav", help="also write the music alone (.wav or .flac)")
    p.add_argument(
        "--model",
        default=None,
        help="registered model name or a generator .safetensors path (default: d2m-top, or d2m-lower with "
        "--level lower); not with --level",
    )
    p.add_argument(
        "--level", choices=("top", "lower", "low"), default=None,
        help="VQ level, which picks the shipped model: top (d2m-top, the default) or lower (d2m-lower)",
    )  # fmt: skip
    p.add_argument(
        "--genre",
        help=f"music genre: AIST++ code ({', '.join(GENRES)}) or name (e.g. Break, House); default: the dance's "
        "genre as the dance-genre classifier sees it; none: no genre",
    )
    p.add_argument(
        "--tempo", type=float,
        help=f"tempo hint in BPM, {TEMPO_RANGE[0]:g}-{TEMPO_RANGE[1]:g} (default: read off the dance; above 150 the "
        "music plays in half time)",
    )  # fmt: skip
    p.add_argument(
        "--seed", type=int, default=0,
        help=f"random seed, {SEED_RANGE[0]}-{SEED_RANGE[1]} (default 0: the same video gives the same music)",
    )  # fmt: skip
    p.add_argument(
        "--analysis-fps", type=float, default=GENERATE_ANALYSIS_FPS,
        help=f"frames per second the pose tracker analyses, {ANALYSIS_FPS_RANGE[0]:g}-{ANALYSIS_FPS_RANGE[1]:g} "
        f"(default {GENERATE_ANALYSIS_FPS:g}; 30 analyses every frame of a 30 fps video at three times the cost, "
        "for about 0.01 more beat F1; a rate above the video's analyses every frame)",
    )  # fmt: skip
    p.add_argument(
        "--pose-lanes", type=int, choices=(1, 2), default=None,
        help="pose trackers working at once on alternate frames (default: 2 when two CPUs are free to use, else 1)",
    )  # fmt: skip
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default cpu)")
    loud = p.add_mutually_exclusive_group()
    loud.add_argument(
        "--loudness", type=float, default=-16.0, metavar="LUFS",
        help="integrated loudness of the music (ITU-R BS.1770), its true peak limited to -1 dBTP (default -16)",
    )  # fmt: skip
    loud.add_argument(
        "--no-loudness", dest="loudness", action="store_const", const=None,
        help="leave the music at the level the model made it",
    )  # fmt: skip
    p.add_argument("-f", "--force", action="store_true", help="overwrite outputs that exist")
    bar = p.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None, help="show progress bars")
    bar.add_argument("--no-progress", dest="progress", action="store_false", help="never show progress bars")


def default_model(level: str | None) -> str:
    return "d2m-lower" if level in ("lower", "low") else "d2m-top"


def run(args: argparse.Namespace) -> int:
    from ..api import Dance2Music, check_options, check_outputs, parse_genre, short_video_note
    from ..errors import ConfigError
    from ..io.loudness import check_target
    from ..io.video import probe

    # Validate every cheap thing before loading a model or decoding a frame.
    check_options(seed=args.seed, tempo=args.tempo, analysis_fps=args.analysis_fps)
    if args.loudness is not None:
        check_target(args.loudness)
    if args.model is not None and args.level is not None:
        raise ConfigError(
            "--level picks a shipped model (top: d2m-top, lower: d2m-lower) and --model names one: give one of "
            "them (a model makes music at its own level)"
        )
    parse_genre(args.genre)
    check_outputs(args.video, args.output, args.wav, force=args.force)  # the input itself, places, extensions
    info = probe(args.video)  # a missing, non-video, truncated or audio-only file fails here, in one line
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
        loudness=args.loudness,
    )
    took = time.perf_counter() - t0
    feats = result.features
    notes = []
    if result.meta.get("genre_source") == "dance":
        code, prob = result.meta["genre"], result.meta["genre_probability"]
        notes.append(f"genre {code} ({GENRE_NAMES[code]}) read off the dance, p={prob:.2f}")
    elif result.meta.get("genre_note"):  # unsure, or a dance unlike its training: no genre, and why
        print(f"note: {result.meta['genre_note']}; name one with --genre", file=sys.stderr)
    if feats is not None:
        rate = feats.meta.get("detection_rate")
        if rate is not None:
            notes.append(f"dancer found in {100 * rate:.0f}% of frames")
        if feats.meta.get("people_note"):  # several people: say whom the music follows, on its own line
            print(f"note: {feats.meta['people_note']}", file=sys.stderr)
    if result.meta.get("dance_tempo") is not None:  # the beat grid the music follows, and where it came from
        how = {"given": "as given", "motion": "read off the dance", "default": "the default: no clear pulse"}
        feel = ", the music in half time" if result.meta.get("grid_scale") == 0.5 else ""
        notes.append(f"beat {result.meta['dance_tempo']:.0f} BPM ({how.get(result.meta['tempo_source'], '')}{feel})")
    if result.meta.get("prior_note"):
        print(f"note: {result.meta['prior_note']}", file=sys.stderr)
    start = float(result.meta.get("video_start") or 0.0)
    if start >= 0.0005:  # the music lies on the video's own timeline: say where its first frame is
        notes.append(f"the first frame, and the music, start {start:.3f} s into the video")
    if (short := short_video_note(info.duration, info.num_frames)) is not None:
        print(f"note: {short}", file=sys.stderr)
    loud = result.meta.get("loudness")
    if loud is not None:
        notes.append(
            f"{loud['output_lufs']:.1f} LUFS, true peak {loud['true_peak_dbtp']:.1f} dBTP"
            if loud["output_lufs"] is not None
            else "silent"
        )
    print(
        f"{args.output}: {result.duration:.2f} s of music ({result.meta['level']} level, model {result.meta['model']}, "
        f"seed {result.meta['seed']}) in {took:.1f} s" + (f"; {'; '.join(notes)}" if notes else "")
    )
    if args.wav:
        print(f"{args.wav}: the music alone")
    return 0
