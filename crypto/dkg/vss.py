"""Feldman VSS checks, the Schnorr proof of knowledge of a dealer's secret, and the DKG's
outcome computed from a whole transcript (:func:`dkg_result`); see :mod:`crypto.dkg`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from crypto.dkg.messages import (
    _U32,
    MAX_NODES,
    ComplaintMsg,
    Deal,
    DkgAborted,
    DkgParams,
    ResponseMsg,
    _as_bytes,
    _check_complaint,
    _check_index,
    _check_response,
)
from crypto.elgamal import PublicKey
from crypto.encoding import Reader, encode_uint
from crypto.errors import InvalidElement, InvalidProof, MalformedInput, ProtocolViolation
from crypto.groups.base import Element, Group
from crypto.hashing import hash_to_scalar


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
            if not g.equal(g.base_mul(revealed[j]), commitment_at(g, commitments, j)):
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
        if not group.equal(group.base_mul(x_j), verification_keys[index]):
            raise InvalidProof(f"{what}: x_j does not match the verification key of node {index}")
        return cls(index, x_j, PublicKey(group, y), verification_keys, qualified)


# --- one node's private state machine -------------------------------------------------------------
