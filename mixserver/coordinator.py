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
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Protocol

from crypto.errors import ProtocolViolation
from crypto.protocol.wire import (
    Message,
    SignedMessage,
)
from mixserver import jobs
from mixserver.boardio import (
    receipts_for,
    write_close,
    write_open,
    write_publish,
    write_start_mixing,
)
from mixserver.decryption import DecryptMachine
from mixserver.driving import Machine, MachineDriver
from mixserver.keygen import KeyGeneration
from mixserver.machine import (
    Timeouts,
    resume_stage,
)
from mixserver.mixing import MixMachine

log = logging.getLogger("mixserver.coordinator")

#: Node messages that go on the record: each binds the fingerprint and the head the node saw.
BOUND_KINDS = frozenset(
    {"node.endorse", "dkg.deal", "dkg.complaint", "dkg.response", "mix.result", "decrypt.share",
     "job.failed"}
)



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


class Coordinator(KeyGeneration, MachineDriver):
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
        if msg.kind in ("mix.result", "decrypt.share"):
            if isinstance(machine, MixMachine) and msg.kind == "mix.result":
                note, effects = machine.result(position, signed, now)
            elif isinstance(machine, DecryptMachine) and msg.kind == "decrypt.share":
                note, effects = machine.share(position, signed, now)
            else:
                stage = "mixing" if msg.kind == "mix.result" else "decryption"
                raise ProtocolViolation(f"{msg.kind}: no {stage} is under way")
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
