"""Chaum–Pedersen DLEQ proofs, single and batched: positive cases and reject tables (all groups)."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crypto
from crypto import elgamal, proofs
from crypto.encoding import lp
from crypto.errors import InvalidElement, InvalidProof, MalformedInput
from crypto.groups.base import Group
from crypto.proofs import DleqProof

CONTEXT = b"election-7/node-2/decrypt"


@pytest.fixture(params=crypto.GROUPS)
def grp(request: pytest.FixtureRequest) -> Group:
    return crypto.group(request.param)


def rand_element(grp: Group, rng: random.Random) -> bytes:
    return grp.base_mul(rng.randrange(1, grp.order))


def single(grp: Group, seed: int = 1) -> tuple[int, bytes, bytes, bytes, bytes, DleqProof]:
    rng = random.Random(seed)
    x = rng.randrange(1, grp.order)
    base1, base2 = grp.generator, rand_element(grp, rng)
    proof = proofs.prove_dleq(grp, x, base1, base2, CONTEXT, rng)
    return x, base1, grp.mul(base1, x), base2, grp.mul(base2, x), proof


# --- single proofs ---------------------------------------------------------------------------
def test_dleq_verifies(grp: Group) -> None:
    _, b1, p1, b2, p2, proof = single(grp)
    assert proofs.verify_dleq(grp, b1, p1, b2, p2, proof, CONTEXT) is None
    wire = proofs.encode_dleq(grp, proof)
    assert len(wire) == 2 * grp.scalar_size
    assert proofs.decode_dleq(grp, wire) == proof
    proofs.verify_dleq(grp, b1, p1, b2, p2, proofs.decode_dleq(grp, wire), CONTEXT)


def test_dleq_for_a_decryption_share(grp: Group) -> None:
    # The use in threshold decryption: B1 = g, P1 = key share, B2 = alpha, P2 = x·alpha.
    rng = random.Random(4)
    x, pk = elgamal.keygen(grp, rng)
    ct, _ = elgamal.encrypt(pk, [grp.generator], rng)
    share = grp.mul(ct.alpha[0], x)
    proof = proofs.prove_dleq(grp, x, grp.generator, ct.alpha[0], CONTEXT, rng)
    proofs.verify_dleq(grp, grp.generator, pk.y, ct.alpha[0], share, proof, CONTEXT)
    assert grp.sub(ct.beta[0], share) == grp.generator


DLEQ_NEGATIVE = [
    "tampered c",
    "tampered z",
    "other context",
    "empty context",
    "pub2 with another exponent",
    "pub1 with another exponent",
    "wrong base2",
    "wrong base1",
    "bases swapped",
    "pubs swapped",
    "c not below q",
    "z not below q",
]


@pytest.mark.parametrize("case", DLEQ_NEGATIVE)
def test_dleq_negative_table(grp: Group, case: str) -> None:
    x, b1, p1, b2, p2, proof = single(grp)
    q, context = grp.order, CONTEXT
    match case:
        case "tampered c":
            proof = replace(proof, c=(proof.c + 1) % q)
        case "tampered z":
            proof = replace(proof, z=(proof.z + 1) % q)
        case "other context":
            context = CONTEXT + b"!"
        case "empty context":
            context = b""
        case "pub2 with another exponent":
            p2 = grp.mul(b2, x + 1)
        case "pub1 with another exponent":
            p1 = grp.mul(b1, x + 1)
        case "wrong base2":
            b2 = grp.add(b2, grp.generator)
        case "wrong base1":
            b1 = grp.add(b1, grp.generator)
        case "bases swapped":
            b1, b2, p1, p2 = b2, b1, p2, p1
        case "pubs swapped":
            p1, p2 = p2, p1
        case "c not below q":
            proof = replace(proof, c=proof.c + q)
        case "z not below q":
            proof = replace(proof, z=proof.z + q)
    with pytest.raises(InvalidProof):
        proofs.verify_dleq(grp, b1, p1, b2, p2, proof, context)


@pytest.mark.parametrize("position", range(4))
def test_dleq_rejects_identity_elements(grp: Group, position: int) -> None:
    _, b1, p1, b2, p2, proof = single(grp)
    elements = [b1, p1, b2, p2]
    elements[position] = grp.identity
    name = ["base1", "pub1", "base2", "pub2"][position]
    with pytest.raises(InvalidElement, match=f"{name} is the identity"):
        proofs.verify_dleq(grp, *elements, proof, CONTEXT)


def test_dleq_prover_misuse(grp: Group) -> None:
    with pytest.raises(ValueError, match="x must be non-zero"):
        proofs.prove_dleq(grp, grp.order, grp.generator, grp.generator, CONTEXT)
    with pytest.raises(ValueError, match="must not be the identity"):
        proofs.prove_dleq(grp, 5, grp.generator, grp.identity, CONTEXT)
    with pytest.raises(TypeError, match="context must be bytes"):
        proofs.prove_dleq(grp, 5, grp.generator, grp.generator, "ctx")  # type: ignore[arg-type]


def test_dleq_codec_negative_table(grp: Group) -> None:
    *_, proof = single(grp)
    wire = proofs.encode_dleq(grp, proof)
    size = grp.scalar_size
    for bad in (wire[:-1], wire + b"\x00", b""):
        with pytest.raises(MalformedInput, match="expected"):
            proofs.decode_dleq(grp, bad)
    q_bytes = grp.order.to_bytes(size, "big")
    with pytest.raises(MalformedInput, match="DLEQ proof c"):
        proofs.decode_dleq(grp, q_bytes + wire[size:])
    with pytest.raises(MalformedInput, match="DLEQ proof z"):
        proofs.decode_dleq(grp, wire[:size] + q_bytes)
    with pytest.raises(ValueError, match="not reduced"):
        proofs.encode_dleq(grp, replace(proof, z=grp.order))


@pytest.mark.parametrize("name", crypto.GROUPS)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_property_dleq(name: str, data: st.DataObject) -> None:
    grp = crypto.group(name)
    scalars = st.integers(1, grp.order - 1)
    x, k = data.draw(scalars, "x"), data.draw(scalars, "k")
    context = data.draw(st.binary(max_size=16), "context")
    base2 = grp.base_mul(k)
    proof = proofs.prove_dleq(grp, x, grp.generator, base2, context, random.Random(x ^ k))
    assert proofs.decode_dleq(grp, proofs.encode_dleq(grp, proof)) == proof
    pub1, pub2 = grp.base_mul(x), grp.mul(base2, x)
    proofs.verify_dleq(grp, grp.generator, pub1, base2, pub2, proof, context)
    # 2·pub2 is a wrong claim that is never the identity (pub2 + base2 is, for x = q − 1)
    with pytest.raises(InvalidProof):
        proofs.verify_dleq(grp, grp.generator, pub1, base2, grp.add(pub2, pub2), proof, context)


# --- batched proofs --------------------------------------------------------------------------
def batch(
    grp: Group, n: int, width: int = 1, seed: int = 2
) -> tuple[int, bytes, list[bytes], list[bytes], DleqProof]:
    """Decryption shares of ``n`` width-``width`` ciphertexts and their batched proof."""
    rng = random.Random(seed)
    x, pk = elgamal.keygen(grp, rng)
    cts = [elgamal.encrypt(pk, [grp.generator] * width, rng)[0] for _ in range(n)]
    bases2 = [a for ct in cts for a in ct.alpha]
    pubs2 = grp.batch_mul(bases2, [x] * len(bases2))
    proof = proofs.prove_dleq_batch(grp, x, grp.generator, pk.y, bases2, pubs2, CONTEXT, rng)
    return x, pk.y, bases2, pubs2, proof


@pytest.mark.parametrize(("n", "width"), [(1, 1), (6, 1), (4, 3)])
def test_dleq_batch_verifies(grp: Group, n: int, width: int) -> None:
    _, pub1, bases2, pubs2, proof = batch(grp, n, width)
    assert proofs.verify_dleq_batch(grp, grp.generator, pub1, bases2, pubs2, proof, CONTEXT) is None
    assert proofs.decode_dleq(grp, proofs.encode_dleq(grp, proof)) == proof


def test_dleq_batch_weights(grp: Group) -> None:
    _, pub1, bases2, pubs2, _ = batch(grp, 5)
    seed, weights = proofs.batch_weights(grp, grp.generator, pub1, bases2, pubs2, CONTEXT)
    assert len(seed) == 32 and len(weights) == 5
    assert all(0 <= w < 2**128 for w in weights) and len(set(weights)) == 5
    again = proofs.batch_weights(grp, grp.generator, pub1, bases2, pubs2, CONTEXT)
    assert again == (seed, weights)
    reordered = proofs.batch_weights(grp, grp.generator, pub1, bases2[::-1], pubs2[::-1], CONTEXT)
    assert reordered[0] != seed


BATCH_NEGATIVE = [
    "one share altered (first)",
    "one share altered (middle)",
    "one share altered (last)",
    "one share is another node's",
    "two shares swapped",
    "shares and bases reversed together",
    "share dropped",
    "share added",
    "other context",
    "other pub1",
    "tampered c",
    "tampered z",
]


@pytest.mark.parametrize("case", BATCH_NEGATIVE)
def test_dleq_batch_negative_table(grp: Group, case: str) -> None:
    n = 8
    x, pub1, bases2, pubs2, proof = batch(grp, n)
    bases2, pubs2 = list(bases2), list(pubs2)
    context, q = CONTEXT, grp.order
    match case:
        case "one share altered (first)":
            pubs2[0] = grp.add(pubs2[0], grp.generator)
        case "one share altered (middle)":
            pubs2[n // 2] = grp.mul(bases2[n // 2], x + 1)
        case "one share altered (last)":
            pubs2[-1] = grp.neg(pubs2[-1])
        case "one share is another node's":
            pubs2[3] = grp.mul(bases2[3], 12345)
        case "two shares swapped":
            pubs2[1], pubs2[2] = pubs2[2], pubs2[1]
        case "shares and bases reversed together":
            bases2, pubs2 = bases2[::-1], pubs2[::-1]
        case "share dropped":
            bases2, pubs2 = bases2[:-1], pubs2[:-1]
        case "share added":
            extra = grp.base_mul(777)
            bases2, pubs2 = [*bases2, extra], [*pubs2, grp.mul(extra, x)]
        case "other context":
            context = b"election-7/node-3/decrypt"
        case "other pub1":
            pub1 = grp.base_mul(x + 1)
        case "tampered c":
            proof = replace(proof, c=(proof.c + 1) % q)
        case "tampered z":
            proof = replace(proof, z=(proof.z - 1) % q)
    with pytest.raises(InvalidProof):
        proofs.verify_dleq_batch(grp, grp.generator, pub1, bases2, pubs2, proof, context)


def test_dleq_batch_rejects_malformed_statements(grp: Group) -> None:
    _, pub1, bases2, pubs2, proof = batch(grp, 3)
    with pytest.raises(MalformedInput, match="3 bases2 but 2 pubs2"):
        proofs.verify_dleq_batch(grp, grp.generator, pub1, bases2, pubs2[:2], proof, CONTEXT)
    with pytest.raises(MalformedInput, match="empty"):
        proofs.verify_dleq_batch(grp, grp.generator, pub1, [], [], proof, CONTEXT)
    with pytest.raises(InvalidElement, match=r"pubs2\[1\] is the identity"):
        proofs.verify_dleq_batch(
            grp, grp.generator, pub1, bases2, [pubs2[0], grp.identity, pubs2[2]], proof, CONTEXT
        )
    with pytest.raises(InvalidElement, match=r"bases2\[0\] is the identity"):
        proofs.verify_dleq_batch(
            grp, grp.generator, pub1, [grp.identity, *bases2[1:]], pubs2, proof, CONTEXT
        )
    with pytest.raises(InvalidElement, match="pub1 is the identity"):
        proofs.verify_dleq_batch(grp, grp.generator, grp.identity, bases2, pubs2, proof, CONTEXT)


def test_dleq_batch_prover_misuse(grp: Group) -> None:
    x, pub1, bases2, pubs2, _ = batch(grp, 2)
    g = grp.generator
    with pytest.raises(ValueError, match="pub1 is not x·base1"):
        proofs.prove_dleq_batch(grp, x + 1, g, pub1, bases2, pubs2, CONTEXT)
    with pytest.raises(ValueError, match="empty"):
        proofs.prove_dleq_batch(grp, x, g, pub1, [], [], CONTEXT)
    with pytest.raises(ValueError, match="2 bases2 but 1 pubs2"):
        proofs.prove_dleq_batch(grp, x, g, pub1, bases2, pubs2[:1], CONTEXT)
    # A prover with a wrong share gets a proof, and it fails verification.
    wrong = [pubs2[0], grp.add(pubs2[1], g)]
    proof = proofs.prove_dleq_batch(grp, x, g, pub1, bases2, wrong, CONTEXT, random.Random(1))
    with pytest.raises(InvalidProof):
        proofs.verify_dleq_batch(grp, g, pub1, bases2, wrong, proof, CONTEXT)


def test_batch_and_single_proofs_are_domain_separated(grp: Group) -> None:
    # A batch proof is not a single proof of the combined statement, nor vice versa.
    x, pub1, bases2, pubs2, proof = batch(grp, 1)
    g = grp.generator
    seed, weights = proofs.batch_weights(grp, g, pub1, bases2, pubs2, CONTEXT)
    a = grp.mul(bases2[0], weights[0])
    d = grp.mul(a, x)
    with pytest.raises(InvalidProof):
        proofs.verify_dleq(grp, g, pub1, a, d, proof, lp(CONTEXT) + lp(seed))
    single_proof = proofs.prove_dleq(grp, x, g, bases2[0], CONTEXT, random.Random(5))
    proofs.verify_dleq(grp, g, pub1, bases2[0], pubs2[0], single_proof, CONTEXT)
    with pytest.raises(InvalidProof):
        proofs.verify_dleq_batch(grp, g, pub1, bases2, pubs2, single_proof, CONTEXT)
