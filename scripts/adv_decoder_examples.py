"""Before/after spectrograms and audio of one real track's round trip through two tokenizers (issue 17).

    python scripts/adv_decoder_examples.py --before vqvae-base --after vqvae-base-adv \
        --track happy_acoustic_1 --start 20 --seconds 6 --png docs/vqvae_adv_spectrogram.png \
        --audio docs/audio --audio-seconds 4

The track (an immich eval track by stem) is cut to ``--seconds`` from ``--start``, encoded at each level and
decoded by each tokenizer; both must share their codebooks (the codes are the same, only the decoders differ).
The PNG has one column per level and the rows original / before / after (log-mel dB, one colour scale, each
panel titled with its high-band floor rise and log-mel L1). ``--audio`` writes the first ``--audio-seconds``
of each version as Ogg Vorbis at 22.05 kHz: original.ogg, <level>_<before|after>.ogg.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from dance2music.constants import SAMPLE_RATE  # noqa: E402
from dance2music.data.music import load_audio, resolve_sources  # noqa: E402
from dance2music.losses.spectral import LogMelDistance  # noqa: E402
from dance2music.metrics.sound import floor_rise_db, log_mel_db  # noqa: E402
from dance2music.models.vqvae import VQVAE  # noqa: E402

LEVEL_NAMES = {128: "top", 32: "lower"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", default="vqvae-base")
    ap.add_argument("--after", required=True)
    ap.add_argument("--before-label", default=None)
    ap.add_argument("--after-label", default=None)
    ap.add_argument("--files", nargs="*", default=["immich:eval"])
    ap.add_argument("--track", default="happy_acoustic_1", help="stem of the track to use")
    ap.add_argument("--start", type=float, default=20.0)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--png", type=Path)
    ap.add_argument("--audio", type=Path, help="folder for the Ogg Vorbis examples")
    ap.add_argument("--audio-seconds", type=float, default=4.0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    sr = SAMPLE_RATE
    files = [f for f in resolve_sources(args.files) if f.stem == args.track]
    if not files:
        print(f"error: no track {args.track!r} in {args.files}", file=sys.stderr)
        return 1
    y = load_audio(files[0], sr)
    y = y[int(args.start * sr) : int((args.start + args.seconds) * sr)].astype(np.float32)
    before, after = VQVAE.from_pretrained(args.before), VQVAE.from_pretrained(args.after)
    if before.codebook_sha256() != after.codebook_sha256():
        print("error: the two tokenizers have different codebooks", file=sys.stderr)
        return 1
    labels = (args.before_label or args.before, args.after_label or args.after)
    mel = LogMelDistance(sample_rate=sr)
    x = torch.from_numpy(y)[None, None]
    versions: dict[str, dict[str, np.ndarray]] = {}
    scores: dict[tuple[str, str], tuple[float, float]] = {}
    with torch.no_grad():
        for L in reversed(range(before.levels)):  # top level first
            level = LEVEL_NAMES.get(before.hops[L], f"hop{before.hops[L]}")
            codes = before.encode(x, L)
            versions[level] = {}
            for tag, model in zip(("before", "after"), (before, after)):
                r = model.decode_chunked(codes, L)[0, 0, : len(y)].numpy()
                versions[level][tag] = r
                scores[(level, tag)] = (
                    floor_rise_db(r, y, sr), float(mel(torch.from_numpy(r)[None, None], x))
                )  # fmt: skip
                print(f"{level} {tag}: floor rise {scores[(level, tag)][0]:+.2f} dB, mel L1 "
                      f"{scores[(level, tag)][1]:.3f}", file=sys.stderr)  # fmt: skip
    if args.png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        levels = list(versions)
        fig, axes = plt.subplots(3, len(levels), figsize=(6.2 * len(levels), 7.2), sharex=True, sharey=True)
        ref_db, freqs = log_mel_db(y, sr)
        vmax = float(ref_db.max())
        vmin = vmax - 80.0
        for j, level in enumerate(levels):
            hop = [h for h, n in LEVEL_NAMES.items() if n == level]
            panels = [("original", y, None)] + [
                (f"{labels[i]}, {level} level" + (f" (hop {hop[0]})" if hop else ""), versions[level][tag],
                 scores[(level, tag)])
                for i, tag in enumerate(("before", "after"))
            ]  # fmt: skip
            for i, (title, w, sc) in enumerate(panels):
                ax = axes[i, j]
                db, _ = log_mel_db(w, sr)
                ax.imshow(db, origin="lower", aspect="auto", cmap="magma", vmin=vmin, vmax=vmax,
                          extent=(0, len(w) / sr, 0, db.shape[0]))  # fmt: skip
                if sc is not None:
                    title += f": floor {sc[0]:+.1f} dB, mel L1 {sc[1]:.3f}"
                ax.set_title(title, fontsize=9, loc="left")
                k = int(np.searchsorted(freqs, 2000.0))
                ax.axhline(k, color="w", lw=0.5, ls=":")
                if j == 0:
                    ax.set_ylabel("mel band")
            axes[-1, j].set_xlabel("seconds")
        fig.suptitle(
            f"{args.track}, {args.start:g}-{args.start + args.seconds:g} s: log-mel dB (dotted: 2 kHz)", fontsize=10
        )
        fig.tight_layout()
        args.png.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.png, dpi=72)
        plt.close(fig)
        from PIL import Image

        Image.open(args.png).convert("RGB").quantize(colors=128).save(args.png, optimize=True)  # a third the size
        print(f"wrote {args.png} ({args.png.stat().st_size / 1024:.0f} KiB)", file=sys.stderr)
    if args.audio:
        import soundfile as sf

        args.audio.mkdir(parents=True, exist_ok=True)
        n = int(args.audio_seconds * sr)
        fade = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / (0.02 * sr)).astype(np.float32)
        out = {"original": y}
        for level, vs in versions.items():
            out.update({f"{level}_{tag}": w for tag, w in vs.items()})
        for name, w in out.items():
            path = args.audio / f"{name}.ogg"
            sf.write(path, np.clip(w[:n] * fade[: len(w[:n])], -1, 1), sr, format="OGG", subtype="VORBIS")
            print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
