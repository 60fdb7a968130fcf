"""crypto.credentials: voter key pairs, the printed credential, strict Ed25519, voter-signed ballots
and the authority-signed public credential list (docs/trust.md)."""

from __future__ import annotations

import ctypes
import random

import pysodium
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto import credentials as cr
from crypto.errors import InvalidElement, InvalidProof, MalformedInput

# RFC 8032 §7.1, TEST 1 and TEST 2 (https://www.rfc-editor.org/rfc/rfc8032#section-7.1).
RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
]

ELL = cr.ED25519_ORDER
P = 2**255 - 19
# The eight small-order points' canonical encodings (and the two non-canonical "negative zero"
# ones), as listed by libsodium's blocklist and "Taming the many EdDSAs" (Brendel et al. 2020).
SMALL_ORDER = [
    bytes.fromhex("0100000000000000000000000000000000000000000000000000000000000000"),
    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    bytes.fromhex("0000000000000000000000000000000000000000000000000000000000000000"),
    bytes.fromhex("0000000000000000000000000000000000000000000000000000000000000080"),
    bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
    bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"),
    bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
    bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"),
    bytes.fromhex("0100000000000000000000000000000000000000000000000000000000000080"),
]


def mixed_order(public: bytes) -> bytes:
    """public + a point of order 8: on the curve, canonical, but not in the prime-order group."""
    out = ctypes.create_string_buffer(32)
    rc = pysodium.sodium.crypto_core_ed25519_add(out, public, SMALL_ORDER[4])
    assert rc == 0
    return out.raw


def cred(seed: int) -> cr.Credential:
    return cr.generate_credential(random.Random(seed))


FP = bytes(range(32))


@pytest.mark.parametrize(("seed", "public", "msg", "sig"), RFC8032)
def test_rfc8032_vectors(seed: str, public: str, msg: str, sig: str) -> None:
    c = cr.credential_from_private(bytes.fromhex(seed))
    assert c.public.hex() == public
    assert cr.sign_message(c.private, bytes.fromhex(msg)).hex() == sig
    cr.verify_signature_strict(c.public, bytes.fromhex(msg), bytes.fromhex(sig))


def test_generate_is_pinned_by_rng_and_differs_between_draws() -> None:
    assert cred(1) == cred(1)
    assert cred(1).public != cred(2).public
    assert cr.generate_credential().public != cr.generate_credential().public
    assert cred(1).private.hex() not in repr(cred(1))


def test_voter_id_is_a_16_byte_hash_of_the_public_key() -> None:
    c = cred(3)
    assert len(c.voter_id) == 32 and int(c.voter_id, 16) >= 0
    assert c.voter_id == cr.voter_id(c.public) != cr.voter_id(cred(4).public)
    with pytest.raises(ValueError):
        cr.voter_id(c.public[:31])


@given(st.binary(min_size=32, max_size=32))
def test_printed_credential_round_trips(seed: bytes) -> None:
    text = cr.format_credential(seed)
    assert len(text) == 56 + 13 and set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567-")
    assert cr.parse_credential(text) == seed
    assert cr.parse_credential(text.lower().replace("-", " ")) == seed


def test_printed_credential_rejects_typos_and_garbage() -> None:
    text = cred(5).printed
    swapped = ("B" if text[0] != "B" else "C") + text[1:]
    for bad in (swapped, text[:-1], text + "A", text.replace(text[5], "1", 1), "", "x" * 56):
        with pytest.raises(MalformedInput):
            cr.parse_credential(bad)
    with pytest.raises(MalformedInput, match="check value"):
        cr.parse_credential(swapped)


def test_strict_verification_rejects_small_order_and_non_canonical_keys() -> None:
    msg = b"m"
    for key in SMALL_ORDER:
        with pytest.raises(InvalidElement, match="small-order"):
            cr.decode_public_credential(key)
        with pytest.raises(InvalidElement):
            cr.verify_signature_strict(key, msg, bytes(64))
    good = cred(6).public
    non_canonical_y = (P + 1).to_bytes(32, "little")  # y = 1 + p: non-canonical encoding
    for bad in (mixed_order(good), non_canonical_y, good[:31], good + b"\x00"):
        with pytest.raises(InvalidElement):
            cr.decode_public_credential(bad)
    assert cr.decode_public_credential(good) == good


def test_strict_verification_rejects_s_not_below_the_order_and_tampering() -> None:
    c = cred(7)
    sig = cr.sign_message(c.private, b"hello")
    cr.verify_signature_strict(c.public, b"hello", sig)
    s = int.from_bytes(sig[32:], "little")
    malleated = sig[:32] + (s + ELL).to_bytes(32, "little")
    with pytest.raises(InvalidProof, match="S is not below"):
        cr.verify_signature_strict(c.public, b"hello", malleated)
    for i in (0, 31, 32, 63):
        bad = bytearray(sig)
        bad[i] ^= 1
        with pytest.raises(InvalidProof):
            cr.verify_signature_strict(c.public, b"hello", bytes(bad))
    with pytest.raises(InvalidProof):
        cr.verify_signature_strict(c.public, b"hellp", sig)
    with pytest.raises(InvalidProof):
        cr.verify_signature_strict(cred(8).public, b"hello", sig)
    with pytest.raises(MalformedInput):
        cr.verify_signature_strict(c.public, b"hello", sig[:63])


def test_ballot_signature_binds_fingerprint_row_and_proof() -> None:
    c = cred(9)
    row, proof = b"\x02" * 66, b"\x07" * 64
    sig = cr.sign_ballot(c.private, FP, row, proof)
    assert sig == cr.sign_ballot(c.private, FP, row, proof)  # deterministic (RFC 8032)
    cr.verify_ballot_signature(c.public, FP, row, proof, sig)
    assert cr.ballot_signing_input(FP, row, proof) == (
        b"mixvote/ballot-signature/v1\x00"
        + (32).to_bytes(4, "big") + FP
        + (66).to_bytes(4, "big") + row
        + (64).to_bytes(4, "big") + proof
    )
    other_fp = bytes(31) + b"\x01"
    cases = [
        (c.public, other_fp, row, proof),  # another election (or changed parameters)
        (c.public, FP, row[:-1] + b"\x03", proof),  # altered ciphertext
        (c.public, FP, row, proof[:-1] + b"\x00"),  # altered proof
        (c.public, FP, row + proof[:1], proof[1:]),  # moved boundary: length prefixes catch it
        (cred(10).public, FP, row, proof),  # someone else's credential
    ]
    for pub, fp, r, p in cases:
        with pytest.raises(InvalidProof, match="voter signature"):
            cr.verify_ballot_signature(pub, fp, r, p, sig)
    with pytest.raises(MalformedInput):
        cr.verify_ballot_signature(c.public, FP[:31], row, proof, sig)


def make_list(count: int = 5, test: bool = False, eid: str = "e0123456789ab") -> cr.CredentialList:
    authority = cred(100)
    keys = [cred(200 + i).public for i in range(count)]
    return cr.sign_credential_list(authority.private, eid, keys, test=test)


def test_credential_list_is_sorted_signed_and_round_trips() -> None:
    clist = make_list()
    assert list(clist.credentials) == sorted(clist.credentials)
    assert clist.authority == cred(100).public
    cr.verify_credential_list(clist)
    cr.verify_credential_list(clist, expected_authority=cred(100).public)
    again = cr.decode_credential_list(cr.encode_credential_list(clist))
    assert again == clist
    msg = cr.credential_list_message(clist.election_id, False, clist.credentials)
    assert msg.startswith(b"mixvote/credential-list/v1\x00\x00\x00\x00\x0de0123456789ab\x00")
    assert msg[len(b"mixvote/credential-list/v1\x00") + 4 + 13 + 1 :][:4] == (5).to_bytes(4, "big")
    assert len(msg) == 27 + 4 + 13 + 1 + 4 + 5 * 36


def test_credential_list_digest_depends_on_everything_signed() -> None:
    base = make_list()
    digests = {
        cr.credential_list_digest(x)
        for x in (base, make_list(test=True), make_list(count=4), make_list(eid="e2"))
    }
    assert len(digests) == 4 and len(cr.credential_list_digest(base)) == 32


def test_credential_list_rejects_every_tampering() -> None:
    clist = make_list()
    keys = list(clist.credentials)
    extra = cred(999).public
    tampered = {
        "added key": (cr.CredentialList(clist.election_id, False, clist.authority,
                                        tuple(sorted([*keys, extra])), clist.signature),
                      InvalidProof),
        "removed key": (cr.CredentialList(clist.election_id, False, clist.authority,
                                          tuple(keys[1:]), clist.signature), InvalidProof),
        "other election": (cr.CredentialList("e-other", False, clist.authority,
                                             tuple(keys), clist.signature), InvalidProof),
        "test flag": (cr.CredentialList(clist.election_id, True, clist.authority,
                                        tuple(keys), clist.signature), InvalidProof),
        "unsorted": (cr.CredentialList(clist.election_id, False, clist.authority,
                                       tuple(reversed(keys)), clist.signature), MalformedInput),
        "repeat": (cr.CredentialList(clist.election_id, False, clist.authority,
                                     (keys[0], *keys), clist.signature), MalformedInput),
        "small-order key": (cr.CredentialList(clist.election_id, False, clist.authority,
                                              (SMALL_ORDER[2], *keys), clist.signature),
                            InvalidElement),
        "other authority": (cr.CredentialList(clist.election_id, False, cred(101).public,
                                              tuple(keys), clist.signature), InvalidProof),
        "empty": (cr.CredentialList(clist.election_id, False, clist.authority, (),
                                    clist.signature), MalformedInput),
    }
    for name, (bad, error) in tampered.items():
        with pytest.raises(error):
            cr.verify_credential_list(bad)
        assert name
    with pytest.raises(InvalidProof, match="expected"):
        cr.verify_credential_list(clist, expected_authority=cred(101).public)


def test_decode_credential_list_rejects_malformed_json() -> None:
    good = cr.encode_credential_list(make_list())
    bad_forms = [
        [],
        {**good, "extra": 1},
        {k: v for k, v in good.items() if k != "signature"},
        {**good, "format": "other/1"},
        {**good, "election": 7},
        {**good, "election": " padded"},
        {**good, "test": "no"},
        {**good, "count": 4},
        {**good, "count": True},
        {**good, "credentials": []},
        {**good, "credentials": [*good["credentials"][:-1], "zz" * 32]},
        {**good, "credentials": [*good["credentials"][:-1], good["credentials"][0].upper()]},
        {**good, "authority": good["authority"][:-2]},
        {**good, "signature": 5},
    ]
    for obj in bad_forms:
        with pytest.raises(MalformedInput):
            cr.decode_credential_list(obj)


def test_sign_credential_list_refuses_bad_input() -> None:
    a = cred(100).private
    with pytest.raises(ValueError, match="repeated"):
        cr.sign_credential_list(a, "e1", [cred(1).public, cred(1).public])
    with pytest.raises(InvalidElement):
        cr.sign_credential_list(a, "e1", [SMALL_ORDER[0]])
    with pytest.raises(MalformedInput):
        cr.sign_credential_list(a, "", [cred(1).public])
    with pytest.raises(ValueError):
        cr.sign_credential_list(a, "e1", [])
    with pytest.raises(ValueError):
        cr.sign_credential_list(a[:31], "e1", [cred(1).public])


def test_key_checked_skips_only_the_key_check() -> None:
    c = cred(11)
    row, proof = b"r", b"p"
    sig = cr.sign_ballot(c.private, FP, row, proof)
    cr.verify_ballot_signature(c.public, FP, row, proof, sig, key_checked=True)
    with pytest.raises(InvalidProof):
        cr.verify_ballot_signature(c.public, FP, row + b"!", proof, sig, key_checked=True)
    s = int.from_bytes(sig[32:], "little")
    with pytest.raises(InvalidProof, match="S is not below"):
        cr.verify_ballot_signature(
            c.public, FP, row, proof, sig[:32] + (s + ELL).to_bytes(32, "little"),
            key_checked=True,
        )
    with pytest.raises(MalformedInput):
        cr.verify_ballot_signature(c.public[:31], FP, row, proof, sig, key_checked=True)
    # Without the flag the key itself is checked: the identity key's universal forgery fails.
    identity = SMALL_ORDER[0]
    with pytest.raises(InvalidElement):
        cr.verify_ballot_signature(identity, FP, row, proof, identity + bytes(32))


@given(
    st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=6, unique=True),
    st.booleans(),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=64),
)
def test_credential_list_round_trip_property(seeds: list[bytes], test: bool, eid: str) -> None:
    keys = [cr.credential_from_private(s).public for s in seeds]
    clist = cr.sign_credential_list(cred(100).private, eid, keys, test=test)
    again = cr.decode_credential_list(cr.encode_credential_list(clist))
    assert again == clist
    cr.verify_credential_list(again)
