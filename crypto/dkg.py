"""t-of-n distributed key generation: Joint-Feldman with complaints, as pure state machines.

References
    T. P. Pedersen, "A threshold cryptosystem without a trusted party", EUROCRYPT '91 (the joint
    Feldman DKG); R. Gennaro, S. Jarecki, H. Krawczyk, T. Rabin, "Secure distributed key generation
    for discrete-log based cryptosystems", EUROCRYPT '99 / J. Cryptology 2007, §3 (the protocol
    with complaints and the disqualification rules used here; their threshold ``t`` is our ``t-1``)
    and R. Gennaro, S. Jarecki, H. Krawczyk, T. Rabin, "Secure applications of Pedersen's
    distributed key generation protocol", CT-RSA 2003 (Joint-Feldman's possibly biased key is still
    secure for threshold ElGamal decryption, so we do not need the Pedersen-commitment round).
    P. Feldman, "A practical scheme for non-interactive verifiable secret sharing", FOCS '87.

Notation (additive): group ``G`` of prime order ``q`` with generator ``g``; nodes ``1..n``;
threshold ``t`` (any ``t`` shares decrypt, ``t-1`` learn nothing); node ``i`` is both a dealer and a
receiver.

Round 1 — :class:`Deal` from dealer ``i``
    a random polynomial ``f_i(z) = a_{i,0} + a_{i,1} z + … + a_{i,t-1} z^{t-1}``; Feldman
    commitments ``C_{i,k} = a_{i,k}·g`` (``k < t``); a Schnorr proof of knowledge of ``a_{i,0}``
    (``R = r·g``, ``c = H("dkg-pok", params, i, C_{i,0..t-1}, R)``, ``z = r + c·a_{i,0}``), which
    stops a rogue-key dealer from choosing ``C_{i,0}`` as a function of the others' commitments; and
    for every ``j ≠ i`` the share ``s_{ij} = f_i(j)`` sealed to ``j``'s X25519 key with
    :func:`crypto.transport.seal`, the associated data binding (election, i, j).
Round 2 — :class:`ComplaintMsg` from node ``j``
    ``j`` opens ``s_{ij}`` and checks ``s_{ij}·g == Σ_k j^k·C_{i,k}``; a share that does not
    decrypt, does not parse or fails the check is a complaint against ``i``. (A dealer whose deal
    is publicly invalid — bad proof, wrong shape — is disqualified by everyone without complaint.)
    Every node sends a complaint message, possibly empty.
Round 3 — :class:`ResponseMsg` from dealer ``i``
    ``i`` reveals ``s_{ij}`` in clear for every complaint against it (possibly none).
Result — :func:`dkg_result`, a pure function of the public transcript
    dealer ``i`` is disqualified if its deal is missing or invalid, if it received complaints from
    ``t`` or more nodes (GJKR §3, Fig. 2, step 1(e): that many revealed shares would reveal its
    secret), or if any complaint against it has no answer or an answer failing the Feldman check.
    ``QUAL`` is the rest; fewer than ``t`` qualified dealers aborts the run. The election key is
    ``y = Σ_{i∈QUAL} C_{i,0}`` and node ``j``'s verification key is
    ``Y_j = Σ_{i∈QUAL} Σ_k j^k·C_{i,k}``; node ``j``'s secret share is
    ``x_j = Σ_{i∈QUAL} s_{ij}`` (so ``x_j·g = Y_j``), which only ``j`` can compute.

Nobody ever holds the joint secret ``Σ a_{i,0}``: each node knows its own polynomial (forgotten
after dealing except its evaluations, which are forgotten when the run ends) and its share ``x_j``;
the coordinator only relays messages. The protocol assumes a broadcast channel: every node must be
given the same deals, complaints and responses (the signed, hash-chained bulletin board provides
this); the coordinator is responsible for authenticating senders (a message's index must be its
signer's position in ``participants``).

Wire encodings (``to_bytes``/``from_bytes``), integers big-endian, every message starting with a
one-byte type and the 32-byte digest of the parameters (so a message of another run is rejected):

* Deal ``0x01 || digest || dealer:u32 || C_{i,0..t-1} (t elements) || c || z || sealed shares``,
  the sealed shares for ``j = 1..n, j ≠ i`` ascending, each ``scalar_size + SEAL_OVERHEAD`` bytes;
* ComplaintMsg ``0x02 || digest || sender:u32 || count:u32 || accused:u32 × count`` (strictly
  increasing, in 1..n, never the sender);
* ResponseMsg ``0x03 || digest || dealer:u32 || count:u32 || (receiver:u32 || s:scalar) × count``
  (receivers strictly increasing, in 1..n, never the dealer).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from crypto.elgamal import PublicKey
from crypto.encoding import Reader, encode_seq, encode_str, encode_uint
from crypto.errors import InvalidElement, InvalidProof, MalformedInput, ProtocolViolation
from crypto.groups.base import RNG, Element, Group
from crypto.hashing import hash_bytes, hash_to_scalar
from crypto.transport import (
    SEAL_OVERHEAD,
    NodeIdentity,
    PublicIdentity,
    seal,
    share_associated_data,
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
def _powers(group: Group, j: int, t: int) -> list[int]:
    """[j^0, j^1, …, j^(t-1)] mod q."""
    out, acc = [], 1
    for _ in range(t):
        out.append(acc)
        acc = acc * j % group.order
    return out


def _evaluate(group: Group, coefficients: Sequence[int], z: int) -> int:
    """f(z) mod q by Horner's rule."""
    acc = 0
    for a in reversed(coefficients):
        acc = (acc * z + a) % group.order
    return acc


def commitment_at(group: Group, commitments: Sequence[Element], j: int) -> Element:
    """``Σ_k j^k·C_k``: the public image ``f(j)·g`` of a Feldman-committed polynomial."""
    return group.multi_mul(list(commitments), _powers(group, j, len(commitments)))


def _pok_challenge(
    params: DkgParams, dealer: int, commitments: Sequence[Element], r_point: Element
) -> int:
    g = params.group
    return hash_to_scalar(
        g,
        "dkg-pok",
        params.digest,
        encode_uint(dealer, _U32),
        b"".join(g.batch_encode(list(commitments))),
        g.encode(r_point),
    )


def verify_deal(params: DkgParams, deal: Deal) -> None:
    """Public checks of a deal: its shape, non-identity commitments and the Schnorr proof of
    knowledge of ``a_{i,0}``. Returns None or raises MalformedInput / InvalidProof."""
    g = params.group
    what = f"DKG deal of dealer {deal.dealer}"
    _check_index(params, deal.dealer, "DKG deal")
    if deal.params.digest != params.digest:
        raise ProtocolViolation(f"{what}: made for another DKG run")
    if len(deal.commitments) != params.t:
        raise MalformedInput(f"{what}: {len(deal.commitments)} commitments, expected t={params.t}")
    if any(g.is_identity(c) for c in deal.commitments):
        raise InvalidElement(f"{what}: a commitment is the identity")
    if len(deal.encrypted_shares) != params.n - 1 or any(
        len(s) != params.sealed_share_size for s in deal.encrypted_shares
    ):
        raise MalformedInput(f"{what}: expected n-1={params.n - 1} sealed shares of the right size")
    c, z = deal.pok.c % g.order, deal.pok.z % g.order
    r_point = g.sub(g.base_mul(z), g.mul(deal.commitments[0], c))
    if _pok_challenge(params, deal.dealer, deal.commitments, r_point) != c:
        raise InvalidProof(f"{what}: proof of knowledge of the constant term does not verify")


@dataclass(frozen=True)
class DkgResult:
    """What the public transcript determines: QUAL, the election key, every node's verification
    key (``Y_j = x_j·g`` for j = 1..n) and why each excluded dealer was disqualified.

    Verification keys cover every index, disqualified dealers included: a node's share
    ``x_j = Σ_{i∈QUAL} s_{ij}`` is well defined and its decryption shares are checkable against
    ``Y_j`` whatever it did as a dealer; whether to accept them is the caller's policy."""

    qualified: tuple[int, ...]
    public_key: PublicKey
    verification_keys: dict[int, Element]
    disqualified: dict[int, str] = field(default_factory=dict)


def _check_mapping(
    params: DkgParams, mapping: Mapping[int, object], index_of: str, what: str
) -> None:
    for key, msg in mapping.items():
        _check_index(params, key, what)
        if getattr(msg, index_of) != key:
            raise ProtocolViolation(
                f"{what}: message filed under node {key} claims to be from node "
                f"{getattr(msg, index_of)}"
            )
        if getattr(msg, "params").digest != params.digest:  # noqa: B009 - duck-typed messages
            raise ProtocolViolation(f"{what}: message of node {key} is for another DKG run")


def dkg_result(
    params: DkgParams,
    deals: Mapping[int, Deal],
    complaints: Mapping[int, ComplaintMsg],
    responses: Mapping[int, ResponseMsg],
) -> DkgResult:
    """The outcome of a run from its public transcript alone (the coordinator, every node and the
    standalone verifier call this same function). Missing messages are absent keys: a missing
    deal disqualifies its dealer, a missing complaint message means no complaints, a missing
    response leaves every complaint against that dealer standing. Raises :class:`DkgAborted` if
    fewer than ``t`` dealers qualify, ProtocolViolation if a message is filed under the wrong index
    or belongs to another run."""
    g = params.group
    _check_mapping(params, deals, "dealer", "DKG deals")
    _check_mapping(params, complaints, "sender", "DKG complaints")
    _check_mapping(params, responses, "dealer", "DKG responses")
    for cmsg in complaints.values():
        _check_complaint(cmsg)
    for rmsg in responses.values():
        _check_response(rmsg)

    disqualified: dict[int, str] = {}
    for i in range(1, params.n + 1):
        deal = deals.get(i)
        if deal is None:
            disqualified[i] = "no deal"
            continue
        try:
            verify_deal(params, deal)
        except (MalformedInput, InvalidProof) as exc:
            disqualified[i] = f"invalid deal: {exc}"

    accusers: dict[int, list[int]] = {i: [] for i in range(1, params.n + 1)}
    for j in sorted(complaints):
        for i in complaints[j].accused:
            accusers[i].append(j)

    for i in range(1, params.n + 1):
        if i in disqualified or not accusers[i]:
            continue
        if len(accusers[i]) >= params.t:
            disqualified[i] = f"complaints from {len(accusers[i])} ≥ t={params.t} nodes"
            continue
        response = responses.get(i)
        revealed = dict(response.revealed) if response is not None else {}
        commitments = deals[i].commitments
        for j in accusers[i]:
            if j not in revealed:
                disqualified[i] = f"did not answer the complaint of node {j}"
                break
            if g.base_mul(revealed[j]) != commitment_at(g, commitments, j):
                disqualified[i] = f"revealed a wrong share for node {j}"
                break

    qualified = tuple(i for i in range(1, params.n + 1) if i not in disqualified)
    if len(qualified) < params.t:
        reasons = "; ".join(f"{i}: {r}" for i, r in sorted(disqualified.items()))
        raise DkgAborted(
            f"DKG: only {len(qualified)} qualified dealers {list(qualified)}, threshold "
            f"t={params.t} ({reasons})"
        )
    # Aggregate commitments A_k = Σ_{i∈QUAL} C_{i,k}; then y = A_0 and Y_j = Σ_k j^k·A_k.
    aggregate = [g.sum([deals[i].commitments[k] for i in qualified]) for k in range(params.t)]
    y = aggregate[0]
    if g.is_identity(y):
        raise DkgAborted("DKG: the joint public key is the identity")
    verification_keys = {j: commitment_at(g, aggregate, j) for j in range(1, params.n + 1)}
    return DkgResult(qualified, PublicKey(g, y), verification_keys, disqualified)


# --- a node's key share ---------------------------------------------------------------------------
@dataclass(frozen=True)
class KeyShare:
    """Node ``index``'s result: its secret share ``x_j`` (never printed), the election key, every
    node's verification key and QUAL."""

    index: int
    x_j: int = field(repr=False)
    public_key: PublicKey
    verification_keys: dict[int, Element] = field(repr=False)
    qualified: tuple[int, ...] = ()

    def to_bytes(self) -> bytes:
        """``index:u32 || x_j || y || n:u32 || Y_1..Y_n || count:u32 || qualified:u32 × count``.
        Secret (contains ``x_j``): store with mode 0600."""
        g = self.public_key.group
        n = len(self.verification_keys)
        return b"".join(
            [
                encode_uint(self.index, _U32),
                g.encode_scalar(self.x_j),
                g.encode(self.public_key.y),
                encode_uint(n, _U32),
                *g.batch_encode([self.verification_keys[j] for j in range(1, n + 1)]),
                encode_uint(len(self.qualified), _U32),
                *(encode_uint(i, _U32) for i in self.qualified),
            ]
        )

    @classmethod
    def from_bytes(cls, group: Group, data: bytes) -> KeyShare:
        """Strict inverse of :meth:`to_bytes`; also checks ``x_j·g == Y_index``."""
        what = "key share"
        reader = Reader(_as_bytes(data, what), what)
        index = reader.uint(_U32)
        x_j = group.decode_scalar(reader.take(group.scalar_size), f"{what} x_j")
        y = group.decode(reader.take(group.element_size))
        n = reader.uint(_U32)
        if not 1 <= index <= n <= MAX_NODES:
            raise MalformedInput(f"{what}: index {index} / n {n} out of range")
        keys = group.batch_decode([reader.take(group.element_size) for _ in range(n)])
        count = reader.uint(_U32)
        if count > n:
            raise MalformedInput(f"{what}: {count} qualified nodes but n={n}")
        qualified = tuple(reader.uint(_U32) for _ in range(count))
        reader.done()
        if list(qualified) != sorted(set(qualified)) or any(not 1 <= i <= n for i in qualified):
            raise MalformedInput(f"{what}: qualified set is not increasing within 1..n")
        verification_keys = dict(enumerate(keys, start=1))
        if group.base_mul(x_j) != verification_keys[index]:
            raise InvalidProof(f"{what}: x_j does not match the verification key of node {index}")
        return cls(index, x_j, PublicKey(group, y), verification_keys, qualified)


# --- one node's private state machine -------------------------------------------------------------
class _Phase(enum.Enum):
    NEW = "new"
    DEALT = "dealt"
    COMPLAINED = "complained"
    RESPONDED = "responded"
    DONE = "done"


class DkgParticipant:
    """Node ``index``'s side of the DKG: messages in, messages out, no I/O.

    Call ``deal()``, then ``on_deals`` with every deal broadcast (its own included or not),
    ``on_complaints`` with every complaint message, ``on_responses`` with every response; any other
    order raises ProtocolViolation. Each mapping is keyed by sender index; a silent node is simply
    absent. The state holds the node's own polynomial only inside ``deal()``; afterwards its
    evaluations ``f_j(i)`` (for responses) and the shares ``s_{ij}`` it received, and once the run
    ends only its :class:`KeyShare`.
    """

    def __init__(
        self, params: DkgParams, index: int, identity: NodeIdentity, rng: RNG | None = None
    ) -> None:
        if not 1 <= index <= params.n:
            raise ValueError(f"DkgParticipant: index must be in 1..{params.n}, got {index}")
        if identity.public_bytes() != params.participants[index - 1]:
            raise ValueError(
                f"DkgParticipant: identity is not participant {index} of these parameters"
            )
        self.params = params
        self.index = index
        self._identity = identity
        self._rng = rng
        self._phase = _Phase.NEW
        self._outgoing: dict[int, int] = {}  # f_index(i) for every i
        self._incoming: dict[int, int] = {}  # s_{i,index} that passed the Feldman check
        self._deal: Deal | None = None
        self._complaint: ComplaintMsg | None = None
        self._response: ResponseMsg | None = None
        self._deals: dict[int, Deal] = {}
        self._complaints: dict[int, ComplaintMsg] = {}
        self._key_share: KeyShare | None = None

    def __repr__(self) -> str:
        return f"<DkgParticipant {self.index}/{self.params.n} {self._phase.value}>"

    @property
    def phase(self) -> str:
        return self._phase.value

    @property
    def key_share(self) -> KeyShare | None:
        return self._key_share

    def _expect(self, phase: _Phase, call: str) -> None:
        if self._phase is not phase:
            raise ProtocolViolation(
                f"DKG node {self.index}: {call} called in phase {self._phase.value!r}, "
                f"expected {phase.value!r}"
            )

    def deal(self) -> Deal:
        """Round 1: a fresh polynomial, its commitments, proof and sealed shares."""
        self._expect(_Phase.NEW, "deal()")
        params, g, j = self.params, self.params.group, self.index
        coefficients = [g.random_scalar(self._rng) for _ in range(params.t)]
        commitments = tuple(g.batch_base_mul(coefficients))
        r = g.random_scalar(self._rng)
        c = _pok_challenge(params, j, commitments, g.base_mul(r))
        pok = SchnorrProof(c, (r + c * coefficients[0]) % g.order)
        self._outgoing = {i: _evaluate(g, coefficients, i) for i in range(1, params.n + 1)}
        del coefficients, r  # the polynomial is not needed any more
        sealed = tuple(
            seal(
                params.identities[i - 1],
                g.encode_scalar(self._outgoing[i]),
                share_associated_data(params.election_id, j, i),
                self._rng,
            )
            for i in range(1, params.n + 1)
            if i != j
        )
        self._incoming = {j: self._outgoing[j]}
        self._deal = Deal(params, j, commitments, pok, sealed)
        self._phase = _Phase.DEALT
        return self._deal

    def _with_own(self, mapping: Mapping[int, object], own: object, what: str) -> dict[int, object]:
        out = dict(mapping)
        if self.index in out and out[self.index] != own:
            raise ProtocolViolation(
                f"DKG node {self.index}: the {what} relayed as mine is not the one I sent"
            )
        out[self.index] = own
        return out

    def _open_share(self, deal: Deal) -> int | None:
        """The valid share ``s_{i,j}`` from ``deal``, or None when it must be complained about."""
        g, j = self.params.group, self.index
        aad = share_associated_data(self.params.election_id, deal.dealer, j)
        try:
            plaintext = self._identity.open(deal.sealed_share_for(j), aad)
            s = g.decode_scalar(plaintext, "DKG share")
        except (InvalidProof, MalformedInput):
            return None
        if g.base_mul(s) != commitment_at(g, deal.commitments, j):
            return None
        return s

    def on_deals(self, deals: Mapping[int, Deal]) -> ComplaintMsg:
        """Round 2: check the share from each deal; complain about every bad one."""
        self._expect(_Phase.DEALT, "on_deals()")
        assert self._deal is not None
        _check_mapping(self.params, deals, "dealer", "DKG deals")
        all_deals: dict[int, Deal] = self._with_own(deals, self._deal, "deal")  # type: ignore[assignment]
        accused = []
        for i in sorted(all_deals):
            if i == self.index:
                continue
            try:
                verify_deal(self.params, all_deals[i])
            except (MalformedInput, InvalidProof):
                continue  # publicly invalid: every node disqualifies it without a complaint
            share = self._open_share(all_deals[i])
            if share is None:
                accused.append(i)
            else:
                self._incoming[i] = share
        self._deals = all_deals
        self._complaint = ComplaintMsg(self.params, self.index, tuple(accused))
        self._phase = _Phase.COMPLAINED
        return self._complaint

    def on_complaints(self, complaints: Mapping[int, ComplaintMsg]) -> ResponseMsg:
        """Round 3: reveal ``f_j(k)`` to every node k that complained about this node."""
        self._expect(_Phase.COMPLAINED, "on_complaints()")
        _check_mapping(self.params, complaints, "sender", "DKG complaints")
        for msg in complaints.values():
            _check_complaint(msg)
        all_complaints: dict[int, ComplaintMsg] = self._with_own(  # type: ignore[assignment]
            complaints, self._complaint, "complaint"
        )
        accusers = sorted(k for k, msg in all_complaints.items() if self.index in msg.accused)
        self._complaints = all_complaints
        self._response = ResponseMsg(
            self.params, self.index, tuple((k, self._outgoing[k]) for k in accusers)
        )
        self._phase = _Phase.RESPONDED
        return self._response

    def on_responses(self, responses: Mapping[int, ResponseMsg]) -> KeyShare:
        """Finish: compute QUAL from the transcript, then ``x_j = Σ_{i∈QUAL} s_{ij}``; checks
        ``x_j·g == Y_j`` and forgets every other secret."""
        self._expect(_Phase.RESPONDED, "on_responses()")
        _check_mapping(self.params, responses, "dealer", "DKG responses")
        all_responses: dict[int, ResponseMsg] = self._with_own(  # type: ignore[assignment]
            responses, self._response, "response"
        )
        result = dkg_result(self.params, self._deals, self._complaints, all_responses)
        g, j = self.params.group, self.index
        x_j = 0
        for i in result.qualified:
            share = self._incoming.get(i)
            if share is None:
                # i qualified although this node complained: i answered with a share that passes
                # the Feldman check (dkg_result checked it), so take the revealed one.
                share = dict(all_responses[i].revealed)[j]
            x_j = (x_j + share) % g.order
        if g.base_mul(x_j) != result.verification_keys[j]:
            raise ProtocolViolation(f"DKG node {j}: my share does not match my verification key")
        self._outgoing, self._incoming = {}, {}
        self._key_share = KeyShare(
            j, x_j, result.public_key, result.verification_keys, result.qualified
        )
        self._phase = _Phase.DONE
        return self._key_share


__all__ = [
    "ComplaintMsg",
    "Deal",
    "DkgAborted",
    "DkgParams",
    "DkgParticipant",
    "DkgResult",
    "KeyShare",
    "ResponseMsg",
    "SchnorrProof",
    "commitment_at",
    "dkg_result",
    "verify_deal",
]
