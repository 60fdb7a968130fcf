"""secp256k1 on libsecp256k1 (through coincurve's cffi bindings): the fast default group.

Elements are the 64-byte ``secp256k1_pubkey`` structs of the library (canonical in memory: the
library stores normalised affine coordinates), and ``b""`` for the identity, which the library's
public-key type cannot hold. Every operation that could produce or consume the identity is guarded
here, so the library is never handed an invalid struct. Scalar multiplication in libsecp256k1 is
constant time. The wire encoding is SEC1 compressed (33 bytes); the identity is 33 zero bytes.
"""

from __future__ import annotations

import contextvars
from collections.abc import Sequence

from coincurve._libsecp256k1 import ffi, lib
from coincurve.context import GLOBAL_CONTEXT

from crypto.errors import InvalidElement
from crypto.groups.base import Element, Group
from crypto.groups.weierstrass import embed_x, extract_x, hash_to_x

_IDENTITY = Element(b"")  # the point at infinity

P = 2**256 - 2**32 - 977
Q = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
GX = 0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798

_CTX = GLOBAL_CONTEXT.ctx
_COMPRESSED = lib.SECP256K1_EC_COMPRESSED
_ZERO33 = bytes(33)


class _Scratch:
    """Per-thread C buffers: the group object is shared by the threads of a server (Flask views,
    ballot checks), and one set of buffers shared between them would mix up their operands."""

    __slots__ = ("buf", "buf2", "out", "pair", "ser", "serlen")

    def __init__(self) -> None:
        self.buf = ffi.new("secp256k1_pubkey *")
        self.buf2 = ffi.new("secp256k1_pubkey *")
        self.out = ffi.new("secp256k1_pubkey *")
        self.pair = ffi.new("secp256k1_pubkey *[2]", [self.buf, self.buf2])
        self.ser = ffi.new("unsigned char[33]")
        self.serlen = ffi.new("size_t *")


# One set of scratch buffers per thread (each thread has its own context), so concurrent callers
# never share a buffer; a context variable keeps the pure ring free of the threading module.
_SCRATCH: contextvars.ContextVar[_Scratch | None] = contextvars.ContextVar(
    "secp256k1_scratch", default=None
)


def _scratch() -> _Scratch:
    scratch = _SCRATCH.get()
    if scratch is None:
        scratch = _Scratch()
        _SCRATCH.set(scratch)
    return scratch


class Secp256k1(Group):
    """secp256k1 (SEC 2), cofactor 1, on libsecp256k1."""

    name = "secp256k1"
    order = Q
    field_prime = P
    a = 0
    b = 7
    element_size = 33
    scalar_size = 32
    embed_capacity = 30
    identity: Element = _IDENTITY
    verificatum_name: str | None = "secp256k1"

    def __init__(self) -> None:
        self.generator = self.base_mul(1)

    # --- primitives ---------------------------------------------------------------------------
    def add(self, a: Element, b: Element) -> Element:
        sc = _scratch()
        if not a:
            return b
        if not b:
            return a
        ffi.memmove(sc.buf, a, 64)
        ffi.memmove(sc.buf2, b, 64)
        if not lib.secp256k1_ec_pubkey_combine(_CTX, sc.out, sc.pair, 2):
            return _IDENTITY  # a + b is the point at infinity
        return Element(bytes(ffi.buffer(sc.out, 64)))

    def neg(self, a: Element) -> Element:
        sc = _scratch()
        if not a:
            return a
        ffi.memmove(sc.buf, a, 64)
        lib.secp256k1_ec_pubkey_negate(_CTX, sc.buf)
        return Element(bytes(ffi.buffer(sc.buf, 64)))

    def mul(self, a: Element, k: int) -> Element:
        sc = _scratch()
        k %= Q
        if not k or not a:
            return _IDENTITY
        ffi.memmove(sc.buf, a, 64)
        lib.secp256k1_ec_pubkey_tweak_mul(_CTX, sc.buf, k.to_bytes(32, "big"))
        return Element(bytes(ffi.buffer(sc.buf, 64)))

    def base_mul(self, k: int) -> Element:
        sc = _scratch()
        k %= Q
        if not k:
            return _IDENTITY
        lib.secp256k1_ec_pubkey_create(_CTX, sc.buf, k.to_bytes(32, "big"))
        return Element(bytes(ffi.buffer(sc.buf, 64)))

    def encode(self, a: Element) -> bytes:
        sc = _scratch()
        if not a:
            return _ZERO33
        ffi.memmove(sc.buf, a, 64)
        sc.serlen[0] = 33
        lib.secp256k1_ec_pubkey_serialize(_CTX, sc.ser, sc.serlen, sc.buf, _COMPRESSED)
        return bytes(sc.ser)

    def _decode(self, data: bytes) -> Element:
        sc = _scratch()
        if data == _ZERO33:
            return _IDENTITY
        if data[0] not in (2, 3):
            raise InvalidElement("secp256k1: not a compressed point (prefix must be 02 or 03)")
        if not lib.secp256k1_ec_pubkey_parse(_CTX, sc.buf, data, 33):
            raise InvalidElement("secp256k1: x is not below p or not on the curve")
        return Element(bytes(ffi.buffer(sc.buf, 64)))

    def hash_to_element(self, dst: str, data: bytes) -> Element:
        return self._decode(b"\x02" + hash_to_x(self, dst, data).to_bytes(32, "big"))

    def embed(self, payload: bytes) -> Element:
        return self._decode(b"\x02" + embed_x(self, payload).to_bytes(32, "big"))

    def extract(self, a: Element) -> bytes:
        enc = self.encode(a)
        if enc[0] != 2:
            raise InvalidElement("secp256k1: element is not an embedding (odd y)")
        return extract_x(self, int.from_bytes(enc[1:], "big"))

    # --- affine coordinates (for the Verificatum byte-tree encoding) ------------------------------
    def to_affine(self, a: Element) -> tuple[int, int] | None:
        """(x, y), or None for the identity."""
        sc = _scratch()
        if not a:
            return None
        ffi.memmove(sc.buf, a, 64)
        out = ffi.new("unsigned char[65]")
        sc.serlen[0] = 65
        lib.secp256k1_ec_pubkey_serialize(
            _CTX, out, sc.serlen, sc.buf, lib.SECP256K1_EC_UNCOMPRESSED
        )
        raw = bytes(out)
        return int.from_bytes(raw[1:33], "big"), int.from_bytes(raw[33:], "big")

    def from_affine(self, x: int, y: int) -> Element:
        """Validated element from affine coordinates (raises InvalidElement)."""
        sc = _scratch()
        if not (0 <= x < P and 0 <= y < P):
            raise InvalidElement("secp256k1: coordinate not below p")
        raw = b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")
        if not lib.secp256k1_ec_pubkey_parse(_CTX, sc.buf, raw, 65):
            raise InvalidElement("secp256k1: point is not on the curve")
        return Element(bytes(ffi.buffer(sc.buf, 64)))

    # --- batch operations (the hot paths) -------------------------------------------------------
    def batch_mul(self, elements: Sequence[Element], scalars: Sequence[int]) -> list[Element]:
        sc = _scratch()
        if len(elements) != len(scalars):
            raise ValueError("batch_mul: elements and scalars differ in length")
        buf, memmove, buffer = sc.buf, ffi.memmove, ffi.buffer
        tweak = lib.secp256k1_ec_pubkey_tweak_mul
        out: list[Element] = []
        append = out.append
        for p, k in zip(elements, scalars, strict=True):
            k %= Q
            if not k or not p:
                append(_IDENTITY)
                continue
            memmove(buf, p, 64)
            tweak(_CTX, buf, k.to_bytes(32, "big"))
            append(buffer(buf, 64)[:])
        return out

    def batch_mul_fixed(self, element: Element, scalars: Sequence[int]) -> list[Element]:
        return self.batch_mul([element] * len(scalars), scalars)

    def batch_base_mul(self, scalars: Sequence[int]) -> list[Element]:
        sc = _scratch()
        buf, create, buffer = sc.buf, lib.secp256k1_ec_pubkey_create, ffi.buffer
        out: list[Element] = []
        append = out.append
        for k in scalars:
            k %= Q
            if not k:
                append(_IDENTITY)
                continue
            create(_CTX, buf, k.to_bytes(32, "big"))
            append(buffer(buf, 64)[:])
        return out

    def batch_add(self, a: Sequence[Element], b: Sequence[Element]) -> list[Element]:
        sc = _scratch()
        if len(a) != len(b):
            raise ValueError("batch_add: sequences differ in length")
        buf, buf2, out_p, pair = sc.buf, sc.buf2, sc.out, sc.pair
        memmove, combine, buffer = ffi.memmove, lib.secp256k1_ec_pubkey_combine, ffi.buffer
        out: list[Element] = []
        append = out.append
        for x, y in zip(a, b, strict=True):
            if not x:
                append(y)
            elif not y:
                append(x)
            else:
                memmove(buf, x, 64)
                memmove(buf2, y, 64)
                ok = combine(_CTX, out_p, pair, 2)
                append(Element(buffer(out_p, 64)[:]) if ok else _IDENTITY)
        return out

    def sum(self, elements: Sequence[Element]) -> Element:
        sc = _scratch()
        present = [e for e in elements if e]
        if not present:
            return _IDENTITY
        if len(present) == 1:
            return present[0]
        # One library call: the sum is accumulated in Jacobian coordinates, normalised once.
        structs = ffi.new("secp256k1_pubkey[]", len(present))
        for i, e in enumerate(present):
            ffi.memmove(structs + i, e, 64)
        ptrs = ffi.new("secp256k1_pubkey *[]", [structs + i for i in range(len(present))])
        if not lib.secp256k1_ec_pubkey_combine(_CTX, sc.out, ptrs, len(present)):
            return _IDENTITY
        return Element(bytes(ffi.buffer(sc.out, 64)))

    def multi_mul(self, elements: Sequence[Element], scalars: Sequence[int]) -> Element:
        return self.sum(self.batch_mul(elements, scalars))

    def batch_encode(self, elements: Sequence[Element]) -> list[bytes]:
        sc = _scratch()
        buf, ser, serlen = sc.buf, sc.ser, sc.serlen
        memmove, serialize = ffi.memmove, lib.secp256k1_ec_pubkey_serialize
        out: list[bytes] = []
        append = out.append
        for e in elements:
            if not e:
                append(_ZERO33)
                continue
            memmove(buf, e, 64)
            serlen[0] = 33
            serialize(_CTX, ser, serlen, buf, _COMPRESSED)
            append(bytes(ser))
        return out

    def batch_decode(
        self, encodings: Sequence[bytes], *, allow_identity: bool = False
    ) -> list[Element]:
        sc = _scratch()
        buf, parse, buffer = sc.buf, lib.secp256k1_ec_pubkey_parse, ffi.buffer
        out: list[Element] = []
        append = out.append
        for i, d in enumerate(encodings):
            if len(d) != 33:
                raise InvalidElement(f"secp256k1: element {i} must be 33 bytes, got {len(d)}")
            if d[0] in (2, 3) and parse(_CTX, buf, d, 33):
                append(buffer(buf, 64)[:])
            elif d == _ZERO33 and allow_identity:
                append(_IDENTITY)
            elif d == _ZERO33:
                raise InvalidElement(f"secp256k1: element {i} is the identity, not allowed here")
            else:
                raise InvalidElement(f"secp256k1: element {i} is not a valid compressed point")
        return out
