"""Properties of homomorphic ballots and the tally: honest ballots always verify (and only in their
own context), the codecs round-trip, any changed byte is rejected, the tally equals the sum of the
selections, and the bounded search inverts ``m ↦ m·g`` on ``[0, N]``."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import crypto
from crypto import elgamal
from crypto.errors import InvalidProof, MalformedInput
from crypto.homomorphic import (
    SelectionRule,
    aggregate,
    ballot_from_json,
    ballot_to_json,
    decode_ballot,
    decrypt_counts,
    encode_ballot,
    encrypt_ballot,
    vartime_discrete_logs,
    verify_ballot,
    verify_tally,
)
from crypto.threshold import decryption_share
from tests.strategies import FAST_GROUPS, examples_for
from tests.unit.test_homomorphic import dealer_keys

SETTINGS: dict[str, Any] = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow],
}


@st.composite
def rules_and_selections(draw: st.DrawFn, max_choices: int = 6) -> tuple[SelectionRule, list[int]]:
    n = draw(st.integers(1, max_choices))
    lo = draw(st.integers(0, n))
    hi = draw(st.integers(lo, n))
    count = draw(st.integers(lo, hi))
    chosen = draw(st.permutations(range(n)))[:count]
    return SelectionRule(n, lo, hi), [int(k in chosen) for k in range(n)]


@st.composite
def elections(draw: st.DrawFn) -> tuple[SelectionRule, list[list[int]]]:
    rule, first = draw(rules_and_selections(max_choices=4))
    more = draw(st.integers(0, 5))
    rows = [first]
    for _ in range(more):
        count = draw(st.integers(rule.min_selections, rule.max_selections))
        chosen = draw(st.permutations(range(rule.n_choices)))[:count]
        rows.append([int(k in chosen) for k in range(rule.n_choices)])
    return rule, rows


@given(
    name=st.sampled_from(FAST_GROUPS),
    case=rules_and_selections(),
    context=st.binary(max_size=64),
    other=st.binary(max_size=64),
    seed=st.integers(0, 2**32),
)
@settings(max_examples=examples_for("secp256k1", fast=40), **SETTINGS)
def test_honest_ballots_verify_only_in_their_context(
    name: str, case: tuple[SelectionRule, list[int]], context: bytes, other: bytes, seed: int
) -> None:
    rule, selections = case
    grp = crypto.group(name)
    rng = random.Random(seed)
    x, pk = elgamal.keygen(grp, rng)
    ballot = encrypt_ballot(pk, selections, rule, context, rng)
    verify_ballot(pk, ballot, rule, context)
    assert vartime_discrete_logs(grp, elgamal.decrypt(grp, x, ballot.ciphertext), 1) == tuple(
        selections
    )
    assert decode_ballot(grp, encode_ballot(grp, ballot), rule) == ballot
    assert ballot_from_json(grp, ballot_to_json(grp, ballot), rule) == ballot
    if other != context:
        try:
            verify_ballot(pk, ballot, rule, other)
        except InvalidProof as exc:
            assert str(exc).startswith("choice 0: 0/1 proof")
        else:
            raise AssertionError("a ballot verified under another context")


@given(
    name=st.sampled_from(FAST_GROUPS),
    case=rules_and_selections(max_choices=3),
    position=st.integers(0, 10**6),
    mask=st.integers(1, 255),
    seed=st.integers(0, 2**32),
)
@settings(max_examples=examples_for("secp256k1", fast=60), **SETTINGS)
def test_any_changed_byte_is_rejected(
    name: str,
    case: tuple[SelectionRule, list[int]],
    position: int,
    mask: int,
    seed: int,
) -> None:
    rule, selections = case
    grp = crypto.group(name)
    rng = random.Random(seed)
    _, pk = elgamal.keygen(grp, rng)
    data = bytearray(encode_ballot(grp, encrypt_ballot(pk, selections, rule, b"ctx", rng)))
    data[position % len(data)] ^= mask
    try:
        tampered = decode_ballot(grp, bytes(data), rule)
    except MalformedInput:
        return
    try:
        verify_ballot(pk, tampered, rule, b"ctx")
    except (InvalidProof, MalformedInput):
        return
    raise AssertionError(f"a ballot with byte {position % len(data)} changed still verifies")


@given(name=st.sampled_from(FAST_GROUPS), case=elections(), seed=st.integers(0, 2**32))
@settings(max_examples=examples_for("secp256k1", fast=25), **SETTINGS)
def test_the_tally_equals_the_sum_of_the_selections(
    name: str, case: tuple[SelectionRule, list[list[int]]], seed: int
) -> None:
    rule, selections = case
    grp = crypto.group(name)
    keys = dealer_keys(grp, 3, 2, seed=seed)
    pk = keys[1].public_key
    rng = random.Random(seed)
    ballots = [encrypt_ballot(pk, s, rule, b"v%d" % i, rng) for i, s in enumerate(selections)]
    rows = [b.ciphertext for b in ballots]
    agg = aggregate(grp, rows)
    # An aggregate alpha at the identity is a negligible-probability event; it cannot be drawn.
    assume(not any(grp.is_identity(a) for a in agg.alpha))
    shares = {j: decryption_share(grp, keys[j], [agg], b"tally", rng) for j in (1, 3)}
    counts = decrypt_counts(grp, agg, shares, 2, len(rows))
    assert counts == tuple(sum(col) for col in zip(*selections, strict=True))
    verify_tally(grp, rows, agg, shares, keys[1].verification_keys, 2, counts, b"tally")


@given(
    name=st.sampled_from(FAST_GROUPS),
    bound=st.integers(0, 5000),
    data=st.data(),
)
@settings(max_examples=examples_for("secp256k1", fast=40), **SETTINGS)
def test_bounded_search_inverts_exactly_on_the_range(
    name: str, bound: int, data: st.DataObject
) -> None:
    grp = crypto.group(name)
    ms = data.draw(st.lists(st.integers(0, bound), min_size=1, max_size=4))
    assert vartime_discrete_logs(grp, [grp.base_mul(m) for m in ms], bound) == tuple(ms)
    beyond = data.draw(st.integers(bound + 1, bound + 10**6))
    try:
        vartime_discrete_logs(grp, [grp.base_mul(beyond)], bound)
    except InvalidProof:
        return
    raise AssertionError(f"{beyond} found within the bound {bound}")
