"""The shipped weights' music for the bundled demo and the real clip is pinned (`scripts/music_digest.py`).

A refactor must leave it unchanged. The codes (discrete) must match exactly; the waveform must match the stored
RMS of each 50-ms frame to 1e-4, since float rounding may differ in the last bit on another CPU. On the machine
that wrote the file, `scripts/music_digest.py` also reproduces the samples' sha256 exactly.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
PINNED = json.loads((ROOT / "tests" / "data" / "music_digest.json").read_text())


def _script():
    spec = importlib.util.spec_from_file_location("music_digest", ROOT / "scripts" / "music_digest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def digests():
    from dance2music import Dance2Music

    script = _script()
    model = Dance2Music.from_pretrained(PINNED["model"])
    return {name: script.digest(model, source) for name, source in script.cases().items()}


@pytest.mark.parametrize("case", ["demo", "real_video", "real_openpose"])
def test_music_is_unchanged(digests, case):
    if case not in digests:
        pytest.skip("needs ../shared/data/real-dance")
    got, want = digests[case], PINNED["cases"][case]
    assert got["samples"] == want["samples"]
    assert got["codes_sha256"] == want["codes_sha256"], "the generator picks other codes than the pinned ones"
    np.testing.assert_allclose(got["rms_50ms"], want["rms_50ms"], atol=1e-4)
