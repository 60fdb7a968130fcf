"""The statement side of the Terelius–Wikström shuffle proof: the session and its Fiat–Shamir.

The proof is the one of B. Terelius and D. Wikström, "Proofs of restricted shuffles"
(AFRICACRYPT 2010), made non-interactive with Fiat–Shamir exactly as the Verificatum Mix-Net 3.1.0
does it (D. Wikström, "How to implement a stand-alone verifier for the Verificatum mix-net"; our
write-up ``verificatum-format.md`` §5, whose names are used here). This module holds what prover
and verifier share: :class:`ShuffleSession` (the parameters that enter ρ, and the generators
``h_0..h_{N-1}``), the batching vector ``e`` and the challenge ``v``, and the chunking of rows
over an injected ``mapper`` (:mod:`crypto.executor`). :mod:`crypto.shuffle.prove` shuffles and
proves, :mod:`crypto.shuffle.verify` checks, :mod:`crypto.shuffle.codec` reads and writes the
proof files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from crypto.elgamal import Ciphertext, PublicKey
from crypto.executor import check_workers, chunked
from crypto.groups.base import Element, Group
from crypto.verificatum import (
    PRG,
    codec,
    compute_rho,
    generators,
    group_string,
    hash_function,
    random_oracle,
    validate_identifier,
)
from crypto.verificatum.bytetree import leaf_bytes, leaf_header, node_header

Columns = list[list[Element]]


# --- session -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ShuffleSession:
    """The Verificatum protocol parameters that enter the prefix ρ (§3).

    For a mixvote election, the ``sid`` is :func:`crypto.protocol.wire.shuffle_sid`.
    ``sid`` and ``auxsid`` must match ``[A-Za-z0-9]+`` (VMN refuses anything else).
    """

    group: Group
    sid: str
    auxsid: str = "default"
    version: str = "3.1.0"
    statdist: int = 100
    vbitlenro: int = 256
    ebitlenro: int = 256
    prg: str = "SHA-256"
    rohash: str = "SHA-256"

    def __post_init__(self) -> None:
        validate_identifier(self.sid, "sid")
        validate_identifier(self.auxsid, "auxsid")
        hash_function(self.prg)
        hash_function(self.rohash)
        if not isinstance(self.version, str) or not self.version:
            raise ValueError("version must be a non-empty string")
        for name in ("statdist", "vbitlenro", "ebitlenro"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 4096:
                raise ValueError(f"{name} must be an integer in 1..4096, got {value!r}")

    @property
    def pgroup(self) -> str:
        """The protInfo ``<pgroup>`` string of the group."""
        return group_string(self.group)

    @property
    def rho(self) -> bytes:
        """The 32-byte prefix ρ (``der.rho``)."""
        return _rho(self)

    def generators(self, n: int) -> list[Element]:
        """``h_0..h_{n-1}`` (deterministic; cached per session and n)."""
        return list(_generators(self, n)[0])

    def generators_bytes(self, n: int) -> bytes:
        """``BT(h)``: the serialised node of the ``n`` generators (cached)."""
        return _generators(self, n)[1]


@lru_cache(maxsize=64)
def _rho(session: ShuffleSession) -> bytes:
    """ρ of a session (cached)."""
    return compute_rho(
        version=session.version,
        sid=session.sid,
        auxsid=session.auxsid,
        statdist=session.statdist,
        vbitlenro=session.vbitlenro,
        ebitlenro=session.ebitlenro,
        prg=session.prg,
        pgroup=session.pgroup,
        rohash=session.rohash,
    )


@lru_cache(maxsize=4)
def _generators(session: ShuffleSession, n: int) -> tuple[tuple[Element, ...], bytes]:
    """Generators and their serialisation (cached: a few recent (session, n) pairs)."""
    h = tuple(generators(session.group, session.rho, n, session.statdist, session.rohash))
    return h, codec(session.group).array(h)



# --- chunking -------------------------------------------------------------------------------------
def _pool(workers: int, n: int) -> int:
    """The number of chunks to cut ``n`` rows into: ``workers`` when there are enough rows to be
    worth a round trip to a process pool, else 1 (inline)."""
    check_workers(workers, "shuffle")
    return 1 if n < 64 * workers else workers


#: Rows per piece when everything runs inline: the transient columns of one piece (elements,
#: encodings, scalars) stay near 100 MB whatever N is, and a piece is large enough that the
#: native batch calls and the verifier's MSM run at full speed.
PIECE_ROWS = 1 << 16


def _parts(pool: int, n: int) -> list[tuple[int, int]]:
    """Index ranges: one per chunk when a pool of ``pool`` processes shares the rows, else
    (inline) pieces of at most PIECE_ROWS rows, run one after the other."""
    if pool > 1:
        return [(c.start, c.stop) for c in chunked(n, pool)]
    return [(lo, min(lo + PIECE_ROWS, n)) for lo in range(0, n, PIECE_ROWS)]


def _encode_chunk(group: Group, arrays: list[list[Element]]) -> list[bytes]:
    """The concatenated byte trees of the elements of each array (a chunk of rows)."""
    return [_trees(group, a) for a in arrays]


def _trees(group: Group, elements: Sequence[Element]) -> bytes:
    """The concatenated byte trees of a column (``codec(group).points``, joined). A native
    short-Weierstrass group builds them in one call from its ``x || y`` form (the format of
    ``verificatum-format.md`` §1.3: a node of two leaves of ``fb`` bytes, 0xFF…FF for the
    point at infinity); ``tests/unit/test_shuffle_batch.py`` holds the two paths equal."""
    c = codec(group)
    fast = getattr(group, "affine_trees", None)
    if fast is None or not c.vmn:
        return b"".join(c.points(elements))
    coord = leaf_header(c.fb)
    head = node_header(2) + coord
    infinity = head + b"\xff" * c.fb + coord + b"\xff" * c.fb
    out: bytes = fast(elements, head, coord, c.fb, infinity)
    return out



def _check_list(group: Group, cts: Sequence[Ciphertext], what: str) -> int:
    """The common width of a non-empty list of ciphertexts (TypeError/ValueError on misuse)."""
    if not cts:
        raise ValueError(f"{what}: the list is empty")
    width = cts[0].width if isinstance(cts[0], Ciphertext) else 0
    for i, ct in enumerate(cts):
        if not isinstance(ct, Ciphertext):
            raise TypeError(f"{what}[{i}] is a {type(ct).__name__}, not a Ciphertext")
        if ct.width != width:
            raise ValueError(f"{what}[{i}] has width {ct.width}, expected {width}")
    return width


# --- Fiat–Shamir ---------------------------------------------------------------------------------
def _list_bytes(n: int, alpha: Sequence[bytes], beta: Sequence[bytes]) -> bytes:
    """A serialised ciphertext list from the concatenated point trees of each column (§1.5)."""
    width = len(alpha)
    pieces = [node_header(2)]
    for cols in (alpha, beta):
        if width > 1:
            pieces.append(node_header(width))
        for col in cols:
            pieces.append(node_header(n))
            pieces.append(col)
    return b"".join(pieces)


def _batching(
    session: ShuffleSession,
    pk: PublicKey,
    width: int,
    u_bytes: bytes,
    in_bytes: bytes,
    out_bytes: bytes,
) -> tuple[bytes, list[int]]:
    """Seed ``s = RO(ρ || BT(node(g, h, u, pk, w, w')))`` and batching vector ``e`` (§5.2), from
    the serialised ``u``, ``w`` and ``w'``."""
    c = codec(session.group)
    n = (len(u_bytes) - 5) // c.point_size
    seed_bits = 8 * hash_function(session.prg)().digest_size
    pieces = [
        session.rho,
        node_header(6),
        c.point(session.group.generator),
        session.generators_bytes(n),
        u_bytes,
        c.wide_public_key(pk, width),
        in_bytes,
        out_bytes,
    ]
    s = random_oracle(pieces, seed_bits, session.rohash)
    e = PRG(s, session.prg).integers(n, session.ebitlenro)
    return s, e


def _challenge(session: ShuffleSession, s: bytes, commitment: bytes) -> int:
    """``v = RO_{n_v}(ρ || BT(node(leaf(s), commitment)))``, reduced mod q (§5.2 step 6)."""
    raw = random_oracle(
        [session.rho, node_header(2), leaf_bytes(s), commitment], session.vbitlenro, session.rohash
    )
    return int.from_bytes(raw, "big") % session.group.order

