"""Hypothesis properties of every group: the group laws and the encode/embed round trips."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypto.groups import GROUPS, group
from tests.strategies import elements, examples_for, payloads, scalars, unreduced_scalars


def laws(name: str):  # type: ignore[no-untyped-def]
    return settings(
        max_examples=examples_for(name),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


@pytest.mark.parametrize("name", GROUPS)
def test_associativity_and_commutativity(name: str) -> None:
    g = group(name)

    @laws(name)
    @given(elements(g, allow_identity=True), elements(g, allow_identity=True), elements(g))
    def check(p: bytes, q: bytes, r: bytes) -> None:
        assert g.add(g.add(p, q), r) == g.add(p, g.add(q, r))
        assert g.add(p, q) == g.add(q, p)
        assert g.sub(g.add(p, q), q) == p

    check()


@pytest.mark.parametrize("name", GROUPS)
def test_distributivity(name: str) -> None:
    g = group(name)

    @laws(name)
    @given(elements(g), elements(g), scalars(g), scalars(g))
    def check(p: bytes, q: bytes, a: int, b: int) -> None:
        assert g.mul(g.add(p, q), a) == g.add(g.mul(p, a), g.mul(q, a))
        assert g.mul(p, a + b) == g.add(g.mul(p, a), g.mul(p, b))
        assert g.mul(g.mul(p, a), b) == g.mul(p, a * b)
        assert g.base_mul(a) == g.mul(g.generator, a)

    check()


@pytest.mark.parametrize("name", GROUPS)
def test_scalar_reduction(name: str) -> None:
    g = group(name)

    @laws(name)
    @given(unreduced_scalars(g))
    def check(k: int) -> None:
        assert g.base_mul(k) == g.base_mul(k % g.order)

    check()


@pytest.mark.parametrize("name", GROUPS)
def test_encode_decode_round_trip(name: str) -> None:
    g = group(name)

    @laws(name)
    @given(elements(g, allow_identity=True))
    def check(p: bytes) -> None:
        enc = g.encode(p)
        assert len(enc) == g.element_size
        assert g.decode(enc, allow_identity=True) == p
        assert g.batch_decode([enc], allow_identity=True) == [p]

    check()


@pytest.mark.parametrize("name", GROUPS)
def test_embed_extract_round_trip(name: str) -> None:
    g = group(name)

    @laws(name)
    @given(payloads(g))
    def check(m: bytes) -> None:
        e = g.embed(m)
        assert g.extract(e) == m
        assert g.extract(g.decode(g.encode(e))) == m

    check()


@pytest.mark.parametrize("name", GROUPS)
def test_single_byte_corruption_never_crashes(name: str) -> None:
    # Any byte flip either decodes to a (different) valid element or raises InvalidElement.
    from crypto.errors import InvalidElement

    g = group(name)

    @laws(name)
    @given(elements(g), st.data())
    def check(p: bytes, data: st.DataObject) -> None:
        enc = bytearray(g.encode(p))
        i = data.draw(st.integers(0, len(enc) - 1))
        enc[i] ^= data.draw(st.integers(1, 255))
        try:
            q = g.decode(bytes(enc))
        except InvalidElement:
            return
        assert q != p
        assert g.encode(q) == bytes(enc)

    check()
