"""The verifier of the Terelius–Wikström proof of a shuffle (``verificatum-format.md`` §5.3).

Two verifiers of the same five equations (written additively; ``v`` the challenge, ``e`` the
batching vector, ``h`` the generators, ``w``/``w'`` the input/output columns):

1. ``v·A + A' = k_A·g + Σ k_E,i·h_i`` with ``A = Σ e_i·u_i``;
2. ``v·B_i + B'_i = k_B,i·g + k_E,i·B_(i-1)`` for each i, with ``B_(-1) = h_0``;
3. ``v·C + C' = k_C·g`` with ``C = Σ u_i − Σ h_i``;
4. ``v·D + D' = k_D·g`` with ``D = B_(N-1) − (∏ e_i)·h_0``;
5. ``v·F + F' = −k_F·(g, pk) + Σ k_E,i·w'_i`` with ``F = Σ e_i·w_i`` (per width position).

:func:`verify_shuffle` (the default) checks all ``N + 4 + 2·width`` equations at once with the
*small-exponent batch test* of M. Bellare, J. A. Garay and T. Rabin, "Fast batch verification
for modular exponentiation and digital signatures" (EUROCRYPT 1998, §3.2): each equation is
moved to the form ``X_j = 0``, multiplied by an independent random weight ``λ_j`` of
:data:`WEIGHT_BITS` bits, and the verifier checks the one equation ``Σ λ_j·X_j = 0``, which is
a single multi-scalar multiplication over about ``4 + 4·width`` points per row (``u``, ``h``,
``B``, ``B'``, ``w``, ``w'``; :meth:`Group.vartime_msm`, Pippenger/Straus in the native core).
Soundness: the group has prime order q > 2**WEIGHT_BITS. If some ``X_j ≠ 0``, fix every other
weight; the sum is an affine function ``λ_j·X_j + Z`` of ``λ_j`` alone, and since ``X_j`` has
order q, at most one residue of ``λ_j`` mod q makes it zero, hence at most one of the
2**WEIGHT_BITS equally likely values. A false statement passes with probability at most
2**-WEIGHT_BITS (BGR98, Lemma 3.3 for prime-order groups), and a true one always passes (the
combination of zeros is zero). The weights come from the injected ``rng`` (default: the OS
CSPRNG) through one 256-bit seed expanded with SHAKE-256, and are drawn after the proof is
fixed, so a prover cannot adapt to them. Every element was validated into the group by its
decoder, so no small-subgroup component can hide from the weights.

When the batch check fails, :func:`verify_shuffle_per_equation` (the reference: one
multiplication per term, each equation on its own, exactly the previous verifier) runs to name
the equation and the index that fail, so both verifiers accept and reject the same inputs with
the same errors; ``tests/unit/test_shuffle_batch.py`` holds them to that.

Rows are cut into ``workers`` chunks that the injected ``mapper`` runs (:mod:`crypto.executor`);
each chunk computes its share of the MSM. Verification is variable time: it handles public data
only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from crypto.elgamal import Ciphertext, PublicKey
from crypto.errors import InvalidElement, InvalidProof, MalformedInput
from crypto.executor import Mapper, starmap
from crypto.groups.base import RNG, SYSTEM_RNG, Element, Group
from crypto.shuffle.codec import ShuffleProof
from crypto.shuffle.session import (
    Columns,
    ShuffleSession,
    _batching,
    _challenge,
    _encode_chunk,
    _list_bytes,
    _parts,
    _pool,
)
from crypto.verificatum import codec, columns_of
from crypto.verificatum.bytetree import node_header

#: Bits of each random weight of the batch test: a false statement passes with probability at
#: most 2**-WEIGHT_BITS.
WEIGHT_BITS = 128


# --- chunks (top level so that they pickle) ------------------------------------------------------
def _verifier_chunk(
    group: Group,
    lo: int,
    v: int,
    e: list[int],
    u: list[Element],
    in_alpha: Columns,
    in_beta: Columns,
    k_e: list[int],
    h: list[Element],
    out_alpha: Columns,
    out_beta: Columns,
    b_chain: list[Element],
    b_prime: list[Element],
    k_b: list[int],
) -> tuple[Element, list[Element], list[Element], Element, list[Element], list[Element], int]:
    """Partial sums for (1) and (5) over a chunk, and equation (2) for each of its rows
    (``b_chain`` starts at B_{lo-1}); returns the first failing index of (2), or -1."""
    a_part = group.sum(group.batch_mul(u, e))
    f_alpha = [group.sum(group.batch_mul(col, e)) for col in in_alpha]
    f_beta = [group.sum(group.batch_mul(col, e)) for col in in_beta]
    h_part = group.sum(group.batch_mul(h, k_e))
    w_alpha = [group.sum(group.batch_mul(col, k_e)) for col in out_alpha]
    w_beta = [group.sum(group.batch_mul(col, k_e)) for col in out_beta]
    # (2)  v·B_i + B'_i = k_B,i·g + k_E,i·B_{i-1}
    lhs = group.batch_add(group.batch_mul(b_chain[1:], [v] * len(k_b)), b_prime)
    rhs = group.batch_add(group.batch_base_mul(k_b), group.batch_mul(b_chain[:-1], k_e))
    first = group.first_unequal(lhs, rhs)
    bad = -1 if first < 0 else lo + first
    return a_part, f_alpha, f_beta, h_part, w_alpha, w_beta, bad


def _batch_chunk(
    group: Group,
    v: int,
    lam: tuple[int, int, int, int],
    lam5: tuple[list[int], list[int]],
    t: list[int],
    e: list[int],
    k_e: list[int],
    k_b: list[int],
    last: bool,
    u: list[Element],
    h: list[Element],
    b_vals: list[Element],
    b_prime: list[Element],
    in_alpha: Columns,
    in_beta: Columns,
    out_alpha: Columns,
    out_beta: Columns,
) -> tuple[Element, int]:
    """A chunk's share of the batch MSM: the row terms of ``Σ λ_j·X_j`` for rows lo..hi-1, and
    the chunk's part ``Σ t_i·k_B,i`` of the coefficient of g. ``t`` and ``k_e`` hold one more
    entry (row hi) unless the chunk is the ``last``."""
    q = group.order
    lam1, lam3, lam4, _ = lam
    m = len(e)
    a1, a3 = lam1 * v % q, lam3 * v % q
    s_u = [(a1 * ei + a3) % q for ei in e]
    s_h = [(-lam1 * ke - a3) % q for ke in k_e[:m]]
    # B_i appears as v·B_i in row i and as −k_E,(i+1)·B_i in row i+1
    s_b = [(t[i] * v - t[i + 1] * k_e[i + 1]) % q for i in range(m - 1)]
    s_b.append((t[m - 1] * v + (lam4 * v if last else -t[m] * k_e[m])) % q)
    points: list[Element] = [*u, *h, *b_vals, *b_prime]
    scalars: list[int] = [*s_u, *s_h, *s_b, *t[:m]]
    ve = [v * ei % q for ei in e]
    for cols, weights in ((in_alpha, lam5[0]), (in_beta, lam5[1])):
        for col, lk in zip(cols, weights, strict=True):
            points.extend(col)
            scalars.extend(lk * x % q for x in ve)
    for cols, weights in ((out_alpha, lam5[0]), (out_beta, lam5[1])):
        for col, lk in zip(cols, weights, strict=True):
            points.extend(col)
            scalars.extend(-lk * ke % q for ke in k_e[:m])
    kb_part = sum(ti * kb for ti, kb in zip(t, k_b, strict=False)) % q
    return group.vartime_msm(points, scalars), kb_part


# --- the statement -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Statement:
    """Everything both verifiers need once the statement is checked and hashed."""

    group: Group
    pk: PublicKey
    proof: ShuffleProof
    n: int
    width: int
    h: list[Element]
    in_cols: tuple[Columns, Columns]
    out_cols: tuple[Columns, Columns]
    e: list[int]
    v: int
    parts: list[tuple[int, int]]


def _check_statement(
    session: ShuffleSession,
    pk: PublicKey,
    inputs: Sequence[Ciphertext],
    outputs: Sequence[Ciphertext],
    proof: ShuffleProof,
) -> tuple[int, int]:
    """Shape, group and identity checks of a statement and proof; returns (N, width)."""
    group = session.group
    if pk.group.name != group.name or proof.group.name != group.name:
        raise MalformedInput("shuffle proof: public key, proof and session are in different groups")
    if group.is_identity(pk.y):
        raise InvalidElement("public key: y is the identity")
    n = len(inputs)
    if n < 1:
        raise MalformedInput("shuffle: the input list is empty")
    if len(outputs) != n:
        raise MalformedInput(f"shuffle: {len(outputs)} outputs for {n} inputs")
    width = inputs[0].width
    for what, cts in (("input", inputs), ("output", outputs)):
        for i, ct in enumerate(cts):
            if not isinstance(ct, Ciphertext) or ct.width != width:
                raise MalformedInput(f"shuffle: {what} {i} is not a ciphertext of width {width}")
    identity = group.identity
    for i, ct in enumerate(outputs):
        if identity in ct.alpha or identity in ct.beta:
            raise InvalidElement(f"shuffle: output {i} has the identity as a component")
    for name, seq in (
        ("u", proof.u),
        ("B", proof.B),
        ("B'", proof.B_prime),
        ("k_B", proof.k_B),
        ("k_E", proof.k_E),
    ):
        if len(seq) != n:
            raise MalformedInput(f"shuffle proof: {name} has {len(seq)} entries, expected {n}")
    if len(proof.k_F) != width or proof.F_prime.width != width:
        raise MalformedInput(f"shuffle proof: F' and k_F must have width {width}")
    for name, seq in (("u", proof.u), ("B", proof.B), ("B'", proof.B_prime)):
        if identity in seq:
            raise InvalidElement(f"shuffle proof: {name}[{seq.index(identity)}] is the identity")
    singles = {"A'": proof.A_prime, "C'": proof.C_prime, "D'": proof.D_prime}
    for k in range(width):
        singles[f"F'.u[{k}]"] = proof.F_prime.alpha[k]
        singles[f"F'.v[{k}]"] = proof.F_prime.beta[k]
    for name, x in singles.items():
        if group.is_identity(x):
            raise InvalidElement(f"shuffle proof: {name} is the identity")
    q = group.order
    scalars: list[tuple[str, Sequence[int]]] = [
        ("k_A", [proof.k_A]),
        ("k_B", proof.k_B),
        ("k_C", [proof.k_C]),
        ("k_D", [proof.k_D]),
        ("k_E", proof.k_E),
        ("k_F", proof.k_F),
    ]
    for name, values in scalars:
        for i, k in enumerate(values):
            if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k < q:
                raise MalformedInput(f"shuffle proof: {name}[{i}] is not a canonical scalar")
    return n, width


def _statement(
    session: ShuffleSession,
    pk: PublicKey,
    inputs: Sequence[Ciphertext],
    outputs: Sequence[Ciphertext],
    proof: ShuffleProof,
    workers: int,
    mapper: Mapper,
) -> _Statement:
    """Check the statement's shape, then recompute ``e`` and ``v`` by Fiat–Shamir (§5.2)."""
    group = session.group
    n, width = _check_statement(session, pk, inputs, outputs, proof)
    q = group.order
    c = codec(group)
    h = session.generators(n)
    in_cols = columns_of(inputs, width)
    out_cols = columns_of(outputs, width)
    parts = _parts(_pool(workers, n), n)
    # byte trees of u, w, w', B, B' (for s and v), in parallel
    lists = [list(proof.u), *in_cols[0], *in_cols[1], *out_cols[0], *out_cols[1],
             list(proof.B), list(proof.B_prime)]
    lists_bt: list[list[bytes]] = [[] for _ in lists]
    args0 = [(group, [x[lo:hi] for x in lists]) for lo, hi in parts]
    for chunk_lists in starmap(mapper, _encode_chunk, args0):
        for acc, part in zip(lists_bt, chunk_lists, strict=True):
            acc.append(part)
    joined = [b"".join(x) for x in lists_bt]
    del lists_bt  # the pieces, now copied into ``joined`` (memory at 1M rows)
    w2 = 2 * width
    s, e_raw = _batching(
        session,
        pk,
        width,
        node_header(n) + joined[0],
        _list_bytes(n, joined[1 : 1 + width], joined[1 + width : 1 + w2]),
        _list_bytes(n, joined[1 + w2 : 1 + w2 + width], joined[1 + w2 + width : 1 + 2 * w2]),
    )
    commitment = b"".join(
        [
            node_header(6),
            node_header(n),
            joined[-2],
            c.point(proof.A_prime),
            node_header(n),
            joined[-1],
            c.point(proof.C_prime),
            c.point(proof.D_prime),
            c.ciphertext(proof.F_prime),
        ]
    )
    v = _challenge(session, s, commitment)
    return _Statement(
        group, pk, proof, n, width, h, in_cols, out_cols, [x % q for x in e_raw], v, parts
    )


# --- the batch verifier --------------------------------------------------------------------------
def _weights(rng: RNG, count: int) -> list[int]:
    """``count`` independent WEIGHT_BITS-bit weights from one 256-bit seed drawn from ``rng``
    (SHAKE-256; as unpredictable to the prover as the seed)."""
    seed = rng.randrange(0, 1 << 256).to_bytes(32, "big")
    size = WEIGHT_BITS // 8
    raw = hashlib.shake_256(b"mixvote/shuffle-batch-weights/" + seed).digest(size * count)
    return [int.from_bytes(raw[i : i + size], "big") for i in range(0, size * count, size)]


#: Rows per MSM of the batch test: large enough that Pippenger is at full speed (its rate per
#: point barely grows beyond a few hundred thousand points), small enough that the scalars and
#: point columns of one MSM stay near 100 MB whatever N is (a chunk of a process pool too).
MSM_ROWS = 1 << 16


def _pieces(parts: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The chunks cut further into ranges of at most MSM_ROWS rows."""
    return [
        (lo, min(lo + MSM_ROWS, hi)) for a, hi in parts for lo in range(a, hi, MSM_ROWS)
    ]


def _batch_holds(st: _Statement, rng: RNG, mapper: Mapper) -> bool:
    """The small-exponent batch test of all equations (module docstring): one MSM."""
    group, proof, n, width, v, e = st.group, st.proof, st.n, st.width, st.v, st.e
    q = group.order
    if q <= 1 << WEIGHT_BITS:
        raise ValueError(f"{group.name}: the group order is too small for the batch test")
    weights = _weights(rng, n + 3 + 2 * width)
    t = weights[:n]
    lam1, lam3, lam4 = weights[n : n + 3]
    lam5a = weights[n + 3 : n + 3 + width]
    lam5b = weights[n + 3 + width :]
    k_e = list(proof.k_E)
    u, b_vals, b_prime, h = list(proof.u), list(proof.B), list(proof.B_prime), st.h
    (in_a, in_b), (out_a, out_b) = st.in_cols, st.out_cols
    args = [
        (
            group,
            v,
            (lam1, lam3, lam4, 0),
            (lam5a, lam5b),
            t[lo : hi + 1],
            e[lo:hi],
            k_e[lo : hi + 1],
            list(proof.k_B[lo:hi]),
            hi == n,
            u[lo:hi],
            h[lo:hi],
            b_vals[lo:hi],
            b_prime[lo:hi],
            [col[lo:hi] for col in in_a],
            [col[lo:hi] for col in in_b],
            [col[lo:hi] for col in out_a],
            [col[lo:hi] for col in out_b],
        )
        for lo, hi in _pieces(st.parts)
    ]
    results = starmap(mapper, _batch_chunk, args)
    e_prod = 1
    for x in e:
        e_prod = e_prod * x % q
    kb_sum = sum(r[1] for r in results) % q
    k_f = proof.k_F
    g_coef = (
        -lam1 * proof.k_A
        - kb_sum
        - lam3 * proof.k_C
        - lam4 * proof.k_D
        + sum(lk * kf for lk, kf in zip(lam5a, k_f, strict=True))
    ) % q
    y_coef = sum(lk * kf for lk, kf in zip(lam5b, k_f, strict=True)) % q
    # h_0 = B_(-1) in row 0 of (2), and −(∏ e_i)·h_0 in (4)
    h0_coef = (-t[0] * k_e[0] - lam4 * v * e_prod) % q
    points = [
        *(r[0] for r in results),
        group.generator,
        st.pk.y,
        h[0],
        proof.A_prime,
        proof.C_prime,
        proof.D_prime,
        *proof.F_prime.alpha,
        *proof.F_prime.beta,
    ]
    scalars = [1] * len(results) + [g_coef, y_coef, h0_coef, lam1, lam3, lam4, *lam5a, *lam5b]
    return group.is_identity(group.vartime_msm(points, scalars))


def verify_shuffle(
    session: ShuffleSession,
    pk: PublicKey,
    inputs: Sequence[Ciphertext],
    outputs: Sequence[Ciphertext],
    proof: ShuffleProof,
    workers: int = 1,
    mapper: Mapper = map,
    rng: RNG | None = None,
) -> None:
    """Check a proof that ``outputs`` is a re-encryption shuffle of ``inputs`` (§5.3), all
    equations at once by the small-exponent batch test (module docstring; weights from ``rng``,
    default the OS CSPRNG).

    Returns None, or raises :class:`InvalidProof` naming the equation (and index) that fails,
    :class:`InvalidElement` for the identity where it is forbidden (proof elements, outputs, y),
    or :class:`MalformedInput` for wrong lengths, widths or non-canonical scalars. The errors
    are those of :func:`verify_shuffle_per_equation`, which runs when the batch check fails.
    """
    st = _statement(session, pk, inputs, outputs, proof, workers, mapper)
    if _batch_holds(st, rng or SYSTEM_RNG, mapper):
        return
    _check_equations(st, mapper)
    # Unreachable: when every equation holds, the weighted sum of zeros is zero.
    raise InvalidProof("shuffle proof: the batch check fails although every equation holds")


# --- the reference verifier ----------------------------------------------------------------------
def verify_shuffle_per_equation(
    session: ShuffleSession,
    pk: PublicKey,
    inputs: Sequence[Ciphertext],
    outputs: Sequence[Ciphertext],
    proof: ShuffleProof,
    workers: int = 1,
    mapper: Mapper = map,
) -> None:
    """The reference verifier: each equation on its own, one multiplication per term
    (8 variable-base + 1 fixed-base per row at width 1). Same contract as
    :func:`verify_shuffle`, deterministic; it names the first equation (and index) that fails."""
    _check_equations(_statement(session, pk, inputs, outputs, proof, workers, mapper), mapper)


def _check_equations(st: _Statement, mapper: Mapper) -> None:
    """Equations (1)–(5) one by one; raises InvalidProof naming the first that fails."""
    group, proof, pk, width, v, e, h = st.group, st.proof, st.pk, st.width, st.v, st.e, st.h
    q = group.order
    u, k_e, k_b, b_prime = list(proof.u), list(proof.k_E), list(proof.k_B), list(proof.B_prime)
    b_chain = [h[0], *proof.B]
    in_cols, out_cols = st.in_cols, st.out_cols
    args = [
        (
            group,
            lo,
            v,
            e[lo:hi],
            u[lo:hi],
            [col[lo:hi] for col in in_cols[0]],
            [col[lo:hi] for col in in_cols[1]],
            k_e[lo:hi],
            h[lo:hi],
            [col[lo:hi] for col in out_cols[0]],
            [col[lo:hi] for col in out_cols[1]],
            b_chain[lo : hi + 1],
            b_prime[lo:hi],
            k_b[lo:hi],
        )
        for lo, hi in st.parts
    ]
    results = starmap(mapper, _verifier_chunk, args)
    a_sum = group.sum([r[0] for r in results])
    f_alpha = [group.sum([r[1][k] for r in results]) for k in range(width)]
    f_beta = [group.sum([r[2][k] for r in results]) for k in range(width)]
    h_sum = group.sum([r[3] for r in results])
    w_alpha = [group.sum([r[4][k] for r in results]) for k in range(width)]
    w_beta = [group.sum([r[5][k] for r in results]) for k in range(width)]
    bad = [r[6] for r in results if r[6] >= 0]

    g_mul = group.base_mul
    # (1)  v·A + A' = k_A·g + Σ k_E,i·h_i,   A = Σ e_i·u_i
    if not group.equal(group.add(group.mul(a_sum, v), proof.A_prime),
                       group.add(g_mul(proof.k_A), h_sum)):
        raise InvalidProof("shuffle proof: equation (1) fails (A^v·A' != g^k_A·∏h_i^k_E,i)")
    # (2)  per i, checked in the chunks
    if bad:
        i = bad[0]
        raise InvalidProof(
            f"shuffle proof: equation (2) fails at i={i} (B_i^v·B'_i != g^k_B,i·B_(i-1)^k_E,i)"
        )
    # (3)  v·C + C' = k_C·g,   C = Σ u_i − Σ h_i
    c_val = group.sub(group.sum(u), group.sum(h))
    if not group.equal(group.add(group.mul(c_val, v), proof.C_prime), g_mul(proof.k_C)):
        raise InvalidProof("shuffle proof: equation (3) fails (C^v·C' != g^k_C)")
    # (4)  v·D + D' = k_D·g,   D = B_{N-1} − (∏ e_i)·h_0
    e_prod = 1
    for x in e:
        e_prod = e_prod * x % q
    d_val = group.sub(proof.B[-1], group.mul(h[0], e_prod))
    if not group.equal(group.add(group.mul(d_val, v), proof.D_prime), g_mul(proof.k_D)):
        raise InvalidProof("shuffle proof: equation (4) fails (D^v·D' != g^k_D)")
    # (5)  v·F + F' = −k_F·pk + Σ k_E,i·w'_i,   F = Σ e_i·w_i  (per component)
    for k in range(width):
        kf = proof.k_F[k]
        lhs_u = group.add(group.mul(f_alpha[k], v), proof.F_prime.alpha[k])
        lhs_v = group.add(group.mul(f_beta[k], v), proof.F_prime.beta[k])
        if not group.equal(lhs_u, group.sub(w_alpha[k], g_mul(kf))) or not group.equal(
            lhs_v, group.sub(w_beta[k], group.mul(pk.y, kf))
        ):
            raise InvalidProof(
                f"shuffle proof: equation (5) fails at width position {k} "
                "(F^v·F' != pk^-k_F·∏w'_i^k_E,i)"
            )
