"""Record entries: canonical encoding, hash chain, signatures; every tampering is detected."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crypto.errors import InvalidProof, MalformedInput
from crypto.record import (
    GENESIS,
    Entry,
    decode_entry,
    make_entry,
    public_key_bytes,
    verify_body_signature,
    verify_chain,
)

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))


def chain(n: int = 4, eid: str = "e1") -> list[Entry]:
    out, prev = [], GENESIS
    for i in range(n):
        entry = make_entry(eid, i, prev, KEY, f"body {i}".encode())
        out.append(entry)
        prev = entry.hash()
    return out


def test_round_trip_and_known_hash_length() -> None:
    entry = chain(1)[0]
    assert decode_entry(entry.encode()) == entry
    assert len(entry.hash()) == 32 and entry.tracker() == entry.hash().hex()


def test_decode_rejects_garbage() -> None:
    data = chain(1)[0].encode()
    with pytest.raises(MalformedInput, match="magic"):
        decode_entry(b"XXXX" + data[4:])
    with pytest.raises(MalformedInput, match="trailing"):
        decode_entry(data + b"\x00")
    with pytest.raises(MalformedInput, match="truncated"):
        decode_entry(data[:-1])


def test_chain_verifies_and_returns_head() -> None:
    entries = chain()
    assert verify_chain(entries, "e1") == entries[-1].hash()
    assert verify_chain(entries, "e1", [public_key_bytes(KEY)]) == entries[-1].hash()


def test_every_byte_flip_in_an_entry_is_detected() -> None:
    entries = chain(3)
    data = entries[1].encode()
    for pos in range(len(data)):
        flipped = bytearray(data)
        flipped[pos] ^= 0x01
        try:
            bad = decode_entry(bytes(flipped))
        except MalformedInput:
            continue
        with pytest.raises((InvalidProof, MalformedInput)):
            verify_chain([entries[0], bad, entries[2]], "e1")


def test_reorder_drop_wrong_election_wrong_author() -> None:
    entries = chain()
    with pytest.raises(InvalidProof, match="entry 1"):
        verify_chain([entries[0], entries[2], entries[1], entries[3]], "e1")
    with pytest.raises(InvalidProof, match="entry 1"):
        verify_chain([entries[0], *entries[2:]], "e1")
    with pytest.raises(InvalidProof, match="belongs to election"):
        verify_chain(entries, "e2")
    with pytest.raises(InvalidProof, match="not allowed"):
        verify_chain(entries, "e1", [public_key_bytes(OTHER)])
    with pytest.raises(MalformedInput, match="no entries"):
        verify_chain([], "e1")


def test_signature_by_another_key_is_rejected() -> None:
    good = chain(1)[0]
    forged = Entry(good.election_id, 0, GENESIS, public_key_bytes(OTHER), good.signature, good.body)
    with pytest.raises(InvalidProof, match="entry 0"):
        verify_chain([forged], "e1")
    with pytest.raises(MalformedInput, match="signature must be"):
        verify_body_signature(good.author, good.body, good.signature[:10])
