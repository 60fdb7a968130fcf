"""Known-answer vectors for Chaum–Pedersen proofs, single and batched (all groups).

Each case records the statement, the secret exponent and the prover's nonce ``a`` next to the exact
proof bytes (and, for the batch, the weights' seed and the weights). Generated once with
``random.Random(seed)`` and committed; regenerate only when the spec changes on purpose:

    python -m tests.vectors.test_kat_proofs --regen
"""

from __future__ import annotations

import random
import sys
from typing import Any

import pytest

import crypto
from crypto import proofs
from crypto.encoding import lp
from crypto.groups.base import Group
from crypto.hashing import hash_to_scalar
from tests.vectors.kat import KatFile

CONTEXT = b"kat/election-1/node-2/decrypt"
BATCH = 4


def generate(name: str) -> dict[str, Any]:
    """One single and one batched proof of one group."""
    grp = crypto.group(name)
    enc, sc = grp.encode, grp.encode_scalar
    rng = random.Random(3001)
    x = grp.random_scalar(rng)
    base2 = grp.base_mul(grp.random_scalar(rng))
    state = rng.getstate()
    a_single = grp.random_scalar(rng)  # the nonce prove_dleq is about to draw
    rng.setstate(state)
    single = proofs.prove_dleq(grp, x, grp.generator, base2, CONTEXT, rng)
    bases2 = grp.batch_base_mul([grp.random_scalar(rng) for _ in range(BATCH)])
    pubs2 = grp.batch_mul(bases2, [x] * BATCH)
    pub1 = grp.base_mul(x)
    seed, weights = proofs.batch_weights(grp, grp.generator, pub1, bases2, pubs2, CONTEXT)
    state = rng.getstate()
    a_batch = grp.random_scalar(rng)
    rng.setstate(state)
    batched = proofs.prove_dleq_batch(grp, x, grp.generator, pub1, bases2, pubs2, CONTEXT, rng)
    return {
        "context": CONTEXT.hex(),
        "x": sc(x).hex(),
        "single": {
            "base1": enc(grp.generator).hex(),
            "pub1": enc(pub1).hex(),
            "base2": enc(base2).hex(),
            "pub2": enc(grp.mul(base2, x)).hex(),
            "a": sc(a_single).hex(),
            "proof": proofs.encode_dleq(grp, single).hex(),
        },
        "batch": {
            "base1": enc(grp.generator).hex(),
            "pub1": enc(pub1).hex(),
            "bases2": [enc(b).hex() for b in bases2],
            "pubs2": [enc(p).hex() for p in pubs2],
            "weights_seed": seed.hex(),
            "weights": [f"{w:032x}" for w in weights],
            "a": sc(a_batch).hex(),
            "proof": proofs.encode_dleq(grp, batched).hex(),
        },
    }


def load(name: str) -> dict[str, Any]:
    cases: dict[str, Any] = KAT.load(name)
    return cases


def vector(name: str) -> tuple[Group, dict[str, Any], bytes]:
    """The group ``name``, its stored vector and the vector's context bytes."""
    case = load(name)
    return crypto.group(name), case, bytes.fromhex(case["context"])


def el(grp: Group, text: str) -> bytes:
    return grp.decode(bytes.fromhex(text))


def sc(grp: Group, text: str) -> int:
    return grp.decode_scalar(bytes.fromhex(text))


@pytest.mark.parametrize("name", crypto.GROUPS)
def test_single_vector_from_its_explicit_inputs(name: str) -> None:
    """Recompute the proof by the docstring's formulas from x and a alone, then verify it."""
    grp, case, context = vector(name)
    s = case["single"]
    x, a = sc(grp, case["x"]), sc(grp, s["a"])
    b1, p1, b2, p2 = (el(grp, s[k]) for k in ("base1", "pub1", "base2", "pub2"))
    assert grp.mul(b1, x) == p1 and grp.mul(b2, x) == p2
    c = hash_to_scalar(
        grp,
        "dleq",
        context,
        *(grp.encode(e) for e in (b1, p1, b2, p2, grp.mul(b1, a), grp.mul(b2, a))),
    )
    expected = proofs.DleqProof(c, (a + c * x) % grp.order)
    assert proofs.encode_dleq(grp, expected).hex() == s["proof"]
    proofs.verify_dleq(
        grp, b1, p1, b2, p2, proofs.decode_dleq(grp, bytes.fromhex(s["proof"])), context
    )


@pytest.mark.parametrize("name", crypto.GROUPS)
def test_batch_vector_from_its_explicit_inputs(name: str) -> None:
    grp, case, context = vector(name)
    b = case["batch"]
    x, a = sc(grp, case["x"]), sc(grp, b["a"])
    b1, p1 = el(grp, b["base1"]), el(grp, b["pub1"])
    bases2 = [el(grp, t) for t in b["bases2"]]
    pubs2 = [el(grp, t) for t in b["pubs2"]]
    seed, weights = proofs.batch_weights(grp, b1, p1, bases2, pubs2, context)
    assert seed.hex() == b["weights_seed"]
    assert [f"{w:032x}" for w in weights] == b["weights"]
    combined_base = grp.multi_mul(bases2, weights)
    combined_pub = grp.multi_mul(pubs2, weights)
    assert combined_pub == grp.mul(combined_base, x)
    commitments = (grp.mul(b1, a), grp.mul(combined_base, a))
    c = hash_to_scalar(
        grp,
        "dleq-batch",
        lp(context) + lp(seed),
        *(grp.encode(e) for e in (b1, p1, combined_base, combined_pub, *commitments)),
    )
    expected = proofs.DleqProof(c, (a + c * x) % grp.order)
    assert proofs.encode_dleq(grp, expected).hex() == b["proof"]
    proof = proofs.decode_dleq(grp, bytes.fromhex(b["proof"]))
    proofs.verify_dleq_batch(grp, b1, p1, bases2, pubs2, proof, context)


KAT = KatFile("proofs", generate, spec="crypto/proofs.py module docstring", description=(
    "mixvote Chaum–Pedersen (DLEQ) known-answer vectors: a single proof and a "
    "batched proof over 4 decryption shares; proofs encoded c || z"))


if __name__ == "__main__":
    KAT.main(sys.argv[1:])
