"""Threshold decryption (crypto.threshold) with keys from the DKG: any t of n shares decrypt,
altered shares and proofs are rejected with a reason, strict share codec."""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Sequence

import pytest

import crypto
from crypto.dkg import DkgParams, DkgParticipant, KeyShare
from crypto.elgamal import Ciphertext, decrypt, encrypt
from crypto.errors import InvalidElement, InvalidProof, MalformedInput, ProtocolViolation
from crypto.groups.base import Element, Group
from crypto.proofs import DleqProof
from crypto.threshold import (
    DecryptionShare,
    combine,
    decode_decryption_share,
    decryption_share,
    encode_decryption_share,
    lagrange_at_zero,
    verify_decryption_share,
)
from crypto.transport import NodeIdentity

FAST = ("secp256k1", "ristretto255")
CTX = b"election-1/decrypt"


def dkg_keys(name: str, n: int, t: int, seed: int = 0) -> dict[int, KeyShare]:
    """An honest in-process DKG run (the coordinator just relays)."""
    g = crypto.group(name)
    rng = random.Random(seed)
    ids = [NodeIdentity.generate(rng) for _ in range(n)]
    params = DkgParams(g, "election-1", n, t, tuple(i.public_bytes() for i in ids))
    parts = [DkgParticipant(params, i, ids[i - 1], rng) for i in range(1, n + 1)]
    deals = {p.index: p.deal() for p in parts}
    complaints = {p.index: p.on_deals(deals) for p in parts}
    responses = {p.index: p.on_complaints(complaints) for p in parts}
    return {p.index: p.on_responses(responses) for p in parts}


def ballots(
    g: Group, keys: dict[int, KeyShare], count: int, width: int, seed: int = 1
) -> tuple[list[Ciphertext], list[tuple[Element, ...]]]:
    rng = random.Random(seed)
    pk = next(iter(keys.values())).public_key
    plain = [tuple(g.embed(b"%d/%d" % (i, k)) for k in range(width)) for i in range(count)]
    return [encrypt(pk, list(row), rng)[0] for row in plain], plain


@pytest.fixture(scope="module")
def keys() -> dict[int, KeyShare]:
    return dkg_keys("secp256k1", 5, 3)


@pytest.fixture(scope="module")
def g() -> Group:
    return crypto.group("secp256k1")


@pytest.fixture(scope="module")
def setup(
    g: Group, keys: dict[int, KeyShare]
) -> tuple[list[Ciphertext], list[tuple[Element, ...]], dict[int, DecryptionShare]]:
    cts, plain = ballots(g, keys, 6, 2)
    shares = {j: decryption_share(g, k, cts, CTX, random.Random(j)) for j, k in keys.items()}
    return cts, plain, shares


# --- end to end ---------------------------------------------------------------------------------
def test_every_t_subset_decrypts(g: Group, keys: dict[int, KeyShare], setup: tuple) -> None:
    cts, plain, shares = setup
    for j, share in shares.items():
        assert verify_decryption_share(g, keys[j].verification_keys[j], cts, share, CTX) is None
    for subset in itertools.combinations(range(1, 6), 3):
        assert combine(g, cts, {j: shares[j] for j in subset}, 3) == plain


def test_more_than_t_shares_use_the_lowest_t(g: Group, setup: tuple) -> None:
    cts, plain, shares = setup
    assert combine(g, cts, shares, 3) == plain
    # the two highest indices are ignored: breaking them changes nothing
    broken = {**shares, 5: dataclasses.replace(shares[5], factors=shares[1].factors)}
    assert combine(g, cts, broken, 3) == plain


def test_fewer_than_t_shares_cannot_decrypt(g: Group, setup: tuple) -> None:
    cts, plain, shares = setup
    with pytest.raises(ValueError, match="need t=3"):
        combine(g, cts, {1: shares[1], 2: shares[2]}, 3)
    # and a t-1 interpolation (pretending t = 2) gives garbage, not the plaintext
    assert combine(g, cts, {1: shares[1], 2: shares[2]}, 2) != plain


def test_combine_assumes_verified_shares(g: Group, keys: dict[int, KeyShare], setup: tuple) -> None:
    # Documented: combine does not check proofs; an unverified bad share gives a wrong result.
    cts, plain, shares = setup
    bad = dataclasses.replace(shares[2], factors=shares[1].factors)
    with pytest.raises(InvalidProof):
        verify_decryption_share(g, keys[2].verification_keys[2], cts, bad, CTX)
    assert combine(g, cts, {1: shares[1], 2: bad, 3: shares[3]}, 3) != plain


@pytest.mark.parametrize("name", crypto.GROUPS)
def test_end_to_end_every_group(name: str) -> None:
    g = crypto.group(name)
    n, t = (5, 3) if name in FAST else (3, 2)
    keys = dkg_keys(name, n, t, seed=3)
    cts, plain = ballots(g, keys, 3 if name in FAST else 2, 2)
    chosen = list(keys)[-t:]
    shares = {}
    for j in chosen:
        shares[j] = decryption_share(g, keys[j], cts, CTX)
        verify_decryption_share(g, keys[j].verification_keys[j], cts, shares[j], CTX)
    assert combine(g, cts, shares, t) == plain


def test_threshold_matches_plain_decryption_with_the_interpolated_key(
    g: Group, keys: dict[int, KeyShare], setup: tuple
) -> None:
    # Test-only reconstruction: the joint key decrypts the same; the library never builds it.
    cts, plain, _ = setup
    subset = [2, 4, 5]
    x = sum(lagrange_at_zero(subset, j, g.order) * keys[j].x_j for j in subset) % g.order
    assert [decrypt(g, x, ct) for ct in cts] == plain


def test_lagrange_coefficients_sum_to_one() -> None:
    q = crypto.group("secp256k1").order
    for subset in ([1, 2, 3], [2, 5, 7], [1, 9]):
        assert sum(lagrange_at_zero(subset, j, q) for j in subset) % q == 1


# --- rejections ---------------------------------------------------------------------------------
def _replace_factor(share: DecryptionShare, m: int, k: int, new: Element) -> DecryptionShare:
    rows = [list(r) for r in share.factors]
    rows[m][k] = new
    return dataclasses.replace(share, factors=tuple(tuple(r) for r in rows))


def test_altered_decryption_share_is_rejected(
    g: Group, keys: dict[int, KeyShare], setup: tuple
) -> None:
    cts, _, shares = setup
    y2 = keys[2].verification_keys[2]
    s = shares[2]
    altered: list[DecryptionShare] = [
        _replace_factor(s, 4, 1, g.add(s.factors[4][1], g.generator)),
        _replace_factor(s, 0, 0, g.base_mul(7)),
        dataclasses.replace(s, proof=DleqProof((s.proof.c + 1) % g.order, s.proof.z)),
        dataclasses.replace(s, proof=DleqProof(s.proof.c, (s.proof.z + 1) % g.order)),
        dataclasses.replace(s, proof=shares[3].proof),
        dataclasses.replace(s, factors=(s.factors[1], s.factors[0], *s.factors[2:])),
        dataclasses.replace(s, factors=tuple((r[1], r[0]) for r in s.factors)),
        dataclasses.replace(s, index=3),  # relabelled as another node's share
    ]
    for bad in altered:
        with pytest.raises(InvalidProof, match=f"decryption share of node {bad.index}"):
            verify_decryption_share(g, y2, cts, bad, CTX)


def test_share_checked_against_another_key_or_context_is_rejected(
    g: Group, keys: dict[int, KeyShare], setup: tuple
) -> None:
    cts, _, shares = setup
    with pytest.raises(InvalidProof, match="node 2"):
        verify_decryption_share(g, keys[1].verification_keys[1], cts, shares[2], CTX)
    with pytest.raises(InvalidProof):
        verify_decryption_share(g, keys[2].verification_keys[2], cts, shares[2], b"election-2")


def test_share_for_another_ciphertext_list_is_rejected(
    g: Group, keys: dict[int, KeyShare], setup: tuple
) -> None:
    cts, _, shares = setup
    y1 = keys[1].verification_keys[1]
    other, _ = ballots(g, keys, 6, 2, seed=99)
    with pytest.raises(InvalidProof, match="node 1"):
        verify_decryption_share(g, y1, other, shares[1], CTX)
    reordered = [cts[1], cts[0], *cts[2:]]
    with pytest.raises(InvalidProof):
        verify_decryption_share(g, y1, reordered, shares[1], CTX)
    with pytest.raises(MalformedInput, match="6 factor rows for 5 ciphertexts"):
        verify_decryption_share(g, y1, cts[:5], shares[1], CTX)
    narrow = [Ciphertext(ct.alpha[:1], ct.beta[:1]) for ct in cts]
    with pytest.raises(MalformedInput, match="width"):
        verify_decryption_share(g, y1, narrow, shares[1], CTX)
    with pytest.raises(MalformedInput, match="empty"):
        verify_decryption_share(g, y1, [], shares[1], CTX)


def test_identity_factor_is_rejected(g: Group, keys: dict[int, KeyShare], setup: tuple) -> None:
    cts, _, shares = setup
    bad = _replace_factor(shares[1], 2, 0, g.identity)
    with pytest.raises(InvalidElement, match="node 1"):
        verify_decryption_share(g, keys[1].verification_keys[1], cts, bad, CTX)


def test_combine_rejects_misfiled_or_malformed_shares(g: Group, setup: tuple) -> None:
    cts, _, shares = setup
    with pytest.raises(ProtocolViolation, match="filed under node 2 is from node 3"):
        combine(g, cts, {1: shares[1], 2: shares[3], 4: shares[4]}, 3)
    with pytest.raises(MalformedInput):
        combine(g, cts[:5], {1: shares[1], 2: shares[2], 3: shares[3]}, 3)
    with pytest.raises(ValueError):
        combine(g, cts, shares, 0)


def test_decryption_share_refuses_an_empty_list(g: Group, keys: dict[int, KeyShare]) -> None:
    with pytest.raises(ValueError, match="empty"):
        decryption_share(g, keys[1], [], CTX)


# --- codec --------------------------------------------------------------------------------------
def test_share_codec_round_trip_and_pinned_rng(
    g: Group, keys: dict[int, KeyShare], setup: tuple
) -> None:
    cts, _, shares = setup
    for share in shares.values():
        raw = encode_decryption_share(g, share)
        assert len(raw) == 12 + 6 * 2 * 33 + 64
        assert decode_decryption_share(g, raw) == share
        assert decode_decryption_share(g, raw, count=6, width=2) == share
    again = decryption_share(g, keys[1], cts, CTX, random.Random(1))
    assert encode_decryption_share(g, again) == encode_decryption_share(g, shares[1])


def _u32(v: int) -> bytes:
    return v.to_bytes(4, "big")


def test_share_decoding_rejections(g: Group, setup: tuple) -> None:
    _, _, shares = setup
    raw = encode_decryption_share(g, shares[2])
    first = 12

    def at(offset: int, new: bytes) -> bytes:
        return raw[:offset] + new + raw[offset + len(new) :]

    cases: Sequence[tuple[bytes, type[Exception], str, dict[str, int]]] = [
        (raw[:-1], MalformedInput, "expected", {}),
        (raw + b"\x00", MalformedInput, "expected", {}),
        (raw[:8], MalformedInput, "truncated", {}),
        (at(0, _u32(0)), MalformedInput, "index", {}),
        (at(4, _u32(0)), MalformedInput, "empty", {}),
        (at(8, _u32(0)), MalformedInput, "empty", {}),
        (at(4, _u32(7)), MalformedInput, "expected", {}),
        (raw, MalformedInput, "expected 5", {"count": 5}),
        (raw, MalformedInput, "expected 3", {"width": 3}),
        (at(first, bytes(33)), InvalidElement, "ciphertext 0, factor 0", {}),
        (at(first + 3 * 33, b"\x04" + bytes(32)), InvalidElement, "ciphertext 1, factor 1", {}),
        (at(first + 33, b"\x02" + b"\xff" * 32), InvalidElement, "ciphertext 0, factor 1", {}),
        (at(len(raw) - 32, g.order.to_bytes(32, "big")), MalformedInput, "DLEQ proof z", {}),
    ]
    for data, exc, reason, kwargs in cases:
        with pytest.raises(exc, match=reason):
            decode_decryption_share(g, data, **kwargs)
    with pytest.raises(MalformedInput):
        decode_decryption_share(g, raw.hex())  # type: ignore[arg-type]


# --- a longer list through the batch paths -----------------------------------------------------
def test_a_thousand_ballots(g: Group, keys: dict[int, KeyShare]) -> None:
    cts, plain = ballots(g, keys, 1000, 1, seed=5)
    shares = {}
    for j in (1, 3, 5):
        shares[j] = decryption_share(g, keys[j], cts, CTX)
        verify_decryption_share(g, keys[j].verification_keys[j], cts, shares[j], CTX)
    assert combine(g, cts, shares, 3) == plain
    one_wrong = _replace_factor(shares[3], 777, 0, shares[3].factors[776][0])
    with pytest.raises(InvalidProof):
        verify_decryption_share(g, keys[3].verification_keys[3], cts, one_wrong, CTX)
