"""Spectrograms of music made for real dances, with the dancer's kinematic beats and the music's beats marked.

    python scripts/rhythm_spectrogram.py ../shared/data/real-motion --models OLD.safetensors d2m-top \
        --out docs/rhythm_real_spectrogram.png [--sequences 0 3] [--seconds 8] [--audio DIR] [--genre labelled]

For each chosen sequence (by index in name order) and model: the first ``--seconds`` of the dance analysed as
`d2m generate` analyses video, music with seed 0, its mel spectrogram; cyan lines are the dancer's kinematic
beats, green ticks the music's beats as the metrics find them. ``--audio DIR``: each row's music is also written
there as Ogg Vorbis (22.05 kHz), ``<dance genre>_<model file stem>.ogg``. ``--genre``: the genre to generate
with (default: read off the dance; ``labelled``: each file's own).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    import librosa
    import matplotlib
    import soundfile as sf

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dance2music import Dance2Music
    from dance2music.constants import SAMPLE_RATE
    from dance2music.features.beats import kinematic_beats, music_beats
    from dance2music.metrics.evaluate_motion import keypoints_to_motion, load_keypoint_sequence

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="keypoint sequences (<name>.npz)")
    ap.add_argument("--models", nargs="+", default=["d2m-top"], help="names or .safetensors paths, one row each")
    ap.add_argument("--sequences", type=int, nargs="+", default=[0, 3])
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--audio", type=Path, default=None, help="also write each row's music here (.ogg)")
    ap.add_argument("--genre", default=None, help="genre to generate with ('labelled': each file's own)")
    args = ap.parse_args(argv)
    if args.audio is not None:
        args.audio.mkdir(parents=True, exist_ok=True)
    files = sorted(args.folder.glob("*.npz"))
    models = [(name, Dance2Music.from_pretrained(name)) for name in args.models]
    rows = [(files[i], name, model) for i in args.sequences for name, model in models]
    fig, axes = plt.subplots(len(rows), 1, figsize=(12, 2.7 * len(rows)), squeeze=False)
    for ax, (path, name, model) in zip(axes[:, 0], rows):
        seq = load_keypoint_sequence(path)
        n = int(round(args.seconds * seq.fps))
        motion = keypoints_to_motion(seq.keypoints[:n], seq.fps)
        genre = seq.genre if args.genre == "labelled" else args.genre
        audio = model.generate(motion, seed=0, genre=genre).audio
        if args.audio is not None:
            sf.write(args.audio / f"{seq.name[:3]}_{Path(name).stem}.ogg", audio, SAMPLE_RATE, format="OGG",
                     subtype="VORBIS")  # fmt: skip
        mel = librosa.feature.melspectrogram(y=audio, sr=SAMPLE_RATE, n_mels=96, hop_length=256)
        ax.imshow(librosa.power_to_db(mel, ref=np.max), origin="lower", aspect="auto", vmin=-70, cmap="magma",
                  extent=[0, len(audio) / SAMPLE_RATE, 0, 96])  # fmt: skip
        for b in kinematic_beats(motion).times:
            ax.axvline(b, color="cyan", lw=0.6, alpha=0.6)
        for b in music_beats(audio):
            ax.axvline(b, ymin=0, ymax=0.08, color="lime", lw=2)
        ax.set_title(f"{seq.name[:3]} {seq.nominal_bpm:.0f} BPM, {Path(name).stem}: mel spectrogram; "
                     "cyan = the dancer's kinematic beats, green ticks = the music's beats")  # fmt: skip
    fig.tight_layout()
    fig.savefig(args.out, dpi=55)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
