"""Training checkpoints: atomic, self-describing, enough to resume exactly.

A checkpoint is one ``torch.save`` file holding the models' and optimizers' state dicts, the task's own
state, the step and data position, every rank's RNG states (python, numpy, torch, cuda) and the experiment
config. It is written to a temporary file in the same folder and moved over the old one with ``os.replace``,
so a crash mid-write never leaves a truncated checkpoint.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ModelError

CHECKPOINT_VERSION = 1


def capture_rng() -> dict[str, Any]:
    """This process's random states."""
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"].cpu() if torch.is_tensor(state["torch"]) else state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Write ``payload`` (plus a version) atomically to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        torch.save({"version": CHECKPOINT_VERSION, **payload}, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by `save_checkpoint`."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"no checkpoint at {path}")
    try:
        # RNG states hold numpy arrays and tuples: not loadable with weights_only.
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:
        raise ModelError(f"cannot read checkpoint {path} ({type(e).__name__})") from e
    if not isinstance(ckpt, dict) or ckpt.get("version") != CHECKPOINT_VERSION:
        raise ModelError(f"{path} is not a dance2music training checkpoint")
    return ckpt
