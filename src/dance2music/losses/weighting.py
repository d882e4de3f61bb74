"""The one way a task's losses become the objective it optimizes: a weight per logged loss name."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ..errors import ConfigError


def check_loss_weights(weights: Mapping[str, float], known: Mapping[str, float]) -> None:
    """Refuse a configured loss weight whose name is not one of ``known`` (a typo would silently weigh nothing)."""
    unknown = set(weights) - set(known)
    if unknown:
        raise ConfigError(f"unknown loss weight {sorted(unknown)[0]!r} (known: {', '.join(known)})")


def weighted_total(losses: Mapping[str, torch.Tensor], weights: Mapping[str, float]) -> torch.Tensor:
    """``sum_name weights[name] * losses[name]`` (float32), over the names with a non-zero weight, in the order
    of ``weights``.

    Raises `ConfigError` when a weighted loss was not computed (a misnamed loss must not silently vanish) and
    when every weight is zero; check the names against the task's own with `check_loss_weights` first.
    """
    total = None
    for name, w in weights.items():
        if w == 0:
            continue
        if name not in losses:
            raise ConfigError(f"loss {name!r} has weight {w} but was not computed (losses: {', '.join(losses)})")
        term = (losses[name] * float(w)).float()
        total = term if total is None else total + term
    if total is None:
        raise ConfigError("all loss weights are zero")
    return total
