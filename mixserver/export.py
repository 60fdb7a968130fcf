"""Export an election record from the board as a self-contained directory (``docs/record.md``).

Layout::

    DEST/election.json          election id, server key, entry count, head hash, parameters
    DEST/index.json             [{index, kind, author, hash, file}] in chain order
    DEST/entries/NNNNNN-KIND.bin  each entry's canonical encoding (crypto.record.encode_entry)

The entries alone are the record: the verifier re-derives every hash and checks every signature
and proof from them; ``election.json`` and ``index.json`` are conveniences it cross-checks.

On a group the Verificatum Mix-Net knows (secp256k1, P-256, P-384, brainpool), the export also has
``DEST/verificatum/``: ``protInfo.xml`` and the shuffling proof directory ``nizkp/default/`` of the
whole cascade, every accepted hop a party in order (``crypto.verificatum.directory``), so that
Verificatum's own ``vmnv -shuffle`` can check the mixing too (``docs/verificatum.md``)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import zipfile
from pathlib import Path
from typing import Any

from crypto.errors import MalformedInput
from crypto.protocol.wire import decode_body
from crypto.record import verify_chain
from mixserver.board import Board

_ZIP_LOCKS: dict[str, threading.Lock] = {}
_ZIP_LOCKS_GUARD = threading.Lock()


def prepare_export_dir(dest: Path) -> None:
    """Create ``dest`` for an export, or accept it if it is an empty directory; refuse anything
    else. Nothing of the user's is ever deleted (``--export ~`` must not wipe a home)."""
    dest = Path(dest)
    if dest.exists() or dest.is_symlink():
        if not dest.is_dir() or dest.is_symlink():
            raise MalformedInput(f"export: {dest} exists and is not a directory")
        if any(dest.iterdir()):
            raise MalformedInput(
                f"export: {dest} is not empty; give a new (or empty) directory, nothing is deleted"
            )
        return
    dest.mkdir(parents=True)


def export_record(board: Board, eid: str, dest: Path) -> dict[str, Any]:
    """Write the record of ``eid`` into ``dest``, a new or empty directory (a non-empty one is
    refused, see :func:`prepare_export_dir`); returns {path, entries, head}."""
    dest = Path(dest)
    prepare_export_dir(dest)
    entries_dir = dest / "entries"
    entries_dir.mkdir()
    index = []
    head = b""
    params: Any = None
    for stored in board.iter_entries(eid):
        entry = stored.entry
        name = f"{entry.index:06d}-{stored.kind}.bin"
        (entries_dir / name).write_bytes(entry.encode())
        index.append(
            {
                "index": entry.index,
                "kind": stored.kind,
                "author": entry.author.hex(),
                "hash": stored.hash.hex(),
                "file": f"entries/{name}",
            }
        )
        head = stored.hash
        if stored.kind == "election.params" and params is None:
            params = json.loads(decode_body(entry.body)["params"])
    # the exported chain must verify before we call it a record
    verify_chain((s.entry for s in board.iter_entries(eid)), eid)
    (dest / "index.json").write_text(json.dumps(index, indent=1))
    meta = {
        "format": "mixvote-record/1",
        "election": eid,
        "server_key": board.server_public.hex(),
        "entries": len(index),
        "head": head.hex(),
        "params": params,
    }
    (dest / "election.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
    files = verificatum_files(board, eid)
    for rel, content in files.items():
        path = dest / "verificatum" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return {
        "path": str(dest),
        "entries": len(index),
        "head": head.hex(),
        "verificatum": bool(files),
    }


def verificatum_files(board: Board, eid: str) -> dict[str, bytes]:
    """Verificatum's files for the accepted hops of ``eid`` (relative paths), or {} when the group
    is not one of Verificatum's or no hop was accepted."""
    from crypto import group
    from crypto.protocol.export import verificatum_files as export_files

    params, _phase, state = board.election(eid)
    closed = board.entries_of_kind(eid, "voting.closed")
    if not closed or not state.get("public_key"):
        return {}
    hops = []
    for stored in board.entries_of_kind(eid, "hop.verdict"):
        verdict = decode_body(stored.entry.body)
        if verdict["status"] != "accepted":
            continue
        result_entry = board.entry(eid, verdict["result_entry"])
        assert result_entry is not None
        result = decode_body(result_entry.entry.body)
        hops.append((verdict["position"], bytes(result["outputs"]), list(result["proof"])))
    return export_files(
        group(params["group"]), eid, bytes.fromhex(state["public_key"]), params["width"],
        bytes(decode_body(closed[-1].entry.body)["ciphertexts"]), hops,
    )


def chain_head(board: Board, eid: str) -> str:
    """Hex hash of the last entry of ``eid`` ("" while it has none)."""
    count = board.count_entries(eid)
    last = board.entry(eid, count - 1) if count else None
    return last.hash.hex() if last is not None else ""


def record_zip(board: Board, eid: str, cache_dir: Path) -> dict[str, Any]:
    """The record of ``eid`` as a zip file, built once per chain head and cached in
    ``cache_dir`` (older zips of the election are removed); returns {path, head, size}.

    Built in a private temporary directory and renamed into place, so a reader never sees a
    partial zip; one build at a time per election."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _ZIP_LOCKS_GUARD:
        lock = _ZIP_LOCKS.setdefault(eid, threading.Lock())
    with lock:
        head = chain_head(board, eid)
        path = cache_dir / f"{eid}-{head[:32]}.zip"
        if not path.is_file():
            work = Path(tempfile.mkdtemp(prefix=f".{eid}-", dir=cache_dir))
            try:
                out = export_record(board, eid, work / eid)
                head = out["head"]
                path = cache_dir / f"{eid}-{head[:32]}.zip"
                part = work / "record.zip"
                root = work / eid
                with zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as zf:
                    for file in sorted(root.rglob("*")):
                        if file.is_file():
                            zf.write(file, f"{eid}/{file.relative_to(root)}")
                os.replace(part, path)
            finally:
                shutil.rmtree(work, ignore_errors=True)  # our own temporary directory only
        for old in cache_dir.glob(f"{eid}-*.zip"):
            if old != path:
                old.unlink(missing_ok=True)
        return {"path": str(path), "head": head, "size": path.stat().st_size}
