"""Music for slow and barely moving dancers: is it still music, at the promised loudness?

Each keypoint sequence of a folder (the real-motion panel) is cut to its first ``--seconds`` and turned into
dancers who move less or more slowly than the original: the movement around each joint's mean position scaled by
``--amplitudes`` (1 = as danced, 0.1 = a tenth of the excursion, the pose kept), and the dance slowed by
``--slowdowns`` (2 = half speed, twice as long), plus one dancer standing still (the first pose held) and one
who leaves the frame for ``--absent`` seconds in the middle (no detection there). Music
comes from a model as `d2m generate` makes it (keypoints analysed at its default rate, loudness-normalized to
-16 LUFS); per variant the table gives the depth of the dancer's accents (95th percentile of the speed dips,
torso lengths per second: `features.rhythm.accent_envelope`), the beat grid the music follows and where its
tempo came from, the integrated loudness, true peak, the share of 100-ms frames below -40 dBFS, onsets per
second, spectral-flux variation and the soft clipper's drive when the loudness stage needed it.

With ``--video FILE`` the same variants are made of a real video instead (its frames repeated: half and quarter
speed, and its first frame held for 5 s; written with PyAV into ``--work``) and go through the whole video
path (MediaPipe pose included); each row says how many analysed frames repeated the previous picture and
were left out of pose (`features.extract.same_picture`).

    python scripts/still_dancers.py ../shared/data/real-motion [--model d2m-top] [--seconds 15]
    python scripts/still_dancers.py --video ../shared/data/real-dance/hiphop_studio_2.9s.mp4
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from dance2music.api import Dance2Music
from dance2music.constants import SAMPLE_RATE
from dance2music.features import rhythm as R
from dance2music.io.loudness import true_peak
from dance2music.metrics import evaluate_motion as em
from dance2music.types import resample_series


def scaled(keypoints: np.ndarray, amplitude: float) -> np.ndarray:
    """Each joint's excursion from its mean position times ``amplitude`` (confidences kept)."""
    kp = np.array(keypoints, np.float64, copy=True)
    mean = kp[..., :2].mean(axis=0, keepdims=True)
    kp[..., :2] = mean + amplitude * (kp[..., :2] - mean)
    return kp


def slowed(keypoints: np.ndarray, factor: float, fps: float) -> np.ndarray:
    """The dance ``factor`` times slower at the same frame rate (linear interpolation between frames)."""
    return resample_series(np.asarray(keypoints, np.float64), fps, fps * factor, kind="linear")


def absent(keypoints: np.ndarray, seconds: float, fps: float) -> np.ndarray:
    """``keypoints`` with no detection (confidence 0) for ``seconds`` in the middle: the dancer out of the frame."""
    kp = np.array(keypoints, np.float64, copy=True)
    mid, half = kp.shape[0] // 2, int(round(seconds * fps / 2))
    kp[max(0, mid - half) : mid + half, :, 2] = 0.0
    return kp


def dip_depth(motion) -> float:
    """95th percentile of the speed dips (torso lengths / s), the scale `R.accent_envelope` divides by."""
    dips = R.speed_dips(motion)
    return float(np.percentile(dips, 95)) if dips.size else 0.0


def video_variants(video: Path, work: Path) -> dict[str, Path]:
    """Half-speed, quarter-speed and still (first frame held 5 s) copies of ``video``, at its frame rate."""
    import av

    with av.open(str(video)) as src:
        stream = src.streams.video[0]
        rate = stream.average_rate or 30
        frames = [f.to_ndarray(format="rgb24") for f in src.decode(stream)]
    h, w = (d - d % 2 for d in frames[0].shape[:2])
    work.mkdir(parents=True, exist_ok=True)
    plans = {
        "as filmed": frames,
        "2x slower": [f for f in frames for _ in range(2)],
        "4x slower": [f for f in frames for _ in range(4)],
        "standing still": [frames[0]] * int(5 * rate),
    }
    out = {}
    for name, seq in plans.items():
        path = work / f"{video.stem}_{name.replace(' ', '_')}.mp4"
        with av.open(str(path), "w") as dst:
            st = dst.add_stream("libx264", rate=rate)
            st.width, st.height, st.pix_fmt = w, h, "yuv420p"
            for img in seq:
                dst.mux(st.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img[:h, :w]), format="rgb24")))
            dst.mux(st.encode())
        out[name] = path
    return out


def report(name: str, variant: str, res, motion) -> tuple[float, ...]:
    """Print one table row for a `GenerationResult`; returns (LUFS, true peak, silent share, onsets/s, flux CV)."""
    st = em.music_stats(res.audio, SAMPLE_RATE)
    drive = res.meta["loudness"].get("clip_drive_db")
    grid = f"{res.meta['dance_tempo']:.0f} BPM ({res.meta['tempo_source']})"
    row = (st["lufs"], true_peak(res.audio), st["silent_share"], st["onset_rate"], st["flux_cv"])
    print(f"| {name} | {variant} | {dip_depth(motion):.3f} | {grid} | {row[0]:.1f} | {row[1]:.1f} | {row[2]:.1%} | "
          f"{row[3]:.2f} | {row[4]:.2f} | {'-' if drive is None else f'{drive:.1f}'} |", flush=True)  # fmt: skip
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", nargs="?", help="keypoint sequences (<name>.npz), as d2m evaluate --motion")
    p.add_argument("--video", type=Path, default=None, help="a dance video to make the variants of instead")
    p.add_argument("--work", type=Path, default=Path("runs/still_dancers"), help="where --video's variants go")
    p.add_argument("--model", default="d2m-top")
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--amplitudes", type=float, nargs="+", default=[1.0, 0.5, 0.25, 0.1])
    p.add_argument("--slowdowns", type=float, nargs="+", default=[2.0])
    p.add_argument("--absent", type=float, default=4.0, help="seconds the dancer is out of the frame mid-dance")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if (args.folder is None) == (args.video is None):
        p.error("give one of: a folder of keypoint sequences, --video FILE")
    model = Dance2Music.from_pretrained(args.model)
    head = "accent dips (torso/s) | beat grid | LUFS | true peak (dBTP) | silent | onsets/s | flux CV | clip drive (dB)"
    print(f"| {args.model}: dance | variant | {head} |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    rows = []
    if args.video is not None:
        for name, path in video_variants(args.video, args.work).items():
            res = model.generate(str(path), seed=args.seed, genre=None)
            repeats = res.features.meta.get("repeated_frames", 0)  # analysed frames that repeated the last picture
            rows.append(report(args.video.name, f"{name} ({repeats} repeats)", res, res.features.motion))
    for f in sorted(Path(args.folder).glob("*.npz")) if args.folder else []:
        s = em.load_keypoint_sequence(f)
        kp = s.keypoints[: int(round(args.seconds * s.fps))]
        variants = {f"movement x{a:g}": scaled(kp, a) for a in args.amplitudes}
        variants.update({f"{k:g}x slower": slowed(kp, k, s.fps) for k in args.slowdowns})
        variants["standing still"] = np.repeat(kp[:1], kp.shape[0], axis=0)
        variants[f"out of frame {args.absent:g} s"] = absent(kp, args.absent, s.fps)
        for name, k in variants.items():
            motion = em.keypoints_to_motion(k, s.fps)
            rows.append(report(s.name, name, model.generate(motion, seed=args.seed, genre=None), motion))
    a = np.asarray(rows)
    off = np.abs(a[:, 0] + 16.0) > 1.0
    print(f"\n{len(a)} outputs: LUFS {a[:, 0].min():.2f} to {a[:, 0].max():.2f} ({off.sum()} off -16 +- 1), true peak "
          f"at most {a[:, 1].max():.2f} dBTP, silent share at most {a[:, 2].max():.1%}, onsets/s "
          f"{a[:, 3].min():.2f} to {a[:, 3].max():.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
