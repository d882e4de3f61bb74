"""Importing MediaPipe without importing matplotlib, silencing its native start-up output, closing its graphs.

``import mediapipe`` runs ``mediapipe.python.solutions.drawing_utils``, whose module-level
``import matplotlib.pyplot as plt`` is a large share of MediaPipe's import, on the critical path of
`d2m generate`, for a plotting helper this project never calls. `import_mediapipe` imports MediaPipe with
stand-ins registered for ``matplotlib`` and ``matplotlib.pyplot`` (only when neither is imported yet) and
removes them right after, so a later ``import matplotlib`` gets the real package. MediaPipe's ``plt`` stays
a stand-in that imports the real pyplot on its first attribute access, so its plotting helper still works.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import threading
import types
from collections.abc import Iterator
from typing import Any, TypeVar

_lock = threading.Lock()


class _LazyPyplot(types.ModuleType):
    """``matplotlib.pyplot`` imported on first use."""

    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module("matplotlib.pyplot"), name)


def import_mediapipe() -> types.ModuleType:
    """``import mediapipe`` (the package; its submodules import normally afterwards)."""
    with _lock:
        if "mediapipe" in sys.modules:
            return sys.modules["mediapipe"]
        stand_ins: dict[str, types.ModuleType] = {}
        if "matplotlib" not in sys.modules and "matplotlib.pyplot" not in sys.modules:
            pyplot = _LazyPyplot("matplotlib.pyplot")
            package = types.ModuleType("matplotlib")
            package.pyplot = pyplot  # type: ignore[attr-defined]  # `import matplotlib.pyplot as plt` reads it
            stand_ins = {"matplotlib": package, "matplotlib.pyplot": pyplot}
            sys.modules.update(stand_ins)
        try:
            return importlib.import_module("mediapipe")
        finally:
            for name, module in stand_ins.items():
                if sys.modules.get(name) is module:
                    del sys.modules[name]


class _QuietStderr:
    """The state behind `quiet_native_stderr`: fd 2 is redirected while at least one thread is inside."""

    lock = threading.Lock()
    depth = 0
    saved: int | None = None


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence C++ log lines (TFLite "INFO: Created ... delegate", absl warnings) written straight to fd 2.

    MediaPipe prints them while it starts its graph; a command line that promises one
    line of output on error cannot let them through. Python-level exceptions are unaffected.
    Threads may build graphs at once (`features.extract.PoseLanes` builds its trackers beside the people
    scan's detector): the first one in redirects fd 2 and the last one out restores it, so that no thread
    can "restore" the other's /dev/null.
    """
    q = _QuietStderr
    with q.lock:
        if q.depth == 0:
            try:
                q.saved = os.dup(2)
            except OSError:  # no stderr at all (some embedded hosts)
                q.saved = None
            if q.saved is not None:
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, 2)
                os.close(null)
        q.depth += 1
    try:
        yield
    finally:
        with q.lock:
            q.depth -= 1
            if q.depth == 0 and q.saved is not None:
                os.dup2(q.saved, 2)
                os.close(q.saved)
                q.saved = None


_G = TypeVar("_G", bound="GraphOwner")


class GraphOwner:
    """Owns a MediaPipe graph in ``self._graph``: `close` (or leaving a ``with`` block) closes it once."""

    _graph: Any
    _closed = False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._graph.close()

    def __enter__(self: _G) -> _G:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
