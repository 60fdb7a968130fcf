"""Re-encryption shuffle and the Terelius–Wikström proof of a shuffle, in Verificatum's format.

The proof is the one of B. Terelius and D. Wikström, "Proofs of restricted shuffles"
(AFRICACRYPT 2010), made non-interactive with Fiat–Shamir exactly as the Verificatum Mix-Net 3.1.0
does it (D. Wikström, "How to implement a stand-alone verifier for the Verificatum mix-net"; our
write-up ``verificatum-format.md`` §5, whose names are used here). So on the curves Verificatum
knows, ``vmnv`` accepts our proofs and :func:`verify_shuffle` accepts Verificatum's.

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
1 base; prover 5 var + 3 base; verifier 8 var + 1 base. Everything works on flat lists of raw
elements with the group's batch operations; ``workers > 1`` splits index ranges over the process
pool of :mod:`crypto.parallel` (the byte-tree encoding for Fiat–Shamir is done in the workers too,
so the serial part is small). The prover's secret randomness is expanded from one 256-bit seed
drawn from ``rng`` (SHAKE-256), so proofs are reproducible with a pinned ``rng``. Verification is
variable time (it handles public data only); the prover relies on the backend's constant-time
scalar multiplication.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from crypto import bytetree
from crypto.bytetree import expect_node, leaf_bytes, node_header
from crypto.elgamal import Ciphertext, PublicKey
from crypto.errors import InvalidElement, InvalidProof, MalformedInput
from crypto.groups.base import RNG, SYSTEM_RNG, Element, Group
from crypto.parallel import chunked, pmap
from crypto.verificatum import (
    PRG,
    codec,
    columns_of,
    compute_rho,
    generators,
    group_string,
    hash_function,
    random_oracle,
    rows_of,
    validate_identifier,
)

Columns = list[list[Element]]

PROOF_FILES = ("PermutationCommitment", "PoSCommitment", "PoSReply")


# --- session -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ShuffleSession:
    """The Verificatum protocol parameters that enter the prefix ρ (§3).

    For a mixvote election, ``sid = "mixvote" + election_id`` (see :func:`election_session`).
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


def election_session(group: Group, election_id: str, auxsid: str = "default") -> ShuffleSession:
    """The session of a mixvote election: ``sid = "mixvote" + election_id``."""
    return ShuffleSession(group, "mixvote" + election_id, auxsid)


# --- values --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ShuffleResult:
    """What :func:`shuffle` returns: the outputs and the secrets the prover needs."""

    outputs: tuple[Ciphertext, ...]
    permutation: tuple[int, ...]
    #: ``randomness[j]``: the width-many re-encryption exponents of *input* j.
    randomness: tuple[tuple[int, ...], ...]


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


# --- process pool --------------------------------------------------------------------------------
@contextmanager
def _pool(workers: int, n: int) -> Iterator[int]:
    """The number of processes to use: ``workers`` when there are enough rows to be worth a
    round trip to the pool of :mod:`crypto.parallel`, else 1 (inline)."""
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    yield 1 if n < 64 * workers else workers


def _run(pool: int, fn: Callable[..., Any], args: Sequence[tuple[Any, ...]]) -> list[Any]:
    """``[fn(*a) for a in args]``, over ``pool`` processes."""
    return pmap(fn, args, pool)


def _parts(pool: int, n: int) -> list[tuple[int, int]]:
    """Index ranges: one per process."""
    return [(c.start, c.stop) for c in chunked(n, pool)]


# --- workers (top level so that they pickle) -----------------------------------------------------
def _reencrypt_chunk(
    group: Group, y: Element, alpha: Columns, beta: Columns, s_cols: list[list[int]]
) -> tuple[Columns, Columns]:
    """Columns of ``w + s·pk`` for a chunk of rows."""
    new_alpha = [
        group.batch_add(a, group.batch_base_mul(s)) for a, s in zip(alpha, s_cols, strict=True)
    ]
    new_beta = [
        group.batch_add(b, group.batch_mul_fixed(y, s)) for b, s in zip(beta, s_cols, strict=True)
    ]
    return new_alpha, new_beta


def _encode_chunk(group: Group, arrays: list[list[Element]]) -> list[bytes]:
    """The concatenated byte trees of the elements of each array (a chunk of rows)."""
    c = codec(group)
    return [b"".join(c.points(a)) for a in arrays]


def _commit_chunk(
    group: Group, r: list[int], h: list[Element], arrays: list[list[Element]]
) -> tuple[list[Element], list[bytes], list[bytes]]:
    """``r_i·g + h_i`` for a chunk (the permutation commitment, in output order), their byte
    trees one by one, and the concatenated byte trees of ``arrays`` (input and output columns)."""
    u_out = group.batch_add(group.batch_base_mul(r), h)
    return u_out, codec(group).points(u_out), _encode_chunk(group, arrays)


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
    bad = -1
    for i, (x, y) in enumerate(zip(lhs, rhs, strict=True)):
        if x != y:
            bad = lo + i
            break
    return a_part, f_alpha, f_beta, h_part, w_alpha, w_beta, bad


# --- shuffle -------------------------------------------------------------------------------------
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
    pk: PublicKey, ciphertexts: Sequence[Ciphertext], rng: RNG | None = None, workers: int = 1
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
    with _pool(workers, n) as pool:
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
        for chunk_alpha, chunk_beta in _run(pool, _reencrypt_chunk, args):
            for k in range(width):
                new_alpha[k].extend(chunk_alpha[k])
                new_beta[k].extend(chunk_beta[k])
    return ShuffleResult(tuple(rows_of(new_alpha, new_beta)), tuple(perm), randomness)


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
    with _pool(workers, n) as pool:
        parts = _parts(pool, n)
        # u_{π(i)} = r_i·g + h_i, and the byte trees of u, w and w' for the seed s
        u_out: list[Element] = []
        u_out_bt: list[bytes] = []
        lists_bt: list[list[bytes]] = [[] for _ in lists]
        args1 = [(group, r[lo:hi], h[lo:hi], [x[lo:hi] for x in lists]) for lo, hi in parts]
        for chunk, chunk_bt, chunk_lists in _run(pool, _commit_chunk, args1):
            u_out.extend(chunk)
            u_out_bt.extend(chunk_bt)
            for acc, part in zip(lists_bt, chunk_lists, strict=True):
                acc.append(part)
        u: list[Element] = [b""] * n
        u_bt: list[bytes] = [b""] * n
        for i, j in enumerate(perm):
            u[j] = u_out[i]
            u_bt[j] = u_out_bt[i]
        joined = [b"".join(x) for x in lists_bt]
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
        for b_vals, b_prime, a_part, fa, fb, bts in _run(pool, _prover_chunk, args):
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
    if pk.y == group.identity:
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
        if group.identity in ct.alpha or group.identity in ct.beta:
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
            if x == group.identity:
                raise InvalidElement(f"shuffle proof: {name}[{i}] is the identity")
    singles = {"A'": proof.A_prime, "C'": proof.C_prime, "D'": proof.D_prime}
    for k in range(width):
        singles[f"F'.u[{k}]"] = proof.F_prime.alpha[k]
        singles[f"F'.v[{k}]"] = proof.F_prime.beta[k]
    for name, x in singles.items():
        if x == group.identity:
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
    with _pool(workers, n) as pool:
        parts = _parts(pool, n)
        # byte trees of u, w, w', B, B' (for s and v), in parallel
        lists = [u, *in_cols[0], *in_cols[1], *out_cols[0], *out_cols[1], b_chain[1:], b_prime]
        lists_bt: list[list[bytes]] = [[] for _ in lists]
        args0 = [(group, [x[lo:hi] for x in lists]) for lo, hi in parts]
        for chunk_lists in _run(pool, _encode_chunk, args0):
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
        results = _run(pool, _verifier_chunk, args)
    a_sum = group.sum([r[0] for r in results])
    f_alpha = [group.sum([r[1][k] for r in results]) for k in range(width)]
    f_beta = [group.sum([r[2][k] for r in results]) for k in range(width)]
    h_sum = group.sum([r[3] for r in results])
    w_alpha = [group.sum([r[4][k] for r in results]) for k in range(width)]
    w_beta = [group.sum([r[5][k] for r in results]) for k in range(width)]
    bad = [r[6] for r in results if r[6] >= 0]

    g_mul = group.base_mul
    # (1)  v·A + A' = k_A·g + Σ k_E,i·h_i,   A = Σ e_i·u_i
    if group.add(group.mul(a_sum, v), proof.A_prime) != group.add(g_mul(proof.k_A), h_sum):
        raise InvalidProof("shuffle proof: equation (1) fails (A^v·A' != g^k_A·∏h_i^k_E,i)")
    # (2)  per i, checked in the chunks
    if bad:
        i = bad[0]
        raise InvalidProof(
            f"shuffle proof: equation (2) fails at i={i} (B_i^v·B'_i != g^k_B,i·B_(i-1)^k_E,i)"
        )
    # (3)  v·C + C' = k_C·g,   C = Σ u_i − Σ h_i
    c_val = group.sub(group.sum(u), group.sum(h))
    if group.add(group.mul(c_val, v), proof.C_prime) != g_mul(proof.k_C):
        raise InvalidProof("shuffle proof: equation (3) fails (C^v·C' != g^k_C)")
    # (4)  v·D + D' = k_D·g,   D = B_{N-1} − (∏ e_i)·h_0
    e_prod = 1
    for x in e:
        e_prod = e_prod * x % q
    d_val = group.sub(proof.B[-1], group.mul(h[0], e_prod))
    if group.add(group.mul(d_val, v), proof.D_prime) != g_mul(proof.k_D):
        raise InvalidProof("shuffle proof: equation (4) fails (D^v·D' != g^k_D)")
    # (5)  v·F + F' = −k_F·pk + Σ k_E,i·w'_i,   F = Σ e_i·w_i  (per component)
    for k in range(width):
        kf = proof.k_F[k]
        lhs_u = group.add(group.mul(f_alpha[k], v), proof.F_prime.alpha[k])
        lhs_v = group.add(group.mul(f_beta[k], v), proof.F_prime.beta[k])
        if lhs_u != group.sub(w_alpha[k], g_mul(kf)) or lhs_v != group.sub(
            w_beta[k], group.mul(pk.y, kf)
        ):
            raise InvalidProof(
                f"shuffle proof: equation (5) fails at width position {k} "
                "(F^v·F' != pk^-k_F·∏w'_i^k_E,i)"
            )


# --- byte-tree files -----------------------------------------------------------------------------
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
