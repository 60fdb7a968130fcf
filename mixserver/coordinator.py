"""The election coordinator: runs key generation, the mixing cascade and decryption on the IOLoop.

The coordinator is a class with class-level state (the registry of connected nodes, the running
elections) and classmethod entry points (``open_voting``, ``close_voting``, ``start_mixing``,
``publish``) that the web UI schedules with ``IOLoop.add_callback`` — the only thread-safe IOLoop
method — through :class:`mixserver.services.ElectionServices`. The IOLoop is the one captured by
:meth:`Coordinator.configure` at start-up. Protocol decisions live in the sans-io pieces of
:mod:`crypto.protocol` (:class:`~crypto.protocol.sessions.NodeSession`,
:class:`~crypto.protocol.sessions.Cascade`, :class:`~crypto.protocol.sessions.ShareCollector`);
proof checks run in a process pool (:mod:`mixserver.jobs`).

Everything that matters is on the board before it is acted upon, so a restarted server resumes
from the board alone (:meth:`Coordinator.resume`): the phase, the DKG result, the closed list, the
verdict of every hop and the decryption shares.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from crypto import group
from crypto.errors import (
    MixvoteError,
    NodeGone,
    NodeJobFailed,
    ProtocolViolation,
    error_class,
)
from crypto.protocol.sessions import Cascade, ShareCollector
from crypto.protocol.wire import (
    ACCEPTED,
    REJECTED,
    SKIPPED,
    Message,
    SignedMessage,
    canonical_json,
    decode_body,
    decryption_context,
    digest,
    shuffle_sid,
)
from crypto.receipts import encode_receipt
from mixserver import jobs

#: Node messages that go on the record: each binds the fingerprint and the head the node saw.
BOUND_KINDS = frozenset(
    {"node.endorse", "dkg.deal", "dkg.complaint", "dkg.response", "mix.result", "decrypt.share",
     "job.failed"}
)
NO_EVIDENCE = {"evidence_entry": 0, "requested_ms": 0, "gave_up_ms": 0, "timeout_ms": 0}


def receipts_for(
    db: Any, eid: str, positions: Any, since: dict[int, int]
) -> tuple[dict[int, list[bytes]], dict[int, int]]:
    """Receipts to send: for each node position, one for each of its entries after index
    ``since[position]``, then one for the board's head. Returns (receipt JSON documents per
    position, the newest index receipted per position)."""
    head = db.head_receipt(eid)
    if head is None:
        return {}, {}
    keys = {p: k[:32] for p, k, _t in db.nodes(eid) if k is not None}
    out: dict[int, list[bytes]] = {}
    newest: dict[int, int] = {}
    for position in positions:
        docs = []
        key = keys.get(position)
        start = since.get(position, -1) + 1
        if key is not None:
            for stored in db.entries_by_author(eid, key, start):
                docs.append(canonical_json(encode_receipt(db.receipt(stored))))
        docs.append(canonical_json(encode_receipt(head)))
        out[position] = docs
        newest[position] = head.index
    return out, newest

log = logging.getLogger("mixserver.coordinator")


class NodeLink(Protocol):
    """What the coordinator needs from a node's websocket handler."""

    position: int | None

    def send_message(self, msg: Message) -> None: ...

    def close_link(self, reason: str) -> None: ...


@dataclass
class Config:
    hop_timeout: float = 600.0
    connect_grace: float = 30.0
    dkg_timeout: float = 60.0
    decrypt_timeout: float = 600.0
    verify_workers: int = 1


@dataclass
class Run:
    """In-memory state of one election's running protocol step (rebuilt from the board)."""

    eid: str
    task: asyncio.Future[Any] | None = None
    waiters: dict[tuple[int, str], asyncio.Future[SignedMessage]] = field(default_factory=dict)
    dkg_round: dict[int, SignedMessage] | None = None
    dkg_kind: str = ""
    dkg_event: asyncio.Event | None = None
    publish_requested: bool = False
    decrypt_job: str | None = None
    decrypt_request: Message | None = None
    #: mix jobs dispatched ahead of time whose input was then not accepted
    abandoned: set[str] = field(default_factory=set)
    #: each node's node.endorse of the fingerprint (recorded before its DKG deal)
    endorsements: dict[int, SignedMessage] = field(default_factory=dict)
    #: the newest board index each node holds a receipt for (a reconnection resends them)
    receipted: dict[int, int] = field(default_factory=dict)


@dataclass
class Dispatch:
    """A mix request sent to a node, waiting for its result."""

    position: int
    job: str
    future: asyncio.Future[SignedMessage]
    inputs: bytes
    started: float
    request: Message  # sent again to a node that comes back


class Coordinator:
    """Class-level coordinator; see the module docstring."""

    services: ClassVar[Any] = None
    loop: ClassVar[Any] = None
    pool: ClassVar[Executor | None] = None
    config: ClassVar[Config] = Config()
    nodes: ClassVar[dict[str, dict[int, NodeLink]]] = {}
    runs: ClassVar[dict[str, Run]] = {}
    listeners: ClassVar[dict[str, set[Callable[[dict[str, Any]], None]]]] = {}

    # --- set-up ---------------------------------------------------------------------------
    @classmethod
    def configure(
        cls, services: Any, loop: Any, pool: Executor, config: Config | None = None
    ) -> None:
        """Bind the services, the IOLoop captured at start-up and the process pool."""
        cls.services, cls.loop, cls.pool = services, loop, pool
        cls.config = config or Config()
        cls.nodes, cls.runs, cls.listeners = {}, {}, {}

    @classmethod
    def _run(cls, eid: str) -> Run:
        run = cls.runs.get(eid)
        if run is None:
            run = cls.runs[eid] = Run(eid)
        return run

    @classmethod
    def _spawn(cls, eid: str, coro: Any) -> None:
        run = cls._run(eid)
        if run.task is not None and not run.task.done():
            coro.close()
            return
        run.task = asyncio.ensure_future(coro)
        run.task.add_done_callback(lambda f: cls._task_done(eid, f))

    @classmethod
    def _task_done(cls, eid: str, fut: asyncio.Future[Any]) -> None:
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is not None:
            log.error("election %s: protocol step failed: %s", eid, exc, exc_info=exc)
            cls._progress(eid, error=f"{type(exc).__name__}: {exc}")

    @classmethod
    def resume(cls) -> None:
        """After a (re)start: pick up every election where the board says it was."""
        db = cls.services.db
        for eid in db.election_ids():
            _params, phase, state = db.election(eid)
            if phase == "mixing" and not state.get("mixed"):
                cls._spawn(eid, cls._mix(eid))
            elif phase == "decrypting" or (phase == "mixing" and state.get("publish_requested")):
                cls._run(eid).publish_requested = True
                cls._spawn(eid, cls._decrypt(eid))

    # --- status -------------------------------------------------------------------------------
    @classmethod
    def connected_positions(cls, eid: str) -> list[int]:
        return sorted(cls.nodes.get(eid, {}))

    @classmethod
    def add_listener(cls, eid: str, fn: Callable[[dict[str, Any]], None]) -> None:
        cls.listeners.setdefault(eid, set()).add(fn)

    @classmethod
    def remove_listener(cls, eid: str, fn: Callable[[dict[str, Any]], None]) -> None:
        cls.listeners.get(eid, set()).discard(fn)

    @classmethod
    def push_status(cls, eid: str) -> None:
        fns = list(cls.listeners.get(eid, ()))
        if not fns:
            return
        status = cls.services.status(eid)
        for fn in fns:
            try:
                fn(status)
            except Exception:  # a broken listener must not stop the others
                cls.remove_listener(eid, fn)

    @classmethod
    def _progress(cls, eid: str, replace: bool = False, **progress: Any) -> None:
        """Merge ``progress`` into the election's live progress (or, with ``replace``, start a
        fresh one, so that no stale hop or count outlives the stage it belonged to)."""
        db = cls.services.db
        _params, phase, state = db.election(eid)
        merged = progress if replace else {**state.get("progress", {}), **progress}
        db.set_phase(eid, phase, progress=merged)
        cls.push_status(eid)

    @classmethod
    def _timing(cls, eid: str, name: str, seconds: float) -> None:
        db = cls.services.db
        _params, phase, state = db.election(eid)
        timings = {**state.get("timings", {}), name: round(seconds, 4)}
        db.set_phase(eid, phase, timings=timings)

    # --- node registry --------------------------------------------------------------------------
    @classmethod
    def register(cls, eid: str, position: int, link: NodeLink) -> None:
        """A node authenticated: replace any older connection of the same node."""
        old = cls.nodes.setdefault(eid, {}).get(position)
        if old is not None and old is not link:
            old.close_link("replaced by a newer connection of the same node")
        cls.nodes[eid][position] = link
        params, phase, state = cls.services.db.election(eid)
        link.send_message(
            Message(
                "welcome",
                eid,
                {
                    "position": position,
                    "n": params["n"],
                    "t": params["t"],
                    "group": params["group"],
                    "phase": phase,
                },
            )
        )
        cls.push_status(eid)
        run = cls._run(eid)
        run.receipted.pop(position, None)  # a new connection: resend its receipts
        cls._send_receipts(eid, [position])
        if phase in ("setup", "keygen") and not state.get("public_key"):
            cls.maybe_start_dkg(eid)
        elif run.decrypt_request is not None and run.decrypt_job is not None:
            link.send_message(run.decrypt_request)

    @classmethod
    def maybe_start_dkg(cls, eid: str) -> None:
        """Start key generation once every node is connected and the fingerprint is fixed (the
        credential list loaded and every node enrolled); the services call it when the
        fingerprint gets fixed, :meth:`register` when a node connects."""
        got = cls.services.db.election(eid)
        if got is None:
            return
        params, phase, state = got
        keygen = phase in ("setup", "keygen") and not state.get("public_key")
        if keygen and state.get("fingerprint") and len(cls.nodes.get(eid, {})) == params["n"]:
            cls._spawn(eid, cls._dkg(eid))

    @classmethod
    def _send_receipts(cls, eid: str, positions: Any = None) -> None:
        """Send the connected nodes (or ``positions``) their new receipts and the head's."""
        connected = set(cls.nodes.get(eid, {}))
        targets = sorted(connected if positions is None else set(positions) & connected)
        if not targets:
            return
        run = cls._run(eid)
        docs, newest = receipts_for(cls.services.db, eid, targets, dict(run.receipted))
        for position, items in docs.items():
            for doc in items:
                cls._send(eid, position, Message("receipt", eid, {"receipt": doc}))
            run.receipted[position] = max(run.receipted.get(position, -1), newest[position])

    @classmethod
    def _check_bound(cls, eid: str, msg: Message) -> None:
        """A node message for the record must bind this election's fingerprint and a chain head
        that is a prefix of the board (else it is refused, not recorded)."""
        _params, _phase, state = cls.services.db.election(eid)
        fp = state.get("fingerprint")
        if not fp or msg["fingerprint"] != bytes.fromhex(fp):
            raise ProtocolViolation(f"{msg.kind}: the message binds another election fingerprint "
                                    "than this election's")
        size, head = msg["seen_size"], msg["seen_head"]
        if size == 0:
            if head != bytes(32):
                raise ProtocolViolation(f"{msg.kind}: an empty seen head with a hash")
            return
        if cls.services.db.hash_at(eid, size - 1) != head:
            raise ProtocolViolation(f"{msg.kind}: the seen head ({size} entries) is not a "
                                    "prefix of this board")

    @classmethod
    def unregister(cls, eid: str, position: int, link: NodeLink) -> None:
        if cls.nodes.get(eid, {}).get(position) is link:
            del cls.nodes[eid][position]
            for (pos, _job), fut in list(cls._run(eid).waiters.items()):
                if pos == position and not fut.done():
                    fut.set_exception(NodeGone(f"node {position} disconnected"))
            cls.push_status(eid)

    @classmethod
    def _send(cls, eid: str, position: int, msg: Message) -> bool:
        link = cls.nodes.get(eid, {}).get(position)
        if link is None:
            return False
        link.send_message(msg)
        return True

    # --- messages from nodes ----------------------------------------------------------------------
    @classmethod
    def on_node_message(cls, eid: str, position: int, signed: SignedMessage) -> str:
        """Dispatch an authenticated, ordered node message; returns an ack note or raises
        ProtocolViolation / MalformedInput (the adapter answers with an error, nothing stored)."""
        msg = signed.message
        run = cls._run(eid)
        if msg.kind in BOUND_KINDS:
            cls._check_bound(eid, msg)
        if msg.kind == "node.endorse":
            if run.dkg_round is None or run.dkg_kind != "dkg.deal":
                raise ProtocolViolation("node.endorse: only when key generation starts")
            if position in run.endorsements:
                raise ProtocolViolation(f"node.endorse: node {position} already sent one")
            run.endorsements[position] = signed
            return "fingerprint endorsed"
        if msg.kind == "progress":
            cls._progress(
                eid, node=position, stage=msg["stage"], done=msg["done"], total=msg["total"]
            )
            return "progress noted"
        if msg.kind in ("dkg.deal", "dkg.complaint", "dkg.response"):
            if run.dkg_round is None or run.dkg_kind != msg.kind:
                raise ProtocolViolation(f"{msg.kind}: not expected now (out of order)")
            if position in run.dkg_round:
                raise ProtocolViolation(f"{msg.kind}: node {position} already sent one (replay)")
            if position not in run.endorsements:
                raise ProtocolViolation(f"{msg.kind}: node {position} has not signed the "
                                        "election fingerprint (node.endorse) first")
            cls._check_dkg_message(eid, position, msg)
            run.dkg_round[position] = signed
            if run.dkg_event is not None and len(run.dkg_round) == len(cls._dkg_participants(eid)):
                run.dkg_event.set()
            return "recorded"
        if msg.kind == "dkg.done":
            return "key share confirmed"
        if msg.kind == "job.failed":
            fut = run.waiters.get((position, msg["job"]))
            if fut is None or fut.done():
                return "noted"
            failure = NodeJobFailed(f"node {position} reported: {msg['reason']}")
            failure.signed = signed  # type: ignore[attr-defined]  # the skip's evidence
            fut.set_exception(failure)
            return "noted"
        if msg.kind == "mix.result" and msg["job"] in run.abandoned:
            run.abandoned.discard(msg["job"])
            return "discarded: the list this job was given was not accepted"
        if msg.kind in ("mix.result", "decrypt.share"):
            fut = run.waiters.get((position, msg["job"]))
            if fut is None or fut.done():
                raise ProtocolViolation(
                    f"{msg.kind}: no job {msg['job']!r} pending for node {position}"
                )
            fut.set_result(signed)
            return "received"
        raise ProtocolViolation(f"{msg.kind}: a node may not send this here")

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
        parsed = parser[msg.kind].from_bytes(params, msg["data"])
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
        db = cls.services.db
        endorsed = [run.endorsements[p] for p in sorted(run.endorsements)]
        for signed in (endorsed if kind == "dkg.deal" else []) + got:
            db.append(eid, signed.message.kind, signed.body, signed.author, signed.signature)
        cls._send_receipts(eid)
        return got

    @classmethod
    async def _dkg(cls, eid: str) -> None:
        from crypto.dkg import ComplaintMsg, Deal, ResponseMsg, dkg_result
        from crypto.elgamal import encode_public_key

        db = cls.services.db
        started = time.perf_counter()
        params_row, _phase, fstate = db.election(eid)
        fingerprint = bytes.fromhex(fstate["fingerprint"])
        db.set_phase(eid, "keygen")
        cls.push_status(eid)
        cls._run(eid).endorsements = {}
        cls._send_receipts(eid)  # the nodes bind the head they were told of
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
        result = dkg_result(
            params,
            {d.dealer: d for d in (Deal.from_bytes(params, x) for x in items)},
            {c.sender: c for c in (ComplaintMsg.from_bytes(params, x) for x in items2)},
            {r.dealer: r for r in (ResponseMsg.from_bytes(params, x) for x in items3)},
        )
        g = params.group
        pk = encode_public_key(result.public_key)
        vkeys = [g.encode(result.verification_keys[j]) for j in range(1, params.n + 1)]
        db.append_server(
            eid,
            Message(
                "dkg.result",
                eid,
                {
                    "public_key": pk,
                    "verification_keys": vkeys,
                    "qualified": [str(i).encode() for i in result.qualified],
                },
            ),
            phase="keygen",
            state={
                "public_key": pk.hex(),
                "verification_keys": [v.hex() for v in vkeys],
                "qualified": list(result.qualified),
            },
        )
        cls._timing(eid, "keygen", time.perf_counter() - started)
        cls.push_status(eid)
        cls._send_receipts(eid)

    # --- admin actions (scheduled with loop.add_callback) ---------------------------------------
    @classmethod
    def open_voting(cls, eid: str) -> None:
        db = cls.services.db
        _params, phase, state = db.election(eid)
        if phase != "keygen" or not state.get("public_key"):
            log.warning("open %s ignored in phase %s", eid, phase)
            return
        db.append_server(
            eid,
            Message("voting.opened", eid, {"public_key": bytes.fromhex(state["public_key"])}),
            phase="voting",
            state={"voting_opened": time.time()},
        )
        cls.push_status(eid)

    @classmethod
    def close_voting(cls, eid: str) -> None:
        """Close voting: the counted ballots (the latest per voter) become the closed list."""
        db = cls.services.db
        params, phase, state = db.election(eid)
        if phase != "voting":
            log.warning("close %s ignored in phase %s", eid, phase)
            return
        db.set_phase(eid, "closed")  # no ballot is accepted from here on
        ballots = db.latest_ballots(eid)
        cts, trackers = [], []
        for stored in ballots:
            cts.append(decode_body(stored.entry.body)["ciphertext"])
            trackers.append(stored.hash)
        db.append_server(
            eid,
            Message(
                "voting.closed",
                eid,
                {
                    "count": len(cts),
                    "width": params["width"],
                    "ciphertexts": b"".join(cts),
                    "trackers": trackers,
                },
            ),
            phase="closed",
            state={"voting_closed": time.time(), "closed_count": len(cts)},
        )
        cls._timing(eid, "voting", time.time() - state.get("voting_opened", time.time()))
        cls.push_status(eid)

    @classmethod
    def start_mixing(cls, eid: str) -> None:
        _params, phase, _state = cls.services.db.election(eid)
        if phase != "closed":
            log.warning("mix %s ignored in phase %s", eid, phase)
            return
        cls.services.db.set_phase(eid, "mixing", hops=[], mixed=False)
        cls._spawn(eid, cls._mix(eid))

    @classmethod
    def publish(cls, eid: str) -> None:
        """Decrypt and tally once mixing is over (now, or as soon as it finishes)."""
        db = cls.services.db
        _params, phase, state = db.election(eid)
        if phase not in ("mixing", "decrypting"):
            log.warning("publish %s ignored in phase %s", eid, phase)
            return
        cls._run(eid).publish_requested = True
        db.set_phase(eid, phase, publish_requested=True)
        if phase == "decrypting" or state.get("mixed"):
            cls._spawn(eid, cls._decrypt(eid))

    # --- mixing -----------------------------------------------------------------------------------
    @classmethod
    def _mix_state(cls, eid: str) -> tuple[Cascade, bytes, int]:
        """(cascade with the verdicts on the board, current list, count) — from the board alone."""
        db = cls.services.db
        params, _phase, _state = db.election(eid)
        closed = db.entries_of_kind(eid, "voting.closed")[-1]
        closed_msg = decode_body(closed.entry.body)
        current, count = closed_msg["ciphertexts"], closed_msg["count"]
        cascade = Cascade(list(range(1, params["n"] + 1)))
        for stored in db.entries_of_kind(eid, "hop.verdict"):
            verdict = decode_body(stored.entry.body)
            cascade.record(verdict["position"], verdict["status"])
            if verdict["status"] == ACCEPTED:
                result = db.entry(eid, verdict["result_entry"])
                assert result is not None
                current = decode_body(result.entry.body)["outputs"]
        return cascade, current, count

    @classmethod
    async def _wait_connected(cls, eid: str, position: int) -> bool:
        deadline = time.monotonic() + cls.config.connect_grace
        while position not in cls.nodes.get(eid, {}):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.1)
        return True

    @classmethod
    def _hop_verdict(
        cls,
        eid: str,
        hop: int,
        position: int,
        status: str,
        reason: str,
        result_entry: int,
        output_digest: bytes,
        seconds: float,
        timeout: float = 0.0,
        evidence: SignedMessage | None = None,
    ) -> None:
        """Record a hop's verdict; a skipped hop with its evidence: the node's own job.failed
        (``evidence``, appended first) or a time-out (``timeout`` seconds, ``seconds`` after the
        request; both times recorded in Unix milliseconds)."""
        db = cls.services.db
        fields = dict(NO_EVIDENCE)
        if status == SKIPPED and evidence is not None:
            e = db.append(eid, evidence.message.kind, evidence.body, evidence.author,
                          evidence.signature)
            fields["evidence_entry"] = e.entry.index
        elif status == SKIPPED and timeout > 0:
            gave_up = int(time.time() * 1000)
            fields.update(requested_ms=gave_up - math.ceil(seconds * 1000), gave_up_ms=gave_up,
                          timeout_ms=int(timeout * 1000))
        _p, phase, state = db.election(eid)
        hops = [
            *state.get("hops", []),
            {
                "hop": hop,
                "node": position,
                "status": status,
                "reason": reason,
                "seconds": round(seconds, 3),
            },
        ]
        db.append_server(
            eid,
            Message(
                "hop.verdict",
                eid,
                {
                    "hop": hop,
                    "position": position,
                    "status": status,
                    "reason": reason[:4000],
                    "result_entry": result_entry,
                    "output_digest": output_digest,
                    **fields,
                },
            ),
            phase=phase,
            state={"hops": hops},
        )
        log.info("election %s: hop %d (node %d) %s %s", eid, hop, position, status, reason)
        cls.push_status(eid)
        cls._send_receipts(eid)

    @classmethod
    def _dispatch(cls, eid: str, hop: int, position: int, inputs: bytes, count: int) -> Dispatch:
        """Send a node its mix request and register the future its result will resolve."""
        params, _phase, state = cls.services.db.election(eid)
        job = f"mix-{hop}-{position}-{int(time.time() * 1000)}"
        fut: asyncio.Future[SignedMessage] = asyncio.get_running_loop().create_future()
        cls._run(eid).waiters[(position, job)] = fut
        request = Message(
            "mix.request",
            eid,
            {
                "job": job,
                "sid": shuffle_sid(eid),
                "group": params["group"],
                "public_key": bytes.fromhex(state["public_key"]),
                "width": params["width"],
                "count": count,
                "ciphertexts": inputs,
                "fingerprint": bytes.fromhex(state["fingerprint"]),
            },
        )
        cls._send(eid, position, request)
        return Dispatch(position, job, fut, inputs, time.perf_counter(), request)

    @classmethod
    async def _await_hop(cls, eid: str, dispatch: Dispatch) -> SignedMessage:
        """The node's result, within the hop time-out. A node that disconnects has the connect
        grace to come back, and is then sent its request again; else NodeGone (a time-out whose
        times are recorded: no skip without evidence)."""
        run = cls._run(eid)
        while True:
            remaining = cls.config.hop_timeout - (time.perf_counter() - dispatch.started)
            try:
                return await asyncio.wait_for(dispatch.future, max(remaining, 0.0))
            except NodeGone:
                if not await cls._wait_connected(eid, dispatch.position):
                    raise NodeGone(f"node {dispatch.position} disconnected and did not come "
                                   "back in time") from None
            fut: asyncio.Future[SignedMessage] = asyncio.get_running_loop().create_future()
            run.waiters[(dispatch.position, dispatch.job)] = fut
            dispatch.future = fut
            cls._send(eid, dispatch.position, dispatch.request)

    @classmethod
    def _abandon(cls, eid: str, dispatch: Dispatch) -> None:
        """Forget a dispatched hop whose input turned out not to be the accepted list."""
        run = cls._run(eid)
        run.waiters.pop((dispatch.position, dispatch.job), None)
        run.abandoned.add(dispatch.job)

    @classmethod
    async def _mix(cls, eid: str) -> None:
        """Run the cascade. Hops are pipelined: while the server verifies hop i's proof (in the
        process pool), node i+1 already shuffles hop i's output. Node i+1's result is used only if
        hop i is accepted (its input must then equal the accepted list); otherwise it is abandoned
        and node i+1 is asked again with the last accepted list. Verdicts stay strictly in order."""
        db = cls.services.db
        params, _phase, state = db.election(eid)
        started = time.perf_counter()
        cascade, current, count = cls._mix_state(eid)
        loop = asyncio.get_running_loop()
        run = cls._run(eid)
        ahead: Dispatch | None = None
        while (position := cascade.next_hop()) is not None:
            hop = cascade.positions.index(position) + 1
            t0 = time.perf_counter()
            cls._progress(
                eid,
                hop=hop,
                hops=len(cascade.positions),
                node=position,
                stage="waiting",
                done=0,
                total=count,
            )
            if count == 0:
                cascade.record(position, SKIPPED)
                cls._hop_verdict(eid, hop, position, SKIPPED, "empty ballot list", 0, b"", 0.0)
                continue
            if ahead is not None and (ahead.position != position or ahead.inputs != current):
                cls._abandon(eid, ahead)
                ahead = None
            if ahead is not None:
                dispatch, ahead = ahead, None
                t0 = dispatch.started
            elif await cls._wait_connected(eid, position):
                dispatch = cls._dispatch(eid, hop, position, current, count)
            else:
                cascade.record(position, SKIPPED)
                cls._hop_verdict(
                    eid,
                    hop,
                    position,
                    SKIPPED,
                    "node not connected",
                    0,
                    b"",
                    max(time.perf_counter() - t0, cls.config.connect_grace),
                    timeout=cls.config.connect_grace,
                )
                continue
            try:
                signed = await cls._await_hop(eid, dispatch)
            except (TimeoutError, NodeGone, NodeJobFailed) as exc:
                cascade.record(position, SKIPPED)
                elapsed = time.perf_counter() - dispatch.started
                if isinstance(exc, NodeJobFailed):
                    cls._hop_verdict(eid, hop, position, SKIPPED, str(exc), 0, b"", elapsed,
                                     evidence=getattr(exc, "signed", None))
                elif isinstance(exc, NodeGone):
                    cls._hop_verdict(eid, hop, position, SKIPPED, str(exc), 0, b"",
                                     max(elapsed, cls.config.connect_grace),
                                     timeout=cls.config.connect_grace)
                else:
                    cls._hop_verdict(eid, hop, position, SKIPPED, "timed out", 0, b"",
                                     max(elapsed, cls.config.hop_timeout),
                                     timeout=cls.config.hop_timeout)
                continue
            finally:
                run.waiters.pop((position, dispatch.job), None)
            msg = signed.message
            stored = db.append(eid, msg.kind, signed.body, signed.author, signed.signature)
            cls._progress(eid, stage="verifying", node=position)
            if msg["input_digest"] != digest(current):
                ok, reason = False, "the result is not for the list this node was given"
            else:
                verification = loop.run_in_executor(
                    cls.pool,
                    jobs.verify_hop,
                    params["group"],
                    eid,
                    bytes.fromhex(state["public_key"]),
                    params["width"],
                    current,
                    msg["outputs"],
                    msg["proof"],
                    cls.config.verify_workers,
                )
                nxt = cascade.after(position)
                if nxt is not None and nxt in cls.nodes.get(eid, {}):
                    nhop = cascade.positions.index(nxt) + 1
                    ahead = cls._dispatch(eid, nhop, nxt, msg["outputs"], count)
                try:
                    await verification
                    ok, reason = True, ""
                except MixvoteError as exc:  # the reason as the record states it
                    ok, reason = False, f"{error_class(exc).__name__}: {exc}"
            status = ACCEPTED if ok else REJECTED
            cascade.record(position, status)
            cls._hop_verdict(
                eid,
                hop,
                position,
                status,
                reason or "proof verified",
                stored.entry.index,
                digest(msg["outputs"]),
                time.perf_counter() - t0,
            )
            if ok:
                current = msg["outputs"]
            if not ok:
                cls.nodes.get(eid, {}).get(position) and cls._send(
                    eid,
                    position,
                    Message(
                        "error", eid, {"code": "hop-rejected", "reason": reason[:4000], "ref": 0}
                    ),
                )
        if ahead is not None:
            cls._abandon(eid, ahead)
        elapsed = time.perf_counter() - started
        if not cascade.accepted and count:
            cls._progress(eid, error="mixing failed: no hop was accepted")
            return
        db.set_phase(eid, "mixing", mixed=True)
        cls._timing(eid, "mixing", elapsed)
        if count:
            cls._timing(eid, "mixing_ballots_per_s", count / elapsed if elapsed else 0.0)
        cls._progress(eid, replace=True, stage="mixed")
        if run.publish_requested or db.election(eid)[2].get("publish_requested"):
            run.task = None
            cls._spawn(eid, cls._decrypt(eid))

    # --- decryption -------------------------------------------------------------------------------
    @classmethod
    async def _decrypt(cls, eid: str) -> None:
        db = cls.services.db
        params, phase, state = db.election(eid)
        if phase == "tallied":
            return
        db.set_phase(eid, "decrypting")
        started = time.perf_counter()
        cascade, current, count = cls._mix_state(eid)
        loop = asyncio.get_running_loop()
        run = cls._run(eid)
        if count == 0:
            cls._publish_tally(
                eid,
                {
                    "counts": {c: 0 for c in params["choices"]},
                    "invalid": 0,
                    "ballots": 0,
                    "plaintexts": [],
                },
                started,
            )
            return
        eligible = set(state.get("qualified", [])) - set(cascade.excluded)
        collector = ShareCollector(params["t"], eligible)
        for stored in db.entries_of_kind(eid, "decrypt.verdict"):
            v = decode_body(stored.entry.body)
            if v["status"] == ACCEPTED:
                share_entry = db.entry(eid, v["share_entry"])
                assert share_entry is not None
                collector.add(v["position"], decode_body(share_entry.entry.body)["share"])
            else:
                collector.add(v["position"], None, v["reason"])
        context = decryption_context(eid, current)
        job = f"decrypt-{int(time.time() * 1000)}"
        request = Message(
            "decrypt.request",
            eid,
            {
                "job": job,
                "group": params["group"],
                "width": params["width"],
                "count": count,
                "ciphertexts": current,
                "fingerprint": bytes.fromhex(state["fingerprint"]),
            },
        )
        futures: dict[int, asyncio.Future[SignedMessage]] = {}
        pending = eligible - set(collector.valid) - set(collector.invalid)
        for position in pending:
            futures[position] = run.waiters[(position, job)] = loop.create_future()
        run.decrypt_job, run.decrypt_request = job, request
        for position in pending:
            cls._send(eid, position, request)
        cls._progress(
            eid, replace=True, stage="decrypting", done=len(collector.valid), total=params["t"]
        )
        deadline = time.monotonic() + cls.config.decrypt_timeout
        vkeys = [bytes.fromhex(v) for v in state["verification_keys"]]
        try:
            while not collector.complete and not collector.hopeless:
                live = [f for f in futures.values() if not f.done()]
                ready = [(p, f) for p, f in futures.items() if f.done()]
                for p, f in ready:
                    del futures[p]
                    exc = f.exception()
                    if isinstance(exc, (NodeGone, NodeJobFailed)):
                        # it may come back (reconnect, restart): wait for a fresh answer to
                        # the same request, which a reconnecting node is sent again
                        if isinstance(exc, NodeJobFailed):
                            log.warning("election %s: %s", eid, exc)
                        futures[p] = run.waiters[(p, job)] = loop.create_future()
                        continue
                    signed = f.result()
                    msg = signed.message
                    stored = db.append(eid, msg.kind, signed.body, signed.author, signed.signature)
                    if msg["input_digest"] != digest(current):
                        ok, reason = False, "the share is not for the final list"
                    else:
                        try:
                            await loop.run_in_executor(
                                cls.pool,
                                jobs.verify_share,
                                params["group"],
                                vkeys[p - 1],
                                params["width"],
                                current,
                                msg["share"],
                                context,
                                p,
                            )
                            ok, reason = True, ""
                        except MixvoteError as exc:  # the reason as the record states it
                            ok, reason = False, f"{error_class(exc).__name__}: {exc}"
                    collector.add(p, msg["share"] if ok else None, reason)
                    db.append_server(
                        eid,
                        Message(
                            "decrypt.verdict",
                            eid,
                            {
                                "position": p,
                                "status": ACCEPTED if ok else REJECTED,
                                "reason": reason or "share verified",
                                "share_entry": stored.entry.index,
                            },
                        ),
                    )
                    cls._send_receipts(eid)
                    cls._progress(eid, stage="decrypting", done=len(collector.valid))
                if collector.complete or collector.hopeless:
                    break
                if time.monotonic() > deadline:
                    cls._progress(eid, error="decryption timed out")
                    return
                live = [f for f in futures.values() if not f.done()]
                if live:
                    await asyncio.wait(live, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
                else:
                    await asyncio.sleep(0.2)
        finally:
            for p in list(futures):
                run.waiters.pop((p, job), None)
            run.decrypt_job, run.decrypt_request = None, None
        if not collector.complete:
            cls._progress(eid, error="decryption failed: fewer than t valid shares")
            return
        shares = dict(sorted(collector.valid.items())[: params["t"]])
        result = await loop.run_in_executor(
            cls.pool,
            jobs.combine_and_tally,
            params["group"],
            params["width"],
            current,
            shares,
            params["t"],
            params["choices"],
        )
        cls._publish_tally(eid, result, started)

    @classmethod
    def _publish_tally(cls, eid: str, result: dict[str, Any], started: float) -> None:
        db = cls.services.db
        summary = {k: v for k, v in result.items() if k != "plaintexts"}
        db.append_server(
            eid,
            Message(
                "tally",
                eid,
                {"result": canonical_json(summary), "plaintexts": list(result["plaintexts"])},
            ),
            phase="tallied",
            state={"result": summary},
        )
        cls._timing(eid, "decryption", time.perf_counter() - started)
        log.info("election %s tallied: %s", eid, json.dumps(summary))
        cls._progress(eid, replace=True, stage="tallied")


def error_code(exc: BaseException) -> str:
    """The wire error code of an exception (the websocket adapter's one mapping)."""
    from crypto.errors import InvalidElement, InvalidProof, MalformedInput

    for cls_, code in (
        (InvalidElement, "invalid-element"),
        (MalformedInput, "malformed"),
        (InvalidProof, "invalid-proof"),
        (ProtocolViolation, "protocol-violation"),
        (MixvoteError, "error"),
    ):
        if isinstance(exc, cls_):
            return code
    return "internal-error"
