"""Write the synthetic paired dataset in the AIST++ layout (see docs/architecture.md).

Per sequence ``<genre>_<situation>_cAll_<dancer>_<music_id>_<choreo>``:

- ``music/<music_id>.wav``: the music, mono 16-bit PCM at 22.05 kHz;
- ``motions/<seq>.pkl``: ``smpl_poses`` float32[N, 72] (24 axis-angle joint rotations), ``smpl_trans``
  float32[N, 3] (cm), ``smpl_scaling`` float32[1] (cm per metre of the unit skeleton), ``smpl_loss`` 0.0;
  joints = smpl_scaling * FK(smpl_poses) + smpl_trans, as AIST++;
- ``keypoints3d/<seq>.pkl``: ``keypoints3d`` (with 4 mm triangulation-like noise) and ``keypoints3d_optim``
  (clean), float32[N, 17, 3] COCO-17 in cm, y up;
- ``keypoints2d/<seq>.pkl``: ``keypoints2d`` float32[1, N, 17, 3] (pixels of the video, confidence) with
  pose-estimator-like errors, ``det_scores`` float32[1, N] (0 where no person was "detected"),
  ``timestamps`` int64[N] (milliseconds);
- ``videos/<seq with cAll -> c01>.mp4``: the rendered dancer, H.264 at 30 fps, with the music as AAC;
- ``labels/<seq>.json``: genre, tempo, beats, downbeats, music_id, timing, plus dance_beats (the dancer's
  keyframe times), key, instruments and the generator's seed and index.

All motion files are at 60 fps; frame i is time i / 60 s, and the music's sample 0 is time 0.
Dataset files: ``splits/crossmodal_{train,val,test}.txt``, an empty ``ignore_list.txt`` and ``synth.json``.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import pickle
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...constants import GENRE_NAMES, GENRES, SAMPLE_RATE
from ...errors import ConfigError
from ...io.files import atomic_output
from ...io.video import write_video
from . import skeleton as sk
from .moves import DanceMotion, make_dance
from .music import make_song
from .render import Scene, project, project_keypoints, render_video_frames

MOTION_FPS = 60.0
VIDEO_FPS = 30.0
SITUATIONS = ("sBM", "sFM")
#: Version of the generator; bump when the same seed would make different data.
SYNTH_VERSION = 1


@dataclass
class ClipInfo:
    """What `make_clip` wrote: the sequence name, its genre, split, timing and seconds spent."""

    name: str
    genre: str
    split: str
    timing: str
    seconds: float


def split_of(index: int) -> str:
    """The split of clip ``index``: in each run of 100 clips, rounds 8 and 9 of ten genres are val and test.

    Splits depend on the index only, so a larger dataset keeps every smaller one's assignments, and every
    split gets all ten genres (about 80/10/10).
    """
    r = (index // len(GENRES)) % 10
    return "val" if r == 8 else "test" if r == 9 else "train"


def clip_rngs(seed: int, index: int) -> tuple[np.random.Generator, ...]:
    """Independent generators for (names, music, dance, scene, detector noise) of clip ``index``."""
    children = np.random.SeedSequence([int(seed), int(index)]).spawn(5)
    return tuple(np.random.default_rng(c) for c in children)


def tempo_scale_of(seed: int, index: int, tempo_stretch: tuple[float, float] | None) -> float:
    """The factor clip ``index`` is slowed down or sped up by (1 outside the train split; see `make_clip`)."""
    if tempo_stretch is None or split_of(index) != "train":
        return 1.0
    lo, hi = np.log(tempo_stretch[0]), np.log(tempo_stretch[1])
    return float(np.exp(np.random.default_rng([int(seed), int(index), 7]).uniform(lo, hi)))


def offbeat_of(index: int, offbeat: float) -> float:
    """The share of half beats clip ``index``'s dancer also hits: ``offbeat`` in the train split, else 0."""
    return float(offbeat) if split_of(index) == "train" else 0.0


def clip_name(index: int, rng: np.random.Generator) -> tuple[str, str, str]:
    """(sequence name, genre, music id) of clip ``index``; music ids start past AIST's 0-5."""
    genre = GENRES[index % len(GENRES)]
    music_id = f"m{genre[1:]}{10 + index}"
    situation = SITUATIONS[int(rng.random() < 0.5)]
    dancer = int(rng.integers(1, 31))
    choreo = int(rng.integers(1, 31))
    return f"{genre}_{situation}_cAll_d{dancer:02d}_{music_id}_ch{choreo:02d}", genre, music_id


def detector_keypoints(
    clean: np.ndarray, depth: np.ndarray, width: int, height: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Corrupt projected keypoints the way a 2D pose estimator does.

    clean: float[N, 17, 2] pixels; depth: float[N, 17] camera depth (m). Returns (keypoints float32[N, 17, 3]
    with x, y, confidence; det_scores float32[N]). Errors: jitter proportional to the person's size, larger
    and less confident on joints hidden behind the torso or outside the picture, occasional wrong joints
    (low confidence, large error), and short runs of frames with no detection (zeros, det_score 0).
    """
    from scipy.ndimage import gaussian_filter1d

    n = clean.shape[0]
    size = np.maximum(np.ptp(clean[..., 1], axis=1), 20.0)[:, None]  # person height in pixels
    sigma = np.full((n, 17), 0.006) * size
    sigma[:, :5] *= 0.6  # face points are well localized
    conf = np.clip(rng.normal(0.88, 0.06, (n, 17)), 0.3, 0.99)
    # Hidden behind the torso: deeper than the torso centre and within its width on screen.
    torso = clean[:, [5, 6, 11, 12]]
    centre = torso.mean(axis=1)
    half_w = np.maximum(np.abs(clean[:, 5, 0] - clean[:, 6, 0]), np.abs(clean[:, 11, 0] - clean[:, 12, 0]))
    torso_depth = depth[:, [5, 6, 11, 12]].mean(axis=1)
    behind = depth > torso_depth[:, None] + 0.06
    hidden = behind & (np.abs(clean[..., 0] - centre[:, None, 0]) < 0.5 * half_w[:, None])
    sigma[hidden] *= 3.0
    conf[hidden] = rng.uniform(0.25, 0.6, int(hidden.sum()))
    outside = (clean[..., 0] < 0) | (clean[..., 0] >= width) | (clean[..., 1] < 0) | (clean[..., 1] >= height)
    conf[outside] = rng.uniform(0.02, 0.2, int(outside.sum()))
    # Part of a detector's error is frame to frame jitter, part drifts slowly with the appearance.
    drift = gaussian_filter1d(rng.normal(0.0, 1.0, clean.shape), 4.0, axis=0) * 2.0
    xy = clean + (0.5 * rng.normal(0.0, 1.0, clean.shape) + 0.7 * drift) * sigma[..., None]
    wrong = rng.random((n, 17)) < 0.015
    xy[wrong] += rng.normal(0.0, 1.0, (int(wrong.sum()), 2)) * 0.08 * np.repeat(size, 17, 1)[wrong][:, None]
    conf[wrong] = rng.uniform(0.05, 0.35, int(wrong.sum()))
    det = np.clip(rng.normal(0.93, 0.03, n), 0.5, 0.999)
    # Runs of missed detections: about 1% of frames, 3-12 frames at a time.
    missed = np.zeros(n, bool)
    for _ in range(rng.poisson(n / 600)):
        s = int(rng.integers(0, n))
        missed[s : s + int(rng.integers(3, 13))] = True
    kp = np.concatenate([xy, conf[..., None]], axis=-1).astype(np.float32)
    kp[missed] = 0.0
    det[missed] = 0.0
    return kp, det.astype(np.float32)


def _smpl_params(dance: DanceMotion) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(smpl_poses float32[N, 72], smpl_trans float32[N, 3] cm, smpl_scaling float32[1])."""
    aa = sk.quat_to_axis_angle(sk.matrix_to_quat(dance.local_rot))  # [N, 24, 3]
    poses = aa.reshape(len(aa), 72).astype(np.float32)
    return poses, (dance.trans * 100.0).astype(np.float32), np.array([100.0 * dance.scale], np.float32)


def _dump(obj: dict, path: Path) -> None:
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        pickle.dump(obj, f, protocol=4)


def _write_wav(audio: np.ndarray, sr: int, path: Path) -> None:
    import soundfile as sf

    with atomic_output(path) as tmp:
        sf.write(str(tmp), audio, sr, subtype="PCM_16", format="WAV")


def make_clip(
    out_dir: str | os.PathLike,
    index: int,
    seconds: float,
    seed: int,
    *,
    width: int = 640,
    height: int = 360,
    video: bool = True,
    crf: int = 23,
    tempo_stretch: tuple[float, float] | None = None,
    movement: float = 1.0,
    offbeat: float = 0.0,
) -> ClipInfo:
    """Generate clip ``index`` of the dataset with ``seed`` and write its files under ``out_dir``.

    tempo_stretch: (low, high) -- a train-split clip's song and dance are slowed down or sped up together by a
    factor drawn log-uniformly from it (its own generator, so every other draw is unchanged); val and test
    clips are never stretched, so they stay comparable across datasets.
    movement: the dancers' range of movement and travel (`moves.make_dance`), for every split.
    offbeat: the share of half beats a train-split dancer also hits (`moves.make_dance`); val and test clips
        keep their dancers as they were, like the tempo stretch.
    """
    t0 = time.perf_counter()
    out = Path(out_dir)
    r_name, r_music, r_dance, r_scene, r_noise = clip_rngs(seed, index)
    name, genre, music_id = clip_name(index, r_name)
    scale = tempo_scale_of(seed, index, tempo_stretch)
    song = make_song(genre, seconds, r_music, sr=SAMPLE_RATE, tempo_scale=scale)
    off = offbeat_of(index, offbeat)
    dance = make_dance(genre, song.beats, seconds, r_dance, fps=MOTION_FPS, movement=movement, offbeat=off)
    scene = Scene.random(r_scene, width, height)

    poses, trans, scaling = _smpl_params(dance)
    n = poses.shape[0]
    kp3d = (dance.coco * 100.0).astype(np.float32)
    kp3d_raw = (kp3d + r_noise.normal(0.0, 0.4, kp3d.shape)).astype(np.float32)

    t = np.arange(n) / MOTION_FPS
    pos, rot, focal = scene.cameras(t, dance.trans[:, 0])
    uvz = project(dance.coco, pos, rot, focal, width, height)
    kp2d, det = detector_keypoints(uvz[..., :2], uvz[..., 2], width, height, r_noise)

    _write_wav(song.audio, song.sr, out / "music" / f"{music_id}.wav")
    _dump({"smpl_poses": poses, "smpl_trans": trans, "smpl_scaling": scaling, "smpl_loss": 0.0},
          out / "motions" / f"{name}.pkl")  # fmt: skip
    _dump({"keypoints3d": kp3d_raw, "keypoints3d_optim": kp3d}, out / "keypoints3d" / f"{name}.pkl")
    _dump(
        {"keypoints2d": kp2d[None], "det_scores": det[None],
         "timestamps": np.round(t * 1000).astype(np.int64)},
        out / "keypoints2d" / f"{name}.pkl",
    )  # fmt: skip
    if video:
        frames = render_video_frames(dance, scene, VIDEO_FPS)
        write_video(frames, VIDEO_FPS, out / "videos" / f"{name.replace('cAll', 'c01')}.mp4",
                    audio=song.audio, sr=song.sr, crf=crf)  # fmt: skip
    labels = {
        "genre": genre,
        "genre_name": GENRE_NAMES[genre],
        "tempo": song.tempo,
        "tempo_scale": round(scale, 4),
        **({} if movement == 1.0 else {"movement": float(movement)}),  # the default's labels stay as they were
        **({} if off == 0 else {"offbeat": float(off)}),
        "beats": [round(float(b), 5) for b in song.beats],
        "downbeats": [round(float(b), 5) for b in song.downbeats],
        "music_id": music_id,
        "timing": dance.timing,
        "dance_beats": [round(float(b), 5) for b in dance.keyframes if 0 <= b < seconds],
        "key": song.key,
        "instruments": song.instruments,
        "seconds": float(seconds),
        "motion_fps": MOTION_FPS,
        "video_fps": VIDEO_FPS,
        "seed": int(seed),
        "index": int(index),
        "synth_version": SYNTH_VERSION,
    }
    # The label file is written last: its presence marks a finished clip (a rerun skips it).
    with atomic_output(out / "labels" / f"{name}.json") as tmp:
        tmp.write_text(json.dumps(labels, indent=1))
    return ClipInfo(name, genre, split_of(index), dance.timing, time.perf_counter() - t0)


def _clip_job(args: tuple) -> ClipInfo:
    out_dir, index, seconds, seed, kw = args
    import cv2

    cv2.setNumThreads(1)  # one process per core: OpenCV's own threads would only fight the other workers
    return make_clip(out_dir, index, seconds, seed, **kw)


def _existing(
    out: Path,
    index: int,
    seed: int,
    seconds: float,
    tempo_stretch: tuple[float, float] | None = None,
    movement: float = 1.0,
    offbeat: float = 0.0,
) -> str | None:
    """The clip's sequence name when its label file already exists (a finished clip), else None."""
    name, _, _ = clip_name(index, clip_rngs(seed, index)[0])
    p = out / "labels" / f"{name}.json"
    if not p.is_file():
        return None
    try:
        lab = json.loads(p.read_text())
    except (OSError, ValueError):
        return None
    same = lab.get("seconds") == float(seconds) and lab.get("synth_version") == SYNTH_VERSION
    same = same and abs(lab.get("tempo_scale", 1.0) - tempo_scale_of(seed, index, tempo_stretch)) < 1e-3
    same = same and abs(lab.get("movement", 1.0) - movement) < 1e-6
    same = same and abs(lab.get("offbeat", 0.0) - offbeat_of(index, offbeat)) < 1e-6
    return name if same else None


def make_dataset(
    out_dir: str | os.PathLike,
    clips: int,
    seconds: float,
    seed: int,
    progress: bool = True,
    workers: int = 1,
    *,
    width: int = 640,
    height: int = 360,
    video: bool = True,
    tempo_stretch: tuple[float, float] | None = None,
    movement: float = 1.0,
    offbeat: float = 0.0,
) -> list[str]:
    """Write ``clips`` synthetic sequences of ``seconds`` each into ``out_dir`` (AIST++ layout).

    Clip ``i`` is generated from ``(seed, i)`` alone, so the same seed gives the same clips whatever the
    count, and an interrupted run resumes (finished clips are kept). ``workers`` processes render in
    parallel. ``video=False`` skips the mp4s (faster; everything else is unchanged). Returns the sequence
    names in index order.
    """
    if clips < 1:
        raise ConfigError(f"clips must be >= 1, got {clips}")
    if not seconds > 0.5:
        raise ConfigError(f"seconds must be > 0.5, got {seconds}")
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    if width < 32 or height < 32 or width % 2 or height % 2:
        raise ConfigError(f"video size must be even and at least 32x32, got {width}x{height}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output path is a file: {out}")
    out.mkdir(parents=True, exist_ok=True)
    if not 0.25 <= movement <= 4.0:
        raise ConfigError(f"movement must be in 0.25 .. 4, got {movement}")
    if not 0.0 <= offbeat <= 1.0:
        raise ConfigError(f"offbeat must be in 0 .. 1, got {offbeat}")
    # offbeat only when set, so that the default's synth.json stays as it was
    kw = {"width": width, "height": height, "video": video, "tempo_stretch": tempo_stretch, "movement": movement,
          **({"offbeat": offbeat} if offbeat else {})}  # fmt: skip
    names: dict[int, str] = {}
    todo = []
    for i in range(clips):
        done = _existing(out, i, seed, seconds, tempo_stretch, movement, offbeat)
        if done:
            names[i] = done
        else:
            todo.append(i)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=clips, initial=clips - len(todo), desc="synth", unit="clip")
    try:
        if workers == 1 or len(todo) <= 1:
            for i in todo:
                names[i] = make_clip(out, i, seconds, seed, **kw).name
                if bar:
                    bar.update(1)
        else:

            with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as ex:
                jobs = [(str(out), i, seconds, seed, kw) for i in todo]
                for i, info in zip(todo, ex.map(_clip_job, jobs)):
                    names[i] = info.name
                    if bar:
                        bar.update(1)
    finally:
        if bar:
            bar.close()
    ordered = [names[i] for i in range(clips)]
    _write_index(out, ordered, seconds, seed, kw)
    return ordered


def _write_index(out: Path, names: list[str], seconds: float, seed: int, kw: dict) -> None:
    """Split lists, the (empty) ignore list and synth.json describing how the set was made."""
    by_split: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for i, name in enumerate(names):
        by_split[split_of(i)].append(name)
    (out / "splits").mkdir(exist_ok=True)
    for split, items in by_split.items():
        with atomic_output(out / "splits" / f"crossmodal_{split}.txt") as tmp:
            tmp.write_text("".join(f"{n}\n" for n in items))
    ignore = out / "ignore_list.txt"
    if not ignore.exists():
        ignore.write_text("")
    info = {"generator": "dance2music.data.synth", "synth_version": SYNTH_VERSION, "seed": int(seed),
            "clips": len(names), "seconds": float(seconds), "motion_fps": MOTION_FPS, "video_fps": VIDEO_FPS,
            "sample_rate": SAMPLE_RATE, **kw}  # fmt: skip
    with atomic_output(out / "synth.json") as tmp:
        tmp.write_text(json.dumps(info, indent=1))


__all__ = ["make_dataset", "make_clip", "split_of", "clip_name", "clip_rngs", "detector_keypoints",
           "project_keypoints"]  # fmt: skip
