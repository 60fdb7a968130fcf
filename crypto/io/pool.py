"""Process pools for the pure code's injected ``mapper`` (:mod:`crypto.executor`).

The pure ring cuts its work into chunks and hands them to a ``mapper``; :func:`process_map`
makes one that runs them over ``workers`` processes: the calling process computes the first
chunk and a cached ``concurrent.futures.ProcessPoolExecutor`` of ``workers - 1`` processes (fork
start method on Linux) the others; one pool per size and per process, reused across calls and
shut down at interpreter exit. Groups travel to the workers by name (``Group.__reduce__``),
elements and scalars as bytes and ints, so a chunk costs one pickle round trip. Results come
back in input order and equal those of the builtin ``map`` exactly.

This is one of the modules of :mod:`crypto.io`, the only ones in ``crypto/`` allowed processes,
threads and ``os``.
"""

from __future__ import annotations

import atexit
import functools
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from crypto.executor import Mapper, check_workers

R = TypeVar("R")

_POOLS: dict[tuple[int, int], ProcessPoolExecutor] = {}
_LOCK = threading.Lock()
_ATEXIT_REGISTERED = False


def exit_with_parent(parent: int) -> None:
    """Pool initializer (``initargs=(os.getpid(),)``): end this worker once ``parent``, the
    process that made the pool, is gone.

    A parent killed with SIGKILL (a crashed node, a killed server) cannot shut its pool down, and
    its workers would linger as orphans holding memory; each one watches its parent instead. The
    parent's pid is passed in rather than read here, because a spawned worker may only get here
    after its parent has already died.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


_NESTED_OK_PID = 0


def allow_nested_pools() -> None:
    """Let this pool worker start pools of its own (its helpers may not): for a worker whose
    one job is to spread a large task over helpers, such as the server's hop verification."""
    global _NESTED_OK_PID
    _NESTED_OK_PID = os.getpid()


def _in_worker() -> bool:
    # A pool worker never starts pools of its own (no fork bombs from nested pmap calls),
    # unless it was made for that (allow_nested_pools).
    return multiprocessing.parent_process() is not None and os.getpid() != _NESTED_OK_PID


def get_pool(workers: int) -> ProcessPoolExecutor:
    """The cached pool with ``workers`` processes for this process (created on first use)."""
    global _ATEXIT_REGISTERED
    if workers < 1:
        raise ValueError(f"get_pool: a pool needs at least 1 worker, got {workers}")
    key = (os.getpid(), workers)
    with _LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            context = (
                multiprocessing.get_context("fork")
                if "fork" in multiprocessing.get_all_start_methods()
                else None
            )
            pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=context,
                initializer=exit_with_parent,
                initargs=(os.getpid(),),
            )
            _POOLS[key] = pool
            if not _ATEXIT_REGISTERED:
                atexit.register(shutdown_pools)
                _ATEXIT_REGISTERED = True
        return pool


def shutdown_pools() -> None:
    """Shut down every pool this process created (also registered to run at exit)."""
    with _LOCK:
        mine = [k for k in _POOLS if k[0] == os.getpid()]
        pools = [_POOLS.pop(k) for k in mine]
    for pool in pools:
        pool.shutdown(wait=True, cancel_futures=True)


def pool_count() -> int:
    """How many pools this process holds (for tests and diagnostics)."""
    with _LOCK:
        return sum(1 for k in _POOLS if k[0] == os.getpid())


def pmap(fn: Callable[..., R], arg_tuples: Sequence[tuple[Any, ...]], workers: int) -> list[R]:
    """``[fn(*args) for args in arg_tuples]``, over a process pool when ``workers > 1``.

    ``fn`` must be a module-level function (it is pickled by reference). Results keep the order
    of ``arg_tuples``; an exception in a worker is re-raised here. A pool whose worker died is
    discarded, so the next call starts a fresh one.
    """
    if workers < 1:
        raise ValueError(f"pmap: workers must be at least 1, got {workers}")
    if workers == 1 or len(arg_tuples) <= 1 or _in_worker():
        return [fn(*args) for args in arg_tuples]
    # The calling process is one of the ``workers``: it computes the first task itself while a
    # pool of ``workers - 1`` processes takes the rest, so no core idles in a wait and a third
    # less data crosses process boundaries than with a pool of ``workers``.
    helpers = workers - 1
    pool = get_pool(helpers)
    try:
        futures = [pool.submit(fn, *args) for args in arg_tuples[1:]]
        first = fn(*arg_tuples[0])
        return [first, *(f.result() for f in futures)]
    except BrokenProcessPool:
        with _LOCK:
            if _POOLS.get((os.getpid(), helpers)) is pool:
                del _POOLS[(os.getpid(), helpers)]
        pool.shutdown(wait=False, cancel_futures=True)
        raise


def _pool_map(workers: int, fn: Callable[..., R], *iterables: Iterable[Any]) -> list[R]:
    return pmap(fn, list(zip(*iterables, strict=True)), workers)


def process_map(workers: int) -> Mapper:
    """A ``mapper`` for the pure code (:mod:`crypto.executor`): ``map`` over ``workers``
    processes (the caller and a cached pool of ``workers - 1``), the builtin ``map`` for 1."""
    check_workers(workers, "process_map")
    if workers == 1:
        return map
    return functools.partial(_pool_map, workers)
