"""crypto.verify without an election: report values, argument checks, malformed records.

The verifier must never raise for a bad record (every problem is a failed check with its
location) and must never accept a record it could not check. Whole records, honest and tampered,
are in ``tests/e2e/test_verifier_record.py``.
"""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crypto.errors import InvalidProof, MalformedInput, ProtocolViolation
from crypto.protocol.wire import SCHEMAS, Message, canonical_json, encode_body
from crypto.record import GENESIS, make_entry
from crypto.verify import (
    PHASE_RANK,
    Check,
    RecordReport,
    check_hop,
    check_share,
    verify_record,
)
from crypto.verify.driver import _verify_ballot_chunk


def test_report_ok_only_when_every_check_passed() -> None:
    good = RecordReport("e1", (Check("chain", True), Check("tally", True)))
    assert good.ok and good.failures == ()
    good.raise_for_failure()
    failed = Check("closed list", False, "position 3", "why", "ProtocolViolation")
    bad = RecordReport("e1", (Check("chain", True), failed))
    assert not bad.ok
    assert bad.failures == (bad.checks[1],)
    with pytest.raises(ProtocolViolation, match=r"closed list \[position 3\]: why"):
        bad.raise_for_failure()
    assert not RecordReport("e1", ()).ok
    with pytest.raises(MalformedInput):
        RecordReport("e1", ()).raise_for_failure()
    doc = bad.as_dict()
    assert doc["verdict"] == "rejected" and doc["failures"] == 1
    assert doc["checks"][1] == {"check": "closed list", "ok": False, "where": "position 3",
                                "detail": "why", "error": "ProtocolViolation"}
    assert "error" not in doc["checks"][0]


def test_failure_without_error_class_raises_invalid_proof() -> None:
    with pytest.raises(InvalidProof):
        RecordReport("e", (Check("x", False, "", "d", ""),)).raise_for_failure()


@pytest.mark.parametrize("workers", [0, -1, True, 1.5])
def test_workers_must_be_positive_int(workers: object) -> None:
    with pytest.raises(ValueError, match="workers"):
        verify_record({}, workers=workers)  # type: ignore[arg-type]


def test_server_key_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="server_key"):
        verify_record({}, server_key=b"short")


def names(report: RecordReport) -> set[str]:
    return {c.name for c in report.failures}


@pytest.mark.parametrize(
    "files, check, where",
    [
        ({}, "layout", "entries/"),
        ({"election.json": b"{}", "index.json": b"[]"}, "layout", "entries/"),
        ({"entries/000000-election.params.bin": b"garbage"}, "entry encoding", "entry 0"),
        ({"entries/000000-election.params.bin": b"MXR1" + b"\x00" * 10}, "entry encoding",
         "entry 0"),
        ({"entries/000001-ballot.bin": b"MXR1"}, "layout", "entry 0"),
        ({"entries/0-ballot.bin": b""}, "layout", "entries/0-ballot.bin"),
        ({"README": b"x", "entries/000000-tally.bin": b""}, "layout", "README"),
    ],
)
def test_malformed_records_fail_with_location(files: dict[str, bytes], check: str,
                                              where: str) -> None:
    report = verify_record(files)
    assert not report.ok
    assert any(c.name == check and where in c.where for c in report.failures), report.failures


def _entry(key: Ed25519PrivateKey, eid: str, index: int, prev: bytes, msg: Message) -> bytes:
    return make_entry(eid, index, prev, key, encode_body(msg)).encode()


def test_unreadable_metadata_is_reported() -> None:
    key = Ed25519PrivateKey.generate()
    params = {"id": "e1", "group": "secp256k1", "n": 1, "t": 1, "width": 1, "voters": 0,
              "choices": ["a"], "policy": "last-ballot-counts"}
    from crypto.record import public_key_bytes

    body = Message("election.params", "e1", {"params": canonical_json(params),
                                             "server_key": public_key_bytes(key)})
    files = {"entries/000000-election.params.bin": _entry(key, "e1", 0, GENESIS, body),
             "election.json": b"{not json", "index.json": b'{"a": 1}'}
    report = verify_record(files)
    where = {c.where for c in report.failures if c.name == "layout"}
    assert {"election.json", "index.json"} <= where
    # the entry itself is fine; what is missing is reported, not raised
    assert "phase order" in names(report)
    assert any("DKG" in c.name or "nodes" in c.name for c in report.failures)


def test_kind_in_file_name_must_match_body() -> None:
    key = Ed25519PrivateKey.generate()
    msg = Message("voting.opened", "e1", {"public_key": b"\x02" * 33})
    files = {"entries/000000-tally.bin": _entry(key, "e1", 0, GENESIS, msg)}
    report = verify_record(files)
    assert any(c.name == "entry body" and "file name says 'tally'" in c.detail
               for c in report.failures)


def test_non_record_message_kind_is_rejected() -> None:
    key = Ed25519PrivateKey.generate()
    msg = Message("ack", "e1", {"ref": 1, "note": "hi"})
    files = {"entries/000000-ack.bin": _entry(key, "e1", 0, GENESIS, msg)}
    report = verify_record(files)
    assert any(c.name == "entry body" and "not a record entry" in c.detail
               for c in report.failures)


def test_phase_ranks_cover_every_server_record_kind() -> None:
    for kind in PHASE_RANK:
        assert kind in SCHEMAS
    assert PHASE_RANK["ballot"] < PHASE_RANK["voting.closed"] < PHASE_RANK["hop.verdict"]


def test_workers_report_errors_instead_of_raising() -> None:
    from crypto import group
    from crypto.elgamal import encode_public_key, keygen

    g = group("secp256k1")
    _x, pk = keygen(g)
    pkb = encode_public_key(pk)
    bad = _verify_ballot_chunk("secp256k1", pkb, "e1", 1,
                               [(0, 5, "0" * 32, 1, b"\x00" * 66, b"\x00" * 96),
                                (1, 6, "not-hex", 1, b"", b""),
                                (2, 7, "0" * 32, 2, b"", b"")])
    assert [b[:2] for b in bad] == [(0, 5), (1, 6), (2, 7)]
    assert bad[0][2] in ("InvalidElement", "MalformedInput")
    assert "voter id" in bad[1][3] and "width 2" in bad[2][3]
    ct = g.encode(g.base_mul(3)) + g.encode(g.base_mul(4))
    error, reason = check_hop("secp256k1", "e1", pkb, 1, ct, ct[:-1], [], 1)
    assert error and "output list" in reason
    error, reason = check_hop("secp256k1", "e1", pkb, 1, ct, ct, [], 1)
    assert error == "MalformedInput" and "proof" in reason
    error, reason = check_share("secp256k1", g.encode(g.base_mul(5)), 1, ct, b"\x00" * 10,
                                 b"ctx", 1)
    assert error == "MalformedInput"


def test_verify_record_never_raises_on_json_garbage() -> None:
    for meta in (b"[]", b"null", b'"x"', json.dumps({"election": 5}).encode()):
        report = verify_record({"election.json": meta, "index.json": b"[1,2]"})
        assert not report.ok
