"""The proof files of a shuffle (Verificatum's byte trees, ``verificatum-format.md`` §5.4).

:class:`ShuffleProof` and its three files ``PermutationCommitment``, ``PoSCommitment`` and
``PoSReply`` (the contents of VMN's ``proofs/<key>NN.bt``), encoded and strictly decoded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from crypto.elgamal import Ciphertext
from crypto.errors import MalformedInput
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
