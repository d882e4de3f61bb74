"""``d2m evaluate``: score folders of generated music against the dance and the reference music."""

from __future__ import annotations

import argparse

from ..constants import CLIP_SECONDS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="score generated music (beats coverage/hit, BeatAlign, beat F1, genre, FAD) with baselines",
        description=(
            "Score folders of generated wavs named <seq>_seg<k>.wav or <seq>.wav against a dataset in the "
            "AIST++ layout, next to the baselines (ground truth, mismatched music, shift null). Writes "
            "report.md, report.json, summary.png and plots/<clip>.png into --out. With --videos DIR instead of "
            "--data: score <video stem>.wav files against the dancer's movement beats in your own videos, next "
            "to their own soundtracks and mismatched real music (report.md and report.json)."
        ),
    )
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
    p.add_argument(
        "--analysis-fps", type=float, default=None,
        help="--videos: pose frames per second for the movement beats (default: every frame)",
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
    p.add_argument("--seed", type=int, default=0, help="seed of the shift-null offsets")
    p.add_argument(
        "--threads", type=int, default=1, help="BLAS/torch threads (default 1: the work is many small products)"
    )
    p.add_argument("-f", "--force", action="store_true", help="overwrite an existing report")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..metrics.evaluate import evaluate, markdown_table, parse_generated

    if args.seconds <= 0 or (args.hop is not None and args.hop <= 0):
        raise ConfigError("--seconds and --hop must be positive")
    if args.max_clips is not None and args.max_clips < 1:
        raise ConfigError("--max-clips must be at least 1")
    if args.videos is not None:
        return run_videos(args)
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

    if not args.generated:
        raise ConfigError("--videos needs at least one --generated folder of <video stem>.wav files")
    if args.analysis_fps is not None and args.analysis_fps <= 0:
        raise ConfigError("--analysis-fps must be positive")
    report = evaluate_videos(
        args.videos,
        parse_generated(args.generated),
        out_dir=args.out,
        analysis_fps=args.analysis_fps,
        force=args.force,
        progress=not args.no_progress,
    )
    print(markdown_table(report))
    for note in report.notes:
        print(f"note: {note}")
    print(f"wrote {args.out}/report.md and report.json")
    return 0
