"""The plaintext embedding's decoding rule (``docs/record.md`` §4.3, decision D1): a point decodes
to ``m`` only if it is ``embed(m)``; the other root, junk in the padding and a later counter are
no embedding, in every group and backend."""

from __future__ import annotations

import pytest

from crypto.ballot import Tally, encode_choice, tally
from crypto.errors import InvalidElement
from crypto.groups import GROUPS, group, native_available
from crypto.groups.weierstrass import rhs, sqrt_mod
from tests.conformance.generate import near_embeddings

BACKENDS = [(name, "reference") for name in GROUPS] + (
    [(name, "native") for name in ("secp256k1", "ristretto255", "P-256", "P-384")]
    if native_available() else [])


@pytest.mark.parametrize("name, backend", BACKENDS)
def test_extract_accepts_exactly_embed(name: str, backend: str) -> None:
    g = group(name, backend)
    for payload in (b"", encode_choice(1), bytes(range(1, g.embed_capacity + 1))):
        assert g.extract(g.embed(payload)) == payload
    if name in ("M-221", "E-521"):
        return  # their near-embeddings are built below with the two-byte counter
    near = near_embeddings(g, encode_choice(1))
    assert len(near) == (2 if name == "ristretto255" else 3)
    for what, point in near.items():
        assert point != g.embed(encode_choice(1)), what
        with pytest.raises(InvalidElement):
            g.extract(point)


@pytest.mark.parametrize("name", ["M-221", "E-521"])
def test_cofactor_curves_reject_a_later_counter_and_odd_y(name: str) -> None:
    g = group(name)
    payload = encode_choice(1)
    m = g.embed(payload)
    fb = g.element_size - 1
    x = int.from_bytes(g.encode(m)[1:], "big")
    with pytest.raises(InvalidElement):
        g.extract(g.decode(b"\x03" + x.to_bytes(fb, "big")))  # the odd root
    # the next counter whose point is in the subgroup also carries the payload's layout
    for counter in range((x & 0xFFFF) + 1, 1 << 16):
        x2 = (x & ~0xFFFF) | counter
        if sqrt_mod(rhs(g, x2), g.field_prime) is None:  # type: ignore[attr-defined]
            continue
        try:
            later = g.decode(b"\x02" + x2.to_bytes(fb, "big"))
        except InvalidElement:
            continue  # not in the prime-order subgroup
        if g.encode(later)[0] == 2:
            break
    with pytest.raises(InvalidElement):
        g.extract(later)


def test_tally_counts_a_near_embedding_as_invalid() -> None:
    g = group("secp256k1")
    rows = [(g.embed(encode_choice(1)),)] + [(p,) for p in near_embeddings(
        g, encode_choice(1)).values()]
    result = tally(g, rows, ["a", "b"])
    assert result == Tally({"a": 0, "b": 1}, 3, (encode_choice(1), b"", b"", b""))
