"""crypto.io.pool: chunking, in-process fallback, pooled batch operations equal the serial ones."""

from __future__ import annotations

import os
import random
import time

import pytest

from crypto import executor
from crypto.groups import group
from crypto.io import pool as parallel


def _square(x: int) -> int:
    return x * x


def _pid(_: int) -> int:
    return os.getpid()


def _fail(x: int) -> int:
    raise ValueError(f"bad input {x}")


@pytest.mark.parametrize(("n", "workers"), [(0, 3), (1, 4), (10, 3), (10, 10), (7, 2), (100, 7)])
def test_chunked_covers_range_in_order(n: int, workers: int) -> None:
    chunks = executor.chunked(n, workers)
    assert len(chunks) == min(n, workers)
    covered = [i for c in chunks for i in range(n)[c]]
    assert covered == list(range(n))
    sizes = [c.stop - c.start for c in chunks]
    assert not sizes or max(sizes) - min(sizes) <= 1


def test_chunked_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="workers"):
        executor.chunked(5, 0)
    with pytest.raises(ValueError, match="non-negative"):
        executor.chunked(-1, 2)


def test_pmap_in_process_with_one_worker() -> None:
    before = parallel.pool_count()
    assert parallel.pmap(_pid, [(i,) for i in range(4)], 1) == [os.getpid()] * 4
    assert parallel.pool_count() == before
    with pytest.raises(ValueError, match="workers"):
        parallel.pmap(_square, [(1,)], 0)


def test_pmap_uses_a_reused_pool() -> None:
    args = [(i,) for i in range(20)]
    assert parallel.pmap(_square, args, 3) == [i * i for i in range(20)]
    pool = parallel.get_pool(2)  # workers=3: the caller and a pool of two helpers
    pids = parallel.pmap(_pid, [(i,) for i in range(8)], 3)
    # the caller computes the first task itself, helpers the rest
    assert pids[0] == os.getpid() and os.getpid() not in pids[1:]
    assert len(set(pids[1:])) >= 1
    assert parallel.get_pool(2) is pool  # cached, not created per call
    assert parallel.pool_count() >= 1


def test_pmap_reraises_worker_errors() -> None:
    with pytest.raises(ValueError, match="bad input 3"):
        parallel.pmap(_fail, [(3,), (4,)], 2)


def _batch_base_mul(name: str, scalars: list[int]) -> list[bytes]:
    return group(name).batch_base_mul(scalars)


@pytest.mark.parametrize("name", ["secp256k1", "ristretto255", "P-256"])
def test_process_map_equals_serial(name: str) -> None:
    g = group(name)
    rng = random.Random(1)
    n = 12 if name == "P-256" else 40
    ks = [0] + [rng.randrange(g.order) for _ in range(n - 1)]
    chunks = [(name, ks[c]) for c in executor.chunked(n, 3)]
    serial = executor.starmap(map, _batch_base_mul, chunks)
    assert executor.starmap(parallel.process_map(3), _batch_base_mul, chunks) == serial
    assert [p for part in serial for p in part] == g.batch_base_mul(ks)
    assert parallel.process_map(1) is map
    assert executor.starmap(parallel.process_map(2), _batch_base_mul, []) == []
    with pytest.raises(ValueError, match="workers"):
        parallel.process_map(0)


def test_shutdown_pools_then_recreate() -> None:
    parallel.get_pool(2)
    parallel.shutdown_pools()
    assert parallel.pool_count() == 0
    assert parallel.pmap(_square, [(3,), (4,)], 2) == [9, 16]
    assert parallel.pool_count() == 1


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_workers_exit_when_their_parent_is_killed(method: str) -> None:
    # A node or server killed with SIGKILL cannot shut its pool down; its workers must not linger.
    import subprocess
    import sys

    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import multiprocessing, os, signal, sys\n"
            "from concurrent.futures import ProcessPoolExecutor\n"
            "from crypto.io.pool import exit_with_parent\n"
            "if __name__ == '__main__':\n"
            f"    ctx = multiprocessing.get_context({method!r})\n"
            "    pool = ProcessPoolExecutor(\n"
            "        1, mp_context=ctx, initializer=exit_with_parent, initargs=(os.getpid(),)\n"
            "    )\n"
            "    print(pool.submit(os.getpid).result(), flush=True)\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    worker = int(parent.stdout.readline())
    parent.wait(30)
    assert_exits(worker, f"pool worker {worker} outlived its killed parent")


def test_a_worker_whose_parent_died_before_it_started_exits_too() -> None:
    # the parent dies while its spawned worker is still importing, before the initializer runs
    import subprocess
    import sys

    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import multiprocessing, os, signal\n"
            "from concurrent.futures import ProcessPoolExecutor\n"
            "from crypto.io.pool import exit_with_parent\n"
            "if __name__ == '__main__':\n"
            "    ctx = multiprocessing.get_context('spawn')\n"
            "    pool = ProcessPoolExecutor(\n"
            "        1, mp_context=ctx, initializer=exit_with_parent, initargs=(os.getpid(),)\n"
            "    )\n"
            "    pool.submit(os.getpid)\n"
            "    print(*pool._processes, flush=True)\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    (worker,) = map(int, parent.stdout.readline().split())
    parent.wait(30)
    assert_exits(worker, f"pool worker {worker} outlived its parent, which died before it started")


def assert_exits(pid: int, message: str, timeout: float = 15.0) -> None:
    """Wait (bounded) for process ``pid`` to end; else kill it and fail with ``message``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, 9)
    raise AssertionError(message)
