"""The real clip: music from the video as `d2m generate` analyses it against music from its OpenPose keypoints.

    python scripts/real_clip_openpose.py [--model d2m-top] [--seeds 16]      # needs ../shared/data/real-dance

Both are scored against the movement beats of pose at every frame (`metrics.evaluate_videos.score_music`), next
to the video path's music with its beats circularly shifted (6 offsets per seed) and mismatched real music (the
immich-memories-music tracks cut at 3 offsets). Prints a Markdown table: mean ± standard error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from dance2music import Dance2Music
from dance2music.constants import GENERATE_ANALYSIS_FPS, SAMPLE_RATE
from dance2music.data.music import immich_tracks
from dance2music.features.beats import beat_alignment, circular_shift, kinematic_beats, music_beats
from dance2music.features.extract import extract_features
from dance2music.features.motion_formats import read_openpose_folder
from dance2music.io.audio import load_audio
from dance2music.metrics.evaluate_videos import mean_se, mismatch_cuts, score_music

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-dance"
OPENPOSE_FPS = 23.976  # the clip's frame rate (its README)



def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="d2m-top")
    ap.add_argument("--seeds", type=int, default=16)
    args = ap.parse_args(argv)
    clip = SHARED / "hiphop_studio_2.9s.mp4"
    if not clip.is_file():
        print(f"error: {clip} is not here", file=sys.stderr)
        return 2
    model = Dance2Music.from_pretrained(args.model)
    reference = extract_features(clip, analysis_fps=None, pose_lanes=1, visual=False)
    kin, dur = kinematic_beats(reference.motion).times, reference.duration
    feats = extract_features(clip, visual=False, analysis_fps=GENERATE_ANALYSIS_FPS, pose_lanes=2)
    openpose = read_openpose_folder(SHARED / "openpose_body25", fps=OPENPOSE_FPS)
    rows: dict[str, list[dict[str, float]]] = {"video path (d2m generate)": [], "OpenPose keypoints": [],
                                               "shift null of the video path's music": []}  # fmt: skip
    for seed in range(args.seeds):
        a = model.generate(feats, seed=seed).audio
        rows["video path (d2m generate)"].append(score_music(kin, a))
        rows["OpenPose keypoints"].append(score_music(kin, model.generate(openpose, seed=seed).audio[: a.size]))
        beats = music_beats(a)
        for off in np.linspace(0.25, dur - 0.25, 6):
            shifted = beat_alignment(kin, circular_shift(beats, off, dur))
            rows["shift null of the video path's music"].append(shifted.report_scores())
    n = int(round(dur * SAMPLE_RATE))
    tracks = [load_audio(t, sr=SAMPLE_RATE) for t in immich_tracks("all")]
    rows["mismatched real music"] = [score_music(kin, c) for t in tracks for c in mismatch_cuts(t, n, 3)]
    print("| music | BA (Bailando) | beat F1 | n |\n| --- | --- | --- | --- |")
    for name, scores in rows.items():
        ba, f1 = mean_se([s["ba_bailando"] for s in scores]), mean_se([s["beat_f1"] for s in scores])
        print(f"| {name} | {ba[0]:.3f} ± {ba[1]:.3f} | {f1[0]:.3f} ± {f1[1]:.3f} | {len(scores)} |")
    print(f"\n{kin.size} movement beats in {dur:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
