"""Video I/O: probing, streaming decode, rotation, variable frame rate, writing and muxing audio."""

from __future__ import annotations

import os
import signal
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from dance2music.errors import InputError, VideoError
from dance2music.io.audio import load_audio, save_wav
from dance2music.io.video import iter_frames, mux_audio, probe, read_audio, write_video

SR = 22050


def ramp_frames(n: int, w: int = 64, h: int = 48):
    """Frames whose brightness encodes their index (so order and count can be checked after decoding)."""
    for i in range(n):
        frame = np.full((h, w, 3), 10 + 6 * i, np.uint8)
        frame[: h // 4, : w // 4] = (255, 0, 0)  # a red marker in the top-left corner
        yield frame


def tone(seconds: float, freq: float = 440.0) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * freq * np.arange(int(seconds * SR)) / SR)).astype(np.float32)


def test_write_probe_and_stream(tmp_path: Path) -> None:
    path = write_video(ramp_frames(30), 30, tmp_path / "a.mp4")
    info = probe(path)
    assert (info.width, info.height, info.num_frames, info.rotation) == (64, 48, 30, 0)
    assert info.fps == pytest.approx(30.0)
    assert info.duration == pytest.approx(1.0, abs=1e-6)
    assert not info.has_audio and not info.vfr and info.codec == "h264"
    times, means = [], []
    for t, rgb in iter_frames(path):
        assert rgb.dtype == np.uint8 and rgb.shape == (48, 64, 3)
        times.append(t)
        means.append(rgb[24:, 32:].mean())
    assert np.allclose(times, np.arange(30) / 30)
    assert np.all(np.diff(means) > 0)  # frames come back in order, none dropped or repeated
    small = next(iter_frames(path, max_side=32))[1]
    assert small.shape == (24, 32, 3)


def test_mux_tone_round_trip(tmp_path: Path) -> None:
    """Read a video, mux a generated tone into it, read it back: same frames, audio as long as the video."""
    src = write_video(ramp_frames(36), 24, tmp_path / "src.mp4")
    for audio_seconds in (0.7, 3.0):  # shorter (padded) and longer (trimmed) than the 1.5 s video
        out = mux_audio(src, tone(audio_seconds), SR, tmp_path / f"muxed_{audio_seconds}.mp4")
        info = probe(out)
        assert info.has_audio and info.num_frames == 36
        assert sum(1 for _ in iter_frames(out)) == 36
        audio = read_audio(out, SR)
        assert abs(len(audio) / SR - info.duration) <= 1 / 24  # within one frame
        assert abs(len(audio) / SR - 1.5) <= 1 / 24
        head = audio[: int(0.5 * SR)]
        spectrum = np.abs(np.fft.rfft(head))
        assert np.argmax(spectrum) * SR / len(head) == pytest.approx(440, abs=5)  # the tone survived AAC
    # the video stream was copied, not re-encoded: identical packets
    with av.open(str(src)) as a, av.open(str(out)) as b:
        pa = [bytes(p) for p in a.demux(a.streams.video[0]) if p.size]
        pb = [bytes(p) for p in b.demux(b.streams.video[0]) if p.size]
    assert pa == pb


def test_write_video_with_audio_and_load_audio(tmp_path: Path) -> None:
    path = write_video(ramp_frames(15, 63, 47), 30, tmp_path / "odd.mp4", audio=tone(2.0), sr=SR)
    info = probe(path)
    assert (info.width, info.height) == (64, 48)  # padded to even for yuv420p
    audio = load_audio(path, sr=16000)
    assert abs(len(audio) / 16000 - 0.5) <= 1 / 30
    wav = save_wav(tmp_path / "t.wav", tone(0.25), SR)
    assert load_audio(wav, sr=SR).shape == (int(0.25 * SR),)


def test_rotation_metadata(tmp_path: Path) -> None:
    path = tmp_path / "rot.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.set_display_rotation(90)  # counter-clockwise quarter turn, as a phone held upright records it
        for i, rgb in enumerate(ramp_frames(5)):
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            f.pts = i
            c.mux(s.encode(f))
        c.mux(s.encode())
    info = probe(path)
    assert (info.rotation, info.width, info.height) == (90, 48, 64)
    _, rgb = next(iter_frames(path))
    assert rgb.shape == (64, 48, 3)
    # a counter-clockwise quarter turn moves the top-left marker to the bottom-left
    assert rgb[-4:, :4, 0].mean() > 200 and rgb[:4, :4, 0].mean() < 100
    out = mux_audio(path, tone(0.2), SR, tmp_path / "rot_muxed.mp4")
    assert probe(out).rotation == 90  # the display matrix survives the copy


def test_variable_frame_rate(tmp_path: Path) -> None:
    path = tmp_path / "vfr.mp4"
    tb = Fraction(1, 1000)
    pts = np.concatenate([np.arange(20) * 20, 400 + np.arange(20) * 50])  # 50 fps, then 20 fps
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.time_base = s.codec_context.time_base = tb
        for p, rgb in zip(pts, ramp_frames(40)):
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            f.pts, f.time_base = int(p), tb
            c.mux(s.encode(f))
        c.mux(s.encode())
    info = probe(path)
    assert info.vfr and info.num_frames == 40
    assert info.fps == pytest.approx(39 / 1.35, rel=1e-3)
    times = np.array([t for t, _ in iter_frames(path)])
    assert np.allclose(times, pts / 1000, atol=1e-6)  # presentation times, not index / fps
    # re-encoding (the path for codecs mp4 cannot copy) keeps the irregular timing
    out = tmp_path / "vfr_out.mp4"
    import dance2music.io.video as video

    video_codecs = video.MP4_COPY_CODECS
    video.MP4_COPY_CODECS = frozenset()
    try:
        mux_audio(path, tone(2.0), SR, out)
    finally:
        video.MP4_COPY_CODECS = video_codecs
    assert np.allclose([t for t, _ in iter_frames(out)], pts / 1000, atol=2e-3)
    assert abs(len(read_audio(out, SR)) / SR - info.duration) <= 0.05


def test_bad_inputs_raise_one_line_errors(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n")
    good = write_video(ramp_frames(30), 30, tmp_path / "good.mp4")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    wav = save_wav(tmp_path / "a.wav", tone(0.2), SR)
    with pytest.raises(InputError, match="no such file"):
        probe(tmp_path / "missing.mp4")
    for bad in (text, cut, wav):
        with pytest.raises(VideoError) as e:
            list(iter_frames(bad))
        assert "\n" not in str(e.value)
    with pytest.raises(VideoError, match="audio-only"):
        probe(wav)
    with pytest.raises(VideoError, match="no audio track"):
        read_audio(good)


def test_avi_with_b_frames_gets_display_order_times(tmp_path: Path) -> None:
    """AVI stores no presentation order: decoded B-frames must not inherit their decode-order stamps."""
    path = tmp_path / "b.avi"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)  # x264's defaults use B-frames
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i, rgb in enumerate(ramp_frames(25)):
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            f.pts = i
            c.mux(s.encode(f))
        c.mux(s.encode())
    decoded = list(iter_frames(path))
    times = np.array([t for t, _ in decoded])
    assert len(decoded) == 25 and np.allclose(np.diff(times), 0.04)
    assert np.all(np.diff([rgb[24:, 32:].mean() for _, rgb in decoded]) > 0)  # display order


# ---------------------------------------------------------------------------------------------- skipping and prefetch


def _decoder_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("decode ")]


def _open_count(path: Path) -> int:
    """How many of this process's file descriptors point at ``path`` (Linux /proc; -1 elsewhere)."""
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.is_dir():
        return -1
    n = 0
    for fd in fd_dir.iterdir():
        try:
            n += os.readlink(fd) == str(path.resolve())
        except OSError:
            pass  # closed between listing and reading
    return n


def test_keep_skips_frames_with_their_true_times(tmp_path: Path) -> None:
    """Refused frames are decoded but not yielded; the kept ones carry their own times and pixels."""
    path = write_video(ramp_frames(30), 30, tmp_path / "a.mp4")
    seen: list[float] = []

    def every_third(t: float) -> bool:
        seen.append(t)
        return round(t * 30) % 3 == 0

    for prefetch in (0, 3):
        seen.clear()
        kept = list(iter_frames(path, keep=every_third, prefetch=prefetch))
        assert np.allclose(seen, np.arange(30) / 30)  # asked once per frame, in order
        assert np.allclose([t for t, _ in kept], np.arange(0, 30, 3) / 30)
        full = {round(t * 30): rgb for t, rgb in iter_frames(path)}
        for t, rgb in kept:
            assert np.array_equal(rgb, full[round(t * 30)])  # the frame of that time, not a neighbour


def test_analysis_grid_on_60fps_and_vfr(tmp_path: Path) -> None:
    from dance2music.features.extract import AnalysisGrid

    path = write_video(ramp_frames(40, 32, 24), 60, tmp_path / "sixty.mp4")
    times = [t for t, _ in iter_frames(path, keep=AnalysisGrid(30, 60), prefetch=2)]
    assert np.allclose(times, np.arange(0, 40, 2) / 60)  # every other frame at its own time
    times = [t for t, _ in iter_frames(path, keep=AnalysisGrid(None, 60))]
    assert len(times) == 40
    # irregular frames (50 fps, then 20 fps) analysed at 25 fps: every other frame, then every frame
    grid = AnalysisGrid(25, 30)
    pts = np.concatenate([np.arange(20) * 0.02, 0.4 + np.arange(20) * 0.05])
    kept = [t for t in pts if grid(float(t))]
    assert np.allclose(kept, np.concatenate([pts[:20:2], pts[20:]]))


def test_frames_the_grid_will_refuse_are_not_decoded(tmp_path: Path) -> None:
    """With a planning ``keep`` the decoder drops refused frames that nothing refers to; the same frames
    (times and pixels) come out."""
    from dance2music.features.extract import AnalysisGrid

    class Counting(AnalysisGrid):
        def __init__(self, planning: bool) -> None:
            super().__init__(10, 30)
            self.asked = 0
            if not planning:
                self.plan = None  # iter_frames then decodes every frame

        def __call__(self, t: float) -> bool:
            self.asked += 1
            return super().__call__(t)

    ramp = list(ramp_frames(40, 96, 64))  # its brightness would overflow after 40 frames: loop it
    path = write_video((ramp[i % 40] for i in range(90)), 30, tmp_path / "b.mp4")  # libx264's defaults: B-frames
    with av.open(str(path)) as c:
        assert c.streams.video[0].codec_context.has_b_frames
    runs = {}
    for planning in (False, True):
        grid = Counting(planning)
        runs[planning] = (list(iter_frames(path, keep=grid, prefetch=2)), grid.asked)
    (plain, asked_all), (planned, asked) = runs[False], runs[True]
    assert asked_all == 90 and 30 <= asked < 90  # only the frames the decoder produced were asked about
    assert [t for t, _ in planned] == [t for t, _ in plain] and len(plain) == 30
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(plain, planned))
    assert AnalysisGrid(10, 30).plan([0.0, 1 / 30, 2 / 30, 0.1, 4 / 30]) == [True, False, False, True, False]

def test_prefetch_gives_the_same_frames(tmp_path: Path) -> None:
    path = write_video(ramp_frames(20, 70, 40), 25, tmp_path / "a.mp4")
    plain = list(iter_frames(path, max_side=35))
    ahead = list(iter_frames(path, max_side=35, prefetch=2))
    assert [t for t, _ in plain] == [t for t, _ in ahead]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(plain, ahead))
    assert not _decoder_threads()


def test_prefetch_errors_are_the_same_one_line_errors(tmp_path: Path) -> None:
    good = write_video(ramp_frames(30), 30, tmp_path / "good.mp4")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n")
    for bad in (cut, text):
        with pytest.raises(VideoError) as plain:
            list(iter_frames(bad))
        with pytest.raises(VideoError) as ahead:
            list(iter_frames(bad, prefetch=2))
        assert str(ahead.value) == str(plain.value) and "\n" not in str(ahead.value)
    with pytest.raises(InputError, match="no such file"):
        next(iter_frames(tmp_path / "missing.mp4", prefetch=2))

    def broken(t: float) -> bool:  # a failure inside the decoding thread (here: the caller's predicate)
        if t > 0.2:
            raise ValueError("predicate failed")
        return True

    with pytest.raises(ValueError, match="predicate failed"):
        list(iter_frames(good, keep=broken, prefetch=2))
    assert not _decoder_threads() and _open_count(good) <= 0


def test_prefetch_stays_bounded_and_stops_on_early_close(tmp_path: Path) -> None:
    path = write_video(ramp_frames(40, 32, 24), 30, tmp_path / "a.mp4")
    asked = []

    def count(t: float) -> bool:
        asked.append(t)
        return True

    frames = iter_frames(path, keep=count, prefetch=2)
    next(frames)
    time.sleep(0.3)  # the thread fills the queue, then waits
    assert len(asked) <= 1 + 2 + 1  # taken, queued, one in hand: memory does not grow with the video
    assert len(_decoder_threads()) == 1 and _open_count(path) in (-1, 1)
    frames.close()
    assert not _decoder_threads() and _open_count(path) <= 0  # joined, file closed

    # an exception in the consumer: closing the abandoned iterator (as `extract_features` does) joins too
    frames = iter_frames(path, prefetch=2)
    with pytest.raises(RuntimeError):
        for i, _ in enumerate(frames):
            if i == 3:
                raise RuntimeError("consumer failed")
    frames.close()
    assert not _decoder_threads() and _open_count(path) <= 0


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals go to the main thread")
def test_prefetch_stops_on_keyboard_interrupt(tmp_path: Path) -> None:
    """Ctrl-C while the consumer waits for a slow decoder: the interrupt surfaces, the thread is joined."""
    path = write_video(ramp_frames(40, 32, 24), 30, tmp_path / "a.mp4")

    def slow(t: float) -> bool:
        time.sleep(0.05)
        return True

    main = threading.main_thread().ident
    timer = threading.Timer(0.3, lambda: signal.pthread_kill(main, signal.SIGINT))
    # Python's own Ctrl-C behaviour, whatever handler an earlier test or library left installed
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    frames = iter_frames(path, keep=slow, prefetch=2)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            for _ in frames:
                pass
    finally:
        timer.cancel()
        frames.close()
        signal.signal(signal.SIGINT, previous)
    assert not _decoder_threads() and _open_count(path) <= 0
