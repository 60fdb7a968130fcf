"""Stages 1–3 of the record verifier: the layout of the directory, the hash chain of signed
entries (Haber–Stornetta linked time-stamping, Ed25519 signatures per RFC 8032) with
``election.json`` and ``index.json``, and the order of the election's phases."""

from __future__ import annotations

import json
from typing import Any

from crypto.errors import InvalidProof, MalformedInput, MixvoteError, ProtocolViolation, error_class
from crypto.protocol.wire import Message, decode_body
from crypto.receipts import check_receipts
from crypto.record import GENESIS, Entry, decode_entry, verify_body_signature
from crypto.verify.state import (
    ENTRY_FILE,
    META_KEYS,
    ONCE,
    PHASE_RANK,
    RECORD_FORMAT,
    Abort,
    Run,
    kind_of_rank,
)


def check_layout(run: Run) -> None:
    name = "layout"
    numbered: dict[int, tuple[str, str]] = {}
    for path in sorted(run.files):
        if path in ("election.json", "index.json") or path.startswith("verificatum/"):
            continue  # verificatum/ is derived from the entries: see check_verificatum
        m = ENTRY_FILE.match(path)
        if m is None:
            run.fail(name, path, "unexpected file in the record directory", MalformedInput)
            continue
        number = int(m.group(1))
        if number in numbered:
            run.fail(name, path, f"a second file for entry {number} "
                     f"(also {numbered[number][0]})", MalformedInput)
            continue
        numbered[number] = (path, m.group(2))
    if not numbered:
        run.fail(name, "entries/", "the record has no entry files", MalformedInput)
        raise Abort
    count = max(numbered) + 1
    missing = [i for i in range(count) if i not in numbered]
    for i in missing:
        run.fail(name, f"entry {i}", "entry file missing (an entry was removed)",
                 MalformedInput)
    run.paths = [numbered.get(i, ("", "?"))[0] for i in range(count)]
    run.kinds = [numbered.get(i, ("", "?"))[1] for i in range(count)]
    if not missing:
        run.ok(name, "entries/", f"{count} entry files numbered 0..{count - 1}")
    run.meta = load_json(run, "election.json", dict)
    run.index_json = load_json(run, "index.json", list)


def load_json(run: Run, path: str, kind: type) -> Any:
    raw = run.files.get(path)
    if raw is None:
        run.fail("layout", path, "file missing", MalformedInput)
        return kind()
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        run.fail("layout", path, f"not valid JSON ({exc})", MalformedInput)
        return kind()
    if not isinstance(value, kind):
        run.fail("layout", path, f"expected a JSON {kind.__name__}", MalformedInput)
        return kind()
    return value


def check_chain(run: Run) -> None:
    total = len(run.kinds)
    eid: str | None = None  # the first readable entry's; election.json is cross-checked
    prev: bytes | None = GENESIS
    bad_before = len(run.failures_so_far())
    for i in range(total):
        where = run.where(i)
        raw = run.files.get(run.paths[i]) if run.paths[i] else None
        entry: Entry | None = None
        if raw is not None:
            try:
                entry = decode_entry(raw, where)
            except MalformedInput as exc:
                run.fail("entry encoding", where, exc)
        run.entries.append(entry)
        run.hashes.append(entry.hash() if entry is not None else None)
        if entry is None:
            run.messages.append(None)
            prev = None
            continue
        if eid is None:
            eid = entry.election_id
        if entry.election_id != eid:
            run.fail("chain", where, f"belongs to election {entry.election_id!r}, not {eid!r}")
        if entry.index != i:
            run.fail("chain", where, f"index field says {entry.index} (entries removed, "
                     "added or reordered)")
        if prev is None:
            run.fail("chain", where, "hash link not checkable: the previous entry is "
                     "missing or unreadable", MalformedInput)
        elif entry.prev != prev:
            run.fail("chain", where, f"hash link does not match the hash of entry {i - 1}"
                     if i else "the first entry does not link to the genesis hash (zeros)")
        try:
            verify_body_signature(entry.author, entry.body, entry.signature, where)
        except MixvoteError as exc:
            run.fail("signature", where, exc)
        msg: Message | None = None
        try:
            msg = decode_body(entry.body)
        except MixvoteError as exc:
            run.fail("entry body", where, exc)
        if msg is not None:
            if msg.kind != run.kinds[i]:
                run.fail("entry body", where, f"the body is a {msg.kind!r} message, the "
                         f"file name says {run.kinds[i]!r}", MalformedInput)
            if msg.election_id != entry.election_id:
                run.fail("entry body", where,
                         f"the message is for election {msg.election_id!r}")
            if msg.kind not in PHASE_RANK:
                run.fail("entry body", where, f"a {msg.kind!r} message is not a record entry",
                         ProtocolViolation)
                msg = None
        run.messages.append(msg)
        prev = run.hashes[-1]
        run.progress("chain", i + 1, total)
    run.eid = eid or ""
    if len(run.failures_so_far()) == bad_before:
        run.ok("chain", f"entries 0..{total - 1}",
               "every entry decodes, is in place, links to its predecessor and is signed")
    head = run.hashes[-1] if run.hashes else None
    run.summary["entries"] = total
    run.summary["head"] = head.hex() if head else None
    check_meta(run, head)


def check_meta(run: Run, head: bytes | None) -> None:
    """``election.json`` and ``index.json`` must agree with the entries."""
    meta, bad = run.meta, []
    expect = {"format": RECORD_FORMAT, "election": run.eid, "entries": len(run.entries),
              "head": head.hex() if head else None}
    for key, value in expect.items():
        if not same_json(meta.get(key), value):
            bad.append(f"{key} is {meta.get(key)!r}, the entries say {value!r}")
    unknown = sorted(set(meta) - META_KEYS)
    if unknown:
        bad.append(f"keys the format does not define: {unknown}")
    for msg_fail in bad:
        run.fail("election.json", "election.json", msg_fail, MalformedInput)
    index = run.index_json
    bad_index = 0
    if len(index) != len(run.entries):
        run.fail("index.json", "index.json",
                 f"{len(index)} rows for {len(run.entries)} entries", MalformedInput)
        bad_index += 1
    for i, row in enumerate(index[: len(run.entries)]):
        entry, h = run.entries[i], run.hashes[i]
        if entry is None or h is None:
            continue
        want = {"index": i, "kind": run.kinds[i], "author": entry.author.hex(),
                "hash": h.hex(), "file": run.paths[i]}
        if not isinstance(row, dict) or any(not same_json(row.get(k), v)
                                            for k, v in want.items()) or set(row) != set(want):
            diff = [k for k, v in want.items()
                    if not isinstance(row, dict) or not same_json(row.get(k), v)]
            if isinstance(row, dict):
                diff += [f"unknown key {k!r}" for k in sorted(set(row) - set(want))]
            run.fail("index.json", f"row {i}", f"{', '.join(diff)} disagree with entry {i}",
                     MalformedInput)
            bad_index += 1
    if not bad:
        run.ok("election.json", "election.json", "format, election id, entry count and "
               "head hash match the entries")
    if not bad_index:
        run.ok("index.json", "index.json", "every row matches its entry")


def same_json(a: Any, b: Any) -> bool:
    """Equal JSON values of the same JSON type (1, 1.0 and true are three different values)."""
    return type(a) is type(b) and a == b


def check_order(run: Run) -> None:
    rank, bad = -1, 0
    for i, msg in enumerate(run.messages):
        if msg is None:
            continue
        r = PHASE_RANK[msg.kind]
        if r < rank:
            run.fail("phase order", run.where(i), f"a {msg.kind} entry after the "
                     f"{kind_of_rank(rank)} phase", ProtocolViolation)
            bad += 1
        rank = max(rank, r)
    for kind in ONCE:
        found = [i for i, _m in run.of_kind(kind)]
        if len(found) != 1:
            text = "missing" if not found else f"appears {len(found)} times (entries {found})"
            run.fail("phase order", kind, f"the record's {kind} entry is {text}",
                     ProtocolViolation)
            bad += 1
    first = run.messages[0] if run.messages else None
    if first is None or first.kind != "election.params":
        run.fail("phase order", "entry 0", "the record must start with election.params",
                 ProtocolViolation)
        bad += 1
    last = run.messages[-1] if run.messages else None
    if last is None or last.kind != "tally":
        run.fail("phase order", f"entry {len(run.messages) - 1}",
                 "the record must end with the tally", ProtocolViolation)
        bad += 1
    if not bad:
        run.ok("phase order", "", "parameters, nodes, DKG, voting, mixing, decryption, "
               "tally — each in its place")


def check_held_receipts(run: Run) -> None:
    """Receipts a node or voter holds against the record (:func:`crypto.receipts.check_receipts`):
    each broken promise is a failure naming the entry, as server misbehaviour with its receipt."""
    name = "receipts"
    key = run.receipt_server_key
    if key is None:
        found = [m for m in run.messages if m is not None and m.kind == "election.params"]
        key = found[0]["server_key"] if found else None
    if key is None or len(key) != 32:
        run.fail(name, "receipts", "no server key to check the receipts with", MalformedInput)
        return
    entries = [e for e in run.entries if e is not None]
    if len(entries) != len(run.entries):
        run.fail(name, "receipts", "not checkable: the record's chain is broken",
                 MalformedInput)
        return
    try:
        findings = check_receipts(run.receipts, entries, run.eid, key)
    except MixvoteError as exc:
        run.fail(name, "receipts", f"a receipt is no evidence here: {exc}", error_class(exc))
        return
    for f in findings:
        run.fail(name, f"entry {f.index}", str(f), InvalidProof)
    if not findings:
        heads = max(r.head_size for r in run.receipts)
        run.ok(name, f"{len(run.receipts)} receipts", "every receipted entry is in the record "
               f"at its index with its hash; the receipted heads (up to {heads} entries) are "
               "prefixes of this chain")
