"""Where the Verificatum test vectors live: ``../shared/vectors/verificatum/`` beside the
repository (as CI clones it), or under ``$MIXVOTE_SHARED``. A missing directory is a failure,
never a skip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def vectors_dir() -> Path:
    base = os.environ.get("MIXVOTE_SHARED")
    shared = Path(base) if base else Path(__file__).resolve().parents[2].parent / "shared"
    path = shared / "vectors" / "verificatum"
    if not path.is_dir():
        pytest.fail(
            f"Verificatum test vectors not found at {path}: check out the shared directory beside "
            "the repository or set MIXVOTE_SHARED to the shared/ directory"
        )
    return path
