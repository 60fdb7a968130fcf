"""The Verificatum Mix-Net's conventions (VMN 3.1.0), re-implemented from their description.

Sources: D. Wikström, "How to implement a stand-alone verifier for the Verificatum mix-net"
(VMN 3.1.0), and our own checked write-up ``verificatum-format.md`` (§ numbers below refer to it).
Verificatum's code is AGPL and was not used. This module provides:

* the hash functions, the PRG (§2.2) and the random oracle ``RO_n`` (§2.3);
* the group strings that enter the prefix ρ (§3), and ρ itself;
* the independent generators ``h_0..h_{N-1}`` (§4);
* the byte-tree codecs (§1) of points, scalars, ciphertext lists (column-major, width ``w``) and
  public keys, through :class:`Codec`;
* a strict parser of ``protInfo.xml`` (§6.2) that takes the XML text (no I/O here).

**Groups Verificatum knows** (``group.verificatum_name`` set): every encoding is exactly VMN's —
a point is ``node(leaf X, leaf Y)`` with ``FB = bitlen(p)//8 + 1``-byte coordinates, the point at
infinity is both leaves all ``0xFF``, a scalar is a leaf of ``SB = bitlen(q)//8 + 1`` bytes, and the
pgroup string is ``ECqPGroup(<name>)::<hex of node(leaf(class), leaf(name))>``.

**Other groups** (ristretto255, Edwards curves, ...) get the same structure with each element as one
leaf holding the group's canonical encoding, the pgroup string
``mixvote(<name>)::<hex of node(leaf("mixvote.Group"), leaf(<name>))>``, and generators
``h_i = group.hash_to_element("verificatum-generators", ρ || int32(i))`` (a hash to the group, so no
discrete logarithm is known). These are mixvote's own extension, not understood by Verificatum.

Decoding is stricter than VMN: wrong leaf lengths, non-canonical scalars (``>= q``), coordinates
``>= p``, points off the curve, the identity where it is forbidden, wrong counts and trailing bytes
all raise :class:`MalformedInput` / :class:`InvalidElement` naming the object and index.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import gmpy2

from crypto import bytetree
from crypto.bytetree import ByteTree, expect_leaf, expect_node, leaf_bytes, node_bytes, node_header
from crypto.elgamal import Ciphertext, PublicKey
from crypto.errors import InvalidElement, MalformedInput
from crypto.groups.base import Element, Group
from crypto.groups.weierstrass import sqrt_mod

HASHES: dict[str, Callable[..., Any]] = {
    "SHA-256": hashlib.sha256,
    "SHA-384": hashlib.sha384,
    "SHA-512": hashlib.sha512,
}

ECQ_CLASS = "com.verificatum.arithm.ECqPGroup"
MIXVOTE_CLASS = "mixvote.Group"
GENERATOR_LABEL = b"generators"

#: Verificatum curve names that are aliases of a canonical name.
_ALIASES = {"prime256v1": "P-256", "secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}

_IDENT = re.compile(r"[A-Za-z0-9]+")


def hash_function(name: str) -> Callable[..., Any]:
    """The hashlib constructor of a Verificatum hash name: ``SHA-256``, ``SHA-384``, ``SHA-512``."""
    try:
        return HASHES[name]
    except KeyError:
        raise ValueError(
            f"unsupported hash function {name!r}; use one of {sorted(HASHES)}"
        ) from None


def int32(n: int) -> bytes:
    """4-byte big-endian two's-complement integer."""
    return n.to_bytes(4, "big", signed=True)


# --- PRG and random oracle (§2.2, §2.3) ----------------------------------------------------------
class PRG:
    """VMN's ``PRGHeuristic``: the stream ``H(state || int32(0)) || H(state || int32(1)) || ...``.

    The state is the seed folded (XOR) into ``L`` bytes, ``L`` the hash output length; the seed
    must be at least ``L`` bytes. Bytes are consumed sequentially across calls.
    """

    def __init__(self, seed: bytes, hash_name: str = "SHA-256") -> None:
        self._h = hash_function(hash_name)
        size = self._h().digest_size
        if len(seed) < size:
            raise ValueError(f"PRG: the seed must be at least {size} bytes, got {len(seed)}")
        state = bytearray(size)
        for i, byte in enumerate(seed):
            state[i % size] ^= byte
        self._state = bytes(state)
        self._counter = 0
        self._buffer = b""

    def read(self, n: int) -> bytes:
        """The next ``n`` bytes of the stream."""
        chunks = [self._buffer]
        have = len(self._buffer)
        h, state = self._h, self._state
        while have < n:
            block = h(state + int32(self._counter)).digest()
            self._counter += 1
            chunks.append(block)
            have += len(block)
        data = b"".join(chunks)
        self._buffer = data[n:]
        return data[:n]

    def unread(self, data: bytes) -> None:
        """Push back bytes just read, so that they are the next ones returned."""
        self._buffer = bytes(data) + self._buffer

    def integer(self, bits: int) -> int:
        """A random ``bits``-bit integer (§2.4): ``ceil(bits/8)`` bytes, top bits cleared."""
        nbytes = (bits + 7) // 8
        return int.from_bytes(self.read(nbytes), "big") & ((1 << bits) - 1)

    def integers(self, count: int, bits: int) -> list[int]:
        """``count`` successive ``bits``-bit integers."""
        nbytes = (bits + 7) // 8
        mask = (1 << bits) - 1
        raw = self.read(nbytes * count)
        return [
            int.from_bytes(raw[i : i + nbytes], "big") & mask for i in range(0, len(raw), nbytes)
        ]


def random_oracle(parts: Iterable[bytes], nbits: int, hash_name: str = "SHA-256") -> bytes:
    """``RO_n(data)`` with ``data`` the concatenation of ``parts`` (§2.3).

    ``d = H(int32(n) || data)`` seeds the PRG, ``ceil(n/8)`` bytes are taken, and the top bits of
    the first byte are cleared so that exactly ``n`` bits remain.
    """
    h = hash_function(hash_name)()
    h.update(int32(nbits))
    for part in parts:
        h.update(part)
    nbytes = (nbits + 7) // 8
    out = PRG(h.digest(), hash_name).read(nbytes)
    if nbits % 8:
        out = bytes([out[0] & ((1 << (nbits % 8)) - 1)]) + out[1:]
    return out


# --- groups, ρ, generators (§3, §4) --------------------------------------------------------------
def verificatum_name(group: Group) -> str | None:
    """The curve name Verificatum uses for ``group``, or None when Verificatum does not know it."""
    name = getattr(group, "verificatum_name", None)
    return name if isinstance(name, str) else None


def group_string(group: Group) -> str:
    """The protInfo ``<pgroup>`` string of ``group`` (§3), human prefix included."""
    name = verificatum_name(group)
    if name is not None:
        tree = node_bytes([leaf_bytes(ECQ_CLASS.encode()), leaf_bytes(name.encode())])
        return f"ECqPGroup({name})::{tree.hex()}"
    tree = node_bytes([leaf_bytes(MIXVOTE_CLASS.encode()), leaf_bytes(group.name.encode())])
    return f"mixvote({group.name})::{tree.hex()}"


def group_from_string(pgroup: str) -> Group:
    """The registry group a pgroup string names (strict; the hex part after the last ``::``)."""
    from crypto.groups import GROUPS, group

    if "::" not in pgroup:
        raise MalformedInput(f"pgroup: no '::' separator in {pgroup[:60]!r}")
    hex_part = pgroup.rsplit("::", 1)[1]
    try:
        raw = bytes.fromhex(hex_part)
    except ValueError:
        raise MalformedInput("pgroup: the part after '::' is not hex") from None
    parts = expect_node(bytetree.decode(raw, "pgroup"), "pgroup", 2)
    cls = expect_leaf(parts[0], "pgroup class").decode("ascii", "replace")
    name = expect_leaf(parts[1], "pgroup name").decode("ascii", "replace")
    if cls == MIXVOTE_CLASS:
        if name not in GROUPS:
            raise MalformedInput(f"pgroup: unknown mixvote group {name!r}")
        return group(name)
    if cls != ECQ_CLASS:
        raise MalformedInput(f"pgroup: unsupported group class {cls!r}")
    canonical = _ALIASES.get(name, name)
    # Prefer the registry entry named like the curve (the fast backend), then any that claims it.
    candidates = [canonical] + [g for g in GROUPS if g != canonical]
    for candidate in candidates:
        if candidate not in GROUPS:
            continue
        g = group(candidate)
        if verificatum_name(g) in (name, canonical):
            return g
    raise MalformedInput(f"pgroup: curve {name!r} is not available in mixvote")


def validate_identifier(value: str, what: str) -> str:
    """Session identifiers are ``[A-Za-z0-9]+`` (VMN rejects anything else); raise ValueError."""
    if not isinstance(value, str) or not _IDENT.fullmatch(value):
        raise ValueError(f"{what} must be non-empty and contain only A-Z, a-z, 0-9, got {value!r}")
    return value


def compute_rho(
    *,
    version: str,
    sid: str,
    auxsid: str,
    statdist: int,
    vbitlenro: int,
    ebitlenro: int,
    prg: str,
    pgroup: str,
    rohash: str,
) -> bytes:
    """The prefix ρ (``der.rho``, §3): plain SHA-256 of the byte tree of the protocol parameters."""
    tree = node_bytes(
        [
            leaf_bytes(version.encode()),
            leaf_bytes(f"{sid}.{auxsid}".encode()),
            leaf_bytes(int32(statdist)),
            leaf_bytes(int32(vbitlenro)),
            leaf_bytes(int32(ebitlenro)),
            leaf_bytes(prg.encode()),
            leaf_bytes(pgroup.encode()),
            leaf_bytes(rohash.encode()),
        ]
    )
    return hashlib.sha256(tree).digest()


def generator_coordinates(
    p: int, a: int, b: int, rho: bytes, n: int, statdist: int, rohash: str = "SHA-256"
) -> list[tuple[int, int]]:
    """Affine coordinates of ``h_0..h_{n-1}`` on ``y² = x³ + ax + b`` over F_p (§4).

    ``seed = RO_256(ρ || leaf("generators"))`` seeds the PRG of ``rohash``; candidates are
    ``(bitlen(p) + statdist)``-bit integers mod p; a candidate is kept iff ``x³ + ax + b`` is a
    non-zero square, with the smaller of its two roots.
    """
    digest = hash_function(rohash)().digest_size
    seed = random_oracle([rho, leaf_bytes(GENERATOR_LABEL)], 8 * digest, rohash)
    prg = PRG(seed, rohash)
    bits = p.bit_length() + statdist
    nbytes = (bits + 7) // 8
    mask = (1 << bits) - 1
    mp = gmpy2.mpz(p)
    exp = (p + 1) // 4 if p % 4 == 3 else None
    legendre, powmod = gmpy2.legendre, gmpy2.powmod
    out: list[tuple[int, int]] = []
    while len(out) < n:
        # Candidates are accepted about half of the time: draw in batches, consume in order.
        want = 2 * (n - len(out)) + 8
        raw = prg.read(nbytes * want)
        for off in range(0, len(raw), nbytes):
            x = (int.from_bytes(raw[off : off + nbytes], "big") & mask) % p
            f = (x * x * x + a * x + b) % mp
            if legendre(f, mp) != 1:
                continue
            y = int(powmod(f, exp, mp)) if exp is not None else sqrt_mod(int(f), p)
            assert y is not None
            out.append((x, min(y, p - y)))
            if len(out) == n:
                # Give back the unread candidates so the stream position stays exact.
                prg.unread(raw[off + nbytes :])
                break
    return out


def generators(
    group: Group, rho: bytes, n: int, statdist: int = 100, rohash: str = "SHA-256"
) -> list[Element]:
    """The independent generators ``h_0..h_{n-1}`` of the session with prefix ``rho`` (§4)."""
    if n < 0:
        raise ValueError("generators: n must be non-negative")
    if verificatum_name(group) is None:
        return [group.hash_to_element("verificatum-generators", rho + int32(i)) for i in range(n)]
    p, a, b = group.field_prime, group.a, group.b  # type: ignore[attr-defined]
    from_affine = group.from_affine  # type: ignore[attr-defined]
    return [from_affine(x, y) for x, y in generator_coordinates(p, a, b, rho, n, statdist, rohash)]


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


def encode_point_array(group: Group, elements: Sequence[Element]) -> bytes:
    """Serialised node of points (e.g. ``PermutationCommitmentNN.bt``)."""
    return codec(group).array(elements)


def decode_point_array(
    group: Group,
    data: bytes,
    what: str = "point array",
    *,
    n: int | None = None,
    allow_identity: bool = False,
) -> list[Element]:
    """Strict parse of a serialised node of points (``n`` of them, if given)."""
    return codec(group).decode_array(bytetree.decode(data, what), what, n, allow_identity)


def decode_public_key(group: Group, data: bytes) -> PublicKey:
    """Strict parse of ``FullPublicKey.bt``: the first component must be the standard generator."""
    c = codec(group)
    parts = expect_node(bytetree.decode(data, "public key"), "public key", 2)
    g = c.decode_point(parts[0], "public key g")
    if g != group.generator:
        raise InvalidElement("public key: first component is not the standard generator")
    y = c.decode_point(parts[1], "public key y")
    return PublicKey(group, y)


# --- protInfo.xml (§6.2) -------------------------------------------------------------------------
@dataclass(frozen=True)
class ProtInfo:
    """The fields of ``protInfo.xml`` that a verifier of shuffles uses."""

    version: str
    sid: str
    nopart: int
    statdist: int
    thres: int
    pgroup: str
    keywidth: int
    vbitlenro: int
    ebitlenro: int
    prg: str
    rohash: str
    width: int


_INT_FIELDS = ("nopart", "statdist", "thres", "keywidth", "vbitlenro", "ebitlenro", "width")
_STR_FIELDS = ("version", "sid", "pgroup", "prg", "rohash")


def parse_protinfo(xml_text: str) -> ProtInfo:
    """Parse the text of a ``protInfo.xml`` (strict: every used field present, integers valid).

    Documents with a DOCTYPE are refused, so no entity expansion can happen.
    """
    if "<!DOCTYPE" in xml_text or "<!ENTITY" in xml_text:
        raise MalformedInput("protInfo: DOCTYPE/ENTITY declarations are not allowed")
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise MalformedInput(f"protInfo: not well-formed XML ({exc})") from None
    if root.tag != "protocol":
        raise MalformedInput(f"protInfo: root element is <{root.tag}>, expected <protocol>")
    values: dict[str, Any] = {}
    for name in _STR_FIELDS + _INT_FIELDS:
        found = root.findall(name)
        if len(found) != 1:
            raise MalformedInput(f"protInfo: expected one <{name}>, found {len(found)}")
        text = (found[0].text or "").strip()
        if name in _INT_FIELDS:
            if not re.fullmatch(r"[0-9]{1,9}", text):
                raise MalformedInput(f"protInfo: <{name}> is not a non-negative integer: {text!r}")
            values[name] = int(text)
        else:
            if not text:
                raise MalformedInput(f"protInfo: <{name}> is empty")
            values[name] = text
    parties = root.findall("party")
    if len(parties) != values["nopart"]:
        raise MalformedInput(
            f"protInfo: <nopart> is {values['nopart']} but there are {len(parties)} <party> blocks"
        )
    if values["width"] < 1 or values["keywidth"] != 1:
        raise MalformedInput("protInfo: width must be >= 1 and keywidth must be 1")
    return ProtInfo(**values)
