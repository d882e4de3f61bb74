#!/usr/bin/env bash
# Installs dance2music and everything it needs into a virtual environment, from nothing.
# Usage: bash scripts/install.sh [VENV_DIR]   (default .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-.venv}"
PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check --progress-bar off)
"${PIP[@]}" --upgrade pip wheel setuptools >/dev/null
# torch first, a CPU build unless you choose otherwise (the tool runs on a CPU; PyPI's Linux wheels of torch
# bring about 4 GB of CUDA libraries):
#   - TORCH_SPEC set (e.g. TORCH_SPEC=torch for PyPI's default build, CUDA included on Linux): exactly that;
#   - otherwise torch==2.13.0 from local disk when pip's find-links hold it (the project's machines and CI);
#   - otherwise, on Linux, the CPU-only build from PyTorch's own index (about 0.2 GB to download);
#   - otherwise (macOS, Windows: PyPI's wheels are CPU builds there) torch==2.13.0 from PyPI.
TORCH_VERSION="torch==2.13.0"
TORCH_CPU_INDEX="${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}"
if [ -n "${TORCH_SPEC:-}" ]; then
    "${PIP[@]}" "$TORCH_SPEC"
elif "${PIP[@]}" --dry-run --no-index --no-deps "$TORCH_VERSION" >/dev/null 2>&1; then
    "${PIP[@]}" "$TORCH_VERSION"  # found on local disk (its dependencies come from the usual indexes)
elif [ "$(uname -s)" = "Linux" ]; then
    echo "torch: $TORCH_VERSION, CPU build, from $TORCH_CPU_INDEX (set TORCH_SPEC=torch for PyPI's CUDA build)"
    "${PIP[@]}" --index-url "$TORCH_CPU_INDEX" "$TORCH_VERSION"
else
    "${PIP[@]}" "$TORCH_VERSION"
fi
"${PIP[@]}" -e ".[web,data,dev]"
"${PIP[@]}" --no-deps -r requirements-nodeps.txt
touch "$VENV/.installed"
echo "installed into $VENV"
