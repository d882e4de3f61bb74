"""How well and how fast the shipped audio tokenizer reconstructs music it never saw.

On the held-out tracks of immich-memories-music (or ``--files``), for every level of the VQ-VAE:
multi-resolution STFT distance and log-mel L1 against the input, onset F1 (+-50 ms, librosa onset_detect on
input and reconstruction), codebook perplexity over all held-out codes, decoding speed (x real time, wall
clock and per CPU second, with ``--threads`` torch threads), and the peak memory of `decode_chunked` on long
inputs (flat in length) against a whole-sequence decode. Also draws input vs reconstruction spectrograms.

    python benchmarks/bench_vqvae.py                       # Markdown on stdout
    python benchmarks/bench_vqvae.py --json out.json --png docs/vqvae_spectrogram.png

Targets (issue 5): onset F1 >= 0.85 at the top level; perplexity >= 25% of the codebook; top-level decoding
>= 100x real time on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

# Idle OpenMP threads sleep instead of spinning: on a shared machine a spinning thread that lost its core
# made 2-thread decoding 15x slower than 1 thread. Must be set before torch starts its thread pool.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import peak_rss_mb

from dance2music.constants import SAMPLE_RATE  # noqa: E402
from dance2music.data.music import load_audio, resolve_sources
from dance2music.features.beats import beat_f1
from dance2music.losses.spectral import LogMelDistance, MultiResolutionSTFTLoss
from dance2music.models.vqvae import VQVAE

ONSET_TOLERANCE_S = 0.05


def onsets(y: np.ndarray, sr: int) -> np.ndarray:
    import librosa

    return librosa.onset.onset_detect(y=y.astype(np.float32), sr=sr, units="time")


@torch.no_grad()
def quality(model: VQVAE, tracks: list[np.ndarray], sr: int) -> list[dict[str, float]]:
    mr, mel = MultiResolutionSTFTLoss(), LogMelDistance(sample_rate=sr)
    rows = []
    for L in range(model.levels):
        stft, meld, matches, n_ref, n_est = [], [], 0, 0, 0
        f1s = []
        hist = torch.zeros(model.l_bins)
        for y in tracks:
            x = torch.from_numpy(y)[None, None]
            codes = model.encode(x, L)
            hist += torch.bincount(codes.flatten(), minlength=model.l_bins).float()
            r = model.decode_chunked(codes, L)[..., : x.shape[-1]]
            stft.append(float(mr(r, x).total))
            meld.append(float(mel(r, x)))
            f = beat_f1(onsets(y, sr), onsets(r[0, 0].numpy(), sr), tolerance=ONSET_TOLERANCE_S)
            f1s.append(f.f1)
            matches, n_ref, n_est = matches + f.matches, n_ref + f.n_ref, n_est + f.n_est
        p = hist / hist.sum()
        ppl = float(torch.exp(-(p * p.clamp_min(1e-12).log()).sum()))
        rows.append(
            {
                "level": L,
                "hop": model.hops[L],
                "mr_stft": float(np.mean(stft)),
                "mel_l1": float(np.mean(meld)),
                "onset_f1": 2.0 * matches / max(1, n_ref + n_est),
                "onset_f1_per_track_min": float(np.min(f1s)),
                "perplexity": ppl,
                "perplexity_pct": 100.0 * ppl / model.l_bins,
                "codes_used_pct": 100.0 * float((hist > 0).float().mean()),
            }
        )
    return rows


@torch.no_grad()
def speed(model: VQVAE, seconds: float, repeats: int, sr: int) -> list[dict[str, float]]:
    rows = []
    for L in range(model.levels):
        n = int(seconds * sr) // model.hops[L]
        codes = torch.randint(0, model.l_bins, (1, n))
        model.decode_chunked(codes[:, : min(n, 256)], L)  # warm-up
        wall, cpu = [], []
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            model.decode_chunked(codes, L)
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        audio = n * model.hops[L] / sr
        rows.append(
            {
                "level": L,
                "x_realtime_wall": audio / min(wall),
                "x_realtime_per_cpu_second": audio / min(cpu),
            }
        )
    return rows


@torch.no_grad()
def memory(model: VQVAE, lengths: list[float], whole_seconds: float, sr: int) -> list[dict[str, float]]:
    """Peak RSS growth of the top level's decode_chunked for increasing lengths, then of a whole decode.

    Peak RSS only grows, so lengths run from short to long and the whole decode comes last; the output buffer
    (4 bytes a sample) is reported separately because any decoder must hold it.
    """
    L = model.levels - 1
    rows = []
    base = peak_rss_mb()
    for s in lengths:
        codes = torch.randint(0, model.l_bins, (1, int(s * sr) // model.hops[L]))
        y = model.decode_chunked(codes, L)
        rows.append(
            {"method": "decode_chunked", "seconds": s, "peak_rss_growth_mb": peak_rss_mb() - base,
             "output_mb": y.numel() * 4 / 2**20}
        )  # fmt: skip
        del y
    s = whole_seconds
    codes = torch.randint(0, model.l_bins, (1, int(s * sr) // model.hops[L]))
    y = model.decode(codes, L)
    rows.append(
        {"method": "decode (whole)", "seconds": s, "peak_rss_growth_mb": peak_rss_mb() - base,
         "output_mb": y.numel() * 4 / 2**20}
    )  # fmt: skip
    return rows


@torch.no_grad()
def spectrogram_png(model: VQVAE, y: np.ndarray, sr: int, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mel = LogMelDistance(sample_rate=sr)
    x = torch.from_numpy(y)[None, None]
    panels = [("input", x)]
    for L in range(model.levels):
        r = model.decode(model.encode(x, L), L)[..., : x.shape[-1]]
        panels.append((f"level {L} (hop {model.hops[L]}, {sr / model.hops[L]:.0f} codes/s)", r))
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 2.4 * len(panels)), sharex=True)
    for ax, (name, w) in zip(axes, panels):
        m = mel.log_mel(w)[0].numpy()
        ax.imshow(m, origin="lower", aspect="auto", cmap="magma", vmin=-5, vmax=m.max(),
                  extent=(0, w.shape[-1] / sr, 0, m.shape[0]))  # fmt: skip
        ax.set_ylabel("mel bin")
        ax.set_title(name, fontsize=10, loc="left")
    axes[-1].set_xlabel("seconds")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="vqvae-small", help="registered name or .safetensors path")
    ap.add_argument("--files", nargs="*", default=["immich:eval"], help="held-out music (folders, files, immich:eval)")
    ap.add_argument("--max-seconds", type=float, default=30.0, help="use at most this much of each track")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--speed-seconds", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--memory-seconds", type=float, nargs="*", default=[60.0, 600.0])
    ap.add_argument("--whole-seconds", type=float, default=120.0, help="length of the whole-sequence decode")
    ap.add_argument("--skip-quality", action="store_true", help="only speed and memory")
    ap.add_argument("--quality-only", action="store_true", help="skip speed and memory")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--png", type=Path, help="write input vs reconstruction spectrograms here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    sr = SAMPLE_RATE
    model = VQVAE.from_pretrained(args.model)
    files = resolve_sources(args.files)
    tracks = [load_audio(f, sr)[: int(args.max_seconds * sr)] for f in files]

    # first: the peak RSS must not include the other measurements
    mem = [] if args.quality_only else memory(model, args.memory_seconds, args.whole_seconds, sr)
    q = [] if args.skip_quality else quality(model, tracks, sr)
    sp = [] if args.quality_only else speed(model, args.speed_seconds, args.repeats, sr)
    if args.png:
        start = max(0, len(tracks[0]) // 2 - 3 * sr)
        spectrogram_png(model, tracks[0][start : start + 6 * sr], sr, args.png,
                        f"{files[0].name} (held out): input vs reconstruction")  # fmt: skip

    info = {
        "model": args.model,
        "config": model.config,
        "files": [f.name for f in files],
        "seconds_per_track": args.max_seconds,
        "threads": args.threads,
        "cpu": platform.processor() or platform.machine(),
        "load_average": os.getloadavg(),
    }
    print(f"# VQ-VAE benchmark: {args.model}, {len(files)} held-out tracks x {args.max_seconds:.0f} s, "
          f"{args.threads} threads, load average {info['load_average'][0]:.1f}\n")  # fmt: skip
    print("| level | hop | MR-STFT | mel L1 | onset F1 (+-50 ms) | worst track F1 | perplexity | % of codebook "
          "| codes used | decode x real time (wall) | per CPU second |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    nan = {"x_realtime_wall": float("nan"), "x_realtime_per_cpu_second": float("nan")}
    levels = q or [{"level": r["level"], "hop": model.hops[r["level"]]} for r in sp]
    for a, b in zip(levels, sp or [nan] * len(levels)):
        if "mr_stft" not in a:
            print(f"| {a['level']} | {a['hop']} | - | - | - | - | - | - | - | {b['x_realtime_wall']:.1f}x | "
                  f"{b['x_realtime_per_cpu_second']:.1f}x |")  # fmt: skip
            continue
        cells = [
            str(a["level"]), str(a["hop"]), f"{a['mr_stft']:.3f}", f"{a['mel_l1']:.3f}", f"{a['onset_f1']:.3f}",
            f"{a['onset_f1_per_track_min']:.3f}", f"{a['perplexity']:.1f}", f"{a['perplexity_pct']:.1f}%",
            f"{a['codes_used_pct']:.0f}%", f"{b['x_realtime_wall']:.1f}x", f"{b['x_realtime_per_cpu_second']:.1f}x",
        ]  # fmt: skip
        print("| " + " | ".join(cells) + " |")
    print("\n| memory (top level) | seconds | peak RSS growth (MB) | output buffer (MB) |")
    print("|---|---|---|---|")
    for m in mem:
        print(f"| {m['method']} | {m['seconds']:.0f} | {m['peak_rss_growth_mb']:.0f} | {m['output_mb']:.0f} |")
    if args.json:
        args.json.write_text(json.dumps({"info": info, "quality": q, "speed": sp, "memory": mem}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
