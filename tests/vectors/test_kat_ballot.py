"""Known-answer vectors for ballots: payload → elements → ciphertext → ballot proof (all groups).

These are the vectors the browser implementation (JavaScript, @noble/curves) must reproduce: every
case records its inputs explicitly (secret key ``x``, payload, encryption exponents ``r``, proof
nonces ``a``, ids) next to the exact output bytes, so no Python RNG is needed to check them. The
spec is the docstring of ``crypto/ballot.py``. Scalars are hex of ``encode_scalar``; elements hex of
``encode``.

Generated once with ``random.Random(seed)`` and committed; regenerate only when the spec changes on
purpose (and say so in the commit):

    python -m tests.vectors.test_kat_ballot --regen
"""

from __future__ import annotations

import random
import sys
from typing import Any

import pytest

import crypto
from crypto import ballot, elgamal
from crypto.errors import InvalidProof
from crypto.groups.base import Group
from tests.vectors.kat import KatFile

ELECTION = "kat-election-1"
VOTER = "kat-voter-42"
CHOICES: dict[int, int | list[int] | str] = {1: 2, 2: [3, 0, 2, 1], 3: "Ada Lovelace — ü"}


def generate(name: str) -> list[dict[str, Any]]:
    """The cases of one group, from fixed seeds."""
    grp = crypto.group(name)
    cases = []
    for width, choice in CHOICES.items():
        seed = 1000 + width
        rng = random.Random(seed)
        x, pk = elgamal.keygen(grp, rng)
        payload = ballot.encode_choice(choice)
        messages = ballot.encode_ballot(grp, payload, width)
        ct, rs = elgamal.encrypt(pk, messages, rng)
        nonces = [grp.random_scalar(rng) for _ in range(width)]  # as prove_ballot draws them
        proof = ballot.prove_ballot_with(pk, ct, rs, nonces, ELECTION, VOTER)
        cases.append(
            {
                "seed": seed,
                "width": width,
                "election_id": ELECTION,
                "voter_id": VOTER,
                "x": grp.encode_scalar(x).hex(),
                "y": grp.encode(pk.y).hex(),
                "choice": choice,
                "payload": payload.hex(),
                "messages": [grp.encode(m).hex() for m in messages],
                "r": [grp.encode_scalar(r).hex() for r in rs],
                "a": [grp.encode_scalar(a).hex() for a in nonces],
                "commitments": [grp.encode(grp.base_mul(a)).hex() for a in nonces],
                "ciphertext": elgamal.encode_ciphertext(grp, ct).hex(),
                "c": grp.encode_scalar(proof.c).hex(),
                "proof": ballot.encode_ballot_proof(grp, proof).hex(),
            }
        )
    return cases


def load(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = KAT.load(name)
    return cases


def scalar(grp: Group, text: str) -> int:
    return grp.decode_scalar(bytes.fromhex(text))


@pytest.mark.parametrize("name", crypto.GROUPS)
def test_vectors_from_their_explicit_inputs(name: str) -> None:
    """What the browser does: recompute every output from the recorded inputs alone."""
    grp = crypto.group(name)
    for case in load(name):
        width = case["width"]
        x = scalar(grp, case["x"])
        pk = elgamal.public_key(grp, x)
        assert grp.encode(pk.y).hex() == case["y"]
        payload = bytes.fromhex(case["payload"])
        assert ballot.encode_choice(case["choice"]) == payload
        messages = ballot.encode_ballot(grp, payload, width)
        assert [grp.encode(m).hex() for m in messages] == case["messages"]
        rs = [scalar(grp, r) for r in case["r"]]
        ct = elgamal.encrypt_with(pk, messages, rs)
        assert elgamal.encode_ciphertext(grp, ct).hex() == case["ciphertext"]
        nonces = [scalar(grp, a) for a in case["a"]]
        assert [grp.encode(grp.base_mul(a)).hex() for a in nonces] == case["commitments"]
        proof = ballot.prove_ballot_with(pk, ct, rs, nonces, case["election_id"], case["voter_id"])
        assert ballot.encode_ballot_proof(grp, proof).hex() == case["proof"]
        assert grp.encode_scalar(proof.c).hex() == case["c"]


@pytest.mark.parametrize("name", crypto.GROUPS)
def test_vectors_verify_and_decrypt_from_the_wire(name: str) -> None:
    """What the server does with a received ballot, and what the trustees get out of it."""
    grp = crypto.group(name)
    for case in load(name):
        width = case["width"]
        pk = elgamal.decode_public_key(grp, bytes.fromhex(case["y"]))
        ct = elgamal.decode_ciphertext(grp, bytes.fromhex(case["ciphertext"]), width)
        proof = ballot.decode_ballot_proof(grp, bytes.fromhex(case["proof"]), width)
        ballot.verify_ballot(pk, ct, proof, case["election_id"], case["voter_id"])
        with pytest.raises(InvalidProof):
            ballot.verify_ballot(pk, ct, proof, case["election_id"], case["voter_id"] + "x")
        plain = elgamal.decrypt(grp, scalar(grp, case["x"]), ct)
        choice = ballot.decode_choice(ballot.decode_ballot(grp, plain))
        expected = case["choice"]
        assert choice == (tuple(expected) if isinstance(expected, list) else expected)


@pytest.mark.parametrize("name", crypto.GROUPS)
def test_prove_ballot_draws_nonces_as_recorded(name: str) -> None:
    """prove_ballot(rng) consumes the rng exactly as the generator assumes (pins the draw order)."""
    grp = crypto.group(name)
    for case in load(name):
        rng = random.Random(case["seed"])
        _, pk = elgamal.keygen(grp, rng)
        messages = ballot.encode_ballot(grp, bytes.fromhex(case["payload"]), case["width"])
        ct, rs = elgamal.encrypt(pk, messages, rng)
        proof = ballot.prove_ballot(pk, ct, rs, case["election_id"], case["voter_id"], rng)
        assert ballot.encode_ballot_proof(grp, proof).hex() == case["proof"]


KAT = KatFile("ballot", generate, spec="crypto/ballot.py module docstring (and crypto/elgamal.py "
              "for the ciphertext)", description=(
    "mixvote ballot known-answer vectors: choice payload, embedding, ElGamal "
    "ciphertext (alpha_1..alpha_w || beta_1..beta_w) and the ballot proof (c || z_1..z_w)"))


if __name__ == "__main__":
    KAT.main(sys.argv[1:])
