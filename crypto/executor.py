"""Injected parallelism: pure code cuts work into chunks and hands them to a ``map``.

A function that can spread its work takes ``workers`` (how many chunks to cut the rows into)
and ``mapper``, a callable with the signature of the builtin :func:`map` (``mapper(fn,
*iterables)``, results in input order). The default is the builtin ``map``: everything runs in
the calling process. The process pools that make ``workers > 1`` pay off live outside the pure
ring (:func:`crypto.io.pool.process_map`); a chunk function must then be a module-level function
(it is pickled by reference) whose arguments and results pickle cheaply.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from crypto.errors import MixvoteError

R = TypeVar("R")

#: ``mapper(fn, *iterables)``: the builtin ``map``, ``Executor.map`` or
#: :func:`crypto.io.pool.process_map`.
Mapper = Callable[..., Iterable[Any]]


def check_workers(workers: object, what: str) -> int:
    """``workers`` as a positive int, or ValueError naming ``what``."""
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"{what}: workers must be a positive integer, got {workers!r}")
    return workers


def chunked(n: int, workers: int) -> list[slice]:
    """Cut ``range(n)`` into ``min(workers, n)`` contiguous slices whose sizes differ by <= 1."""
    if n < 0:
        raise ValueError(f"chunked: n must be non-negative, got {n}")
    if workers < 1:
        raise ValueError(f"chunked: workers must be at least 1, got {workers}")
    parts = min(workers, n)
    if parts == 0:
        return []
    size, extra = divmod(n, parts)
    out: list[slice] = []
    start = 0
    for i in range(parts):
        stop = start + size + (1 if i < extra else 0)
        out.append(slice(start, stop))
        start = stop
    return out


def outcome(check: Callable[..., None], *args: Any) -> MixvoteError | None:
    """``check(*args)`` as a value, for a ``map`` over many checks: None, or the
    :class:`MixvoteError` it raised (anything else propagates). Module level, so that
    ``functools.partial(outcome, check)`` pickles to a worker."""
    try:
        check(*args)
    except MixvoteError as exc:
        return exc
    return None


def starmap(mapper: Mapper, fn: Callable[..., R], arg_tuples: Sequence[tuple[Any, ...]]) -> list[R]:
    """``[fn(*args) for args in arg_tuples]`` through ``mapper``, in order."""
    if not arg_tuples:
        return []
    return list(mapper(fn, *zip(*arg_tuples, strict=True)))
