"""Bad input through the command line: one ``error:`` line on stderr, a non-zero exit, no traceback, no output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from dance2music.cli import main
from dance2music.io.audio import save_wav
from dance2music.io.photo_clip import noise_frames
from dance2music.io.video import write_video

SR = 22050


def _frames(n: int = 24):
    for i in range(n):
        yield np.full((48, 64, 3), 8 * i, np.uint8)


def make_bad_inputs(d: Path) -> dict[str, Path]:
    """Every kind of file a user may wrongly hand to ``d2m features``."""
    text = d / "notes.mp4"
    text.write_text("this is a text file, not a video\n")
    good = write_video(_frames(), 24, d / "good.mp4")
    truncated = d / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size * 2 // 3])
    zero = d / "zero_frames.mp4"
    with av.open(str(zero), "w") as c:  # a valid header, a video stream, not a single frame
        s = c.add_stream("libx264", rate=24)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        c.start_encoding()
    m4a = d / "song.m4a"
    with av.open(str(m4a), "w") as c:
        s = c.add_stream("aac", rate=SR, layout="mono")
        for i in range(10):
            f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            f.sample_rate, f.pts = SR, i * 1024
            c.mux(s.encode(f))
        c.mux(s.encode())
    wav = save_wav(d / "song.wav", np.zeros(SR // 4, np.float32), SR)
    nobody = write_video(noise_frames(seconds=1.0, fps=12), 12, d / "nobody.mp4")
    return {
        "missing": d / "missing.mp4",
        "text": text,
        "truncated": truncated,
        "zero_frames": zero,
        "audio_only_m4a": m4a,
        "audio_only_wav": wav,
        "no_person": nobody,
    }


EXPECTED = {  # a word the message must contain, and the exit code of the error class
    "missing": ("no such file", 2),
    "text": ("not a media file", 2),
    "truncated": ("", 2),
    "zero_frames": ("no video", 2),
    "audio_only_m4a": ("audio-only", 2),
    "audio_only_wav": ("audio-only", 2),
    "no_person": ("no person", 3),
}


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_bad_inputs(tmp_path_factory.mktemp("bad"))


@pytest.mark.parametrize("case", list(EXPECTED))
def test_features_bad_input(case: str, bad_inputs: dict[str, Path], tmp_path: Path, capfd) -> None:
    out = tmp_path / "out" / "features.npz"
    rc = main(["features", str(bad_inputs[case]), "-o", str(out), "--no-progress"])
    captured = capfd.readouterr()  # file-descriptor level: native (MediaPipe/FFmpeg) output counts too
    lines = captured.err.splitlines()
    word, code = EXPECTED[case]
    assert rc == code
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert word in lines[0]
    assert "Traceback" not in captured.err and captured.out == ""
    assert not out.exists()
    assert not out.parent.exists() or not any(out.parent.iterdir())  # no temporary part left either


def test_entry_point_exit_code_and_stderr(bad_inputs: dict[str, Path], tmp_path: Path) -> None:
    """The real ``python -m dance2music`` process: exit status and stderr as a user sees them."""
    out = tmp_path / "f.npz"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "dance2music", "features", str(bad_inputs["truncated"]), "-o", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: "), proc.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_existing_output_is_refused_before_work(tmp_path: Path, capfd) -> None:
    out = tmp_path / "f.npz"
    out.write_bytes(b"keep me")
    rc = main(["features", str(tmp_path / "missing.mp4"), "-o", str(out)])
    err = capfd.readouterr().err
    assert rc == 2 and err.startswith("error: output exists") and out.read_bytes() == b"keep me"


def test_features_success_writes_loadable_file(tmp_path: Path, capfd) -> None:
    skdata = pytest.importorskip("skimage.data")
    from dance2music.features.extract import load_features
    from dance2music.io.photo_clip import photo_motion_frames

    clip = write_video(
        photo_motion_frames(skdata.astronaut(), seconds=1.0, fps=12, size=(320, 240)), 12, tmp_path / "a.mp4"
    )
    out = tmp_path / "a.npz"
    assert main(["features", str(clip), "-o", str(out), "--no-progress"]) == 0
    captured = capfd.readouterr()
    assert captured.err == "" and "person in 100% of frames" in captured.out
    feats = load_features(out)
    assert feats.motion.keypoints.shape == (30, 17, 3) and feats.visual.features.shape[0] == 30
    assert feats.meta["width"] == 320 and feats.motion.meta["detection_rate"] == 1.0
    assert main(["features", str(clip), "-o", str(out), "--no-progress"]) == 2  # exists: needs --force
    assert main(["features", str(clip), "-o", str(out), "--no-progress", "--force"]) == 0
