"""The messages of the DKG (rounds 1–3) and their parameters, strictly decoded; see
:mod:`crypto.dkg` for the protocol."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from crypto.encoding import Reader, encode_seq, encode_str, encode_uint
from crypto.errors import InvalidElement, MalformedInput, ProtocolViolation
from crypto.groups.base import Element, Group
from crypto.hashing import hash_bytes
from crypto.transport import (
    SEAL_OVERHEAD,
    PublicIdentity,
)

DIGEST_SIZE = 32
_DEAL, _COMPLAINT, _RESPONSE = 0x01, 0x02, 0x03
_U32 = 4
MAX_NODES = 2**16


class DkgAborted(ProtocolViolation):
    """The key generation cannot produce a key (fewer than ``t`` qualified dealers)."""


@dataclass(frozen=True)
class DkgParams:
    """The public parameters of one DKG run. Node ``i`` is ``participants[i-1]`` (its 64-byte
    public identity, :class:`crypto.transport.PublicIdentity`)."""

    group: Group
    election_id: str
    n: int
    t: int
    participants: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.election_id, str):
            raise TypeError("DkgParams: election_id must be a str")
        if not 1 <= self.n <= MAX_NODES:
            raise ValueError(f"DkgParams: n must be in 1..{MAX_NODES}, got {self.n}")
        if not 1 <= self.t <= self.n:
            raise ValueError(f"DkgParams: t must be in 1..n={self.n}, got {self.t}")
        if not isinstance(self.participants, tuple) or len(self.participants) != self.n:
            raise ValueError(f"DkgParams: participants must be a tuple of n={self.n} identities")
        if len(set(self.participants)) != self.n:
            raise ValueError("DkgParams: participants must be distinct")
        for p in self.participants:
            PublicIdentity.from_bytes(p)  # raises MalformedInput naming the problem

    @cached_property
    def identities(self) -> tuple[PublicIdentity, ...]:
        return tuple(PublicIdentity.from_bytes(p) for p in self.participants)

    @cached_property
    def digest(self) -> bytes:
        """Hash of every parameter; bound into the proofs and every message."""
        return hash_bytes(
            "dkg-params",
            encode_str(self.group.name),
            encode_str(self.election_id),
            encode_uint(self.n, _U32),
            encode_uint(self.t, _U32),
            encode_seq(self.participants),
        )

    @property
    def sealed_share_size(self) -> int:
        return self.group.scalar_size + SEAL_OVERHEAD

    @property
    def deal_size(self) -> int:
        g = self.group
        return (
            1
            + DIGEST_SIZE
            + _U32
            + self.t * g.element_size
            + 2 * g.scalar_size
            + (self.n - 1) * self.sealed_share_size
        )


def _check_index(params: DkgParams, index: int, what: str) -> None:
    if not isinstance(index, int) or isinstance(index, bool) or not 1 <= index <= params.n:
        raise MalformedInput(f"{what}: index {index!r} is not in 1..{params.n}")


def _read_header(params: DkgParams, reader: Reader, tag: int, what: str) -> int:
    if reader.take(1)[0] != tag:
        raise MalformedInput(f"{what}: wrong message type")
    if reader.take(DIGEST_SIZE) != params.digest:
        raise ProtocolViolation(f"{what}: message belongs to another DKG run (parameter digest)")
    index = reader.uint(_U32)
    _check_index(params, index, what)
    return index


def _header(params: DkgParams, tag: int, index: int) -> bytes:
    return bytes([tag]) + params.digest + encode_uint(index, _U32)


@dataclass(frozen=True)
class SchnorrProof:
    """Schnorr proof of knowledge of a discrete log, in challenge/response form ``(c, z)``."""

    c: int
    z: int


@dataclass(frozen=True)
class Deal:
    """Round 1 broadcast of dealer ``dealer``; ``encrypted_shares[m]`` is for the m-th recipient
    of ``1..n`` without ``dealer`` (use :meth:`sealed_share_for`)."""

    params: DkgParams = field(repr=False, compare=False)
    dealer: int
    commitments: tuple[Element, ...]
    pok: SchnorrProof
    encrypted_shares: tuple[bytes, ...] = field(repr=False)

    def sealed_share_for(self, recipient: int) -> bytes:
        if recipient == self.dealer or not 1 <= recipient <= self.params.n:
            raise ValueError(f"Deal: no share of dealer {self.dealer} for recipient {recipient}")
        return self.encrypted_shares[recipient - 1 - (recipient > self.dealer)]

    def to_bytes(self) -> bytes:
        g = self.params.group
        return b"".join(
            [
                _header(self.params, _DEAL, self.dealer),
                *g.batch_encode(list(self.commitments)),
                g.encode_scalar(self.pok.c),
                g.encode_scalar(self.pok.z),
                *self.encrypted_shares,
            ]
        )

    @classmethod
    def from_bytes(cls, params: DkgParams, data: bytes) -> Deal:
        """Strict decoding: exact length, the parameter digest, the index, every commitment a
        valid non-identity element, canonical scalars. (The proof is checked by
        :func:`verify_deal`; the shares only by their recipients.)"""
        what = "DKG deal"
        if not isinstance(data, (bytes, bytearray)) or len(data) != params.deal_size:
            got = len(data) if isinstance(data, (bytes, bytearray)) else type(data).__name__
            raise MalformedInput(f"{what}: expected {params.deal_size} bytes, got {got}")
        g = params.group
        reader = Reader(bytes(data), what)
        dealer = _read_header(params, reader, _DEAL, what)
        commitments = []
        for k in range(params.t):
            try:
                commitments.append(g.decode(reader.take(g.element_size)))
            except InvalidElement as exc:
                raise InvalidElement(
                    f"{what} of dealer {dealer}: commitment C_{k}: {exc}"
                ) from None
        c = g.decode_scalar(reader.take(g.scalar_size), f"{what} proof c")
        z = g.decode_scalar(reader.take(g.scalar_size), f"{what} proof z")
        shares = tuple(reader.take(params.sealed_share_size) for _ in range(params.n - 1))
        reader.done()
        return cls(params, dealer, tuple(commitments), SchnorrProof(c, z), shares)


@dataclass(frozen=True)
class ComplaintMsg:
    """Round 2 broadcast of node ``sender``: the dealers whose share to it was bad."""

    params: DkgParams = field(repr=False, compare=False)
    sender: int
    accused: tuple[int, ...]

    def to_bytes(self) -> bytes:
        return (
            _header(self.params, _COMPLAINT, self.sender)
            + encode_uint(len(self.accused), _U32)
            + b"".join(encode_uint(i, _U32) for i in self.accused)
        )

    @classmethod
    def from_bytes(cls, params: DkgParams, data: bytes) -> ComplaintMsg:
        what = "DKG complaint"
        reader = Reader(_as_bytes(data, what), what)
        sender = _read_header(params, reader, _COMPLAINT, what)
        count = reader.uint(_U32)
        if count >= params.n:
            raise MalformedInput(f"{what} of node {sender}: {count} accusations, at most n-1")
        accused = tuple(reader.uint(_U32) for _ in range(count))
        reader.done()
        msg = cls(params, sender, accused)
        _check_complaint(msg)
        return msg


@dataclass(frozen=True)
class ResponseMsg:
    """Round 3 broadcast of dealer ``dealer``: ``(j, s_{dealer,j})`` for every complaint by j."""

    params: DkgParams = field(repr=False, compare=False)
    dealer: int
    revealed: tuple[tuple[int, int], ...]

    def to_bytes(self) -> bytes:
        g = self.params.group
        return (
            _header(self.params, _RESPONSE, self.dealer)
            + encode_uint(len(self.revealed), _U32)
            + b"".join(encode_uint(j, _U32) + g.encode_scalar(s) for j, s in self.revealed)
        )

    @classmethod
    def from_bytes(cls, params: DkgParams, data: bytes) -> ResponseMsg:
        what = "DKG response"
        g = params.group
        reader = Reader(_as_bytes(data, what), what)
        dealer = _read_header(params, reader, _RESPONSE, what)
        count = reader.uint(_U32)
        if count >= params.n:
            raise MalformedInput(f"{what} of dealer {dealer}: {count} revealed shares, at most n-1")
        revealed = tuple(
            (reader.uint(_U32), g.decode_scalar(reader.take(g.scalar_size), f"{what} share"))
            for _ in range(count)
        )
        reader.done()
        msg = cls(params, dealer, revealed)
        _check_response(msg)
        return msg


def _as_bytes(data: object, what: str) -> bytes:
    if not isinstance(data, (bytes, bytearray)):
        raise MalformedInput(f"{what}: expected bytes, got {type(data).__name__}")
    return bytes(data)


def _check_increasing(params: DkgParams, indices: Sequence[int], own: int, what: str) -> None:
    previous = 0
    for j in indices:
        _check_index(params, j, what)
        if j <= previous:
            raise MalformedInput(f"{what}: indices must be strictly increasing (at {j})")
        if j == own:
            raise MalformedInput(f"{what}: node {own} cannot name itself")
        previous = j


def _check_complaint(msg: ComplaintMsg) -> None:
    _check_index(msg.params, msg.sender, "DKG complaint")
    _check_increasing(msg.params, msg.accused, msg.sender, f"DKG complaint of node {msg.sender}")


def _check_response(msg: ResponseMsg) -> None:
    what = f"DKG response of dealer {msg.dealer}"
    _check_index(msg.params, msg.dealer, "DKG response")
    _check_increasing(msg.params, [j for j, _ in msg.revealed], msg.dealer, what)
    for j, s in msg.revealed:
        if not 0 <= s < msg.params.group.order:
            raise MalformedInput(f"{what}: share for node {j} is not reduced mod q")


# --- the maths ------------------------------------------------------------------------------------
