"""What the web page does for one request, without any web framework: check the upload, call the library, tidy up.

The page (`web.app`) is a thin Gradio layer over `MusicService`; everything here is plain Python, so the limits
and the clean-up can be tested without a browser. A request goes:

1. `MusicService.check_upload`: the file must lie inside the server's upload folder (Gradio writes uploads
   there under names it chooses; nothing the client sends picks a server path), be at most ``max_upload_bytes``,
   decode as a video (PyAV probe of its content, whatever its name says) and last at most ``max_seconds``;
2. `MusicService.run`: `Dance2Music.generate_video` writes the video with its music and the music as a wav into a
   fresh job folder (the music loudness-normalized to -16 LUFS, true peak at most -1 dBTP, as everywhere), and
   `web.plot.beat_alignment_plot` draws the dance's movement beats against the music's onsets;
3. `MusicService.discard`: the job folder is removed once the page has taken its copies of the files.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..api import NO_GENRE, Dance2Music, parse_genre
from ..errors import ConfigError, InputError

#: Called with (fraction done in [0, 1], what is happening) as a request moves on.
ProgressFn = Callable[[float, str], None]

#: Levels in the order the page lists them.
LEVELS: tuple[str, ...] = ("top", "lower")


@dataclass(frozen=True)
class Limits:
    """What one request may ask of the server.

    max_upload_bytes: largest accepted upload (the page refuses larger ones before sending them, too).
    max_seconds: longest accepted video; generation time and memory grow with it.
    """

    max_upload_bytes: int = 200 * 1024 * 1024
    max_seconds: float = 120.0

    def __post_init__(self) -> None:
        if self.max_upload_bytes <= 0:
            raise ConfigError("the upload size limit must be positive")
        if not self.max_seconds > 0:
            raise ConfigError("the video duration limit must be positive")


@dataclass
class JobResult:
    """The files and numbers one request produced (all files inside ``folder``).

    video: the input video with the new music as its soundtrack (mp4).
    music: the music alone (16-bit wav).
    plot: the beat-alignment figure (png).
    summary: one short Markdown paragraph for the page.
    meta: the generation's `GenerationResult.meta` plus timings and beat counts.
    """

    folder: Path
    video: Path
    music: Path
    plot: Path
    summary: str
    meta: dict[str, Any] = field(default_factory=dict)


def safe_stem(name: str, fallback: str = "dance", max_len: int = 40) -> str:
    """A download-friendly file stem made from a client's file name: ASCII letters, digits, ``-`` and ``_`` only.

    Only ever used as the last part of a name inside a fresh job folder, so it can never reach another folder.
    """
    stem = Path(name).stem if name else ""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_-")[:max_len]
    return stem or fallback


class MusicService:
    """Makes music for uploaded videos with one loaded model per VQ level.

    models: {level: model}, level in `LEVELS`; at least one.
    upload_root: the only folder uploads may come from (the web framework's upload folder).
    work_root: where job folders are made (created if missing).
    """

    def __init__(
        self,
        models: Mapping[str, Dance2Music],
        *,
        upload_root: str | os.PathLike,
        work_root: str | os.PathLike,
        limits: Limits | None = None,
    ):
        if not models:
            raise ConfigError("the web page needs at least one model")
        unknown = set(models) - set(LEVELS)
        if unknown:
            raise ConfigError(f"unknown level(s) {sorted(unknown)}; levels are {', '.join(LEVELS)}")
        self.models = {lvl: models[lvl] for lvl in LEVELS if lvl in models}
        self.upload_root = Path(upload_root).resolve()
        self.work_root = Path(work_root).resolve()
        self.work_root.mkdir(parents=True, exist_ok=True)
        self.limits = limits or Limits()

    @property
    def levels(self) -> tuple[str, ...]:
        return tuple(self.models)

    # ---- step 1 ---------------------------------------------------------------------------------------
    def check_upload(self, path: str | os.PathLike | None):
        """Refuse anything but a readable, short enough video from the upload folder; returns its `VideoInfo`.

        Raises `InputError` (no file, outside the upload folder, too large, too long) or `VideoError` (the
        content is not a decodable video, whatever the extension says).
        """
        from ..io.video import probe

        if path is None or str(path) == "":
            raise InputError("no video was given: upload a dance video or pick the demo")
        p = Path(path).resolve()
        if not p.is_relative_to(self.upload_root):
            raise InputError("this file was not uploaded to the page; upload it again")
        if not p.is_file():
            raise InputError("the uploaded file is gone (it expired); upload it again")
        size = p.stat().st_size
        if size > self.limits.max_upload_bytes:
            raise InputError(
                f"the file is {_mb(size)}; this page accepts videos up to {_mb(self.limits.max_upload_bytes)}"
            )
        info = probe(p)  # reads the content: a text file named .mp4 fails here with a VideoError
        if (
            info.container in _PICTURE_DEMUXERS
            or info.container.endswith("_pipe")
            or (info.num_frames == 1 and info.codec in _PICTURE_CODECS)
        ):
            raise InputError(f"{p.name} is a picture, not a video: upload a video of someone dancing")
        if info.duration > self.limits.max_seconds + 1e-6:
            raise InputError(
                f"the video lasts {info.duration:.1f} s; this page accepts videos up to "
                f"{self.limits.max_seconds:g} s (use `d2m generate` for longer ones)"
            )
        return info

    def upload_status(self, path: str | os.PathLike | None) -> UploadStatus:
        """What the page says as soon as a file arrives, before any work: `check_upload` as one line of text.

        Never raises for the user's file: a non-video (text, picture, a text file named .mp4) gives ``ok`` False
        and the reason, the same words `run` would fail with.
        """
        from ..errors import D2MError

        if path is None or str(path) == "":
            return UploadStatus(False, "", None)
        try:
            info = self.check_upload(path)
        except D2MError as e:
            return UploadStatus(False, str(e), None)
        size = f"{info.width}x{info.height}, {info.fps:.3g} fps"
        text = f"{Path(str(path)).name}: {info.duration:.1f} s of video ({size}). Ready: press Make music."
        if not browser_can_play(info):
            text += (
                f" (No preview: browsers do not play {info.codec} in {_container_name(info)}; the result is an mp4.)"
            )
        return UploadStatus(True, text, info)

    # ---- step 2 ---------------------------------------------------------------------------------------
    def run(
        self,
        path: str | os.PathLike | None,
        *,
        level: str | None = None,
        genre: str | int | None = None,
        seed: int = 0,
        progress: ProgressFn | None = None,
        name: str | None = None,
    ) -> JobResult:
        """Check ``path`` and make music for it; returns the files in a new job folder (``discard`` it after use).

        level: a key of ``models`` (None: the first one). genre: AIST++ code/name/index or None (the model
        chooses). name: the client's file name, used only for the download names.
        A failure removes the job folder before the error propagates.
        """
        say = progress or (lambda fraction, text: None)
        level = level or self.levels[0]
        if level not in self.models:
            raise ConfigError(f"level {level!r} is not served here; choose one of: {', '.join(self.levels)}")
        genre_idx = parse_genre(genre)
        seed = int(seed)
        if not 0 <= seed < 2**31:
            raise ConfigError("the seed must be between 0 and 2147483647")

        say(0.0, "checking the video")
        t_start = time.perf_counter()  # what the user waits for: the check, the music and the plot
        info = self.check_upload(path)
        folder = Path(tempfile.mkdtemp(prefix="job-", dir=self.work_root))
        try:
            stem = safe_stem(name or Path(str(path)).name)
            video, music, plot = folder / f"{stem}_music.mp4", folder / f"{stem}_music.wav", folder / "beats.png"
            say(0.05, f"finding the dancer and making music ({info.duration:.1f} s of video)")
            t0 = time.perf_counter()
            result = self.models[level].generate_video(
                info.path,
                video,
                wav_path=music,
                genre="none" if genre_idx == NO_GENRE else genre_idx,  # generate reads "none", not its index
                seed=seed,
                progress=progress is not None,
            )
            took = time.perf_counter() - t0
            say(0.9, "drawing the beat alignment")
            from .plot import beat_alignment_plot

            beats = beat_alignment_plot(result, plot)
            total = time.perf_counter() - t_start
            meta = {**result.meta, "seconds_taken": total, "seconds_music": took, **beats.as_dict()}
            summary = _summary(result, total, beats)
            say(1.0, "done")
            return JobResult(folder, video, music, plot, summary, meta)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    # ---- step 3 ---------------------------------------------------------------------------------------
    def discard(self, job: JobResult | None) -> None:
        """Remove a job's folder (idempotent); only folders made by `run` under ``work_root`` are touched."""
        if job is None:
            return
        folder = Path(job.folder).resolve()
        if folder.parent == self.work_root:
            shutil.rmtree(folder, ignore_errors=True)

    def pending_jobs(self) -> list[Path]:
        """Job folders not yet discarded (for tests and the shutdown clean-up)."""
        return sorted(p for p in self.work_root.glob("job-*") if p.is_dir())


@dataclass(frozen=True)
class UploadStatus:
    """The page's answer to an upload. ok: it can be used; message: one line of plain text (empty: no file)."""

    ok: bool
    message: str
    info: Any = None  # the `VideoInfo` when ok


#: Demuxers and codecs of still pictures, which PyAV opens as one-frame "videos".
_PICTURE_DEMUXERS = frozenset({"image2", "ico"})  # and every "*_pipe"; gif/apng only with one frame
_PICTURE_CODECS = frozenset({"png", "mjpeg", "gif", "webp", "bmp", "tiff", "apng", "jpegxl", "qoi", "ppm"})


def browser_can_play(info) -> bool:
    """Whether a browser's <video> plays this file as it is (H.264/VP9/AV1 in MP4 or MOV, VP8/VP9/AV1 in WebM).

    The page previews only such uploads: for others (AVI, MPEG-4 Part 2, HEVC ...) the browser would fail with
    a "not playable" message although the server reads them fine.
    """
    container, codec = info.container, info.codec
    if container.startswith("mov,mp4"):
        return codec in {"h264", "vp9", "av1"}
    if container.startswith("matroska"):
        return codec in {"vp8", "vp9", "av1"} and Path(str(info.path)).suffix.lower() == ".webm"
    return False


def _container_name(info) -> str:
    suffix = Path(str(info.path)).suffix.lower().lstrip(".")
    return f"a .{suffix} file" if suffix else f"this {info.container.split(',')[0]} file"


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def _summary(result, took: float, beats) -> str:
    from ..constants import GENRE_NAMES

    genre = result.meta.get("genre")
    genre_txt = f"{GENRE_NAMES[genre]} ({genre})" if genre else "none"
    if genre and result.meta.get("genre_source") == "dance":
        genre_txt += ", read off the dance"
    lines = [
        f"**{result.duration:.1f} s of music** made in {took:.1f} s: {result.meta.get('level')} level, "
        f"genre {genre_txt}, seed {result.meta.get('seed')}.",
        beats.sentence(),
    ]
    if result.meta.get("prior_note"):
        note = str(result.meta["prior_note"])
        lines.append(note[:1].upper() + note[1:] + ".")
    loud = result.meta.get("loudness")
    if loud and loud.get("output_lufs") is not None:
        lines.append(f"Loudness {loud['output_lufs']:.1f} LUFS, true peak {loud['true_peak_dbtp']:.1f} dBTP.")
    feats = result.features
    if feats is not None:
        rate = feats.meta.get("detection_rate")
        if rate is not None:
            lines.append(f"Dancer found in {100 * rate:.0f}% of the frames.")
        if feats.meta.get("people_note"):
            lines.append(str(feats.meta["people_note"]))
    return " ".join(lines)
