"""Registry of pretrained weights: a name -> a file (+ its sha256 and kind).

Weights that ship with the package live in ``pretrained/weights/`` (so they work the moment the package is
installed, with no download). Each entry names a safetensors file and, next to it, the JSON config that
rebuilds the model (``<stem>.json``). `resolve` accepts:

- a local path to a weights file (always accepted, never checksummed: it is the user's own file);
- a registered name: the file is looked up in the package's ``weights/`` folder, then in the cache folder
  (``$D2M_HOME``, default ``~/.cache/dance2music``), and its sha256 is checked.

Nothing is ever downloaded. Weights are added and updated by ``d2m ship KIND ...`` (`cli.ship`), which copies
them into `WEIGHTS_DIR` and writes their entry here with `write_entry`.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import ModelError

#: Folder of the weights shipped inside the package.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


@dataclass(frozen=True)
class Entry:
    """One registered set of weights.

    name: the registry key users pass (``--model NAME``).
    file: the safetensors file name (looked up in `WEIGHTS_DIR`, then the cache folder).
    sha256: hex digest of ``file``.
    kind: what the weights build (``"genre_cnn"``, ``"vqvae"``, ...), so a loader can refuse a wrong kind.
    description: one line for listings.
    """

    name: str
    file: str
    sha256: str
    kind: str
    description: str = ""


#: All known weights by name.
REGISTRY: dict[str, Entry] = {
    "vqvae-small": Entry(
        name="vqvae-small",
        file="vqvae_small.safetensors",
        # set by `d2m ship vqvae RUN` when the tokenizer is retrained
        sha256="78e44b6af6e696ec80a9d4972b79b6b46b2db94308c133b842806517f5b3f52d",
        kind="vqvae",
        description="audio tokenizer: 2-level VQ-VAE in JukeBox's layout, hops 32/128 at 22.05 kHz, 512x64 codes",
    ),
    "vqvae-base": Entry(
        name="vqvae-base",
        file="vqvae_base.safetensors",
        # set by `d2m ship vqvae RUN --name vqvae-base`
        sha256="09ed47da7e1def052f277408f4cf159b0c0195e80c15e716731803d9c32e0533",
        kind="vqvae",
        description="audio tokenizer, width 32 (configs/vqvae_base.yaml): sharper onsets, half the decode speed",
    ),
    "vqvae-base-fast": Entry(
        name="vqvae-base-fast",
        file="vqvae_base_fast.safetensors",
        # set by `d2m ship vqvae RUN --name vqvae-base-fast`
        sha256="cb7411f015d449dc15648a7e04f8191889e98bfd654432234ae6249dcfc55bd0",
        kind="vqvae",
        description="vqvae-base's encoders and codes with width-16 decoders (configs/vqvae_base_fast.yaml): "
        "the same onsets, about twice the decode speed",
    ),
    "vqvae-base-adv": Entry(
        name="vqvae-base-adv",
        file="vqvae_base_adv.safetensors",
        # set by `d2m ship vqvae RUN --name vqvae-base-adv`
        sha256="0fd054df2b83abffde6796d85b9379d73b6679d0e26fca15810eea67fc9b0ff5",
        kind="vqvae",
        description="vqvae-base's encoders and codes with adversarially fine-tuned decoders (configs/synth_top.yaml, "
        "synth_lower.yaml): a lower high-band noise floor, same decode speed",
    ),
    "d2m-top": Entry(
        name="d2m-top",
        file="d2m_top.safetensors",
        sha256="1c8ec6c21b2e4a9bd5baa6f39817c7e75c564bb5207d23ac29990f4a306a0e5f",  # set by `d2m ship d2m`
        kind="d2m",
        description=(
            "D2M-GAN top level (hop 128) on vqvae-base's codes, decoded by vqvae-base-adv, with the dance's rhythm "
            "and a genre code prior"
        ),
    ),
    "d2m-lower": Entry(
        name="d2m-lower",
        file="d2m_lower.safetensors",
        sha256="07bfec14591d9c3455d71831fb575696dbe47164f69f5310299fc6862468bb8a",  # set by `d2m ship d2m`
        kind="d2m",
        description="D2M-GAN lower level (hop 32) on vqvae-base with the dance's rhythm and a genre code prior",
    ),
    "dance-genre": Entry(
        name="dance-genre",
        file="dance_genre.safetensors",
        sha256="dfa75c4039c6d0d1a90a52cbee4702f540e770df32a37de20ded81b5906868ca",  # set by `d2m ship dance-genre`
        kind="dance_genre",
        description="dance genre from the motion (10 AIST++ genres), calibrated; says when it does not know",
    ),
    "genre-cnn": Entry(
        name="genre-cnn",
        file="genre_cnn.safetensors",
        sha256="d80eeae0ee54aa193bf9535ac2a43ecc799e35d68cd7c54318bf72f9c1693daa",  # set by `d2m ship genre-cnn`
        kind="genre_cnn",
        description="music genre CNN on log-mel (10 AIST++ genres); its embedding serves FAD and retrieval",
    ),
    "vqvae-base-pf": Entry(
        name="vqvae-base-pf",
        file="vqvae_base_pf.safetensors",
        sha256="84bffc2b52bed752d6015b0333fe06285da686a1d7fe84b153925ea6e78a6456",  # set by `d2m ship vqvae`
        kind="vqvae",
        description="vqvae-base-adv's codes and decoders with learned spectral post-filters "
        "(scripts/train_postfilter.py): round trips keep the music's quiet",
    ),
}


def cache_dir() -> Path:
    """The user's cache folder for weights: ``$D2M_HOME`` or ``~/.cache/dance2music``."""
    home = os.environ.get("D2M_HOME")
    return Path(home).expanduser() if home else Path.home() / ".cache" / "dance2music"


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def resolve(name_or_path: str | os.PathLike, kind: str | None = None) -> Path:
    """The weights file for a registered name or a local path.

    Raises `ModelError` for an unknown name, a registered file that is nowhere to be found, a checksum
    mismatch, or an entry of another ``kind``.
    """
    s = str(name_or_path)
    entry = REGISTRY.get(s)
    if entry is None:
        p = Path(s).expanduser()
        if p.is_file():
            return p
        if p.is_dir():
            raise ModelError(f"model path is a directory, expected a weights file: {p}")
        known = ", ".join(sorted(REGISTRY)) or "none"
        raise ModelError(f"unknown model {s!r}: not a registered name ({known}) nor an existing file")
    if kind is not None and entry.kind != kind:
        raise ModelError(f"model {s!r} is a {entry.kind}, expected a {kind}")
    for folder in (WEIGHTS_DIR, cache_dir()):
        p = folder / entry.file
        if p.is_file():
            if entry.sha256 and sha256_file(p) != entry.sha256:
                raise ModelError(f"checksum mismatch for {p} (expected sha256 {entry.sha256[:12]}...)")
            return p
    raise ModelError(
        f"weights for {s!r} not found: put {entry.file} in {WEIGHTS_DIR} or {cache_dir()} (set D2M_HOME)"
    )


def write_entry(entry: Entry) -> None:
    """Register ``entry`` in `REGISTRY` and in this source file: an entry of that name gets the new sha256 (and
    file); a new name is added at the end of `REGISTRY` with its kind and description."""
    path = Path(__file__)
    text = path.read_text()
    name = re.escape(entry.name)
    block = re.compile(r'(Entry\(\s*name="' + name + r'",\s*file=")([^"]*)(",.*?sha256=")([0-9a-f]*)(")', re.S)
    text, n = block.subn(lambda m: m.group(1) + entry.file + m.group(3) + entry.sha256 + m.group(5), text, count=1)
    if n == 0:
        end = text.index("\n}\n", text.index("REGISTRY: dict"))
        text = text[:end] + (
            f'\n    "{entry.name}": Entry(\n        name="{entry.name}",\n        file="{entry.file}",\n'
            f'        sha256="{entry.sha256}",  # set by `d2m ship {entry.kind.replace("_", "-")}`\n'
            f'        kind="{entry.kind}",\n        description={entry.description!r},\n    ),'
        ) + text[end:]
    path.write_text(text)
    old = REGISTRY.get(entry.name)
    REGISTRY[entry.name] = entry if old is None else replace(old, file=entry.file, sha256=entry.sha256)


def config_path(weights: str | os.PathLike) -> Path:
    """The JSON config stored next to a weights file (same stem)."""
    return Path(weights).with_suffix(".json")
