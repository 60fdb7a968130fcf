"""Disjunctive Chaum–Pedersen proofs that an exponential-ElGamal pair encrypts a value in [lo, hi].

R. Cramer, I. Damgård, B. Schoenmakers, "Proofs of partial knowledge and simplified design of
witness hiding protocols", CRYPTO '94 (the OR-composition of Σ-protocols), applied to the
Chaum–Pedersen protocol (Chaum & Pedersen, CRYPTO '92, :mod:`crypto.proofs`) as in Cramer,
Gennaro, Schoenmakers, "A secure and optimally efficient multi-authority election scheme",
EUROCRYPT '97, §2.3. Written additively, with generator ``g`` and public key ``y``:

* Statement ``(alpha, beta, lo, hi)``: there are ``r`` and ``v ∈ {lo, …, hi}`` with
  ``alpha = r·g`` and ``beta = r·y + v·g``; equivalently, for one branch ``j = v − lo``,
  ``log_g alpha = log_y (beta − v·g)``.
* Proof: one ``(c_j, z_j)`` per branch ``j = 0 … hi − lo`` (a :class:`crypto.proofs.DleqProof`
  each). With ``beta_j = beta − (lo + j)·g``, the commitments are
  ``A_j = z_j·g − c_j·alpha`` and ``B_j = z_j·y − c_j·beta_j``; the Fiat–Shamir challenge ``c``
  (:func:`challenge`) hashes the statement and every ``A_j, B_j``; the proof is valid iff
  ``c_0 + … + c_{L−1} ≡ c (mod q)``.
* Prover (:func:`prove_with`), with witness ``(r, v)``, real branch ``j* = v − lo`` and one nonce
  pair ``(c'_j, z'_j)`` per branch: the commitments are computed by the *same* formula from
  ``(c'_j, z'_j)`` for every branch, so the group operations do not depend on which branch is
  real (for the real branch they equal ``w·g, w·y`` with ``w = z'_{j*} − c'_{j*}·r``, a uniform
  nonce). Then ``δ = c − Σ_j c'_j``; every branch keeps ``(c'_j, z'_j)`` except the real one,
  which gets ``c_{j*} = c'_{j*} + δ`` and ``z_{j*} = z'_{j*} + δ·r``. The simulated branches are
  distributed as honest transcripts, so the proof reveals nothing about ``v`` (special honest-
  verifier zero knowledge of each branch, CDS94 Theorem 8).
* Soundness: two accepting proofs for the same commitments and different ``c`` differ in some
  ``c_j``, which extracts a witness for branch ``j``; a prover without one passes with probability
  about ``Q/q`` for ``Q`` random-oracle queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crypto.encoding import encode_uint
from crypto.errors import InvalidProof, MalformedInput
from crypto.groups.base import RNG, Element, Group
from crypto.hashing import hash_to_scalar
from crypto.proofs import DleqProof, decode_dleq, encode_dleq

CHOICE_DST = "homomorphic-choice-proof"
"""Domain tag of the per-choice 0/1 proof (hashed as ``mixvote/v1/homomorphic-choice-proof``)."""
SELECTION_DST = "homomorphic-selection-proof"
"""Domain tag of the selection-count proof on the sum of a ballot's row."""
_U32 = 4


@dataclass(frozen=True)
class RangeStatement:
    """``(alpha, beta)`` encrypts some ``v`` in ``[lo, hi]``; ``dst`` and ``index`` say which proof
    of the ballot this is (they enter the challenge)."""

    dst: str
    index: int
    lo: int
    hi: int
    alpha: Element
    beta: Element

    @property
    def branches(self) -> int:
        """``hi − lo + 1``."""
        return self.hi - self.lo + 1


@dataclass(frozen=True)
class DisjunctiveProof:
    """``(c_j, z_j)`` for the branches ``v = lo + j``, ``j = 0 … hi − lo``."""

    branches: tuple[DleqProof, ...]


def challenge(
    group: Group,
    statement: RangeStatement,
    context: bytes,
    y_bytes: bytes,
    row_bytes: bytes,
    commitments: Sequence[tuple[Element, Element]],
) -> int:
    """The Fiat–Shamir challenge: ``hash_to_scalar(group, dst, context, enc(y), row, u32(index),
    u32(lo) || u32(hi), enc(alpha) || enc(beta), enc(A_0) || enc(B_0) || … )``."""
    flat = [e for pair in commitments for e in pair]
    return hash_to_scalar(
        group,
        statement.dst,
        context,
        y_bytes,
        row_bytes,
        encode_uint(statement.index, _U32),
        encode_uint(statement.lo, _U32) + encode_uint(statement.hi, _U32),
        b"".join(group.batch_encode([statement.alpha, statement.beta])),
        b"".join(group.batch_encode(flat)),
    )


def commitments(
    group: Group,
    y: Element,
    statements: Sequence[RangeStatement],
    scalars: Sequence[Sequence[tuple[int, int]]],
) -> list[list[tuple[Element, Element]]]:
    """``(A_j, B_j) = (z_j·g − c_j·alpha, z_j·y − c_j·(beta − (lo + j)·g))`` for every branch of
    every statement, from ``scalars[p][j] = (c_j, z_j)``; one batch call per term for the whole
    list (used by the prover with its nonces and by the verifier with the proof)."""
    values = sorted({s.lo + j for s in statements for j in range(s.branches)})
    shift = dict(zip(values, group.batch_base_mul(values), strict=True))
    alphas: list[Element] = []
    betas: list[Element] = []
    minus_c: list[int] = []
    zs: list[int] = []
    q = group.order
    for statement, pairs in zip(statements, scalars, strict=True):
        for j, (c, z) in enumerate(pairs):
            alphas.append(statement.alpha)
            betas.append(group.sub(statement.beta, shift[statement.lo + j]))
            minus_c.append(-c % q)
            zs.append(z)
    a_terms = group.batch_add(group.batch_base_mul(zs), group.batch_mul(alphas, minus_c))
    b_terms = group.batch_add(group.batch_mul_fixed(y, zs), group.batch_mul(betas, minus_c))
    out: list[list[tuple[Element, Element]]] = []
    pos = 0
    for pairs in scalars:
        end = pos + len(pairs)
        out.append(list(zip(a_terms[pos:end], b_terms[pos:end], strict=True)))
        pos = end
    return out


def draw_nonces(
    group: Group, statements: Sequence[RangeStatement], rng: RNG | None
) -> tuple[tuple[tuple[int, int], ...], ...]:
    """One ``(c'_j, z'_j)`` per branch, drawn in statement order, branch order, ``c'`` first."""
    return tuple(
        tuple((group.random_scalar(rng), group.random_scalar(rng)) for _ in range(s.branches))
        for s in statements
    )


def prove_with(
    group: Group,
    y: Element,
    statements: Sequence[RangeStatement],
    witnesses: Sequence[tuple[int, int]],
    nonces: Sequence[Sequence[tuple[int, int]]],
    context: bytes,
    y_bytes: bytes,
    row_bytes: bytes,
) -> list[DisjunctiveProof]:
    """Deterministic proofs of ``statements`` with ``witnesses[p] = (r, v)`` (module docstring).

    Checks only that ``lo <= v <= hi`` and the nonces' shape; the caller guarantees
    ``alpha = r·g, beta = r·y + v·g`` (a false witness yields a proof that does not verify)."""
    if not len(statements) == len(witnesses) == len(nonces):
        raise ValueError("prove_with: one witness and one nonce list per statement")
    q = group.order
    for p, (statement, (_, v), pairs) in enumerate(zip(statements, witnesses, nonces, strict=True)):
        if not statement.lo <= v <= statement.hi:
            raise ValueError(
                f"prove_with: statement {p}: value {v} is outside [{statement.lo}, {statement.hi}]"
            )
        if len(pairs) != statement.branches:
            raise ValueError(
                f"prove_with: statement {p} has {statement.branches} branches, "
                f"{len(pairs)} nonce pairs given"
            )
    reduced = [[(c % q, z % q) for c, z in pairs] for pairs in nonces]
    all_commitments = commitments(group, y, statements, reduced)
    proofs: list[DisjunctiveProof] = []
    for statement, (r, v), pairs, commits in zip(
        statements, witnesses, reduced, all_commitments, strict=True
    ):
        c = challenge(group, statement, context, y_bytes, row_bytes, commits)
        delta = (c - sum(cj for cj, _ in pairs)) % q
        real = v - statement.lo
        branches = []
        for j, (cj, zj) in enumerate(pairs):
            bit = int(j == real)
            branches.append(DleqProof((cj + bit * delta) % q, (zj + bit * delta * r) % q))
        proofs.append(DisjunctiveProof(tuple(branches)))
    return proofs


def verify(
    group: Group,
    y: Element,
    statements: Sequence[RangeStatement],
    proofs: Sequence[DisjunctiveProof],
    names: Sequence[str],
    context: bytes,
    y_bytes: bytes,
    row_bytes: bytes,
) -> None:
    """Check every proof against its statement; the first failure raises InvalidProof (or
    MalformedInput for a wrong number of branches) whose reason starts with ``names[p]``."""
    if not len(statements) == len(proofs) == len(names):
        raise ValueError("verify: one proof and one name per statement")
    q = group.order
    for statement, proof, name in zip(statements, proofs, names, strict=True):
        if len(proof.branches) != statement.branches:
            raise MalformedInput(
                f"{name}: {len(proof.branches)} branches, the statement has "
                f"{statement.branches} (values {statement.lo}..{statement.hi})"
            )
        for j, branch in enumerate(proof.branches):
            if not (0 <= branch.c < q and 0 <= branch.z < q):
                raise InvalidProof(f"{name}: branch {j}: c or z is not a canonical scalar")
    scalars = [[(b.c, b.z) for b in proof.branches] for proof in proofs]
    all_commitments = commitments(group, y, statements, scalars)
    for statement, proof, name, commits in zip(
        statements, proofs, names, all_commitments, strict=True
    ):
        c = challenge(group, statement, context, y_bytes, row_bytes, commits)
        if sum(b.c for b in proof.branches) % q != c:
            raise InvalidProof(
                f"{name}: the branch challenges do not sum to the Fiat–Shamir challenge (the "
                f"value is outside {statement.lo}..{statement.hi}, the proof is forged, or it "
                "was made for another statement or context)"
            )


def encode_proof(group: Group, proof: DisjunctiveProof) -> bytes:
    """``c_0 || z_0 || c_1 || z_1 || …``, each ``scalar_size`` bytes big-endian."""
    return b"".join(encode_dleq(group, branch) for branch in proof.branches)


def decode_proof(group: Group, data: bytes, branches: int, name: str) -> DisjunctiveProof:
    """Inverse of :func:`encode_proof` for a proof of ``branches`` branches; rejects a wrong
    length or a scalar ``>= q``, naming ``name`` and the branch."""
    size = 2 * group.scalar_size
    if len(data) != branches * size:
        raise MalformedInput(f"{name}: expected {branches * size} bytes, got {len(data)}")
    out = []
    for j in range(branches):
        try:
            out.append(decode_dleq(group, data[j * size : (j + 1) * size]))
        except MalformedInput as exc:
            raise MalformedInput(f"{name}: branch {j}: {exc}") from None
    return DisjunctiveProof(tuple(out))
