"""Any folder of dance videos that carry their own music: the soundtrack is the target.

```
ROOT/
  **/<name>.{mp4,mov,avi,mkv,webm}   searched recursively; a parent folder named by a genre (gBR, or
                                     "Break" as in constants.GENRE_NAMES) labels the videos in it
  splits/{train,val,test}.txt        optional: one video per line (its path under ROOT, no extension)
```
Motion and visual features come from `features.extract.extract_features` (the pipeline inference uses),
the music from the video's own audio track. A video without an audio track cannot be a training pair and
raises `InputError` when loaded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..constants import GENRE_NAMES, GENRES, SAMPLE_RATE
from ..errors import ConfigError, InputError, VideoError
from ..features import extract
from ..io import video as video_io
from .aist import SPLITS, VIDEO_EXTS
from .clips import Sequence, SequenceSource, as_motion_fps, as_visual_fps

_GENRE_BY_NAME = {g.lower(): i for i, g in enumerate(GENRES)}
_GENRE_BY_NAME.update({GENRE_NAMES[g].lower(): i for i, g in enumerate(GENRES)})


def flat_name(rel: Path) -> str:
    """A video's name: its path under the root, without extension, folders joined by ``__``."""
    return "__".join(rel.with_suffix("").parts)


def genre_from_path(rel: Path) -> int | None:
    """Genre index from the nearest parent folder named by a genre code or name (case-insensitive)."""
    for part in reversed(rel.parts[:-1]):
        g = _GENRE_BY_NAME.get(part.lower())
        if g is not None:
            return g
    return None


class VideoFolder(SequenceSource):
    """Dance videos with their own music (see the module docstring).

    split: ``"train"``, ``"val"``, ``"test"`` (needs ``splits/<split>.txt``) or ``"all"``. Videos not listed
    in any split file get split None.
    """

    kind = "videos"

    def __init__(self, root: str | os.PathLike, split: str = "all", *, sr: int = SAMPLE_RATE) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(f"no such folder of videos: {self.root}")
        if split not in (*SPLITS, "all"):
            raise ConfigError(f"split must be one of {', '.join(SPLITS)} or all, got {split!r}")
        self.split, self.sr = split, sr
        files = sorted(
            p
            for p in self.root.rglob("*")
            if p.is_file() and p.suffix.lower() in VIDEO_EXTS and not p.name.startswith(".")
        )
        # names are flat (sub/dir/clip -> sub__dir__clip): clip and cache file names have no folders
        self._paths: dict[str, Path] = {}
        for p in files:
            name = flat_name(p.relative_to(self.root))
            if name in self._paths:
                raise InputError(f"two videos named {name} in {self.root} ({self._paths[name].name}, {p.name})")
            self._paths[name] = p
        if not self._paths:
            raise InputError(f"no video files ({', '.join(VIDEO_EXTS)}) in {self.root}")
        self._split_of: dict[str, str] = {}
        for s in SPLITS:
            sp = self.root / "splits" / f"{s}.txt"
            if sp.is_file():
                for ln in sp.read_text().splitlines():
                    if ln.strip():
                        self._split_of.setdefault(flat_name(Path(ln.strip())), s)
        if split != "all" and not (self.root / "splits" / f"{split}.txt").is_file():
            raise InputError(f"{self.root} has no split list splits/{split}.txt")
        self._names = [n for n in self._paths if split == "all" or self._split_of.get(n) == split]

    def names(self) -> list[str]:
        return list(self._names)

    def path(self, name: str) -> Path:
        return self._paths[name]

    def load(self, name: str) -> Sequence:
        if name not in self._paths:
            raise InputError(f"no video {name!r} in {self.root}")
        path = self._paths[name]
        # the soundtrack first: a silent video fails before the costly feature extraction
        try:
            audio = video_io.read_audio(path, self.sr)  # looked up at call time (tests stand it in)
        except VideoError as e:
            raise InputError(f"{e} (a video's own music is its training target)") from None
        feats = extract.extract_features(path)
        meta: dict[str, Any] = {"source": str(self.root), "video": str(path), "video_fps": feats.fps}
        return Sequence(
            name=name,
            motion=as_motion_fps(feats.motion),
            audio=audio,
            sr=self.sr,
            visual=as_visual_fps(feats.visual),
            genre=genre_from_path(path.relative_to(self.root)),
            split=self._split_of.get(name),
            meta=meta,
        )
