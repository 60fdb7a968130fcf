"""crypto.receipts: server-signed append receipts and the check that a record keeps every one of
them (the server-key holder's rewrites are caught with the receipt as evidence)."""

from __future__ import annotations

import random

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from crypto import receipts as rc
from crypto.credentials import generate_credential
from crypto.errors import InvalidProof, MalformedInput
from crypto.record import GENESIS, Entry, make_entry

EID = "e0123456789ab"
SERVER = generate_credential(random.Random(1))
SERVER_KEY = Ed25519PrivateKey.from_private_bytes(SERVER.private)
OTHER = generate_credential(random.Random(2))


def build(bodies: list[bytes], eid: str = EID) -> list[Entry]:
    """A record the server-key holder can build: entries chained and signed by the server."""
    entries: list[Entry] = []
    prev = GENESIS
    for i, body in enumerate(bodies):
        entry = make_entry(eid, i, prev, SERVER_KEY, body)
        entries.append(entry)
        prev = entry.hash()
    return entries


def receipts_for(entries: list[Entry]) -> list[rc.Receipt]:
    """The receipts an honest board hands out, one per append (head = that entry)."""
    return [
        rc.make_receipt(SERVER.private, EID, i, e.hash(), i + 1, e.hash())
        for i, e in enumerate(entries)
    ]


BODIES = [f"body {i}".encode() for i in range(8)]
RECORD = build(BODIES)
ALL = receipts_for(RECORD)


def test_receipt_message_layout() -> None:
    h, g = bytes(range(32)), bytes(range(32, 64))
    assert rc.receipt_message(EID, 5, h, 9, g) == (
        b"mixvote/receipt/v1\x00"
        + (13).to_bytes(4, "big") + EID.encode()
        + (5).to_bytes(8, "big")
        + (32).to_bytes(4, "big") + h
        + (9).to_bytes(8, "big")
        + (32).to_bytes(4, "big") + g
    )


def test_honest_record_keeps_every_receipt_also_after_growth() -> None:
    assert rc.check_receipts(ALL, RECORD, EID, SERVER.public) == []
    rc.verify_receipts(ALL, RECORD, EID, SERVER.public)
    grown = build([*BODIES, b"later 1", b"later 2"])
    assert rc.check_receipts(ALL, grown, EID, SERVER.public) == []
    # A head receipt issued when more had been appended (concurrent appends) is also kept.
    late = rc.make_receipt(SERVER.private, EID, 2, RECORD[2].hash(), 6, RECORD[5].hash())
    assert rc.check_receipts([late], RECORD, EID, SERVER.public) == []


def test_round_trip_and_signature() -> None:
    for receipt in ALL:
        again = rc.decode_receipt(rc.encode_receipt(receipt))
        assert again == receipt
        rc.verify_receipt(again, SERVER.public)
    with pytest.raises(InvalidProof, match="expected server"):
        rc.verify_receipt(ALL[0], OTHER.public)


def test_tampered_receipts_are_not_evidence() -> None:
    r = ALL[3]
    forged = [
        rc.Receipt(r.election_id, 4, r.entry_hash, 5, r.head_hash, r.server, r.signature),
        rc.Receipt(r.election_id, r.index, bytes(32), 9, r.head_hash, r.server, r.signature),
        rc.Receipt("e-other", r.index, r.entry_hash, 4, r.head_hash, r.server, r.signature),
        rc.Receipt(r.election_id, r.index, r.entry_hash, 4, r.head_hash, OTHER.public,
                   r.signature),
        rc.Receipt(r.election_id, r.index, r.entry_hash, 4, r.head_hash, r.server,
                   r.signature[:-1] + bytes([r.signature[-1] ^ 1])),
    ]
    for bad in forged:
        with pytest.raises(InvalidProof):
            rc.verify_receipt(bad)
    # A receipt nobody could check signs nothing: check_receipts refuses it rather than report.
    with pytest.raises(InvalidProof):
        rc.check_receipts([forged[1]], RECORD, EID, SERVER.public)
    with pytest.raises(MalformedInput, match="for election"):
        rc.check_receipts([forged[2]], RECORD, EID, SERVER.public)


def test_dropped_tail_is_server_misbehaviour() -> None:
    truncated = RECORD[:5]
    findings = rc.check_receipts(ALL, truncated, EID, SERVER.public)
    assert [f.index for f in findings] == [5, 6, 7]
    assert all(f.kind == "server misbehaviour" and "missing" in f.what for f in findings)
    assert findings[0].evidence == (ALL[5],)
    with pytest.raises(rc.ServerMisbehaviour) as info:
        rc.verify_receipts(ALL, truncated, EID, SERVER.public)
    assert "server misbehaviour at entry 5" in str(info.value)
    assert info.value.findings == tuple(findings)


def test_removed_and_rechained_entry_is_caught_by_every_later_receipt() -> None:
    # The server-key holder deletes entry 3 (say a node's mix.result) and re-signs the rest.
    rewritten = build(BODIES[:3] + BODIES[4:])
    findings = rc.check_receipts(ALL, rewritten, EID, SERVER.public)
    assert [f.index for f in findings] == [3, 4, 5, 6, 7]
    assert "altered, removed or reordered" in findings[0].what
    # A node that kept only its own receipt (for entry 3) proves the drop by itself.
    [only] = rc.check_receipts([ALL[3]], rewritten, EID, SERVER.public)
    assert only.index == 3 and only.evidence == (ALL[3],)


def test_altered_body_and_swapped_order_are_caught() -> None:
    altered = build([*BODIES[:6], b"body 6 rewritten", BODIES[7]])
    assert [f.index for f in rc.check_receipts(ALL, altered, EID, SERVER.public)] == [6, 7]
    swapped = build([BODIES[1], BODIES[0], *BODIES[2:]])
    assert [f.index for f in rc.check_receipts(ALL[:1], swapped, EID, SERVER.public)] == [0]
    # Receipts only for entries before the change see nothing (what they cannot prove).
    assert rc.check_receipts(ALL[:6], altered, EID, SERVER.public) == []


def test_a_head_receipt_alone_fixes_the_whole_prefix() -> None:
    head = rc.make_receipt(SERVER.private, EID, 7, RECORD[7].hash(), 8, RECORD[7].hash())
    rewritten = build([b"forged 0", *BODIES[1:]])
    [finding] = rc.check_receipts([head], rewritten, EID, SERVER.public)
    assert finding.index == 7 and finding.evidence == (head,)


def test_two_receipts_for_one_index_are_equivocation_without_any_record() -> None:
    fork = build([*BODIES[:4], b"fork"])
    other = rc.make_receipt(SERVER.private, EID, 4, fork[4].hash(), 5, fork[4].hash())
    findings = rc.check_receipts([ALL[4], other], RECORD, EID, SERVER.public)
    equivocation = [f for f in findings if "two signed receipts" in f.what]
    assert equivocation and set(equivocation[0].evidence) == {ALL[4], other}
    # A receipt made with someone else's key is no evidence against the server: refused.
    impostor = generate_credential(random.Random(3))
    fake = rc.make_receipt(impostor.private, EID, 4, fork[4].hash(), 5, fork[4].hash())
    with pytest.raises(InvalidProof, match="expected server"):
        rc.check_receipts([ALL[4], fake], RECORD, EID, SERVER.public)
    # Against either fork, the receipts still convict the server.
    assert rc.check_receipts([ALL[4], other], fork, EID, SERVER.public)


def test_broken_record_chain_is_refused() -> None:
    broken = list(RECORD)
    e = broken[4]
    broken[4] = Entry(e.election_id, e.index, bytes(32), e.author, e.signature, e.body)
    with pytest.raises(InvalidProof, match="does not link"):
        rc.check_receipts(ALL, broken, EID, SERVER.public)


def test_fields_are_validated() -> None:
    h = bytes(32)
    for args in (
        (EID, 3, h, 3, h),  # head does not include the entry
        (EID, 3, h, 4, b"\x01" * 32),  # head is the entry itself, but hashes differ
        (EID, -1, h, 4, h),
        (EID, True, h, 4, h),
        (EID, 0, h[:31], 1, h[:31]),
        ("", 0, h, 1, h),
    ):
        with pytest.raises(MalformedInput):
            rc.receipt_message(*args)  # type: ignore[arg-type]


def test_decode_rejects_malformed() -> None:
    good = rc.encode_receipt(ALL[2])
    for bad in (
        [],
        {**good, "extra": 0},
        {k: v for k, v in good.items() if k != "head_hash"},
        {**good, "format": "x"},
        {**good, "index": "2"},
        {**good, "head_size": 2},
        {**good, "entry_hash": good["entry_hash"].upper()},
        {**good, "server": good["server"][:-2]},
        {**good, "signature": "zz" * 64},
    ):
        with pytest.raises(MalformedInput):
            rc.decode_receipt(bad)


@given(
    st.integers(0, 2**63 - 2),
    st.integers(0, 1000),
    st.binary(min_size=32, max_size=32),
    st.binary(min_size=32, max_size=32),
)
def test_receipt_round_trip_property(index: int, later: int, entry: bytes, head: bytes) -> None:
    size = min(index + 1 + later, 2**63 - 1)
    receipt = rc.make_receipt(SERVER.private, EID, index, entry, size,
                              entry if size == index + 1 else head)
    again = rc.decode_receipt(rc.encode_receipt(receipt))
    assert again == receipt
    rc.verify_receipt(again, SERVER.public)
