"""One node's side of the DKG as a sans-io state machine (:class:`DkgParticipant`); see
:mod:`crypto.dkg`."""

from __future__ import annotations

import enum
from collections.abc import Mapping

from crypto.dkg.messages import (
    ComplaintMsg,
    Deal,
    DkgParams,
    ResponseMsg,
    SchnorrProof,
    _check_complaint,
)
from crypto.dkg.vss import (
    KeyShare,
    _check_mapping,
    _evaluate,
    _pok_challenge,
    commitment_at,
    dkg_result,
    verify_deal,
)
from crypto.errors import InvalidProof, MalformedInput, ProtocolViolation
from crypto.groups.base import RNG
from crypto.transport import (
    NodeIdentity,
    seal,
    share_associated_data,
)


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
        if not g.equal(g.base_mul(s), commitment_at(g, deal.commitments, j)):
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
        if not g.equal(g.base_mul(x_j), result.verification_keys[j]):
            raise ProtocolViolation(f"DKG node {j}: my share does not match my verification key")
        self._outgoing, self._incoming = {}, {}
        self._key_share = KeyShare(
            j, x_j, result.public_key, result.verification_keys, result.qualified
        )
        self._phase = _Phase.DONE
        return self._key_share
