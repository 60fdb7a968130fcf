"""Shared Hypothesis strategies: scalars, group elements, payloads, permutations, ciphertexts.

Elements are drawn as k·g for a drawn scalar k (plus the identity where asked), so every drawn
element is a genuine member of the prime-order group. ``SLOW_GROUPS`` are the pure-Python
reference backends: property tests should use :func:`examples_for` to keep their example
counts modest there.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from crypto.groups import GROUPS, group
from crypto.groups.base import Element, Group

FAST_GROUPS: tuple[str, ...] = ("secp256k1", "ristretto255")
SLOW_GROUPS: tuple[str, ...] = tuple(name for name in GROUPS if name not in FAST_GROUPS)


def examples_for(name: str, fast: int = 60, slow: int = 12) -> int:
    """A modest ``max_examples`` for a property over group ``name``."""
    return fast if name in FAST_GROUPS else slow


def scalars(g: Group) -> st.SearchStrategy[int]:
    """Any scalar in [0, q), with the edge values 0, 1, q-1 drawn often."""
    return st.one_of(st.sampled_from([0, 1, 2, g.order - 1]), st.integers(0, g.order - 1))


def nonzero_scalars(g: Group) -> st.SearchStrategy[int]:
    """A scalar in [1, q)."""
    return st.one_of(st.sampled_from([1, 2, g.order - 1]), st.integers(1, g.order - 1))


def unreduced_scalars(g: Group) -> st.SearchStrategy[int]:
    """Integers outside [0, q) too (negative, multiples of q), for reduction checks."""
    return st.integers(-3 * g.order, 3 * g.order)


def elements(g: Group, *, allow_identity: bool = False) -> st.SearchStrategy[Element]:
    """A group element k·g (the identity only when ``allow_identity``)."""
    ks = scalars(g) if allow_identity else nonzero_scalars(g)
    return ks.map(g.base_mul)


def payloads(g: Group) -> st.SearchStrategy[bytes]:
    """A byte string that ``g.embed`` can carry."""
    return st.binary(min_size=0, max_size=g.embed_capacity)


def permutations(n: int) -> st.SearchStrategy[list[int]]:
    """A permutation of ``range(n)``."""
    return st.permutations(list(range(n)))


def group_names(*, fast_only: bool = False) -> st.SearchStrategy[str]:
    """A registered group name."""
    return st.sampled_from(FAST_GROUPS if fast_only else GROUPS)


def groups(*, fast_only: bool = False) -> st.SearchStrategy[Group]:
    """A registered group."""
    return group_names(fast_only=fast_only).map(group)


@st.composite
def ciphertexts(draw: Any, pk: Any, width: int = 1) -> Any:
    """An ElGamal ciphertext row of ``width`` under ``pk`` (a ``crypto.elgamal.PublicKey``),
    encrypting random group elements with non-zero randomness."""
    from crypto import elgamal

    g = pk.group
    messages = [draw(elements(g)) for _ in range(width)]
    randomness = [draw(nonzero_scalars(g)) for _ in range(width)]
    return elgamal.encrypt_with(pk, messages, randomness)
