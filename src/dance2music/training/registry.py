"""The training stages `d2m train` knows (torch-free, so `d2m --help` stays quick); `trainer.train` runs one.

Adding a stage is one line in `TASKS`: ``"name": ("module.path:TaskClass", "one-line help")``. The task class
(a `Task` subclass) names its experiment dataclass in ``config_cls``; see `dance2music.training.trainer`.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING

from ..errors import ConfigError
from .config import load_config

if TYPE_CHECKING:  # the trainer imports torch: keep `d2m --help` and input errors fast
    from .trainer import Task

TASKS: dict[str, tuple[str, str]] = {
    "vqvae": ("dance2music.training.vqvae_task:VQVAETask", "the audio tokenizer (hierarchical VQ-VAE)"),
    "gan": ("dance2music.training.gan_task:GANTask", "D2M-GAN: the dance-to-music generator of one VQ level"),
    "synth": ("dance2music.training.synth_task:SynthTask", "the synthesizer: VQ-VAE decoder GAN fine-tuning"),
}


def get_task_class(name: str) -> type[Task]:
    if name not in TASKS:
        raise ConfigError(f"unknown training task {name!r} (known: {', '.join(TASKS)})")
    module, cls = TASKS[name][0].split(":")
    return getattr(importlib.import_module(module), cls)


def make_task(name: str, config_path: str | os.PathLike | None = None, overrides: list[str] | None = None) -> Task:
    """Build task ``name`` with its config read from YAML plus ``key=value`` overrides."""
    cls = get_task_class(name)
    return cls(load_config(cls.config_cls, config_path, overrides))

