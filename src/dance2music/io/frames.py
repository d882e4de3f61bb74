"""Single frames of a video by time: its keyframes, the keyframe near an instant, the frame at an instant.

What the people scan (`features.people.scan`) reads: a handful of frames spread over a video, without decoding
the video. Frames come out upright and scaled exactly as `io.video.iter_frames` gives them (the same
conversion, so the same pixels), with times from the container start.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import Any

import av
import numpy as np

from .video import (
    container_start,
    frame_rotation,
    frame_to_rgb,
    iter_frames,
    open_video,
    scaled_size,
    video_stream,
)

#: While decoding towards a sampled instant, non-reference frames (which no other frame needs) are skipped
#: until this many seconds before it: they can never be the frame taken, and skipping them saves their decode.
_SKIP_UNTIL_S = 0.15


def _rgb(frame: Any, stream: Any, max_side: int | None) -> np.ndarray:
    """A decoded frame as upright RGB scaled like `io.video.iter_frames` (uint8[H, W, 3])."""
    size = scaled_size(frame.width, frame.height, max_side)
    return frame_to_rgb(frame, size, frame_rotation(frame, stream))


def keyframe_times(path: Any) -> list[float]:
    """Presentation times (s from the container start) of the video's keyframes (a demux-only pass; [] for a
    file whose packets cannot be read so)."""
    container = open_video(path)
    try:
        vs = video_stream(container)
        return _stream_keyframe_times(container, vs, container_start(container))
    except av.FFmpegError:
        return []
    finally:
        container.close()


def _stream_keyframe_times(container: Any, vs: Any, origin: float) -> list[float]:
    """Presentation times (s from the container start) of the stream's keyframes, from its packets alone."""
    tb = float(vs.time_base)
    keys = sorted(
        float(pkt.pts) * tb - origin
        for pkt in container.demux(vs)
        if pkt.size and pkt.is_keyframe and pkt.pts is not None
    )
    container.seek(0, stream=vs, backward=True)  # rewinding is cheap; every read below seeks first anyway
    return keys


def keyframes_near(
    path: Any, times: Sequence[float], tolerance: float, max_side: int | None
) -> tuple[list[tuple[float, np.ndarray]], list[float]]:
    """For each instant, the keyframe at or before it when one lies within ``tolerance`` s and was not taken
    already; those frames (time, rgb), and the instants left without one."""
    container = open_video(path)
    try:
        vs = video_stream(container)
        vs.codec_context.skip_frame = "NONKEY"  # the decoder drops every other frame unread
        origin = container_start(container)
        taken: dict[float, tuple[float, np.ndarray]] = {}
        missing = []
        for target in times:
            container.seek(max(0, int((target + origin) / vs.time_base)), stream=vs, backward=True)
            frame = next(iter(container.decode(vs)), None)
            t = float(frame.time) - origin if frame is not None and frame.time is not None else math.inf
            if abs(t - target) > tolerance or round(t, 6) in taken:
                missing.append(target)
            else:
                taken[round(t, 6)] = (t, _rgb(frame, vs, max_side))
        return sorted(taken.values(), key=lambda x: x[0]), missing
    except av.FFmpegError:
        return [], list(times)  # a file that cannot seek: every instant is decoded the long way
    finally:
        container.close()


def decoded_near(path: Any, times: Sequence[float], max_side: int | None) -> list[tuple[float, np.ndarray]]:
    """For each instant (increasing), the first frame not taken yet within half a frame before it or after
    it: decoded from the keyframe before it, or on from the previous instant when no keyframe lies between
    (then nothing is decoded twice); non-reference frames well before an instant are not decoded at all."""
    todo = sorted(float(t) for t in times)
    out: list[tuple[float, np.ndarray]] = []
    if not todo:
        return out
    container = open_video(path)
    try:
        vs = video_stream(container)
        vs.thread_type = "AUTO"
        cc = vs.codec_context
        origin = container_start(container)
        tb = float(vs.time_base)
        rate = vs.average_rate or vs.guessed_rate
        half = 0.5 / float(rate) if rate else 1.0 / 60.0
        keys = _stream_keyframe_times(container, vs, origin)
        goal = [todo[0]]  # the instant being decoded towards (read by `decoded` as packets go in)

        def decoded() -> Any:
            """Frames from the current position on, skipping non-reference frames far before ``goal``."""
            for pkt in container.demux(vs):
                # A frame is never taken before goal - half: one that no other frame refers to can be
                # dropped unread there. The setting goes with each packet (decoder threads copy it on submit).
                early = pkt.size and pkt.pts is not None and float(pkt.pts) * tb - origin < goal[0] - _SKIP_UNTIL_S
                cc.skip_frame = "NONREF" if early else "DEFAULT"
                yield from vs.decode(pkt)

        decoder = None
        last_t = -math.inf
        done = 0
        while done < len(todo):
            target = goal[0] = todo[done]
            k = bisect.bisect_right(keys, target - half) - 1
            key = keys[k] if k >= 0 else -math.inf
            if decoder is None or key > last_t + half:  # a keyframe lies ahead: seeking skips everything before it
                container.seek(max(0, int((max(key, 0.0) + origin) / tb)), stream=vs, backward=True)
                decoder = decoded()
            frame = None
            for frame in decoder:
                last_t = float(frame.time) - origin if frame.time is not None else last_t + 2 * half
                if last_t >= target - half:
                    break
            else:
                break  # the stream ended before this instant
            out.append((last_t, _rgb(frame, vs, max_side)))
            done += 1
            while done < len(todo) and todo[done] <= last_t:
                done += 1  # several instants fell on this one frame (a very short video)
        return out
    except av.FFmpegError:
        if out:
            raise
    finally:
        container.close()
    pending = list(todo)  # a file that cannot seek: decode from the start, converting only these frames

    def keep(t: float) -> bool:
        if pending and t >= pending[0] - 1e-3:
            while pending and pending[0] <= t + 1e-3:
                pending.pop(0)
            return True
        return False

    return list(iter_frames(path, max_side=max_side, keep=keep))
