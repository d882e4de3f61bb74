"""Importing MediaPipe without importing matplotlib.

``import mediapipe`` runs ``mediapipe.python.solutions.drawing_utils``, whose module-level
``import matplotlib.pyplot as plt`` takes about 0.6 s here: a third of MediaPipe's import, on the critical path of
`d2m generate`, for a plotting helper this project never calls. `import_mediapipe` imports MediaPipe with
stand-ins registered for ``matplotlib`` and ``matplotlib.pyplot`` (only when neither is imported yet) and
removes them right after, so a later ``import matplotlib`` gets the real package. MediaPipe's ``plt`` stays
a stand-in that imports the real pyplot on its first attribute access, so its plotting helper still works.
"""

from __future__ import annotations

import importlib
import sys
import threading
import types
from typing import Any

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
