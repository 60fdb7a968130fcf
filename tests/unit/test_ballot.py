"""Ballots: payload format, element encoding, and the non-malleable ballot proof (all groups)."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crypto
from crypto import ballot, elgamal
from crypto.ballot import BallotProof
from crypto.elgamal import Ciphertext, PublicKey
from crypto.errors import InvalidElement, InvalidProof, MalformedInput
from crypto.groups.base import Group

ELECTION = "election-2024/city-council"
VOTER = "voter-3f9a"


@pytest.fixture(params=crypto.GROUPS)
def grp(request: pytest.FixtureRequest) -> Group:
    return crypto.group(request.param)


# --- payloads -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("choice", "payload"),
    [
        (0, b"\x01\x00\x00"),
        (258, b"\x01\x01\x02"),
        (65535, b"\x01\xff\xff"),
        ((2, 0, 1), b"\x02\x00\x02\x00\x00\x00\x01"),
        ((7,), b"\x02\x00\x07"),
        ("Zoë", b"\x03Zo\xc3\xab"),
    ],
)
def test_choice_format(choice: int | tuple[int, ...] | str, payload: bytes) -> None:
    assert ballot.encode_choice(choice) == payload
    assert ballot.decode_choice(payload) == choice


def test_encode_choice_accepts_a_list_ranking() -> None:
    assert ballot.decode_choice(ballot.encode_choice([3, 1, 2])) == (3, 1, 2)


@pytest.mark.parametrize(
    ("choice", "error", "message"),
    [
        (-1, ValueError, "outside"),
        (65536, ValueError, "outside"),
        (True, TypeError, "choice must be"),
        ([], ValueError, "at least one"),
        ([1, 2, 1], ValueError, "repeat"),
        ([1, "2"], TypeError, r"ranking\[1\]"),
        ([1, 70000], ValueError, r"ranking\[1\]"),
        ("", ValueError, "write-in must not be empty"),
        (b"\x01\x00\x00", TypeError, "choice must be"),
        (1.0, TypeError, "choice must be"),
    ],
)
def test_encode_choice_rejects(choice: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        ballot.encode_choice(choice)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "empty"),
        (b"\x00\x00\x01", "unknown kind byte 0x00"),
        (b"\x04abc", "unknown kind byte 0x04"),
        (b"\x01\x00", "2 index bytes"),
        (b"\x01\x00\x00\x00", "2 index bytes"),
        (b"\x02", "positive even"),
        (b"\x02\x00\x01\x00", "positive even"),
        (b"\x02\x00\x01\x00\x01", "repeats"),
        (b"\x03", "empty write-in"),
        (b"\x03\xff\xfe", "not valid UTF-8"),
        (b"\x03\xc3", "not valid UTF-8"),
    ],
)
def test_decode_choice_rejects(payload: bytes, message: str) -> None:
    with pytest.raises(MalformedInput, match=message):
        ballot.decode_choice(payload)


@settings(max_examples=60, deadline=None)
@given(
    st.one_of(
        st.integers(0, 65535),
        st.lists(st.integers(0, 65535), min_size=1, max_size=20, unique=True).map(tuple),
        st.text(min_size=1, max_size=40),
    )
)
def test_property_choice_round_trip(choice: int | tuple[int, ...] | str) -> None:
    assert ballot.decode_choice(ballot.encode_choice(choice)) == choice


# --- payload <-> elements -------------------------------------------------------------------------
@pytest.mark.parametrize("width", [1, 2, 3])
def test_ballot_encoding_round_trip_and_capacity(grp: Group, width: int) -> None:
    capacity = ballot.ballot_capacity(grp, width)
    assert capacity == width * grp.embed_capacity
    rng = random.Random(width)
    payloads = [
        b"",
        ballot.encode_choice(4),
        ballot.encode_choice([2, 0, 1]),
        bytes(rng.randrange(256) for _ in range(capacity)),  # exactly at capacity
        bytes(capacity),  # all zero bytes, at capacity
        bytes(rng.randrange(256) for _ in range(max(0, capacity - 1))),
    ]
    for payload in payloads:
        elements = ballot.encode_ballot(grp, payload, width)
        assert len(elements) == width
        assert ballot.decode_ballot(grp, elements) == payload
    with pytest.raises(ValueError, match=f"exceeds the capacity {capacity}"):
        ballot.encode_ballot(grp, bytes(capacity + 1), width)


@pytest.mark.parametrize("width", [1, 2, 3])
def test_ballot_round_trip_through_encryption(grp: Group, width: int) -> None:
    rng = random.Random(40 + width)
    x, pk = elgamal.keygen(grp, rng)
    for choice in (3, [1, 0, 2], "write-in: Ada"):
        payload = ballot.encode_choice(choice)
        if len(payload) > ballot.ballot_capacity(grp, width):
            continue
        ct, _ = elgamal.encrypt(pk, ballot.encode_ballot(grp, payload, width), rng)
        mixed, _ = elgamal.reencrypt(pk, ct, rng)
        decoded = ballot.decode_choice(ballot.decode_ballot(grp, elgamal.decrypt(grp, x, mixed)))
        assert decoded == (tuple(choice) if isinstance(choice, list) else choice)


def test_long_write_in_needs_a_wider_ballot(grp: Group) -> None:
    text = "x" * grp.embed_capacity  # 1 kind byte + capacity bytes: one byte over width 1
    payload = ballot.encode_choice(text)
    with pytest.raises(ValueError, match="exceeds the capacity"):
        ballot.encode_ballot(grp, payload, 1)
    assert (
        ballot.decode_choice(ballot.decode_ballot(grp, ballot.encode_ballot(grp, payload, 2)))
        == text
    )


def test_decode_ballot_rejects_non_canonical_cuts(grp: Group) -> None:
    short = grp.embed(b"ab")
    full = grp.embed(bytes(grp.embed_capacity))
    with pytest.raises(MalformedInput, match="element 1: data after a short element"):
        ballot.decode_ballot(grp, [short, grp.embed(b"c")])
    with pytest.raises(MalformedInput, match="element 2: data after a short element"):
        ballot.decode_ballot(grp, [full, grp.embed(b""), grp.embed(b"c")])
    with pytest.raises(MalformedInput, match="no elements"):
        ballot.decode_ballot(grp, [])
    assert (
        ballot.decode_ballot(grp, [full, short, grp.embed(b"")])
        == bytes(grp.embed_capacity) + b"ab"
    )


def test_decode_ballot_rejects_elements_that_are_no_embedding(grp: Group) -> None:
    # A random group element carries no embedded payload (except with negligible probability).
    stray = grp.base_mul(0x1234567890ABCDEF)
    with pytest.raises(InvalidElement, match="ballot element 1"):
        ballot.decode_ballot(grp, [grp.embed(bytes(grp.embed_capacity)), stray])


def test_ballot_capacity_rejects_width_zero(grp: Group) -> None:
    with pytest.raises(ValueError, match="width must be at least 1"):
        ballot.ballot_capacity(grp, 0)


@pytest.mark.parametrize("name", crypto.GROUPS)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), width=st.integers(1, 3))
def test_property_ballot_encoding(name: str, data: st.DataObject, width: int) -> None:
    grp = crypto.group(name)
    payload = data.draw(st.binary(max_size=ballot.ballot_capacity(grp, width)))
    assert ballot.decode_ballot(grp, ballot.encode_ballot(grp, payload, width)) == payload


# --- the ballot proof -----------------------------------------------------------------------------
def make_ballot(
    grp: Group, width: int, seed: int = 1
) -> tuple[PublicKey, Ciphertext, tuple[int, ...], BallotProof]:
    rng = random.Random(seed)
    _, pk = elgamal.keygen(grp, rng)
    payload = bytes(rng.randrange(256) for _ in range(ballot.ballot_capacity(grp, width)))
    ct, rs = elgamal.encrypt(pk, ballot.encode_ballot(grp, payload, width), rng)
    proof = ballot.prove_ballot(pk, ct, rs, ELECTION, VOTER, rng)
    return pk, ct, rs, proof


@pytest.mark.parametrize("width", [1, 2, 3])
def test_ballot_proof_verifies(grp: Group, width: int) -> None:
    pk, ct, _, proof = make_ballot(grp, width)
    assert len(proof.z) == width
    assert ballot.verify_ballot(pk, ct, proof, ELECTION, VOTER) is None
    # Through the wire, as the server receives it.
    ct_wire = elgamal.encode_ciphertext(grp, ct)
    proof_wire = ballot.encode_ballot_proof(grp, proof)
    assert len(proof_wire) == (width + 1) * grp.scalar_size
    ct2 = elgamal.decode_ciphertext(grp, ct_wire, width)
    proof2 = ballot.decode_ballot_proof(grp, proof_wire, width)
    assert proof2 == proof
    ballot.verify_ballot(pk, ct2, proof2, ELECTION, VOTER)


def test_ballot_proof_is_the_specified_schnorr_proof(grp: Group) -> None:
    # Recompute the spec from the module docstring by hand: A_k = z_k·g − c·alpha_k, then c.
    from crypto.hashing import hash_to_scalar

    pk, ct, rs, proof = make_ballot(grp, 2, seed=9)
    nonces = [(z - proof.c * r) % grp.order for z, r in zip(proof.z, rs, strict=True)]
    commitments = [grp.base_mul(a) for a in nonces]
    expected_c = hash_to_scalar(
        grp,
        "ballot-pok",
        ELECTION.encode("utf-8"),
        VOTER.encode("utf-8"),
        grp.encode(pk.y),
        elgamal.encode_ciphertext(grp, ct),
        b"".join(grp.encode(a) for a in commitments),
    )
    assert proof.c == expected_c
    assert ballot.prove_ballot_with(pk, ct, rs, nonces, ELECTION, VOTER) == proof


def _swap(t: tuple[bytes, ...]) -> tuple[bytes, ...]:
    return (t[1], t[0], *t[2:])


NEGATIVE_CASES = [
    "tampered c",
    "tampered z[0]",
    "tampered last z",
    "other election",
    "other voter (copied ballot)",
    "other ciphertext (re-encrypted)",
    "other ciphertext (beta changed)",
    "swapped width positions",
    "other public key",
    "missing response",
    "extra response",
    "c not below q",
    "z not below q",
    "empty voter id",
]


@pytest.mark.parametrize("case", NEGATIVE_CASES)
def test_ballot_proof_negative_table(grp: Group, case: str) -> None:
    width = 2
    pk, ct, _, proof = make_ballot(grp, width)
    q = grp.order
    election, voter = ELECTION, VOTER
    match case:
        case "tampered c":
            proof = replace(proof, c=(proof.c + 1) % q)
        case "tampered z[0]":
            proof = replace(proof, z=((proof.z[0] + 1) % q, *proof.z[1:]))
        case "tampered last z":
            proof = replace(proof, z=(*proof.z[:-1], (proof.z[-1] - 1) % q))
        case "other election":
            election = ELECTION + "-2"
        case "other voter (copied ballot)":
            voter = "voter-3f9b"
        case "other ciphertext (re-encrypted)":
            ct = elgamal.reencrypt(pk, ct, random.Random(3))[0]
        case "other ciphertext (beta changed)":
            ct = Ciphertext(ct.alpha, (grp.add(ct.beta[0], grp.generator), *ct.beta[1:]))
        case "swapped width positions":
            ct = Ciphertext(_swap(ct.alpha), _swap(ct.beta))
            proof = replace(proof, z=(proof.z[1], proof.z[0]))
        case "other public key":
            pk = elgamal.keygen(grp, random.Random(99))[1]
        case "missing response":
            proof = replace(proof, z=proof.z[:1])
        case "extra response":
            proof = replace(proof, z=(*proof.z, 1))
        case "c not below q":
            proof = replace(proof, c=proof.c + q)
        case "z not below q":
            proof = replace(proof, z=(proof.z[0] + q, proof.z[1]))
        case "empty voter id":
            voter = ""
    with pytest.raises(InvalidProof):
        ballot.verify_ballot(pk, ct, proof, election, voter)


def test_ballot_proof_rejects_identity_elements(grp: Group) -> None:
    pk, ct, _, proof = make_ballot(grp, 2)
    bad_ct = Ciphertext((ct.alpha[0], grp.identity), ct.beta)
    with pytest.raises(InvalidElement, match=r"alpha\[1\] is the identity"):
        ballot.verify_ballot(pk, bad_ct, proof, ELECTION, VOTER)
    with pytest.raises(InvalidElement, match="public key is the identity"):
        ballot.verify_ballot(PublicKey(grp, grp.identity), ct, proof, ELECTION, VOTER)


def test_ballot_proof_rejects_non_str_ids(grp: Group) -> None:
    pk, ct, rs, proof = make_ballot(grp, 1)
    with pytest.raises(TypeError, match="voter_id must be a str"):
        ballot.verify_ballot(pk, ct, proof, ELECTION, VOTER.encode())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="election_id must be a str"):
        ballot.prove_ballot(pk, ct, rs, 7, VOTER)  # type: ignore[arg-type]


def test_prove_ballot_rejects_wrong_randomness(grp: Group) -> None:
    pk, ct, rs, _ = make_ballot(grp, 2)
    with pytest.raises(ValueError, match="randomness does not match"):
        ballot.prove_ballot(pk, ct, (rs[0], rs[1] + 1), ELECTION, VOTER)
    with pytest.raises(ValueError, match="needs 2 randomness"):
        ballot.prove_ballot(pk, ct, rs[:1], ELECTION, VOTER)
    with pytest.raises(ValueError, match="nonces must be non-zero"):
        ballot.prove_ballot_with(pk, ct, rs, [1, grp.order], ELECTION, VOTER)


def test_ballot_proof_is_randomised(grp: Group) -> None:
    pk, ct, rs, proof = make_ballot(grp, 1)
    other = ballot.prove_ballot(pk, ct, rs, ELECTION, VOTER, random.Random(12345))
    assert other != proof
    ballot.verify_ballot(pk, ct, other, ELECTION, VOTER)


def test_ballot_proof_codec_negative_table(grp: Group) -> None:
    width, size = 2, grp.scalar_size
    _, _, _, proof = make_ballot(grp, width)
    wire = ballot.encode_ballot_proof(grp, proof)
    for bad in (wire[:-1], wire + b"\x00", b""):
        with pytest.raises(MalformedInput, match="expected"):
            ballot.decode_ballot_proof(grp, bad, width)
    with pytest.raises(MalformedInput, match="expected"):
        ballot.decode_ballot_proof(grp, wire, width + 1)
    non_canonical_q = grp.order.to_bytes(size, "big")
    with pytest.raises(MalformedInput, match="ballot proof c"):
        ballot.decode_ballot_proof(grp, non_canonical_q + wire[size:], width)
    with pytest.raises(MalformedInput, match=r"ballot proof z\[1\]"):
        ballot.decode_ballot_proof(grp, wire[: 2 * size] + non_canonical_q, width)
    with pytest.raises(MalformedInput, match="expected"):
        ballot.decode_ballot_proof(grp, "00" * len(wire), width)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not reduced"):
        ballot.encode_ballot_proof(grp, replace(proof, c=grp.order))
    with pytest.raises(ValueError, match="width must be at least 1"):
        ballot.decode_ballot_proof(grp, b"", 0)


@pytest.mark.parametrize("name", crypto.GROUPS)
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), width=st.integers(1, 3))
def test_property_ballot_proof(name: str, data: st.DataObject, width: int) -> None:
    grp = crypto.group(name)
    election = data.draw(st.text(max_size=12), "election")
    voter = data.draw(st.text(max_size=12), "voter")
    other_voter = data.draw(st.text(max_size=12).filter(lambda v: v != voter), "other voter")
    rng = random.Random(data.draw(st.integers(0, 2**32), "seed"))
    _, pk = elgamal.keygen(grp, rng)
    payload = data.draw(st.binary(max_size=ballot.ballot_capacity(grp, width)), "payload")
    ct, rs = elgamal.encrypt(pk, ballot.encode_ballot(grp, payload, width), rng)
    proof = ballot.prove_ballot(pk, ct, rs, election, voter, rng)
    wire = ballot.encode_ballot_proof(grp, proof)
    ballot.verify_ballot(pk, ct, ballot.decode_ballot_proof(grp, wire, width), election, voter)
    with pytest.raises(InvalidProof):
        ballot.verify_ballot(pk, ct, proof, election, other_voter)
    k = data.draw(st.integers(0, width - 1), "tampered position")
    tampered = replace(proof, z=tuple((z + (i == k)) % grp.order for i, z in enumerate(proof.z)))
    with pytest.raises(InvalidProof):
        ballot.verify_ballot(pk, ct, tampered, election, voter)


def test_tally_counts_single_choices_and_keeps_every_decoded_plaintext() -> None:
    grp = crypto.group("secp256k1")
    choices = ["Ann", "Bob"]
    payloads = [
        ballot.encode_choice(1),
        ballot.encode_choice(0),
        ballot.encode_choice(1),
        ballot.encode_choice(7),  # a choice index out of range: decoded, but invalid
        ballot.encode_choice("Zed"),  # a write-in where only choices count: invalid
        b"\x09junk",  # decodes as a ballot payload, not as a choice: invalid
    ]
    rows = [ballot.encode_ballot(grp, p, 1) for p in payloads]
    rows.append((grp.base_mul(12345),))  # no ballot embedding at all
    counted = ballot.tally(grp, rows, choices)
    assert counted.counts == {"Ann": 1, "Bob": 2}
    assert counted.invalid == 4
    # the published plaintexts are what decrypted, b"" only where nothing decodes
    assert counted.plaintexts == (*payloads, b"")
