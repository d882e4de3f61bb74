"""``d2m evaluate``: score generated music (beats coverage/hit, BeatAlign, beat F1, genre, FAD) with baselines.

Score folders of generated wavs named <seq>_seg<k>.wav or <seq>.wav against a dataset in the AIST++ layout, next to
the baselines (ground truth, mismatched music, shift null). Writes report.md, report.json, summary.png and
plots/<clip>.png into --out. With --videos DIR instead of --data: score <video stem>.wav files against the dancer's
movement beats in your own videos, next to their own soundtracks and mismatched real music (report.md and
report.json); --model there makes the music for each video here.
"""

from __future__ import annotations

import argparse

from ..constants import CLIP_SECONDS, GENERATE_ANALYSIS_FPS
from . import add_command


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, __name__, run)
    p.add_argument(
        "--generated",
        action="append",
        default=[],
        metavar="[NAME=]DIR",
        help="a folder of generated wavs (repeat for more; NAME labels its row, default the folder name)",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", metavar="DIR", help="dataset root in the AIST++ layout")
    source.add_argument(
        "--videos", metavar="DIR", help="a folder of dance videos (what d2m generate was given); wavs named <stem>.wav"
    )
    source.add_argument(
        "--motion", metavar="DIR",
        help="a folder of keypoint sequences (<name>.npz: keypoints2d in pixels, fps, nominal_bpm); --model makes "
        "the music for each, scored against the dance's own beats (report.md and report.json)",
    )  # fmt: skip
    p.add_argument(
        "--analysis-fps", type=float, default=None,
        help="--videos: pose frames per second for the movement beats (default: every frame); --motion: keypoint "
        f"frames per second the model is shown (default {GENERATE_ANALYSIS_FPS:g}, as d2m generate analyses video)",
    )  # fmt: skip
    p.add_argument(
        "--model", action="append", default=[], metavar="NAME_OR_PATH",
        help="--motion, --videos: a model that makes the music (repeat for more; --motion: default d2m-top)",
    )  # fmt: skip
    p.add_argument("--seeds", type=int, default=2, help="--motion, --videos: generation seeds 0..N-1 (default 2)")
    p.add_argument(
        "--pose-lanes", type=int, choices=(1, 2), default=None,
        help="--videos: pose trackers for the movement beats (default 1; d2m generate uses 2)",
    )  # fmt: skip
    p.add_argument(
        "--degrade", action="store_true",
        help="--motion: degrade the model's keypoints as video pose does (3%% torso jitter, 10%% of frames dropped, "
        "legs hidden), with a fixed seed (--seed)",
    )  # fmt: skip
    p.add_argument(
        "--genre",
        default=None,
        help="--motion: the genre to generate with (default: read off the dance; 'labelled': each file's own)",
    )
    p.add_argument(
        "--excerpts", type=float, nargs="*", default=[2.0, 6.0], metavar="SECONDS",
        help="--motion: excerpt lengths scored besides whole sequences (default 2 6)",
    )  # fmt: skip
    p.add_argument("--split", default="test", help="split to score (default: test)")
    p.add_argument("--out", required=True, metavar="REPORT_DIR", help="folder for the report and plots")
    p.add_argument(
        "--seconds",
        type=float,
        default=CLIP_SECONDS,
        help=f"segment length of <seq>_seg<k> names (default {CLIP_SECONDS})",
    )
    p.add_argument("--hop", type=float, default=None, help="segment hop in seconds (default: --seconds)")
    p.add_argument(
        "--segments", action="store_true", help="without --generated: score the baselines on segments, not sequences"
    )
    p.add_argument(
        "--genre-model", default="genre-cnn", help="genre classifier name or weights path ('none' to skip genre/FAD)"
    )
    p.add_argument("--bank-split", default="train", help="reference split for retrieval and FAD ('none' to skip)")
    p.add_argument("--max-clips", type=int, default=None, help="score at most this many clips")
    p.add_argument("--max-plots", type=int, default=None, help="draw at most this many per-clip plots (default all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the shift-null offsets (--motion: of --degrade)")
    p.add_argument(
        "--threads", type=int, default=1, help="BLAS/torch threads (default 1: the work is many small products)"
    )
    p.add_argument("-f", "--force", action="store_true", help="overwrite an existing report")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..metrics.evaluate import evaluate, markdown_table, parse_generated

    if args.seconds <= 0 or (args.hop is not None and args.hop <= 0):
        raise ConfigError("--seconds and --hop must be positive")
    if args.max_clips is not None and args.max_clips < 1:
        raise ConfigError("--max-clips must be at least 1")
    if args.videos is not None:
        return run_videos(args)
    if args.motion is not None:
        return run_motion(args)
    none = ("", "none", "None")
    report = evaluate(
        args.data,
        generated=parse_generated(args.generated),
        split=args.split,
        out_dir=args.out,
        seconds=args.seconds,
        hop=args.hop,
        segments=args.segments,
        genre_model=None if args.genre_model in none else args.genre_model,
        bank_split=None if args.bank_split in none else args.bank_split,
        max_clips=args.max_clips,
        max_plots=args.max_plots,
        seed=args.seed,
        progress=not args.no_progress,
        force=args.force,
        threads=max(1, args.threads),
    )
    print(markdown_table(report))
    for note in report.notes:
        print(f"note: {note}")
    n_plots = sum(f.startswith("plots/") for f in report.files)
    print(f"wrote {args.out}/report.md, report.json, summary.png and {n_plots} clip plot(s)")
    return 0


def run_videos(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..metrics.evaluate import parse_generated
    from ..metrics.evaluate_videos import evaluate_videos, markdown_table

    if not args.generated and not args.model:
        raise ConfigError("--videos needs at least one --generated folder of <video stem>.wav files or a --model")
    if args.analysis_fps is not None and args.analysis_fps <= 0:
        raise ConfigError("--analysis-fps must be positive")
    if args.seeds < 1:
        raise ConfigError("--seeds must be at least 1")
    generated = parse_generated(args.generated)
    report = evaluate_videos(
        args.videos,
        generated,
        models=_music_makers(args.model, taken=set(generated)),
        seeds=args.seeds,
        out_dir=args.out,
        analysis_fps=args.analysis_fps,
        pose_lanes=args.pose_lanes,
        force=args.force,
        progress=not args.no_progress,
    )
    print(markdown_table(report))
    for note in report.notes:
        print(f"note: {note}")
    print(f"wrote {args.out}/report.md and report.json")
    return 0


def _music_makers(names: list[str], taken: set[str]) -> dict:
    """{row name: (video features, seed) -> music} for each --model, loaded here (the metrics do not load models)."""
    from ..api import Dance2Music

    makers = {}
    for name in names:
        model = Dance2Music.from_pretrained(name)
        label = model.name or name
        while label in taken or label in makers:
            label += "'"
        makers[label] = lambda feats, seed, model=model: model.generate(feats, seed=seed).audio
    return makers


def run_motion(args: argparse.Namespace) -> int:
    from ..api import Dance2Music, parse_genre
    from ..errors import ConfigError
    from ..metrics.evaluate_motion import LABELLED_GENRE, evaluate_motion, markdown_summary

    if args.genre != LABELLED_GENRE:
        parse_genre(args.genre)  # an unknown genre: refused before any model is loaded

    if args.seeds < 1:
        raise ConfigError("--seeds must be at least 1")
    if args.analysis_fps is not None and args.analysis_fps <= 0:
        raise ConfigError("--analysis-fps must be positive")
    if any(not s > 0 for s in args.excerpts):
        raise ConfigError("--excerpts must be positive lengths in seconds")
    report = evaluate_motion(
        args.motion,
        [Dance2Music.from_pretrained(m) for m in args.model or ["d2m-top"]],
        seeds=args.seeds,
        out_dir=args.out,
        degrade=args.degrade,
        degrade_seed=args.seed,
        excerpt_seconds=args.excerpts,
        analysis_fps=args.analysis_fps or GENERATE_ANALYSIS_FPS,
        genre=args.genre,
        force=args.force,
        progress=not args.no_progress,
    )
    for model in report.summary:
        print(f"{model}:\n{markdown_summary(report, model)}")
    for note in report.notes:
        print(f"note: {note}")
    print(f"wrote {args.out}/report.md and report.json")
    return 0
