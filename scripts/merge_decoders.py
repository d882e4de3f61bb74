"""Put the fine-tuned decoders of several `d2m train synth` runs (one level each) into one VQ-VAE file.

    python scripts/merge_decoders.py --base vqvae-base --out runs/synth_gpu/vqvae.safetensors \
        runs/synth_gpu/top/vqvae.safetensors runs/synth_gpu/lower/vqvae.safetensors

Each run's file is the whole tokenizer with one level's decoder changed (its metadata names the hop); the
encoders and codebooks must be the base's (same codebook sha256), so every generator's codes stay valid.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dance2music.models.vqvae import VQVAE


def _meta(path: Path) -> dict:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        header = f.metadata() or {}
    return json.loads(header.get("dance2music.vqvae", "{}")).get("meta", {})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="vqvae.safetensors files exported by d2m train synth")
    ap.add_argument("--base", default="vqvae-base", help="the tokenizer they fine-tuned (name or file)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    model = VQVAE.from_pretrained(args.base)
    digest = model.codebook_sha256()
    merged = {}
    for path in args.runs:
        meta = _meta(path)
        hop = meta.get("fine_tuned_hop")
        if hop is None:
            print(f"error: {path} is not a d2m train synth export (no fine_tuned_hop)", file=sys.stderr)
            return 1
        run = VQVAE.load(path)
        if run.codebook_sha256() != digest:
            print(f"error: {path} has other codebooks than {args.base}", file=sys.stderr)
            return 1
        level = model.level_for_hop(int(hop))
        model.decoders[level].load_state_dict(run.decoders[level].state_dict())
        merged[str(hop)] = {"file": str(path), "step": meta.get("step"), **{k: meta[k] for k in ("data",) if k in meta}}
        print(f"hop {hop}: decoder from {path} (step {meta.get('step')})", file=sys.stderr)
    model.save(args.out, meta={"task": "synth", "base": args.base, "codebook_sha256": digest, "decoders": merged})
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
