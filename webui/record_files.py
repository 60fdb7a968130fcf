"""The ciphertext lists of an election, read from its record entries.

The input list of the mix is the ``ciphertexts`` field of the ``voting.closed`` entry; each hop's
output is the ``outputs`` field of the node's signed ``mix.result`` entry that an ``accepted``
``hop.verdict`` points to (``result_entry``); the mixed list is that of the last accepted hop.
Entries are decoded with :func:`crypto.record.decode_entry` and :func:`crypto.wire.decode_body`,
the same functions the verifier uses. Rows are hex strings of ``2·width·element_size`` bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from crypto.encoding import split_fixed
from crypto.groups import group as get_group


def ciphertext_lists(
    entries: Iterable[tuple[int, str, dict[str, Any]]], group_name: str, width: int
) -> dict[str, list[str]]:
    """``{"inputs": rows, "mixed": rows}`` (each key present only when on the record) from
    ``(index, kind, fields)`` triples in board order."""
    size = 2 * width * get_group(group_name).element_size
    inputs: bytes | None = None
    results: dict[int, bytes] = {}
    accepted: list[int] = []
    for index, kind, fields in entries:
        if kind == "voting.closed":
            inputs = fields["ciphertexts"]
        elif kind == "mix.result":
            results[index] = fields["outputs"]
        elif kind == "hop.verdict" and fields.get("status") == "accepted":
            accepted.append(int(fields["result_entry"]))
    out: dict[str, list[str]] = {}
    if inputs is not None:
        out["inputs"] = [row.hex() for row in split_fixed(inputs, size)] if inputs else []
    mixed = [results[i] for i in accepted if i in results]
    if mixed:
        out["mixed"] = [row.hex() for row in split_fixed(mixed[-1], size)] if mixed[-1] else []
    return out


def entries_of_record(record_dir: Path) -> list[tuple[int, str, dict[str, Any]]]:
    """``(index, kind, fields)`` of every entry file of an exported record (``docs/record.md``)."""
    from crypto.record import decode_entry
    from crypto.wire import decode_body

    out = []
    entry_dir = record_dir / "entries"
    for path in sorted(entry_dir.glob("*.bin")) if entry_dir.is_dir() else []:
        entry = decode_entry(path.read_bytes(), where=path.name)
        msg = decode_body(entry.body)
        out.append((entry.index, msg.kind, dict(msg.fields)))
    return sorted(out, key=lambda e: e[0])
