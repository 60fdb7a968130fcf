"""Export an election record from the board as a self-contained directory (``docs/record.md``).

Layout::

    DEST/election.json          election id, server key, entry count, head hash, parameters
    DEST/index.json             [{index, kind, author, hash, file}] in chain order
    DEST/entries/NNNNNN-KIND.bin  each entry's canonical encoding (crypto.record.encode_entry)

The entries alone are the record: the verifier re-derives every hash and checks every signature
and proof from them; ``election.json`` and ``index.json`` are conveniences it cross-checks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crypto.record import verify_chain
from crypto.wire import decode_body
from mixserver.board import Board


def export_record(board: Board, eid: str, dest: Path) -> dict[str, Any]:
    """Write the record of ``eid`` under ``dest`` (created); returns {path, entries, head}."""
    entries_dir = dest / "entries"
    entries_dir.mkdir(parents=True)
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
    return {"path": str(dest), "entries": len(index), "head": head.hex()}
