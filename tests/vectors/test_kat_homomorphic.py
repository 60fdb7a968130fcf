"""Known-answer vectors for homomorphic ballots and their tally (all groups).

Each group's case holds a 2-of-3 dealer key (``x`` and the shares), ballots for several selection
rules with every random scalar written out next to the exact ballot bytes, and a tally of the
single-choice ballots (aggregate, decryption shares, counts). The ballots are also rebuilt here
from their explicit inputs by the formulas of ``docs/homomorphic.md`` alone, independently of
``crypto.homomorphic``; ``tests/vectors/test_js_homomorphic.py`` feeds the same inputs to the
browser module. Generated once with ``random.Random(seed)``; regenerate only when the spec
changes on purpose:

    python -m tests.vectors.test_kat_homomorphic --regen
"""

from __future__ import annotations

import random
import sys
from typing import Any

import pytest

import crypto
from crypto import elgamal, threshold
from crypto.dkg import KeyShare
from crypto.elgamal import PublicKey
from crypto.groups.base import Element, Group
from crypto.hashing import hash_to_scalar
from crypto.homomorphic import (
    BallotRandomness,
    SelectionRule,
    aggregate,
    decode_ballot,
    decrypt_counts,
    draw_randomness,
    encode_ballot,
    encrypt_ballot_with,
    verify_ballot,
    verify_tally,
)
from tests.vectors.kat import KatFile

CONTEXT = b"kat/fingerprint-0123/credential-abcd"
DECRYPTION_CONTEXT = b"kat/tally"
N_NODES, T = 3, 2
BALLOTS: list[tuple[tuple[int, int, int], list[int]]] = [
    ((3, 1, 1), [0, 1, 0]),
    ((3, 1, 1), [1, 0, 0]),
    ((3, 1, 1), [0, 1, 0]),
    ((4, 0, 2), [1, 0, 0, 1]),
    ((4, 0, 2), [0, 0, 0, 0]),
    ((2, 1, 2), [1, 1]),
]
TALLIED = 3  # the first three ballots (rule (3, 1, 1)) are tallied


def dealer(grp: Group, rng: random.Random) -> tuple[int, dict[int, int]]:
    """A degree-(T-1) polynomial: the secret and the shares of nodes 1..N_NODES."""
    q = grp.order
    coeffs = [grp.random_scalar(rng) for _ in range(T)]
    shares = {
        j: sum(c * pow(j, i, q) for i, c in enumerate(coeffs)) % q for j in range(1, N_NODES + 1)
    }
    return coeffs[0], shares


def key_shares(grp: Group, x: int, shares: dict[int, int]) -> dict[int, KeyShare]:
    pk = PublicKey(grp, grp.base_mul(x))
    vks = {j: grp.base_mul(s) for j, s in shares.items()}
    return {j: KeyShare(j, s, pk, vks, tuple(sorted(shares))) for j, s in shares.items()}


def randomness_json(grp: Group, r: BallotRandomness) -> dict[str, Any]:
    sc = grp.encode_scalar
    return {
        "r": [sc(v).hex() for v in r.r],
        "choice_nonces": [[[sc(c).hex(), sc(z).hex()] for c, z in p] for p in r.choice_nonces],
        "selection_nonces": [[sc(c).hex(), sc(z).hex()] for c, z in r.selection_nonces],
    }


def randomness_from_json(grp: Group, doc: dict[str, Any]) -> BallotRandomness:
    def s(text: str) -> int:
        return grp.decode_scalar(bytes.fromhex(text))

    return BallotRandomness(
        tuple(s(v) for v in doc["r"]),
        tuple(tuple((s(c), s(z)) for c, z in p) for p in doc["choice_nonces"]),
        tuple((s(c), s(z)) for c, z in doc["selection_nonces"]),
    )


def generate(name: str) -> dict[str, Any]:
    grp = crypto.group(name)
    rng = random.Random(1701)
    x, shares = dealer(grp, rng)
    keys = key_shares(grp, x, shares)
    pk = keys[1].public_key
    ballots = []
    made = []
    for (n, lo, hi), selections in BALLOTS:
        rule = SelectionRule(n, lo, hi)
        randomness = draw_randomness(grp, rule, rng)
        ballot = encrypt_ballot_with(pk, selections, rule, CONTEXT, randomness)
        made.append(ballot)
        proofs = [*ballot.choice_proofs, ballot.selection_proof]
        ballots.append(
            {
                "rule": [n, lo, hi],
                "selections": selections,
                "randomness": randomness_json(grp, randomness),
                "challenges": [
                    grp.encode_scalar(sum(b.c for b in p.branches)).hex() for p in proofs
                ],
                "ballot": encode_ballot(grp, ballot).hex(),
            }
        )
    rows = [b.ciphertext for b in made[:TALLIED]]
    agg = aggregate(grp, rows)
    dshares = {
        j: threshold.decryption_share(grp, keys[j], [agg], DECRYPTION_CONTEXT, rng) for j in (1, 3)
    }
    counts = decrypt_counts(grp, agg, dshares, T, TALLIED)
    return {
        "context": CONTEXT.hex(),
        "x": grp.encode_scalar(x).hex(),
        "y": grp.encode(pk.y).hex(),
        "key_shares": {str(j): grp.encode_scalar(s).hex() for j, s in shares.items()},
        "ballots": ballots,
        "tally": {
            "ballots": list(range(TALLIED)),
            "aggregate": elgamal.encode_ciphertext(grp, agg).hex(),
            "decryption_context": DECRYPTION_CONTEXT.hex(),
            "decryption_shares": {
                str(j): threshold.encode_decryption_share(grp, s).hex() for j, s in dshares.items()
            },
            "counts": list(counts),
        },
    }


def load(name: str) -> dict[str, Any]:
    cases: dict[str, Any] = KAT.load(name)
    return cases


@pytest.mark.parametrize("name", crypto.GROUPS)
def test_ballots_from_their_explicit_inputs(name: str) -> None:
    grp = crypto.group(name)
    case = load(name)
    pk = elgamal.decode_public_key(grp, bytes.fromhex(case["y"]))
    assert pk.y == grp.base_mul(grp.decode_scalar(bytes.fromhex(case["x"])))
    context = bytes.fromhex(case["context"])
    for b in case["ballots"]:
        rule = SelectionRule(*b["rule"])
        randomness = randomness_from_json(grp, b["randomness"])
        ballot = encrypt_ballot_with(pk, b["selections"], rule, context, randomness)
        assert encode_ballot(grp, ballot).hex() == b["ballot"]
        decoded = decode_ballot(grp, bytes.fromhex(b["ballot"]), rule)
        assert decoded == ballot
        verify_ballot(pk, decoded, rule, context)


# --- the spec, independently of crypto.homomorphic ---------------------------------------------
def u32(v: int) -> bytes:
    return v.to_bytes(4, "big")


def spec_proof(
    grp: Group,
    y: Element,
    dst: str,
    index: int,
    lo: int,
    hi: int,
    alpha: Element,
    beta: Element,
    r: int,
    v: int,
    nonces: list[tuple[int, int]],
    context: bytes,
    row: bytes,
) -> tuple[int, bytes]:
    """The proof of ``docs/homomorphic.md`` §3, written out: (challenge, encoded proof)."""
    q = grp.order
    commits: list[Element] = []
    for j, (c1, z1) in enumerate(nonces):
        beta_j = grp.sub(beta, grp.base_mul(lo + j))
        commits.append(grp.sub(grp.base_mul(z1), grp.mul(alpha, c1)))
        commits.append(grp.sub(grp.mul(y, z1), grp.mul(beta_j, c1)))
    c = hash_to_scalar(
        grp,
        dst,
        context,
        grp.encode(y),
        row,
        u32(index),
        u32(lo) + u32(hi),
        grp.encode(alpha) + grp.encode(beta),
        b"".join(grp.encode(e) for e in commits),
    )
    real = v - lo
    out = b""
    for j, (c1, z1) in enumerate(nonces):
        if j == real:
            cj = (c - sum(n[0] for n in nonces)) % q + c1
            zj = z1 + (cj - c1) * r
        else:
            cj, zj = c1, z1
        out += grp.encode_scalar(cj % q) + grp.encode_scalar(zj % q)
    return c, out


@pytest.mark.parametrize("name", crypto.GROUPS)
def test_ballots_follow_the_written_spec(name: str) -> None:
    grp = crypto.group(name)
    case = load(name)
    y = grp.decode(bytes.fromhex(case["y"]))
    context = bytes.fromhex(case["context"])
    q = grp.order
    for b in case["ballots"]:
        n, lo, hi = b["rule"]
        rand = randomness_from_json(grp, b["randomness"])
        sel = b["selections"]
        alpha = [grp.base_mul(r) for r in rand.r]
        beta = [grp.add(grp.mul(y, r), grp.base_mul(m)) for r, m in zip(rand.r, sel, strict=True)]
        row = b"".join(grp.encode(e) for e in alpha + beta)
        out, challenges = row, []
        for k in range(n):
            c, enc = spec_proof(
                grp,
                y,
                "homomorphic-choice-proof",
                k,
                0,
                1,
                alpha[k],
                beta[k],
                rand.r[k],
                sel[k],
                list(rand.choice_nonces[k]),
                context,
                row,
            )
            out += enc
            challenges.append(c)
        c, enc = spec_proof(
            grp,
            y,
            "homomorphic-selection-proof",
            n,
            lo,
            hi,
            grp.sum(alpha),
            grp.sum(beta),
            sum(rand.r) % q,
            sum(sel),
            list(rand.selection_nonces),
            context,
            row,
        )
        out += enc
        challenges.append(c)
        assert out.hex() == b["ballot"]
        assert [grp.encode_scalar(c).hex() for c in challenges] == b["challenges"]


@pytest.mark.parametrize("name", crypto.GROUPS)
def test_tally_vector(name: str) -> None:
    grp = crypto.group(name)
    case = load(name)
    tally = case["tally"]
    shares = {int(j): grp.decode_scalar(bytes.fromhex(s)) for j, s in case["key_shares"].items()}
    keys = key_shares(grp, grp.decode_scalar(bytes.fromhex(case["x"])), shares)
    vks = keys[1].verification_keys
    rows = [
        decode_ballot(
            grp,
            bytes.fromhex(case["ballots"][i]["ballot"]),
            SelectionRule(*case["ballots"][i]["rule"]),
        ).ciphertext
        for i in tally["ballots"]
    ]
    agg = aggregate(grp, rows)
    assert elgamal.encode_ciphertext(grp, agg).hex() == tally["aggregate"]
    dshares = {
        int(j): threshold.decode_decryption_share(grp, bytes.fromhex(s), 1, 3)
        for j, s in tally["decryption_shares"].items()
    }
    context = bytes.fromhex(tally["decryption_context"])
    verify_tally(grp, rows, agg, dshares, vks, T, tally["counts"], context)
    selections = [case["ballots"][i]["selections"] for i in tally["ballots"]]
    assert tally["counts"] == [sum(col) for col in zip(*selections, strict=True)] == [1, 2, 0]
    assert decrypt_counts(grp, agg, dshares, T, len(rows)) == tuple(tally["counts"])


KAT = KatFile("homomorphic", generate, spec="docs/homomorphic.md", description=(
    "mixvote homomorphic ballots (exponential ElGamal, CDS 0/1 and selection-count "
    "proofs) with every random scalar explicit, and a 2-of-3 tally of three single-choice ballots"))


if __name__ == "__main__":
    KAT.main(sys.argv[1:])
