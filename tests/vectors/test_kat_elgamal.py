"""Known-answer vectors for ElGamal: encryption, re-encryption and list encoding (all groups).

Each case records the secret key, messages and exponents explicitly next to the exact bytes, so it
can be checked without the Python RNG. Generated once with ``random.Random(seed)`` and committed;
regenerate only when the format changes on purpose:

    python -m tests.vectors.test_kat_elgamal --regen
"""

from __future__ import annotations

import random
import sys
from typing import Any

import pytest

import crypto
from crypto import elgamal
from crypto.groups.base import Group
from tests.vectors.kat import KatFile

COUNT = 3


def generate(name: str) -> list[dict[str, Any]]:
    """The cases of one group (widths 1 and 2, a list of three ciphertexts each)."""
    grp = crypto.group(name)
    cases = []
    for width in (1, 2):
        seed = 2000 + width
        rng = random.Random(seed)
        x, pk = elgamal.keygen(grp, rng)
        messages = [
            grp.batch_base_mul([grp.random_scalar(rng) for _ in range(width)]) for _ in range(COUNT)
        ]
        encrypted = [elgamal.encrypt(pk, m, rng) for m in messages]
        cts = [ct for ct, _ in encrypted]
        rerand = [elgamal.reencrypt(pk, ct, rng)[1] for ct in cts]
        mixed = elgamal.batch_reencrypt(pk, cts, rerand)
        cases.append(
            {
                "seed": seed,
                "width": width,
                "x": grp.encode_scalar(x).hex(),
                "y": grp.encode(pk.y).hex(),
                "messages": [[grp.encode(e).hex() for e in m] for m in messages],
                "r": [[grp.encode_scalar(r).hex() for r in rs] for _, rs in encrypted],
                "ciphertexts": elgamal.encode_ciphertexts(grp, cts).hex(),
                "r_reencrypt": [[grp.encode_scalar(r).hex() for r in rs] for rs in rerand],
                "reencrypted": elgamal.encode_ciphertexts(grp, mixed).hex(),
            }
        )
    return cases


def load(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = KAT.load(name)
    return cases


def scalars(grp: Group, texts: list[str]) -> list[int]:
    return [grp.decode_scalar(bytes.fromhex(t)) for t in texts]


@pytest.mark.parametrize("name", crypto.GROUPS)
def test_vectors_from_their_explicit_inputs(name: str) -> None:
    grp = crypto.group(name)
    for case in load(name):
        width = case["width"]
        (x,) = scalars(grp, [case["x"]])
        pk = elgamal.public_key(grp, x)
        assert grp.encode(pk.y).hex() == case["y"]
        messages = [[grp.decode(bytes.fromhex(e)) for e in m] for m in case["messages"]]
        cts = [
            elgamal.encrypt_with(pk, m, scalars(grp, rs))
            for m, rs in zip(messages, case["r"], strict=True)
        ]
        assert elgamal.encode_ciphertexts(grp, cts).hex() == case["ciphertexts"]
        mixed = [
            elgamal.reencrypt_with(pk, ct, scalars(grp, rs))
            for ct, rs in zip(cts, case["r_reencrypt"], strict=True)
        ]
        assert elgamal.encode_ciphertexts(grp, mixed).hex() == case["reencrypted"]
        decoded = elgamal.decode_ciphertexts(grp, bytes.fromhex(case["reencrypted"]), width)
        assert [list(elgamal.decrypt(grp, x, ct)) for ct in decoded] == messages


KAT = KatFile("elgamal", generate, spec="crypto/elgamal.py module docstring", description=(
    "mixvote ElGamal known-answer vectors: (alpha, beta) = (r·g, r·y + m) per "
    "width position; lists encoded as concatenated alpha_1..alpha_w || beta_1..beta_w"))


if __name__ == "__main__":
    KAT.main(sys.argv[1:])
