"""The metadata of a generator file (`models.d2m.save_generator`), read without torch.

`Dance2Music.from_pretrained(background=True)` needs the generator's spec (its visual input size) before
torch is imported in the loading thread, so this module imports only the standard library.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping
from typing import Any

FORMAT = "dance2music.d2m-generator"
FORMAT_VERSION = 1


def generator_header(metadata: Mapping[str, str]) -> dict[str, Any] | None:
    """The fields `save_generator` stores, decoded from a file's safetensors metadata (None: not a generator).

    Files hold them as one JSON key (``dance2music.d2m-generator``); the first ones written held one key
    per field, JSON-encoded where not a plain string, and read the same.
    """
    try:
        if FORMAT in metadata:
            fields = json.loads(metadata[FORMAT])
        elif metadata.get("format") == FORMAT:
            fields = dict(metadata)
            for k in ("generator", "vqvae_config", "meta"):
                fields[k] = json.loads(fields.get(k) or "null")
            fields["hop_length"] = int(fields.get("hop_length") or 0)
            if "prior_weight" in fields:
                fields["prior_weight"] = float(fields["prior_weight"])
        else:
            return None
    except (ValueError, TypeError):
        return None
    if not isinstance(fields, dict) or not isinstance(fields.get("generator"), dict):
        return None
    fields.pop("format", None)
    fields["meta"] = fields.get("meta") or {}
    return fields


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """A safetensors file's ``__metadata__`` from its JSON header alone ({} when it has none or is unreadable)."""
    try:
        with open(path, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(min(size, 1 << 24)))
    except (OSError, ValueError, struct.error):
        return {}
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return meta if isinstance(meta, dict) else {}
