"""Atomic file output: a result appears whole or not at all, and never replaces a file without --force."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError


def check_output_path(path: str | os.PathLike, force: bool = False) -> Path:
    """Validate an output path before any work starts, so that a long run never fails at its very end.

    Refuses (`InputError`, one line that names the problem) a path that is a folder, an existing file unless
    ``force``, a parent that is a file, and a folder that cannot be written or created; the check makes and
    removes a probe file in the nearest folder that exists. Nothing is left behind: folders still missing are
    made when the output is written (`atomic_output`).
    """
    p = Path(path)
    if str(path) == "" or p.name in ("", ".", ".."):
        raise InputError(f"output path {str(path)!r} names no file")
    if p.is_dir():
        raise InputError(f"output path is a folder: {p} (give a file name)")
    if p.exists() and not force:
        raise InputError(f"output exists: {p} (use --force to overwrite)")
    folder = p.parent
    while not folder.exists():  # the nearest part of the path that exists must be a folder we may write into
        if folder.is_symlink():
            raise InputError(f"cannot create the folder {folder} for {p.name}: it is a broken link")
        folder = folder.parent
    if not folder.is_dir():
        what = "its folder" if folder == p.parent else f"a folder on its way ({folder})"
        raise InputError(f"cannot write {p}: {what} is a file, not a folder")
    verb = "write into" if folder == p.parent else "create folders in"
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"cannot {verb} {folder} (permission denied); choose another output path")
    try:  # root passes os.access everywhere; a read-only file system or a full disk show only here
        fd, probe = tempfile.mkstemp(prefix=".d2m-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise InputError(f"cannot {verb} {folder} ({reason.lower()}); choose another output path") from e
    return p


def check_output_paths(paths: list[str | os.PathLike | None], force: bool = False) -> list[Path | None]:
    """`check_output_path` for each of several outputs of one run (None stays None); also refuses two outputs
    that are the same file."""
    checked = [None if p is None else check_output_path(p, force=force) for p in paths]
    seen: dict[Path, Path] = {}
    for p in checked:
        if p is None:
            continue
        key = p.resolve()
        if key in seen:
            raise InputError(f"two outputs are the same file: {p}")
        seen[key] = p
    return checked


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


@contextlib.contextmanager
def atomic_outputs(paths: list[str | os.PathLike]) -> Iterator[list[Path]]:
    """`atomic_output` for several outputs of one run that appear together or not at all.

    Yields one temporary path per output (next to it, with its extension). Only when the block ends without
    error are they moved into place, one right after the other; if a move fails, the outputs already moved are
    removed again (an earlier file they replaced under --force stays replaced), and none is left half-written.
    """
    outs = [Path(p) for p in paths]
    tmps: list[Path] = []
    placed: list[Path] = []
    try:
        for p in outs:
            p.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{p.stem}.", suffix=f".part{p.suffix}", dir=p.parent)
            os.close(fd)
            tmps.append(Path(tmp))
        yield list(tmps)
        umask = os.umask(0)
        os.umask(umask)
        for tmp in tmps:
            os.chmod(tmp, 0o666 & ~umask)
        try:
            for tmp, p in zip(tmps, outs):
                os.replace(tmp, p)
                placed.append(p)
        except BaseException:
            for p in placed:
                with contextlib.suppress(OSError):
                    p.unlink()
            raise
    finally:
        for tmp in tmps:
            if tmp.exists():
                tmp.unlink()
