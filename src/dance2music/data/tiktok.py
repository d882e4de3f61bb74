"""The TikTok dance-music set: the official code's segment layout, and a raw layout of whole videos.

Segment layout (L-YeZhu/D2M-GAN ``dataset/``; paths in the lists are relative to the lists' folder):
```
ROOT/
  tiktok_{audio,motion,video}_{train,test}_segment.txt   lines like ./tiktok/motion_s2/<id>_<a>_<b>_seg<k>.npy
  tiktok/audio_s2/<id>_<a>_<b>_seg<k>.wav    2 s of music (22.05 kHz)
  tiktok/motion_s2/<id>_<a>_<b>_seg<k>.npy   (60, 75): 30 fps x 2 s x OpenPose BODY_25 (x, y, confidence)
  tiktok/video_s2/<id>_<a>_<b>_seg<k>.npy    one visual vector per segment (I3D, e.g. (1, 2048))
```
The segments of one ``<id>_<a>_<b>`` follow each other (``seg1`` is seconds 0-2, ``seg2`` 2-4 ...), so they are
joined back into the whole dance; a gap in the numbering starts a new sequence (``<id>_<a>_<b>_from<k>``).
Without list files every ``motion_s2/*.npy`` is read (split unknown).

Raw layout (what the official features were made from; one folder per video id):
```
ROOT/
  openpose/<vid>/*_keypoints.json   OpenPose BODY_25, one file per video frame
  music/<vid>.wav                   the music of the video, starting with it
  videos/<vid>.mp4                  optional: gives the frame rate and the visual features
  splits/{train,val,test}.txt       optional: one <vid> per line
```
The TikTok set has no genre labels.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..arrays import fit_length
from ..constants import SAMPLE_RATE, VISUAL_FPS
from ..errors import ConfigError, InputError
from ..features import motion_formats as mf
from ..io.audio import load_audio
from ..io.video import probe
from ..types import Visual
from .aist import SPLITS, VIDEO_EXTS
from .clips import AUDIO_EXTS, Sequence, SequenceSource, as_motion_fps, as_visual_fps, find_file, video_visual

#: Frame rate of the official TikTok motion arrays.
TIKTOK_FPS = 30.0
_SEG = re.compile(r"^(?P<seq>.+)_seg(?P<k>\d+)$")


def _read_list(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]


class TikTokSegments(SequenceSource):
    """The official code's TikTok segments, joined back into whole sequences (see the module docstring).

    split: ``"train"``, ``"test"`` (from ``tiktok_motion_{split}_segment.txt``) or ``"all"``.
    visual: ``"auto"`` (the ``video_s2`` vectors when present), ``"none"``.
    """

    kind = "tiktok"

    def __init__(
        self, root: str | os.PathLike, split: str = "all", *, visual: str = "auto", sr: int = SAMPLE_RATE
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(f"no such dataset folder: {self.root}")
        if split not in ("train", "test", "all"):
            raise ConfigError(f"TikTok split must be train, test or all, got {split!r}")
        if visual not in ("auto", "none"):
            raise ConfigError(f"visual must be auto or none, got {visual!r}")
        self.split, self.visual, self.sr = split, visual, sr
        self.data_dir = self._find_data_dir()
        self._runs, self._split_of = self._index()

    def _find_data_dir(self) -> Path:
        for d in (self.root / "tiktok", self.root):
            if (d / "motion_s2").is_dir():
                return d
        raise InputError(f"{self.root} is not in the TikTok layout (no tiktok/motion_s2/ folder)")

    def _index(self) -> tuple[dict[str, list[str]], dict[str, str]]:
        """(sequence name -> its segment names in order, segment name -> split)."""
        seg_split: dict[str, str] = {}
        lists = [(s, self.root / f"tiktok_motion_{s}_segment.txt") for s in ("train", "test")]
        if any(p.is_file() for _, p in lists):
            for s, p in lists:
                if p.is_file():
                    for line in _read_list(p):
                        seg_split.setdefault(Path(line).stem, s)
            if self.split != "all" and not dict(lists)[self.split].is_file():
                raise InputError(f"{self.root} has no list tiktok_motion_{self.split}_segment.txt")
            segs = [n for n, s in seg_split.items() if self.split in ("all", s)]
        else:
            if self.split != "all":
                raise InputError(f"{self.root} has no segment lists, so only --split all can be read")
            segs = [p.stem for p in (self.data_dir / "motion_s2").glob("*.npy")]
        by_seq: dict[str, list[int]] = {}
        for seg in segs:
            m = _SEG.match(seg)
            if m is None:
                raise InputError(f"TikTok segment name {seg!r} does not end in _seg<k>")
            by_seq.setdefault(m["seq"], []).append(int(m["k"]))
        runs: dict[str, list[str]] = {}
        split_of: dict[str, str] = {}
        for seq in sorted(by_seq):
            ks = sorted(set(by_seq[seq]))
            groups = [[ks[0]]]
            for k in ks[1:]:
                if k == groups[-1][-1] + 1:
                    groups[-1].append(k)
                else:
                    groups.append([k])
            for g in groups:
                name = seq if len(groups) == 1 else f"{seq}_from{g[0]}"
                runs[name] = [f"{seq}_seg{k}" for k in g]
                if f"{seq}_seg{g[0]}" in seg_split:
                    split_of[name] = seg_split[f"{seq}_seg{g[0]}"]
        return runs, split_of

    def names(self) -> list[str]:
        return list(self._runs)

    def options(self) -> dict[str, Any]:
        return {"layout": "segments", "visual": self.visual}

    def load(self, name: str) -> Sequence:
        if name not in self._runs:
            raise InputError(f"no TikTok sequence {name!r} in {self.root}")
        motions, audios, visuals = [], [], []
        for seg in self._runs[name]:
            mpath = self.data_dir / "motion_s2" / f"{seg}.npy"
            if not mpath.is_file():
                raise InputError(f"missing motion segment {mpath}")
            try:
                arr = np.load(mpath).astype(np.float64).reshape(-1, 75)
            except ValueError as e:
                raise InputError(f"{mpath}: not a BODY_25 motion array ({e})") from None
            n_frames = arr.shape[0]
            seconds = n_frames / TIKTOK_FPS
            motions.append(arr)
            apath = find_file([self.data_dir / "audio_s2"], seg, AUDIO_EXTS)
            if apath is None:
                raise InputError(f"missing audio segment {self.data_dir / 'audio_s2' / seg}.wav")
            audio = load_audio(apath, self.sr)
            n = int(round(seconds * self.sr))
            # the official loader pads a short segment with zeros (d2m/dataset.py); keep the timeline exact
            audios.append(fit_length(audio, n))
            vpath = self.data_dir / "video_s2" / f"{seg}.npy"
            if self.visual == "auto" and vpath.is_file():
                vec = np.asarray(np.load(vpath), dtype=np.float32).reshape(-1)
                # one vector describes the whole segment: hold it over the segment's frames
                visuals.append(np.repeat(vec[None], int(round(seconds * VISUAL_FPS)), axis=0))
            else:
                visuals.append(None)
        motion = mf.read_body25_array(np.concatenate(motions), TIKTOK_FPS, source=str(self.data_dir / "motion_s2"))
        visual = None
        if visuals and all(v is not None for v in visuals):
            if len({v.shape[1] for v in visuals}) != 1:
                raise InputError(f"{name}: video_s2 vectors of different sizes")
            visual = Visual(np.concatenate(visuals), VISUAL_FPS, kind="segment-vector")
        return Sequence(
            name=name,
            motion=as_motion_fps(motion),
            audio=np.concatenate(audios).astype(np.float32),
            sr=self.sr,
            visual=visual,
            genre=None,
            split=self._split_of.get(name),
            meta={"source": str(self.root), "segments": self._runs[name]},
        )


class TikTokRaw(SequenceSource):
    """Whole TikTok videos in the raw layout (see the module docstring).

    fps: frame rate of the OpenPose frames when the video is absent (with the video, its own rate is used).
    visual: ``"auto"`` (features from the video when present), ``"video"`` (required), ``"none"``.
    """

    kind = "tiktok"

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "all",
        *,
        fps: float = TIKTOK_FPS,
        visual: str = "auto",
        sr: int = SAMPLE_RATE,
    ) -> None:
        self.root = Path(root)
        if not (self.root / "openpose").is_dir():
            raise InputError(f"{self.root} is not in the raw TikTok layout (no openpose/ folder)")
        if split not in (*SPLITS, "all"):
            raise ConfigError(f"split must be one of {', '.join(SPLITS)} or all, got {split!r}")
        if visual not in ("auto", "video", "none"):
            raise ConfigError(f"visual must be auto, video or none, got {visual!r}")
        self.split, self.fps, self.visual, self.sr = split, float(fps), visual, sr
        self._split_of: dict[str, str] = {}
        for s in SPLITS:
            p = self.root / "splits" / f"{s}.txt"
            if p.is_file():
                for vid in _read_list(p):
                    self._split_of.setdefault(vid, s)
        vids = sorted(d.name for d in (self.root / "openpose").iterdir() if d.is_dir())
        if split != "all":
            if not (self.root / "splits" / f"{split}.txt").is_file():
                raise InputError(f"{self.root} has no split list splits/{split}.txt")
            vids = [v for v in vids if self._split_of.get(v) == split]
        self._names = vids

    def names(self) -> list[str]:
        return list(self._names)

    def options(self) -> dict[str, Any]:
        return {"layout": "raw", "fps": self.fps, "visual": self.visual}

    def load(self, name: str) -> Sequence:
        video = find_file([self.root / "videos"], name, VIDEO_EXTS)
        if self.visual == "video" and video is None:
            raise InputError(f"{name}: no video in {self.root / 'videos'} (visual features need it)")
        fps, visual = self.fps, None
        if video is not None:
            fps = probe(video).fps
            if self.visual != "none":
                visual = video_visual(video)
        motion = mf.read_openpose_folder(self.root / "openpose" / name, fps)
        music = find_file([self.root / "music"], name, AUDIO_EXTS)
        if music is None:
            raise InputError(f"no music for {name}: looked for music/{name}.wav in {self.root}")
        meta: dict[str, Any] = {"source": str(self.root)}
        if video is not None:
            meta["video"] = str(video)
        return Sequence(
            name=name,
            motion=as_motion_fps(motion),
            audio=load_audio(music, self.sr),
            sr=self.sr,
            visual=as_visual_fps(visual),
            genre=None,
            split=self._split_of.get(name),
            meta=meta,
        )


def open_tiktok(root: str | os.PathLike, split: str = "all", **kwargs: Any) -> SequenceSource:
    """`TikTokRaw` when ``root`` has an ``openpose/`` folder, else `TikTokSegments`.

    Keyword arguments that the chosen layout does not take (``fps`` for segments) raise `ConfigError`.
    """
    if (Path(root) / "openpose").is_dir():
        return TikTokRaw(root, split, **kwargs)
    if "fps" in kwargs:
        fps = kwargs.pop("fps")
        if fps is not None and float(fps) != TIKTOK_FPS:
            raise ConfigError("--fps applies to the raw TikTok layout only (segments are 30 fps)")
    return TikTokSegments(root, split, **kwargs)
