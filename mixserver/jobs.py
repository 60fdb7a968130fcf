"""CPU-heavy server work, run in a process pool (never on the IOLoop thread).

Each function takes and returns plain bytes/ints/strings so that it pickles cheaply; a failed
check raises its :class:`crypto.errors.MixvoteError`, which pickles back to the caller.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
import os
from collections.abc import Sequence

from crypto import group
from crypto.io import pool
from crypto.verify import check_hop, check_share

#: CPU priority of the server's verification processes relative to the server (higher = lower
#: priority): the IOLoop's process comes first, so it stays responsive while a hop is checked.
NICENESS = 5


def init_worker(parent: int) -> None:
    """Initializer of the server's verification pool (``initargs=(os.getpid(),)``).

    The worker exits with its parent (:func:`crypto.io.pool.exit_with_parent`), runs at a lower
    CPU priority than the IOLoop, and may itself spread one hop's per-row work over ``workers - 1``
    helper processes (:func:`crypto.io.pool.pmap` runs serially in any pool worker, to prevent
    nested pools; a verification worker is the one exception, and its own helpers are not)."""
    pool.exit_with_parent(parent)
    # a pool worker runs no atexit handlers, and at exit multiprocessing would wait forever for
    # the idle helpers of its own pool: end them first (they hold no work by then)
    multiprocessing.util.Finalize(None, _end_helpers, exitpriority=10)
    os.nice(NICENESS)
    pool.allow_nested_pools()


def _end_helpers() -> None:
    for child in multiprocessing.active_children():
        child.terminate()


def warm_up() -> int:
    """A no-op the server submits once per worker at start-up, so the processes exist before
    the first hop arrives (starting them costs the loop nothing later)."""
    return os.getpid()


def verify_hop(
    group_name: str,
    election_id: str,
    public_key: bytes,
    width: int,
    inputs: bytes,
    outputs: bytes,
    proof_items: Sequence[bytes],
    workers: int = 1,
) -> None:
    """Check one hop exactly as the standalone verifier will (:func:`crypto.verify.check_hop`):
    the output list decodes (every element validated) and the shuffle proof verifies against
    (inputs, outputs), the per-row work spread over ``workers`` processes. Returns None or
    raises the error that says why."""
    check_hop(
        group_name, election_id, public_key, width, inputs, outputs, proof_items, workers,
        mapper=pool.process_map(workers),
    )


def verify_share(
    group_name: str,
    verification_key: bytes,
    width: int,
    ciphertexts: bytes,
    share: bytes,
    context: bytes,
    position: int,
) -> None:
    """Check node ``position``'s decryption share as the verifier will
    (:func:`crypto.verify.check_share`); returns None or raises the error that says why."""
    check_share(group_name, verification_key, width, ciphertexts, share, context, position)


def combine_and_tally(
    group_name: str,
    width: int,
    ciphertexts: bytes,
    shares: dict[int, bytes],
    t: int,
    choices: Sequence[str],
) -> dict[str, object]:
    """Combine ``t`` verified shares, decode every ballot and count the choices. Returns
    ``{counts: {choice: n}, invalid: n, ballots: n, plaintexts: [payload bytes...]}``."""
    from crypto.ballot import tally
    from crypto.elgamal import decode_ciphertexts
    from crypto.threshold import combine, decode_decryption_share

    g = group(group_name)
    cts = decode_ciphertexts(g, ciphertexts, width)
    decoded = {j: decode_decryption_share(g, s, len(cts), width) for j, s in shares.items()}
    counted = tally(g, combine(g, cts, decoded, t), choices)
    return {
        "counts": counted.counts,
        "invalid": counted.invalid,
        "ballots": len(cts),
        "plaintexts": list(counted.plaintexts),
    }
