"""Video in and out with PyAV: streaming decode, probing, soundtrack reading, writing and audio muxing.

Time convention: every time this module returns is in seconds from the *container's* start, the same origin
the soundtrack uses, so that frame ``t`` and audio sample ``t * sr`` happen together even when a file starts
its video a few tens of milliseconds after its audio (many phone and web files do).

Frames are never held all at once: `iter_frames` yields one RGB frame at a time and the writers consume
iterators. Every decoding problem the user can cause becomes a one-line `VideoError` (or `InputError` for a
missing path).
"""

from __future__ import annotations

import math
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

import av
import numpy as np

from ..arrays import fit_length
from ..constants import SAMPLE_RATE
from ..errors import InputError, VideoError
from ..system import usable_cpus
from .files import atomic_output
from .resample import resample

#: Video codecs that an mp4 container can take as they are, so `mux_audio` copies their packets.
MP4_COPY_CODECS = frozenset({"h264", "hevc", "mpeg4", "av1"})


@dataclass(frozen=True)
class OutputFormat:
    """A container `mux_audio` writes: FFmpeg's muxer, the video codecs it copies as they are (others are
    re-encoded with ``video_encoder``), and the audio encoder with the sample rate it needs (None: any)."""

    muxer: str
    copy_codecs: frozenset[str]
    video_encoder: str
    audio_encoder: str
    audio_rate: int | None = None


#: Video containers by file extension. WebM takes only VP8/VP9/AV1 video and Opus/Vorbis audio: other video is
#: re-encoded to VP9 and the music to Opus at 48 kHz (Opus' own rate).
VIDEO_FORMATS: dict[str, OutputFormat] = {
    ".mp4": OutputFormat("mp4", MP4_COPY_CODECS, "libx264", "aac"),
    ".m4v": OutputFormat("mp4", MP4_COPY_CODECS, "libx264", "aac"),
    ".mov": OutputFormat("mov", MP4_COPY_CODECS | {"prores", "mjpeg"}, "libx264", "aac"),
    ".mkv": OutputFormat(
        "matroska", frozenset({"h264", "hevc", "mpeg4", "av1", "vp8", "vp9", "mjpeg", "prores"}), "libx264", "aac"
    ),
    ".webm": OutputFormat("webm", frozenset({"vp8", "vp9", "av1"}), "libvpx-vp9", "libopus", 48000),
}
#: Outputs that take the music alone (`io.audio.save_audio`).
AUDIO_EXTENSIONS = (".wav", ".flac")


def output_kind(path: str | os.PathLike) -> str:
    """What an output path takes by its extension: "video" (the video with its music) or "audio" (the music
    alone); `InputError` for an extension that no writer here takes."""
    ext = Path(path).suffix.lower()
    if ext in VIDEO_FORMATS:
        return "video"
    if ext in AUDIO_EXTENSIONS:
        return "audio"
    videos = ", ".join(e.lstrip(".") for e in VIDEO_FORMATS)
    audios = ", ".join(e.lstrip(".") for e in AUDIO_EXTENSIONS)
    what = f"a {ext} file" if ext else "a file without an extension"
    raise InputError(
        f"output {Path(path).name}: dance2music cannot write {what}; end it in {videos} (the video with its "
        f"music) or {audios} (the music alone)"
    )


def _output_format(path: Path) -> OutputFormat:
    output_kind(path)  # one line for an extension nobody writes
    fmt = VIDEO_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"{path.name} is an audio file name; a video with music needs a video extension")
    if fmt.muxer == "mp4":  # read at call time (tests force the re-encoding path by emptying it)
        fmt = OutputFormat(fmt.muxer, MP4_COPY_CODECS, fmt.video_encoder, fmt.audio_encoder, fmt.audio_rate)
    return fmt


#: A file is called variable-frame-rate when more than this share of its frame intervals differs from the
#: median interval by more than `_VFR_TOLERANCE` (a single dropped frame does not make a file VFR).
_VFR_SHARE = 0.02
_VFR_TOLERANCE = 0.1


@dataclass(frozen=True)
class VideoInfo:
    """What `probe` learns about a video file.

    duration: seconds from the container start to the end of the last frame.
    fps: average frame rate (frames per second over the whole stream for a scanned file).
    num_frames: number of video frames (exact when scanned; from the header otherwise; None if unknown).
    width, height: size of the frames *as displayed*, i.e. after `rotation` is applied.
    rotation: degrees counter-clockwise (0, 90, 180 or 270) that decoded frames are turned to be upright,
        from the stream's display matrix (or the legacy ``rotate`` tag).
    has_audio: whether the file carries an audio stream; audio_sr its sample rate (None without audio).
    codec: the video codec's name (``h264``, ``hevc``, ``vp9`` ...); container: the demuxer's name.
    vfr: True when the frame intervals vary (variable frame rate; only detected when scanned).
    start: time of the first video frame relative to the container start, in seconds.
    """

    path: Path
    duration: float
    fps: float
    num_frames: int | None
    width: int
    height: int
    rotation: int
    has_audio: bool
    audio_sr: int | None
    codec: str
    container: str
    vfr: bool
    start: float


# ---------------------------------------------------------------------------------------------- opening


def _one_line(e: BaseException) -> str:
    """A short reason from an FFmpeg error (its strerror without the file path it repeats)."""
    msg = getattr(e, "strerror", None) or str(e) or type(e).__name__
    return " ".join(str(msg).split())


def _check_path(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise InputError(f"no such file: {p}")
    if p.is_dir():
        raise InputError(f"expected a video file, got a directory: {p}")
    if not os.access(p, os.R_OK):
        raise InputError(f"cannot read {p}: permission denied")
    if p.stat().st_size == 0:
        raise VideoError(f"{p.name} is empty (0 bytes)")
    return p


def open_video(path: str | os.PathLike, need_video: bool = True) -> av.container.InputContainer:
    """Open ``path`` for reading; raises `VideoError` when it is not a media file (or has no video)."""
    p = _check_path(path)
    try:
        container = av.open(str(p), mode="r")
    except av.FFmpegError as e:
        what = "a video" if need_video else "media"
        raise VideoError(f"cannot read {p.name} as {what} ({_one_line(e)}): not a media file, or a damaged one") from e
    if need_video and video_stream(container) is None:
        audio_only = bool(container.streams.audio)
        container.close()
        if audio_only:
            raise VideoError(f"{p.name} has no video stream (an audio-only file)")
        raise VideoError(f"{p.name} has no video stream (an empty or zero-frame file)")
    return container


def video_stream(container: av.container.InputContainer) -> av.VideoStream | None:
    """The first real video stream: cover art in music files (an "attached picture") does not count."""
    for st in container.streams.video:
        if not st.disposition & av.stream.Disposition.attached_pic:
            return st
    return None


def container_start(container: av.container.InputContainer) -> float:
    """The container's start time in seconds (the origin of every time this module returns)."""
    if container.start_time is not None:
        return container.start_time / av.time_base
    starts = [
        float(s.start_time * s.time_base)
        for s in container.streams
        if s.start_time is not None and s.time_base is not None
    ]
    return min(starts) if starts else 0.0


def _normalize_rotation(degrees: float) -> int:
    """Snap an angle to 0/90/180/270 (display matrices hold quarter turns in practice)."""
    return int(round(float(degrees) / 90.0)) % 4 * 90


def _legacy_rotation(stream: av.VideoStream) -> int:
    """The old ``rotate`` metadata tag (degrees clockwise) as a counter-clockwise rotation."""
    tag = stream.metadata.get("rotate")
    try:
        return _normalize_rotation(-float(tag)) if tag is not None else 0
    except ValueError:
        return 0


def frame_rotation(frame: av.VideoFrame, stream: av.VideoStream) -> int:
    """Degrees counter-clockwise (0, 90, 180, 270) that turn ``frame`` of ``stream`` upright."""
    rot = frame.rotation  # PyAV reads the display matrix; counter-clockwise degrees
    return _normalize_rotation(rot) if rot else _legacy_rotation(stream)


def apply_rotation(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """``rgb`` (uint8[H, W, 3]) turned ``rotation`` degrees counter-clockwise (a `frame_rotation` value)."""
    if rotation == 0:
        return rgb
    # np.rot90 with k=1 turns an image (row 0 at the top) a quarter turn counter-clockwise as displayed.
    return np.ascontiguousarray(np.rot90(rgb, k=rotation // 90))


def scaled_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """(width, height) scaled down so that the longer side is at most ``max_side`` (None: unchanged)."""
    if not max_side or max(width, height) <= max_side:
        return width, height
    s = max_side / max(width, height)
    return max(2, int(round(width * s))), max(2, int(round(height * s)))


def frame_to_rgb(frame: av.VideoFrame, size: tuple[int, int], rotation: int) -> np.ndarray:
    """A decoded frame as uint8[H, W, 3] RGB at ``size`` (width, height; area interpolation when it differs
    from the frame's), then turned ``rotation`` degrees (`apply_rotation`)."""
    w, h = size
    # One swscale thread: its automatic threading doubles the CPU time of an area scale on 2 cores for no
    # wall-time gain (same pixels either way).
    if (w, h) == (frame.width, frame.height):
        rgb = frame.to_ndarray(format="rgb24", threads=1)
    else:
        rgb = frame.to_ndarray(format="rgb24", width=w, height=h, interpolation="AREA", threads=1)
    return apply_rotation(rgb, rotation)


# ---------------------------------------------------------------------------------------------- probing


def probe(path: str | os.PathLike, scan: bool = True) -> VideoInfo:
    """Read a video's properties, decoding only its first frame.

    With ``scan`` (default) the video packets are also demuxed (no decoding, fast) to count frames exactly,
    measure the average frame rate and detect a variable frame rate. Raises `InputError` for a missing path
    and `VideoError` for a file that is not a decodable video (text, truncated, audio only, zero frames).
    """
    p = _check_path(path)
    container = open_video(p)
    try:
        vs = video_stream(container)
        origin = container_start(container)
        first = _first_frame(container, vs, p)
        rotation = frame_rotation(first, vs)
        coded_w, coded_h = first.width, first.height
        codec = vs.codec_context.name
        audio = container.streams.audio[0] if container.streams.audio else None
        header_frames = int(vs.frames) if vs.frames else None
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate
        fps = float(rate) if rate else 0.0
        start = float(first.time) - origin if first.time is not None else 0.0
        duration, vfr, num_frames = None, False, header_frames
        if scan:
            scanned = _scan_packets(p)
            if scanned is not None:
                times, last_dur = scanned.times, scanned.last_duration
                num_frames = len(times)
                start = float(times[0]) - origin
                duration = float(times[-1]) + last_dur - origin
                if len(times) > 1:
                    span = float(times[-1] - times[0])
                    if span > 0:
                        measured = (len(times) - 1) / span
                        # Keep the header's exact rational (23.976...) when it agrees with the measurement.
                        if not fps or abs(measured - fps) / measured > 0.01:
                            fps = measured
                    vfr = _is_vfr(np.diff(times))
        if not fps:
            fps = 30.0
        if duration is None:
            if vs.duration is not None and vs.time_base is not None:
                duration = float(vs.duration * vs.time_base) + start
            elif container.duration is not None:
                duration = container.duration / av.time_base
            elif num_frames:
                duration = start + num_frames / fps
            else:
                duration = start + 1.0 / fps
        w, h = (coded_h, coded_w) if rotation in (90, 270) else (coded_w, coded_h)
        return VideoInfo(
            path=p,
            duration=float(duration),
            fps=float(fps),
            num_frames=num_frames,
            width=int(w),
            height=int(h),
            rotation=rotation,
            has_audio=audio is not None,
            audio_sr=int(audio.codec_context.sample_rate) if audio is not None else None,
            codec=codec,
            container=container.format.name,
            vfr=vfr,
            start=float(start),
        )
    finally:
        container.close()


def _first_frame(container: av.container.InputContainer, vs: av.VideoStream, p: Path) -> av.VideoFrame:
    try:
        for frame in container.decode(vs):
            return frame
    except av.FFmpegError as e:
        raise VideoError(f"cannot decode {p.name} ({_one_line(e)}): the file is damaged or truncated") from e
    raise VideoError(f"{p.name} has no video frames")


@dataclass(frozen=True)
class _PacketScan:
    """Timing of a video stream read from its packets alone (no decoding)."""

    times: np.ndarray  # float64[N] presentation times (s), sorted
    last_duration: float  # seconds the last frame lasts
    in_decode_order: bool  # timestamps already increase in decode (file) order
    pts: np.ndarray  # int64[N] the same times in stream time-base units, sorted


def _scan_packets(p: Path) -> _PacketScan | None:
    """Demux (do not decode) every video packet of ``p``; None when the packets carry no timestamps."""
    container = open_video(p)
    try:
        vs = video_stream(container)
        tb = vs.time_base
        pts, durs = [], []
        try:
            for pkt in container.demux(vs):
                if pkt.size == 0:  # the flush packet at the end of demuxing
                    continue
                if pkt.pts is None:
                    return None
                pts.append(pkt.pts)
                durs.append(pkt.duration or 0)
        except av.FFmpegError as e:
            raise VideoError(f"cannot read {p.name} ({_one_line(e)}): the file is damaged or truncated") from e
        if not pts:
            raise VideoError(f"{p.name} has no video frames")
        _check_complete(p, len(pts), vs)
        order = np.argsort(pts, kind="stable")
        times = np.asarray(pts, np.float64)[order] * float(tb)
        last_dur = float(np.asarray(durs)[order][-1] * tb)
        if last_dur <= 0:
            last_dur = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
        return _PacketScan(times, last_dur, bool(np.all(np.diff(pts) > 0)), np.asarray(pts, np.int64)[order])
    finally:
        container.close()


def _check_complete(p: Path, found: int, stream: av.VideoStream) -> None:
    """Raise when the file holds clearly fewer frames than its header promises (a cut-off download).

    A few missing frames are tolerated: decoders drop the odd damaged frame and some muxers count loosely.
    """
    declared = int(stream.frames or 0)
    if declared and found < 0.95 * declared - 2:
        raise VideoError(
            f"{p.name} is truncated or damaged: its header lists {declared} frames, only {found} are readable"
        )


def _is_vfr(intervals: np.ndarray) -> bool:
    intervals = intervals[intervals > 0]
    if len(intervals) < 2:
        return False
    med = float(np.median(intervals))
    off = np.abs(intervals - med) > _VFR_TOLERANCE * med
    return bool(off.mean() > _VFR_SHARE)


# ---------------------------------------------------------------------------------------------- decoding


def iter_frames(
    path: str | os.PathLike,
    max_side: int | None = None,
    *,
    keep: Callable[[float], bool] | None = None,
    prefetch: int = 0,
) -> Iterator[tuple[float, np.ndarray]]:
    """Decode a video as a stream of ``(time_seconds, rgb)`` pairs.

    time_seconds: the frame's presentation time from the container start (not index / fps, so variable
        frame rates and late-starting video keep their true timing).
    rgb: uint8[H, W, 3], turned upright by the stream's rotation and, with ``max_side``, scaled down (area
        interpolation) so that its longer side is at most ``max_side`` pixels.
    keep: called once per decoded frame, in presentation order, with its time; a frame it refuses is still
        decoded (later frames depend on it) but is neither converted to RGB nor yielded, and the frames
        after it keep their own true times. None yields every frame. A ``keep`` with a ``plan(times)``
        method (`features.extract.AnalysisGrid`) says in advance which of the stream's frame times it will
        take; then frames it will refuse that no other frame refers to are not decoded at all (the frames
        yielded are the same).
    prefetch: with N > 0, decoding and RGB conversion run in a background thread that stays at most N
        frames ahead of the consumer (memory stays flat), so that a second core decodes while the caller
        analyses; ``keep`` is then called from that thread. Errors are raised in the caller's thread, the
        same `VideoError`/`InputError` as without it; closing the iterator (or an exception in the caller)
        stops the thread, closes the file and joins the thread before returning.

    Raises `VideoError` for undecodable input, including a file that ends before its first frame.
    """
    if prefetch > 0:
        return _prefetched(lambda: _decode_frames(path, max_side, keep), prefetch, f"decode {Path(path).name}")
    return _decode_frames(path, max_side, keep)


def _decode_frames(
    path: str | os.PathLike, max_side: int | None, keep: Callable[[float], bool] | None
) -> Iterator[tuple[float, np.ndarray]]:
    """The work of `iter_frames` in the calling thread (a generator: nothing happens before the first next)."""
    # A demux-only pass first (cheap next to decoding): it refuses truncated files before any work, and it
    # tells whether the file stores real presentation order. When the packet timestamps already increase in
    # file order, the file carries no reordering information (AVI with B-frames hands decode-order stamps to
    # the decoded frames); frames come out of the decoder in display order, so the k-th frame then takes the
    # k-th smallest stamp. Otherwise (mp4, mkv, webm) the decoder's own presentation stamps are right.
    scan = _scan_packets(_check_path(path))
    by_index = scan.times if scan is not None and scan.in_decode_order else None
    container = open_video(path)
    name = Path(path).name
    try:
        vs = video_stream(container)
        if usable_cpus() > 2:
            # Frame + slice threads: decoding is the bottleneck on long 1080p clips. With two CPUs or fewer
            # the analysis keeps them busy, and the threads only add work: 30 s of 720p took 4.1 CPU-s
            # with them and 3.4 without, in the same wall time.
            vs.thread_type = "AUTO"
        origin = container_start(container)
        skip = _frames_to_skip(keep, scan, vs.time_base, origin) if by_index is None else None
        rate = vs.average_rate or vs.guessed_rate
        step = 1.0 / float(rate) if rate else 1.0 / 30.0
        rotation, size, last_t, count = None, None, None, 0
        flagged = [0]  # packets the decoder was allowed to drop (the completeness check counts them)
        try:
            for frame in _decode_skipping(container, vs, skip, flagged):
                if rotation is None:
                    rotation = frame_rotation(frame, vs)
                    size = scaled_size(frame.width, frame.height, max_side)
                if by_index is not None and count < len(by_index):
                    t = float(by_index[count]) - origin
                elif frame.time is not None:
                    t = float(frame.time) - origin
                else:  # no timestamp (rare raw streams): continue the previous frame's clock
                    t = 0.0 if last_t is None else last_t + step
                last_t = t
                count += 1
                if keep is not None and not keep(t):
                    continue  # the RGB conversion is most of the per-frame cost after decoding itself
                yield t, frame_to_rgb(frame, size, rotation)
        except av.FFmpegError as e:
            raise VideoError(f"cannot decode {name} ({_one_line(e)}): the file is damaged or truncated") from e
        if count == 0:
            raise VideoError(f"{name} has no video frames")
        _check_complete(Path(path), count + flagged[0], vs)
    finally:
        container.close()


def _frames_to_skip(
    keep: Callable[[float], bool] | None, scan: _PacketScan | None, time_base: Fraction, origin: float
) -> set[int] | None:
    """Presentation stamps (stream units) of the frames ``keep`` will refuse, when it can say in advance."""
    plan = getattr(keep, "plan", None)
    if plan is None or scan is None:
        return None
    times = [float(int(p) * time_base) - origin for p in scan.pts]  # as `frame.time` gives them
    kept = plan(times)
    return {int(p) for p, k in zip(scan.pts, kept) if not k}


def _decode_skipping(container: Any, vs: Any, skip: set[int] | None, flagged: list[int]) -> Iterator[Any]:
    """The stream's frames; a packet whose frame is in ``skip`` may be dropped unread when no frame refers to
    it (``skip_frame = NONREF``, set packet by packet). ``flagged[0]`` counts those packets."""
    if not skip:
        yield from container.decode(vs)
        return
    cc = vs.codec_context
    for pkt in container.demux(vs):
        if pkt.size and pkt.pts is not None:
            drop = pkt.pts in skip
            cc.skip_frame = "NONREF" if drop else "DEFAULT"
            flagged[0] += drop
        yield from vs.decode(pkt)


_T = TypeVar("_T")

#: How often (seconds) a producer blocked on a full queue checks whether the consumer has gone away.
_PREFETCH_POLL_S = 0.05


def _prefetched(make: Callable[[], Iterator[_T]], size: int, name: str) -> Iterator[_T]:
    """Run the iterator ``make()`` in a background thread, at most ``size`` items ahead of the consumer.

    A generator: the thread starts at the first ``next`` and is always joined when this generator ends,
    fails or is closed (the producer notices within `_PREFETCH_POLL_S` and closes its iterator, which
    releases the file). An exception in the producer, ``KeyboardInterrupt`` included, is raised here as is.
    """
    q: queue.Queue[tuple[int, Any]] = queue.Queue(maxsize=size)
    stop = threading.Event()
    item_, end_, error_ = 0, 1, 2

    def put(message: tuple[int, Any]) -> bool:
        """Hand one message over; False when the consumer stopped listening."""
        while not stop.is_set():
            try:
                q.put(message, timeout=_PREFETCH_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        source = None
        try:
            source = make()
            for item in source:
                if not put((item_, item)):
                    return
            put((end_, None))
        except BaseException as e:  # every failure belongs to the consumer's thread, which raises it
            put((error_, e))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()  # a generator's own finally (closing the container) runs here, in this thread

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            kind, payload = q.get()
            if kind == item_:
                yield payload
            elif kind == end_:
                return
            else:
                raise payload
    finally:
        stop.set()
        worker.join()


def read_audio_rate(path: str | os.PathLike) -> int:
    """Sample rate of a media file's first audio stream; `VideoError` when it has none."""
    container = open_video(path, need_video=False)
    try:
        if not container.streams.audio:
            raise VideoError(f"{Path(path).name} has no audio track")
        return int(container.streams.audio[0].codec_context.sample_rate)
    finally:
        container.close()


def read_audio(path: str | os.PathLike, sr: int = SAMPLE_RATE, mono: bool = True) -> np.ndarray:
    """The soundtrack of a media file (video or audio), resampled to ``sr``.

    Returns float32[N] when ``mono`` (channels averaged) or float32[C, N], in [-1, 1]. Sample 0 is the
    container start (leading silence is inserted when the audio starts late, so it lines up with
    `iter_frames` times). Raises `VideoError` when the file has no audio stream or cannot be decoded.
    """
    container = open_video(path, need_video=False)
    name = Path(path).name
    try:
        if not container.streams.audio:
            raise VideoError(f"{name} has no audio track")
        st = container.streams.audio[0]
        st.thread_type = "AUTO"
        origin = container_start(container)
        resampler = av.AudioResampler(format="fltp", layout="mono" if mono else None, rate=int(sr))
        chunks: list[np.ndarray] = []
        first_time = None
        try:
            for frame in container.decode(st):
                if first_time is None and frame.time is not None:
                    first_time = float(frame.time) - origin
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray())
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray())
        except av.FFmpegError as e:
            raise VideoError(f"cannot decode the audio of {name} ({_one_line(e)})") from e
        if not chunks:
            raise VideoError(f"{name} has an audio track with no samples")
        audio = np.concatenate(chunks, axis=1).astype(np.float32)
        audio = _trim_codec_padding(audio, st, sr)
        lead = int(round((first_time or 0.0) * sr))
        if lead > 0:
            audio = np.pad(audio, ((0, 0), (lead, 0)))
        elif lead < 0:
            audio = audio[:, -lead:]
        return audio[0] if mono else audio
    finally:
        container.close()


def _trim_codec_padding(audio: np.ndarray, stream: av.AudioStream, sr: int) -> np.ndarray:
    """Drop the silence a frame-based codec (AAC) pads its last frame with.

    The decoder returns whole 1024-sample frames, but the container records the true length (mp4: the
    last packet's duration). Only a surplus shorter than a few codec frames is cut, so a header that
    understates the length can never remove real audio.
    """
    if stream.duration is None or stream.time_base is None:
        return audio
    n_true = int(round(float(stream.duration * stream.time_base) * sr))
    frame = stream.codec_context.frame_size or 1024
    surplus_limit = int(math.ceil(2 * frame * sr / max(1, stream.codec_context.sample_rate or sr)))
    if 0 < audio.shape[1] - n_true <= surplus_limit:
        return audio[:, :n_true]
    return audio


# ---------------------------------------------------------------------------------------------- writing


def _as_audio_2d(audio: np.ndarray) -> np.ndarray:
    """float32[C, N] from float[N] or float[C, N] (C <= 2); clipped to [-1, 1]."""
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 1:
        a = a[None]
    if a.ndim != 2 or a.shape[0] not in (1, 2):
        raise ValueError(f"audio must be [N] or [C<=2, N], got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError("audio contains NaN or infinite samples")
    return np.clip(a, -1.0, 1.0)


class _AudioTrack:
    """An AAC stream fed incrementally, so audio packets interleave with video packets as they are muxed."""

    def __init__(
        self, container: av.container.OutputContainer, audio: np.ndarray, sr: int, codec: str = "aac",
        rate: int | None = None,
    ):  # fmt: skip
        if rate is not None and rate != int(sr):  # Opus takes 48 kHz only
            audio = np.stack([resample(ch, int(sr), rate) for ch in audio]).astype(np.float32)
            sr = rate
        self.audio = audio  # float32[C, N], already at its final length
        self.sr = int(sr)
        layout = "mono" if audio.shape[0] == 1 else "stereo"
        self.layout = layout
        self.stream = container.add_stream(codec, rate=self.sr, layout=layout)
        self.stream.bit_rate = 128_000 if layout == "mono" else 192_000
        if codec == "aac":
            # FFmpeg's "fast" AAC coder instead of its default "twoloop": on 30 s of the demo's music it encoded
            # in 0.18 s instead of 0.59 s, at 30.1 against 28.3 dB signal-to-noise.
            self.stream.codec_context.options = {"aac_coder": "fast"}
        self.container = container
        self.pos = 0

    def write_until(self, seconds: float) -> None:
        """Encode and mux the samples up to ``seconds`` (all of them for ``math.inf``)."""
        end = self.audio.shape[1] if math.isinf(seconds) else min(self.audio.shape[1], int(seconds * self.sr))
        block = 1024  # the AAC frame size
        while self.pos < end:
            n = min(block, self.audio.shape[1] - self.pos)
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(self.audio[:, self.pos : self.pos + n]),
                format="fltp",
                layout=self.layout,
            )
            frame.sample_rate = self.sr
            frame.pts = self.pos
            frame.time_base = Fraction(1, self.sr)
            self.pos += n
            self.container.mux(self.stream.encode(frame))

    def finish(self, duration: float | None = None) -> None:
        """Encode what is left, first trimming or zero-padding the audio to ``duration`` seconds if given."""
        if duration is not None:
            self.audio = fit_length(self.audio, max(int(round(duration * self.sr)), self.pos), axis=1)
        self.write_until(math.inf)
        self.container.mux(self.stream.encode(None))


def _rate(fps: float) -> Fraction:
    """A rational frame rate (NTSC rates come out exact: 29.97 -> 30000/1001)."""
    if abs(fps - round(fps)) < 1e-6:
        return Fraction(int(round(fps)), 1)
    ntsc = fps * 1001 / 1000
    if abs(ntsc - round(ntsc)) < 1e-3:
        return Fraction(int(round(ntsc)) * 1000, 1001)
    return Fraction(fps).limit_denominator(10_000)


def _even(rgb: np.ndarray) -> np.ndarray:
    """Pad a frame by edge replication to even width and height (yuv420p needs them)."""
    h, w = rgb.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return rgb
    return np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def _encode_frames(
    container: av.container.OutputContainer,
    frames: Iterable[np.ndarray] | Iterable[tuple[float, np.ndarray]],
    fps: float,
    track: _AudioTrack | None,
    timed: bool,
    crf: int,
    codec: str = "libx264",
) -> int:
    """Encode RGB frames as H.264 into ``container``; returns the number of frames written.

    With ``timed`` the iterable yields ``(time_seconds, rgb)`` and those times become the presentation
    times (variable frame rate preserved); otherwise frame ``i`` is shown at ``i / fps``.
    """
    rate = _rate(fps)
    stream = None
    tb = Fraction(1, 90_000) if timed else 1 / rate
    n, last_pts = 0, -1
    for item in frames:
        t, rgb = item if timed else (n / float(rate), item)
        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"frames must be uint8[H, W, 3], got {rgb.dtype}{list(rgb.shape)}")
        rgb = _even(rgb)
        if stream is None:
            stream = container.add_stream(codec, rate=rate)
            stream.width, stream.height = rgb.shape[1], rgb.shape[0]
            stream.pix_fmt = "yuv420p"
            stream.time_base = tb
            stream.codec_context.time_base = tb  # the encoder keeps exact (possibly irregular) times
            if codec == "libvpx-vp9":  # constant quality, at libvpx's fastest settings
                stream.options = {"crf": str(crf + 12), "b": "0", "deadline": "realtime", "cpu-used": "8",
                                  "row-mt": "1"}  # fmt: skip
            else:
                stream.options = {"crf": str(crf), "preset": "veryfast"}
            size = (stream.width, stream.height)
        elif (rgb.shape[1], rgb.shape[0]) != size:
            raise ValueError(f"frame {n} is {rgb.shape[1]}x{rgb.shape[0]}, earlier frames {size[0]}x{size[1]}")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        pts = int(round(t / tb)) if timed else n
        pts = max(pts, last_pts + 1)  # strictly increasing, whatever rounding did
        frame.pts, frame.time_base, last_pts = pts, tb, pts
        if track is not None:
            track.write_until(t)
        container.mux(stream.encode(frame))
        n += 1
    if stream is not None:
        container.mux(stream.encode(None))
    return n


def write_video(
    frames: Iterable[np.ndarray],
    fps: float,
    out_path: str | os.PathLike,
    audio: np.ndarray | None = None,
    sr: int | None = None,
    *,
    crf: int = 20,
) -> Path:
    """Write RGB frames (uint8[H, W, 3], consumed one at a time) as an H.264 mp4, with optional AAC audio.

    audio: float[N] or float[C<=2, N] at ``sr``; it is trimmed or zero-padded to the video's duration
    (number of frames / fps). The file appears atomically at ``out_path`` only when complete.
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if audio is not None and not sr:
        raise ValueError("write_video: sr is required with audio")
    out = Path(out_path)
    with atomic_output(out, suffix=".mp4") as tmp:
        container = av.open(str(tmp), mode="w", format="mp4")
        try:
            # Audio is encoded alongside the frames (interleaved); its final length, the video's duration,
            # is known only when the frame iterator ends, so `finish` trims or pads it then.
            track = _AudioTrack(container, _as_audio_2d(audio), int(sr)) if audio is not None else None
            n = _encode_frames(container, frames, fps, track, timed=False, crf=crf)
            if n == 0:
                raise ValueError("write_video: no frames to write")
            if track is not None:
                track.finish(n / float(_rate(fps)))
        finally:
            container.close()
    return out


def mux_audio(
    video_in: str | os.PathLike,
    audio: np.ndarray,
    sr: int,
    out_path: str | os.PathLike,
) -> Path:
    """Write ``out_path``: the input video with ``audio`` as its only audio track, in the container its
    extension names (`VIDEO_FORMATS`: mp4, m4v, mov, mkv with AAC; webm with Opus).

    The video stream is copied packet for packet when the container takes its codec (mp4: `MP4_COPY_CODECS`);
    otherwise it is re-encoded (H.264; VP9 for webm), upright, keeping each frame's presentation time.
    ``audio`` (float[N] or float[C<=2, N] at ``sr``, sample 0 = the video's container start) is trimmed or
    zero-padded to the video's duration. The output appears atomically and only when complete.
    """
    out = Path(out_path)
    fmt = _output_format(out)
    info = probe(video_in)
    a = fit_length(_as_audio_2d(audio), int(round(info.duration * sr)), axis=1)
    if info.codec in fmt.copy_codecs:
        try:
            with atomic_output(out) as tmp:
                _mux_copy(info, a, sr, tmp, fmt)
            return out
        except av.FFmpegError:
            pass  # some streams (odd extradata, timestamps) refuse to be copied: re-encode them instead
    with atomic_output(out) as tmp:
        container = av.open(str(tmp), mode="w", format=fmt.muxer)
        try:
            track = _AudioTrack(container, a, sr, fmt.audio_encoder, fmt.audio_rate)
            frames = iter_frames(info.path)
            _encode_frames(container, frames, info.fps, track, timed=True, crf=18, codec=fmt.video_encoder)
            track.finish()
        finally:
            container.close()
    return out


def _mux_copy(info: VideoInfo, audio: np.ndarray, sr: int, tmp: Path, fmt: OutputFormat) -> None:
    inp = open_video(info.path)
    try:
        vin = video_stream(inp)
        origin = container_start(inp)
        out = av.open(str(tmp), mode="w", format=fmt.muxer)
        try:
            vout = out.add_stream_from_template(vin)
            if info.rotation:
                vout.set_display_rotation(info.rotation)
            track = _AudioTrack(out, audio, sr, fmt.audio_encoder, fmt.audio_rate)
            shift = int(round(origin / float(vin.time_base)))  # move the container start to time 0
            for pkt in inp.demux(vin):
                if pkt.size == 0:
                    continue
                if pkt.pts is not None:
                    pkt.pts -= shift
                    track.write_until(float(pkt.pts * vin.time_base))
                if pkt.dts is not None:
                    pkt.dts -= shift
                pkt.stream = vout
                out.mux(pkt)
            track.finish()
        finally:
            out.close()
    finally:
        inp.close()
