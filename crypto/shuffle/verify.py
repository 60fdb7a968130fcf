"""The verifier of the Terelius–Wikström proof of a shuffle (``verificatum-format.md`` §5.3).

Costs per row at width 1: 8 variable-base + 1 fixed-base multiplications. Rows are cut into
``workers`` chunks that the injected ``mapper`` runs (:mod:`crypto.executor`). Verification is
variable time: it handles public data only.
"""

from __future__ import annotations

from collections.abc import Sequence

from crypto.elgamal import Ciphertext, PublicKey
from crypto.errors import InvalidElement, InvalidProof, MalformedInput
from crypto.executor import Mapper, starmap
from crypto.groups.base import Element, Group
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



# --- verifier ------------------------------------------------------------------------------------
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
    for i, ct in enumerate(outputs):
        if any(group.is_identity(x) for x in (*ct.alpha, *ct.beta)):
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
        for i, x in enumerate(seq):
            if group.is_identity(x):
                raise InvalidElement(f"shuffle proof: {name}[{i}] is the identity")
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


def verify_shuffle(
    session: ShuffleSession,
    pk: PublicKey,
    inputs: Sequence[Ciphertext],
    outputs: Sequence[Ciphertext],
    proof: ShuffleProof,
    workers: int = 1,
    mapper: Mapper = map,
) -> None:
    """Check a proof that ``outputs`` is a re-encryption shuffle of ``inputs`` (§5.3).

    Returns None, or raises :class:`InvalidProof` naming the equation (and index) that fails,
    :class:`InvalidElement` for the identity where it is forbidden (proof elements, outputs, y),
    or :class:`MalformedInput` for wrong lengths, widths or non-canonical scalars.
    """
    group = session.group
    n, width = _check_statement(session, pk, inputs, outputs, proof)
    q = group.order
    c = codec(group)
    h = session.generators(n)
    in_cols = columns_of(inputs, width)
    out_cols = columns_of(outputs, width)
    u, k_e, k_b, b_prime = list(proof.u), list(proof.k_E), list(proof.k_B), list(proof.B_prime)
    b_chain = [h[0], *proof.B]
    pool = _pool(workers, n)
    parts = _parts(pool, n)
    # byte trees of u, w, w', B, B' (for s and v), in parallel
    lists = [u, *in_cols[0], *in_cols[1], *out_cols[0], *out_cols[1], b_chain[1:], b_prime]
    lists_bt: list[list[bytes]] = [[] for _ in lists]
    args0 = [(group, [x[lo:hi] for x in lists]) for lo, hi in parts]
    for chunk_lists in starmap(mapper, _encode_chunk, args0):
        for acc, part in zip(lists_bt, chunk_lists, strict=True):
            acc.append(part)
    joined = [b"".join(x) for x in lists_bt]
    w2 = 2 * width
    s, e_raw = _batching(
        session,
        pk,
        width,
        node_header(n) + joined[0],
        _list_bytes(n, joined[1 : 1 + width], joined[1 + width : 1 + w2]),
        _list_bytes(n, joined[1 + w2 : 1 + w2 + width], joined[1 + w2 + width : 1 + 2 * w2]),
    )
    e = [x % q for x in e_raw]
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
        for lo, hi in parts
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

