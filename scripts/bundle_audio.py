"""Bundle training music into one .npy (+ .json of track boundaries) for `d2m train synth` on a bare machine.

    python scripts/bundle_audio.py --out runs/gpu/audio_train.npy \
        --sources immich:train aist:data/synth:train --max-mb 38 \
        --eval-out runs/gpu/audio_eval.npy --eval-sources immich:eval

then ``d2m train synth ... --set data.bundle=runs/gpu/audio_train.npy --set data.eval_bundle=runs/gpu/audio_eval.npy``
reads the music with numpy alone (no librosa, soundfile or immich-memories-music needed there).

The size budget is shared equally between the sources (``immich:train`` and the synthetic set get the same
seconds), then fairly between the files of each source, each file's share cut into pieces of up to
``--piece-seconds`` spread evenly over it (so a long track contributes its intro, middle and end). The
held-out bundle holds ``--eval-count`` fixed crops of ``--eval-seconds`` per file (`data.music.eval_segments`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dance2music.constants import SAMPLE_RATE
from dance2music.data.music import eval_segments, load_audio, resolve_sources
from dance2music.training.synth_data import excerpts, write_bundle


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="the training bundle to write (.npy)")
    ap.add_argument("--sources", nargs="+", default=["immich:train", "aist:data/synth:train"])
    ap.add_argument("--max-mb", type=float, default=38.0, help="size of the training bundle (default 38 MB)")
    ap.add_argument("--piece-seconds", type=float, default=6.0, help="longest contiguous piece of a file")
    ap.add_argument("--dtype", choices=["int16", "float16"], default="int16")
    ap.add_argument("--eval-out", type=Path, default=None, help="also write held-out music here (.npy)")
    ap.add_argument("--eval-sources", nargs="+", default=["immich:eval"])
    ap.add_argument("--eval-seconds", type=float, default=4.0)
    ap.add_argument("--eval-count", type=int, default=2, help="crops per held-out file")
    ap.add_argument("-f", "--force", action="store_true", help="overwrite existing bundles")
    args = ap.parse_args(argv)
    sr = SAMPLE_RATE
    for p in (args.out, args.eval_out):
        if p is not None and p.exists() and not args.force:
            print(f"error: {p} exists (use -f to overwrite)", file=sys.stderr)
            return 1
    budget = args.max_mb * 1e6 / 2 / sr  # seconds: 2 bytes a sample
    pieces = []
    for src in args.sources:
        files = resolve_sources([src])
        tracks = [(f"{src}/{f.stem}", load_audio(f, sr)) for f in files]
        got = excerpts(tracks, budget / len(args.sources), sample_rate=sr, piece_seconds=args.piece_seconds)
        secs = sum(len(a) for _, a in got) / sr
        print(f"{src}: {len(files)} files, {secs:.0f} s in {len(got)} pieces", file=sys.stderr)
        pieces += got
    path = write_bundle(pieces, args.out, sample_rate=sr, dtype=args.dtype)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, {sum(len(a) for _, a in pieces) / sr:.0f} s)")
    if args.eval_out is not None:
        files = resolve_sources(args.eval_sources)
        clips = eval_segments(files, seconds=args.eval_seconds, count=args.eval_count, sample_rate=sr)
        names = [f"{f.stem}#{i}" for f in files for i in range(args.eval_count)]
        path = write_bundle(list(zip(names, clips[:, 0].numpy())), args.eval_out, sample_rate=sr, dtype=args.dtype)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, {len(names)} clips of {args.eval_seconds:g} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
