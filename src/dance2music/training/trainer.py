"""The trainer shared by every training stage (tokenizer, D2M-GAN, synthesizer fine-tuning).

How a task plugs in
-------------------
A task is a subclass of `Task`. The trainer calls, in order:

1. ``task.build(ctx)`` once, after seeding (same seed on every rank, so models start identical). The task
   creates its models and optimizers and registers them:
   ``self.g = ctx.add_model("g", Generator(...))`` returns the module to call (wrapped in
   DistributedDataParallel under torchrun; the raw module stays in ``ctx.models["g"]``), and
   ``ctx.add_optimizer("g", torch.optim.Adam(ctx.models["g"].parameters(), ...))``. Any number of each
   (e.g. G and D with their own optimizers). Registered models and optimizers are checkpointed and restored.
2. ``task.train_dataset()`` -> a map-style ``torch.utils.data.Dataset``. For exact resume, an item must be a
   pure function of (seed, epoch, index): draw crops and augmentations from
   ``np.random.default_rng([seed, epoch, index])``, not from global RNG. If the dataset has
   ``set_epoch(epoch)`` the trainer calls it before each epoch. ``task.collate`` (optional) is the
   DataLoader's collate_fn. The trainer shards and shuffles it with a DistributedSampler seeded by
   (seed, epoch), and on resume skips the batches already seen.
3. ``task.train_step(batch, ctx) -> dict[str, float | Tensor]`` for each batch (already moved to the device,
   inside bfloat16 autocast on CUDA when ``amp``). The task computes its losses, combines them with
   `losses.weighting.weighted_total` (weights keyed by the logged names, e.g. ``recon/l1``) and applies each
   optimizer with ``ctx.optimize("g", loss)``: zero grads, backward, non-finite guard (the step is skipped
   on every rank if the loss or any gradient is NaN/inf on any rank), gradient clipping, step.
   It returns the scalars to log; the trainer averages them over ``log_every`` steps and over ranks and
   writes them to TensorBoard as ``train/<name>``.
4. ``task.evaluate(ctx) -> dict[str, float]`` every ``eval_every`` steps and at the end, on rank 0 only
   (use the raw ``ctx.models``, no collectives). Logged as ``eval/<name>``.
5. ``task.export(ctx)`` on rank 0 after each checkpoint: write deployable weights (e.g. safetensors) into
   ``ctx.out_dir``.
6. ``task.state_dict()`` / ``task.load_state_dict(state)``: any extra state (LR schedulers, EMA models ...).

The run's folder (``out_dir``) holds ``checkpoint.pt`` (written atomically), ``config.yaml`` and the
TensorBoard event files under ``tb/``. Resuming restores models, optimizers, task state, step, data
position and every rank's RNG states, so the weights after N steps equal those of an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
import yaml
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from ..errors import ConfigError, D2MError, Stopped
from ..losses.weighting import check_loss_weights
from . import checkpoint as ckpt_io
from .config import TrainerConfig, to_dict
from .distributed import (
    DistInfo,
    all_gather_object,
    any_true,
    barrier,
    init_distributed,
    mean_across_ranks,
)
from .registry import make_task


class TrainingDiverged(D2MError):
    """Too many consecutive steps with NaN/inf losses or gradients."""

    exit_code = 5


class ResumableSampler(DistributedSampler):
    """DistributedSampler (shuffled by seed + epoch, sharded by rank) that can start mid-epoch.

    ``set_epoch(epoch, skip=n)`` drops the first ``n`` indices of this rank's share, so a resumed run
    continues with exactly the batches an uninterrupted run would have seen, without loading the others.
    """

    def __init__(self, dataset: Dataset, **kwargs: Any) -> None:
        super().__init__(dataset, **kwargs)
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:  # type: ignore[override]
        super().set_epoch(epoch)
        self.skip = skip

    def __iter__(self) -> Iterator[int]:
        return iter(list(super().__iter__())[self.skip :])

    def __len__(self) -> int:
        return max(0, super().__len__() - self.skip)


@dataclass
class TrainContext:
    """What a task sees of the run: devices, registered models/optimizers, helpers, the step counter."""

    cfg: TrainerConfig
    dist: DistInfo
    out_dir: Path
    models: dict[str, nn.Module] = field(default_factory=dict)
    wrapped: dict[str, nn.Module] = field(default_factory=dict)
    optimizers: dict[str, torch.optim.Optimizer] = field(default_factory=dict)
    step: int = 0  # steps completed so far
    epoch: int = 0
    writer: Any = None  # TensorBoard SummaryWriter on rank 0, else None
    bad_step: bool = False  # set by `optimize` when it skipped a non-finite update this step

    @property
    def device(self) -> torch.device:
        return self.dist.device

    @property
    def is_main(self) -> bool:
        return self.dist.is_main

    def add_model(self, name: str, module: nn.Module, **ddp_kwargs: Any) -> nn.Module:
        """Register ``module`` under ``name`` (moved to the device); returns the module to call in train_step.

        Under torchrun a module with trainable parameters is wrapped in DistributedDataParallel
        (``ddp_kwargs`` go to it, e.g. ``find_unused_parameters=True``); ``ctx.models[name]`` stays the raw one.
        """
        if name in self.models:
            raise ValueError(f"model {name!r} registered twice")
        module = module.to(self.device)
        self.models[name] = module
        wrapped = module
        if self.dist.distributed and any(p.requires_grad for p in module.parameters()):
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            wrapped = DistributedDataParallel(module, device_ids=ids, **ddp_kwargs)
        self.wrapped[name] = wrapped
        return wrapped

    def add_optimizer(self, name: str, optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
        """Register an optimizer (checkpointed, and applied by ``optimize(name, loss)``)."""
        if name in self.optimizers:
            raise ValueError(f"optimizer {name!r} registered twice")
        self.optimizers[name] = optimizer
        return optimizer

    def autocast(self, enabled: bool = True) -> contextlib.AbstractContextManager:
        """bfloat16 autocast on CUDA when the config asks for it; a no-op on CPU."""
        on = enabled and self.cfg.amp and self.device.type == "cuda"
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=on)

    def optimize(self, name: str, loss: torch.Tensor, retain_graph: bool = False) -> bool:
        """Zero grads, backpropagate ``loss``, and step optimizer ``name`` unless anything is non-finite.

        The finiteness check is agreed across ranks so all ranks skip together. Returns True if it stepped.
        """
        opt = self.optimizers[name]
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type=self.device.type, enabled=False):
            loss.backward(retain_graph=retain_graph)
        params = [p for g in opt.param_groups for p in g["params"] if p.grad is not None]
        bad = not bool(torch.isfinite(loss.detach()).all())
        if not bad and params:
            norms = torch.stack([p.grad.detach().float().norm() for p in params])
            bad = not bool(torch.isfinite(norms).all())
        if any_true(bad, self.device):
            opt.zero_grad(set_to_none=True)
            self.bad_step = True
            return False
        if self.cfg.grad_clip > 0 and params:
            torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
        opt.step()
        return True


class Task:
    """Base class of a training stage; see the module docstring for the protocol.

    Subclasses set ``name`` and ``config_cls`` (the experiment dataclass, with a ``trainer: TrainerConfig``
    field) and take the experiment config in ``__init__``. When that dataclass has a ``loss_weights`` field, its
    default names the task's losses, and ``__init__`` refuses a configured weight of any other name.
    """

    name: ClassVar[str] = ""
    config_cls: ClassVar[type] = object
    collate: Any = None

    def __init__(self, config: Any) -> None:
        self.config = config
        known = _default_loss_weights(self.config_cls)
        if known is not None:
            check_loss_weights(config.loss_weights, known)

    def build(self, ctx: TrainContext) -> None:
        raise NotImplementedError

    def train_dataset(self) -> Dataset:
        raise NotImplementedError

    def train_step(self, batch: Any, ctx: TrainContext) -> dict[str, Any]:
        raise NotImplementedError

    def evaluate(self, ctx: TrainContext) -> dict[str, float]:
        return {}

    def export(self, ctx: TrainContext) -> None:
        return None

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None


def _default_loss_weights(config_cls: type) -> dict[str, float] | None:
    """The default of the experiment dataclass's ``loss_weights`` field (None without one)."""
    for f in fields(config_cls) if is_dataclass(config_cls) else ():
        if f.name == "loss_weights":
            return f.default_factory()
    return None


def move_to(batch: Any, device: torch.device) -> Any:
    """Move tensors inside nested lists/tuples/dicts/dataclass-free containers to ``device``."""
    if torch.is_tensor(batch):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: move_to(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to(v, device) for v in batch)
    return batch


def _as_float(v: Any) -> float:
    return float(v.detach().float().mean().item()) if torch.is_tensor(v) else float(v)


@dataclass
class FitResult:
    """What `fit` reports: the step reached, the last window of logged scalars, the last evaluation."""

    step: int
    logs: dict[str, float]
    eval: dict[str, float]
    checkpoint: Path | None


def fit(task: Task, out_dir: str | os.PathLike, *, resume: bool = False) -> FitResult:
    """Train ``task`` (its ``config.trainer`` rules the loop) writing into ``out_dir``.

    Runs as one process or as one rank of a torchrun job. ``resume=True`` continues from
    ``out_dir/checkpoint.pt`` (a fresh start, with a note, if there is none); without it an existing checkpoint
    is an error, so a run is never overwritten by accident. A stop on request (Ctrl-C, SIGTERM) finishes the
    step, saves a checkpoint and raises `errors.Stopped`.
    """
    return _Run(task, Path(out_dir), resume).loop()


def train(
    name: str,
    config_path: str | os.PathLike | None = None,
    overrides: list[str] | None = None,
    out_dir: str | os.PathLike = "runs/default",
    resume: bool = False,
) -> FitResult:
    """Run (or resume) training stage ``name`` (`registry.TASKS`); what `d2m train NAME` does."""
    return fit(make_task(name, config_path, overrides), out_dir, resume=resume)


class _Run:
    """One call of `fit`: the set-up, the loop's state, and the steps the loop is made of."""

    def __init__(self, task: Task, out: Path, resume: bool) -> None:
        cfg: TrainerConfig = task.config.trainer
        self.task, self.cfg, self.out, self.resume = task, cfg, out, resume
        self.ckpt_path = out / "checkpoint.pt"
        if self.ckpt_path.exists() and not resume:
            raise ConfigError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        self.info = info = init_distributed(cfg.device)
        self.ctx = TrainContext(cfg=cfg, dist=info, out_dir=out)
        ckpt_io.seed_everything(cfg.seed)
        task.build(self.ctx)
        # Ranks share the init; after it each rank gets its own stream (dropout, noise, restarts are broadcast).
        ckpt_io.seed_everything(cfg.seed + 1_000_003 * info.rank)

        self.dataset = task.train_dataset()
        self.sampler = ResumableSampler(
            self.dataset, num_replicas=info.world_size, rank=info.rank, shuffle=True, seed=cfg.seed, drop_last=True
        )
        if len(self.sampler) // cfg.batch_size == 0:
            raise ConfigError(
                f"the training set has {len(self.dataset)} items: too few for batch_size {cfg.batch_size} "
                f"x {info.world_size} processes"
            )
        self.epoch, self.batch_in_epoch = 0, 0
        self._restore()
        self._open_logs()
        self.evaluates = type(task).evaluate is not Task.evaluate  # the base evaluates nothing, by design
        self.said_no_eval = False
        self.window: dict[str, list[float]] = defaultdict(list)
        self.last_logs: dict[str, float] = {}
        self.last_eval: dict[str, float] = {}
        self.bad_in_a_row = 0
        self.stop_requested = False
        self.out_of_time = False

    # ---- set-up ------------------------------------------------------------------------------------------
    def _restore(self) -> None:
        """With ``resume`` and a checkpoint: models, optimizers, task state, counters and RNG streams."""
        ctx, info, cfg = self.ctx, self.info, self.cfg
        step = 0
        if self.resume and self.ckpt_path.exists():
            state = ckpt_io.load_checkpoint(self.ckpt_path, map_location=info.device)
            for name, m in ctx.models.items():
                m.load_state_dict(state["models"][name])
            for name, o in ctx.optimizers.items():
                o.load_state_dict(state["optimizers"][name])
            self.task.load_state_dict(state.get("task", {}))
            step, self.epoch, self.batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
            rngs = state["rng"]
            if len(rngs) == info.world_size:
                ckpt_io.restore_rng(rngs[info.rank])
            else:  # a different world size cannot replay the same streams; keep going deterministically
                ckpt_io.seed_everything(cfg.seed + step + 1_000_003 * info.rank)
            if info.is_main:
                print(f"resumed from {self.ckpt_path} at step {step}", file=sys.stderr)
        elif self.resume and info.is_main:  # a scheduler may always pass --resume; a person should know
            print(f"note: --resume: no checkpoint in {self.out}; starting a new run", file=sys.stderr)
        ctx.step, ctx.epoch = step, self.epoch
        self.saved_at = step if self.resume and self.ckpt_path.exists() else -1

    def _open_logs(self) -> None:
        """Rank 0: the run folder, its ``config.yaml`` and the TensorBoard writer."""
        if self.info.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.yaml").write_text(yaml.safe_dump(to_dict(self.task.config), sort_keys=False))
            from torch.utils.tensorboard import SummaryWriter

            step = self.ctx.step
            self.ctx.writer = SummaryWriter(str(self.out / "tb"), purge_step=step + 1 if step else None)

    # ---- checkpoints and evaluation ----------------------------------------------------------------------
    def save(self) -> Path:
        ctx, info, task = self.ctx, self.info, self.task
        rngs = all_gather_object(ckpt_io.capture_rng())
        if info.is_main:
            ckpt_io.save_checkpoint(
                self.ckpt_path,
                {
                    "task_name": task.name,
                    "config": to_dict(task.config),
                    "step": ctx.step,
                    "epoch": self.epoch,
                    "batch_in_epoch": self.batch_in_epoch,
                    "world_size": info.world_size,
                    "models": {k: m.state_dict() for k, m in ctx.models.items()},
                    "optimizers": {k: o.state_dict() for k, o in ctx.optimizers.items()},
                    "task": task.state_dict(),
                    "rng": rngs,
                },
            )
            task.export(ctx)
        barrier()
        self.saved_at = ctx.step
        return self.ckpt_path

    def run_eval(self) -> dict[str, float]:
        ctx, task = self.ctx, self.task
        result: dict[str, float] = {}
        if self.info.is_main:
            result = {k: _as_float(v) for k, v in task.evaluate(ctx).items()}
            if self.evaluates and not result and not self.said_no_eval:
                self.said_no_eval = True
                print(
                    f"note: {task.name}: evaluation gave no metrics (no validation split in the data, or "
                    "evaluation turned off in the config); training goes on without it",
                    file=sys.stderr,
                )
            for k, v in result.items():
                ctx.writer.add_scalar(f"eval/{k}", v, ctx.step)
            if result:
                print(f"step {ctx.step} eval: " + ", ".join(f"{k}={v:.4g}" for k, v in result.items()), file=sys.stderr)
        barrier()
        for m in ctx.models.values():
            m.train()
        return result

    # ---- the loop ----------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _stop_on_signals(self) -> Iterator[None]:
        """Ctrl-C (SIGINT) or SIGTERM (a scheduler's preemption) finishes the current step, checkpoints and
        stops; a second signal stops at once. A step cut in half (G updated, D not) is no state to resume from."""
        old_handlers: dict[int, Any] = {}

        def request_stop(signum: int, frame: Any) -> None:
            self.stop_requested = True
            for sig, old in old_handlers.items():
                signal.signal(sig, old if callable(old) else signal.default_int_handler)
            if self.info.is_main:
                print(f"\n{signal.Signals(signum).name}: stopping after this step (again to abort)", file=sys.stderr)

        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not in the main thread: keep the default behaviour
                old_handlers[sig] = signal.signal(sig, request_stop)
        try:
            yield
        finally:
            for sig, old in old_handlers.items():
                signal.signal(sig, old)

    def _loader(self) -> DataLoader:
        """This epoch's batches, from where a resumed epoch left off."""
        cfg = self.cfg
        self.sampler.set_epoch(self.epoch, skip=self.batch_in_epoch * cfg.batch_size)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(self.epoch)
        # A private generator: creating a DataLoader iterator draws a worker seed, which must not
        # consume the global torch RNG (a resumed run creates one at a different point).
        gen = torch.Generator().manual_seed(cfg.seed * 100_003 + self.epoch)
        return DataLoader(
            self.dataset, batch_size=cfg.batch_size, sampler=self.sampler, num_workers=cfg.num_workers,
            collate_fn=self.task.collate, drop_last=True, generator=gen,
            pin_memory=self.info.device.type == "cuda", persistent_workers=False,
        )  # fmt: skip

    def _step(self, batch: Any) -> None:
        """One training step, its non-finite guard, and its scalars into the logging window."""
        ctx, info = self.ctx, self.info
        batch = move_to(batch, info.device)
        ctx.bad_step = False
        with ctx.autocast():
            logs = self.task.train_step(batch, ctx)
        ctx.step += 1
        self.batch_in_epoch += 1
        self.bar.update(1)
        if ctx.bad_step:
            self.bad_in_a_row += 1
            if info.is_main:
                print(f"step {ctx.step}: non-finite loss or gradient, update skipped", file=sys.stderr)
            if self.bad_in_a_row >= self.cfg.max_bad_steps:
                raise TrainingDiverged(
                    f"training diverged: {self.bad_in_a_row} steps in a row with NaN/inf (step {ctx.step})"
                )
        else:
            self.bad_in_a_row = 0
        for k, v in logs.items():
            fv = _as_float(v)
            if math.isfinite(fv):
                self.window[k].append(fv)

    def _log(self) -> None:
        """Every ``log_every`` steps: the window's means (over ranks too) to TensorBoard and the bar."""
        ctx, cfg = self.ctx, self.cfg
        if not (ctx.step % cfg.log_every == 0 or ctx.step == cfg.max_steps):
            return
        means = {k: sum(v) / len(v) for k, v in sorted(self.window.items()) if v}
        means = mean_across_ranks(means, self.info.device) if len(means) else means
        self.last_logs = means
        self.window.clear()
        if self.info.is_main:
            for k, v in means.items():
                ctx.writer.add_scalar(f"train/{k}", v, ctx.step)
            shown = list(means.items())[:4]
            self.bar.set_postfix_str(" ".join(f"{k}={v:.3g}" for k, v in shown))

    def _checkpoint_and_evaluate(self) -> None:
        """A checkpoint when ``ckpt_every`` steps or ``ckpt_every_minutes`` are due, an evaluation when due
        (the last step's are done after the loop)."""
        ctx, cfg = self.ctx, self.cfg
        due = ctx.step % cfg.ckpt_every == 0 if cfg.ckpt_every > 0 else False
        if cfg.ckpt_every_minutes > 0:
            late = time.monotonic() - self.last_ckpt_time > 60 * cfg.ckpt_every_minutes
            due = due or any_true(late, self.info.device)
        if due and ctx.step < cfg.max_steps:
            self.save()
            self.last_ckpt_time = time.monotonic()
        if cfg.eval_every > 0 and ctx.step % cfg.eval_every == 0 and ctx.step < cfg.max_steps:
            self.last_eval = self.run_eval()

    def _must_stop(self) -> bool:
        """After a step: max_steps reached, max_minutes passed, or a stop requested (on any rank)."""
        if self.ctx.step >= self.cfg.max_steps:
            return True
        if self.deadline < math.inf and any_true(time.monotonic() > self.deadline, self.info.device):
            self.out_of_time = True  # trainer.max_minutes: finish like max_steps (checkpoint, evaluate)
            if self.info.is_main:
                print(f"\nmax_minutes reached at step {self.ctx.step}", file=sys.stderr)
            return True
        if any_true(self.stop_requested, self.info.device):
            self.stop_requested = True
            return True
        return False

    def _epochs(self) -> None:
        """Steps until max_steps, max_minutes or a stop request."""
        ctx, cfg = self.ctx, self.cfg
        while ctx.step < cfg.max_steps and not self.stop_requested and not self.out_of_time:
            for batch in self._loader():
                self._step(batch)
                self._log()
                self._checkpoint_and_evaluate()
                if self._must_stop():
                    break
            else:
                self.epoch += 1
                ctx.epoch = self.epoch
                self.batch_in_epoch = 0

    def loop(self) -> FitResult:
        """Train, then checkpoint, export and evaluate at the end; `fit`'s result."""
        from tqdm import tqdm

        ctx, cfg = self.ctx, self.cfg
        self.bar = tqdm(
            total=cfg.max_steps, initial=ctx.step, disable=not (self.info.is_main and cfg.progress),
            dynamic_ncols=True, desc=self.task.name, file=sys.stderr,
        )  # fmt: skip
        self.last_ckpt_time = time.monotonic()
        self.deadline = time.monotonic() + 60 * cfg.max_minutes if cfg.max_minutes > 0 else math.inf
        for m in ctx.models.values():
            m.train()
        try:
            with self._stop_on_signals():
                self._epochs()
                if self.saved_at != ctx.step:
                    self.save()
                if self.stop_requested:
                    raise Stopped(
                        f"stopped at step {ctx.step}: checkpoint saved ({self.ckpt_path}); continue with --resume"
                    )
                self.last_eval = self.run_eval() or self.last_eval
        finally:
            self.bar.close()
            if ctx.writer is not None:
                ctx.writer.flush()
                ctx.writer.close()
        return FitResult(step=ctx.step, logs=self.last_logs, eval=self.last_eval, checkpoint=self.ckpt_path)
