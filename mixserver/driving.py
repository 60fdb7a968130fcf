"""Driving the sans-io machines of :mod:`mixserver.machine`: rebuilding them from the board,
the tick, carrying out their effects (messages, proof checks in the pool, board writes) and the
end of mixing and decryption.

:class:`MachineDriver` is a mixin of :class:`mixserver.coordinator.Coordinator` (class-level
state, classmethods)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from typing import Any

from crypto.errors import MixvoteError, error_class
from crypto.protocol.wire import decryption_context
from mixserver import jobs
from mixserver.boardio import load_decrypt, load_mix, write_effect, write_mixed, write_tally
from mixserver.decryption import DecryptMachine
from mixserver.machine import (
    BoardWrite,
    Combine,
    CommitHop,
    DecryptFailed,
    Effect,
    MixFinished,
    Progress,
    Send,
    VerifyHop,
    VerifyShare,
)
from mixserver.mixing import MixMachine

log = logging.getLogger("mixserver.coordinator")

Machine = MixMachine | DecryptMachine


class MachineDriver:
    """The machine-driving part of the class-level coordinator."""

    # --- driving the machines ---------------------------------------------------------------------
    @classmethod
    def _start_machine(cls, eid: str, stage: str) -> None:
        """Rebuild the mixing or decryption machine from the board (in the I/O thread) and start
        it with the nodes connected now."""
        session = os.urandom(6).hex()  # job ids never repeat across restarts
        timeouts = cls.config.timeouts()
        key = (eid, stage)
        if key in cls._starting:  # publish and the end of mixing may both ask for decryption
            return
        cls._starting.add(key)

        async def go() -> None:
            try:
                if stage == "mix":
                    machine: Machine = await cls._io(load_mix, eid, session, timeouts)
                else:
                    await cls._io(lambda db, e: db.set_phase(e, "decrypting"), eid)
                    machine = await cls._io(load_decrypt, eid, session, timeouts)
                await cls._io(cls._snapshot_state, eid)
            finally:
                cls._starting.discard(key)
            cls._run(eid).started[stage] = time.perf_counter()
            cls.machines[eid] = machine
            cls._ensure_ticker()
            cls._apply(eid, machine, machine.start(cls.clock(), cls.nodes.get(eid, {})))

        cls._background(eid, go())

    @classmethod
    def _ensure_ticker(cls) -> None:
        if cls._ticker is not None and not cls._ticker.done():
            return

        async def tick() -> None:
            while cls.machines:
                await asyncio.sleep(cls.config.tick)
                for eid, machine in list(cls.machines.items()):
                    if cls.machines.get(eid) is machine:
                        cls._apply(eid, machine, machine.tick(cls.clock()))

        cls._ticker = asyncio.ensure_future(tick())

    @classmethod
    def _apply(cls, eid: str, machine: Machine, effects: list[Effect]) -> None:
        """Carry out a machine's effects, in order (on the loop; the heavy ones in executors)."""
        loop = asyncio.get_running_loop()
        for effect in effects:
            if isinstance(effect, Send):
                cls._send(eid, effect.position, effect.message)
            elif isinstance(effect, Progress):
                cls._progress(eid, replace=effect.replace, **effect.fields)
            elif isinstance(effect, BoardWrite):
                fut = loop.run_in_executor(cls.io, cls._write, eid, effect)
                fut.add_done_callback(lambda f, e=eid: cls._written(e, f))
                if isinstance(effect, CommitHop):
                    log.info(
                        "election %s: hop %d (node %d) %s %s",
                        eid,
                        effect.hop,
                        effect.position,
                        effect.status,
                        effect.reason,
                    )
            elif isinstance(effect, VerifyHop):
                assert isinstance(machine, MixMachine)
                msg = effect.result.message
                verification = loop.run_in_executor(
                    cls.pool,
                    jobs.verify_hop,
                    machine.group,
                    eid,
                    machine.public_key,
                    machine.width,
                    effect.inputs,
                    msg["outputs"],
                    msg["proof"],
                    cls.config.verify_workers,
                )
                verification.add_done_callback(
                    lambda f, job=effect.job: cls._verified(eid, machine, job, f)
                )
            elif isinstance(effect, VerifyShare):
                assert isinstance(machine, DecryptMachine)
                position = effect.position
                verification = loop.run_in_executor(
                    cls.pool,
                    jobs.verify_share,
                    machine.group,
                    machine.verification_keys[position - 1],
                    machine.width,
                    machine.final,
                    effect.share.message["share"],
                    decryption_context(eid, machine.final),
                    position,
                )
                verification.add_done_callback(
                    lambda f, p=position: cls._verified(eid, machine, p, f)
                )
            elif isinstance(effect, MixFinished):
                cls._mix_finished(eid, machine, effect)
            elif isinstance(effect, Combine):
                cls._spawn_tally(eid, machine, effect)
            elif isinstance(effect, DecryptFailed):
                cls.machines.pop(eid, None)
                cls.io.submit(cls._snapshot_state, cls.services.db, eid, False)
                cls._progress(eid, error=effect.reason)
            else:
                raise TypeError(f"unknown effect {effect!r}")

    @classmethod
    def _write(cls, eid: str, effect: Effect) -> None:
        db = cls.services.db
        write_effect(db, eid, effect)
        cls._snapshot_state(db, eid)

    @classmethod
    def _written(cls, eid: str, fut: asyncio.Future[Any]) -> None:
        exc = fut.exception()
        if exc is not None:
            log.error("election %s: board write failed: %s", eid, exc, exc_info=exc)
            cls._progress(eid, error=f"board write failed: {exc}")
        else:
            cls.push_status(eid)
            cls._background(eid, cls._send_receipts(eid))

    @classmethod
    def _verified(cls, eid: str, machine: Machine, key: Any, fut: asyncio.Future[Any]) -> None:
        if cls.machines.get(eid) is not machine:
            return
        exc = fut.exception()
        if isinstance(exc, MixvoteError):  # the check failed: the reason as the record states it
            ok, reason = False, f"{error_class(exc).__name__}: {exc}"
        elif exc is not None:
            # the server could not check (its pool broke): no verdict is recorded; the job is
            # redone when the coordinator restarts, never held against the node
            log.error("election %s: verification failed to run: %s", eid, exc, exc_info=exc)
            cls._progress(eid, error=f"verification failed to run: {exc}")
            return
        else:
            ok, reason = True, ""
        cls._apply(eid, machine, machine.verified(key, ok, reason, cls.clock()))

    @classmethod
    def _mix_finished(cls, eid: str, machine: Machine, effect: MixFinished) -> None:
        assert isinstance(machine, MixMachine)
        cls.machines.pop(eid, None)
        elapsed = time.perf_counter() - cls._run(eid).started.get("mix", time.perf_counter())

        async def go() -> None:
            await cls._io(write_mixed, eid, effect.ok, elapsed, machine.count)
            await cls._io(cls._snapshot_state, eid, False)
            if not effect.ok:
                cls._progress(eid, error=effect.reason)
                return
            cls._progress(eid, replace=True, stage="mixed")
            _p, _phase, state = await cls._io(lambda db, e: db.election(e), eid)
            if state.get("publish_requested"):
                cls._start_machine(eid, "decrypt")

        cls._background(eid, go())

    @classmethod
    def _spawn_tally(cls, eid: str, machine: Machine, effect: Combine) -> None:
        assert isinstance(machine, DecryptMachine)
        loop = asyncio.get_running_loop()

        async def go() -> None:
            params, _phase, _state = await cls._io(lambda db, e: db.election(e), eid)
            if machine.count == 0:
                result: dict[str, Any] = {
                    "counts": {c: 0 for c in params["choices"]},
                    "invalid": 0,
                    "ballots": 0,
                    "plaintexts": [],
                }
            else:
                result = await loop.run_in_executor(
                    cls.pool,
                    jobs.combine_and_tally,
                    params["group"],
                    params["width"],
                    machine.final,
                    dict(effect.shares),
                    params["t"],
                    params["choices"],
                )
            elapsed = time.perf_counter() - cls._run(eid).started.get("decrypt", 0.0)
            await cls._io(write_tally, eid, result, elapsed)
            await cls._io(cls._snapshot_state, eid, False)
            if cls.machines.get(eid) is machine:
                del cls.machines[eid]
            summary = {k: v for k, v in result.items() if k != "plaintexts"}
            log.info("election %s tallied: %s", eid, json.dumps(summary))
            cls._progress(eid, replace=True, stage="tallied")

        cls._background(eid, go())
