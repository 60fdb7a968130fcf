"""Fault injection: a mix node that misbehaves on purpose, for tests and experiments only.

The real node (:mod:`mixnode.protocol`) has no cheating code. A fault is switched on only by the
environment variable ``MIXVOTE_FAULT`` (read once by ``mixnode run`` at start-up; the test harness
and ``mixbench`` set it for the node they want faulty), or in a test by handing
:func:`mix_function` to :class:`mixnode.protocol.NodeProtocol` directly. ``mixnode --help`` does
not mention it.

Modes (:data:`MODES`): the server's checks must catch each of them, except ``slow``:

* ``wrong-permutation``: prove a permutation other than the one applied;
* ``replace-ballot``: replace an output by an encryption of a random point;
* ``duplicate``: output one ciphertext twice;
* ``forged-proof``: flip the last bit of the proof;
* ``stall``: go silent mid-shuffle (the hop times out);
* ``crash-worker``: the process doing the shuffle dies (the node reports the failed job);
* ``slow``: honest but slow: every hop and every decryption share is correct but delivered only
  after ``MIXVOTE_FAULT_DELAY`` seconds (default 1.0) more; the crash-fault test uses it to
  have mixing and decryption last long enough to be struck in.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from crypto.io.commands import ConfigError
from mixnode.protocol import decrypt_job, encode_hop, mix_job, open_hop

ENV = "MIXVOTE_FAULT"
DELAY_ENV = "MIXVOTE_FAULT_DELAY"
DEFAULT_DELAY = 1.0
MAX_DELAY = 600.0

MODES = (
    "wrong-permutation",
    "replace-ballot",
    "duplicate",
    "forged-proof",
    "stall",
    "crash-worker",
    "slow",
)


def from_environment(environ: Mapping[str, str] | None = None) -> str | None:
    """The fault asked for by ``MIXVOTE_FAULT`` (None when unset or empty); raises
    :class:`ConfigError` for an unknown mode, so a typo never runs an honest node unnoticed."""
    value = (os.environ if environ is None else environ).get(ENV, "").strip()
    if not value:
        return None
    if value not in MODES:
        raise ConfigError(f"{ENV}={value!r} is not a fault mode (known: {', '.join(MODES)})")
    return value


def delay_from_environment(environ: Mapping[str, str] | None = None) -> float:
    """The ``slow`` mode's delay in seconds: ``MIXVOTE_FAULT_DELAY`` (default 1.0), a finite
    number from 0 to 600; raises :class:`ConfigError` for anything else."""
    value = (os.environ if environ is None else environ).get(DELAY_ENV, "").strip()
    if not value:
        return DEFAULT_DELAY
    try:
        delay = float(value)
    except ValueError:
        delay = -1.0
    if not 0.0 <= delay <= MAX_DELAY:  # also refuses nan and inf
        raise ConfigError(f"{DELAY_ENV}={value!r} is not a number of seconds from 0 to "
                          f"{MAX_DELAY:g}")
    return delay


def mix_function(mode: str | None, delay: float = DEFAULT_DELAY
                 ) -> Callable[..., tuple[bytes, list[bytes]]]:
    """The pool function that does a hop: the honest :func:`mix_job`, or a faulty one
    (``delay``: the ``slow`` mode's extra seconds)."""
    if mode is None:
        return mix_job
    if mode not in MODES:
        raise ValueError(f"mix_function: unknown fault mode {mode!r}")
    if mode == "slow":
        return functools.partial(slow_job, delay, mix_job)
    return functools.partial(faulty_mix_job, mode)  # a partial of a top-level function pickles


def decrypt_function(mode: str | None, delay: float = DEFAULT_DELAY) -> Callable[..., bytes]:
    """The pool function that makes a decryption share: the honest :func:`decrypt_job`, or, in
    the ``slow`` mode, the same share after ``delay`` seconds (the other modes cheat in the
    mix only)."""
    if mode is not None and mode not in MODES:
        raise ValueError(f"decrypt_function: unknown fault mode {mode!r}")
    if mode == "slow":
        return functools.partial(slow_job, delay, decrypt_job)
    return decrypt_job


def slow_job(delay: float, job: Callable[..., Any], *args: Any) -> Any:
    """``job(*args)``, honest, returned ``delay`` seconds late (the ``slow`` mode)."""
    time.sleep(delay)
    return job(*args)


def faulty_mix_job(
    mode: str,
    group_name: str,
    sid: str,
    public_key: bytes,
    width: int,
    ciphertexts: bytes,
    workers: int,
) -> tuple[bytes, list[bytes]]:
    """:func:`mixnode.protocol.mix_job` with the fault ``mode`` injected."""
    from crypto.elgamal import encrypt
    from crypto.shuffle import encode_proof, prove_shuffle, shuffle

    if mode == "stall":
        time.sleep(3600)
    if mode == "crash-worker":
        os._exit(3)
    g, pk, inputs, session = open_hop(group_name, sid, public_key, width, ciphertexts)
    result = shuffle(pk, inputs, workers=workers)
    permutation = list(result.permutation)
    outputs: list[Any] = list(result.outputs)
    if mode == "wrong-permutation" and len(permutation) > 1:
        permutation[0], permutation[1] = permutation[1], permutation[0]
    proof = prove_shuffle(
        session, pk, inputs, result.outputs, permutation, result.randomness, workers=workers
    )
    if mode == "replace-ballot":
        outputs[0], _ = encrypt(pk, [g.base_mul(g.random_scalar())] * width)
    elif mode == "duplicate" and len(outputs) > 1:
        outputs[1] = outputs[0]
    files = encode_proof(session, proof)
    if mode == "forged-proof":
        name = sorted(files)[-1]
        data = bytearray(files[name])
        data[-1] ^= 1
        files = {**files, name: bytes(data)}
    return encode_hop(g, outputs, files)


__all__ = [
    "DELAY_ENV",
    "ENV",
    "MODES",
    "decrypt_function",
    "delay_from_environment",
    "faulty_mix_job",
    "from_environment",
    "mix_function",
    "slow_job",
]
