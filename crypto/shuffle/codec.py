"""The proof files of a shuffle (Verificatum's byte trees, ``verificatum-format.md`` §5.4).

:class:`ShuffleProof` and its three files ``PermutationCommitment``, ``PoSCommitment`` and
``PoSReply`` (the contents of VMN's ``proofs/<key>NN.bt``), encoded and strictly decoded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from crypto.elgamal import Ciphertext
from crypto.errors import InvalidElement, MalformedInput
from crypto.groups.base import Element, Group
from crypto.shuffle.session import ShuffleSession
from crypto.verificatum import bytetree, codec
from crypto.verificatum.bytetree import expect_node, node_header

PROOF_FILES = ("PermutationCommitment", "PoSCommitment", "PoSReply")


@dataclass(frozen=True)
class ShuffleProof:
    """A proof of a shuffle: the permutation commitment ``u``, the commitment
    ``(B, A', B', C', D', F')`` and the reply ``(k_A, k_B, k_C, k_D, k_E, k_F)`` (§5.2)."""

    group: Group
    u: tuple[Element, ...]
    B: tuple[Element, ...]
    A_prime: Element
    B_prime: tuple[Element, ...]
    C_prime: Element
    D_prime: Element
    F_prime: Ciphertext
    k_A: int
    k_B: tuple[int, ...]
    k_C: int
    k_D: int
    k_E: tuple[int, ...]
    k_F: tuple[int, ...]

    def commitment_bytes(self) -> bytes:
        """``PoSCommitmentNN.bt``: ``node(B, A', B', C', D', F')``."""
        c = codec(self.group)
        return b"".join(
            [
                node_header(6),
                c.array(self.B),
                c.point(self.A_prime),
                c.array(self.B_prime),
                c.point(self.C_prime),
                c.point(self.D_prime),
                c.ciphertext(self.F_prime),
            ]
        )

    def reply_bytes(self) -> bytes:
        """``PoSReplyNN.bt``: ``node(k_A, node(k_B), k_C, k_D, node(k_E), k_F)``."""
        c = codec(self.group)
        return b"".join(
            [
                node_header(6),
                c.scalar(self.k_A),
                c.scalars(self.k_B),
                c.scalar(self.k_C),
                c.scalar(self.k_D),
                c.scalars(self.k_E),
                c.wide_scalars(self.k_F),
            ]
        )

    def to_bytetree(self) -> dict[str, bytes]:
        """The three serialised byte trees, keyed ``PermutationCommitment``, ``PoSCommitment``,
        ``PoSReply`` (the contents of VMN's ``proofs/<key>NN.bt`` files)."""
        return {
            "PermutationCommitment": codec(self.group).array(self.u),
            "PoSCommitment": self.commitment_bytes(),
            "PoSReply": self.reply_bytes(),
        }



def encode_proof(session: ShuffleSession, proof: ShuffleProof) -> dict[str, bytes]:
    """The proof files: ``{"PermutationCommitment", "PoSCommitment", "PoSReply"}`` → byte trees."""
    if proof.group.name != session.group.name:
        raise ValueError("encode_proof: the proof is in another group than the session")
    return proof.to_bytetree()


def decode_proof(
    session: ShuffleSession, files: Mapping[str, bytes], n: int, width: int
) -> ShuffleProof:
    """Strict parse of the three proof files for ``n`` ciphertexts of width ``width``.

    Raises :class:`MalformedInput` (missing/unknown file, wrong layout, count or length,
    non-canonical scalar, trailing bytes) or :class:`InvalidElement` (a point off the curve, the
    identity) naming the file and index.
    """
    if n < 1 or width < 1:
        raise ValueError("decode_proof: n and width must be positive")
    missing = [k for k in PROOF_FILES if k not in files]
    unknown = sorted(set(files) - set(PROOF_FILES))
    if missing or unknown:
        raise MalformedInput(f"shuffle proof files: missing {missing}, unknown {unknown}")
    fast = _decode_proof_columns(session, files, n, width)
    if fast is not None:
        return fast
    return _decode_proof_trees(session, files, n, width)


def _decode_proof_columns(
    session: ShuffleSession, files: Mapping[str, bytes], n: int, width: int
) -> ShuffleProof | None:
    """The fast path of :func:`decode_proof` for a native short-Weierstrass group: when the
    three files have exactly the canonical layout, the ``3N`` points of ``u``, ``B`` and ``B'``
    are cut out of the bytes and validated in one native call per array, and the rest goes
    through the strict parser. Any deviation or error gives None, and the strict parser then
    decides (and words the error), so both paths accept and reject the same files."""
    g = session.group
    c = codec(g)
    from_trees = getattr(g, "points_from_trees", None)
    if from_trees is None or not c.vmn:
        return None
    ps = c.point_size
    array = 5 + n * ps
    perm, com = files["PermutationCommitment"], files["PoSCommitment"]
    if not isinstance(perm, bytes) or not isinstance(com, bytes):
        return None
    head_n = node_header(n)
    b_at, a_at = 5, 5 + array
    bp_at = a_at + ps
    c_at = bp_at + array
    if (
        len(perm) != array
        or perm[:5] != head_n
        or len(com) < c_at + 2 * ps
        or com[:5] != node_header(6)
        or com[b_at : b_at + 5] != head_n
        or com[bp_at : bp_at + 5] != head_n
    ):
        return None
    coord = bytetree.leaf_header(c.fb)
    head = node_header(2) + coord
    try:
        u = from_trees(perm[5:], head, coord, c.fb)
        chain = from_trees(com[b_at + 5 : a_at], head, coord, c.fb)
        chain_prime = from_trees(com[bp_at + 5 : c_at], head, coord, c.fb)
        singles = [
            c.decode_point(bytetree.decode(com[at : at + ps], what), what)
            for at, what in (
                (a_at, "PoSCommitment A'"),
                (c_at, "PoSCommitment C'"),
                (c_at + ps, "PoSCommitment D'"),
            )
        ]
        f_prime = c.decode_ciphertext(
            bytetree.decode(com[c_at + 2 * ps :], "PoSCommitment F'"), "PoSCommitment F'", width
        )
        rep = expect_node(bytetree.decode(files["PoSReply"], "PoSReply"), "PoSReply", 6)
        return ShuffleProof(
            g,
            tuple(u),
            tuple(chain),
            singles[0],
            tuple(chain_prime),
            singles[1],
            singles[2],
            f_prime,
            k_A=c.decode_scalar(rep[0], "PoSReply k_A"),
            k_B=tuple(c.decode_scalars(rep[1], "PoSReply k_B", n)),
            k_C=c.decode_scalar(rep[2], "PoSReply k_C"),
            k_D=c.decode_scalar(rep[3], "PoSReply k_D"),
            k_E=tuple(c.decode_scalars(rep[4], "PoSReply k_E", n)),
            k_F=tuple(c.decode_wide_scalars(rep[5], "PoSReply k_F", width)),
        )
    except (MalformedInput, InvalidElement, ValueError):
        return None


def _decode_proof_trees(
    session: ShuffleSession, files: Mapping[str, bytes], n: int, width: int
) -> ShuffleProof:
    """The strict parser of :func:`decode_proof`, element by element (every group)."""
    c = codec(session.group)
    u = c.decode_array(
        bytetree.decode(files["PermutationCommitment"], "PermutationCommitment"),
        "PermutationCommitment",
        n,
    )
    com = expect_node(bytetree.decode(files["PoSCommitment"], "PoSCommitment"), "PoSCommitment", 6)
    chain = c.decode_array(com[0], "PoSCommitment B", n)
    a_prime = c.decode_point(com[1], "PoSCommitment A'")
    chain_prime = c.decode_array(com[2], "PoSCommitment B'", n)
    c_prime = c.decode_point(com[3], "PoSCommitment C'")
    d_prime = c.decode_point(com[4], "PoSCommitment D'")
    f_prime = c.decode_ciphertext(com[5], "PoSCommitment F'", width)
    rep = expect_node(bytetree.decode(files["PoSReply"], "PoSReply"), "PoSReply", 6)
    return ShuffleProof(
        session.group,
        tuple(u),
        tuple(chain),
        a_prime,
        tuple(chain_prime),
        c_prime,
        d_prime,
        f_prime,
        k_A=c.decode_scalar(rep[0], "PoSReply k_A"),
        k_B=tuple(c.decode_scalars(rep[1], "PoSReply k_B", n)),
        k_C=c.decode_scalar(rep[2], "PoSReply k_C"),
        k_D=c.decode_scalar(rep[3], "PoSReply k_D"),
        k_E=tuple(c.decode_scalars(rep[4], "PoSReply k_E", n)),
        k_F=tuple(c.decode_wide_scalars(rep[5], "PoSReply k_F", width)),
    )


def encode_ciphertext_list(group: Group, cts: Sequence[Ciphertext]) -> bytes:
    """Re-export of :func:`crypto.verificatum.encode_ciphertext_list` (Verificatum's layout)."""
    from crypto import verificatum

    return verificatum.encode_ciphertext_list(group, cts)


def decode_ciphertext_list(group: Group, data: bytes, width: int) -> list[Ciphertext]:
    """Re-export of :func:`crypto.verificatum.decode_ciphertext_list` (identity allowed)."""
    from crypto import verificatum

    return verificatum.decode_ciphertext_list(group, data, width)
