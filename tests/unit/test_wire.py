"""The sans-io wire protocol: codec round trips, hostile input, chunking, sessions, cascade."""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import InvalidProof, MalformedInput, ProtocolViolation
from crypto.protocol.sessions import Cascade, Enrolment, NodeSession, ShareCollector
from crypto.protocol.wire import (
    ACCEPTED,
    NODE_KINDS,
    REJECTED,
    SKIPPED,
    Message,
    Reassembler,
    SignedMessage,
    decode_body,
    decode_frame,
    decode_proof_files,
    encode_body,
    encode_frame,
    encode_proof_files,
    sign_message,
    split_frame,
)
from crypto.transport import NodeIdentity

IDENTITY = NodeIdentity.generate(random.Random(1))
OTHER = NodeIdentity.generate(random.Random(2))


def signed(msg: Message, who: NodeIdentity = IDENTITY) -> bytes:
    return sign_message(msg, who.sign, who.public.signing_key)[1]


def test_body_round_trip_every_field_type() -> None:
    msg = Message(
        "mix.result",
        "e1",
        {"job": "j", "input_digest": b"\x01" * 32, "outputs": b"xyz", "proof": [b"a", b"", b"c"],
         "fingerprint": b"\x02" * 32, "seen_size": 9, "seen_head": b"\x03" * 32},
        b"n" * 32,
        7,
    )
    back = decode_body(encode_body(msg))
    assert back == msg


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=64), st.text(max_size=20), st.integers(0, 2**64 - 1))
def test_body_round_trip_property(data: bytes, text: str, n: int) -> None:
    msg = Message(
        "progress", text, {"job": text, "stage": "s", "done": n, "total": 0}, data[:32], n
    )
    assert decode_body(encode_body(msg)) == msg


def test_unknown_type_is_rejected_with_its_name() -> None:
    body = encode_body(Message("ack", "e", {"ref": 1, "note": ""}))
    forged = body.replace(b"\x00\x00\x00\x03ack", b"\x00\x00\x00\x03zzz")
    with pytest.raises(MalformedInput, match="unknown message type 'zzz'"):
        decode_body(forged)


@pytest.mark.parametrize("cut", [1, 5, 20])
def test_truncated_and_trailing_bytes_are_rejected(cut: int) -> None:
    body = encode_body(Message("ack", "e", {"ref": 1, "note": "hello"}))
    with pytest.raises(MalformedInput):
        decode_body(body[:-cut])
    with pytest.raises(MalformedInput, match="trailing"):
        decode_body(body + b"\x00" * cut)


def test_bad_magic_and_non_utf8_text() -> None:
    body = encode_body(Message("ack", "e", {"ref": 1, "note": "hi"}))
    with pytest.raises(MalformedInput, match="magic"):
        decode_body(b"XXXX" + body[4:])
    with pytest.raises(MalformedInput, match="UTF-8"):
        decode_body(body[:-2] + b"\xff\xfe")


def test_oversized_field_is_rejected() -> None:
    body = encode_body(Message("ack", "e", {"ref": 1, "note": ""}))
    big = body[:-4] + (5000).to_bytes(4, "big") + b"a" * 5000
    with pytest.raises(MalformedInput, match="at most"):
        decode_body(big)


def test_every_recorded_node_message_binds_the_fingerprint_and_the_seen_head() -> None:
    from crypto.protocol.wire import BOUND, SCHEMAS
    from crypto.verify.state import RECORD_NODE_KINDS

    for kind in RECORD_NODE_KINDS:
        assert SCHEMAS[kind][-len(BOUND):] == BOUND, kind
        assert kind in NODE_KINDS
    # a ballot carries the public credential and the voter's signature, not a bare voter id
    assert [name for name, _t, _n in SCHEMAS["ballot"]] == [
        "credential", "width", "ciphertext", "proof", "signature"]
    assert "voters.registered" not in SCHEMAS


def test_kind_not_allowed_from_a_node() -> None:
    body = encode_body(Message("tally", "e", {"result": b"{}", "plaintexts": []}))
    with pytest.raises(ProtocolViolation, match="may not be sent"):
        decode_body(body, NODE_KINDS)


def test_encode_rejects_missing_extra_and_mistyped_fields() -> None:
    with pytest.raises(ValueError, match="missing"):
        encode_body(Message("ack", "e", {"ref": 1}))
    with pytest.raises(ValueError, match="no field"):
        encode_body(Message("ack", "e", {"ref": 1, "note": "", "x": 1}))
    with pytest.raises(TypeError):
        encode_body(Message("ack", "e", {"ref": "1", "note": ""}))


def test_frame_signature_checked() -> None:
    frame = signed(Message("progress", "e", {"job": "j", "stage": "s", "done": 1, "total": 2}))
    assert decode_frame(frame).message.kind == "progress"
    tampered = bytearray(frame)
    tampered[-1] ^= 1
    with pytest.raises(InvalidProof, match="signature"):
        decode_frame(bytes(tampered))
    with pytest.raises(MalformedInput, match="magic"):
        decode_frame(b"junk" + frame[4:])
    with pytest.raises(MalformedInput):
        decode_frame(frame[:50])
    # a body signed by one key presented under another
    body = encode_body(Message("ack", "e", {"ref": 1, "note": ""}))
    sig = IDENTITY.sign(b"mixvote/signed-message/v1\x00" + body)
    with pytest.raises(InvalidProof):
        decode_frame(encode_frame(body, OTHER.public.signing_key, sig))


def test_chunking_round_trip_and_limits() -> None:
    frame = os.urandom(10_000)
    parts = split_frame(frame, chunk_size=3000)
    assert len(parts) == 4
    r = Reassembler(max_frame=4000)
    assert [r.feed(p) for p in parts[:-1]] == [None, None, None]
    assert r.feed(parts[-1]) == frame
    # out of order
    r = Reassembler(max_frame=4000)
    r.feed(parts[0])
    with pytest.raises(ProtocolViolation, match="out of order"):
        r.feed(parts[2])
    # a plain frame in the middle of a transfer
    r.feed(parts[0])
    with pytest.raises(ProtocolViolation, match="middle"):
        r.feed(b"MXS1...")
    # oversized frame and oversized announced total
    with pytest.raises(MalformedInput, match="at most"):
        Reassembler(max_frame=100).feed(b"x" * 101)
    with pytest.raises(MalformedInput, match="at most"):
        Reassembler(max_message=5000, max_frame=4000).feed(parts[0])
    # truncated header
    with pytest.raises(MalformedInput, match="truncated"):
        Reassembler().feed(b"MXC1" + b"\x00" * 5)


def auth_frame(
    session: NodeSession,
    who: NodeIdentity = IDENTITY,
    token: str = "",
    seq: int = 1,
    nonce: bytes | None = None,
    election: str = "e",
) -> SignedMessage:
    """A signed, decoded ``auth`` frame of ``who`` for ``session``."""
    msg = Message(
        "auth",
        election,
        {"public_key": who.public_bytes(), "token": token, "nonce": nonce or session.nonce},
        session.nonce,
        seq,
    )
    return decode_frame(signed(msg, who))


def test_session_authentication_and_ordering() -> None:
    s = NodeSession(b"\x07" * 32)
    enrol = [Enrolment("e", 2, IDENTITY.public_bytes(), None)]
    def progress(seq, who=IDENTITY, session=s.nonce, eid="e"):
        return decode_frame(
            signed(
                Message(
                    "progress", eid, {"job": "j", "stage": "x", "done": 0, "total": 0}, session, seq
                ),
                who,
            )
        )
    with pytest.raises(ProtocolViolation, match="not authenticated"):
        s.accept(progress(1))
    with pytest.raises(ProtocolViolation, match="not enrolled"):
        s.authenticate(auth_frame(s, OTHER), enrol)
    with pytest.raises(ProtocolViolation, match="nonce"):
        s.authenticate(auth_frame(s, nonce=b"\x00" * 32), enrol)
    assert not s.authenticated
    got = s.authenticate(auth_frame(s), enrol)
    assert got.position == 2 and s.position == 2
    assert s.accept(progress(2)).kind == "progress"
    with pytest.raises(ProtocolViolation, match="replay or reorder"):
        s.accept(progress(2))
    with pytest.raises(ProtocolViolation, match="another key"):
        s.accept(progress(3, OTHER))
    with pytest.raises(ProtocolViolation, match="another session"):
        s.accept(progress(3, session=b"\x01" * 32))
    with pytest.raises(ProtocolViolation, match="election"):
        s.accept(progress(3, eid="other"))
    assert s.accept(progress(9)).seq == 9


def test_session_one_time_token() -> None:
    s = NodeSession(b"\x05" * 32)
    enrol = [Enrolment("e", 3, None, "tok")]
    with pytest.raises(ProtocolViolation):
        s.authenticate(auth_frame(s, OTHER, token="wrong"), enrol)
    got = s.authenticate(auth_frame(s, OTHER, token="tok"), enrol)
    assert got.public_key == OTHER.public_bytes() and got.position == 3


def test_cascade_verdicts() -> None:
    c = Cascade([1, 2, 3])
    assert c.next_hop() == 1
    c.record(1, SKIPPED)
    c.record(2, REJECTED)
    with pytest.raises(ProtocolViolation, match="already"):
        c.record(2, ACCEPTED)
    with pytest.raises(ProtocolViolation, match="not in the cascade"):
        c.record(9, ACCEPTED)
    assert not c.done and not c.succeeded
    c.record(3, ACCEPTED)
    assert c.done and c.succeeded and c.accepted == [3] and c.excluded == [2]
    with pytest.raises(ValueError):
        Cascade([1]).record(1, "maybe")


def test_cascade_after_skips_decided_positions() -> None:
    # The coordinator dispatches the node after the one being verified ahead of time.
    c = Cascade([1, 2, 3, 4])
    assert c.after(1) == 2
    c.record(2, SKIPPED)
    assert c.after(1) == 3
    c.record(3, ACCEPTED)
    assert c.after(1) == 4 and c.after(4) is None


def test_share_collector() -> None:
    sc = ShareCollector(2, {1, 2, 3})
    sc.add(1, None, "bad proof")
    assert not sc.complete and not sc.hopeless
    sc.add(2, b"s2")
    with pytest.raises(ProtocolViolation):
        sc.add(2, b"again")
    with pytest.raises(ProtocolViolation):
        sc.add(4, b"not eligible")
    sc.add(3, b"s3")
    assert sc.complete
    hopeless = ShareCollector(2, {1, 2})
    hopeless.add(1, None, "x")
    assert hopeless.hopeless


def test_proof_files_and_voter_id() -> None:
    files = {"b": b"2", "a": b"1"}
    assert decode_proof_files(encode_proof_files(files)) == files
    with pytest.raises(MalformedInput, match="odd"):
        decode_proof_files([b"a"])
    with pytest.raises(MalformedInput, match="twice"):
        decode_proof_files([b"a", b"1", b"a", b"2"])


def test_split_frame_takes_its_transfer_id_from_the_injected_rng() -> None:
    import random

    frame = bytes(range(256)) * 40
    first = split_frame(frame, chunk_size=3000, rng=random.Random(5))
    assert first == split_frame(frame, chunk_size=3000, rng=random.Random(5))
    transfer = random.Random(5).randrange(0, 1 << 64).to_bytes(8, "big")
    assert all(part[4:12] == transfer for part in first)
    assert split_frame(frame, chunk_size=3000, rng=random.Random(6))[0][4:12] != transfer
