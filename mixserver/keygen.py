"""Key generation, the coordinator's part: the DKG rounds relayed between the nodes, started once
every node is connected and the election fingerprint is fixed.

:class:`KeyGeneration` is a mixin of :class:`mixserver.coordinator.Coordinator` (class-level state,
classmethods): it uses the coordinator's registry, board thread and status pushes."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from crypto import group
from crypto.errors import ProtocolViolation
from crypto.protocol.wire import (
    Message,
    SignedMessage,
)
from mixserver.boardio import dkg_outcome, write_dkg

log = logging.getLogger("mixserver.coordinator")


class KeyGeneration:
    """The DKG part of the class-level coordinator."""

    # --- key generation ---------------------------------------------------------------------------
    @classmethod
    def _dkg_participants(cls, eid: str) -> dict[int, bytes]:
        return {p: k for p, k, _tok in cls.services.db.nodes(eid) if k is not None}

    @classmethod
    def _dkg_params(cls, eid: str) -> Any:
        from crypto.dkg import DkgParams

        params, _phase, _state = cls.services.db.election(eid)
        keys = cls._dkg_participants(eid)
        return DkgParams(
            group(params["group"]),
            eid,
            params["n"],
            params["t"],
            tuple(keys[p] for p in range(1, params["n"] + 1)),
        )

    @classmethod
    def _check_dkg_message(cls, eid: str, position: int, msg: Message) -> None:
        from crypto.dkg import ComplaintMsg, Deal, ResponseMsg

        params = cls._dkg_params(eid)
        parser = {"dkg.deal": Deal, "dkg.complaint": ComplaintMsg, "dkg.response": ResponseMsg}
        parsed = parser[msg.kind].from_bytes(params, msg["data"])  # bound fields: _check_bound
        sender = getattr(parsed, "dealer", getattr(parsed, "sender", None))
        if sender != position:
            raise ProtocolViolation(
                f"{msg.kind}: claims node {sender} but comes from node {position}"
            )

    @classmethod
    async def _dkg_round(
        cls, eid: str, kind: str, announce: Callable[[int], Message]
    ) -> list[SignedMessage]:
        run = cls._run(eid)
        run.dkg_round, run.dkg_kind, run.dkg_event = {}, kind, asyncio.Event()
        for position in range(1, len(cls._dkg_participants(eid)) + 1):
            cls._send(eid, position, announce(position))
        try:
            await asyncio.wait_for(run.dkg_event.wait(), cls.config.dkg_timeout)
        except TimeoutError:
            log.warning(
                "election %s: %s round timed out with %d messages", eid, kind, len(run.dkg_round)
            )
        got = [run.dkg_round[p] for p in sorted(run.dkg_round)]
        run.dkg_round, run.dkg_event = None, None
        return got  # on the board only with the result (write_dkg)

    @classmethod
    async def _dkg(cls, eid: str) -> None:

        db = cls.services.db
        started = time.perf_counter()
        params_row, _phase, fstate = db.election(eid)
        fingerprint = bytes.fromhex(fstate["fingerprint"])
        db.set_phase(eid, "keygen")  # no entry: a crash here only leaves the phase to redo
        cls.push_status(eid)
        run = cls._run(eid)
        run.endorsements = {}
        await cls._send_receipts(eid)  # the nodes bind the head they were told of
        params = cls._dkg_params(eid)
        participants = list(params.participants)
        deals = await cls._dkg_round(
            eid,
            "dkg.deal",
            lambda p: Message(
                "dkg.start",
                eid,
                {
                    "group": params_row["group"],
                    "n": params.n,
                    "t": params.t,
                    "position": p,
                    "participants": participants,
                    "fingerprint": fingerprint,
                },
            ),
        )
        endorsements = [run.endorsements[p] for p in sorted(run.endorsements)]
        items = [s.message["data"] for s in deals]
        complaints = await cls._dkg_round(
            eid, "dkg.complaint", lambda p: Message("dkg.deals", eid, {"items": items})
        )
        items2 = [s.message["data"] for s in complaints]
        responses = await cls._dkg_round(
            eid, "dkg.response", lambda p: Message("dkg.complaints", eid, {"items": items2})
        )
        items3 = [s.message["data"] for s in responses]
        for p in range(1, params.n + 1):
            cls._send(eid, p, Message("dkg.responses", eid, {"items": items3}))
        result_msg, result_state = dkg_outcome(params, items, items2, items3)
        _p, _ph, state = db.election(eid)
        await cls._io(
            write_dkg,
            eid,
            [*endorsements, *deals, *complaints, *responses],
            result_msg,
            {
                **result_state,
                "timings": {
                    **state.get("timings", {}),
                    "keygen": round(time.perf_counter() - started, 4),
                },
            },
        )
        cls.push_status(eid)
        await cls._send_receipts(eid)
