"""crypto.verify without an election: report values, argument checks, malformed records.

The verifier must never raise for a bad record (every problem is a failed check with its
location) and must never accept a record it could not check. Whole records, honest and tampered,
are in ``tests/e2e/test_verifier_record.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crypto.errors import InvalidProof, MalformedInput, ProtocolViolation
from crypto.protocol.wire import SCHEMAS, Message, canonical_json, encode_body
from crypto.record import GENESIS, make_entry
from crypto.verify import (
    PHASE_RANK,
    Check,
    Report,
    check_hop,
    check_share,
    verify_record,
)
from crypto.verify.ballots import verify_ballot_chunk
from crypto.verify.state import Ballot


def test_report_ok_only_when_every_check_passed() -> None:
    good = Report((Check("chain", True), Check("tally", True)), "e1")
    assert good.ok and good.failures == ()
    good.raise_for_failure()
    failed = Check("closed list", False, "position 3", "why", ProtocolViolation)
    bad = Report((Check("chain", True), failed), "e1")
    assert not bad.ok
    assert bad.failures == (bad.checks[1],)
    with pytest.raises(ProtocolViolation, match=r"closed list \[position 3\]: why"):
        bad.raise_for_failure()
    assert not Report((), "e1").ok
    with pytest.raises(MalformedInput):
        Report((), "e1").raise_for_failure()
    doc = bad.as_dict()
    assert doc["verdict"] == "rejected" and doc["failures"] == 1
    assert doc["checks"][1] == {"check": "closed list", "ok": False, "where": "position 3",
                                "detail": "why", "error": "ProtocolViolation"}
    assert "error" not in doc["checks"][0]


def test_failure_without_error_class_raises_invalid_proof() -> None:
    with pytest.raises(InvalidProof):
        Report((Check("x", False, "", "d"),), "e").raise_for_failure()


@pytest.mark.parametrize("workers", [0, -1, True, 1.5])
def test_workers_must_be_positive_int(workers: object) -> None:
    with pytest.raises(ValueError, match="workers"):
        verify_record({}, workers=workers)  # type: ignore[arg-type]


def test_server_key_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="server_key"):
        verify_record({}, server_key=b"short")


def names(report: Report) -> set[str]:
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


def test_checks_raise_and_ballot_chunks_collect_errors() -> None:
    from dataclasses import replace

    from crypto import group
    from crypto.elgamal import encode_public_key, keygen

    g = group("secp256k1")
    _x, pk = keygen(g)
    pkb = encode_public_key(pk)
    key = b"\x01" * 32
    ballots = [Ballot(0, 5, key, 1, b"\x00" * 66, b"\x00" * 96, b"", b""),
               Ballot(1, 6, b"short", 1, b"", b"", b"", b""),
               Ballot(2, 7, key, 2, b"", b"", b"", b"")]
    bad = verify_ballot_chunk("secp256k1", pkb, "e1", 1, ballots)
    assert [number for number, _exc in bad] == [0, 1, 2]
    assert isinstance(bad[0][1], MalformedInput)  # InvalidElement is a MalformedInput
    assert "credential of 5 bytes" in str(bad[1][1]) and "width 2" in str(bad[2][1])
    # a valid ballot: its proof and its voter's signature over the fingerprint
    from crypto.credentials import generate_credential
    from mixserver.harness import make_ballots

    cred, fp = generate_credential(), b"\x07" * 32
    (wire,) = make_ballots("secp256k1", pkb.hex(), "e1", 1, [cred.private], [1], fp)
    good = Ballot(0, 5, cred.public, 1, bytes.fromhex(wire["ciphertext"]),
                  bytes.fromhex(wire["proof"]), bytes.fromhex(wire["signature"]), b"")
    assert verify_ballot_chunk("secp256k1", pkb, "e1", 1, [good], fp) == []
    assert verify_ballot_chunk("secp256k1", pkb, "e1", 1, [good], fp,
                               frozenset({cred.public})) == []
    for fingerprint, ballot in ((b"\x08" * 32, good),
                                (fp, replace(good, signature=good.signature[::-1])),
                                (b"", good)):
        ((number, exc),) = verify_ballot_chunk("secp256k1", pkb, "e1", 1, [ballot], fingerprint)
        assert number == 0 and "signature" in str(exc)
    ct = g.encode(g.base_mul(3)) + g.encode(g.base_mul(4))
    with pytest.raises(MalformedInput, match="output list"):
        check_hop("secp256k1", "e1", pkb, 1, ct, ct[:-1], [], 1)
    with pytest.raises(MalformedInput, match="proof"):
        check_hop("secp256k1", "e1", pkb, 1, ct, ct, [], 1)
    with pytest.raises(MalformedInput):
        check_share("secp256k1", g.encode(g.base_mul(5)), 1, ct, b"\x00" * 10, b"ctx", 1)


def test_verify_record_never_raises_on_json_garbage() -> None:
    for meta in (b"[]", b"null", b'"x"', json.dumps({"election": 5}).encode()):
        report = verify_record({"election.json": meta, "index.json": b"[1,2]"})
        assert not report.ok


def test_an_internal_error_is_a_crash_not_a_rejection(monkeypatch: pytest.MonkeyPatch) -> None:
    # A bug inside the verifier (here: a KeyError in a stage) must not become a "rejected"
    # verdict that blames the record; it ends the run as InternalError, "a bug in mixvote".
    from crypto.errors import InternalError
    from crypto.verify import driver

    def broken(run: object) -> None:
        raise KeyError("params")

    monkeypatch.setattr(driver, "check_layout", broken)
    with pytest.raises(InternalError, match=r"bug in mixvote.*KeyError") as info:
        verify_record({"election.json": b"{}"})
    assert isinstance(info.value.__cause__, KeyError)


def test_a_check_error_from_a_stage_is_a_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    # The counterpart: a MixvoteError that escapes a stage is a failed check, not a crash.
    from crypto.verify import driver

    def strict(run: object) -> None:
        raise ProtocolViolation("a record the stages did not foresee")

    monkeypatch.setattr(driver, "check_layout", strict)
    report = verify_record({"election.json": b"{}"})
    assert not report.ok
    (failure,) = report.failures
    assert failure.name == "record" and failure.error is ProtocolViolation
    assert "not foresee" in failure.detail


def test_mixverify_exits_3_on_a_bug_and_1_on_a_bad_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from crypto.io import cli
    from crypto.verify import driver

    (tmp_path / "election.json").write_text("{}")
    assert cli.main([str(tmp_path)]) == 1  # a record with no entries: rejected
    assert "VERDICT: REJECTED" in capsys.readouterr().out

    def broken(run: object) -> None:
        raise TypeError("'NoneType' object is not subscriptable")

    monkeypatch.setattr(driver, "check_layout", broken)
    assert cli.main([str(tmp_path)]) == 3
    captured = capsys.readouterr()
    assert "VERDICT" not in captured.out
    assert "this is a bug in mixvote" in captured.err and "TypeError" in captured.err
    assert "please report" in captured.err
