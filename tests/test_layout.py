"""The package's shape: layers import only downwards, no import circle, imports at the top, short functions.

Layers, lowest first (a module may import its own layer and those below it):

    errors, constants, types, system, arrays  ->  io  ->  features  ->  data  ->  nn, losses  ->  models, pretrained
    ->  metrics  ->  training  ->  api  ->  cli, web

An import inside a function is allowed only for the heavy or optional modules named in `LAZY_OK` (torch on the
CLI's quick paths, mediapipe, gradio, matplotlib, ...), and, from the CLI, the web page and the API's background
load, for the package's own modules that pull in torch.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "dance2music"
LAYERS = [
    {"errors", "constants", "types", "system", "arrays"},
    {"io"},
    {"features"},
    {"data"},
    {"nn", "losses"},
    {"models", "pretrained"},
    {"metrics"},
    {"training"},
    {"api"},
    {"cli", "web", "__init__", "__main__"},
]
RANK = {part: i for i, layer in enumerate(LAYERS) for part in layer}
#: Third-party modules that may be imported inside a function: heavy (seconds or hundreds of MB) or optional.
LAZY_OK = {"torch", "mediapipe", "gradio", "matplotlib", "librosa", "scipy", "sklearn", "skimage", "av", "tqdm",
           "safetensors", "soundfile", "pyloudnorm", "pedalboard", "tinysoundfont", "cv2", "yaml", "PIL",
           "selenium", "torch.distributed", "resource", "psutil", "numba", "pretty_midi",
           "immich_memories_music"}  # fmt: skip
#: Packages whose functions may import the package's own torch-using modules lazily (the quick paths).
LAZY_INTERNAL_OK = {"cli", "web", "__init__", "__main__", "api"}
MAX_FUNCTION_LINES = 100


def _modules() -> dict[str, ast.Module]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        name = ".".join(p for p in rel.parts if p != "__init__") or "__init__"
        out[name] = ast.parse(path.read_text(), str(path))
    return out


def _resolve(module: str, node: ast.ImportFrom | ast.Import, is_pkg: bool) -> list[str]:
    """The package's own modules an import statement names (dotted, relative to dance2music)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
        return [n.removeprefix("dance2music.") for n in names if n.startswith("dance2music.")]
    if node.level == 0:
        if not (node.module or "").startswith("dance2music"):
            return []
        base = (node.module or "").removeprefix("dance2music").lstrip(".")
    else:
        parts = module.split(".") if module != "__init__" else []
        parts = parts if is_pkg else parts[:-1]
        parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
        base = ".".join(parts + ([node.module] if node.module else []))
    if node.module is None:  # from . import x, y
        return [f"{base}.{a.name}".lstrip(".") for a in node.names]
    return [base or "__init__"]


def _imports(modules: dict[str, ast.Module]):
    """(module, imported module, line, inside a function?) for every import of the package's own modules."""
    pkgs = {m for m in modules if (SRC / m.replace(".", "/") / "__init__.py").exists()}
    for name, tree in modules.items():
        funcs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        inner = {id(n) for f in funcs for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                typing_only = _under_type_checking(tree, node)
                for target in _resolve(name, node, name in pkgs):
                    while target not in modules and "." in target:
                        target = target.rsplit(".", 1)[0]
                    if target in modules and not typing_only:
                        yield name, target, node.lineno, id(node) in inner


def _under_type_checking(tree: ast.Module, node: ast.AST) -> bool:
    for n in ast.walk(tree):
        if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test):
            if any(c is node for c in ast.walk(n)):
                return True
    return False


def _top(module: str) -> str:
    return module.split(".")[0]


def test_every_package_has_a_layer():
    assert {_top(m) for m in _modules()} <= set(RANK)


def test_no_upward_import():
    bad = [
        f"{a} -> {b} (line {line})"
        for a, b, line, _ in _imports(_modules())
        if RANK.get(_top(b), 0) > RANK.get(_top(a), 0)
    ]
    assert not bad, "imports from a lower layer to a higher one:\n" + "\n".join(bad)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(edges):
        if v not in index:
            visit(v)
    return out


def test_no_import_circle_between_modules_or_packages():
    modules = _modules()
    files: dict[str, set[str]] = defaultdict(set)
    packages: dict[str, set[str]] = defaultdict(set)
    for a, b, _, _ in _imports(modules):
        if a != b and not (b == a.rsplit(".", 1)[0] and b in modules):  # a package's __init__ re-exporting
            files[a].add(b)
        if _top(a) != _top(b):
            packages[_top(a)].add(_top(b))
    assert not _cycles(files), _cycles(files)
    assert not _cycles(packages), _cycles(packages)


def test_imports_at_the_top():
    modules = _modules()
    bad = [
        f"{a} imports {b} inside a function (line {line})"
        for a, b, line, inner in _imports(modules)
        if inner and _top(a) not in LAZY_INTERNAL_OK
    ]
    for name, tree in modules.items():
        for f in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
            for node in ast.walk(f):
                if isinstance(node, ast.Import):
                    mods = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    mods = [node.module or ""]
                else:
                    continue
                for m in mods:
                    if not m.startswith("dance2music") and m.split(".")[0] not in LAZY_OK and m not in LAZY_OK:
                        bad.append(f"{name} imports {m} inside a function (line {node.lineno})")
    assert not bad, "\n".join(bad)


def test_no_long_function():
    long = []
    for name, tree in _modules().items():
        for f in ast.walk(tree):
            if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = f.end_lineno - f.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{f.name}: {n} lines")
    assert not long, "\n".join(long)
