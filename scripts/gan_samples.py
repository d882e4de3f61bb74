"""Write D2M-GAN music for every sequence of a cached split, for ``d2m evaluate --generated NAME=OUT``.

    python scripts/gan_samples.py --model runs/gan_top/generator.safetensors --cache data/cache/synth \
        --split test --out runs/gan_top/samples
    python scripts/gan_samples.py --model d2m-top --cache data/cache/synth --out runs/random --random-codes
"""

from __future__ import annotations

import argparse
import sys

import torch

from dance2music.errors import D2MError
from dance2music.models.d2m import D2M, check_noise_scale
from dance2music.models.samples import write_samples
from dance2music.pretrained.registry import REGISTRY, resolve


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="generator .safetensors or a registered name (d2m-top ...)")
    ap.add_argument("--vqvae", default=None, help="VQ-VAE name or file (default: the one the model records)")
    ap.add_argument("--cache", required=True, help="feature cache folder (d2m data prepare)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--out", required=True, help="folder for <seq>.wav")
    ap.add_argument("--random-codes", action="store_true", help="write the random-code baseline instead")
    ap.add_argument("--reconstruct", action="store_true", help="write the VQ-VAE reconstruction of the real music")
    genre = ap.add_mutually_exclusive_group()
    genre.add_argument("--no-genre", action="store_true", help="do not give the model the labelled genre")
    genre.add_argument(
        "--dance-genre", action="store_true",
        help="give the model the genre the dance-genre classifier reads off the motion (as d2m generate does)",
    )  # fmt: skip
    ap.add_argument("--no-tempo", action="store_true", help="do not give the model the labelled tempo")
    ap.add_argument("--prior-weight", type=float, default=None, help="override the genre code prior's weight")
    ap.add_argument("--noise-scale", type=float, default=None, help="override the generator's noise scale")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max", type=int, default=None, help="at most this many sequences")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        path = args.model
        if args.vqvae is not None and path in REGISTRY:  # D2M.load takes a file: resolve a registered name
            path = resolve(path, kind="d2m")
        model = D2M.from_pretrained(path) if args.vqvae is None else D2M.load(path, vqvae=args.vqvae)
        if args.prior_weight is not None:
            model.prior_weight = args.prior_weight
        if args.noise_scale is not None:
            model.noise_scale = check_noise_scale(args.noise_scale)
        files = write_samples(
            model, args.cache, args.out, split=args.split, seed=args.seed,
            mode="random-codes" if args.random_codes else "reconstruct" if args.reconstruct else "generate",
            use_genre="dance" if args.dance_genre else not args.no_genre, use_tempo=not args.no_tempo,
            max_sequences=args.max,
        )  # fmt: skip
    except D2MError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    print(f"wrote {len(files)} file(s) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
