"""A real dance clip as people shoot it, through `d2m generate`, scored against the dancer's movement beats.

    python scripts/real_video_variants.py CLIP [--seeds 8] [--keep DIR] [--json out.json]

From one real clip this writes the versions a user's phone or editor would give (upright phone video with
rotation metadata, a 9:16 portrait crop, 60 and 25 fps, a variable frame rate, the dancer off-centre with his
feet out of frame, the dancer small in a 1080p frame, a second dancer beside him) and runs each through the
`d2m generate` command as a user would (seed 0; the output must be a video with a soundtrack), then through
the Python API for more seeds. Every version's music is scored against the same reference: the movement
beats of the original clip, with pose on every frame. So a version scores well only when the whole pipeline,
from decoding to the choice of whom to follow, still hears the dancer. The baseline is mismatched real music
(every track of `immich-memories-music` at several offsets), as in `d2m evaluate --videos`; BeatAlign is
Bailando's and beat F1 is at +-100 ms, the measures of `d2m evaluate`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
from collections.abc import Callable, Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np

from dance2music.features.beats import beat_alignment, music_beats
from dance2music.metrics.evaluate_videos import mean_se


def score(motion_beats: np.ndarray, audio: np.ndarray, sr: int) -> tuple[float, float]:
    """(BeatAlign (Bailando), beat F1) of ``audio`` against the movement beats, as `d2m evaluate --videos`."""
    a = beat_alignment(motion_beats, music_beats(audio, sr=sr))
    return a.beat_align, a.f1


def encode(path: Path, frames: Iterable[tuple[float, np.ndarray]], *, rotation: int = 0) -> Path:
    """H.264 mp4 of ``(time_s, rgb)`` frames at their own times (millisecond time base), with a display rotation."""
    import av

    tb = Fraction(1, 1000)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=60, options={"crf": "23"})
        vs.time_base = vs.codec_context.time_base = tb
        first = True
        for t, rgb in frames:
            if first:
                vs.height, vs.width = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
                vs.pix_fmt = "yuv420p"
                if rotation:
                    vs.set_display_rotation(rotation)
                first = False
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[: vs.height, : vs.width]), format="rgb24")
            frame.pts, frame.time_base = int(round(t * 1000)), tb
            out.mux(vs.encode(frame))
        out.mux(vs.encode())
    return path


def nearest(times: np.ndarray, frames: list[np.ndarray], new_times: np.ndarray) -> list[tuple[float, np.ndarray]]:
    """The source frame shown at each of ``new_times`` (the last one at or before it)."""
    idx = np.clip(np.searchsorted(times, new_times + 1e-9, side="right") - 1, 0, len(frames) - 1)
    return [(float(t), frames[i]) for t, i in zip(new_times, idx)]


def variants(times: np.ndarray, frames: list[np.ndarray]) -> dict[str, Callable[[Path], Path]]:
    """Name -> writer of that version of the clip (each writer gets the path to write)."""
    import cv2

    h, w = frames[0].shape[:2]
    duration = float(times[-1] + np.median(np.diff(times)))
    src = list(zip(times.tolist(), frames))
    pw = int(round(h * 9 / 16)) // 2 * 2  # a 9:16 window around the frame's centre
    x0 = (w - pw) // 2

    def portrait(rgb: np.ndarray) -> np.ndarray:
        return rgb[:, x0 : x0 + pw]

    def shifted(rgb: np.ndarray) -> np.ndarray:
        """The dancer moved to the left third and down, so that his feet leave the frame."""
        m = np.float32([[1, 0, -w / 6], [0, 1, 0.22 * h]])
        return cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_CONSTANT)

    def small(rgb: np.ndarray) -> np.ndarray:
        """The whole frame at 0.45x in the lower right of a 1920x1080 frame: a dancer far from the camera."""
        canvas = np.zeros((1080, 1920, 3), np.uint8)
        s = cv2.resize(rgb, (int(w * 0.45), int(h * 0.45)), interpolation=cv2.INTER_AREA)
        canvas[1080 - s.shape[0] - 60 : 1080 - 60, 1920 - s.shape[1] - 200 : 1920 - 200] = s
        return canvas

    n = len(frames)

    def duo(k: int) -> np.ndarray:
        """A second, smaller dancer on the left (the same footage mirrored, half the clip later)."""
        main = cv2.warpAffine(frames[k], np.float32([[1, 0, w * 0.18], [0, 1, 0]]), (w, h))
        other = cv2.flip(frames[(k + n // 2) % n], 1)
        other = cv2.warpAffine(other, np.float32([[0.7, 0, -w * 0.12], [0, 0.7, 0.3 * h]]), (w, h))
        split = int(w * 0.42)
        main[:, :split] = other[:, :split]
        return main

    return {
        "as recorded": lambda p: encode(p, src),
        "phone upright (rotation 90)": lambda p: encode(
            p, ((t, np.rot90(portrait(f), -1)) for t, f in src), rotation=90
        ),
        "portrait 9:16 crop": lambda p: encode(p, ((t, portrait(f)) for t, f in src)),
        "60 fps": lambda p: encode(p, nearest(times, frames, np.arange(0, duration - 1e-6, 1 / 60))),
        "25 fps": lambda p: encode(p, nearest(times, frames, np.arange(0, duration - 1e-6, 1 / 25))),
        "variable frame rate (1/30, 1/20 s)": lambda p: encode(
            p, nearest(times, frames, np.cumsum(np.r_[0, np.tile([1 / 30, 1 / 20], 60)])[: int(duration * 24)])
        ),
        "off-centre, feet out of frame": lambda p: encode(p, ((t, shifted(f)) for t, f in src)),
        "small in a 1080p frame": lambda p: encode(p, ((t, small(f)) for t, f in src)),
        "second dancer beside him": lambda p: encode(p, ((t, duo(k)) for k, (t, _) in enumerate(src))),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clip", type=Path)
    ap.add_argument("--model", default="d2m-top")
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--offsets", type=int, default=3, help="cuts of each mismatched track")
    ap.add_argument("--keep", type=Path, help="write the versions (and their outputs) here instead of a temp folder")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    from dance2music.api import Dance2Music
    from dance2music.cli import main as d2m
    from dance2music.constants import SAMPLE_RATE
    from dance2music.data.music import immich_tracks
    from dance2music.features.beats import kinematic_beats
    from dance2music.features.extract import extract_features
    from dance2music.io.audio import load_audio
    from dance2music.io.video import iter_frames, probe, read_audio
    from dance2music.metrics.evaluate_videos import mismatch_cuts

    decoded = list(iter_frames(args.clip))
    times = np.array([t for t, _ in decoded])
    frames = [f for _, f in decoded]
    reference = extract_features(args.clip, visual=False, analysis_fps=None)
    beats = kinematic_beats(reference.motion).times
    n = int(round(reference.duration * SAMPLE_RATE))
    mis = []
    for track in [load_audio(p, sr=SAMPLE_RATE) for p in immich_tracks("all")]:
        mis += [score(beats, cut, SAMPLE_RATE) for cut in mismatch_cuts(track, n, args.offsets)]
    model = Dance2Music.from_pretrained(args.model)
    rows = []
    with tempfile.TemporaryDirectory(prefix="d2m-variants-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for k, (name, write) in enumerate(variants(times, frames).items()):
            video = write(folder / f"v{k}.mp4")
            info = probe(video)
            out = folder / f"v{k}_music.mp4"
            said = io.StringIO()
            with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
                rc = d2m(["generate", str(video), "-o", str(out), "--force", "--no-progress", "--seed", "0"])
            heard = read_audio(out, SAMPLE_RATE) if rc == 0 else np.zeros(0)
            row = {
                "version": name,
                "video": f"{info.width}x{info.height}" + (f" rot {info.rotation}" if info.rotation else ""),
                "fps": round(info.fps, 2),
                "vfr": info.vfr,
                "cli_rc": rc,
                "cli_soundtrack_s": round(len(heard) / SAMPLE_RATE, 2),
                "cli_said": " ".join(said.getvalue().split()),
            }
            print(f"{name}: {row['cli_said']}", file=sys.stderr)
            if rc != 0:
                rows.append(row)
                continue
            first = model.generate(video, seed=0)  # the API, as the command ran it: the same music
            feats = first.features
            gen = [score(beats, first.audio, SAMPLE_RATE)]
            gen += [score(beats, model.generate(feats, seed=s).audio, SAMPLE_RATE) for s in range(1, args.seeds)]
            row.update(
                people=feats.meta.get("people"),
                followed=(feats.meta.get("followed") or {}).get("how"),
                detection_rate=round(float(feats.meta["detection_rate"]), 3),
                own_beats=int(kinematic_beats(feats.motion).times.size),
                generated_ba=mean_se([g[0] for g in gen]),
                generated_f1=mean_se([g[1] for g in gen]),
            )
            rows.append(row)

    f = "{:.3f} ± {:.3f}".format
    print(f"reference: {args.clip.name}, {reference.duration:.2f} s, {beats.size} movement beats (pose on every frame)")
    print(f"mismatched real music ({len(mis)} cuts): BA {f(*mean_se([m[0] for m in mis]))}, "
          f"beat F1 {f(*mean_se([m[1] for m in mis]))}")
    print(f"| version | stored video | fps | `d2m generate` | dancer found | people (followed) "
          f"| BA ({args.seeds} seeds) | beat F1 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        fps = f"{r['fps']:g}" + (" (VFR)" if r["vfr"] else "")
        if r["cli_rc"] != 0:
            print(f"| {r['version']} | {r['video']} | {fps} | exit {r['cli_rc']}: {r['cli_said']} | | | | |")
            continue
        cli = f"ok, {r['cli_soundtrack_s']} s of music"
        who = f"{r['people']}" + (f" ({r['followed']})" if r["followed"] else "")
        print(f"| {r['version']} | {r['video']} | {fps} | {cli} | {100 * r['detection_rate']:.0f}% | {who} | "
              f"{f(*r['generated_ba'])} | {f(*r['generated_f1'])} |")
    if args.json:
        summary = {"mismatched_ba": mean_se([m[0] for m in mis]), "mismatched_f1": mean_se([m[1] for m in mis])}
        args.json.write_text(json.dumps({"reference_beats": beats.tolist(), **summary, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
