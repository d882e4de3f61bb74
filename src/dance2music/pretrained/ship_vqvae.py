"""Ship a trained tokenizer run as the package's ``vqvae-small`` weights.

    python -m dance2music.pretrained.ship_vqvae runs/vqvae_small [--bench bench.json]

Copies ``RUN/vqvae.safetensors`` (float32: the file is about a megabyte) to ``pretrained/weights/`` and writes
``vqvae_small.json`` beside it: the model config, the training config and step that produced it, and the
benchmark numbers if given. Writes the new sha256 into the registry entry (`registry.py`).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

from ..models.vqvae import VQVAE
from .registry import REGISTRY, WEIGHTS_DIR, sha256_file


def ship(
    run: Path, name: str = "vqvae-small", bench: Path | None = None, *, command: str | None = None,
    record: Path | None = None,
) -> Path:  # fmt: skip
    entry = REGISTRY[name]
    src = run / "vqvae.safetensors"
    model = VQVAE.load(src)
    from safetensors import safe_open

    with safe_open(str(src), framework="pt") as f:
        header = f.metadata() or {}
    meta = json.loads(header["dance2music.vqvae"])["meta"] if "dance2music.vqvae" in header else {}
    if not meta:
        meta = json.loads(header.get("meta", "{}"))
    train_cfg = yaml.safe_load((run / "config.yaml").read_text()) if (run / "config.yaml").is_file() else None
    info = {
        "name": name,
        "kind": entry.kind,
        "model": model.config,
        "hops": model.hops,
        "step": meta.get("step"),
        "command": command or f"d2m train vqvae --config configs/{name.replace('-', '_')}.yaml --out {run}",
        "training_config": train_cfg,
    }
    if bench is not None:
        info["benchmark"] = json.loads(bench.read_text())
    if record is not None:  # e.g. the eval curve of a `d2m train synth` run
        info["training"] = json.loads(record.read_text())
    dst = WEIGHTS_DIR / entry.file
    kept = {k: meta[k] for k in ("base", "codebook_sha256", "decoders") if k in meta}  # scripts/merge_decoders.py
    model.save(dst, meta={"step": meta.get("step"), "name": name, **kept})
    dst.chmod(0o644)
    dst.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")
    return dst


def set_registry_sha(name: str, sha: str) -> None:
    """Rewrite the ``sha256="..."`` of entry ``name`` in registry.py (the source file of the package)."""
    from . import registry

    path = Path(registry.__file__)
    text = path.read_text()
    pattern = re.compile(r'(Entry\(\s*name="' + re.escape(name) + r'",.*?sha256=")([0-9a-f]*)(")', re.S)
    new, n = pattern.subn(lambda m: m.group(1) + sha + m.group(3), text, count=1)
    if n != 1:
        raise SystemExit(f"no registry entry {name!r} in {path}")
    path.write_text(new)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="ship a trained VQ-VAE run as package weights")
    ap.add_argument("run", type=Path)
    ap.add_argument("--name", default="vqvae-small")
    ap.add_argument("--bench", type=Path, help="JSON written by benchmarks/bench_vqvae.py --json")
    ap.add_argument("--command", help="the training command to record (default: d2m train vqvae ...)")
    ap.add_argument("--record", type=Path, help="JSON of further training record (curve, final metrics)")
    args = ap.parse_args(argv)
    dst = ship(args.run, args.name, args.bench, command=args.command, record=args.record)
    set_registry_sha(args.name, sha256_file(dst))
    print(f"wrote {dst} ({dst.stat().st_size / 1024:.0f} KiB) sha256 {sha256_file(dst)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
