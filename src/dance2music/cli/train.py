"""``d2m train``: train a model (tokenizer, D2M-GAN ...).

Train a model. Also runs under torchrun --nproc_per_node N (DDP).

    d2m train {vqvae,...} --config FILE [--set key=value ...] [--out DIR] [--resume]
    torchrun --nproc_per_node N -m dance2music train ...

One subparser per registered task (`dance2music.training.registry.TASKS`).
"""

from __future__ import annotations

import argparse
import os
import sys

from . import add_command


def register(subparsers: argparse._SubParsersAction) -> None:
    from ..training.registry import TASKS

    p = add_command(subparsers, __name__)
    tasks = p.add_subparsers(dest="task", metavar="TASK")
    for name, (_, help_text) in TASKS.items():
        t = tasks.add_parser(name, help=help_text, description=f"Train {help_text}.")
        t.add_argument("--config", "-c", help="experiment YAML (see configs/)")
        t.add_argument(
            "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
            help="override a config value, e.g. --set trainer.max_steps=100 (repeatable)",
        )  # fmt: skip
        t.add_argument("--out", "-o", default=None, help=f"run folder (default runs/{name})")
        t.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
        t.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..training.trainer import train

    result = train(
        args.task, args.config, args.overrides, out_dir=args.out or f"runs/{args.task}", resume=args.resume
    )
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun, one report is enough
        return 0
    summary = ", ".join(f"{k}={v:.4g}" for k, v in {**result.logs, **result.eval}.items() if "/" in k)
    print(f"done: step {result.step}; checkpoint {result.checkpoint}", file=sys.stderr)
    if summary:
        print(summary)
    return 0
