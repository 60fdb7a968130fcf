"""Helpers shared by the short-Weierstrass backends: square roots, x-coordinate embedding of short
byte strings, and try-and-increment hashing to the curve.

Embedding (a reversible map of at most ``capacity`` bytes into a point): the x-coordinate is the
big-endian integer ``len || payload || zero padding || counter`` of ``capacity + 2`` bytes, where
``capacity`` is chosen per curve so that this stays below p (the small length byte on top keeps
it there); the counter is incremented until x³ + ax + b is a square, and the point with even y
is taken. Decoding is the exact inverse: a point decodes to the payload ``m`` only if it *is*
``embed(m)`` (even y, zero padding, and the first counter that works); anything else is no
embedding. Each counter succeeds with probability about 1/2, so 256 of them all fail with
probability about 2**-256. Cofactor curves (the seed curves) use their own counter rule to land
in the subgroup.
"""

from __future__ import annotations

from typing import Protocol

import gmpy2

from crypto.errors import InvalidElement
from crypto.hashing import hash_bytes


class Curve(Protocol):
    name: str
    field_prime: int
    a: int
    b: int
    embed_capacity: int


def field_bytes(curve: Curve) -> int:
    return (curve.field_prime.bit_length() + 7) // 8


def rhs(curve: Curve, x: int) -> int:
    p = curve.field_prime
    return (x * x * x + curve.a * x + curve.b) % p


def sqrt_mod(value: int, p: int) -> int | None:
    """A square root of ``value`` mod the odd prime ``p``, or None when there is none."""
    value %= p
    if value == 0:
        return 0
    if gmpy2.legendre(value, p) != 1:
        return None
    if p % 4 == 3:
        return int(gmpy2.powmod(value, (p + 1) // 4, p))
    # Tonelli–Shanks (p ≡ 1 mod 4, e.g. for the seed curve M-221 when put in Weierstrass form)
    q, s = p - 1, 0
    while q % 2 == 0:
        q //= 2
        s += 1
    z = 2
    while gmpy2.legendre(z, p) != -1:
        z += 1
    m, c = s, int(gmpy2.powmod(z, q, p))
    t, r = int(gmpy2.powmod(value, q, p)), int(gmpy2.powmod(value, (q + 1) // 2, p))
    while t != 1:
        i, t2 = 0, t
        while t2 != 1:
            t2 = t2 * t2 % p
            i += 1
        b = int(gmpy2.powmod(c, 1 << (m - i - 1), p))
        m, c, t, r = i, b * b % p, t * b * b % p, r * b % p
    return r


def embed_x(curve: Curve, payload: bytes) -> int:
    """An x-coordinate on the curve that carries ``payload`` (see module docstring)."""
    cap = curve.embed_capacity
    if len(payload) > cap:
        raise ValueError(f"{curve.name}: payload of {len(payload)} bytes exceeds capacity {cap}")
    body = bytes([len(payload)]) + payload + bytes(cap - len(payload))
    for counter in range(256):
        x = int.from_bytes(body + bytes([counter]), "big")
        if x < curve.field_prime and sqrt_mod(rhs(curve, x), curve.field_prime) is not None:
            return x
    raise ValueError(f"{curve.name}: no embedding found for this payload")  # probability ~2**-256


def extract_x(curve: Curve, x: int) -> bytes:
    """The payload carried by an x-coordinate made by :func:`embed_x`."""
    cap = curve.embed_capacity
    try:
        raw = x.to_bytes(cap + 2, "big")
    except OverflowError:
        raise InvalidElement(f"{curve.name}: element is not an embedding") from None
    n = raw[0]
    if n > cap or any(raw[1 + n : 1 + cap]):
        raise InvalidElement(f"{curve.name}: element is not an embedding")
    payload = raw[1 : 1 + n]
    if embed_x(curve, payload) != x:
        # the right layout, but not the first counter that works: embed never makes this point
        raise InvalidElement(f"{curve.name}: not an embedding (a later counter)")
    return payload


def hash_to_x(curve: Curve, dst: str, data: bytes) -> int:
    """Try-and-increment: the first counter whose hashed x lies on the curve (even y is taken)."""
    size = field_bytes(curve) + 16
    for counter in range(1 << 16):
        digest = hash_bytes(
            "hash-to-curve/" + dst, curve.name.encode(), data, counter.to_bytes(4, "big"), size=size
        )
        x = int.from_bytes(digest, "big") % curve.field_prime
        if sqrt_mod(rhs(curve, x), curve.field_prime):
            return x
    raise ValueError(f"{curve.name}: hash_to_x found no point")  # probability ~2**-65536
