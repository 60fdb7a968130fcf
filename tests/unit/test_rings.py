"""The architecture's rings: crypto/ is layered and pure, arrows point inward.

``crypto/`` is four layers, each allowed to import only itself and the layers below it:

1. **maths** — errors, encodings, hashing, the executor and report types, groups, ElGamal,
   ballots, proofs, the DKG, threshold decryption, transport, the shuffle, Verificatum's formats;
2. **protocol** — ``crypto/protocol/`` (messages, frames, state machines, the Verificatum export
   of an election) and ``crypto/record.py`` (entries, chain, signatures);
3. **verify** — ``crypto/verify/``, the record verifier;
4. **io** — ``crypto/io/``, the only sub-package allowed the OS, processes, threads, files,
   progress bars and the network (:data:`IO_ONLY`).

Imports are read with ``ast`` (every import statement, also inside functions), and relative
imports are resolved. Nothing in ``crypto/`` imports the adapters.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("maths", "protocol", "verify", "io")
#: Modules only ``crypto/io/`` may import (the OS, processes, threads, files, terminals, network,
#: web frameworks, databases, plotting, clocks).
IO_ONLY = frozenset({
    "os", "threading", "multiprocessing", "concurrent", "subprocess", "signal", "atexit", "tqdm",
    "pathlib", "shutil", "tempfile", "glob", "socket", "asyncio", "selectors", "sqlite3",
    "tornado", "flask", "werkzeug", "websocket", "matplotlib", "time", "datetime",
})
ADAPTERS = frozenset({"mixserver", "mixnode", "webui", "experiments", "tests"})


def layer_of(module: str) -> str | None:
    """The layer of a ``crypto`` module (None for a module outside ``crypto``)."""
    parts = module.split(".")
    if parts[0] != "crypto":
        return None
    if len(parts) > 1 and parts[1] in ("protocol", "record"):
        return "protocol"
    if len(parts) > 1 and parts[1] in ("verify", "io"):
        return parts[1]
    return "maths"


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, module: str, is_package: bool) -> set[str]:
    """Every module ``source`` imports (absolute names), wherever the import statement stands.
    ``from crypto import x`` names ``crypto.x`` when ``crypto/x`` is a module or package."""
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            for alias in node.names:
                candidate = ROOT.joinpath(*f"{target}.{alias.name}".split("."))
                if candidate.with_suffix(".py").is_file() or candidate.is_dir():
                    found.add(f"{target}.{alias.name}")
    return found


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """What ``module`` (whose text is ``source``) imports against the rules."""
    own = layer_of(module)
    assert own is not None, f"{module} is not in crypto/"
    bad = []
    for target in sorted(imported_modules(source, module, is_package)):
        root = target.split(".")[0]
        if root in ADAPTERS:
            bad.append(f"{target}: crypto/ never imports the adapters")
        elif root in IO_ONLY and own != "io":
            bad.append(f"{target}: only crypto/io/ may import it")
        elif (theirs := layer_of(target)) and LAYERS.index(theirs) > LAYERS.index(own):
            bad.append(f"{target}: the {own} layer may not import the {theirs} layer")
    return bad


def python_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", python_files("crypto"), ids=lambda p: str(p.relative_to(ROOT)))
def test_crypto_keeps_its_rings(path: Path) -> None:
    bad = violations(path.read_text(encoding="utf-8"), module_name(path), path.stem == "__init__")
    assert not bad, f"{path.relative_to(ROOT)}: {bad}"


def test_every_layer_is_populated() -> None:
    # A rename that moved a whole layer out of reach of the rules would make them vacuous.
    layers = {layer_of(module_name(p)) for p in python_files("crypto")}
    assert layers == set(LAYERS)


@pytest.mark.parametrize(
    ("module", "source", "needle"),
    [
        ("crypto.shuffle.prove", "import os\n", "os: only crypto/io/"),
        ("crypto.elgamal", "def f():\n    import threading\n", "threading: only crypto/io/"),
        ("crypto.groups.base", "from tqdm import tqdm\n", "tqdm: only crypto/io/"),
        ("crypto.verify.chain", "from pathlib import Path\n", "pathlib: only crypto/io/"),
        ("crypto.protocol.wire", "import multiprocessing.pool\n", "multiprocessing.pool"),
        ("crypto.ballot", "from crypto.protocol.wire import digest\n", "the maths layer"),
        ("crypto.ballot", "from crypto import verify\n", "crypto.verify: the maths layer"),
        ("crypto.record", "from crypto.verify import verify_record\n", "the protocol layer"),
        ("crypto.verify.mixing", "from crypto.io.pool import process_map\n", "the verify layer"),
        ("crypto.shuffle.prove", "from ..io import pool\n", "crypto.io: the maths layer"),
        ("crypto.shuffle", "from .. import verify\n", "crypto.verify: the maths layer"),
        ("crypto.io.cli", "import mixserver.cli\n", "never imports the adapters"),
    ],
)
def test_ring_rules_catch_a_violation(module: str, source: str, needle: str) -> None:
    # The rules must be able to fail: each synthetic module breaks one of them.
    is_package = module == "crypto.shuffle"
    assert any(needle in v for v in violations(source, module, is_package)), needle


def test_ring_rules_allow_what_is_allowed() -> None:
    io_source = "import os\nimport threading\nfrom tqdm import tqdm\n"
    assert violations(io_source, "crypto.io.pool") == []
    assert violations("from crypto.verify import verify_record\n", "crypto.io.cli") == []
    assert violations("from crypto.shuffle import shuffle\n", "crypto.protocol.export") == []
    assert violations("from . import codec\n", "crypto.shuffle", is_package=True) == []
    assert violations("import hashlib\nfrom crypto.errors import MalformedInput\n",
                      "crypto.ballot") == []


def test_webui_never_imports_the_server() -> None:
    for path in python_files("webui"):
        roots = {m.split(".")[0] for m in imported_modules(path.read_text(), "webui.x", False)}
        assert "mixserver" not in roots, path


def test_node_never_imports_the_server() -> None:
    for path in python_files("mixnode"):
        roots = {m.split(".")[0] for m in imported_modules(path.read_text(), "mixnode.x", False)}
        assert "mixserver" not in roots, path


def test_only_the_groups_make_elements() -> None:
    # Element is a distinct type so that raw bytes never pass for a validated point: only a
    # backend (its operations and its validating decoder) may wrap bytes as an Element.
    makers = set()
    for path in python_files("crypto"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "Element"):
                makers.add(path.relative_to(ROOT).parent.as_posix())
    assert makers == {"crypto/groups"}, makers
