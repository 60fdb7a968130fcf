"""The decryption machine: collecting verified decryption shares of the final list from the
eligible nodes, as a sans-io state machine (events in, effects out; see
:mod:`mixserver.machine`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from crypto.errors import ProtocolViolation
from crypto.protocol.sessions import ShareCollector
from crypto.protocol.wire import (
    ABANDONED,
    ACCEPTED,
    REJECTED,
    Message,
    SignedMessage,
    digest,
)
from mixserver.machine import (
    AbandonShare,
    BoardEntry,
    Combine,
    CommitShare,
    DecryptFailed,
    Effect,
    Progress,
    Send,
    Timeouts,
    VerifyShare,
    entry_author,
)
from mixserver.mixing import MixMachine


@dataclass
class DecryptMachine:
    """Collect decryption shares of the final list from the eligible nodes (qualified in the
    DKG, not excluded from the cascade) until ``t`` verified ones are in."""

    eid: str
    group: str
    width: int
    final: bytes
    count: int
    collector: ShareCollector
    session: str
    timeouts: Timeouts = field(default_factory=Timeouts)
    orphans: list[AbandonShare] = field(default_factory=list)
    connected: set[int] = field(default_factory=set)
    verifying: dict[int, SignedMessage] = field(default_factory=dict)
    #: the nodes' verification keys (index position - 1), to check their shares
    verification_keys: Sequence[bytes] = ()
    deadline: float = 0.0
    finished: bool = False
    started: bool = False
    fingerprint: bytes = b""

    @classmethod
    def from_board(
        cls,
        eid: str,
        params: Mapping[str, Any],
        qualified: Sequence[int],
        entries: Iterable[BoardEntry],
        session: str,
        timeouts: Timeouts | None = None,
        verification_keys: Sequence[bytes] = (),
    ) -> DecryptMachine:
        """Rebuild from the record: the final list (the closed list or the last accepted hop's
        output), the excluded nodes, and every share verdict so far."""
        entries = list(entries)
        mix = MixMachine.from_board(eid, params, b"", entries, session)
        if not mix.cascade.done:
            raise ProtocolViolation("decryption: the cascade has not finished")
        eligible = set(qualified) - set(mix.cascade.excluded)
        collector = ShareCollector(params["t"], eligible)
        shares: dict[int, BoardEntry] = {}
        referenced: set[int] = set()
        for e in entries:
            if e.kind == "decrypt.share":
                shares[e.index] = e
            elif e.kind == "decrypt.verdict":
                v = e.message
                referenced.add(v["share_entry"])
                if v["status"] == ABANDONED:
                    continue
                if v["status"] == ACCEPTED:
                    collector.add(v["position"], shares[v["share_entry"]].message["share"])
                else:
                    collector.add(v["position"], None, v["reason"])
        orphans = []
        for index in sorted(set(shares) - referenced):
            orphans.append(AbandonShare(entry_author(shares[index]), index))
        return cls(
            eid,
            params["group"],
            params["width"],
            mix.current,
            mix.count,
            collector,
            session,
            timeouts or Timeouts(),
            orphans,
            verification_keys=tuple(verification_keys),
        )

    @property
    def job(self) -> str:
        return f"decrypt-{self.session}"

    def request(self) -> Message:
        return Message(
            "decrypt.request",
            self.eid,
            {
                "job": self.job,
                "group": self.group,
                "width": self.width,
                "count": self.count,
                "ciphertexts": self.final,
                "fingerprint": self.fingerprint,
            },
        )

    def _pending(self, position: int) -> bool:
        c = self.collector
        return (
            position in c.eligible
            and position not in c.valid
            and position not in c.invalid
            and position not in self.verifying
        )

    def start(self, now: float, connected: Iterable[int] = ()) -> list[Effect]:
        if self.started:
            raise ProtocolViolation("decryption: already under way")
        self.started = True
        self.connected = set(connected)
        self.deadline = now + self.timeouts.decrypt
        out: list[Effect] = list(self.orphans)
        self.orphans = []
        if self.count == 0:
            self.finished = True
            return [*out, Combine({})]
        out.append(
            Progress(
                {
                    "stage": "decrypting",
                    "done": len(self.collector.valid),
                    "total": self.collector.t,
                },
                replace=True,
            )
        )
        done = self._conclude()
        if done:
            return out + done
        request = self.request()
        out += [Send(p, request) for p in sorted(self.connected) if self._pending(p)]
        return out

    def node_connected(self, position: int, now: float) -> list[Effect]:
        self.connected.add(position)
        if self.started and not self.finished and self._pending(position):
            return [Send(position, self.request())]
        return []

    def node_gone(self, position: int, now: float) -> list[Effect]:
        self.connected.discard(position)  # it is asked again when it reconnects
        return []

    def share(self, position: int, signed: SignedMessage, now: float) -> tuple[str, list[Effect]]:
        """A node's decrypt.share: returns (acknowledgement note, effects)."""
        msg = signed.message
        if msg["job"] != self.job or not self.started:
            raise ProtocolViolation(f"decrypt.share: no job {msg['job']!r} pending")
        if self.finished:
            return "discarded: decryption is over", []
        if not self._pending(position):
            raise ProtocolViolation(f"decrypt.share: node {position} may not send a share now")
        if msg["input_digest"] != digest(self.final):
            return "received", self._decide(
                position, signed, False, "the share is not for the final list"
            )
        self.verifying[position] = signed
        return "received", [VerifyShare(position, signed)]

    def verified(self, position: int, ok: bool, reason: str, now: float) -> list[Effect]:
        signed = self.verifying.pop(position, None)
        if signed is None:
            raise ProtocolViolation(f"decryption: no share of node {position} is being verified")
        if self.finished:
            return []
        return self._decide(position, signed, ok, reason or "share verified")

    def tick(self, now: float) -> list[Effect]:
        if self.started and not self.finished and now > self.deadline:
            self.finished = True
            return [DecryptFailed("decryption timed out")]
        return []

    def _decide(self, position: int, signed: SignedMessage, ok: bool, reason: str) -> list[Effect]:
        share = signed.message["share"]
        self.collector.add(position, share if ok else None, reason)
        out: list[Effect] = [
            CommitShare(position, ACCEPTED if ok else REJECTED, reason, signed),
            Progress({"stage": "decrypting", "done": len(self.collector.valid)}),
        ]
        return out + self._conclude()

    def _conclude(self) -> list[Effect]:
        c = self.collector
        if c.complete:
            self.finished = True
            return [Combine(dict(sorted(c.valid.items())[: c.t]))]
        if c.hopeless:
            self.finished = True
            return [DecryptFailed("decryption failed: fewer than t valid shares")]
        return []
