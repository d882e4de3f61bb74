"""The synthetic paired dance-music dataset, made offline and deterministic from a seed.

`make_dataset(out_dir, clips, seconds, seed)` writes AIST++-layout sequences (music, SMPL motion, 2D and 3D
COCO-17 keypoints, a rendered video and beat labels) whose dance moves land on the music's beats.
Parts: `music` (genre-styled songs rendered with a General MIDI soundfont), `moves` (genre choreography on
the beat grid), `skeleton` (SMPL-like kinematics), `render` (the dancer on video), `dataset` (the files).
"""

from .dataset import SYNTH_VERSION, ClipInfo, make_clip, make_dataset, split_of

__all__ = ["SYNTH_VERSION", "ClipInfo", "make_clip", "make_dataset", "split_of"]
