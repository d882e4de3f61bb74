"""Write the stand-in demo clip ``src/dance2music/assets/demo.mp4``: a real photograph (scikit-image's
astronaut) moved on a beat-regular path at 120 BPM, 4 s, 480x360, 24 fps.

Usage: python scripts/make_photo_demo_clip.py [OUT.mp4]
"""

from __future__ import annotations

import sys
from pathlib import Path

from skimage import data

from dance2music.data.synth.photo_clip import photo_motion_frames
from dance2music.io.video import write_video

DEFAULT = Path(__file__).resolve().parents[1] / "src" / "dance2music" / "assets" / "demo.mp4"


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    frames = photo_motion_frames(data.astronaut(), seconds=4.0, fps=24.0, size=(480, 360), tempo=120.0)
    write_video(frames, 24.0, out, crf=26)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
