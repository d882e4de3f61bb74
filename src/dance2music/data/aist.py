"""AIST++ in its released layout (and the synthetic set, which uses the same layout).

```
ROOT/
  motions/<seq>.pkl        smpl_poses [N,72], smpl_trans [N,3], smpl_scaling, 60 fps
  keypoints2d/<seq>.pkl    keypoints2d [V,N,17,3] pixels, det_scores [V,N], timestamps [N], 60 fps
  keypoints3d/<seq>.pkl    keypoints3d / keypoints3d_optim [N,17,3] (cm, y up), 60 fps
  splits/crossmodal_{train,val,test}.txt
  ignore_list.txt          (or splits/ignore_list.txt)
  music/<music_id>.wav     (or all_musics/)
  videos/<seq with cAll -> cNN>.mp4
  labels/<seq>.json        synthetic set only: genre, tempo, beats, downbeats, music_id, timing
```
``<seq>`` = ``<genre>_<situation>_cAll_<dancer>_<music_id>_<choreo>``: the genre is the first token, the music
id the fifth. The music starts with the dance (AIST++ pairs music frame 0 with motion frame 0).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..constants import GENRES, SAMPLE_RATE
from ..errors import ConfigError, InputError
from ..features import extract
from ..features import motion_formats as mf
from ..io.audio import load_audio
from .clips import AUDIO_EXTS, Sequence, SequenceSource, as_motion_fps, as_visual_fps, find_file, video_visual

SPLITS = ("train", "val", "test")
MOTION_SOURCES = ("auto", "keypoints2d", "keypoints3d", "video")
VIDEO_EXTS = (".mp4", ".mov", ".avi", ".mkv", ".webm")


def parse_seq_name(name: str) -> tuple[str, str | None]:
    """``gBR_sBM_cAll_d04_mBR0_ch01`` -> (``"gBR"``, ``"mBR0"``); the music id is None if the name is short."""
    tokens = name.split("_")
    return tokens[0], (tokens[4] if len(tokens) >= 5 else None)


def genre_index(code: str | None) -> int | None:
    """Index of an AIST++ genre code in `constants.GENRES`, or None for an unknown code."""
    return GENRES.index(code) if code in GENRES else None


def _read_list(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


class AISTDataset(SequenceSource):
    """AIST++ sequences (whole dances) from the released layout; see the module docstring.

    split: ``"train"``, ``"val"``, ``"test"`` (the ``crossmodal_*`` lists) or ``"all"`` (the three lists
        together, or every annotated sequence when there is no ``splits/`` folder).
    motion_source: ``"keypoints2d"`` (one camera view, `read_aist_keypoints2d`), ``"keypoints3d"`` (projected,
        `read_aist_keypoints3d`), ``"video"`` (the pose pipeline on the video, as inference sees it), or
        ``"auto"``: keypoints2d, else keypoints3d, else video. SMPL parameters alone cannot give joints (no
        SMPL body model here), so a sequence with only ``motions/<seq>.pkl`` cannot be read.
    view: camera view for keypoints2d (index, ``"c01"``, or None for the most reliable view).
    camera: projection for keypoints3d (``"orthographic"`` or ``"perspective"``).
    visual: ``"auto"`` (visual features when the sequence has a video), ``"video"`` (required) or ``"none"``.
    smpl219: also load the 219-d SMPL representation (`smpl_to_219`) into ``meta["smpl219"]`` (60 fps).
    """

    kind = "aist"

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "all",
        *,
        motion_source: str = "auto",
        view: int | str | None = None,
        camera: str = "orthographic",
        visual: str = "auto",
        smpl219: bool = False,
        sr: int = SAMPLE_RATE,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(f"no such dataset folder: {self.root}")
        if not any((self.root / d).is_dir() for d in ("keypoints2d", "keypoints3d", "motions")):
            raise InputError(f"{self.root} is not in the AIST++ layout (no keypoints2d/, keypoints3d/ or motions/)")
        if split not in (*SPLITS, "all"):
            raise ConfigError(f"split must be one of {', '.join(SPLITS)} or all, got {split!r}")
        if motion_source not in MOTION_SOURCES:
            raise ConfigError(f"motion source must be one of {', '.join(MOTION_SOURCES)}, got {motion_source!r}")
        if visual not in ("auto", "video", "none"):
            raise ConfigError(f"visual must be auto, video or none, got {visual!r}")
        if camera not in ("orthographic", "perspective"):
            raise ConfigError(f"camera must be orthographic or perspective, got {camera!r}")
        self.split, self.motion_source, self.view = split, motion_source, view
        self.camera, self.visual, self.smpl219, self.sr = camera, visual, smpl219, sr
        self._split_of = self._read_splits()
        self._names = self._list_names()

    # ---- listing
    def _read_splits(self) -> dict[str, str]:
        split_of: dict[str, str] = {}
        for s in SPLITS:
            p = self.root / "splits" / f"crossmodal_{s}.txt"
            if p.is_file():
                for name in _read_list(p):
                    split_of.setdefault(name, s)
        return split_of

    def _ignored(self) -> set[str]:
        for p in (self.root / "ignore_list.txt", self.root / "splits" / "ignore_list.txt"):
            if p.is_file():
                return set(_read_list(p))
        return set()

    def _list_names(self) -> list[str]:
        if self.split != "all":
            if not (self.root / "splits" / f"crossmodal_{self.split}.txt").is_file():
                raise InputError(f"{self.root} has no split list splits/crossmodal_{self.split}.txt")
            names = [n for n, s in self._split_of.items() if s == self.split]
        elif self._split_of:
            names = list(self._split_of)
        else:
            found = set()
            for d in ("keypoints2d", "keypoints3d", "motions"):
                if (self.root / d).is_dir():
                    found.update(p.stem for p in (self.root / d).glob("*.pkl"))
            names = sorted(found)
        ignored = self._ignored()
        return [n for n in names if n not in ignored]

    def names(self) -> list[str]:
        return list(self._names)

    def split_of(self, name: str) -> str | None:
        return self._split_of.get(name)

    def options(self) -> dict[str, Any]:
        return {
            "motion_source": self.motion_source,
            "view": self.view,
            "camera": self.camera,
            "visual": self.visual,
            "smpl219": self.smpl219,
        }

    # ---- files of one sequence
    def music_path(self, name: str) -> Path:
        _, music_id = parse_seq_name(name)
        if music_id is None:
            raise InputError(f"cannot tell the music id of {name!r} (expected <genre>_<sit>_cAll_<dancer>_<music>_...)")
        p = find_file([self.root / "music", self.root / "all_musics"], music_id, AUDIO_EXTS)
        if p is None:
            raise InputError(f"no music file for {name}: looked for music/{music_id}.wav in {self.root}")
        return p

    def video_path(self, name: str, view: int | None = None) -> Path | None:
        """The sequence's video: the camera of ``view`` if it exists, else the first camera found."""
        folder = self.root / "videos"
        if not folder.is_dir():
            return None
        if view is not None and "cAll" in name:
            p = find_file([folder], name.replace("cAll", f"c{view + 1:02d}"), VIDEO_EXTS)
            if p is not None:
                return p
        if "cAll" in name:
            head, tail = name.split("cAll", 1)
            cands = sorted(p for p in folder.glob(f"{head}c*{tail}.*") if p.suffix.lower() in VIDEO_EXTS)
            cands = [p for p in cands if p.stem[len(head) + 1 : len(p.stem) - len(tail)].isdigit()]
        else:
            cands = [p for p in (find_file([folder], name, VIDEO_EXTS),) if p is not None]
        return cands[0] if cands else None

    def labels(self, name: str) -> dict[str, Any]:
        p = self.root / "labels" / f"{name}.json"
        if not p.is_file():
            return {}
        try:
            data = json.loads(p.read_text())
        except (OSError, ValueError) as e:
            raise InputError(f"cannot read labels {p}: {e}") from None
        return data if isinstance(data, dict) else {}

    # ---- loading
    def _motion(self, name: str) -> tuple[Any, int | None]:
        """(Motion or None when it must come from the video, view index used)."""
        k2 = self.root / "keypoints2d" / f"{name}.pkl"
        k3 = self.root / "keypoints3d" / f"{name}.pkl"
        src = self.motion_source
        if src == "auto":
            src = "keypoints2d" if k2.is_file() else "keypoints3d" if k3.is_file() else "video"
        if src == "keypoints2d":
            m = mf.read_aist_keypoints2d(k2, self.view)
            return m, m.meta["view"]
        if src == "keypoints3d":
            return mf.read_aist_keypoints3d(k3, camera=self.camera), None
        if self.video_path(name) is None:
            extra = " (SMPL parameters alone cannot give joint positions)" if self.motion_source == "auto" else ""
            raise InputError(f"{name}: no keypoints2d/, keypoints3d/ or video to read the motion from{extra}")
        return None, None

    def load(self, name: str) -> Sequence:
        genre_code, music_id = parse_seq_name(name)
        labels = self.labels(name)
        audio = load_audio(self.music_path(name), self.sr)  # before the costly video work: fail fast
        motion, view = self._motion(name)
        video = self.video_path(name, view)
        if self.visual == "video" and video is None:
            raise InputError(f"{name}: no video in {self.root / 'videos'} (visual features need it)")
        visual = None
        if video is not None and motion is None:  # one pass gives the pose and the visual features
            feats = extract.extract_features(video)
            motion = feats.motion
            if self.visual != "none":
                visual = feats.visual
        elif video is not None and self.visual != "none":
            visual = video_visual(video)
        genre = genre_index(genre_code)
        if genre is None and isinstance(labels.get("genre"), str):
            genre = genre_index(labels["genre"])
        meta: dict[str, Any] = {"source": str(self.root), "music_id": music_id}
        if video is not None:
            meta["video"] = str(video)
        for key in ("beats", "downbeats", "dance_beats", "tempo", "timing"):
            if key in labels:
                meta[key] = labels[key]
        if self.smpl219:
            smpl = mf.read_aist_smpl(self.root / "motions" / f"{name}.pkl")
            meta["smpl219"] = smpl.features_219()
            meta["smpl219_fps"] = smpl.fps
        return Sequence(
            name=name,
            motion=as_motion_fps(motion),
            audio=audio,
            sr=self.sr,
            visual=as_visual_fps(visual),
            genre=genre,
            split=self.split_of(name),
            meta=meta,
        )
