"""The house style's mechanical part: ruff over the project, mypy --strict over crypto/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_is_clean() -> None:
    result = run(sys.executable, "-m", "ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_on_crypto() -> None:
    result = run(sys.executable, "-m", "mypy", "crypto")
    assert result.returncode == 0, result.stdout + result.stderr
