"""``d2m data``: datasets: make the synthetic set, build and inspect feature caches."""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from ..constants import CLIP_SECONDS
from ..errors import ConfigError, D2MError
from . import add_command


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, __name__)
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")

    s = sub.add_parser("synth", help="write the synthetic paired dance-music dataset (AIST++ layout)")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--clips", type=int, default=20, help="number of sequences (default 20)")
    s.add_argument("--seconds", type=float, default=10.0, help="length of each sequence in seconds (default 10)")
    s.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    s.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    s.add_argument("--no-video", action="store_true", help="skip the rendered videos (keypoints and music only)")
    s.add_argument(
        "--tempo-stretch",
        type=float,
        nargs=2,
        metavar=("LOW", "HIGH"),
        help="slow down or speed up each train-split song and its dance together by a factor in [LOW, HIGH]",
    )
    s.add_argument(
        "--movement",
        type=float,
        default=1.0,
        help="scale the dancers' range of movement and travel (default 1; real dancers move wider: docs/data.md)",
    )
    s.add_argument(
        "--offbeat",
        type=float,
        default=0.0,
        help="share of half beats a train-split dancer also hits (default 0; real dancers hit between beats: "
        "docs/data.md)",
    )
    s.set_defaults(func=run_synth)

    q = sub.add_parser(
        "prepare",
        help="extract features of a dataset once into a cache (resumable)",
        description="Read every sequence of a dataset once and store motion, visual features and music in a "
        "cache (manifest.jsonl + arrays/ + audio/). Rerunning resumes where an interrupted run stopped.",
    )
    q.add_argument("kind", choices=("aist", "tiktok", "videos"), help="dataset layout")
    q.add_argument("src", help="dataset folder")
    q.add_argument("--out", required=True, help="cache folder")
    q.add_argument(
        "--seconds",
        type=float,
        default=CLIP_SECONDS,
        help=f"clip length the cache is for: shorter sequences are skipped (default {CLIP_SECONDS:g})",
    )
    q.add_argument("--split", default="all", help="train, val, test or all (default all)")
    q.add_argument(
        "--motion-source",
        default="auto",
        choices=("auto", "keypoints2d", "keypoints3d", "video"),
        help="aist: where the motion comes from (default auto: keypoints2d, else keypoints3d, else video)",
    )
    q.add_argument("--view", default=None, help="aist: camera view of keypoints2d (index or c01; default: best)")
    q.add_argument(
        "--camera",
        default="orthographic",
        choices=("orthographic", "perspective"),
        help="aist: projection of keypoints3d",
    )
    q.add_argument(
        "--visual",
        default="auto",
        choices=("auto", "video", "none"),
        help="aist/tiktok: visual features (default auto: when a video or feature file is there)",
    )
    q.add_argument("--smpl219", action="store_true", help="aist: also store the 219-d SMPL representation")
    q.add_argument("--fps", type=float, default=None, help="tiktok raw layout: OpenPose frame rate without video")
    q.add_argument("--audio-format", default="wav", choices=("wav", "npy"), help="how music is stored")
    q.add_argument("--workers", type=int, default=1, help="processes reading sequences in parallel (default 1)")
    q.add_argument("-f", "--force", action="store_true", help="start the cache afresh instead of resuming")
    q.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    q.set_defaults(func=run_prepare)

    i = sub.add_parser("info", help="summarize a feature cache")
    i.add_argument("cache", help="cache folder")
    i.set_defaults(func=run_info)


def run_synth(args: argparse.Namespace) -> int:
    if args.clips < 1 or args.seconds <= 0:
        raise ConfigError("--clips must be >= 1 and --seconds > 0")
    if args.tempo_stretch is not None and not 0.25 <= args.tempo_stretch[0] <= args.tempo_stretch[1] <= 4.0:
        raise ConfigError("--tempo-stretch needs 0.25 <= LOW <= HIGH <= 4")
    if not 0.25 <= args.movement <= 4.0:
        raise ConfigError("--movement needs 0.25 <= value <= 4")
    if not 0.0 <= args.offbeat <= 1.0:
        raise ConfigError("--offbeat needs 0 <= value <= 1")
    try:
        from ..data.synth import make_dataset
    except ImportError as e:
        raise D2MError(f"the synthetic dataset generator is not available in this install ({e})") from None
    kwargs = {"progress": True, "video": not args.no_video}
    if args.workers != 1:
        kwargs["workers"] = args.workers
    if args.tempo_stretch is not None:
        kwargs["tempo_stretch"] = tuple(args.tempo_stretch)
    if args.movement != 1.0:
        kwargs["movement"] = args.movement
    if args.offbeat:
        kwargs["offbeat"] = args.offbeat
    make_dataset(args.out, args.clips, args.seconds, args.seed, **kwargs)
    print(f"wrote {args.clips} sequence(s) of {args.seconds:g} s to {args.out}")
    return 0


def open_source(args: argparse.Namespace):
    """The dataset reader that ``d2m data prepare`` options describe."""
    if args.kind == "aist":
        from ..data.aist import AISTDataset

        view = args.view
        if view is not None and view.isdigit():
            view = int(view)
        return AISTDataset(
            args.src,
            args.split,
            motion_source=args.motion_source,
            view=view,
            camera=args.camera,
            visual=args.visual,
            smpl219=args.smpl219,
        )
    if args.kind == "tiktok":
        from ..data.tiktok import open_tiktok

        kwargs = {"visual": args.visual}
        if args.fps is not None:
            kwargs["fps"] = args.fps
        return open_tiktok(args.src, args.split, **kwargs)
    from ..data.videos import VideoFolder

    return VideoFolder(args.src, args.split)


def run_prepare(args: argparse.Namespace) -> int:
    from ..data.cache import prepare

    if args.seconds <= 0:
        raise ConfigError("--seconds must be positive")
    source = open_source(args)
    report = prepare(
        source,
        args.out,
        min_seconds=args.seconds,
        audio_format=args.audio_format,
        force=args.force,
        progress=not args.quiet,
        workers=args.workers,
    )
    print(report.summary())
    for name, why in report.failed:
        print(f"  failed {name}: {why}", file=sys.stderr)
    if report.failed and not (report.written or report.existing):
        raise D2MError(f"no sequence could be prepared ({len(report.failed)} failed; first: {report.failed[0][1]})")
    return 0


def run_info(args: argparse.Namespace) -> int:
    from ..constants import GENRES
    from ..data.cache import FeatureCache

    cache = FeatureCache(args.cache)
    splits = Counter(e.get("split") or "-" for e in cache.entries)
    genres = Counter(e["genre"] for e in cache.entries if e.get("genre") is not None)
    info = cache.info
    print(f"{cache.root}: {info['kind']} from {info['source']}")
    print(f"  {len(cache.entries)} sequence(s), {cache.total_seconds() / 60:.1f} min of music at {info['sr']} Hz")
    print("  splits: " + ", ".join(f"{k} {v}" for k, v in sorted(splits.items())))
    if genres:
        print("  genres: " + ", ".join(f"{GENRES[g]} {n}" for g, n in sorted(genres.items())))
    with_visual = sum(1 for e in cache.entries if e.get("visual_dim"))
    print(f"  visual features: {with_visual}/{len(cache.entries)}")
    return 0
