"""The Verificatum Mix-Net's conventions (VMN 3.1.0), re-implemented from their description.

Sources: D. Wikström, "How to implement a stand-alone verifier for the Verificatum mix-net"
(VMN 3.1.0), and our own checked write-up ``verificatum-format.md`` (§ numbers below refer to it).
Verificatum's code is AGPL and was not used. This module provides:

* the hash functions, the PRG (§2.2) and the random oracle ``RO_n`` (§2.3);
* the group strings that enter the prefix ρ (§3), and ρ itself;
* the independent generators ``h_0..h_{N-1}`` (§4).

**Groups Verificatum knows** (``group.verificatum_name`` set): the pgroup string is
``ECqPGroup(<name>)::<hex of node(leaf(class), leaf(name))>``. **Other groups** (ristretto255,
Edwards curves, ...) get the pgroup string
``mixvote(<name>)::<hex of node(leaf("mixvote.Group"), leaf(<name>))>``, and generators
``h_i = group.hash_to_element("verificatum-generators", ρ || int32(i))`` (a hash to the group, so no
discrete logarithm is known). These are mixvote's own extension, not understood by Verificatum.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from typing import Any

import gmpy2

from crypto.errors import MalformedInput
from crypto.groups.base import Element, Group
from crypto.groups.weierstrass import sqrt_mod
from crypto.verificatum import bytetree
from crypto.verificatum.bytetree import (
    expect_leaf,
    expect_node,
    leaf_bytes,
    node_bytes,
)

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
