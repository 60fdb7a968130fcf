"""Canonical byte encodings: fixed-width scalars, length-prefixed byte strings and sequences.

Everything that is hashed for Fiat–Shamir or signed goes through these functions, so that two
different statements can never have the same encoding (electionguard's ``hash.py`` explains why a
hash must never see ``str(x)``). JSON and hex live at the edges (the wire codec), never here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from crypto.errors import MalformedInput

LENGTH_BYTES = 4
MAX_LENGTH = 2**32 - 1


def encode_uint(value: int, size: int) -> bytes:
    """Big-endian unsigned integer in exactly ``size`` bytes."""
    if value < 0:
        raise ValueError(f"encode_uint: value must be non-negative, got {value}")
    return value.to_bytes(size, "big")


def decode_uint(data: bytes, size: int, bound: int | None = None, what: str = "integer") -> int:
    """Inverse of :func:`encode_uint`; rejects a wrong length or a value ``>= bound``."""
    if len(data) != size:
        raise MalformedInput(f"{what}: expected {size} bytes, got {len(data)}")
    value = int.from_bytes(data, "big")
    if bound is not None and value >= bound:
        raise MalformedInput(f"{what}: value is not below its bound (non-canonical)")
    return value


def lp(data: bytes) -> bytes:
    """Length-prefixed bytes: 4-byte big-endian length, then the data."""
    if len(data) > MAX_LENGTH:
        raise ValueError("lp: data longer than 2**32 - 1 bytes")
    return len(data).to_bytes(LENGTH_BYTES, "big") + data


def encode_seq(items: Iterable[bytes]) -> bytes:
    """A sequence of byte strings: the count, then each item length-prefixed."""
    parts = [lp(item) for item in items]
    return len(parts).to_bytes(LENGTH_BYTES, "big") + b"".join(parts)


def encode_str(text: str) -> bytes:
    """UTF-8 text, length-prefixed."""
    return lp(text.encode("utf-8"))


class Reader:
    """Bounds-checked reader over a byte string; every short read raises MalformedInput."""

    __slots__ = ("_data", "_pos", "_what")

    def __init__(self, data: bytes, what: str = "input") -> None:
        self._data = memoryview(data)
        self._pos = 0
        self._what = what

    def take(self, n: int) -> bytes:
        if n < 0 or self._pos + n > len(self._data):
            raise MalformedInput(f"{self._what}: truncated at byte {self._pos} (wanted {n} more)")
        out = bytes(self._data[self._pos : self._pos + n])
        self._pos += n
        return out

    def uint(self, size: int = LENGTH_BYTES) -> int:
        return int.from_bytes(self.take(size), "big")

    def lp(self) -> bytes:
        return self.take(self.uint())

    def seq(self, max_items: int | None = None) -> list[bytes]:
        count = self.uint()
        if max_items is not None and count > max_items:
            raise MalformedInput(f"{self._what}: {count} items, at most {max_items} allowed")
        return [self.lp() for _ in range(count)]

    def done(self) -> None:
        if self._pos != len(self._data):
            raise MalformedInput(
                f"{self._what}: {len(self._data) - self._pos} trailing bytes at byte {self._pos}"
            )


def decode_seq(data: bytes, what: str = "sequence", max_items: int | None = None) -> list[bytes]:
    """Inverse of :func:`encode_seq`; rejects trailing bytes."""
    reader = Reader(data, what)
    items = reader.seq(max_items)
    reader.done()
    return items


def decode_hex(value: object, size: int, where: str) -> bytes:
    """``size`` bytes from exactly ``2 * size`` lower-case hex digits (the one spelling the
    JSON documents use), or MalformedInput naming ``where``."""
    if not isinstance(value, str) or len(value) != 2 * size:
        raise MalformedInput(f"{where}: expected {2 * size} hex digits")
    try:
        data = bytes.fromhex(value)
    except ValueError:
        raise MalformedInput(f"{where}: not hex") from None
    if data.hex() != value:
        raise MalformedInput(f"{where}: hex must be lower case")
    return data


def join_fixed(items: Sequence[bytes], size: int) -> bytes:
    """Concatenate fixed-size items (checks each size)."""
    for i, item in enumerate(items):
        if len(item) != size:
            raise ValueError(f"join_fixed: item {i} has {len(item)} bytes, expected {size}")
    return b"".join(items)


def split_fixed(data: bytes, size: int, what: str = "list") -> list[bytes]:
    """Split a concatenation of fixed-size items; rejects a length that is not a multiple."""
    if size <= 0 or len(data) % size:
        raise MalformedInput(f"{what}: length {len(data)} is not a multiple of {size}")
    return [data[i : i + size] for i in range(0, len(data), size)]
