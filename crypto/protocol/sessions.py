"""The protocol's sans-io state machines (``docs/protocol.md``).

:class:`NodeSession` is the server's view of one node connection: challenge–response
authentication, sender and sequence checks, which kinds a node may send. :class:`Cascade` is the
order of mixing hops and the fate of each (accepted, rejected, skipped); :class:`ShareCollector`
gathers any ``t`` valid decryption shares. Messages in, decisions out; no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from crypto.errors import ProtocolViolation
from crypto.protocol.wire import (
    ACCEPTED,
    NONCE_SIZE,
    REJECTED,
    SKIPPED,
    Message,
    SignedMessage,
)
from crypto.record import KEY_SIZE

# --- the server's view of one node connection -----------------------------------------------


@dataclass(frozen=True)
class Enrolment:
    """What the server knows of an enrolled node: its position and key, or a one-time token."""

    election_id: str
    position: int
    public_key: bytes | None
    token: str | None


class NodeSession:
    """Authentication and ordering of one node connection (sans-io, server side).

    The server sends :meth:`challenge`; the node's first message must be ``auth``, signed by a key
    that is enrolled for the election (or accompanied by an unused one-time token), echoing the
    nonce. Every later message must be signed by the same key, carry the session nonce and a
    strictly increasing sequence number; anything else raises ProtocolViolation and changes nothing.
    """

    def __init__(self, nonce: bytes) -> None:
        if len(nonce) != NONCE_SIZE:
            raise ValueError("NodeSession: nonce must be 32 bytes")
        self.nonce = nonce
        self.author: bytes | None = None
        self.election_id: str | None = None
        self.position: int | None = None
        self.last_seq = 0

    @property
    def authenticated(self) -> bool:
        return self.author is not None

    def authenticate(self, signed: SignedMessage, enrolments: Sequence[Enrolment]) -> Enrolment:
        """Check an ``auth`` message against the election's enrolments; return the matching one."""
        msg = signed.message
        if self.authenticated:
            raise ProtocolViolation("auth: this connection is already authenticated")
        if msg.kind != "auth":
            raise ProtocolViolation(f"{msg.kind}: not authenticated (send auth first)")
        if msg["nonce"] != self.nonce or msg.session != self.nonce:
            raise ProtocolViolation("auth: the challenge nonce does not match (stale or replayed)")
        if bytes(msg["public_key"])[:KEY_SIZE] != signed.author:
            raise ProtocolViolation("auth: the signing key is not the key being authenticated")
        match = None
        for e in enrolments:
            if e.election_id != msg.election_id:
                continue
            if e.public_key == msg["public_key"]:
                match = e
                break
            if e.public_key is None and e.token and msg["token"] and e.token == msg["token"]:
                match = Enrolment(e.election_id, e.position, bytes(msg["public_key"]), None)
                break
        if match is None:
            raise ProtocolViolation("auth: this key is not enrolled in the election")
        self.author, self.election_id, self.position = (
            signed.author,
            msg.election_id,
            match.position,
        )
        self.last_seq = msg.seq
        return match

    def accept(self, signed: SignedMessage) -> Message:
        """Check sender, election, session and ordering of a post-authentication message."""
        msg = signed.message
        if not self.authenticated:
            raise ProtocolViolation(f"{msg.kind}: not authenticated (send auth first)")
        if msg.kind == "auth":
            raise ProtocolViolation("auth: this connection is already authenticated")
        if signed.author != self.author:
            raise ProtocolViolation(
                f"{msg.kind}: signed by another key than the authenticated node"
            )
        if msg.election_id != self.election_id:
            raise ProtocolViolation(f"{msg.kind}: for election {msg.election_id!r}, not this one")
        if msg.session != self.nonce:
            raise ProtocolViolation(f"{msg.kind}: from another session (replayed)")
        if msg.seq <= self.last_seq:
            raise ProtocolViolation(
                f"{msg.kind}: sequence number {msg.seq} not above {self.last_seq} "
                "(replay or reorder)"
            )
        self.last_seq = msg.seq
        return msg


# --- the mixing cascade ----------------------------------------------------------------------



@dataclass
class Cascade:
    """Which node mixes next and what each hop's fate was (sans-io).

    ``positions`` are the nodes in cascade order. ``next_hop()`` gives the next position to ask, or
    None when every node had its turn. ``record(position, status)`` notes a verdict; a rejected
    node is excluded (also from decryption). Mixing succeeds when at least ``min_accepted`` hops
    were accepted (one honest shuffle suffices for privacy; the default asks for one).
    """

    positions: list[int]
    min_accepted: int = 1
    verdicts: dict[int, str] = field(default_factory=dict)

    def next_hop(self) -> int | None:
        for p in self.positions:
            if p not in self.verdicts:
                return p
        return None

    def record(self, position: int, status: str) -> None:
        if status not in (ACCEPTED, REJECTED, SKIPPED):
            raise ValueError(f"Cascade.record: unknown status {status!r}")
        if position not in self.positions:
            raise ProtocolViolation(f"cascade: node {position} is not in the cascade")
        if position in self.verdicts:
            raise ProtocolViolation(f"cascade: hop of node {position} already decided")
        self.verdicts[position] = status

    def after(self, position: int) -> int | None:
        """The first undecided position later in the cascade than ``position`` (or None)."""
        later = self.positions[self.positions.index(position) + 1 :]
        return next((p for p in later if p not in self.verdicts), None)

    @property
    def done(self) -> bool:
        return self.next_hop() is None

    @property
    def accepted(self) -> list[int]:
        return [p for p in self.positions if self.verdicts.get(p) == ACCEPTED]

    @property
    def excluded(self) -> list[int]:
        return [p for p in self.positions if self.verdicts.get(p) == REJECTED]

    @property
    def succeeded(self) -> bool:
        return self.done and len(self.accepted) >= self.min_accepted


@dataclass
class ShareCollector:
    """Collects decryption shares until ``t`` valid ones are in (sans-io)."""

    t: int
    eligible: set[int]
    valid: dict[int, bytes] = field(default_factory=dict)
    invalid: dict[int, str] = field(default_factory=dict)

    def add(self, position: int, share: bytes | None, reason: str = "") -> None:
        """Record a verified share (``share``) or a rejected one (``share`` None, ``reason``)."""
        if position not in self.eligible:
            raise ProtocolViolation(f"decryption: node {position} may not decrypt")
        if position in self.valid or position in self.invalid:
            raise ProtocolViolation(f"decryption: node {position} already sent a share")
        if share is None:
            self.invalid[position] = reason
        else:
            self.valid[position] = share

    @property
    def complete(self) -> bool:
        return len(self.valid) >= self.t

    @property
    def hopeless(self) -> bool:
        return len(self.eligible) - len(self.invalid) < self.t
