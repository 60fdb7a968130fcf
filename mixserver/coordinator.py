"""The election coordinator: thin asyncio/Tornado adapter around :mod:`mixserver.machine`.

The decisions (phases, the pipelined cascade, time-outs, verdicts, collecting decryption shares)
are made by the sans-io machines of :mod:`mixserver.machine`; this module feeds them events (node
messages, verification outcomes, (dis)connections, a tick every ``Config.tick`` seconds with the
monotonic clock) and carries out their effects: messages to nodes on the IOLoop, proof checks in
the process pool (:mod:`mixserver.jobs`, one hop split over every ``--workers`` process), and
board writes in one I/O thread (in order, each result with its verdict in one transaction).

Nothing heavy runs on the IOLoop thread: reading and writing large board entries, closing voting
(reading every ballot), combining shares and tallying run in executors; progress is kept in memory
and pushed to status listeners at most ``Config.status_interval`` apart. The registry of connected
nodes is changed on the loop only; other threads read :attr:`Coordinator.connected`, an immutable
snapshot replaced atomically.

The classmethod entry points (``open_voting``, ``close_voting``, ``start_mixing``, ``publish``) are
what the web UI schedules with ``IOLoop.add_callback`` (the only thread-safe IOLoop method) through
:class:`mixserver.services.ElectionServices`; they take a ``concurrent.futures.Future`` that
receives the outcome, so an action that cannot happen now is refused to the caller, never dropped.

Trust (``docs/trust.md``): key generation starts only once the election fingerprint is fixed
(the credential list loaded and every node enrolled); ``dkg.start`` and every request carry it,
and every node message that goes on the record must bind it (a node signs it first, in a
``node.endorse``). After every board write the nodes get server-signed receipts (a ``receipt``
message): for each of their own entries, and for the head, which they bind into their next
messages. A hop is skipped only with evidence: the node's own ``job.failed`` (recorded with the
verdict) or a time-out, with its times recorded.

Everything is on the board before it is acted upon, so a restarted server resumes from the board
alone (:meth:`Coordinator.resume`): a result being verified at the crash was never stored (it is
asked for again); a verdict-less result left by an older server gets an ``abandoned`` verdict.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Protocol

from crypto import group
from crypto.errors import MixvoteError, ProtocolViolation, error_class
from crypto.protocol.wire import (
    SKIPPED,
    Message,
    SignedMessage,
    canonical_json,
    decode_body,
    decryption_context,
    digest,
)
from mixserver import jobs
from mixserver.machine import (
    ABANDONED,
    RESTARTED,
    AbandonHop,
    AbandonShare,
    BoardEntry,
    Combine,
    CommitHop,
    CommitShare,
    DecryptFailed,
    DecryptMachine,
    Effect,
    MixFinished,
    MixMachine,
    Progress,
    Send,
    Timeouts,
    VerifyHop,
    VerifyShare,
    check_action,
    resume_stage,
)

log = logging.getLogger("mixserver.coordinator")

#: Node messages that go on the record: each binds the fingerprint and the head the node saw.
BOUND_KINDS = frozenset(
    {"node.endorse", "dkg.deal", "dkg.complaint", "dkg.response", "mix.result", "decrypt.share",
     "job.failed"}
)

Machine = MixMachine | DecryptMachine


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
    tick: float = 0.25
    status_interval: float = 0.25

    def timeouts(self) -> Timeouts:
        return Timeouts(self.hop_timeout, self.connect_grace, self.decrypt_timeout)


@dataclass
class Run:
    """In-memory state of one election's key generation (redone from scratch after a crash:
    its transcript reaches the board in one transaction with the result)."""

    eid: str
    task: asyncio.Future[Any] | None = None
    dkg_round: dict[int, SignedMessage] | None = None
    dkg_kind: str = ""
    dkg_event: asyncio.Event | None = None
    started: dict[str, float] = field(default_factory=dict)
    #: each node's node.endorse of the fingerprint (recorded with the DKG transcript)
    endorsements: dict[int, SignedMessage] = field(default_factory=dict)
    #: the newest board index each node holds a receipt for (in memory; a reconnection resends)
    receipted: dict[int, int] = field(default_factory=dict)


# --- board reads and writes (plain functions: the I/O thread runs them, tests call them) --------


def author_positions(db: Any, eid: str) -> dict[bytes, int]:
    """Ed25519 signing key (first 32 bytes of the node identity) -> node position."""
    return {bytes(k[:32]): p for p, k, _tok in db.nodes(eid) if k is not None}


def board_entries(db: Any, eid: str, kinds: Iterable[str]) -> list[BoardEntry]:
    """The entries of ``kinds`` in board order, decoded, with their author's node position."""
    authors = author_positions(db, eid)
    got = [s for kind in kinds for s in db.entries_of_kind(eid, kind)]
    got.sort(key=lambda s: s.entry.index)
    return [
        BoardEntry(s.entry.index, s.kind, decode_body(s.entry.body), authors.get(s.entry.author))
        for s in got
    ]


MIX_KINDS = ("voting.closed", "mix.result", "hop.verdict")
DECRYPT_KINDS = (*MIX_KINDS, "decrypt.share", "decrypt.verdict")


def load_mix(db: Any, eid: str, session: str, timeouts: Timeouts) -> MixMachine:
    params, _phase, state = db.election(eid)
    machine = MixMachine.from_board(
        eid,
        params,
        bytes.fromhex(state["public_key"]),
        board_entries(db, eid, MIX_KINDS),
        session,
        timeouts,
    )
    machine.fingerprint = bytes.fromhex(state["fingerprint"])
    return machine


def load_decrypt(db: Any, eid: str, session: str, timeouts: Timeouts) -> DecryptMachine:
    params, _phase, state = db.election(eid)
    machine = DecryptMachine.from_board(
        eid,
        params,
        state.get("qualified", []),
        board_entries(db, eid, DECRYPT_KINDS),
        session,
        timeouts,
        [bytes.fromhex(v) for v in state.get("verification_keys", [])],
    )
    machine.fingerprint = bytes.fromhex(state["fingerprint"])
    return machine


def write_hop(db: Any, eid: str, c: CommitHop) -> int:
    """The node's result (if any) and the server's verdict on it, in one transaction; returns
    the verdict's index."""
    with db.transaction():
        result_entry, output_digest = 0, b""
        if c.result is not None:
            r = c.result
            stored = db.append(eid, r.message.kind, r.body, r.author, r.signature)
            result_entry, output_digest = stored.entry.index, digest(r.message["outputs"])
        evidence = skip_evidence(db, eid, c)
        _p, phase, state = db.election(eid)
        hops = [
            *state.get("hops", []),
            {
                "hop": c.hop,
                "node": c.position,
                "status": c.status,
                "reason": c.reason,
                "seconds": round(c.seconds, 3),
            },
        ]
        verdict = Message(
            "hop.verdict",
            eid,
            {
                "hop": c.hop,
                "position": c.position,
                "status": c.status,
                "reason": c.reason[:4000],
                "result_entry": result_entry,
                "output_digest": output_digest,
                **evidence,
            },
        )
        return int(db.append_server(eid, verdict, phase=phase, state={"hops": hops}).entry.index)


NO_EVIDENCE = {"evidence_entry": 0, "requested_ms": 0, "gave_up_ms": 0, "timeout_ms": 0}


def skip_evidence(db: Any, eid: str, c: CommitHop) -> dict[str, int]:
    """The evidence fields of a hop verdict: a skipped hop's job.failed entry (appended here, in
    the verdict's transaction), or the times of its time-out (Unix milliseconds, the request
    time ``c.seconds`` before now); all 0 otherwise."""
    if c.status != SKIPPED:
        return dict(NO_EVIDENCE)
    if c.evidence is not None:
        e = c.evidence
        stored = db.append(eid, e.message.kind, e.body, e.author, e.signature)
        return {**NO_EVIDENCE, "evidence_entry": stored.entry.index}
    if c.timeout > 0:
        gave_up = int(time.time() * 1000)
        return {
            "evidence_entry": 0,
            "requested_ms": gave_up - math.ceil(c.seconds * 1000),
            "gave_up_ms": gave_up,
            "timeout_ms": int(c.timeout * 1000),
        }
    return dict(NO_EVIDENCE)


def write_abandoned_hop(db: Any, eid: str, a: AbandonHop) -> int:
    verdict = Message(
        "hop.verdict",
        eid,
        {
            "hop": a.hop,
            "position": a.position,
            "status": ABANDONED,
            "reason": RESTARTED,
            "result_entry": a.result_entry,
            "output_digest": a.output_digest,
            **NO_EVIDENCE,
        },
    )
    return int(db.append_server(eid, verdict).entry.index)


def write_share(db: Any, eid: str, c: CommitShare) -> int:
    """The node's decryption share and the verdict on it, in one transaction."""
    with db.transaction():
        s = c.share
        stored = db.append(eid, s.message.kind, s.body, s.author, s.signature)
        verdict = Message(
            "decrypt.verdict",
            eid,
            {
                "position": c.position,
                "status": c.status,
                "reason": c.reason[:4000],
                "share_entry": stored.entry.index,
            },
        )
        return int(db.append_server(eid, verdict).entry.index)


def write_abandoned_share(db: Any, eid: str, a: AbandonShare) -> int:
    verdict = Message(
        "decrypt.verdict",
        eid,
        {
            "position": a.position,
            "status": ABANDONED,
            "reason": RESTARTED,
            "share_entry": a.share_entry,
        },
    )
    return int(db.append_server(eid, verdict).entry.index)


def receipts_for(
    db: Any, eid: str, positions: Iterable[int], since: Mapping[int, int]
) -> tuple[dict[int, list[bytes]], dict[int, int]]:
    """Receipts to send: for each node position, one for each of its entries after index
    ``since[position]``, then one for the board's head. Returns (receipt JSON documents per
    position, the newest index receipted per position)."""
    from crypto.receipts import encode_receipt

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


def write_effect(db: Any, eid: str, effect: Effect) -> None:
    """Carry out one board-writing effect."""
    if isinstance(effect, CommitHop):
        write_hop(db, eid, effect)
    elif isinstance(effect, AbandonHop):
        write_abandoned_hop(db, eid, effect)
    elif isinstance(effect, CommitShare):
        write_share(db, eid, effect)
    elif isinstance(effect, AbandonShare):
        write_abandoned_share(db, eid, effect)
    else:
        raise TypeError(f"write_effect: {type(effect).__name__} writes nothing")


def write_mixed(db: Any, eid: str, ok: bool, seconds: float, count: int) -> None:
    with db.transaction():
        _p, phase, state = db.election(eid)
        timings = {**state.get("timings", {}), "mixing": round(seconds, 4)}
        if count:
            timings["mixing_ballots_per_s"] = round(count / seconds if seconds else 0.0, 4)
        db.set_phase(eid, phase, mixed=ok, timings=timings)


def write_tally(db: Any, eid: str, result: Mapping[str, Any], seconds: float) -> None:
    """Append the tally, once: a second decryption run that raced the first (publish pressed
    while mixing ended) finds the election tallied and writes nothing."""
    summary = {k: v for k, v in result.items() if k != "plaintexts"}
    with db.transaction():
        _p, phase, state = db.election(eid)
        if phase == "tallied":
            return
        timings = {**state.get("timings", {}), "decryption": round(seconds, 4)}
        db.append_server(
            eid,
            Message(
                "tally",
                eid,
                {"result": canonical_json(summary), "plaintexts": list(result["plaintexts"])},
            ),
            phase="tallied",
            state={"result": summary, "timings": timings},
        )


def write_open(db: Any, eid: str) -> None:
    with db.transaction():
        _params, phase, state = db.election(eid)
        check_action("open", phase, state)
        db.append_server(
            eid,
            Message("voting.opened", eid, {"public_key": bytes.fromhex(state["public_key"])}),
            phase="voting",
            state={"voting_opened": time.time()},
        )


def write_close(db: Any, eid: str) -> int:
    """Close voting in one transaction: the counted ballots (the latest per voter) become the
    closed list, and no ballot is accepted from here on. Returns the count."""
    with db.transaction():
        params, phase, state = db.election(eid)
        check_action("close", phase, state)
        cts, trackers = [], []
        for stored in db.latest_ballots(eid):
            cts.append(decode_body(stored.entry.body)["ciphertext"])
            trackers.append(stored.hash)
        timings = {
            **state.get("timings", {}),
            "voting": round(time.time() - state.get("voting_opened", time.time()), 4),
        }
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
            state={"voting_closed": time.time(), "closed_count": len(cts), "timings": timings},
        )
        return len(cts)


def write_start_mixing(db: Any, eid: str) -> None:
    with db.transaction():
        _params, phase, state = db.election(eid)
        check_action("mix", phase, state)
        db.set_phase(eid, "mixing", hops=[], mixed=False)


def write_publish(db: Any, eid: str) -> bool:
    """Note the publish request; True if decryption can start now (mixing is over)."""
    with db.transaction():
        _params, phase, state = db.election(eid)
        check_action("publish", phase, state)
        db.set_phase(eid, phase, publish_requested=True)
        return phase == "decrypting" or bool(state.get("mixed"))


def dkg_outcome(
    params: Any, deals: list[bytes], complaints: list[bytes], responses: list[bytes]
) -> tuple[Message, dict[str, Any]]:
    """The dkg.result entry and the election state it implies, from the three rounds' items."""
    from crypto.dkg import ComplaintMsg, Deal, ResponseMsg, dkg_result
    from crypto.elgamal import encode_public_key

    result = dkg_result(
        params,
        {d.dealer: d for d in (Deal.from_bytes(params, x) for x in deals)},
        {c.sender: c for c in (ComplaintMsg.from_bytes(params, x) for x in complaints)},
        {r.dealer: r for r in (ResponseMsg.from_bytes(params, x) for x in responses)},
    )
    g = params.group
    pk = encode_public_key(result.public_key)
    vkeys = [g.encode(result.verification_keys[j]) for j in range(1, params.n + 1)]
    msg = Message(
        "dkg.result",
        params.election_id,
        {
            "public_key": pk,
            "verification_keys": vkeys,
            "qualified": [str(i).encode() for i in result.qualified],
        },
    )
    state = {
        "public_key": pk.hex(),
        "verification_keys": [v.hex() for v in vkeys],
        "qualified": list(result.qualified),
    }
    return msg, state


def write_dkg(
    db: Any, eid: str, transcript: list[SignedMessage], result: Message, state: dict[str, Any]
) -> None:
    """The whole DKG transcript and its result in one transaction (a crash mid-way leaves no
    part of it, and key generation is redone)."""
    with db.transaction():
        for signed in transcript:
            db.append(eid, signed.message.kind, signed.body, signed.author, signed.signature)
        db.append_server(eid, result, phase="keygen", state=state)


class Coordinator:
    """Class-level coordinator; see the module docstring."""

    services: ClassVar[Any] = None
    loop: ClassVar[Any] = None
    pool: ClassVar[Executor | None] = None
    io: ClassVar[ThreadPoolExecutor | None] = None
    config: ClassVar[Config] = Config()
    clock: ClassVar[Callable[[], float]] = time.monotonic
    nodes: ClassVar[dict[str, dict[int, NodeLink]]] = {}
    #: immutable snapshot of the connected positions per election, for any thread to read
    connected: ClassVar[Mapping[str, frozenset[int]]] = MappingProxyType({})
    #: immutable snapshot of each election's live progress, for any thread to read
    progress: ClassVar[Mapping[str, Mapping[str, Any]]] = MappingProxyType({})
    #: immutable (phase, state, ballots cast) of each election a machine drives, refreshed by the
    #: board's I/O thread after each of its writes: status requests read it instead of waiting
    #: for the board while a large hop is being stored
    snapshots: ClassVar[Mapping[str, tuple[str, Mapping[str, Any], int]]] = MappingProxyType({})
    runs: ClassVar[dict[str, Run]] = {}
    machines: ClassVar[dict[str, Machine]] = {}
    #: (election, stage) of machines being rebuilt from the board, so one is never started twice
    _starting: ClassVar[set[tuple[str, str]]] = set()
    busy: ClassVar[dict[str, str]] = {}
    listeners: ClassVar[dict[str, set[Callable[[dict[str, Any]], None]]]] = {}
    _status_due: ClassVar[dict[str, Any]] = {}
    _ticker: ClassVar[asyncio.Future[None] | None] = None
    _tasks: ClassVar[set[asyncio.Future[Any]]] = set()

    # --- set-up ---------------------------------------------------------------------------
    @classmethod
    def configure(
        cls, services: Any, loop: Any, pool: Executor, config: Config | None = None
    ) -> None:
        """Bind the services, the IOLoop captured at start-up and the process pool."""
        cls.services, cls.loop, cls.pool = services, loop, pool
        cls.config = config or Config()
        if cls.io is not None:
            cls.io.shutdown(wait=False)
        cls.io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="board")
        for _ in range(max(1, cls.config.verify_workers)):
            pool.submit(jobs.warm_up)  # start the processes now, not at the first hop
        cls.nodes, cls.runs, cls.listeners, cls.machines, cls.busy = {}, {}, {}, {}, {}
        cls._starting = set()
        cls.connected = MappingProxyType({})
        cls.progress = MappingProxyType({})
        cls.snapshots = MappingProxyType({})
        cls._status_due = {}
        cls._ticker = None

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
    def _background(cls, eid: str, coro: Any) -> None:
        """Run ``coro`` as a task kept referenced until done; its failure is reported."""
        task = asyncio.ensure_future(coro)
        cls._tasks.add(task)
        task.add_done_callback(cls._tasks.discard)
        task.add_done_callback(lambda f: cls._task_done(eid, f))

    @classmethod
    async def _io(cls, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(db, *args)`` in the board's I/O thread (in submission order)."""
        return await asyncio.get_running_loop().run_in_executor(cls.io, fn, cls.services.db, *args)

    @classmethod
    def resume(cls) -> None:
        """After a (re)start: pick up every election where the board says it was."""
        db = cls.services.db
        for eid in db.election_ids():
            _params, phase, state = db.election(eid)
            stage = resume_stage(phase, state)
            if stage is not None:
                cls._start_machine(eid, stage)

    # --- status -------------------------------------------------------------------------------
    @classmethod
    def connected_positions(cls, eid: str) -> list[int]:
        """Safe from any thread (reads the immutable snapshot)."""
        return sorted(cls.connected.get(eid, frozenset()))

    @classmethod
    def status_snapshot(cls, eid: str) -> tuple[str, Mapping[str, Any], int] | None:
        """(phase, state, ballots cast) while a machine drives the election, else None; safe
        from any thread."""
        return cls.snapshots.get(eid)

    @classmethod
    def _snapshot_state(cls, db: Any, eid: str, keep: bool = True) -> None:
        """Refresh (or, with ``keep`` False, drop) the election's status snapshot. I/O thread."""
        rest = {k: v for k, v in cls.snapshots.items() if k != eid}
        if keep:
            _params, phase, state = db.election(eid)
            cast, _counted = db.ballot_count(eid)
            rest[eid] = (phase, MappingProxyType(state), cast)
        cls.snapshots = MappingProxyType(rest)

    @classmethod
    def live_progress(cls, eid: str) -> Mapping[str, Any] | None:
        """The in-memory progress of an election (None if none yet); safe from any thread."""
        return cls.progress.get(eid)

    @classmethod
    def add_listener(cls, eid: str, fn: Callable[[dict[str, Any]], None]) -> None:
        cls.listeners.setdefault(eid, set()).add(fn)

    @classmethod
    def remove_listener(cls, eid: str, fn: Callable[[dict[str, Any]], None]) -> None:
        cls.listeners.get(eid, set()).discard(fn)

    @classmethod
    def push_status(cls, eid: str) -> None:
        """Coalesced: at most one status computation per ``status_interval``, computed in the
        I/O thread and delivered to the listeners on the loop."""
        if not cls.listeners.get(eid) or eid in cls._status_due or cls.loop is None:
            return
        cls._status_due[eid] = True

        async def deliver() -> None:
            try:
                await asyncio.sleep(cls.config.status_interval)
                status = await asyncio.get_running_loop().run_in_executor(
                    cls.io, cls.services.status, eid
                )
            finally:
                cls._status_due.pop(eid, None)
            for fn in list(cls.listeners.get(eid, ())):
                try:
                    fn(status)
                except Exception:  # a broken listener must not stop the others
                    cls.remove_listener(eid, fn)

        cls._background(eid, deliver())

    @classmethod
    def _progress(cls, eid: str, replace: bool = False, **progress: Any) -> None:
        """Merge ``progress`` into the election's live progress (or, with ``replace``, start a
        fresh one, so that no stale hop or count outlives the stage it belonged to). In memory
        only; listeners get it coalesced."""
        old = {} if replace else dict(cls.progress.get(eid, {}))
        cls.progress = MappingProxyType(
            {**cls.progress, eid: MappingProxyType({**old, **progress})}
        )
        cls.push_status(eid)

    # --- node registry --------------------------------------------------------------------------
    @classmethod
    def _snapshot(cls, eid: str) -> None:
        cls.connected = MappingProxyType({**cls.connected, eid: frozenset(cls.nodes.get(eid, {}))})

    @classmethod
    def register(cls, eid: str, position: int, link: NodeLink) -> None:
        """A node authenticated: replace any older connection of the same node."""
        old = cls.nodes.setdefault(eid, {}).get(position)
        if old is not None and old is not link:
            old.close_link("replaced by a newer connection of the same node")
        cls.nodes[eid][position] = link
        cls._snapshot(eid)
        params, phase, _state = cls.services.db.election(eid)
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
        cls._run(eid).receipted.pop(position, None)  # a new connection: resend its receipts
        cls._background(eid, cls._send_receipts(eid, [position]))
        cls.maybe_start_dkg(eid)
        machine = cls.machines.get(eid)
        if machine is not None:
            cls._apply(eid, machine, machine.node_connected(position, cls.clock()))

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
    async def _send_receipts(cls, eid: str, positions: Iterable[int] | None = None) -> None:
        """Send the connected nodes (or ``positions``) their new receipts and the head's."""
        targets = sorted(set(cls.nodes.get(eid, {})) if positions is None else set(positions))
        if not targets:
            return
        run = cls._run(eid)
        docs, newest = await cls._io(receipts_for, eid, targets, dict(run.receipted))
        for position, items in docs.items():
            for doc in items:
                cls._send(eid, position, Message("receipt", eid, {"receipt": doc}))
            run.receipted[position] = max(run.receipted.get(position, -1), newest[position])

    @classmethod
    def unregister(cls, eid: str, position: int, link: NodeLink) -> None:
        if cls.nodes.get(eid, {}).get(position) is link:
            del cls.nodes[eid][position]
            cls._snapshot(eid)
            machine = cls.machines.get(eid)
            if machine is not None:
                cls._apply(eid, machine, machine.node_gone(position, cls.clock()))
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
        machine = cls.machines.get(eid)
        now = cls.clock()
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
            if position not in run.endorsements:
                raise ProtocolViolation(f"{msg.kind}: node {position} has not signed the "
                                        "election fingerprint (node.endorse) first")
            if position in run.dkg_round:
                raise ProtocolViolation(f"{msg.kind}: node {position} already sent one (replay)")
            cls._check_dkg_message(eid, position, msg)
            run.dkg_round[position] = signed
            if run.dkg_event is not None and len(run.dkg_round) == len(cls._dkg_participants(eid)):
                run.dkg_event.set()
            return "recorded"
        if msg.kind == "dkg.done":
            return "key share confirmed"
        if msg.kind == "job.failed":
            if isinstance(machine, MixMachine):
                cls._apply(
                    eid, machine,
                    machine.job_failed(position, msg["job"], msg["reason"], now, signed),
                )
            else:
                log.warning(
                    "election %s: node %d: job %s failed: %s",
                    eid,
                    position,
                    msg["job"],
                    msg["reason"],
                )
            return "noted"
        if msg.kind == "mix.result":
            if not isinstance(machine, MixMachine):
                raise ProtocolViolation("mix.result: no mixing is under way")
            note, effects = machine.result(position, signed, now)
            cls._apply(eid, machine, effects)
            return note
        if msg.kind == "decrypt.share":
            if not isinstance(machine, DecryptMachine):
                raise ProtocolViolation("decrypt.share: no decryption is under way")
            note, effects = machine.share(position, signed, now)
            cls._apply(eid, machine, effects)
            return note
        raise ProtocolViolation(f"{msg.kind}: a node may not send this here")

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

    # --- admin actions (scheduled with loop.add_callback) ---------------------------------------
    @classmethod
    def _action(
        cls,
        eid: str,
        action: str,
        write: Callable[..., Any],
        then: Callable[[Any], None] | None,
        done: concurrent.futures.Future[Any] | None,
    ) -> None:
        """Validate and carry out an admin action in the board's I/O thread (one transaction, so
        the phase check and the write cannot be split by another action); the outcome (or the
        reason it cannot happen now) goes to ``done``. One action at a time per election."""
        if eid in cls.busy:
            exc = ProtocolViolation(f"{action}: {cls.busy[eid]} is still under way")
            if done is not None and not done.done():
                done.set_exception(exc)
            else:
                log.warning("election %s: %s", eid, exc)
            return
        cls.busy[eid] = action

        async def go() -> None:
            try:
                outcome = await cls._io(write, eid)
            except BaseException as exc:
                if done is not None and not done.done():
                    done.set_exception(exc)
                else:
                    log.warning("election %s: %s refused: %s", eid, action, exc)
                return
            finally:
                cls.busy.pop(eid, None)
            if done is not None and not done.done():
                done.set_result({"election": eid, "done": action})
            cls.push_status(eid)
            if then is not None:
                then(outcome)

        cls._background(eid, go())

    @classmethod
    def open_voting(cls, eid: str, done: concurrent.futures.Future[Any] | None = None) -> None:
        cls._action(eid, "open", write_open, None, done)

    @classmethod
    def close_voting(cls, eid: str, done: concurrent.futures.Future[Any] | None = None) -> None:
        """Close voting: the counted ballots (the latest per voter) become the closed list."""
        cls._action(eid, "close", write_close, None, done)

    @classmethod
    def start_mixing(cls, eid: str, done: concurrent.futures.Future[Any] | None = None) -> None:
        cls._action(eid, "mix", write_start_mixing, lambda _: cls._start_machine(eid, "mix"), done)

    @classmethod
    def publish(cls, eid: str, done: concurrent.futures.Future[Any] | None = None) -> None:
        """Decrypt and tally once mixing is over (now, or as soon as it finishes)."""

        def then(ready: bool) -> None:
            if ready and not isinstance(cls.machines.get(eid), DecryptMachine):
                cls._start_machine(eid, "decrypt")

        cls._action(eid, "publish", write_publish, then, done)

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
            elif isinstance(effect, (CommitHop, AbandonHop, CommitShare, AbandonShare)):
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
