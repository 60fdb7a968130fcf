"""Re-encryption shuffle and the prover of the Terelius–Wikström proof of a shuffle.

Written additively (the papers write the group multiplicatively: ``x·y`` ↔ ``x + y``,
``x^k`` ↔ ``k·x``). With generators ``h_0..h_{N-1}`` (:meth:`ShuffleSession.generators`), input
list ``w`` and output list ``w'``:

* shuffle: ``w'_i = w_{π(i)} + s_{π(i)}·pk`` (one exponent per width position);
* permutation commitment: ``u_{π(i)} = r_i·g + h_i``;
* batching vector ``e`` from the PRG seeded with ``s = RO(ρ || BT(g, h, u, pk, w, w'))``,
  ``e'_i = e_{π(i)}``;
* chain ``B_i = b_i·g + e'_i·B_{i-1}`` with ``B_{-1} = h_0``, computed in parallel as
  ``B_i = x_i·g + y_i·h_0`` (``x_i = b_i + e'_i x_{i-1}``, ``y_i = ∏_{j≤i} e'_j``);
* commitment ``(B, A', B', C', D', F')``, challenge ``v = RO(ρ || BT(leaf(s), commitment))``,
  reply ``(k_A, k_B, k_C, k_D, k_E, k_F)``; the verifier checks equations (1)–(5) of §5.3.

Costs per row at width 1 (var = variable-base multiplication, base = fixed-base): shuffle 1 var +
1 base; prover 5 var + 3 base. Everything works on flat lists of raw elements with the group's
batch operations; ``workers > 1`` cuts index ranges into chunks that the injected ``mapper`` runs
(the byte-tree encoding for Fiat–Shamir is done in the chunks too, so the serial part is small).
The prover's secret randomness is expanded from one 256-bit seed drawn from ``rng`` (SHAKE-256),
so proofs are reproducible with a pinned ``rng``; it relies on the backend's constant-time scalar
multiplication.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from crypto.elgamal import Ciphertext, PublicKey
from crypto.executor import Mapper, starmap
from crypto.groups.base import RNG, SYSTEM_RNG, Element, Group
from crypto.shuffle.codec import ShuffleProof
from crypto.shuffle.session import (
    Columns,
    ShuffleSession,
    _batching,
    _challenge,
    _check_list,
    _encode_chunk,
    _list_bytes,
    _parts,
    _pool,
    _trees,
)
from crypto.verificatum import codec, columns_of, rows_of
from crypto.verificatum.bytetree import node_header


@dataclass(frozen=True)
class ShuffleResult:
    """What :func:`shuffle` returns: the outputs and the secrets the prover needs."""

    outputs: tuple[Ciphertext, ...]
    permutation: tuple[int, ...]
    #: ``randomness[j]``: the width-many re-encryption exponents of *input* j.
    randomness: tuple[tuple[int, ...], ...]


# --- chunks (top level so that they pickle) ------------------------------------------------------
def _reencrypt_chunk(
    group: Group, y: Element, alpha: Columns, beta: Columns, s_cols: list[list[int]]
) -> tuple[Columns, Columns]:
    """Columns of ``w + s·pk`` for a chunk of rows (the group's batch re-encryption: constant
    time in the secret exponents ``s``)."""
    new_alpha: Columns = []
    new_beta: Columns = []
    for a, b, s in zip(alpha, beta, s_cols, strict=True):
        col_a, col_b = group.reencrypt_many(y, a, b, s)
        new_alpha.append(col_a)
        new_beta.append(col_b)
    return new_alpha, new_beta



def _commit_chunk(
    group: Group, r: list[int], h: list[Element], arrays: list[list[Element]]
) -> tuple[list[Element], list[bytes], list[bytes]]:
    """``r_i·g + h_i`` for a chunk (the permutation commitment, in output order), their byte
    trees one by one, and the concatenated byte trees of ``arrays`` (input and output columns)."""
    u_out = group.batch_add(group.batch_base_mul(r), h)
    blob, size = _trees(group, u_out), codec(group).point_size
    trees = [blob[i : i + size] for i in range(0, len(blob), size)]
    return u_out, trees, _encode_chunk(group, arrays)



def _prover_chunk(
    group: Group,
    h0: Element,
    xs: list[int],
    ys: list[int],
    beta: list[int],
    eps: list[int],
    h: list[Element],
    out_alpha: Columns,
    out_beta: Columns,
) -> tuple[list[Element], list[Element], Element, list[Element], list[Element], list[bytes]]:
    """For rows lo..hi-1 (``xs``/``ys`` start at lo-1): ``B``, ``B'``, the partial sums
    ``Σ ε_i h_i`` and ``Σ ε_i w'_i`` (per column), and the byte trees of ``B`` and ``B'``."""
    chain = group.batch_add(group.batch_base_mul(xs), group.batch_mul_fixed(h0, ys))
    b_vals = chain[1:]
    b_prime = group.batch_add(group.batch_base_mul(beta), group.batch_mul(chain[:-1], eps))
    a_part = group.sum(group.batch_mul(h, eps))
    f_alpha = [group.sum(group.batch_mul(col, eps)) for col in out_alpha]
    f_beta = [group.sum(group.batch_mul(col, eps)) for col in out_beta]
    return b_vals, b_prime, a_part, f_alpha, f_beta, _encode_chunk(group, [b_vals, b_prime])



# --- shuffle -------------------------------------------------------------------------------------
def _seed(rng: RNG) -> bytes:
    """256 bits from ``rng``, expanded by :func:`_expand_scalars`."""
    return rng.randrange(0, 1 << 256).to_bytes(32, "big")


def _expand_scalars(seed: bytes, label: str, count: int, q: int) -> list[int]:
    """``count`` scalars mod q from SHAKE-256(tag, label, seed), each from 128 extra bits (bias
    below 2**-128). One hash call instead of thousands of ``rng`` calls keeps the serial part of
    the parallel prover small; the result is as random as the 256-bit seed."""
    size = (q.bit_length() + 128 + 7) // 8
    xof = hashlib.shake_256(b"mixvote/shuffle-randomness/" + label.encode() + b"/" + seed)
    raw = xof.digest(size * count)
    return [int.from_bytes(raw[i : i + size], "big") % q for i in range(0, size * count, size)]


def _random_permutation(n: int, rng: RNG) -> list[int]:
    """Uniform permutation of range(n) (Fisher–Yates)."""
    perm = list(range(n))
    for i in range(n - 1, 0, -1):
        j = rng.randrange(0, i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    return perm


def shuffle(
    pk: PublicKey, ciphertexts: Sequence[Ciphertext], rng: RNG | None = None,
    workers: int = 1,
    mapper: Mapper = map,
) -> ShuffleResult:
    """Permute and re-encrypt: ``w'_i = w_{π(i)} + s_{π(i)}·pk`` (Verificatum's convention, §5.1).

    Randomness: the permutation is drawn from ``rng`` (Fisher–Yates), then a 256-bit seed from
    which the exponents ``s_j`` (``width`` per input j) are expanded with SHAKE-256.
    """
    rng = rng or SYSTEM_RNG
    group = pk.group
    width = _check_list(group, ciphertexts, "shuffle: ciphertexts")
    n = len(ciphertexts)
    perm = _random_permutation(n, rng)
    flat = _expand_scalars(_seed(rng), "s", n * width, group.order)
    randomness = tuple(tuple(flat[j * width : (j + 1) * width]) for j in range(n))
    alpha, beta = columns_of([ciphertexts[perm[i]] for i in range(n)], width)
    s_cols = [[randomness[perm[i]][k] for i in range(n)] for k in range(width)]
    new_alpha: Columns = [[] for _ in range(width)]
    new_beta: Columns = [[] for _ in range(width)]
    pool = _pool(workers, n)
    args = [
        (
            group,
            pk.y,
            [col[lo:hi] for col in alpha],
            [col[lo:hi] for col in beta],
            [col[lo:hi] for col in s_cols],
        )
        for lo, hi in _parts(pool, n)
    ]
    for chunk_alpha, chunk_beta in starmap(mapper, _reencrypt_chunk, args):
        for k in range(width):
            new_alpha[k].extend(chunk_alpha[k])
            new_beta[k].extend(chunk_beta[k])
    return ShuffleResult(tuple(rows_of(new_alpha, new_beta)), tuple(perm), randomness)


# --- prover --------------------------------------------------------------------------------------
def prove_shuffle(
    session: ShuffleSession,
    pk: PublicKey,
    inputs: Sequence[Ciphertext],
    outputs: Sequence[Ciphertext],
    permutation: Sequence[int],
    randomness: Sequence[Sequence[int]],
    rng: RNG | None = None,
    workers: int = 1,
    mapper: Mapper = map,
) -> ShuffleProof:
    """Prove that ``outputs`` is a shuffle of ``inputs`` (§5.2), given the permutation and the
    re-encryption exponents that :func:`shuffle` returned.

    Randomness: one 256-bit seed is drawn from ``rng`` and expanded with SHAKE-256 into
    ``r``, ``b``, ``β``, ``ε`` (N each) and ``α, γ, δ, φ_1..φ_w`` (uniform mod q).
    The outputs are not re-checked here: a wrong witness gives a proof that does not verify.
    """
    rng = rng or SYSTEM_RNG
    group = session.group
    if pk.group.name != group.name:
        raise ValueError("prove_shuffle: the public key is in another group than the session")
    width = _check_list(group, inputs, "prove_shuffle: inputs")
    n = len(inputs)
    if _check_list(group, outputs, "prove_shuffle: outputs") != width or len(outputs) != n:
        raise ValueError("prove_shuffle: outputs must have the length and width of the inputs")
    perm = [int(p) for p in permutation]
    if sorted(perm) != list(range(n)):
        raise ValueError("prove_shuffle: permutation is not a permutation of range(N)")
    if len(randomness) != n or any(len(s) != width for s in randomness):
        raise ValueError("prove_shuffle: randomness must hold N rows of width-many exponents")
    q = group.order
    c = codec(group)
    h = session.generators(n)

    seed = _seed(rng)
    r = _expand_scalars(seed, "r", n, q)
    b = _expand_scalars(seed, "b", n, q)
    beta = _expand_scalars(seed, "beta", n, q)
    eps = _expand_scalars(seed, "epsilon", n, q)
    alpha_r, gamma, delta, *phi = _expand_scalars(seed, "alpha,gamma,delta,phi", 3 + width, q)

    in_cols = columns_of(inputs, width)
    out_cols = columns_of(outputs, width)
    lists = [*in_cols[0], *in_cols[1], *out_cols[0], *out_cols[1]]
    pool = _pool(workers, n)
    parts = _parts(pool, n)
    # u_{π(i)} = r_i·g + h_i, and the byte trees of u, w and w' for the seed s
    u_out: list[Element] = []
    u_out_bt: list[bytes] = []
    lists_bt: list[list[bytes]] = [[] for _ in lists]
    args1 = [(group, r[lo:hi], h[lo:hi], [x[lo:hi] for x in lists]) for lo, hi in parts]
    for chunk, chunk_bt, chunk_lists in starmap(mapper, _commit_chunk, args1):
        u_out.extend(chunk)
        u_out_bt.extend(chunk_bt)
        for acc, part in zip(lists_bt, chunk_lists, strict=True):
            acc.append(part)
    # u in input order: u_{π(i)} = u_out[i]
    inverse = [0] * n
    for i, j in enumerate(perm):
        inverse[j] = i
    u = [u_out[i] for i in inverse]
    u_bt = [u_out_bt[i] for i in inverse]
    del u_out_bt
    joined = [b"".join(x) for x in lists_bt]
    del lists_bt  # the pieces, now copied into ``joined`` (memory at 1M rows)
    s, e = _batching(
        session,
        pk,
        width,
        node_header(n) + b"".join(u_bt),
        _list_bytes(n, joined[:width], joined[width : 2 * width]),
        _list_bytes(n, joined[2 * width : 3 * width], joined[3 * width :]),
    )
    e_prime = [e[j] % q for j in perm]
    # B_i = x_i·g + y_i·h_0; index 0 of xs/ys is B_{-1} = 0·g + 1·h_0
    xs, ys = [0] * (n + 1), [1] * (n + 1)
    for i in range(n):
        xs[i + 1] = (b[i] + e_prime[i] * xs[i]) % q
        ys[i + 1] = e_prime[i] * ys[i] % q
    args = [
        (
            group,
            h[0],
            xs[lo : hi + 1],
            ys[lo : hi + 1],
            beta[lo:hi],
            eps[lo:hi],
            h[lo:hi],
            [col[lo:hi] for col in out_cols[0]],
            [col[lo:hi] for col in out_cols[1]],
        )
        for lo, hi in parts
    ]
    chain: list[Element] = []
    chain_prime: list[Element] = []
    chain_bt: list[bytes] = []
    chain_prime_bt: list[bytes] = []
    a_parts: list[Element] = []
    f_alpha: Columns = [[] for _ in range(width)]
    f_beta: Columns = [[] for _ in range(width)]
    for b_vals, b_prime, a_part, fa, fb, bts in starmap(mapper, _prover_chunk, args):
        chain.extend(b_vals)
        chain_prime.extend(b_prime)
        chain_bt.append(bts[0])
        chain_prime_bt.append(bts[1])
        a_parts.append(a_part)
        for k in range(width):
            f_alpha[k].append(fa[k])
            f_beta[k].append(fb[k])
    a_prime = group.add(group.base_mul(alpha_r), group.sum(a_parts))
    c_prime = group.base_mul(gamma)
    d_prime = group.base_mul(delta)
    f_prime = Ciphertext(
        tuple(group.sub(group.sum(f_alpha[k]), group.base_mul(phi[k])) for k in range(width)),
        tuple(group.sub(group.sum(f_beta[k]), group.mul(pk.y, phi[k])) for k in range(width)),
    )
    commitment = b"".join(
        [
            node_header(6),
            node_header(n),
            *chain_bt,
            c.point(a_prime),
            node_header(n),
            *chain_prime_bt,
            c.point(c_prime),
            c.point(d_prime),
            c.ciphertext(f_prime),
        ]
    )
    v = _challenge(session, s, commitment)

    a = sum(ri * ei for ri, ei in zip(r, e_prime, strict=True)) % q
    c_sum = sum(r) % q
    d = xs[n]
    f = [sum(randomness[j][k] * e[j] for j in range(n)) % q for k in range(width)]
    return ShuffleProof(
        group,
        tuple(u),
        tuple(chain),
        a_prime,
        tuple(chain_prime),
        c_prime,
        d_prime,
        f_prime,
        k_A=(a * v + alpha_r) % q,
        k_B=tuple((bi * v + be) % q for bi, be in zip(b, beta, strict=True)),
        k_C=(c_sum * v + gamma) % q,
        k_D=(d * v + delta) % q,
        k_E=tuple((ep * v + ee) % q for ep, ee in zip(e_prime, eps, strict=True)),
        k_F=tuple((f[k] * v + phi[k]) % q for k in range(width)),
    )

