"""Groups on mixvote's native core (the Rust extension ``mixvote_native``, built from ``native/``).

The extension owns the loops; this module owns the types, the validation policy and the error
messages, exactly as pyca/cryptography splits Python and Rust. Every call carries whole columns:
concatenated fixed-width encodings in, concatenated fixed-width encodings out.

Curve arithmetic is that of maintained crates (see ``native/README.md`` for the measurements that
chose them): RustCrypto ``k256``/``p256``/``p384`` for constant-time multiplication and SEC1
decoding of the short-Weierstrass curves, arkworks' Pippenger for their variable-time
multi-scalar multiplication, and ``curve25519-dalek`` for ristretto255.

Byte-identical with the reference backends: the wire encodings (SEC1 compressed with the all-zero
identity; the RFC 9496 encoding), ``hash_to_element``, ``embed``/``extract`` and the scalar
encodings are the same functions of the same group elements; ``tests/unit/test_native_groups.py``
holds them equal. Only the opaque internal form may differ:

* secp256k1, P-256, P-384: ``x || y`` (big-endian, fixed width) and all zeros for the identity
  (no curve point has x = y = 0, as b ≠ 0), the same form as :mod:`crypto.groups.ecdsa_ref`
  except for the identity;
* ristretto255: the canonical 32-byte encoding, as in :mod:`crypto.groups.ristretto255`.

Multiplications are constant time in the scalar (``mul``, ``base_mul``, the ``batch_*``
multiplications, ``reencrypt_many``, ``multi_mul``); ``vartime_msm`` is variable time and meant
for public scalars and points (verification). ``set_threads`` sets the size of the native thread
pool every call uses (default 1: the project spreads work over processes itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any

from crypto.errors import InvalidElement
from crypto.groups.base import Element, Group
from crypto.groups.ecdsa_ref import P256, P384, Secp256k1Ref, WeierstrassAttributes, _CurveView
from crypto.groups.weierstrass import embed_x, extract_x, hash_to_x
from crypto.hashing import hash_bytes

_native: ModuleType | None
try:
    import mixvote_native as _native_module

    _native = _native_module
    IMPORT_ERROR: str | None = None
except ImportError as exc:  # no Rust toolchain at install time: the reference backends serve
    _native = None
    IMPORT_ERROR = str(exc)

AVAILABLE: bool = _native is not None
"""Whether the extension imported (the registry then makes these groups the default)."""

_threads = 1


def set_threads(n: int) -> None:
    """Threads of the native pool used by every later call (1 = run on one core)."""
    global _threads
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 1024:
        raise ValueError(f"set_threads: n must be an int in 1..1024, got {n!r}")
    _threads = n


def get_threads() -> int:
    """The current size of the native thread pool."""
    return _threads


def describe() -> str:
    """One line naming the native core, or why it is absent."""
    if _native is None:
        return f"reference (mixvote_native not importable: {IMPORT_ERROR})"
    version = getattr(_native, "__version__", "?")
    crates = getattr(_native, "CRATES", "")
    return f"native (mixvote_native {version}, rust: {crates})"


def _lib() -> Any:
    if _native is None:
        raise ImportError(
            "mixvote_native is not installed; build it with ./dev install "
            f"(needs cargo) or `pip install ./native` ({IMPORT_ERROR})"
        )
    return _native


def _split(blob: bytes, width: int) -> list[Element]:
    return [Element(blob[i : i + width]) for i in range(0, len(blob), width)]


class _NativeGroup(Group):
    """The parts every native group shares: column conversion and the batch calls."""

    backend = "native"
    curve: str
    _elem: int

    def __init__(self) -> None:
        self._lib = _lib()
        self._elem, wire, scalar = self._lib.sizes(self.curve)
        if (wire, scalar) != (self.element_size, self.scalar_size):
            raise RuntimeError(f"{self.name}: native sizes {wire}/{scalar} do not match")
        self.identity = Element(bytes(self._elem))
        self.generator = self.base_mul(1)

    # --- column helpers ---------------------------------------------------------------------
    def _column(self, elements: Sequence[Element]) -> bytes:
        blob = b"".join(elements)
        if len(blob) != self._elem * len(elements):
            raise ValueError(f"{self.name}: an element is not in this backend's internal form")
        return blob

    def _scalars(self, scalars: Sequence[int]) -> bytes:
        q, size = self.order, self.scalar_size
        return b"".join((k % q).to_bytes(size, "big") for k in scalars)

    def _decode_blob(self, blob: bytes, allow_identity: bool) -> bytes:
        try:
            out: bytes = self._lib.decode_many(self.curve, blob, allow_identity, _threads)
        except self._lib.DecodeError as exc:
            index, reason = exc.args
            raise InvalidElement(f"{self.name}: element {index}: {reason}") from None
        return out

    # --- primitives ---------------------------------------------------------------------------
    def add(self, a: Element, b: Element) -> Element:
        out: bytes = self._lib.add_many(self.curve, self._column([a]), self._column([b]), 1)
        return Element(out)

    def neg(self, a: Element) -> Element:
        out: bytes = self._lib.neg_many(self.curve, self._column([a]), 1)
        return Element(out)

    def mul(self, a: Element, k: int) -> Element:
        """k·a, constant time in k."""
        out: bytes = self._lib.mul_many(self.curve, self._column([a]), self._scalars([k]), 1)
        return Element(out)

    def base_mul(self, k: int) -> Element:
        """k·g, constant time in k."""
        out: bytes = self._lib.base_mul_many(self.curve, self._scalars([k]), 1)
        return Element(out)

    def encode(self, a: Element) -> bytes:
        out: bytes = self._lib.encode_many(self.curve, self._column([a]))
        return out

    def _decode(self, data: bytes) -> Element:
        return Element(self._decode_blob(bytes(data), True))

    def decode(self, data: bytes, *, allow_identity: bool = False) -> Element:
        self._check_encoding(data)
        try:
            out: bytes = self._lib.decode_many(self.curve, bytes(data), allow_identity, 1)
        except self._lib.DecodeError as exc:
            raise InvalidElement(f"{self.name}: {exc.args[1]}") from None
        return Element(out)

    # --- batch operations ---------------------------------------------------------------------
    def batch_add(self, a: Sequence[Element], b: Sequence[Element]) -> list[Element]:
        if len(a) != len(b):
            raise ValueError("batch_add: sequences differ in length")
        blob = self._lib.add_many(self.curve, self._column(a), self._column(b), _threads)
        return _split(blob, self._elem)

    def batch_mul(self, elements: Sequence[Element], scalars: Sequence[int]) -> list[Element]:
        if len(elements) != len(scalars):
            raise ValueError("batch_mul: elements and scalars differ in length")
        blob = self._lib.mul_many(
            self.curve, self._column(elements), self._scalars(scalars), _threads
        )
        return _split(blob, self._elem)

    def batch_mul_fixed(self, element: Element, scalars: Sequence[int]) -> list[Element]:
        blob = self._lib.mul_fixed_many(
            self.curve, self._column([element]), self._scalars(scalars), _threads
        )
        return _split(blob, self._elem)

    def batch_base_mul(self, scalars: Sequence[int]) -> list[Element]:
        blob = self._lib.base_mul_many(self.curve, self._scalars(scalars), _threads)
        return _split(blob, self._elem)

    def sum(self, elements: Sequence[Element]) -> Element:
        out: bytes = self._lib.sum(self.curve, self._column(elements), _threads)
        return Element(out)

    def multi_mul(self, elements: Sequence[Element], scalars: Sequence[int]) -> Element:
        """Σ k_i·P_i, constant time in the scalars (one multiplication per term)."""
        if len(elements) != len(scalars):
            raise ValueError("multi_mul: elements and scalars differ in length")
        products = self._lib.mul_many(
            self.curve, self._column(elements), self._scalars(scalars), _threads
        )
        out: bytes = self._lib.sum(self.curve, products, _threads)
        return Element(out)

    def vartime_msm(self, elements: Sequence[Element], scalars: Sequence[int]) -> Element:
        """Σ k_i·P_i by a multi-scalar multiplication (Pippenger/Straus): variable time, for
        public points and scalars only."""
        if len(elements) != len(scalars):
            raise ValueError("vartime_msm: elements and scalars differ in length")
        out: bytes = self._lib.vartime_msm(
            self.curve, self._column(elements), self._scalars(scalars), _threads
        )
        return Element(out)

    def reencrypt_many(
        self, y: Element, alphas: Sequence[Element], betas: Sequence[Element], rs: Sequence[int]
    ) -> tuple[list[Element], list[Element]]:
        if not len(alphas) == len(betas) == len(rs):
            raise ValueError("reencrypt_many: alphas, betas and rs differ in length")
        a, b = self._lib.reencrypt_many(
            self.curve,
            self._column([y]),
            self._column(alphas),
            self._column(betas),
            self._scalars(rs),
            _threads,
        )
        return _split(a, self._elem), _split(b, self._elem)

    def batch_encode(self, elements: Sequence[Element]) -> list[bytes]:
        blob, size = self.encode_many(elements), self.element_size
        return [blob[i : i + size] for i in range(0, len(blob), size)]

    def encode_many(self, elements: Sequence[Element]) -> bytes:
        out: bytes = self._lib.encode_many(self.curve, self._column(elements))
        return out

    def batch_decode(
        self, encodings: Sequence[bytes], *, allow_identity: bool = False
    ) -> list[Element]:
        size = self.element_size
        for i, d in enumerate(encodings):
            if not isinstance(d, (bytes, bytearray)) or len(d) != size:
                raise InvalidElement(f"{self.name}: element {i} must be {size} bytes")
        return self.decode_many(b"".join(encodings), allow_identity=allow_identity)

    def decode_many(self, data: bytes, *, allow_identity: bool = False) -> list[Element]:
        self._check_column(data)
        return _split(self._decode_blob(bytes(data), allow_identity), self._elem)


class _NativeWeierstrass(_NativeGroup, WeierstrassAttributes):
    """A prime-order short-Weierstrass curve (cofactor 1) on the native core; the parameters,
    hashing and embedding are those of the python-ecdsa reference class ``reference``."""

    reference: type[Secp256k1Ref] | type[P256] | type[P384]

    def __init__(self) -> None:
        prm = self.reference.params
        prm.apply_to(self)
        self.embed_capacity = self._fb - 2
        self._view = _CurveView(prm.curve_name, prm.p, prm.a, prm.b, self.embed_capacity)
        super().__init__()

    def _even_y(self, x: int) -> Element:
        return Element(self._decode_blob(b"\x02" + x.to_bytes(self._fb, "big"), False))

    def hash_to_element(self, dst: str, data: bytes) -> Element:
        return self._even_y(hash_to_x(self._view, dst, data))

    def embed(self, payload: bytes) -> Element:
        return self._even_y(embed_x(self._view, payload))

    def extract(self, a: Element) -> bytes:
        if a == self.identity or a[-1] & 1:
            raise InvalidElement(f"{self.name}: element is not an embedding (odd y or identity)")
        return extract_x(self._view, int.from_bytes(a[: self._fb], "big"))  # the first counter

    # --- affine coordinates (for the Verificatum byte-tree encoding) ------------------------------
    def affine_trees(
        self,
        elements: Sequence[Element],
        point_head: bytes,
        coord_head: bytes,
        coord_size: int,
        infinity: bytes,
    ) -> bytes:
        """The concatenated byte trees ``point_head || X || coord_head || Y`` of a column, the
        coordinates big-endian in ``coord_size`` bytes, and ``infinity`` for the identity: what
        :meth:`crypto.verificatum.Codec.points` gives, in one native call."""
        if not isinstance(coord_size, int) or coord_size < self._fb:
            raise ValueError(f"affine_trees: coord_size must be at least {self._fb}")
        pad = coord_size - self._fb
        out: bytes = self._lib.affine_trees(
            self._column(elements), self._fb, point_head, coord_head, pad, infinity
        )
        return out

    def points_from_trees(
        self, data: bytes, point_head: bytes, coord_head: bytes, coord_size: int
    ) -> list[Element]:
        """The inverse of :meth:`affine_trees` on well-formed input: a column of concatenated
        affine-point byte trees with exactly these heads becomes validated elements (on the
        curve, not the identity) in one native call; InvalidElement names the first bad index.
        Anything unusual (another layout, the point at infinity) is refused, not interpreted."""
        if not isinstance(coord_size, int) or coord_size < self._fb:
            raise ValueError(f"points_from_trees: coord_size must be at least {self._fb}")
        try:
            blob = self._lib.points_from_trees(
                self.curve, bytes(data), self._fb, point_head, coord_head,
                coord_size - self._fb, _threads,
            )
        except self._lib.DecodeError as exc:
            index, reason = exc.args
            raise InvalidElement(f"{self.name}: element {index}: {reason}") from None
        return _split(blob, self._elem)

    def to_affine(self, a: Element) -> tuple[int, int] | None:
        """(x, y), or None for the identity."""
        if a == self.identity:
            return None
        fb = self._fb
        return int.from_bytes(a[:fb], "big"), int.from_bytes(a[fb:], "big")

    def from_affine(self, x: int, y: int) -> Element:
        """Validated element from affine coordinates (raises InvalidElement)."""
        p, fb = self.field_prime, self._fb
        if not (0 <= x < p and 0 <= y < p):
            raise InvalidElement(f"{self.name}: coordinate not below p")
        try:
            element = self._decode_blob(bytes([2 | (y & 1)]) + x.to_bytes(fb, "big"), False)
        except InvalidElement:
            raise InvalidElement(f"{self.name}: point is not on the curve") from None
        if int.from_bytes(element[fb:], "big") != y:
            raise InvalidElement(f"{self.name}: point is not on the curve")
        return Element(element)


class Secp256k1Native(_NativeWeierstrass):
    """secp256k1 (SEC 2) on the native core (k256; arkworks MSM)."""

    curve = "secp256k1"
    reference = Secp256k1Ref

    def __init__(self) -> None:
        super().__init__()
        self.name = "secp256k1"  # Secp256k1Ref is registered as "secp256k1-ref"


class P256Native(_NativeWeierstrass):
    """NIST P-256 on the native core (p256; arkworks MSM)."""

    curve = "P-256"
    reference = P256


class P384Native(_NativeWeierstrass):
    """NIST P-384 on the native core (p384; arkworks MSM)."""

    curve = "P-384"
    reference = P384


RISTRETTO_EMBED_CAPACITY = 29


class Ristretto255Native(_NativeGroup):
    """ristretto255 (RFC 9496) on the native core (curve25519-dalek). Embedding and
    hash-to-element are those of :mod:`crypto.groups.ristretto255`."""

    curve = "ristretto255"
    name = "ristretto255"
    order = 2**252 + 27742317777372353535851937790883648493
    element_size = 32
    scalar_size = 32
    embed_capacity = RISTRETTO_EMBED_CAPACITY
    verificatum_name: str | None = None

    def _is_valid(self, candidate: bytes) -> bool:
        try:
            self._lib.decode_many(self.curve, candidate, False, 1)
        except self._lib.DecodeError:
            return False
        return True

    def hash_to_element(self, dst: str, data: bytes) -> Element:
        uniform = hash_bytes("hash-to-group/" + dst, data, size=64)
        out: bytes = self._lib.ristretto255_from_uniform_bytes(uniform)
        return Element(out)

    def embed(self, payload: bytes) -> Element:
        n, cap = len(payload), RISTRETTO_EMBED_CAPACITY
        if n > cap:
            raise ValueError(f"ristretto255: payload of {n} bytes exceeds capacity {cap}")
        tail = bytes([n]) + bytes(payload) + bytes(cap + 1 - n)
        for counter in range(128):
            candidate = bytes([counter << 1]) + tail
            if self._is_valid(candidate):
                return Element(candidate)
        raise ValueError("ristretto255: no embedding found for this payload")  # ~2**-53

    def extract(self, a: Element) -> bytes:
        n = a[1]
        if a == self.identity or a[0] & 1 or n > RISTRETTO_EMBED_CAPACITY or any(a[2 + n :]):
            raise InvalidElement("ristretto255: element is not an embedding")
        payload = bytes(a[2 : 2 + n])
        if self.embed(payload) != a:
            raise InvalidElement("ristretto255: not an embedding (a later counter)")
        return payload
