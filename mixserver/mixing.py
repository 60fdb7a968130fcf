"""The mixing machine: the pipelined cascade of shuffles, each hop verified by the server, as a
sans-io state machine (events in, effects out; see :mod:`mixserver.machine`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from crypto.errors import ProtocolViolation
from crypto.protocol.sessions import Cascade
from crypto.protocol.wire import (
    ABANDONED,
    ACCEPTED,
    REJECTED,
    SKIPPED,
    Message,
    SignedMessage,
    digest,
    shuffle_sid,
)
from mixserver.machine import (
    AbandonHop,
    BoardEntry,
    CommitHop,
    Effect,
    MixFinished,
    Progress,
    Send,
    Timeouts,
    VerifyHop,
    entry_author,
)


@dataclass
class _Job:
    job: str
    position: int
    inputs: bytes
    sent: float
    result: SignedMessage | None = None
    verifying: bool = False
    request: Message | None = None  # sent again when the node comes back
    gone: float | None = None  # when the node disconnected while this job was pending


@dataclass
class MixMachine:
    """The pipelined cascade: node 1 shuffles the closed list, the server verifies each hop in
    order; while hop i is verified, node i+1 already shuffles hop i's output (a speculative job,
    used only if hop i is accepted, else abandoned and node i+1 is asked again with the last
    accepted list). Verdicts are strictly in cascade order."""

    eid: str
    group: str
    public_key: bytes
    width: int
    cascade: Cascade
    current: bytes
    count: int
    session: str
    timeouts: Timeouts = field(default_factory=Timeouts)
    orphans: list[AbandonHop] = field(default_factory=list)
    connected: set[int] = field(default_factory=set)
    active: _Job | None = None
    ahead: _Job | None = None
    dropped: set[str] = field(default_factory=set)
    waiting_since: float | None = None
    finished: bool = False
    started: bool = False
    _serial: int = 0
    #: the election fingerprint every request carries (the nodes refuse another one)
    fingerprint: bytes = b""

    @classmethod
    def from_board(
        cls,
        eid: str,
        params: Mapping[str, Any],
        public_key: bytes,
        entries: Iterable[BoardEntry],
        session: str,
        timeouts: Timeouts | None = None,
    ) -> MixMachine:
        """Rebuild from the record: the closed list, every verdict and the result each accepted
        one refers to; results no verdict refers to become :class:`AbandonHop` effects."""
        cascade = Cascade(list(range(1, params["n"] + 1)))
        current, count = b"", -1
        results: dict[int, BoardEntry] = {}
        referenced: set[int] = set()
        for e in entries:
            if e.kind == "voting.closed":
                current, count = e.message["ciphertexts"], e.message["count"]
            elif e.kind == "mix.result":
                results[e.index] = e
            elif e.kind == "hop.verdict":
                v = e.message
                referenced.add(v["result_entry"])
                if v["status"] == ABANDONED:
                    continue
                cascade.record(v["position"], v["status"])
                if v["status"] == ACCEPTED:
                    current = results[v["result_entry"]].message["outputs"]
        if count < 0:
            raise ProtocolViolation("mixing: the record has no closed ballot list")
        orphans = []
        for index in sorted(set(results) - referenced):
            e = results[index]
            position = entry_author(e)
            orphans.append(AbandonHop(position, position, index, digest(e.message["outputs"])))
        return cls(
            eid,
            params["group"],
            public_key,
            params["width"],
            cascade,
            current,
            count,
            session,
            timeouts or Timeouts(),
            orphans,
        )

    # events -------------------------------------------------------------------------------
    def start(self, now: float, connected: Iterable[int] = ()) -> list[Effect]:
        """Begin (or resume) the cascade with the nodes connected now."""
        if self.started:
            raise ProtocolViolation("mixing: already under way")
        self.started = True
        self.connected = set(connected)
        out: list[Effect] = list(self.orphans)
        self.orphans = []
        return out + self._advance(now)

    def node_connected(self, position: int, now: float) -> list[Effect]:
        self.connected.add(position)
        a = self.active
        if a is not None and a.position == position and a.result is None and a.gone is not None:
            # it came back within the grace period: ask it again (same job)
            a.gone = None
            assert a.request is not None
            return [Send(position, a.request)]
        return self._advance(now) if self.started else []

    def node_gone(self, position: int, now: float) -> list[Effect]:
        """A node that disconnects during its hop has ``connect_grace`` to come back; only then
        is the hop skipped, as a time-out with its times recorded (no skip without evidence)."""
        self.connected.discard(position)
        if self.ahead is not None and self.ahead.position == position:
            self._drop_ahead()
        a = self.active
        if a is not None and a.position == position and a.result is None:
            a.gone = now
        return []

    def job_failed(
        self, position: int, job: str, reason: str, now: float,
        signed: SignedMessage | None = None,
    ) -> list[Effect]:
        """The node's own report that its job failed; ``signed`` (its job.failed message) is
        recorded with the skipped verdict as its evidence."""
        if self.ahead is not None and self.ahead.job == job and self.ahead.position == position:
            self._drop_ahead()  # asked afresh when its turn comes
            return []
        a = self.active
        if a is not None and a.job == job and a.position == position and a.result is None:
            return self._skip(a, f"node {position} reported: {reason}", now, evidence=signed)
        return []

    def result(self, position: int, signed: SignedMessage, now: float) -> tuple[str, list[Effect]]:
        """A node's mix.result: returns (acknowledgement note, effects); raises
        ProtocolViolation if no such job is pending for this node."""
        job = signed.message["job"]
        if job in self.dropped:
            self.dropped.discard(job)
            return (
                "discarded: this job was abandoned (its input was not accepted, or its time "
                "ran out)",
                [],
            )
        for d in (self.active, self.ahead):
            if d is not None and d.job == job and d.position == position and d.result is None:
                d.result = signed
                return "received", self._verify_if_ready(now)
        raise ProtocolViolation(f"mix.result: no job {job!r} pending for node {position}")

    def verified(self, job: str, ok: bool, reason: str, now: float) -> list[Effect]:
        """The verification of ``job`` finished."""
        a = self.active
        if a is None or a.job != job or not a.verifying or a.result is None:
            raise ProtocolViolation(f"mixing: no verification of job {job!r} is pending")
        return self._decide(a, ACCEPTED if ok else REJECTED, reason or "proof verified", now)

    def tick(self, now: float) -> list[Effect]:
        """Time-outs: a hop that takes too long, a node that does not connect in time."""
        if not self.started or self.finished:
            return []
        a = self.active
        if a is not None and a.result is None and now - a.sent >= self.timeouts.hop:
            return self._skip(a, "timed out", now, timeout=self.timeouts.hop)
        grace = self.timeouts.connect_grace
        if a is not None and a.result is None and a.gone is not None and now - a.gone >= grace:
            return self._skip(
                a, f"node {a.position} disconnected and did not come back in time", now,
                timeout=grace,
            )
        if a is None:
            return self._advance(now)
        return []

    # internals ------------------------------------------------------------------------------
    def _hop(self, position: int) -> int:
        return self.cascade.positions.index(position) + 1

    def _drop_ahead(self) -> None:
        assert self.ahead is not None
        self.dropped.add(self.ahead.job)
        self.ahead = None

    def _dispatch(self, position: int, inputs: bytes, now: float) -> tuple[_Job, Send]:
        self._serial += 1
        job = f"mix-{self._hop(position)}-{position}-{self.session}-{self._serial}"
        d = _Job(job, position, inputs, now)
        msg = Message(
            "mix.request",
            self.eid,
            {
                "job": job,
                "sid": shuffle_sid(self.eid),
                "group": self.group,
                "public_key": self.public_key,
                "width": self.width,
                "count": self.count,
                "ciphertexts": inputs,
                "fingerprint": self.fingerprint,
            },
        )
        d.request = msg
        return d, Send(position, msg)

    def _verify_if_ready(self, now: float) -> list[Effect]:
        a = self.active
        if a is None or a.result is None or a.verifying:
            return []
        if a.result.message["input_digest"] != digest(a.inputs):
            return self._decide(
                a, REJECTED, "the result is not for the list this node was given", now
            )
        a.verifying = True
        out: list[Effect] = [
            VerifyHop(a.job, a.position, a.inputs, a.result),
            Progress({"stage": "verifying", "node": a.position}),
        ]
        nxt = self.cascade.after(a.position)
        if nxt is not None and nxt in self.connected and self.ahead is None:
            self.ahead, send = self._dispatch(nxt, a.result.message["outputs"], now)
            out.append(send)
        return out

    def _decide(self, a: _Job, status: str, reason: str, now: float) -> list[Effect]:
        assert a.result is not None
        self.cascade.record(a.position, status)
        self.active = None
        out: list[Effect] = [
            CommitHop(self._hop(a.position), a.position, status, reason, a.result, now - a.sent)
        ]
        if status == ACCEPTED:
            self.current = a.result.message["outputs"]
        else:
            out.append(
                Send(
                    a.position,
                    Message(
                        "error",
                        self.eid,
                        {"code": "hop-rejected", "reason": reason[:4000], "ref": 0},
                    ),
                )
            )
        return out + self._advance(now)

    def _skip(
        self, a: _Job, reason: str, now: float, evidence: SignedMessage | None = None,
        timeout: float = 0.0,
    ) -> list[Effect]:
        """Skip the active hop with its evidence: the node's job.failed, or a time-out."""
        self.dropped.add(a.job)
        self.active = None
        self.cascade.record(a.position, SKIPPED)
        effect = CommitHop(
            self._hop(a.position), a.position, SKIPPED, reason, None, now - a.sent, evidence,
            timeout,
        )
        return [effect, *self._advance(now)]

    def _advance(self, now: float) -> list[Effect]:
        out: list[Effect] = []
        while self.active is None and not self.finished:
            position = self.cascade.next_hop()
            if position is None:
                self.finished = True
                if self.ahead is not None:
                    self._drop_ahead()
                ok = bool(self.cascade.accepted) or self.count == 0
                out.append(MixFinished(ok, "" if ok else "mixing failed: no hop was accepted"))
                break
            hop = self._hop(position)
            if self.count == 0:
                self.cascade.record(position, SKIPPED)
                out.append(CommitHop(hop, position, SKIPPED, "empty ballot list", None, 0.0))
                continue
            ahead = self.ahead
            if ahead is not None and (ahead.position != position or ahead.inputs != self.current):
                self._drop_ahead()
                ahead = None
            if ahead is not None:
                self.active, self.ahead = ahead, None
                self.waiting_since = None
                out.append(Progress(self._progress(position, "shuffling")))
                out += self._verify_if_ready(now)
                break
            if position in self.connected:
                self.active, send = self._dispatch(position, self.current, now)
                self.waiting_since = None
                out += [Progress(self._progress(position, "shuffling")), send]
                break
            if self.waiting_since is None:
                self.waiting_since = now
                out.append(Progress(self._progress(position, "waiting for the node")))
                break
            if now - self.waiting_since < self.timeouts.connect_grace:
                break
            self.waiting_since = None
            self.cascade.record(position, SKIPPED)
            out.append(
                CommitHop(
                    hop, position, SKIPPED, "node not connected", None,
                    self.timeouts.connect_grace, None, self.timeouts.connect_grace,
                )
            )
        return out

    def _progress(self, position: int, stage: str) -> dict[str, Any]:
        return {
            "hop": self._hop(position),
            "hops": len(self.cascade.positions),
            "node": position,
            "stage": stage,
            "done": 0,
            "total": self.count,
        }
