"""Chaum–Pedersen proofs of equality of discrete logarithms (DLEQ), single and batched.

Chaum & Pedersen, "Wallet databases with observers", CRYPTO '92, §3.2: for bases ``B1, B2`` and
``P1 = x·B1, P2 = x·B2`` the prover shows ``log_B1 P1 = log_B2 P2`` without revealing ``x``. Made
non-interactive with Fiat–Shamir (through ``crypto.hashing.hash_to_scalar``, the one entry point):

* prover: ``a`` uniform in ``[1, q)``, ``A1 = a·B1``, ``A2 = a·B2``, ``c = hash_to_scalar(group,
  "dleq", context, enc(B1), enc(P1), enc(B2), enc(P2), enc(A1), enc(A2))``,
  ``z = a + c·x mod q``; the proof is ``(c, z)``.
* verifier: ``A1 = z·B1 − c·P1``, ``A2 = z·B2 − c·P2``, recompute ``c``, compare.
* wire: ``encode_scalar(c) || encode_scalar(z)`` (``2·scalar_size`` bytes, each below q).

``context`` is the caller's domain separation (election id, node index, phase, …); a proof made
for one context never verifies in another. All four elements must be valid non-identity elements.

Decryption shares use it with ``B1 = g``, ``P1`` = the node's public key share, ``B2 = alpha``,
``P2 = x·alpha``. For a whole list there is one batched proof (``prove_dleq_batch``), by random
linear combination (Bellare, Garay & Rabin, "Fast batch verification for modular exponentiation and
digital signatures", EUROCRYPT '98, the small-exponents test):

* weights: ``seed = hash_bytes("dleq-batch-weights", context, enc(B1), enc(P1),
  enc(B2_1)||...||enc(B2_n), enc(P2_1)||...||enc(P2_n))`` (32 bytes), and for ``j = 0..n-1``
  ``rho_j = int(hash_bytes("dleq-batch-weight", seed, u32(j), size=16))``, a 128-bit weight;
* ``A = Σ rho_j·B2_j``, ``D = Σ rho_j·P2_j`` (the honest prover computes ``D = x·A``, one
  multiplication instead of n);
* an ordinary DLEQ proof of ``log_B1 P1 = log_A D`` with the tag ``"dleq-batch"`` and the context
  ``lp(context) || lp(seed)``.

Soundness of the batch. Let ``x = log_B1 P1`` and write ``P2_j = x·B2_j + E_j``; a cheating
prover has some ``E_j ≠ 0``. Then ``D − x·A = Σ rho_j·E_j``, and the final DLEQ proof is sound
(a false statement passes with probability ``≤ 1/q`` per random-oracle query) unless
``Σ rho_j·E_j = 0``. The weights are random-oracle outputs on the complete statement, so they are
fixed only after every ``B2_j, P2_j`` is; in a group of prime order ``q > 2^128``, for any fixed
other weights exactly one residue of ``rho_j`` mod q cancels a non-zero ``E_j``, and a uniform
128-bit ``rho_j`` hits it with probability ``≤ 2^-128``. A prover making ``Q`` oracle queries
therefore passes with one (or more) wrong shares with probability ``≤ Q·(2^-128 + 1/q)``:
negligible. A reordering of the shares changes the statement, hence the weights and the challenge,
and fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crypto.encoding import lp
from crypto.errors import InvalidElement, InvalidProof, MalformedInput
from crypto.groups.base import RNG, Element, Group
from crypto.hashing import hash_bytes, hash_to_scalar

DLEQ_DST = "dleq"
DLEQ_BATCH_DST = "dleq-batch"
WEIGHTS_SEED_DST = "dleq-batch-weights"
WEIGHT_DST = "dleq-batch-weight"
WEIGHT_BYTES = 16


@dataclass(frozen=True)
class DleqProof:
    """Chaum–Pedersen proof ``(c, z)``."""

    c: int
    z: int


def _challenge(
    group: Group,
    dst: str,
    context: bytes,
    statement: Sequence[Element],
    commitments: Sequence[Element],
) -> int:
    """Fiat–Shamir challenge over context, (B1, P1, B2, P2) and (A1, A2)."""
    return hash_to_scalar(group, dst, context, *group.batch_encode([*statement, *commitments]))


def _check_context(context: object, where: str) -> bytes:
    """The context must be bytes."""
    if not isinstance(context, (bytes, bytearray)):
        raise TypeError(f"{where}: context must be bytes, got {type(context).__name__}")
    return bytes(context)


def _prove(
    group: Group,
    dst: str,
    x: int,
    base1: Element,
    pub1: Element,
    base2: Element,
    pub2: Element,
    context: bytes,
    rng: RNG | None,
) -> DleqProof:
    """Core prover for a statement whose public values are already computed."""
    a = group.random_scalar(rng)
    commitments = group.batch_mul([base1, base2], [a, a])
    c = _challenge(group, dst, context, [base1, pub1, base2, pub2], commitments)
    return DleqProof(c, (a + c * x) % group.order)


def _verify(
    group: Group, dst: str, base1: Element, pub1: Element, base2: Element, pub2: Element,
    proof: DleqProof, context: bytes, where: str,
) -> None:
    """Core verifier: element and scalar checks, then the recomputed challenge."""
    for name, element in (("base1", base1), ("pub1", pub1), ("base2", base2), ("pub2", pub2)):
        if group.is_identity(element):
            raise InvalidElement(f"{where}: {name} is the identity")
    q = group.order
    if not 0 <= proof.c < q:
        raise InvalidProof(f"{where}: challenge c is not a canonical scalar")
    if not 0 <= proof.z < q:
        raise InvalidProof(f"{where}: response z is not a canonical scalar")
    minus_c = (-proof.c) % q
    terms = group.batch_mul([base1, pub1, base2, pub2], [proof.z, minus_c, proof.z, minus_c])
    commitments = group.batch_add(terms[0::2], terms[1::2])
    if _challenge(group, dst, context, [base1, pub1, base2, pub2], commitments) != proof.c:
        raise InvalidProof(
            f"{where}: challenge mismatch (the discrete logs differ or the proof "
            "was made for another statement or context)"
        )


def prove_dleq(
    group: Group, x: int, base1: Element, base2: Element, context: bytes, rng: RNG | None = None
) -> DleqProof:
    """Prove ``log_base1(x·base1) == log_base2(x·base2)`` (= ``x``) under ``context``."""
    context = _check_context(context, "prove_dleq")
    x %= group.order
    if x == 0:
        raise ValueError("prove_dleq: x must be non-zero mod the group order")
    if group.is_identity(base1) or group.is_identity(base2):
        raise ValueError("prove_dleq: base1 and base2 must not be the identity")
    pub1, pub2 = group.batch_mul([base1, base2], [x, x])
    return _prove(group, DLEQ_DST, x, base1, pub1, base2, pub2, context, rng)


def verify_dleq(
    group: Group,
    base1: Element,
    pub1: Element,
    base2: Element,
    pub2: Element,
    proof: DleqProof,
    context: bytes,
) -> None:
    """Check ``log_base1 pub1 == log_base2 pub2``; returns None or raises InvalidProof
    (InvalidElement when one of the four elements is the identity)."""
    context = _check_context(context, "verify_dleq")
    _verify(group, DLEQ_DST, base1, pub1, base2, pub2, proof, context, "DLEQ proof")


def encode_dleq(group: Group, proof: DleqProof) -> bytes:
    """``c || z``, each ``scalar_size`` bytes big-endian."""
    for what, value in (("c", proof.c), ("z", proof.z)):
        if not 0 <= value < group.order:
            raise ValueError(f"encode_dleq: {what} is not reduced mod the group order")
    return group.encode_scalar(proof.c) + group.encode_scalar(proof.z)


def decode_dleq(group: Group, data: bytes) -> DleqProof:
    """Inverse of :func:`encode_dleq`; rejects a wrong length or a scalar ``>= q``."""
    size = group.scalar_size
    if not isinstance(data, (bytes, bytearray)) or len(data) != 2 * size:
        got = len(data) if isinstance(data, (bytes, bytearray)) else type(data).__name__
        raise MalformedInput(f"DLEQ proof: expected {2 * size} bytes, got {got}")
    data = bytes(data)
    return DleqProof(
        group.decode_scalar(data[:size], "DLEQ proof c"),
        group.decode_scalar(data[size:], "DLEQ proof z"),
    )


# --- batched proofs ------------------------------------------------------------------------------
def batch_weights(
    group: Group,
    base1: Element,
    pub1: Element,
    bases2: Sequence[Element],
    pubs2: Sequence[Element],
    context: bytes,
) -> tuple[bytes, list[int]]:
    """``(seed, [rho_0..rho_{n-1}])`` of the batched proof (module docstring)."""
    seed = hash_bytes(
        WEIGHTS_SEED_DST,
        context,
        group.encode(base1),
        group.encode(pub1),
        b"".join(group.batch_encode(list(bases2))),
        b"".join(group.batch_encode(list(pubs2))),
    )
    weights = [
        int.from_bytes(hash_bytes(WEIGHT_DST, seed, j.to_bytes(4, "big"), size=WEIGHT_BYTES), "big")
        for j in range(len(bases2))
    ]
    return seed, weights


def _check_batch_shape(bases2: Sequence[Element], pubs2: Sequence[Element], where: str) -> None:
    """Non-empty lists of equal length."""
    if len(bases2) != len(pubs2):
        raise ValueError(f"{where}: {len(bases2)} bases2 but {len(pubs2)} pubs2")
    if not bases2:
        raise ValueError(f"{where}: the batch is empty")


def prove_dleq_batch(
    group: Group,
    x: int,
    base1: Element,
    pub1: Element,
    bases2: Sequence[Element],
    pubs2: Sequence[Element],
    context: bytes,
    rng: RNG | None = None,
) -> DleqProof:
    """One proof that ``pubs2[j] = x·bases2[j]`` for every ``j`` and ``pub1 = x·base1``
    (random linear combination, module docstring). The shares themselves are not recomputed: a
    wrong share makes the proof fail verification."""
    context = _check_context(context, "prove_dleq_batch")
    _check_batch_shape(bases2, pubs2, "prove_dleq_batch")
    x %= group.order
    if x == 0:
        raise ValueError("prove_dleq_batch: x must be non-zero mod the group order")
    if not group.equal(group.mul(base1, x), pub1):
        raise ValueError("prove_dleq_batch: pub1 is not x·base1")
    seed, weights = batch_weights(group, base1, pub1, bases2, pubs2, context)
    combined_base = group.multi_mul(list(bases2), weights)
    if group.is_identity(combined_base):
        raise ValueError("prove_dleq_batch: the combined base is the identity (all bases2 zero?)")
    combined_pub = group.mul(combined_base, x)
    statement = (base1, pub1, combined_base, combined_pub)
    return _prove(group, DLEQ_BATCH_DST, x, *statement, lp(context) + lp(seed), rng)


def verify_dleq_batch(
    group: Group,
    base1: Element,
    pub1: Element,
    bases2: Sequence[Element],
    pubs2: Sequence[Element],
    proof: DleqProof,
    context: bytes,
) -> None:
    """Check a batched proof; returns None or raises InvalidProof (InvalidElement for an identity
    element, MalformedInput for mismatched list lengths)."""
    context = _check_context(context, "verify_dleq_batch")
    if len(bases2) != len(pubs2):
        raise MalformedInput(f"batched DLEQ proof: {len(bases2)} bases2 but {len(pubs2)} pubs2")
    if not bases2:
        raise MalformedInput("batched DLEQ proof: the batch is empty")
    for name, elements in (("bases2", bases2), ("pubs2", pubs2)):
        for j, element in enumerate(elements):
            if group.is_identity(element):
                raise InvalidElement(f"batched DLEQ proof: {name}[{j}] is the identity")
    seed, weights = batch_weights(group, base1, pub1, bases2, pubs2, context)
    combined_base = group.multi_mul(list(bases2), weights)
    combined_pub = group.multi_mul(list(pubs2), weights)
    where = f"batched DLEQ proof over {len(bases2)} shares"
    statement = (base1, pub1, combined_base, combined_pub)
    _verify(group, DLEQ_BATCH_DST, *statement, proof, lp(context) + lp(seed), where)
