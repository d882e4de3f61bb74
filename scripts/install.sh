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
# torch first: on the project's machines 2.13.0 is a CPU build on local disk; a looser spec would
# download a multi-GB CUDA build. Elsewhere set TORCH_SPEC (e.g. TORCH_SPEC=torch) to choose your own.
"${PIP[@]}" "${TORCH_SPEC:-torch==2.13.0}"
"${PIP[@]}" -e ".[web,data,dev]"
"${PIP[@]}" --no-deps -r requirements-nodeps.txt
touch "$VENV/.installed"
echo "installed into $VENV"
