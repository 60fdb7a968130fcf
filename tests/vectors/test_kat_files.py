"""What holds for every known-answer vector file: regenerating it from its seeds gives exactly the
committed vectors, and the fast and the reference secp256k1 backends (libsecp256k1 and
python-ecdsa) have the same vectors, so the same scalars give the same bytes."""

from __future__ import annotations

import pytest

import crypto
from tests.vectors import test_kat_ballot, test_kat_elgamal, test_kat_homomorphic, test_kat_proofs
from tests.vectors.kat import KatFile

KATS = [m.KAT for m in (test_kat_ballot, test_kat_elgamal, test_kat_homomorphic, test_kat_proofs)]


@pytest.mark.parametrize("kat", KATS, ids=[k.name for k in KATS])
@pytest.mark.parametrize("name", crypto.GROUPS)
def test_generation_reproduces_the_vectors(kat: KatFile, name: str) -> None:
    assert kat.generate(name) == kat.load(name)


@pytest.mark.parametrize("kat", KATS, ids=[k.name for k in KATS])
def test_fast_and_reference_backends_agree(kat: KatFile) -> None:
    assert kat.backends_agree()
