"""``mixbench crypto``: throughput of the cryptographic core, phase by phase, against its floor.

Each per-ballot phase runs the library function the mix nodes and the server run
(:func:`crypto.shuffle.shuffle`, :func:`~crypto.shuffle.prove_shuffle`,
:func:`~crypto.shuffle.verify_shuffle`, :func:`crypto.threshold.decryption_share`,
:func:`~crypto.threshold.combine`) on ``N`` random ciphertexts of width ``w``, and reports
ciphertext rows per second. The micro phases (``mult``, ``fixed_mult``, ``add``, ``decode``) are
the group's batch operations, measured in the same process and run, and give the *floor* of each
per-ballot phase: the time its scalar multiplications alone would take,

    floor rows/s = workers / (base_count / fixed_mult_rate + var_count / mult_rate),

with the per-row operation counts of :data:`OPERATION_COUNTS`, counted from the code (the cost
notes at the top of ``crypto/shuffle/`` and in ``crypto/threshold.py``). A ratio of 1.0 means
the phase runs at the speed of its multiplications; what is left is additions, encodings,
hashing (Fiat–Shamir over the whole statement) and Python.

Operation counts per ciphertext row at width ``w`` (base = ``k·g`` with the fixed generator,
var = any other point, including ``k·y`` for the election key and ``k·h_0``):

* reencrypt (``shuffle``): ``w`` base (``s·g``) + ``w`` var (``s·y``);
* prove (``prove_shuffle``): 3 base (``r_i·g`` for ``u``, ``x_i·g`` for ``B``, ``β_i·g`` for
  ``B'``) + ``3 + 2w`` var (``y_i·h_0``, ``ε_i·B_(i-1)``, ``ε_i·h_i``, ``ε_i·w'_i`` per component);
* verify: 1 base (``k_B,i·g``) + ``4 + 4w`` var (``e_i·u_i``, ``k_E,i·h_i``, ``v·B_i``,
  ``k_E,i·B_(i-1)``, ``e_i·w_i`` and ``k_E,i·w'_i`` per component) — the per-term floor, what
  the reference ``verify_shuffle_per_equation`` does. ``verify_shuffle`` batches all equations
  into one multi-scalar multiplication over ``4 + 4w`` points per row, so it beats this floor;
  its own floor (the MSM rate per point) is in ``mixbench crypto --backends``;
* decrypt_share (``decryption_share``): ``2w`` var (``x_j·alpha`` and the batched
  Chaum–Pedersen proof's random linear combination of the alphas);
* combine (``combine`` of ``t`` shares): ``t·w`` var (``λ_j·D_j``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from crypto import group as get_group
from crypto.dkg import KeyShare
from crypto.elgamal import Ciphertext, PublicKey
from crypto.groups.base import Group
from crypto.shuffle import ShuffleSession, prove_shuffle, shuffle, verify_shuffle
from crypto.threshold import (
    combine,
    decryption_share,
    lagrange_at_zero,
    verify_decryption_share,
)

MICRO_PHASES = ("mult", "fixed_mult", "add", "decode")
ROW_PHASES = ("reencrypt", "prove", "verify", "decrypt_share", "combine")
PHASES = MICRO_PHASES + ROW_PHASES
ROW_KEYS = ("group", "ballots", "width", "workers", "phase", "per_second")


def operation_counts(phase: str, width: int, threshold: int = 2) -> tuple[int, int]:
    """(fixed-base, variable-base) scalar multiplications per ciphertext row of ``phase``
    (module docstring)."""
    w = width
    counts = {
        "reencrypt": (w, w),
        "prove": (3, 3 + 2 * w),
        "verify": (1, 4 + 4 * w),
        "decrypt_share": (0, 2 * w),
        "combine": (0, threshold * w),
    }
    if phase not in counts:
        raise ValueError(f"operation_counts: {phase!r} is not a per-ballot phase")
    return counts[phase]


OPERATION_COUNTS = {p: operation_counts(p, 1) for p in ROW_PHASES}
"""The counts at width 1, for the record."""


@dataclass(frozen=True)
class Row:
    """One measurement: ``per_second`` operations (micro phases) or ciphertext rows (others)."""

    group: str
    ballots: int
    width: int
    workers: int
    phase: str
    per_second: float

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ROW_KEYS}


PARALLEL_PHASES = ("reencrypt", "prove", "verify")
"""The phases that take ``workers`` (the threshold functions run on one core)."""


def floor_per_second(
    phase: str, width: int, rates: dict[str, float], workers: int = 1, threshold: int = 2
) -> float:
    """Rows/s if the phase did nothing but its scalar multiplications, spread over ``workers``
    (for the phases that use them)."""
    base, var = operation_counts(phase, width, threshold)
    seconds = base / rates["fixed_mult"] + var / rates["mult"]
    return (workers if phase in PARALLEL_PHASES else 1) / seconds


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def _best_rate(fn: Callable[[], Any], ops: int, repeats: int = 5) -> float:
    """Operations per second of ``fn`` (doing ``ops`` operations): the median of ``repeats``
    timings, which resists the other tenants of a shared machine better than one timing."""
    times = sorted(_timed(fn)[0] for _ in range(repeats))
    return _rate(ops, times[len(times) // 2])


def measure_micro(g: Group, count: int, rng: random.Random) -> dict[str, float]:
    """Operations per second of the group's batch operations on random inputs (one core: the
    group's own loops, no pool). ``count`` caps the batch; it shrinks so that one timing of a
    slow group stays near 0.1 s."""
    probe = [g.random_scalar(rng) for _ in range(32)]
    base_points = g.batch_base_mul(probe)
    seconds, _ = _timed(lambda: g.batch_mul(base_points, probe))
    count = max(32, min(count, int(0.1 * _rate(32, seconds))))
    scalars = [g.random_scalar(rng) for _ in range(count)]
    points = g.batch_base_mul([g.random_scalar(rng) for _ in range(count)])
    other = list(reversed(points))
    encoded = g.batch_encode(points)
    return {
        "mult": _best_rate(lambda: g.batch_mul(points, scalars), count),
        "fixed_mult": _best_rate(lambda: g.batch_base_mul(scalars), count),
        # additions are cheap: five batches per timing
        "add": _best_rate(lambda: [g.batch_add(points, other) for _ in range(5)], 5 * count),
        "decode": _best_rate(lambda: g.batch_decode(encoded), count),
    }


def random_ciphertexts(pk: PublicKey, n: int, width: int, rng: random.Random) -> list[Ciphertext]:
    """``n`` encryptions of random elements (fast: batch operations, randomness from ``rng``)."""
    g = pk.group
    total = n * width
    rs = [g.random_scalar(rng) for _ in range(total)]
    messages = g.batch_base_mul([g.random_scalar(rng) for _ in range(total)])
    alpha = g.batch_base_mul(rs)
    beta = g.batch_add(g.batch_mul_fixed(pk.y, rs), messages)
    return [
        Ciphertext(
            tuple(alpha[i * width : (i + 1) * width]), tuple(beta[i * width : (i + 1) * width])
        )
        for i in range(n)
    ]


def dealer_key_shares(g: Group, n: int, t: int, rng: random.Random) -> list[KeyShare]:
    """Shamir shares of a fresh key for the benchmark (a trusted dealer stands in for the DKG,
    whose output has the same shape: ``x_j = f(j)``, ``Y_j = x_j·g``, ``y = f(0)·g``)."""
    q = g.order
    coefficients = [g.random_scalar(rng) for _ in range(t)]
    xs = {j: sum(c * pow(j, k, q) for k, c in enumerate(coefficients)) % q for j in range(1, n + 1)}
    pk = PublicKey(g, g.base_mul(coefficients[0]))
    vkeys = {j: g.base_mul(x) for j, x in xs.items()}
    qualified = tuple(range(1, n + 1))
    return [KeyShare(j, xs[j], pk, vkeys, qualified) for j in range(1, n + 1)]


def bench_rows(
    group_name: str,
    ballots: int,
    width: int,
    workers: int,
    threshold: int = 2,
    seed: int = 1,
    rates: dict[str, float] | None = None,
    check: bool = True,
) -> tuple[list[Row], dict[str, float]]:
    """Measure every phase once for one configuration. Returns the rows (micro phases first) and
    the micro rates used for the floors (measured here unless ``rates`` is given).

    With ``check`` the outputs are checked (the proof verifies, every share verifies, the
    combination gives the plaintexts back): a benchmark of wrong code is worthless."""
    if ballots < 2 or width < 1 or workers < 1 or threshold < 1:
        raise ValueError("bench_rows: need ballots >= 2, width >= 1, workers >= 1, threshold >= 1")
    g = get_group(group_name)
    rng = random.Random(seed)
    if rates is None:
        rates = measure_micro(g, min(ballots * width, 2000), rng)
    shares = dealer_key_shares(g, max(threshold, 2), threshold, rng)
    pk = shares[0].public_key
    session = ShuffleSession(g, "mixbench")
    session.generators(ballots)  # derived once per election; not part of a hop's cost
    inputs = random_ciphertexts(pk, ballots, width, rng)

    per_row: dict[str, float] = {}
    seconds, result = _timed(lambda: shuffle(pk, inputs, rng, workers=workers))
    per_row["reencrypt"] = _rate(ballots, seconds)
    seconds, proof = _timed(
        lambda: prove_shuffle(
            session,
            pk,
            inputs,
            result.outputs,
            result.permutation,
            result.randomness,
            rng,
            workers=workers,
        )
    )
    per_row["prove"] = _rate(ballots, seconds)
    seconds, _ = _timed(
        lambda: verify_shuffle(session, pk, inputs, result.outputs, proof, workers=workers)
    )
    per_row["verify"] = _rate(ballots, seconds)
    outputs = list(result.outputs)
    context = b"mixbench"
    seconds, first = _timed(lambda: decryption_share(g, shares[0], outputs, context, rng))
    per_row["decrypt_share"] = _rate(ballots, seconds)
    dshares = {1: first}
    for ks in shares[1:threshold]:
        dshares[ks.index] = decryption_share(g, ks, outputs, context, rng)
    seconds, plain = _timed(lambda: combine(g, outputs, dshares, threshold))
    per_row["combine"] = _rate(ballots, seconds)
    if check:
        for j, share in dshares.items():
            verify_decryption_share(g, shares[j - 1].verification_keys[j], outputs, share, context)
        # the secret behind the dealer's shares, for the plaintext check only
        idx = [ks.index for ks in shares[:threshold]]
        x = sum(lagrange_at_zero(idx, ks.index, g.order) * ks.x_j for ks in shares[:threshold])
        expected = sorted(
            tuple(g.sub(b, g.mul(a, x)) for a, b in zip(ct.alpha, ct.beta, strict=True))
            for ct in inputs
        )
        if sorted(plain) != expected:
            raise AssertionError("mixbench: the mixed and decrypted list is not the input list")
    rows = [Row(group_name, ballots, width, workers, p, rates[p]) for p in MICRO_PHASES]
    rows += [Row(group_name, ballots, width, workers, p, per_row[p]) for p in ROW_PHASES]
    return rows, rates


def run_grid(
    groups: Sequence[str],
    ballots: Sequence[int],
    widths: Sequence[int],
    workers: Sequence[int],
    threshold: int = 2,
    seed: int = 1,
    progress: Callable[[str], None] | None = None,
) -> list[Row]:
    """Every combination. The micro rates are measured again right before each configuration,
    so that a floor and the phases it bounds see the same machine load."""
    rows: list[Row] = []
    for name in groups:
        for n in ballots:
            for w in widths:
                for k in workers:
                    if progress:
                        progress(f"{name} N={n} w={w} workers={k}")
                    rows += bench_rows(name, n, w, k, threshold, seed)[0]
    return rows


def format_table(rows: Sequence[Row], threshold: int = 2) -> str:
    """A plain-text table: rate, and for per-ballot phases the floor (from the micro rows of the
    same configuration) and the ratio to it; plus a ``shuffle+prove`` line per configuration
    (rows/s of the two together, as a node does them)."""
    head = f"{'group':<14}{'N':>8}{'w':>3}{'wk':>4}  {'phase':<14}{'per second':>13}"
    head += f"{'floor/s':>12}{'ratio':>7}"
    lines = [head, "-" * len(head)]
    by_config: dict[tuple[str, int, int, int], dict[str, float]] = {}
    for r in rows:
        by_config.setdefault((r.group, r.ballots, r.width, r.workers), {})[r.phase] = r.per_second
    for (name, n, w, k), phases in by_config.items():
        for phase in PHASES:
            if phase not in phases:
                continue
            value = phases[phase]
            line = f"{name:<14}{n:>8}{w:>3}{k:>4}  {phase:<14}{value:>13,.0f}"
            if phase in ROW_PHASES:
                fl = floor_per_second(phase, w, phases, k, threshold)
                line += f"{fl:>12,.0f}{value / fl:>7.2f}"
            lines.append(line)
        if "reencrypt" in phases and "prove" in phases:
            combined = 1 / (1 / phases["reencrypt"] + 1 / phases["prove"])
            fl = 1 / (
                1 / floor_per_second("reencrypt", w, phases, k)
                + 1 / floor_per_second("prove", w, phases, k)
            )
            lines.append(
                f"{name:<14}{n:>8}{w:>3}{k:>4}  {'shuffle+prove':<14}{combined:>13,.0f}"
                f"{fl:>12,.0f}{combined / fl:>7.2f}"
            )
    return "\n".join(lines)


# --- native core against the reference backends ---------------------------------------------------
@dataclass(frozen=True)
class BackendRates:
    """One backend of one group, on one core: the micro rates (operations/s), the
    multi-scalar multiplication rate (points/s) at ``msm_points`` points, and the proof phases
    (rows/s at ``proof_rows`` rows, width 1: ``shuffle+prove``, ``verify`` = the batch verifier,
    ``verify_per_equation`` = the reference verifier; empty when not measured)."""

    group: str
    backend: str
    rates: dict[str, float]
    msm_points: int
    msm_per_point: float
    proof_rows: int = 0
    proof: dict[str, float] | None = None

    def verify_floor(self, width: int = 1) -> tuple[float, float]:
        """Rows/s of ``verify_shuffle`` if it did nothing but (a) one scalar multiplication per
        term, as now, and (b) one MSM over all its terms, the new floor: the verification
        equations of a row have ``4 + 4w`` variable-base terms (the ``k_B,i·g`` terms of all rows
        fold into one)."""
        base, var = operation_counts("verify", width)
        per_term = base / self.rates["fixed_mult"] + var / self.rates["mult"]
        return 1 / per_term, self.msm_per_point / var


def bench_proof(g: Group, n: int, rng: random.Random) -> dict[str, float]:
    """Rows/s of shuffle+prove, of the batch verifier and of the per-equation verifier on one
    core for ``n`` random rows of width 1 (the generators are derived before the clock starts,
    as ``bench_rows`` does; the proof is checked by both verifiers)."""
    from crypto.shuffle import verify_shuffle_per_equation

    pk = PublicKey(g, g.base_mul(g.random_scalar(rng)))
    session = ShuffleSession(g, "mixbenchBackends")
    session.generators(n)
    inputs = random_ciphertexts(pk, n, 1, rng)
    t_shuffle, result = _timed(lambda: shuffle(pk, inputs, rng))
    args = (session, pk, inputs, result.outputs)
    t_prove, proof = _timed(
        lambda: prove_shuffle(*args, result.permutation, result.randomness, rng)
    )
    t_verify, _ = _timed(lambda: verify_shuffle(*args, proof))
    t_reference, _ = _timed(lambda: verify_shuffle_per_equation(*args, proof))
    return {
        "shuffle+prove": _rate(n, t_shuffle + t_prove),
        "verify": _rate(n, t_verify),
        "verify_per_equation": _rate(n, t_reference),
    }


def msm_rate(g: Group, n: int, rng: random.Random, repeats: int = 3) -> float:
    """Points/s of ``g.vartime_msm`` over ``n`` points with random scalars. The points are 1,000
    random points repeated (the cost of an MSM does not depend on which points it adds)."""
    distinct = g.batch_base_mul([g.random_scalar(rng) for _ in range(min(n, 1000))])
    points = [distinct[i % len(distinct)] for i in range(n)]
    scalars = [g.random_scalar(rng) for _ in range(n)]
    return _best_rate(lambda: g.vartime_msm(points, scalars), n, repeats)


def compare_backends(
    names: Sequence[str],
    msm_points: int = 100_000,
    micro_count: int = 2000,
    seed: int = 1,
    progress: Callable[[str], None] | None = None,
    proof_rows: int = 0,
) -> list[BackendRates]:
    """Measure every backend of each group in ``names`` side by side, on one core (the native
    pool set to one thread). The native MSM runs at ``msm_points`` points; a slow reference
    backend's MSM (a loop of multiplications, linear in N) is timed on fewer points, so that one
    timing stays near half a second. With ``proof_rows`` the proof phases run too
    (:func:`bench_proof`) on at most that many rows, fewer where the group's multiplications
    are slow (about 20 s of proving at most)."""
    from crypto.groups import BACKENDS, group, native

    native.set_threads(1)
    out: list[BackendRates] = []
    for name in names:
        for backend in BACKENDS:
            try:
                g = group(name, backend)
            except (ValueError, ImportError):
                continue  # a group without this backend, or no native core on this machine
            if progress:
                progress(f"{name} ({backend})")
            rng = random.Random(seed)
            rates = measure_micro(g, micro_count, rng)
            n = msm_points
            if backend != "native":
                n = max(64, min(n, int(0.5 * rates["mult"])))
            msm = msm_rate(g, n, rng)
            rows = min(proof_rows, max(64, int(20 * rates["mult"] / 8)))
            proof = bench_proof(g, rows, rng) if proof_rows else None
            out.append(BackendRates(name, backend, rates, n, msm, rows, proof))
    return out


def format_backends(results: Sequence[BackendRates], width: int = 1) -> str:
    """Native and reference side by side: micro rates, MSM points/s, and the verification floor
    per row at ``width`` with one multiplication per term and with one MSM."""
    head = (
        f"{'group':<14}{'backend':<11}{'mult/s':>10}{'fixed/s':>10}{'add/s':>11}{'decode/s':>11}"
        f"{'MSM pts/s':>11}{'at N':>9}{'verify floor rows/s: mult':>27}{'MSM':>9}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        by_mult, by_msm = r.verify_floor(width)
        lines.append(
            f"{r.group:<14}{r.backend:<11}{r.rates['mult']:>10,.0f}{r.rates['fixed_mult']:>10,.0f}"
            f"{r.rates['add']:>11,.0f}{r.rates['decode']:>11,.0f}{r.msm_per_point:>11,.0f}"
            f"{r.msm_points:>9,}{by_mult:>27,.0f}{by_msm:>9,.0f}"
        )
    measured = [r for r in results if r.proof]
    if measured:
        head = (
            f"{'group':<14}{'backend':<11}{'rows':>9}{'shuffle+prove/s':>17}{'verify/s':>10}"
            f"{'of MSM floor':>14}{'per-equation/s':>16}{'batch gain':>12}"
        )
        lines += ["", "proofs at width 1, one core (verify = batch MSM verifier):", head]
        lines.append("-" * len(head))
        for r in measured:
            assert r.proof is not None
            p, floor = r.proof, r.verify_floor(1)[1]
            lines.append(
                f"{r.group:<14}{r.backend:<11}{r.proof_rows:>9,}{p['shuffle+prove']:>17,.0f}"
                f"{p['verify']:>10,.0f}{p['verify'] / floor:>14.2f}"
                f"{p['verify_per_equation']:>16,.0f}{p['verify'] / p['verify_per_equation']:>12.2f}"
            )
    return "\n".join(lines)
