"""Node identities (Ed25519 + X25519) and the sealed share transport of crypto.transport."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyhpke import AEADId, CipherSuite, KDFId, KEMId, OpenError

from crypto.errors import InvalidElement, InvalidProof, MalformedInput
from crypto.transport import (
    HPKE_INFO,
    PRIVATE_IDENTITY_SIZE,
    PUBLIC_IDENTITY_SIZE,
    SEAL_OVERHEAD,
    NodeIdentity,
    PublicIdentity,
    seal,
    share_associated_data,
)


@pytest.fixture
def alice() -> NodeIdentity:
    return NodeIdentity.generate(random.Random(1))


@pytest.fixture
def bob() -> NodeIdentity:
    return NodeIdentity.generate(random.Random(2))


# --- identities ---------------------------------------------------------------------------------
def test_identity_round_trips(alice: NodeIdentity) -> None:
    raw = alice.to_bytes()
    assert len(raw) == PRIVATE_IDENTITY_SIZE
    again = NodeIdentity.from_bytes(raw)
    assert again.to_bytes() == raw
    assert again.public == alice.public
    pub = alice.public_bytes()
    assert len(pub) == PUBLIC_IDENTITY_SIZE
    assert PublicIdentity.from_bytes(pub) == alice.public
    assert pub == alice.public.signing_key + alice.public.encryption_key


def test_identity_generation_is_pinned_by_rng_and_fresh_otherwise() -> None:
    a = NodeIdentity.generate(random.Random(7)).to_bytes()
    assert NodeIdentity.generate(random.Random(7)).to_bytes() == a
    assert NodeIdentity.generate(random.Random(8)).to_bytes() != a
    assert NodeIdentity.generate().to_bytes() != NodeIdentity.generate().to_bytes()


def test_repr_does_not_leak_private_keys(alice: NodeIdentity) -> None:
    text = repr(alice)
    raw = alice.to_bytes()
    assert raw[:32].hex()[:16] not in text and raw[32:].hex()[:16] not in text


@pytest.mark.parametrize("size", [0, 63, 65])
def test_identity_decoding_rejects_wrong_lengths(size: int) -> None:
    with pytest.raises(MalformedInput):
        NodeIdentity.from_bytes(bytes(size))
    with pytest.raises(MalformedInput):
        PublicIdentity.from_bytes(bytes(size))


def test_public_identity_rejects_non_bytes() -> None:
    with pytest.raises(MalformedInput):
        PublicIdentity.from_bytes("00" * 64)  # type: ignore[arg-type]


# --- sealed shares ------------------------------------------------------------------------------
AD = share_associated_data("election-1", 2, 5)


def test_seal_open_round_trip(bob: NodeIdentity) -> None:
    sealed = seal(bob.public, b"a secret share", AD, random.Random(3))
    assert len(sealed) == len(b"a secret share") + SEAL_OVERHEAD
    assert bob.open(sealed, AD) == b"a secret share"
    # raw X25519 key works too
    assert bob.open(seal(bob.public.encryption_key, b"x", AD), AD) == b"x"


def test_seal_is_pinned_by_rng_and_uses_a_fresh_ephemeral_key(bob: NodeIdentity) -> None:
    a = seal(bob.public, b"share", AD, random.Random(3))
    assert seal(bob.public, b"share", AD, random.Random(3)) == a
    b = seal(bob.public, b"share", AD)
    c = seal(bob.public, b"share", AD)
    assert a[:32] != b[:32] != c[:32]
    assert b != c


def test_tampered_sealed_message_is_rejected_at_every_byte(bob: NodeIdentity) -> None:
    sealed = seal(bob.public, b"0123456789abcdef0123456789abcdef", AD, random.Random(4))
    for pos in range(len(sealed)):
        tampered = bytearray(sealed)
        tampered[pos] ^= 0x01
        with pytest.raises(InvalidProof):
            bob.open(bytes(tampered), AD)


@pytest.mark.parametrize(
    "other",
    [
        share_associated_data("election-2", 2, 5),  # replayed into another election
        share_associated_data("election-1", 3, 5),  # presented as another dealer's
        share_associated_data("election-1", 2, 4),  # presented as addressed to someone else
        b"",
    ],
)
def test_wrong_associated_data_is_rejected(bob: NodeIdentity, other: bytes) -> None:
    sealed = seal(bob.public, b"share", AD, random.Random(5))
    with pytest.raises(InvalidProof, match="authentication failed"):
        bob.open(sealed, other)


def test_wrong_recipient_cannot_open(alice: NodeIdentity, bob: NodeIdentity) -> None:
    sealed = seal(bob.public, b"share", AD, random.Random(6))
    with pytest.raises(InvalidProof):
        alice.open(sealed, AD)


def test_malformed_sealed_messages(bob: NodeIdentity) -> None:
    with pytest.raises(MalformedInput):
        bob.open(bytes(SEAL_OVERHEAD - 1), AD)
    # an all-zero ephemeral key is a low-order point: the shared secret would be zero
    with pytest.raises(InvalidProof, match="low-order"):
        bob.open(bytes(SEAL_OVERHEAD + 4), AD)


def test_seal_refuses_low_order_or_malformed_recipient() -> None:
    with pytest.raises(InvalidElement, match="low-order"):
        seal(bytes(32), b"share", AD)
    with pytest.raises(MalformedInput):
        seal(bytes(31), b"share", AD)


def test_associated_data_is_injective() -> None:
    # length-prefixed election ids: "a" + dealer 1 never collides with another split
    seen = {
        share_associated_data(e, d, r)
        for e in ("", "a", "ab", "a\x00")
        for d in (1, 2, 256)
        for r in (1, 2, 256)
    }
    assert len(seen) == 4 * 3 * 3


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=200), st.binary(max_size=40), st.integers(0, 2**32))
def test_seal_round_trip_property(plaintext: bytes, ad: bytes, seed: int) -> None:
    who = NodeIdentity.generate(random.Random(seed))
    assert who.open(seal(who.public, plaintext, ad, random.Random(seed + 1)), ad) == plaintext


# --- RFC 9180 HPKE ------------------------------------------------------------------------------
RFC9180 = Path(__file__).resolve().parent.parent / "vectors" / "data" / "rfc9180.json"


def _vectors() -> dict[str, Any]:
    return json.loads(RFC9180.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_rfc9180_a1_key_derivation_and_encapsulation() -> None:
    v = _vectors()
    assert (v["mode"], v["kem_id"], v["kdf_id"], v["aead_id"]) == (0, 32, 1, 1)
    suite = CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.AES128_GCM)
    eph = suite.kem.derive_key_pair(bytes.fromhex(v["ikmE"]))
    rec = suite.kem.derive_key_pair(bytes.fromhex(v["ikmR"]))
    assert eph.private_key.to_private_bytes().hex() == v["skEm"]
    assert eph.public_key.to_public_bytes().hex() == v["pkEm"]
    assert rec.private_key.to_private_bytes().hex() == v["skRm"]
    assert rec.public_key.to_public_bytes().hex() == v["pkRm"]
    enc, sender = suite.create_sender_context(
        rec.public_key, info=bytes.fromhex(v["info"]), eks=eph
    )
    assert enc.hex() == v["enc"]
    receiver = suite.create_recipient_context(
        enc, suite.kem.deserialize_private_key(bytes.fromhex(v["skRm"])),
        info=bytes.fromhex(v["info"]),
    )
    done = 0
    for e in v["encryptions"]:
        while done < e["sequence_number"]:  # advance both contexts to this sequence number
            receiver.open(sender.seal(b"skip", aad=b""), aad=b"")
            done += 1
        ct = sender.seal(bytes.fromhex(e["pt"]), aad=bytes.fromhex(e["aad"]))
        assert ct.hex() == e["ct"], e["sequence_number"]
        assert receiver.open(ct, aad=bytes.fromhex(e["aad"])).hex() == e["pt"]
        done += 1
    for x in v["exports"]:
        got = sender.export(bytes.fromhex(x["exporter_context"]), x["L"])
        assert got.hex() == x["exported_value"]


def test_sealed_share_is_standard_hpke_with_aes_256_gcm(bob: NodeIdentity) -> None:
    """A sealed share opens with a plain RFC 9180 recipient context of the suite (0x20, 1, 2),
    and not under the AES-128-GCM suite: the suite really is the one documented."""
    sealed = seal(bob.public, b"a share", AD, random.Random(9))
    sk = NodeIdentity.to_bytes(bob)[32:]
    for aead, ok in ((AEADId.AES256_GCM, True), (AEADId.AES128_GCM, False)):
        suite = CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, aead)
        ctx = suite.create_recipient_context(
            sealed[:32], suite.kem.deserialize_private_key(sk), info=HPKE_INFO
        )
        if ok:
            assert ctx.open(sealed[32:], aad=AD) == b"a share"
        else:
            with pytest.raises(OpenError):
                ctx.open(sealed[32:], aad=AD)
    assert SEAL_OVERHEAD == 32 + 16


def test_low_order_ephemeral_key_is_refused(bob: NodeIdentity) -> None:
    sealed = seal(bob.public, b"share", AD, random.Random(10))
    with pytest.raises(InvalidProof, match="low-order"):
        bob.open(bytes(32) + sealed[32:], AD)
