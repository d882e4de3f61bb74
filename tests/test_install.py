"""scripts/install.sh picks a CPU build of torch: from local disk where pip finds it there, else PyTorch's CPU
index on Linux, and exactly TORCH_SPEC when set. Run with a stand-in Python that logs what pip was asked."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "install.sh"


def _run(tmp_path: Path, local_torch: bool, **env: str) -> list[str]:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    log = tmp_path / "pip.log"
    fake = venv / "bin" / "python"  # every pip call: log its arguments; a --dry-run --no-index finds torch or not
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> "{log}"\n'
        'case "$*" in *--dry-run*--no-index*) ' + ("exit 0" if local_torch else "exit 1") + ";; esac\n"
        "exit 0\n"
    )
    fake.chmod(0o755)
    base = {k: v for k, v in os.environ.items() if k != "TORCH_SPEC"}
    subprocess.run(["bash", str(SCRIPT), str(venv)], check=True, env={**base, **env}, capture_output=True, timeout=60)
    return [line for line in log.read_text().splitlines() if "torch" in line and "--dry-run" not in line]


def test_local_torch_is_installed_as_before(tmp_path: Path) -> None:
    calls = _run(tmp_path, local_torch=True)
    assert calls == ["-m pip install --disable-pip-version-check --progress-bar off torch==2.13.0"]


@pytest.mark.skipif(platform.system() != "Linux", reason="the CPU index is only taken on Linux")
def test_without_local_torch_linux_takes_the_cpu_build(tmp_path: Path) -> None:
    calls = _run(tmp_path, local_torch=False)
    assert len(calls) == 1 and calls[0].endswith("--index-url https://download.pytorch.org/whl/cpu torch==2.13.0")


def test_torch_spec_is_taken_as_given(tmp_path: Path) -> None:
    calls = _run(tmp_path, local_torch=False, TORCH_SPEC="torch>=2.2")
    assert calls == ["-m pip install --disable-pip-version-check --progress-bar off torch>=2.2"]
