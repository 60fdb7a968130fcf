"""The one Fiat–Shamir entry point.

``hash_to_scalar(group, dst, *parts)`` hashes a mandatory domain-separation tag and the
length-prefixed byte encodings of the whole statement with SHAKE-256, and reduces an output 128
bits longer than the group order (so the bias is below 2**-128). Nothing else in mixvote derives a
challenge. (The Verificatum-compatible shuffle proof has its own, prescribed, random oracle in
``crypto.verificatum``; it is a different construction on purpose, for interoperability.)
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from crypto.encoding import lp

if TYPE_CHECKING:
    from crypto.groups.base import Group

PROJECT_TAG = b"mixvote/v1/"


def hash_bytes(dst: str, *parts: bytes, size: int = 32) -> bytes:
    """Domain-separated hash of length-prefixed parts, ``size`` bytes of SHAKE-256."""
    if not dst:
        raise ValueError("hash_bytes: a domain-separation tag is mandatory")
    h = hashlib.shake_256()
    h.update(lp(PROJECT_TAG + dst.encode("ascii")))
    h.update(len(parts).to_bytes(4, "big"))
    for part in parts:
        if not isinstance(part, (bytes, bytearray)):
            raise TypeError(f"hash_bytes: parts must be bytes, got {type(part).__name__}")
        h.update(lp(bytes(part)))
    return h.digest(size)


def hash_to_scalar(group: Group, dst: str, *parts: bytes) -> int:
    """Fiat–Shamir challenge in Z_q: SHAKE-256 over (tag, parts), reduced mod the group order."""
    size = (group.order.bit_length() + 128 + 7) // 8
    return int.from_bytes(hash_bytes(dst, *parts, size=size), "big") % group.order
