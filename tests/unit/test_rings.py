"""The architecture's rings: crypto/ is pure, the wire protocol is sans-io, arrows point inward."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IO_MODULES = {"tornado", "flask", "websocket", "sqlite3", "socket", "asyncio", "matplotlib"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def python_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", python_files("crypto"), ids=lambda p: str(p.relative_to(ROOT)))
def test_crypto_imports_no_io(path: Path) -> None:
    bad = imported_roots(path) & (IO_MODULES | {"mixserver", "mixnode", "webui", "experiments"})
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}; crypto/ must stay pure"


def test_ring_check_detects_a_violation(tmp_path: Path) -> None:
    # The check above must be able to fail: an import of an I/O module is seen.
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom tornado.web import Application\nimport sqlite3 as db\n")
    assert imported_roots(bad) >= {"tornado", "sqlite3"}


def test_webui_never_imports_the_server() -> None:
    for path in python_files("webui"):
        assert "mixserver" not in imported_roots(path), path


def test_node_never_imports_the_server() -> None:
    for path in python_files("mixnode"):
        assert "mixserver" not in imported_roots(path), path
