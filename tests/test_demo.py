"""The README's main job: `d2m demo` makes music for the bundled clip with the shipped weights (no network)."""

from __future__ import annotations

import json

import pytest

from dance2music.cli import main
from dance2music.io.video import probe, read_audio
from dance2music.pretrained.registry import REGISTRY, resolve, sha256_file


@pytest.mark.parametrize("name", ["d2m-top", "d2m-lower", "vqvae-small", "vqvae-base", "genre-cnn", "dance-genre"])
def test_shipped_weights_are_registered_and_intact(name):
    path = resolve(name)
    assert sha256_file(path) == REGISTRY[name].sha256
    assert path.stat().st_size < 10_000_000  # weights live in git: keep each file small


def test_demo_writes_the_clip_with_new_music(tmp_path, capsys):
    assert main(["demo", "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "generated" in out and "BeatAlign" in out
    video, wav = tmp_path / "demo.mp4", tmp_path / "demo.wav"
    info = probe(video)
    assert info.has_audio
    assert abs(len(read_audio(video)) / 22050 - info.duration) <= 1 / info.fps
    summary = json.loads((tmp_path / "demo_summary.json").read_text())
    assert summary["model"] == "d2m-top" and summary["person_detected_share"] > 0.9
    gen = summary["alignment"]["generated"]
    assert gen["motion_beats"] > 5 and gen["music_beats"] > 5  # real music with beats, for a real dance
    assert wav.stat().st_size > 8 * 22050  # about 8 s of 16-bit audio
