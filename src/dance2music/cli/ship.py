"""``d2m ship``: copy trained weights into the package and register them (vqvae, d2m, dance-genre, genre-cnn).

Copy trained weights into the package's weights folder and write their registry entry.

    d2m ship vqvae runs/vqvae_base --name vqvae-base [--bench bench.json] [--record curve.json]
    d2m ship d2m RUN/generator.safetensors --name d2m-top --vqvae vqvae-base \\
        [--prior-cache data/cache/synth --prior-weight 100 | --prior-from d2m-top] [--noise-scale S] [--record R] \\
        [--match-cache data/cache/synth | --no-match]
    d2m ship dance-genre OUT/dance_genre.safetensors         # scripts/train_dance_genre.py's file
    d2m ship genre-cnn OUT/genre_cnn.safetensors              # scripts/train_genre.py's file

Every kind ends the same way: the weights and their ``<stem>.json`` lie in `pretrained.registry.WEIGHTS_DIR`
and the registry entry of ``--name`` holds their sha256 (`registry.write_entry`; a new name gets a new entry).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

from ..constants import MOTION_FPS
from ..errors import ConfigError, InputError
from ..pretrained.registry import REGISTRY, WEIGHTS_DIR, Entry, resolve, sha256_file, write_entry
from ..types import Motion
from . import add_command

#: Kinds shipped as the file their training wrote (copied, checked, registered): subcommand -> registry kind.
FILE_KINDS = {"dance-genre": "dance_genre", "genre-cnn": "genre_cnn"}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, __name__)
    kinds = p.add_subparsers(dest="kind", metavar="KIND")
    v = kinds.add_parser("vqvae", help="a tokenizer run folder (RUN/vqvae.safetensors)")
    v.add_argument("run", type=Path)
    v.add_argument("--name", default="vqvae-small")
    v.add_argument("--bench", type=Path, help="JSON written by benchmarks/bench_vqvae.py --json")
    v.add_argument("--command", help="the training command to record (default: d2m train vqvae ...)")
    v.add_argument(
        "--record", type=Path, action="append",
        help="JSON of further training record (curve, final metrics); repeat it for a run of several stages",
    )  # fmt: skip
    v.add_argument(
        "--half", action="store_true",
        help="store decoders and post-filters as float16 (encoders and codebooks stay float32: the same codes)",
    )  # fmt: skip
    v.set_defaults(func=run_vqvae)
    g = kinds.add_parser("d2m", help="a D2M-GAN generator (generator.safetensors of d2m train gan)")
    g.add_argument("generator", type=Path)
    g.add_argument("--name", required=True, help="registry name, e.g. d2m-top")
    g.add_argument("--vqvae", default="vqvae-small", help="the registered VQ-VAE it ships with")
    g.add_argument(
        "--trained-vqvae", default=None,
        help="the VQ-VAE it was trained against when --vqvae is another with the same codebooks (new decoders)",
    )  # fmt: skip
    g.add_argument("--prior-cache", default=None, help="feature cache whose music gives the genre code prior")
    g.add_argument(
        "--prior-from", default=None,
        help="take the genre code prior (and its weight) of another generator on the same codebooks, e.g. the "
        "shipped d2m-top: the prior is counted from the music, so a new generator of that level has the same",
    )  # fmt: skip
    g.add_argument("--prior-split", default="train", help="its split (default train)")
    g.add_argument("--prior-max", type=int, default=None, help="count the prior over at most this many sequences")
    g.add_argument(
        "--prior-weight", type=float, default=None,
        help="weight of the prior in the lookup (0: none; default: the generator file's own, else 0)",
    )  # fmt: skip
    g.add_argument(
        "--match-cache", default=None,
        help="feature cache whose training dances and music fit the latent match (training.latent_match): the "
        "generated features moved to the real music's mean and covariance before the code lookup",
    )
    g.add_argument("--match-max", type=int, default=150, help="fit the match on at most this many sequences")
    g.add_argument("--no-match", action="store_true", help="drop a latent match already in the file")
    g.add_argument(
        "--noise-scale", type=float, default=None,
        help="standard deviation of the generator's noise when it makes music (training draws it at 1; below 1 "
        "the music varies less with the seed; default: the generator file's own, else 1)",
    )  # fmt: skip
    g.add_argument(
        "--record", type=Path, default=None,
        help="a JSON training record (command, config, curve, final metrics) kept in the metadata",
    )  # fmt: skip
    g.set_defaults(func=run_d2m)
    for kind in FILE_KINDS:
        f = kinds.add_parser(kind, help=f"a {kind} weights file (and its .json beside it)")
        f.add_argument("weights", type=Path)
        f.add_argument("--name", default=kind)
        f.add_argument("--description", default="", help="one line for a new registry entry")
        f.set_defaults(func=run_file)


def _target(name: str, kind: str) -> Path:
    """Where the weights of registry name ``name`` go (an entry of another kind is refused)."""
    entry = REGISTRY.get(name)
    if entry is not None and entry.kind != kind:
        raise ConfigError(f"{name!r} is registered as a {entry.kind}, not a {kind}")
    return WEIGHTS_DIR / (entry.file if entry else f"{name.replace('-', '_')}.safetensors")


def _register(name: str, kind: str, dst: Path, description: str) -> None:
    sha = sha256_file(dst)
    write_entry(Entry(name=name, file=dst.name, sha256=sha, kind=kind, description=description))
    print(f"wrote {dst} ({dst.stat().st_size / 1e6:.2f} MB), registered {name!r} sha256 {sha}")


def _read_records(paths: list[Path]) -> list[dict]:
    """The JSON training records given with ``--record``, read before anything is written."""
    records = []
    for path in paths:
        try:
            records.append(json.loads(Path(path).read_text()))
        except (OSError, ValueError) as e:
            raise InputError(f"cannot read the training record {path}: {e}") from None
    return records


def run_vqvae(args: argparse.Namespace) -> int:
    """``RUN/vqvae.safetensors`` (float32) -> the weights folder, with a ``.json`` of the model config, the training
    config and step that produced it, and the benchmark numbers if given."""
    import yaml

    from ..models.vqvae import VQVAE

    name, run = args.name, Path(args.run)
    records = _read_records(args.record or [])
    src = run / "vqvae.safetensors"
    model = VQVAE.load(src)
    meta = _vqvae_meta(src)
    train_cfg = yaml.safe_load((run / "config.yaml").read_text()) if (run / "config.yaml").is_file() else None
    info = {
        "name": name,
        "kind": "vqvae",
        "model": model.config,
        "hops": model.hops,
        "step": meta.get("step"),
        "command": args.command or f"d2m train vqvae --config configs/{name.replace('-', '_')}.yaml --out {run}",
        "training_config": train_cfg,
    }
    if args.bench is not None:
        info["benchmark"] = json.loads(args.bench.read_text())
    if records:  # e.g. the eval curve of a `d2m train synth` run; several: the stages in order
        info["training"] = records[0] if len(records) == 1 else {"stages": records}
    dst = _target(name, "vqvae")
    kept = {k: meta[k] for k in ("base", "codebook_sha256", "decoders") if k in meta}  # scripts/merge_decoders.py
    model.save(dst, meta={"step": meta.get("step"), "name": name, **kept}, half=args.half)
    dst.chmod(0o644)
    dst.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")
    _register(name, "vqvae", dst, f"audio tokenizer: VQ-VAE, hops {'/'.join(map(str, model.hops))}")
    return 0


def _vqvae_meta(path: Path) -> dict:
    """The ``meta`` a VQ-VAE file records (its step, codebook digest, ...)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        header = f.metadata() or {}
    meta = json.loads(header["dance2music.vqvae"])["meta"] if "dance2music.vqvae" in header else {}
    return meta or json.loads(header.get("meta", "{}"))


def run_d2m(args: argparse.Namespace) -> int:
    """A generator -> the weights folder (float16 weights, float32 buffers: half the size, the same music to the
    ear), with the shipped VQ-VAE's codebook digest and the genre code prior when asked; the copy must rebuild
    and generate before it is registered."""
    from ..models.d2m import D2M, check_noise_scale, load_generator, save_generator
    from ..models.vqvae import VQVAE
    from ..training.code_prior import code_prior_from_cache

    if args.prior_from and args.prior_cache:
        raise ConfigError("give --prior-cache or --prior-from, not both")
    if args.match_cache and args.no_match:
        raise ConfigError("give --match-cache or --no-match, not both")
    if args.noise_scale is not None:
        check_noise_scale(args.noise_scale)
    generator, header = load_generator(args.generator)
    noise_scale = float(header.get("noise_scale", 1.0)) if args.noise_scale is None else args.noise_scale
    # A shipped generator shipped again (new decoders) keeps the source it was first shipped from.
    meta = {"source": str(args.generator), **header["meta"]}
    if args.record is not None:
        meta["training"] = _read_records([args.record])[0]
    # The codes mean what the codebooks say: the shipped VQ-VAE must have those the generator was trained on.
    shipped_path = resolve(args.vqvae, kind="vqvae")
    shipped = VQVAE.load(shipped_path)
    digest = shipped.codebook_sha256()
    known = header["meta"].get("vqvae_codebook_sha256")
    if args.trained_vqvae:
        known = VQVAE.from_pretrained(args.trained_vqvae).codebook_sha256()
    trained_sha = header["meta"].get("vqvae_sha256")
    if known is None and trained_sha not in (None, sha256_file(shipped_path)):
        raise ConfigError(f"{args.generator} was trained against another VQ-VAE: name it with --trained-vqvae")
    if known is not None and known != digest:
        raise ConfigError(f"{args.vqvae} does not have the codebooks {args.generator} was trained on")
    meta["vqvae_codebook_sha256"] = digest
    # Without a cache, a prior already in the file (a shipped generator shipped again) is kept.
    prior, weight = header.get("code_prior"), float(header.get("prior_weight") or 0.0)
    if args.prior_from:
        _, donor = load_generator(resolve(args.prior_from, kind="d2m"))
        if donor.get("code_prior") is None:
            raise ConfigError(f"{args.prior_from} has no genre code prior")
        same_level = int(donor["hop_length"]) == int(header["hop_length"])
        if donor["meta"].get("vqvae_codebook_sha256") != digest or not same_level:
            raise ConfigError(f"{args.prior_from} is not on {args.vqvae}'s codebooks at the same level")
        prior, weight = donor["code_prior"], float(donor.get("prior_weight") or 0.0)
        meta["code_prior"] = {**donor["meta"].get("code_prior", {}), "taken_from": str(args.prior_from)}
    # The generator with the shipped VQ-VAE, for what is counted or fitted from a cache.
    model = D2M.load(args.generator, vqvae=shipped) if args.prior_cache or args.match_cache else None
    if args.prior_cache:
        prior = code_prior_from_cache(model, args.prior_cache, args.prior_split, args.prior_max)
        meta["code_prior"] = {"cache": args.prior_cache, "split": args.prior_split, "max_sequences": args.prior_max}
    if args.prior_weight is not None:
        weight = args.prior_weight
    match = None if args.no_match else header.get("latent_match")  # kept when shipped again, as the prior
    if args.match_cache:
        from ..training.latent_match import latent_match_from_cache

        match = latent_match_from_cache(model, args.match_cache, "train", args.match_max)
        meta["latent_match"] = {"cache": args.match_cache, "split": "train", "max_sequences": args.match_max}
    elif match is None:
        meta.pop("latent_match", None)
    dst = _target(args.name, "d2m")
    save_generator(dst, generator, vqvae_ref=args.vqvae, meta=meta, half=True, code_prior=prior,
                   prior_weight=weight, noise_scale=noise_scale, latent_match=match)  # fmt: skip
    model = D2M.load(dst)  # the shipped copy must rebuild with the registered VQ-VAE and make music
    _check_generates(model)
    desc = f"D2M-GAN {model.level_name} level (hop {model.hop_length}) on {args.vqvae}"
    _register(args.name, "d2m", dst, desc)
    return 0


def _check_generates(model) -> None:
    """One second of a still dance through `D2M.generate`, as the API runs it: finite music of that length."""
    from ..features.rhythm import estimate_rhythm  # scipy: lazy, as the CLI's quick paths want
    from ..models.d2m import dance_tensors

    dance = Motion(np.zeros((int(round(MOTION_FPS)), 17, 3), np.float32), fps=MOTION_FPS)
    m, v = dance_tensors(dance, None, model.visual_dim)
    rhythm = estimate_rhythm(dance, window_beats=model.rhythm_window) if model.follows_rhythm else None
    audio = model.generate(m, v, rhythm=rhythm, seed=0, beat_lock=False).audio
    if audio.shape[-1] != model.sample_rate or not bool(audio.isfinite().all()):
        raise ConfigError("the shipped copy does not make a second of finite music for a second of dance")


def run_file(args: argparse.Namespace) -> int:
    """A weights file its training wrote -> the weights folder (with its ``.json``), checked, registered."""
    kind = FILE_KINDS[args.kind]
    src, dst = Path(args.weights), _target(args.name, kind)
    if args.kind == "dance-genre":
        from ..models.dance_genre import DanceGenreClassifier

        DanceGenreClassifier.load(src)  # refuses a file that is not one
    if src.resolve() != dst.resolve():
        shutil.copyfile(src, dst)
        if src.with_suffix(".json").is_file():
            shutil.copyfile(src.with_suffix(".json"), dst.with_suffix(".json"))
    _register(args.name, kind, dst, args.description)
    return 0
