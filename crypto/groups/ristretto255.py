"""ristretto255 (RFC 9496, https://www.rfc-editor.org/rfc/rfc9496) on libsodium.

Elements are the 32-byte canonical ristretto255 encodings themselves (RFC 9496 §4.3.2), so the
internal form and the wire encoding coincide; the identity is 32 zero bytes. libsodium refuses a
zero scalar and reports an error when a product is the identity: both cases are handled here, so
the library is never asked for something it rejects. Scalars go to libsodium as 32-byte
little-endian integers reduced mod the group order
ℓ = 2**252 + 27742317777372353535851937790883648493.

Binding: pysodium's ctypes handle on Debian's libsodium23 (1.0.18), called directly; every call
(or batch) uses its own output buffer, so the backend is safe to share between threads.
Measured on this machine, one core (var-base / base mult / add per second): pysodium 14k-20k /
46k-58k / 56k-63k, rbcl 12k-20k / 39k-63k / 55k-73k: the same library, equal within noise;
pysodium is chosen because rbcl writes its bundled shared library to a temporary file at import,
which ``crypto/`` (no I/O) should not do.

Embedding of short byte strings (``embed``/``extract``), to be reproduced exactly by the browser
(e.g. with @noble/curves ``RistrettoPoint.fromHex``). For a payload m of n <= 29 bytes and a
counter c = 0, 1, ..., 127, the candidate 32-byte encoding is

    byte 0        = 2·c            (even, so the encoded field element is non-negative)
    byte 1        = n
    bytes 2..2+n  = m
    bytes 2+n..31 = 0              (so byte 31 = 0 < 0x80 and the value is below p = 2**255 - 19)

and the element is the first candidate that is a valid canonical ristretto255 encoding of a
non-identity element (the all-zero candidate, c = 0 with an empty payload, is the identity and is
skipped). About one candidate in four decodes, so 128 counters fail with probability ~2**-53 per
payload; ``embed`` raises ValueError in that case. ``extract`` reads the encoding back: byte 0
even, n = byte 1 <= 29, zero padding after the payload, and the first counter that gives a valid
element (so exactly the point ``embed`` makes), else InvalidElement. Capacity: 29 bytes.

``hash_to_element(dst, data)`` is RFC 9496 §4.3.4 (``crypto_core_ristretto255_from_hash``) over
64 bytes of ``crypto.hashing.hash_bytes("hash-to-group/" + dst, data, size=64)``.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence

import pysodium

from crypto.errors import InvalidElement
from crypto.groups.base import Element, Group
from crypto.hashing import hash_bytes

L = 2**252 + 27742317777372353535851937790883648493
EMBED_CAPACITY = 29
_ZERO = bytes(32)
_IDENTITY = Element(_ZERO)
_SODIUM = pysodium.sodium


def _buffer() -> ctypes.Array[ctypes.c_char]:
    return ctypes.create_string_buffer(32)


class Ristretto255(Group):
    """The prime-order group ristretto255 (RFC 9496), cofactor 1 by construction."""

    name = "ristretto255"
    order = L
    element_size = 32
    scalar_size = 32
    embed_capacity = EMBED_CAPACITY
    identity: Element = _IDENTITY
    verificatum_name: str | None = None

    def __init__(self) -> None:
        self._mul = _SODIUM.crypto_scalarmult_ristretto255
        self._base = _SODIUM.crypto_scalarmult_ristretto255_base
        self._add = _SODIUM.crypto_core_ristretto255_add
        self._sub = _SODIUM.crypto_core_ristretto255_sub
        self._valid = _SODIUM.crypto_core_ristretto255_is_valid_point
        self._from_hash = _SODIUM.crypto_core_ristretto255_from_hash
        self.generator = self.base_mul(1)

    # --- primitives ---------------------------------------------------------------------------
    def add(self, a: Element, b: Element) -> Element:
        if a == _ZERO:
            return b
        if b == _ZERO:
            return a
        out = _buffer()
        self._add(out, a, b)
        return Element(out.raw)

    def neg(self, a: Element) -> Element:
        return self.sub(_IDENTITY, a)

    def sub(self, a: Element, b: Element) -> Element:
        if b == _ZERO:
            return a
        out = _buffer()
        self._sub(out, a, b)
        return Element(out.raw)

    def mul(self, a: Element, k: int) -> Element:
        k %= L
        if not k or a == _ZERO:
            return _IDENTITY
        out = _buffer()
        if self._mul(out, k.to_bytes(32, "little"), a) != 0:
            # libsodium signals an identity result (impossible for a valid a and k != 0 mod ℓ)
            return _IDENTITY
        return Element(out.raw)

    def base_mul(self, k: int) -> Element:
        k %= L
        if not k:
            return _IDENTITY
        out = _buffer()
        if self._base(out, k.to_bytes(32, "little")) != 0:
            return _IDENTITY
        return Element(out.raw)

    def encode(self, a: Element) -> bytes:
        return a

    def equal(self, a: Element, b: Element) -> bool:
        return a == b  # the internal form is the canonical encoding

    def _decode(self, data: bytes) -> Element:
        if data == _ZERO:
            return _IDENTITY
        # libsodium 1.0.18 masks the top bit before its canonicity check, so 00…0080 would pass as
        # a second encoding; RFC 9496 §4.3.1 requires rejecting any s with the top bit set.
        if data[31] & 0x80 or self._valid(data) != 1:
            raise InvalidElement("ristretto255: not a canonical encoding of a group element")
        return Element(data)

    def hash_to_element(self, dst: str, data: bytes) -> Element:
        uniform = hash_bytes("hash-to-group/" + dst, data, size=64)
        out = _buffer()
        self._from_hash(out, uniform)
        return Element(out.raw)

    def embed(self, payload: bytes) -> Element:
        n = len(payload)
        if n > EMBED_CAPACITY:
            raise ValueError(
                f"ristretto255: payload of {n} bytes exceeds capacity {EMBED_CAPACITY}"
            )
        tail = bytes([n]) + bytes(payload) + bytes(EMBED_CAPACITY + 1 - n)
        for counter in range(128):
            candidate = bytes([counter << 1]) + tail
            if candidate != _ZERO and self._valid(candidate) == 1:
                return Element(candidate)
        raise ValueError("ristretto255: no embedding found for this payload")  # ~2**-53

    def extract(self, a: Element) -> bytes:
        n = a[1]
        if a == _ZERO or a[0] & 1 or n > EMBED_CAPACITY or any(a[2 + n :]):
            raise InvalidElement("ristretto255: element is not an embedding")
        payload = bytes(a[2 : 2 + n])
        if self.embed(payload) != a:
            raise InvalidElement("ristretto255: not an embedding (a later counter)")
        return payload

    # --- batch operations ---------------------------------------------------------------------
    def batch_mul(self, elements: Sequence[Element], scalars: Sequence[int]) -> list[Element]:
        if len(elements) != len(scalars):
            raise ValueError("batch_mul: elements and scalars differ in length")
        out_buf, mul = _buffer(), self._mul
        out: list[Element] = []
        append = out.append
        for p, k in zip(elements, scalars, strict=True):
            k %= L
            if not k or p == _ZERO or mul(out_buf, k.to_bytes(32, "little"), p) != 0:
                append(_IDENTITY)
            else:
                append(Element(out_buf.raw))
        return out

    def batch_mul_fixed(self, element: Element, scalars: Sequence[int]) -> list[Element]:
        return self.batch_mul([element] * len(scalars), scalars)

    def batch_base_mul(self, scalars: Sequence[int]) -> list[Element]:
        out_buf, base = _buffer(), self._base
        out: list[Element] = []
        append = out.append
        for k in scalars:
            k %= L
            if not k or base(out_buf, k.to_bytes(32, "little")) != 0:
                append(_IDENTITY)
            else:
                append(Element(out_buf.raw))
        return out

    def batch_add(self, a: Sequence[Element], b: Sequence[Element]) -> list[Element]:
        if len(a) != len(b):
            raise ValueError("batch_add: sequences differ in length")
        out_buf, add = _buffer(), self._add
        out: list[Element] = []
        append = out.append
        for x, y in zip(a, b, strict=True):
            if x == _ZERO:
                append(y)
            elif y == _ZERO:
                append(x)
            else:
                add(out_buf, x, y)
                append(Element(out_buf.raw))
        return out

    def sum(self, elements: Sequence[Element]) -> Element:
        out_buf, add = _buffer(), self._add
        acc = _ZERO
        for e in elements:
            if e == _ZERO:
                continue
            if acc == _ZERO:
                acc = e
            else:
                add(out_buf, acc, e)
                acc = out_buf.raw
        return Element(acc)

    def batch_decode(
        self, encodings: Sequence[bytes], *, allow_identity: bool = False
    ) -> list[Element]:
        valid = self._valid
        out: list[Element] = []
        append = out.append
        for i, d in enumerate(encodings):
            if not isinstance(d, (bytes, bytearray)) or len(d) != 32:
                raise InvalidElement(f"ristretto255: element {i} must be 32 bytes")
            d = bytes(d)
            if d == _ZERO:
                if not allow_identity:
                    raise InvalidElement(
                        f"ristretto255: element {i} is the identity, not allowed here"
                    )
                append(Element(d))
            elif not d[31] & 0x80 and valid(d) == 1:
                append(Element(d))
            else:
                raise InvalidElement(f"ristretto255: element {i} is not a canonical encoding")
        return out
