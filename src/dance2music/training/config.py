"""Experiment configuration: nested dataclasses read from YAML, with ``--set key=value`` overrides.

Every task's experiment dataclass has the same shape: ``trainer`` (`TrainerConfig`), ``data`` (clip windows:
``seconds`` and a ``gain: [low, high]`` range), each model as a spec ``{preset: name, **overrides}``, ``optim``
(`AdamConfig` for one model, `GANOptimConfig` for a generator and its discriminator) and ``loss_weights``
keyed by the logged loss names. `load_config` fills it from a YAML file and dotted overrides, checking every
key and type, so a typo fails at start-up with a one-line `ConfigError` instead of being silently ignored.

A YAML file may extend another: ``base: gan_top.yaml`` (resolved relative to the file) reads that one first
and merges this one over it, mapping by mapping, so a recipe states only what differs from its base. A key a
dataclass lists in ``MOVED_KEYS`` (an older name) is refused with the name that replaced it.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml

from ..constants import SAMPLE_RATE
from ..errors import ConfigError

T = TypeVar("T")


@dataclass
class TrainerConfig:
    """What the shared trainer itself needs (the task owns everything else)."""

    seed: int = 0  # everything random (init, data order, crops) derives from it
    max_steps: int = 1000  # optimization steps in total (a resumed run continues up to it)
    max_minutes: float = 0.0  # also stop (checkpoint, export, evaluate) after this much wall clock (0: off)
    batch_size: int = 8  # per process; the global batch is batch_size * world size
    num_workers: int = 0  # DataLoader workers per process
    log_every: int = 10  # steps between TensorBoard scalars (averaged over the window)
    ckpt_every: int = 200  # steps between checkpoints (one is always written at the end)
    ckpt_every_minutes: float = 0.0  # also checkpoint when this many minutes passed (0: off)
    eval_every: int = 0  # steps between task evaluations (0: only at the end)
    amp: bool = True  # bfloat16 autocast on CUDA (ignored on CPU)
    grad_clip: float = 0.0  # max global grad norm per optimizer (0: off)
    max_bad_steps: int = 5  # abort after this many consecutive non-finite steps
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    threads: int = 0  # torch CPU threads per process (0: leave torch's default)
    progress: bool = True  # tqdm bar on rank 0


@dataclass
class AdamConfig:
    """Adam for one model, with a linear warm-up from 0 over ``warmup_steps``, then a constant rate."""

    lr: float = 3e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    warmup_steps: int = 100


@dataclass
class GANOptimConfig:
    """Adam for a generator (``lr_g``) and its discriminator (``lr_d``); defaults: the D2M-GAN paper's."""

    lr_g: float = 1e-4
    lr_d: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.9)


@dataclass
class MusicData:
    """Music cut into training crops: where from, how long (``seconds``) and at what random ``gain``."""

    MOVED_KEYS: ClassVar[dict[str, str]] = {
        "segment_seconds": "seconds", "gain_min": "gain: [low, high]", "gain_max": "gain: [low, high]",
    }  # fmt: skip

    sources: list[str] = field(default_factory=lambda: ["immich:train", "aist:data/synth:train"])
    eval_sources: list[str] = field(default_factory=lambda: ["immich:eval"])
    seconds: float = 1.0  # length of a training crop
    gain: tuple[float, float] = (0.3, 1.0)  # random gain U(low, high) per crop (D2M-GAN uses 0.3 .. 1.0)
    sample_rate: int = SAMPLE_RATE


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check/convert a YAML value to the annotated type ``tp`` (dataclasses, lists, tuples, dicts, unions)."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{where}: bad value {value!r}")
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return from_dict(tp, value, where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        args = typing.get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise ConfigError(f"{where}: expected {len(args)} items, got {len(value)}")
            return tuple(_coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        item = args[0] if args else Any
        out = [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        kt, vt = typing.get_args(tp) or (Any, Any)
        return {_coerce(k, kt, where): _coerce(v, vt, f"{where}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML reads "1e-4" (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value


def from_dict(cls: type[T], data: dict[str, Any], where: str = "config") -> T:
    """Build dataclass ``cls`` from a plain dict, rejecting unknown keys and wrong types."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    moved = sorted(unknown & set(getattr(cls, "MOVED_KEYS", {})))
    if moved:
        raise ConfigError(f"{where}.{moved[0]} is an old key: write {cls.MOVED_KEYS[moved[0]]} instead")
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r} (known: {', '.join(sorted(names))})")
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}") for k, v in data.items()}
    return cls(**kwargs)


def to_dict(cfg: Any) -> dict[str, Any]:
    """A config dataclass as plain, YAML/JSON-friendly data (tuples become lists)."""

    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return plain(cfg)


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` strings (values parsed as YAML: numbers, true/false, lists) to nested dicts.

    A key under a dict-typed field (such as ``loss_weights.recon/l1=2``) may be new; the dataclass check
    in `from_dict` catches keys that do not exist.
    """
    out = dict(data)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        parts = key.strip().split(".")
        node = out
        for p in parts[:-1]:
            child = node.get(p)
            child = dict(child) if isinstance(child, dict) else {}
            node[p] = child
            node = child
        node[parts[-1]] = value
    return out


def load_config(
    cls: type[T], path: str | os.PathLike | None = None, overrides: list[str] | None = None
) -> T:
    """Read experiment dataclass ``cls`` from YAML ``path`` (optional) plus ``overrides`` (``key=value``)."""
    data = read_yaml(path) if path is not None else {}
    data = apply_overrides(data, list(overrides or []))
    # Defaults of nested dataclasses are merged key by key, not replaced, by from_dict's per-field coercion.
    return from_dict(cls, _merge_defaults(cls, data))


def read_yaml(path: str | os.PathLike, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A config file as a mapping, with its ``base:`` chain (paths relative to each file) merged under it."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"no such config file: {p}")
    try:
        loaded = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML ({str(e).splitlines()[0]})") from e
    if not isinstance(loaded, dict):
        raise ConfigError(f"{p}: the top level must be a mapping")
    base = loaded.pop("base", None)
    if base is None:
        return loaded
    if p.resolve() in _seen:
        raise ConfigError(f"{p}: its base chain comes back to itself")
    return deep_merge(read_yaml(p.parent / str(base), (*_seen, p.resolve())), loaded)


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``: mappings merged key by key, anything else (lists too) replaced."""
    out = dict(base)
    for k, v in over.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _merge_defaults(cls: Any, data: dict[str, Any]) -> dict[str, Any]:
    """Merge a partial mapping into the defaults of dict-typed fields (e.g. loss_weights)."""
    out = dict(data)
    for f in dataclasses.fields(cls):
        if f.name in out and isinstance(out[f.name], dict):
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            if isinstance(default, dict):
                out[f.name] = {**default, **out[f.name]}
            elif dataclasses.is_dataclass(default) or (
                dataclasses.is_dataclass(typing.get_type_hints(cls)[f.name])
            ):
                out[f.name] = _merge_defaults(typing.get_type_hints(cls)[f.name], out[f.name])
    return out


__all__ = [
    "AdamConfig", "GANOptimConfig", "MusicData", "TrainerConfig", "apply_overrides", "deep_merge", "field",
    "from_dict", "load_config", "read_yaml", "to_dict",
]  # fmt: skip
