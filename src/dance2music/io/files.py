"""Atomic file output: a result appears whole or not at all, and never replaces a file without --force."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError


def check_output_path(path: str | os.PathLike, force: bool = False) -> Path:
    """Validate an output path before any work starts: refuses to overwrite unless ``force``."""
    p = Path(path)
    if p.exists() and p.is_dir():
        raise InputError(f"output path is a directory: {p}")
    if p.exists() and not force:
        raise InputError(f"output exists: {p} (use --force to overwrite)")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.exists():
        parent.mkdir(parents=True, exist_ok=True)
    return p


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` atomically.

    On any exception the temporary file is removed and ``path`` is left untouched, so a failed or
    interrupted run never leaves a half-written output or destroys an earlier one.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    suffix = p.suffix if suffix is None else suffix
    fd, tmp = tempfile.mkstemp(prefix=f".{p.stem}.", suffix=f".part{suffix}", dir=p.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates the file private (0600); give the result the usual permissions (0666 - umask).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, p)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
