"""Digests of the music the shipped weights make, to show that a change to the code leaves it unchanged.

    python scripts/music_digest.py                 # prints one JSON line per case
    python scripts/music_digest.py --write tests/data/music_digest.json

Cases: the bundled demo clip through the whole chain (video -> pose -> music) and the real clip of
../shared/data/real-dance through its video and through its OpenPose keypoints (skipped without ../shared),
each with d2m-top, seed 0 and the defaults of `Dance2Music.generate`. Per case: sha256 of the codes and of the
float32 samples (equal before and after a change, on one machine), and the codes and the RMS of each 50-ms
frame, which `tests/test_music_digest.py` compares on any machine (where float rounding may differ).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

from dance2music import Dance2Music
from dance2music.cli.demo import demo_video
from dance2music.features.motion_formats import read_openpose_folder

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-dance"
REAL_FPS = 23.976  # the real clip's frame rate (its README)
FRAME_S = 0.05


def cases() -> dict[str, object]:
    """Name -> what `Dance2Music.generate` gets (a path or a `Motion`); the real clip only when it is present."""
    out: dict[str, object] = {"demo": demo_video()}
    if REAL.is_dir():
        out["real_video"] = REAL / "hiphop_studio_2.9s.mp4"
        out["real_openpose"] = read_openpose_folder(REAL / "openpose_body25", fps=REAL_FPS)
    return out


def digest(model: Dance2Music, source: object) -> dict[str, object]:
    res = model.generate(source, seed=0)
    audio = np.ascontiguousarray(res.audio, np.float32)
    codes = np.ascontiguousarray(res.codes, np.int64)
    hop = int(FRAME_S * res.sample_rate)
    n = len(audio) // hop
    rms = np.sqrt((audio[: n * hop].reshape(n, hop).astype(np.float64) ** 2).mean(1))
    return {
        "codes_sha256": hashlib.sha256(codes.tobytes()).hexdigest(),
        "audio_sha256": hashlib.sha256(audio.tobytes()).hexdigest(),
        "samples": int(len(audio)),
        "codes": [int(c) for c in codes.ravel()],
        "rms_50ms": [round(float(x), 6) for x in rms],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="d2m-top")
    ap.add_argument("--write", type=Path, help="also write all digests to this JSON file")
    args = ap.parse_args(argv)
    model = Dance2Music.from_pretrained(args.model)
    result = {}
    for name, source in cases().items():
        result[name] = digest(model, source)
        d = result[name]
        print(json.dumps({"case": name, "codes": d["codes_sha256"][:16], "audio": d["audio_sha256"][:16]}))
    if args.write:
        args.write.write_text(json.dumps({"model": args.model, "seed": 0, "cases": result}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
