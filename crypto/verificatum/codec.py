"""Verificatum's byte-tree codecs (``verificatum-format.md`` §1) of one group's elements.

Points, scalars, ciphertext lists (column-major, width ``w``) and public keys through
:class:`Codec`. **Groups Verificatum knows**: a point is ``node(leaf X, leaf Y)`` with
``FB = bitlen(p)//8 + 1``-byte coordinates, the point at infinity is both leaves all ``0xFF``, a
scalar is a leaf of ``SB = bitlen(q)//8 + 1`` bytes. **Other groups**: each element is one leaf
holding the group's canonical encoding. Decoding is stricter than VMN: wrong leaf lengths,
non-canonical scalars (``>= q``), coordinates ``>= p``, points off the curve, the identity where it
is forbidden, wrong counts and trailing bytes all raise :class:`MalformedInput` /
:class:`InvalidElement` naming the object and index.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache

from crypto.elgamal import Ciphertext, PublicKey
from crypto.errors import InvalidElement, MalformedInput
from crypto.groups.base import Element, Group
from crypto.verificatum import bytetree
from crypto.verificatum.bytetree import ByteTree, expect_leaf, expect_node, node_header
from crypto.verificatum.conventions import verificatum_name


# --- byte-tree codecs (§1) -----------------------------------------------------------------------
class Codec:
    """Byte-tree encodings of one group's elements, scalars, ciphertexts and keys (§1.2–§1.5)."""

    def __init__(self, group: Group) -> None:
        self.group = group
        self.order = group.order
        self.sb = group.order.bit_length() // 8 + 1
        self.vmn = verificatum_name(group) is not None
        self._scalar_header = bytetree.leaf_header(self.sb)
        if self.vmn:
            self.p: int = group.field_prime  # type: ignore[attr-defined]
            self.fb = self.p.bit_length() // 8 + 1
            coord = bytetree.leaf_header(self.fb)
            self._point_head = node_header(2) + coord
            self._coord_head = coord
            self._infinity = self._point_head + b"\xff" * self.fb + coord + b"\xff" * self.fb
            self.point_size = len(self._infinity)
            self._to_affine = group.to_affine  # type: ignore[attr-defined]
            self._from_affine = group.from_affine  # type: ignore[attr-defined]
        else:
            self._leaf_head = bytetree.leaf_header(group.element_size)
            self.point_size = 5 + group.element_size

    # elements
    def point(self, e: Element) -> bytes:
        """Serialised byte tree of one element."""
        return self.points([e])[0]

    def points(self, elements: Sequence[Element]) -> list[bytes]:
        """Serialised byte trees of many elements (one per element)."""
        if not self.vmn:
            head = self._leaf_head
            return [head + enc for enc in self.group.batch_encode(elements)]
        out: list[bytes] = []
        append, to_affine, fb = out.append, self._to_affine, self.fb
        head, coord, inf = self._point_head, self._coord_head, self._infinity
        for e in elements:
            xy = to_affine(e)
            if xy is None:
                append(inf)
            else:
                append(head + xy[0].to_bytes(fb, "big") + coord + xy[1].to_bytes(fb, "big"))
        return out

    def array(self, elements: Sequence[Element]) -> bytes:
        """Serialised ``node(BT(e_0), ..., BT(e_{n-1}))``."""
        return node_header(len(elements)) + b"".join(self.points(elements))

    def decode_point(self, tree: ByteTree, what: str, allow_identity: bool = False) -> Element:
        """A validated element from its byte tree (identity only where allowed)."""
        if not self.vmn:
            data = expect_leaf(tree, what, self.group.element_size)
            try:
                return self.group.decode(data, allow_identity=allow_identity)
            except InvalidElement as exc:
                raise InvalidElement(f"{what}: {exc}") from None
        parts = expect_node(tree, what, 2)
        xb = expect_leaf(parts[0], f"{what} X", self.fb)
        yb = expect_leaf(parts[1], f"{what} Y", self.fb)
        return self._affine(xb, yb, what, allow_identity)

    def _affine(self, xb: bytes, yb: bytes, what: str, allow_identity: bool) -> Element:
        """Element from FB-byte coordinate leaves."""
        x = int.from_bytes(xb, "big")
        y = int.from_bytes(yb, "big")
        p = self.p
        if x >= p or y >= p:
            if xb == yb == b"\xff" * self.fb:
                if allow_identity:
                    return self.group.identity
                raise InvalidElement(f"{what}: the point at infinity is not allowed here")
            raise InvalidElement(f"{what}: coordinate is not below the field prime")
        try:
            return self._from_affine(x, y)  # type: ignore[no-any-return]
        except InvalidElement:
            raise InvalidElement(f"{what}: point is not on the curve") from None

    def decode_array(
        self, tree: ByteTree, what: str, n: int | None = None, allow_identity: bool = False
    ) -> list[Element]:
        """A node of ``n`` elements."""
        children = expect_node(tree, what, n)
        if not self.vmn:
            return [
                self.decode_point(c, f"{what}[{i}]", allow_identity) for i, c in enumerate(children)
            ]
        fb = self.fb
        out: list[Element] = []
        append, affine = out.append, self._affine
        for i, child in enumerate(children):
            # Fast path for the common well-formed shape; anything else goes through the checks.
            if (
                type(child) is tuple
                and len(child) == 2
                and type(child[0]) is bytes
                and type(child[1]) is bytes
                and len(child[0]) == fb
                and len(child[1]) == fb
            ):
                append(affine(child[0], child[1], f"{what}[{i}]", allow_identity))
            else:
                append(self.decode_point(child, f"{what}[{i}]", allow_identity))
        return out

    # scalars
    def scalar(self, k: int) -> bytes:
        """Serialised leaf of a scalar in [0, q)."""
        if not 0 <= k < self.order:
            raise ValueError("scalar must be reduced mod the group order")
        return self._scalar_header + k.to_bytes(self.sb, "big")

    def scalars(self, ks: Sequence[int]) -> bytes:
        """Serialised node of scalars."""
        head, sb = self._scalar_header, self.sb
        return node_header(len(ks)) + b"".join([head + k.to_bytes(sb, "big") for k in ks])

    def decode_scalar(self, tree: ByteTree, what: str) -> int:
        """A canonical scalar: exactly SB bytes and below q."""
        data = expect_leaf(tree, what, self.sb)
        k = int.from_bytes(data, "big")
        if k >= self.order:
            raise MalformedInput(f"{what}: scalar is not below the group order (non-canonical)")
        return k

    def decode_scalars(self, tree: ByteTree, what: str, n: int) -> list[int]:
        """A node of ``n`` canonical scalars."""
        children = expect_node(tree, what, n)
        return [self.decode_scalar(c, f"{what}[{i}]") for i, c in enumerate(children)]

    # product-group values with width w: width 1 collapses the inner node (§1.5)
    def wide_scalars(self, ks: Sequence[int]) -> bytes:
        """An element of Z_q^w: a leaf for w = 1, else a node of w leaves."""
        return self.scalar(ks[0]) if len(ks) == 1 else self.scalars(ks)

    def decode_wide_scalars(self, tree: ByteTree, what: str, width: int) -> list[int]:
        if width == 1:
            return [self.decode_scalar(tree, what)]
        return self.decode_scalars(tree, what, width)

    def _wide(self, parts: Sequence[Element]) -> bytes:
        return self.point(parts[0]) if len(parts) == 1 else self.array(parts)

    def ciphertext(self, ct: Ciphertext) -> bytes:
        """One ciphertext: ``node(u, v)`` (w = 1) or ``node(node(u_1..u_w), node(v_1..v_w))``."""
        return node_header(2) + self._wide(ct.alpha) + self._wide(ct.beta)

    def decode_ciphertext(
        self, tree: ByteTree, what: str, width: int, allow_identity: bool = False
    ) -> Ciphertext:
        parts = expect_node(tree, what, 2)
        halves: list[tuple[Element, ...]] = []
        for part, name in zip(parts, ("u", "v"), strict=True):
            if width == 1:
                halves.append((self.decode_point(part, f"{what}.{name}", allow_identity),))
            else:
                halves.append(
                    tuple(self.decode_array(part, f"{what}.{name}", width, allow_identity))
                )
        return Ciphertext(halves[0], halves[1])

    def wide_public_key(self, pk: PublicKey, width: int) -> bytes:
        """The width-``w`` key ``(g,...,g; y,...,y)`` as one ciphertext-shaped tree (§1.5)."""
        g = self.group.generator
        return self.ciphertext(Ciphertext((g,) * width, (pk.y,) * width))

    def columns(
        self, alpha_cols: Sequence[Sequence[Element]], beta_cols: Sequence[Sequence[Element]]
    ) -> Iterable[bytes]:
        """Pieces of the serialised column-major list with the given columns (§1.5)."""
        width = len(alpha_cols)
        yield node_header(2)
        for cols in (alpha_cols, beta_cols):
            if width > 1:
                yield node_header(width)
            for col in cols:
                yield node_header(len(col))
                yield b"".join(self.points(col))

    def decode_columns(
        self,
        tree: ByteTree,
        what: str,
        width: int,
        n: int | None = None,
        allow_identity: bool = True,
    ) -> tuple[list[list[Element]], list[list[Element]]]:
        """Columns (alpha, beta) of a ciphertext list; all columns must have the same length."""
        parts = expect_node(tree, what, 2)
        result: list[list[list[Element]]] = []
        for part, name in zip(parts, ("u", "v"), strict=True):
            if width == 1:
                cols_t: tuple[ByteTree, ...] = (part,)
            else:
                cols_t = expect_node(part, f"{what}.{name}", width)
            cols = []
            for k, col in enumerate(cols_t):
                label = f"{what}.{name}" if width == 1 else f"{what}.{name}{k + 1}"
                decoded = self.decode_array(col, label, n, allow_identity)
                if n is None:
                    n = len(decoded)
                cols.append(decoded)
            result.append(cols)
        return result[0], result[1]


@cache
def codec(group: Group) -> Codec:
    """The (cached) codec of ``group``."""
    return Codec(group)


def columns_of(
    cts: Sequence[Ciphertext], width: int
) -> tuple[list[list[Element]], list[list[Element]]]:
    """Column-major view of a ciphertext list (checks every row has ``width`` positions)."""
    for i, ct in enumerate(cts):
        if len(ct.alpha) != width or len(ct.beta) != width:
            raise ValueError(f"ciphertext {i} has width {len(ct.alpha)}, expected {width}")
    alpha = [[ct.alpha[k] for ct in cts] for k in range(width)]
    beta = [[ct.beta[k] for ct in cts] for k in range(width)]
    return alpha, beta


def rows_of(
    alpha: Sequence[Sequence[Element]], beta: Sequence[Sequence[Element]]
) -> list[Ciphertext]:
    """Ciphertext rows from columns."""
    if len(alpha) == 1:
        return [Ciphertext((a,), (b,)) for a, b in zip(alpha[0], beta[0], strict=True)]
    return [
        Ciphertext(tuple(a), tuple(b))
        for a, b in zip(zip(*alpha, strict=True), zip(*beta, strict=True), strict=True)
    ]


def encode_ciphertext_list(
    group: Group, cts: Sequence[Ciphertext], width: int | None = None
) -> bytes:
    """Verificatum's byte tree of a ciphertext list (column-major; §1.5)."""
    if width is None:
        if not cts:
            raise ValueError("encode_ciphertext_list: give the width of an empty list")
        width = cts[0].width
    alpha, beta = columns_of(cts, width)
    return b"".join(codec(group).columns(alpha, beta))


def decode_ciphertext_list(
    group: Group, data: bytes, width: int, *, n: int | None = None, allow_identity: bool = True
) -> list[Ciphertext]:
    """Strict inverse of :func:`encode_ciphertext_list`.

    The identity is allowed in components by default, as Verificatum allows it in input lists;
    pass ``allow_identity=False`` for lists that must not contain it.
    """
    if width < 1:
        raise ValueError("decode_ciphertext_list: width must be at least 1")
    tree = bytetree.decode(data, "ciphertext list")
    alpha, beta = codec(group).decode_columns(tree, "ciphertext list", width, n, allow_identity)
    return rows_of(alpha, beta)


def encode_public_key(pk: PublicKey) -> bytes:
    """``FullPublicKey.bt`` = ``node(g, y)`` (width 1, as VMN writes it)."""
    return codec(pk.group).wide_public_key(pk, 1)




def decode_public_key(group: Group, data: bytes) -> PublicKey:
    """Strict parse of ``FullPublicKey.bt``: the first component must be the standard generator."""
    c = codec(group)
    parts = expect_node(bytetree.decode(data, "public key"), "public key", 2)
    g = c.decode_point(parts[0], "public key g")
    if not group.equal(g, group.generator):
        raise InvalidElement("public key: first component is not the standard generator")
    y = c.decode_point(parts[1], "public key y")
    return PublicKey(group, y)
