"""Verificatum byte trees (``verificatum-format.md`` §1.1) and the element/scalar/list codecs."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import verificatum
from crypto.elgamal import Ciphertext, PublicKey
from crypto.errors import InvalidElement, MalformedInput
from crypto.groups import group
from crypto.verificatum import bytetree
from crypto.verificatum.bytetree import ByteTree
from tests.strategies import elements, examples_for

trees: st.SearchStrategy[ByteTree] = st.recursive(
    st.binary(max_size=40),
    lambda children: st.lists(children, max_size=5).map(tuple),
    max_leaves=30,
)


@given(trees)
def test_round_trip(tree: ByteTree) -> None:
    data = bytetree.encode(tree)
    assert bytetree.decode(data) == tree


@given(trees, st.data())
def test_every_strict_prefix_is_rejected(tree: ByteTree, data: st.DataObject) -> None:
    encoded = bytetree.encode(tree)
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(MalformedInput):
        bytetree.decode(encoded[:cut])


@given(trees, st.binary(min_size=1, max_size=8))
def test_trailing_bytes_are_rejected(tree: ByteTree, extra: bytes) -> None:
    with pytest.raises(MalformedInput, match="trailing"):
        bytetree.decode(bytetree.encode(tree) + extra)


def test_known_encoding() -> None:
    tree = (b"\xab", (), (b"", b"xy"))
    assert bytetree.encode(tree).hex() == (
        "0000000003"
        + "0100000001ab"
        + "0000000000"
        + "0000000002"
        + "0100000000"
        + "01000000027879"
    )
    assert bytetree.leaf_bytes(b"\x01\x02") == bytetree.encode(b"\x01\x02")
    assert bytetree.node_bytes([bytetree.leaf_bytes(b"a")]) == bytetree.encode((b"a",))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "truncated header"),
        (b"\x02\x00\x00\x00\x00", "unknown tag"),
        (b"\x01\x00\x00\x00\x05abc", "truncated leaf"),
        (b"\x01\xff\xff\xff\xff", "negative"),
        (b"\x00\x7f\xff\xff\xff" + b"\x00" * 20, "more than fit"),
        (b"\x00\x00\x00\x00\x02\x01\x00\x00\x00\x00", "more than fit"),
        (b"\x00\x00\x00\x00\x01" * 40 + b"\x01\x00\x00\x00\x00", "deeper"),
    ],
)
def test_malformed_trees(data: bytes, reason: str) -> None:
    with pytest.raises(MalformedInput, match=reason):
        bytetree.decode(data)


def test_expect_helpers() -> None:
    assert bytetree.expect_leaf(b"ab", "x", 2) == b"ab"
    with pytest.raises(MalformedInput, match="expected a leaf"):
        bytetree.expect_leaf((), "x")
    with pytest.raises(MalformedInput, match="must be 3 bytes"):
        bytetree.expect_leaf(b"ab", "x", 3)
    with pytest.raises(MalformedInput, match="expected a node"):
        bytetree.expect_node(b"", "x")
    with pytest.raises(MalformedInput, match="2 children"):
        bytetree.expect_node((b"",), "x", 2)
    with pytest.raises(TypeError):
        bytetree.encode([b"a"])  # type: ignore[arg-type]


# --- codecs --------------------------------------------------------------------------------
SECP = group("secp256k1")
P256 = group("P-256")


def test_point_encoding_is_verificatum_layout() -> None:
    c = verificatum.codec(SECP)
    g = c.point(SECP.generator)
    assert len(g) == 81 and c.fb == 33 and c.sb == 33
    x, y = SECP.to_affine(SECP.generator)  # type: ignore[attr-defined]
    assert g == bytetree.encode((x.to_bytes(33, "big"), y.to_bytes(33, "big")))
    assert c.point(SECP.identity) == bytetree.encode((b"\xff" * 33, b"\xff" * 33))
    assert c.scalar(5) == bytetree.encode((5).to_bytes(33, "big"))
    assert verificatum.codec(group("P-384")).fb == 49


@pytest.mark.parametrize("name", ["secp256k1", "P-256", "ristretto255"])
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_element_round_trip(name: str, data: st.DataObject) -> None:
    g = group(name)
    c = verificatum.codec(g)
    e = data.draw(elements(g, allow_identity=True))
    tree = bytetree.decode(c.point(e))
    assert c.decode_point(tree, "e", allow_identity=True) == e
    if e == g.identity:
        with pytest.raises(InvalidElement, match=r"not allowed|identity"):
            c.decode_point(tree, "e")


@pytest.mark.parametrize(
    ("mutate", "error", "reason"),
    [
        (lambda x, y: (x[:-1], y), MalformedInput, "must be 33 bytes"),
        (lambda x, y: (x, y + b"\x00"), MalformedInput, "must be 33 bytes"),
        (
            lambda x, y: (x, (int.from_bytes(y, "big") ^ 1).to_bytes(33, "big")),
            InvalidElement,
            "curve",
        ),
        (lambda x, y: (b"\xff" * 33, y), InvalidElement, "not below the field prime"),
        (lambda x, y: (b"\x01" + x[1:], y), InvalidElement, "not below the field prime"),
    ],
)
def test_invalid_points(mutate, error, reason) -> None:  # type: ignore[no-untyped-def]
    c = verificatum.codec(SECP)
    x, y = bytetree.decode(c.point(SECP.base_mul(7)))
    with pytest.raises(error, match=reason):
        c.decode_point(tuple(mutate(x, y)), "P")


def test_scalars_must_be_canonical() -> None:
    c = verificatum.codec(SECP)
    q = SECP.order
    assert c.decode_scalar((q - 1).to_bytes(33, "big"), "k") == q - 1
    with pytest.raises(MalformedInput, match="non-canonical"):
        c.decode_scalar(q.to_bytes(33, "big"), "k")
    with pytest.raises(MalformedInput, match="33 bytes"):
        c.decode_scalar((1).to_bytes(32, "big"), "k")
    with pytest.raises(ValueError):
        c.scalar(q)


@pytest.mark.parametrize("width", [1, 2, 3])
@pytest.mark.parametrize("name", ["secp256k1", "ristretto255"])
def test_ciphertext_list_round_trip_and_layout(width: int, name: str) -> None:
    g = group(name)
    rng = random.Random(width)
    cts = [
        Ciphertext(
            tuple(g.base_mul(rng.randrange(1, g.order)) for _ in range(width)),
            tuple(g.base_mul(rng.randrange(1, g.order)) for _ in range(width)),
        )
        for _ in range(5)
    ]
    cts[2] = Ciphertext(cts[2].alpha, (g.identity, *cts[2].beta[1:]))  # identity allowed in inputs
    data = verificatum.encode_ciphertext_list(g, cts)
    assert verificatum.decode_ciphertext_list(g, data, width) == cts
    tree = bytetree.decode(data)
    c = verificatum.codec(g)
    # column-major: node(u-part, v-part), each one array per width position (collapsed for w = 1)
    u_part = tree[0] if width > 1 else (tree[0],)  # type: ignore[index]
    assert len(u_part) == width  # type: ignore[arg-type]
    for k in range(width):
        assert u_part[k] == bytetree.decode(c.array([ct.alpha[k] for ct in cts]))  # type: ignore[index]
    with pytest.raises(InvalidElement, match=r"ciphertext list\.v"):
        verificatum.decode_ciphertext_list(g, data, width, allow_identity=False)
    with pytest.raises(MalformedInput):
        verificatum.decode_ciphertext_list(g, data, width + 1)
    with pytest.raises(MalformedInput, match="trailing"):
        verificatum.decode_ciphertext_list(g, data + b"\x00", width)
    with pytest.raises(MalformedInput):
        verificatum.decode_ciphertext_list(g, data[:-1], width)


def test_ragged_columns_are_rejected() -> None:
    c = verificatum.codec(SECP)
    pts = [SECP.base_mul(i + 1) for i in range(4)]
    data = bytetree.node_bytes([c.array(pts), c.array(pts[:3])])
    with pytest.raises(MalformedInput, match="4 children, got 3"):
        verificatum.decode_ciphertext_list(SECP, data, 1)


def test_public_key_codec() -> None:
    pk = PublicKey(SECP, SECP.base_mul(12345))
    data = verificatum.encode_public_key(pk)
    assert verificatum.decode_public_key(SECP, data) == pk
    c = verificatum.codec(SECP)
    wrong_g = bytetree.node_bytes([c.point(SECP.base_mul(2)), c.point(pk.y)])
    with pytest.raises(InvalidElement, match="standard generator"):
        verificatum.decode_public_key(SECP, wrong_g)
    no_y = bytetree.node_bytes([c.point(SECP.generator), c.point(SECP.identity)])
    with pytest.raises(InvalidElement, match="infinity"):
        verificatum.decode_public_key(SECP, no_y)


def test_group_string_round_trip() -> None:
    for name in ("secp256k1", "P-256", "P-384", "ristretto255"):
        g = group(name)
        assert verificatum.group_from_string(verificatum.group_string(g)) is g
    assert verificatum.group_string(group("ristretto255")).startswith("mixvote(ristretto255)::")
    with pytest.raises(MalformedInput):
        verificatum.group_from_string("ECqPGroup(x)::zz")
    bogus = bytetree.node_bytes(
        [bytetree.leaf_bytes(b"com.verificatum.arithm.ECqPGroup"), bytetree.leaf_bytes(b"nope")]
    )
    with pytest.raises(MalformedInput, match="not available"):
        verificatum.group_from_string("ECqPGroup(nope)::" + bogus.hex())


def test_random_oracle_masks_partial_bytes() -> None:
    full = verificatum.random_oracle([b"abc"], 256)
    assert len(full) == 32
    short = verificatum.random_oracle([b"abc"], 12)
    assert len(short) == 2 and short[0] < 16
    assert verificatum.random_oracle([b"a", b"bc"], 256) == full  # parts are concatenated
    assert verificatum.random_oracle([b"abc"], 255) != full


@settings(max_examples=examples_for("secp256k1", 20))
@given(st.integers(1, 700), st.integers(0, 5))
def test_prg_integers_consume_sequential_bytes(bits: int, count: int) -> None:
    seed = bytes(range(32))
    nbytes = (bits + 7) // 8
    raw = verificatum.PRG(seed).read(nbytes * count)
    values = verificatum.PRG(seed).integers(count, bits)
    assert values == [
        int.from_bytes(raw[i * nbytes : (i + 1) * nbytes], "big") % (1 << bits)
        for i in range(count)
    ]
