"""Verificatum byte trees: the serialisation of every object in a Verificatum proof.

A byte tree is either a *leaf* holding a byte string or a *node* holding an ordered list of byte
trees (Wikström, "How to implement a stand-alone verifier for the Verificatum mix-net", §"Byte
trees"; our write-up ``verificatum-format.md`` §1.1):

* leaf: ``0x01 || int32(len) || data``
* node: ``0x00 || int32(k) || BT(child_1) || ... || BT(child_k)``

with ``int32`` a 4-byte big-endian count. In Python a leaf is ``bytes`` and a node is a ``tuple``
of byte trees. :func:`decode` is strict: a truncated tree, a count that cannot fit in the remaining
bytes, a wrong tag, too deep a nesting or trailing bytes raise :class:`MalformedInput` naming the
byte offset. The hot paths (arrays of thousands of points) build serialisations directly with
:func:`leaf_bytes` and :func:`node_bytes` instead of materialising tuples.
"""

from __future__ import annotations

from collections.abc import Sequence

from crypto.errors import MalformedInput

ByteTree = bytes | tuple["ByteTree", ...]
"""A leaf (``bytes``) or a node (``tuple`` of byte trees)."""

LEAF_TAG = 1
NODE_TAG = 0
HEADER = 5
#: Nesting deeper than this is rejected (Verificatum objects nest at most 4 levels).
MAX_DEPTH = 32
_MAX_COUNT = 2**31 - 1  # int32 is signed in Verificatum; a negative length is malformed


def leaf_header(length: int) -> bytes:
    """The 5-byte header of a leaf of ``length`` data bytes."""
    if not 0 <= length <= _MAX_COUNT:
        raise ValueError(f"leaf_header: length {length} out of range")
    return b"\x01" + length.to_bytes(4, "big")


def node_header(count: int) -> bytes:
    """The 5-byte header of a node with ``count`` children."""
    if not 0 <= count <= _MAX_COUNT:
        raise ValueError(f"node_header: count {count} out of range")
    return b"\x00" + count.to_bytes(4, "big")


def leaf_bytes(data: bytes) -> bytes:
    """Serialisation of ``leaf(data)``."""
    return leaf_header(len(data)) + bytes(data)


def node_bytes(children: Sequence[bytes]) -> bytes:
    """Serialisation of a node whose children are given already serialised."""
    return node_header(len(children)) + b"".join(children)


def encode(tree: ByteTree) -> bytes:
    """Serialise a byte tree."""
    out: list[bytes] = []
    _encode_into(tree, out, 0)
    return b"".join(out)


def _encode_into(tree: ByteTree, out: list[bytes], depth: int) -> None:
    """Append the serialisation of ``tree`` to ``out``."""
    if depth > MAX_DEPTH:
        raise ValueError(f"byte tree nested deeper than {MAX_DEPTH} levels")
    if isinstance(tree, (bytes, bytearray)):
        out.append(leaf_header(len(tree)))
        out.append(bytes(tree))
    elif isinstance(tree, tuple):
        out.append(node_header(len(tree)))
        for child in tree:
            _encode_into(child, out, depth + 1)
    else:
        raise TypeError(f"byte tree parts must be bytes or tuple, got {type(tree).__name__}")


def decode(data: bytes, what: str = "byte tree") -> ByteTree:
    """Parse exactly one byte tree covering all of ``data`` (strict; see the module docstring)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise MalformedInput(f"{what}: expected bytes, got {type(data).__name__}")
    view = bytes(data)
    tree, end = _decode_at(view, 0, 0, what)
    if end != len(view):
        raise MalformedInput(
            f"{what}: {len(view) - end} trailing bytes after the tree at byte {end}"
        )
    return tree


def _decode_at(data: bytes, pos: int, depth: int, what: str) -> tuple[ByteTree, int]:
    """Parse one tree starting at ``pos``; return it and the position after it."""
    if depth > MAX_DEPTH:
        raise MalformedInput(f"{what}: nested deeper than {MAX_DEPTH} levels at byte {pos}")
    total = len(data)
    if pos + HEADER > total:
        raise MalformedInput(f"{what}: truncated header at byte {pos}")
    tag = data[pos]
    count = int.from_bytes(data[pos + 1 : pos + 5], "big")
    pos += HEADER
    if count > _MAX_COUNT:
        raise MalformedInput(f"{what}: negative length/count at byte {pos - 5}")
    if tag == LEAF_TAG:
        if pos + count > total:
            raise MalformedInput(
                f"{what}: truncated leaf at byte {pos - 5} ({count} bytes announced, "
                f"{total - pos} present)"
            )
        return data[pos : pos + count], pos + count
    if tag != NODE_TAG:
        raise MalformedInput(f"{what}: unknown tag {tag:#04x} at byte {pos - 5}")
    # Every child needs at least a header: reject impossible counts before allocating anything.
    if count * HEADER > total - pos:
        raise MalformedInput(
            f"{what}: node at byte {pos - 5} announces {count} children, more than fit"
        )
    children: list[ByteTree] = []
    append = children.append
    for _ in range(count):
        # Leaves dominate the big arrays: parse them inline rather than through a call.
        if pos + HEADER <= total and data[pos] == LEAF_TAG:
            length = int.from_bytes(data[pos + 1 : pos + 5], "big")
            start = pos + HEADER
            if length > _MAX_COUNT or start + length > total:
                raise MalformedInput(f"{what}: truncated leaf at byte {pos}")
            append(data[start : start + length])
            pos = start + length
        else:
            child, pos = _decode_at(data, pos, depth + 1, what)
            append(child)
    return tuple(children), pos


def expect_leaf(tree: ByteTree, what: str, size: int | None = None) -> bytes:
    """The data of a leaf; raises MalformedInput for a node or (if given) a wrong size."""
    if not isinstance(tree, bytes):
        raise MalformedInput(f"{what}: expected a leaf, got a node")
    if size is not None and len(tree) != size:
        raise MalformedInput(f"{what}: leaf must be {size} bytes, got {len(tree)}")
    return tree


def expect_node(tree: ByteTree, what: str, count: int | None = None) -> tuple[ByteTree, ...]:
    """The children of a node; raises MalformedInput for a leaf or (if given) a wrong count."""
    if not isinstance(tree, tuple):
        raise MalformedInput(f"{what}: expected a node, got a leaf")
    if count is not None and len(tree) != count:
        raise MalformedInput(f"{what}: node must have {count} children, got {len(tree)}")
    return tree
