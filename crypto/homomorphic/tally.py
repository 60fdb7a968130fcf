"""The homomorphic tally: aggregate the rows, decrypt only the aggregate with the nodes' threshold
decryption shares (:mod:`crypto.threshold`, unchanged), recover each count from ``count·g``.

* Aggregate (:func:`aggregate`): position ``k`` is ``(Σ_i alpha_{i,k}, Σ_i beta_{i,k})`` over the
  ``N`` counted ballots, an encryption of ``count_k·g`` (multiplicatively, the product of the
  ciphertexts). Anyone recomputes it from the published ballots (:func:`verify_aggregate`).
* Decryption: every node publishes :func:`crypto.threshold.decryption_share` of the one-element
  list ``[aggregate]`` (width ``n_choices``); :func:`crypto.threshold.combine` of ``t`` verified
  shares gives ``M_k = count_k·g``.
* Counts (:func:`vartime_discrete_logs`): baby-step giant-step (Shanks, 1971) bounded by ``N``:
  every counted ballot carries a valid 0/1 proof per choice, so ``0 <= count_k <= N``. With
  ``s = isqrt(N) + 1`` (so ``s² > N``), the baby steps are ``j·g`` for ``0 <= j < s`` (one table,
  shared by all choices) and the giant steps ``M_k − i·s·g`` for ``0 <= i < s``: at most ``2s``
  group additions per choice plus ``s`` for the table, and no loop beyond. A match
  ``i·s + j <= N`` is the count (unique, since ``N < s² <= q``); no match within the bound raises
  :class:`CountNotFound` (the aggregate or the shares are not what the ballots imply). ``N`` may be
  at most :data:`MAX_BOUND`.
* Verification (:func:`verify_tally`) checks a published count directly (``count_k·g == M_k`` and
  ``0 <= count_k <= N``), without a search.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from math import isqrt

from crypto.elgamal import Ciphertext
from crypto.errors import InvalidProof, MalformedInput
from crypto.groups.base import Element, Group
from crypto.threshold import DecryptionShare, combine, verify_decryption_share

MAX_BOUND = 2**32 - 1
"""Largest ballot count the search accepts (a baby-step table of 65,536 elements)."""


class CountNotFound(InvalidProof):
    """A decrypted aggregate is not ``count·g`` for any count within the bound."""


def aggregate(group: Group, ciphertexts: Sequence[Ciphertext]) -> Ciphertext:
    """The element-wise sum of the ballots' rows (all of one width). Raises ValueError for an
    empty list: with no ballot every count is 0 and there is nothing to decrypt."""
    if not ciphertexts:
        raise ValueError("aggregate: no ballots (every count is 0; nothing to decrypt)")
    width = ciphertexts[0].width
    for i, ct in enumerate(ciphertexts):
        if ct.width != width:
            raise MalformedInput(f"aggregate: ballot {i} has {ct.width} choices, ballot 0 {width}")
    alpha = tuple(group.sum([ct.alpha[k] for ct in ciphertexts]) for k in range(width))
    beta = tuple(group.sum([ct.beta[k] for ct in ciphertexts]) for k in range(width))
    return Ciphertext(alpha, beta)


def verify_aggregate(group: Group, ciphertexts: Sequence[Ciphertext], claimed: Ciphertext) -> None:
    """Recompute the aggregate; raises InvalidProof naming the first choice whose published
    ``alpha`` or ``beta`` differs (MalformedInput for a wrong width)."""
    expected = aggregate(group, ciphertexts)
    if claimed.width != expected.width:
        raise MalformedInput(
            f"aggregate: {claimed.width} choices, the ballots have {expected.width}"
        )
    for k in range(expected.width):
        for part, got, want in (
            ("alpha", claimed.alpha[k], expected.alpha[k]),
            ("beta", claimed.beta[k], expected.beta[k]),
        ):
            if got != want:
                raise InvalidProof(
                    f"aggregate: choice {k}: {part} is not the sum of the {len(ciphertexts)} "
                    "ballots' ciphertexts"
                )


def vartime_discrete_logs(group: Group, targets: Sequence[Element], bound: int) -> tuple[int, ...]:
    """For each target ``M``, the ``m`` in ``[0, bound]`` with ``m·g = M``, by baby-step giant-step
    (module docstring; variable time in the public counts). Raises CountNotFound, naming the
    position, when a target has no such ``m``."""
    if not isinstance(bound, int) or isinstance(bound, bool) or not 0 <= bound <= MAX_BOUND:
        raise ValueError(f"vartime_discrete_logs: bound must be an int in [0, {MAX_BOUND}]")
    s = isqrt(bound) + 1
    baby: dict[Element, int] = {}
    step = group.identity
    for j in range(s):
        baby[step] = j
        step = group.add(step, group.generator)
    minus_giant = group.neg(step)  # step is now s·g
    out = []
    for k, target in enumerate(targets):
        gamma = target
        found: int | None = None
        for i in range(s):
            hit = baby.get(gamma)
            if hit is not None:
                found = i * s + hit
                break
            gamma = group.add(gamma, minus_giant)
        if found is None or found > bound:
            raise CountNotFound(
                f"choice {k}: the decrypted aggregate is not count·g for any count in [0, {bound}]"
            )
        out.append(found)
    return tuple(out)


def decrypt_counts(
    group: Group,
    aggregate_ct: Ciphertext,
    shares: Mapping[int, DecryptionShare],
    t: int,
    n_ballots: int,
) -> tuple[int, ...]:
    """The count per choice from ``t`` (or more) **verified** decryption shares of
    ``[aggregate_ct]`` (:func:`crypto.threshold.combine`, then :func:`vartime_discrete_logs` with
    the bound ``n_ballots``)."""
    [row] = combine(group, [aggregate_ct], shares, t)
    return vartime_discrete_logs(group, row, n_ballots)


def verify_tally(
    group: Group,
    ciphertexts: Sequence[Ciphertext],
    aggregate_ct: Ciphertext,
    shares: Mapping[int, DecryptionShare],
    verification_keys: Mapping[int, Element],
    t: int,
    counts: Sequence[int],
    context: bytes,
) -> None:
    """Everything a verifier checks after the ballots: the published aggregate is the sum of the
    counted rows; every given share verifies against its node's key (``context`` as passed to
    :func:`crypto.threshold.decryption_share`); ``t`` of them combine to ``count_k·g`` for every
    published count, each within ``[0, len(ciphertexts)]``. Returns None or raises
    InvalidProof / InvalidElement / MalformedInput naming the choice or the node."""
    verify_aggregate(group, ciphertexts, aggregate_ct)
    for j, share in shares.items():
        if share.index != j:
            raise MalformedInput(f"decryption share filed under node {j} is from {share.index}")
        key = verification_keys.get(j)
        if key is None:
            raise MalformedInput(f"decryption share of node {j}: no such node")
        verify_decryption_share(group, key, [aggregate_ct], share, context)
    if len(shares) < t:
        raise InvalidProof(f"tally: {len(shares)} valid decryption shares, need t={t}")
    if len(counts) != aggregate_ct.width:
        raise MalformedInput(
            f"tally: {len(counts)} counts published for {aggregate_ct.width} choices"
        )
    n_ballots = len(ciphertexts)
    [row] = combine(group, [aggregate_ct], shares, t)
    for k, (count, decrypted) in enumerate(zip(counts, row, strict=True)):
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= n_ballots:
            raise InvalidProof(f"choice {k}: count {count!r} is outside [0, {n_ballots}]")
        if group.base_mul(count) != decrypted:
            raise InvalidProof(
                f"choice {k}: the published count {count} is not what the aggregate decrypts to"
            )


__all__ = [
    "MAX_BOUND",
    "CountNotFound",
    "aggregate",
    "decrypt_counts",
    "vartime_discrete_logs",
    "verify_aggregate",
    "verify_tally",
]
