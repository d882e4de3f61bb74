"""The genre code prior of `models.d2m.D2M.lookup_codes`, counted from the real music of a feature cache.

Built when a generator is shipped (`d2m ship d2m --prior-cache ...`) and stored in its file; inference only
reads it back, so the models layer never reads the cache.
"""

from __future__ import annotations

import os

import torch

from ..constants import GENRES
from ..data.cache import FeatureCache
from ..models.d2m import D2M


@torch.no_grad()
def code_prior_from_cache(
    model: D2M, cache_dir: str | os.PathLike, split: str = "train", max_sequences: int | None = None
) -> torch.Tensor:
    """``Tensor[G x K]``: log-frequency of each code of ``model``'s level in the real music of each genre of a
    feature cache's ``split`` (add-one smoothed), for `D2M.lookup_codes`. Genres absent from the cache get the
    pooled frequencies of all. ``max_sequences``: count over at most this many, evenly spread (encoding every
    sequence of a large cache takes long on a CPU)."""
    cache = FeatureCache(cache_dir, split)
    k = model.codebook.shape[0]
    counts = torch.zeros(len(GENRES), k, dtype=torch.float64)
    entries = cache.entries
    if max_sequences is not None and len(entries) > max_sequences:
        step = len(entries) / max_sequences
        entries = [entries[int(i * step)] for i in range(max_sequences)]
    for e in entries:
        if e.get("genre") is None:
            continue
        audio = torch.from_numpy(cache.read_audio(e["name"]))[None, None].to(model.codebook.device)
        codes = model.vqvae.encode(audio, model.level)[0].cpu()
        counts[int(e["genre"])] += torch.bincount(codes, minlength=k).double()
    pooled = counts.sum(0)
    counts[counts.sum(1) == 0] = pooled
    counts += 1.0
    return (counts / counts.sum(1, keepdim=True)).log().float()
