"""The real clip: music from the video as `d2m generate` analyses it against music from its OpenPose keypoints.

    python scripts/real_clip_openpose.py [--model d2m-top] [--seeds 16]      # needs ../shared/data/real-dance

Both are scored against the movement beats of pose at every frame (`metrics.evaluate_videos.score_music`), next
to the video path's music with its beats circularly shifted (6 offsets per seed) and mismatched real music (the
immich-memories-music tracks cut at 3 offsets). Prints a Markdown table: mean ± standard error.

With ``--phases K`` it also compares the two pose sources through one and the same analysis: the frames that
`d2m generate`'s 10-fps grid takes when it starts at each of the clip's first K frames, one MediaPipe tracker on
them or OpenPose's keypoints of the same frames, each smoothed and resampled by `features.pose.track_to_motion`.
Then only the pose model differs, and the K phases show how much the music moves with which frames are analysed.
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
from dance2music.features.extract import AnalysisGrid, extract_features
from dance2music.features.motion_formats import read_openpose_folder, read_openpose_pixels
from dance2music.features.pose import POSE_MAX_SIDE, PoseTracker, track_to_motion
from dance2music.io.audio import load_audio
from dance2music.io.video import iter_frames, probe
from dance2music.metrics.evaluate_videos import mean_se, mismatch_cuts, score_music

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-dance"
OPENPOSE_FPS = 23.976  # the clip's frame rate (its README)


def same_analysis(clip: Path, phases: int, duration: float) -> dict[str, list]:
    """{"MediaPipe" / "OpenPose": [Motion per phase]}: the frames the generate-rate grid takes from frame k on
    (k < ``phases``), posed by a fresh MediaPipe tracker or read from the OpenPose files of the same frames."""
    info = probe(clip)
    frames = list(iter_frames(clip, max_side=POSE_MAX_SIDE))
    scale = max(info.width, info.height) / max(frames[0][1].shape[:2])
    kp, _ = read_openpose_pixels(SHARED / "openpose_body25")
    op_times, op_det = np.arange(len(kp)) / OPENPOSE_FPS, kp[:, :, 2].max(axis=1) > 0
    out: dict[str, list] = {"MediaPipe": [], "OpenPose": []}
    for k in range(phases):
        keep = [False] * k + AnalysisGrid(GENERATE_ANALYSIS_FPS, info.fps).plan([t for t, _ in frames[k:]])
        tracker = PoseTracker()
        for (t, rgb), take in zip(frames, keep):
            if take:
                tracker.update(t, rgb, scale)
        out["MediaPipe"].append(tracker.finish(duration=duration))
        sel = np.flatnonzero(keep[: len(kp)])
        out["OpenPose"].append(track_to_motion(op_times[sel], kp[sel], op_det[sel], duration=duration))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="d2m-top")
    ap.add_argument("--seeds", type=int, default=16)
    ap.add_argument("--phases", type=int, default=0, help="also both pose sources through the same analysis, "
                    "the 10-fps grid started at each of the first K frames")  # fmt: skip
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
    phase_means: dict[str, list[float]] = {}
    for source, motions in (same_analysis(clip, args.phases, dur) if args.phases > 0 else {}).items():
        name = f"{source}, the same analysis ({args.phases} grid phases x {args.seeds} seeds)"
        rows[name] = [score_music(kin, model.generate(mo, seed=s).audio) for mo in motions for s in range(args.seeds)]
        per = np.array([r["ba_bailando"] for r in rows[name]]).reshape(args.phases, args.seeds).mean(axis=1)
        phase_means[source] = [round(float(v), 3) for v in per]
    print("| music | BA (Bailando) | beat F1 | n |\n| --- | --- | --- | --- |")
    for name, scores in rows.items():
        ba, f1 = mean_se([s["ba_bailando"] for s in scores]), mean_se([s["beat_f1"] for s in scores])
        print(f"| {name} | {ba[0]:.3f} ± {ba[1]:.3f} | {f1[0]:.3f} ± {f1[1]:.3f} | {len(scores)} |")
    print(f"\n{kin.size} movement beats in {dur:.2f} s")
    for source, means in phase_means.items():
        print(f"{source}: BA per grid phase {means}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
