"""Copy a trained D2M-GAN generator into the package's shipped weights and print its registry entry.

    python scripts/ship_gan.py runs/gan_top/generator.safetensors --name d2m-top
    python scripts/ship_gan.py runs/gan_lower/generator.safetensors --name d2m-lower
    python scripts/ship_gan.py RUN/generator.safetensors --name d2m-top --vqvae vqvae-base \
        --prior-cache data/cache/synth --prior-weight 100       # with a genre code prior (D2M.lookup_codes)

Writes ``src/dance2music/pretrained/weights/<name with _>.safetensors`` (float16 weights, float32 buffers:
half the size, same music to the ear) and its ``.json`` beside it, checks that the copy rebuilds and generates,
and prints the `pretrained.registry.REGISTRY` entry (with the sha256) to paste.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from dance2music.models.d2m import D2M, load_generator, save_generator
from dance2music.training.code_prior import code_prior_from_cache
from dance2music.models.vqvae import VQVAE
from dance2music.pretrained.registry import WEIGHTS_DIR, resolve, sha256_file


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("generator", type=Path, help="generator.safetensors exported by d2m train gan")
    ap.add_argument("--name", required=True, help="registry name, e.g. d2m-top")
    ap.add_argument("--vqvae", default="vqvae-small", help="the registered VQ-VAE it ships with")
    ap.add_argument(
        "--trained-vqvae", default=None,
        help="the VQ-VAE it was trained against when --vqvae is another with the same codebooks (new decoders)",
    )  # fmt: skip
    ap.add_argument("--prior-cache", default=None, help="feature cache whose music gives the genre code prior")
    ap.add_argument("--prior-split", default="train", help="its split (default train)")
    ap.add_argument("--prior-max", type=int, default=None, help="count the prior over at most this many sequences")
    ap.add_argument("--prior-weight", type=float, default=0.0, help="weight of the prior in the lookup (0: none)")
    ap.add_argument("--record", type=Path, default=None,
                    help="a JSON training record (command, config, curve, final metrics) kept in the metadata")
    args = ap.parse_args(argv)
    generator, header = load_generator(args.generator)
    out = WEIGHTS_DIR / f"{args.name.replace('-', '_')}.safetensors"
    meta = {**header["meta"], "source": str(args.generator)}
    if args.record is not None:
        meta["training"] = json.loads(args.record.read_text())
    # The codes mean what the codebooks say: the shipped VQ-VAE must have those the generator was trained on.
    shipped_path = resolve(args.vqvae, kind="vqvae")
    shipped = VQVAE.load(shipped_path)
    digest = shipped.codebook_sha256()
    known = header["meta"].get("vqvae_codebook_sha256")
    if args.trained_vqvae:
        known = VQVAE.from_pretrained(args.trained_vqvae).codebook_sha256()
    trained_sha = header["meta"].get("vqvae_sha256")
    if known is None and trained_sha not in (None, sha256_file(shipped_path)):
        raise SystemExit(f"{args.generator} was trained against another VQ-VAE: name it with --trained-vqvae")
    if known is not None and known != digest:
        raise SystemExit(f"{args.vqvae} does not have the codebooks {args.generator} was trained on")
    meta["vqvae_codebook_sha256"] = digest
    prior = None
    if args.prior_cache:
        prior = code_prior_from_cache(D2M.load(args.generator, vqvae=shipped), args.prior_cache, args.prior_split,
                                     args.prior_max)
        meta["code_prior"] = {"cache": args.prior_cache, "split": args.prior_split, "max_sequences": args.prior_max}
    save_generator(out, generator, vqvae_ref=args.vqvae, meta=meta, half=True, code_prior=prior,
                   prior_weight=args.prior_weight)  # fmt: skip
    model = D2M.load(out)  # the shipped copy must rebuild with the registered VQ-VAE and make music
    rdim = getattr(model.generator, "rhythm_dim", 0)
    rhythm = torch.zeros(1, rdim, 30) if rdim else None
    audio = model.generate(torch.zeros(1, model.generator.motion_dim, 30), _visual(model), rhythm=rhythm).audio
    assert audio.shape[-1] == model.sample_rate and torch.isfinite(audio).all()
    level = "top" if model.hop_length == 128 else "lower"
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    print(
        f'    "{args.name}": Entry(\n        name="{args.name}",\n        file="{out.name}",\n'
        f'        sha256="{sha256_file(out)}",\n        kind="d2m",\n'
        f'        description="D2M-GAN {level}-level generator (hop {model.hop_length}) on {args.vqvae}",\n    ),'
    )
    return 0


def _visual(model: D2M) -> torch.Tensor | None:
    dim = model.generator.visual_dim
    return torch.zeros(1, dim, 30) if dim else None


if __name__ == "__main__":
    sys.exit(main())
