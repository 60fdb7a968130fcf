"""The Joint-Feldman DKG with complaints (crypto.dkg): honest runs, cheating and silent dealers,
the public-transcript result, message codecs and the no-joint-secret property."""

from __future__ import annotations

import dataclasses
import enum
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crypto
from crypto.dkg import (
    ComplaintMsg,
    Deal,
    DkgAborted,
    DkgParams,
    DkgParticipant,
    KeyShare,
    ResponseMsg,
    SchnorrProof,
    commitment_at,
    dkg_result,
    verify_deal,
)
from crypto.elgamal import encrypt
from crypto.errors import InvalidElement, InvalidProof, MalformedInput, ProtocolViolation
from crypto.groups.base import Group
from crypto.threshold import combine, decryption_share, lagrange_at_zero, verify_decryption_share
from crypto.transport import NodeIdentity, seal, share_associated_data

FAST = ("secp256k1", "ristretto255")

Deals = dict[int, Deal]
Responses = dict[int, ResponseMsg]


@dataclass
class Run:
    params: DkgParams
    ids: list[NodeIdentity]
    parts: dict[int, DkgParticipant]
    deals: Deals
    complaints: dict[int, ComplaintMsg]
    responses: Responses
    shares: dict[int, KeyShare]


def make(
    name: str = "secp256k1", n: int = 5, t: int = 3, seed: int = 0, election: str = "election-1"
) -> tuple[DkgParams, list[NodeIdentity], dict[int, DkgParticipant]]:
    g = crypto.group(name)
    rng = random.Random(seed)
    ids = [NodeIdentity.generate(rng) for _ in range(n)]
    params = DkgParams(g, election, n, t, tuple(i.public_bytes() for i in ids))
    parts = {i: DkgParticipant(params, i, ids[i - 1], rng) for i in range(1, n + 1)}
    return params, ids, parts


def drive(
    name: str = "secp256k1",
    n: int = 5,
    t: int = 3,
    seed: int = 0,
    *,
    absent: Iterable[int] = (),
    silent_after_deal: Iterable[int] = (),
    tamper_deals: Callable[[Run, Deals], Deals] | None = None,
    tamper_responses: Callable[[Run, Responses], Responses] | None = None,
) -> Run:
    """Run the three rounds through a relaying 'coordinator'. A tampering dealer sees its own
    genuine messages; everyone else sees the (possibly tampered) broadcast."""
    params, ids, parts = make(name, n, t, seed)
    absent, silent = set(absent), set(silent_after_deal)
    run = Run(params, ids, parts, {}, {}, {}, {})
    own_deals = {i: p.deal() for i, p in parts.items() if i not in absent}
    run.deals = tamper_deals(run, dict(own_deals)) if tamper_deals else dict(own_deals)
    live = {i: p for i, p in parts.items() if i not in absent | silent}
    run.complaints = {i: p.on_deals({**run.deals, i: own_deals[i]}) for i, p in live.items()}
    own_responses = {i: p.on_complaints(run.complaints) for i, p in live.items()}
    run.responses = (
        tamper_responses(run, dict(own_responses)) if tamper_responses else dict(own_responses)
    )
    for i, p in live.items():
        run.shares[i] = p.on_responses({**run.responses, i: own_responses[i]})
    return run


def share_index(deal: Deal, recipient: int) -> int:
    return recipient - 1 - (recipient > deal.dealer)


def with_share(deal: Deal, recipient: int, sealed: bytes) -> Deal:
    shares = list(deal.encrypted_shares)
    shares[share_index(deal, recipient)] = sealed
    return dataclasses.replace(deal, encrypted_shares=tuple(shares))


def wrong_share_deal(run: Run, deal: Deal, recipient: int) -> Deal:
    """``deal`` with a well-encrypted but wrong share for ``recipient``."""
    g = run.params.group
    sealed = seal(
        run.ids[recipient - 1].public,
        g.encode_scalar(12345),
        share_associated_data(run.params.election_id, deal.dealer, recipient),
    )
    return with_share(deal, recipient, sealed)


def check_agreement(run: Run, honest: Iterable[int], qualified: tuple[int, ...]) -> KeyShare:
    """Every honest node holds the same public result as the transcript, its own x_j matches
    Y_j, y = Σ_{QUAL} C_{i,0}, and any t verification keys interpolate to y."""
    g, params = run.params.group, run.params
    result = dkg_result(params, run.deals, run.complaints, run.responses)
    assert result.qualified == qualified
    assert result.public_key.y == g.sum([run.deals[i].commitments[0] for i in qualified])
    honest = list(honest)
    for j in honest:
        share = run.shares[j]
        assert share.index == j
        assert share.public_key == result.public_key
        assert share.verification_keys == result.verification_keys
        assert share.qualified == qualified
        assert g.base_mul(share.x_j) == result.verification_keys[j]
    subset = honest[: params.t]
    combined = g.sum(
        [g.mul(result.verification_keys[j], lagrange_at_zero(subset, j, g.order)) for j in subset]
    )
    assert combined == result.public_key.y
    return run.shares[honest[0]]


def decrypt_with(run: Run, nodes: Iterable[int]) -> None:
    """Encrypt under the DKG key and decrypt with the given nodes' shares (exactly t)."""
    g = run.params.group
    key = run.shares[next(iter(nodes))]
    messages = [g.embed(b"vote %d" % i) for i in range(3)]
    cts = [encrypt(key.public_key, [m], random.Random(i))[0] for i, m in enumerate(messages)]
    shares = {}
    for j in nodes:
        share = decryption_share(g, run.shares[j], cts, b"ctx", random.Random(j))
        verify_decryption_share(g, key.verification_keys[j], cts, share, b"ctx")
        shares[j] = share
    assert [row[0] for row in combine(g, cts, shares, run.params.t)] == messages


# --- honest runs ------------------------------------------------------------------------------
@pytest.mark.parametrize(("n", "t"), [(5, 3), (3, 2), (1, 1), (4, 4)])
def test_honest_run_secp256k1(n: int, t: int) -> None:
    run = drive("secp256k1", n, t)
    assert all(not c.accused for c in run.complaints.values())
    assert all(not r.revealed for r in run.responses.values())
    check_agreement(run, range(1, n + 1), tuple(range(1, n + 1)))
    decrypt_with(run, range(n - t + 1, n + 1))


@pytest.mark.parametrize("name", crypto.GROUPS)
def test_honest_run_every_group(name: str) -> None:
    n, t = (5, 3) if name in FAST else (3, 2)
    run = drive(name, n, t)
    check_agreement(run, range(1, n + 1), tuple(range(1, n + 1)))
    decrypt_with(run, range(1, t + 1))


def test_transcript_result_matches_every_node_and_is_deterministic() -> None:
    run = drive()
    a = dkg_result(run.params, run.deals, run.complaints, run.responses)
    b = dkg_result(run.params, run.deals, run.complaints, run.responses)
    assert a == b
    assert a.disqualified == {}
    g = run.params.group
    for j in range(1, 6):
        expected = g.sum([commitment_at(g, run.deals[i].commitments, j) for i in range(1, 6)])
        assert a.verification_keys[j] == expected


def test_runs_are_pinned_by_the_rng() -> None:
    a, b = drive(seed=4), drive(seed=4)
    assert {i: d.to_bytes() for i, d in a.deals.items()} == {
        i: d.to_bytes() for i, d in b.deals.items()
    }
    assert a.shares[1].public_key == b.shares[1].public_key
    assert drive(seed=5).shares[1].public_key != a.shares[1].public_key


# --- the joint secret is never materialised -------------------------------------------------------
def ints_in(
    obj: object, skip: frozenset[str] = frozenset(), seen: set[int] | None = None
) -> set[int]:
    """Every int reachable from ``obj`` (skipping groups, enums and the named attributes)."""
    seen = set() if seen is None else seen
    if isinstance(obj, (bool, bytes, str, Group, enum.Enum)) or obj is None:
        return set()
    if isinstance(obj, int):
        return {obj}
    if id(obj) in seen:
        return set()
    seen.add(id(obj))
    children: list[object] = []
    if isinstance(obj, Mapping):
        children = [*obj.keys(), *obj.values()]
    elif isinstance(obj, (list, tuple, set, frozenset)):
        children = list(obj)
    elif dataclasses.is_dataclass(obj):
        children = [getattr(obj, f.name) for f in dataclasses.fields(obj)]
    elif hasattr(obj, "__dict__"):
        children = [v for k, v in vars(obj).items() if k not in skip]
    return set().union(*(ints_in(c, frozenset(), seen) for c in children))


PUBLIC_STATE = frozenset({"params", "_deal", "_complaint", "_response", "_deals", "_complaints"})


def test_participants_hold_only_their_own_share_and_nobody_the_joint_secret() -> None:
    run = drive()
    g = run.params.group
    # The test (and only the test) interpolates the joint secret to show it exists and is hidden.
    subset = [1, 2, 3]
    x = sum(lagrange_at_zero(subset, j, g.order) * run.shares[j].x_j for j in subset) % g.order
    assert g.base_mul(x) == run.shares[1].public_key.y
    # ... and it is the sum of the constant terms committed in C_{i,0} (Σ C_{i,0} = y).
    assert g.sum([d.commitments[0] for d in run.deals.values()]) == g.base_mul(x)
    for j, p in run.parts.items():
        everything = ints_in(p)
        assert x not in everything
        secrets = {v for v in ints_in(p, PUBLIC_STATE) if v >= 2**32}
        assert secrets == {run.shares[j].x_j}, f"node {j} keeps more than its own share"
        assert "x_j" not in repr(run.shares[j])
        for other in run.shares.values():
            if other.index != j:
                assert other.x_j not in everything


def test_dealer_forgets_its_polynomial_after_dealing() -> None:
    params, _, parts = make(n=4, t=3)
    g = params.group
    p = parts[1]
    deal = p.deal()
    state = ints_in(p, PUBLIC_STATE)
    # The evaluations f(1..n) are kept (for responses); a_0 = f(0) is not.
    f = {i: v for i, v in p._outgoing.items()}  # white-box check
    a0 = sum(lagrange_at_zero([1, 2, 3], i, g.order) * f[i] for i in (1, 2, 3)) % g.order
    assert g.base_mul(a0) == deal.commitments[0]
    assert a0 not in state


# --- complaints ---------------------------------------------------------------------------------
def test_wrong_share_answered_correctly_keeps_the_dealer() -> None:
    def tamper(run: Run, deals: Deals) -> Deals:
        deals[2] = wrong_share_deal(run, deals[2], 4)
        return deals

    run = drive(tamper_deals=tamper)
    assert run.complaints[4].accused == (2,)
    assert [c.accused for j, c in run.complaints.items() if j != 4] == [()] * 4
    assert [j for j, _ in run.responses[2].revealed] == [4]
    check_agreement(run, range(1, 6), (1, 2, 3, 4, 5))
    decrypt_with(run, [2, 4, 5])


def test_undecryptable_share_is_complained_about() -> None:
    def tamper(run: Run, deals: Deals) -> Deals:
        sealed = bytearray(deals[3].sealed_share_for(1))
        sealed[-1] ^= 0xFF
        deals[3] = with_share(deals[3], 1, bytes(sealed))
        return deals

    run = drive(tamper_deals=tamper)
    assert run.complaints[1].accused == (3,)
    check_agreement(run, range(1, 6), (1, 2, 3, 4, 5))


def test_share_sealed_for_another_recipient_is_complained_about() -> None:
    def tamper(run: Run, deals: Deals) -> Deals:
        # dealer 2 gives node 5 the (valid) share it sealed for node 4: wrong AD, must not open
        deals[2] = with_share(deals[2], 5, deals[2].sealed_share_for(4))
        return deals

    run = drive(tamper_deals=tamper)
    assert run.complaints[5].accused == (2,)
    check_agreement(run, range(1, 6), (1, 2, 3, 4, 5))


@pytest.mark.parametrize("answer", ["wrong", "missing", "silent"])
def test_dealer_with_a_standing_complaint_is_disqualified(answer: str) -> None:
    def tamper_deal(run: Run, deals: Deals) -> Deals:
        deals[2] = wrong_share_deal(run, deals[2], 4)
        return deals

    def tamper_response(run: Run, responses: Responses) -> Responses:
        if answer == "wrong":
            responses[2] = ResponseMsg(run.params, 2, ((4, 999),))
        elif answer == "missing":
            responses[2] = ResponseMsg(run.params, 2, ())
        else:
            del responses[2]
        return responses

    run = drive(tamper_deals=tamper_deal, tamper_responses=tamper_response)
    result = dkg_result(run.params, run.deals, run.complaints, run.responses)
    reason = {"wrong": "wrong share", "missing": "did not answer", "silent": "did not answer"}
    assert reason[answer] in result.disqualified[2]
    check_agreement(run, [1, 3, 4, 5], (1, 3, 4, 5))
    decrypt_with(run, [1, 4, 5])


def test_t_or_more_complaints_disqualify_even_if_answered() -> None:
    # GJKR §3 step 1(e): with t complaints, t revealed shares would reveal the dealer's secret.
    def tamper(run: Run, deals: Deals) -> Deals:
        deals[1] = wrong_share_deal(run, wrong_share_deal(run, deals[1], 2), 3)
        return deals

    run = drive(n=5, t=2, tamper_deals=tamper)
    result = dkg_result(run.params, run.deals, run.complaints, run.responses)
    assert "complaints from 2" in result.disqualified[1]
    check_agreement(run, [2, 3, 4, 5], (2, 3, 4, 5))


def test_invalid_proof_of_knowledge_disqualifies_without_complaints() -> None:
    def tamper(run: Run, deals: Deals) -> Deals:
        pok = deals[3].pok
        deals[3] = dataclasses.replace(deals[3], pok=SchnorrProof(pok.c, (pok.z + 1)))
        return deals

    run = drive(tamper_deals=tamper)
    with pytest.raises(InvalidProof, match="dealer 3: proof of knowledge"):
        verify_deal(run.params, run.deals[3])
    assert all(not c.accused for c in run.complaints.values())
    check_agreement(run, [1, 2, 4, 5], (1, 2, 4, 5))


def test_proof_of_knowledge_is_bound_to_the_dealer_index() -> None:
    # A rogue dealer 2 copies dealer 1's commitments and proof: its deal is invalid.
    params, _, parts = make()
    d1 = parts[1].deal()
    d2 = parts[2].deal()
    copied = dataclasses.replace(d2, commitments=d1.commitments, pok=d1.pok)
    with pytest.raises(InvalidProof):
        verify_deal(params, copied)
    verify_deal(params, d1)
    assert verify_deal(params, d2) is None


def test_proof_of_knowledge_is_bound_to_the_election() -> None:
    params, _, parts = make(election="election-1")
    other, _, _ = make(election="election-2")
    deal = parts[1].deal()
    moved = dataclasses.replace(deal, params=other)
    with pytest.raises(InvalidProof):
        verify_deal(other, moved)
    with pytest.raises(ProtocolViolation, match="another DKG run"):
        verify_deal(params, moved)


def test_deal_of_wrong_shape_is_disqualified() -> None:
    def tamper(run: Run, deals: Deals) -> Deals:
        deals[5] = dataclasses.replace(deals[5], commitments=deals[5].commitments[:-1])
        deals[4] = dataclasses.replace(deals[4], encrypted_shares=deals[4].encrypted_shares[:-1])
        return deals

    run = drive(tamper_deals=tamper)
    result = dkg_result(run.params, run.deals, run.complaints, run.responses)
    assert "commitments" in result.disqualified[5]
    assert "sealed shares" in result.disqualified[4]
    check_agreement(run, [1, 2, 3], (1, 2, 3))


# --- missing nodes and aborts ---------------------------------------------------------------------
def test_missing_node_is_excluded_and_the_key_still_works() -> None:
    run = drive(absent=[3])
    result = dkg_result(run.params, run.deals, run.complaints, run.responses)
    assert result.disqualified == {3: "no deal"}
    check_agreement(run, [1, 2, 4, 5], (1, 2, 4, 5))
    decrypt_with(run, [1, 2, 5])
    decrypt_with(run, [2, 4, 5])


def test_node_silent_after_dealing_stays_qualified() -> None:
    # No complaint and no response from node 5: nobody complained about it, so its deal counts.
    run = drive(silent_after_deal=[5])
    assert 5 not in run.complaints and 5 not in run.responses
    check_agreement(run, [1, 2, 3, 4], (1, 2, 3, 4, 5))


def test_fewer_than_t_qualified_aborts() -> None:
    params, _, parts = make(n=3, t=3)
    deals = {i: parts[i].deal() for i in (1, 2)}
    complaints = {i: parts[i].on_deals(deals) for i in (1, 2)}
    responses = {i: parts[i].on_complaints(complaints) for i in (1, 2)}
    with pytest.raises(DkgAborted, match=r"only 2 qualified dealers \[1, 2\], threshold t=3"):
        dkg_result(params, deals, complaints, responses)
    with pytest.raises(DkgAborted):
        parts[1].on_responses(responses)
    with pytest.raises(DkgAborted, match="only 0"):
        dkg_result(params, {}, {}, {})


# --- protocol misuse ---------------------------------------------------------------------------
def test_out_of_order_calls_are_protocol_violations() -> None:
    _, _, parts = make(n=3, t=2)
    p = parts[1]
    with pytest.raises(ProtocolViolation, match="on_deals"):
        p.on_deals({})
    with pytest.raises(ProtocolViolation):
        p.on_responses({})
    deals = {i: q.deal() for i, q in parts.items()}
    with pytest.raises(ProtocolViolation, match="deal"):
        p.deal()
    with pytest.raises(ProtocolViolation):
        p.on_complaints({})
    complaints = {i: q.on_deals(deals) for i, q in parts.items()}
    with pytest.raises(ProtocolViolation):
        p.on_deals(deals)
    responses = {i: q.on_complaints(complaints) for i, q in parts.items()}
    p.on_responses(responses)
    assert p.phase == "done" and p.key_share is not None
    for call in (p.deal, lambda: p.on_deals(deals), lambda: p.on_responses(responses)):
        with pytest.raises(ProtocolViolation):
            call()


def test_relayed_own_message_must_be_the_one_sent() -> None:
    _, _, parts = make(n=3, t=2)
    deals = {i: q.deal() for i, q in parts.items()}
    forged = {**deals, 1: dataclasses.replace(deals[1], commitments=deals[2].commitments)}
    with pytest.raises(ProtocolViolation, match="not the one I sent"):
        parts[1].on_deals(forged)


def test_message_filed_under_another_index_is_rejected() -> None:
    params, _, parts = make(n=3, t=2)
    deals = {i: q.deal() for i, q in parts.items()}
    swapped = {1: deals[1], 2: deals[3], 3: deals[2]}
    with pytest.raises(ProtocolViolation, match="filed under node 2 claims to be from node 3"):
        parts[1].on_deals(swapped)
    with pytest.raises(ProtocolViolation):
        dkg_result(params, swapped, {}, {})
    with pytest.raises(MalformedInput):
        dkg_result(params, {**deals, 7: deals[1]}, {}, {})


def test_participant_needs_its_own_identity() -> None:
    params, ids, _ = make(n=3, t=2)
    with pytest.raises(ValueError, match="not participant 2"):
        DkgParticipant(params, 2, ids[0])
    with pytest.raises(ValueError):
        DkgParticipant(params, 4, ids[0])


def test_params_validation() -> None:
    g = crypto.group("secp256k1")
    ids = tuple(NodeIdentity.generate(random.Random(i)).public_bytes() for i in range(3))
    with pytest.raises(ValueError, match="t must be"):
        DkgParams(g, "e", 3, 4, ids)
    with pytest.raises(ValueError, match="t must be"):
        DkgParams(g, "e", 3, 0, ids)
    with pytest.raises(ValueError, match="participants"):
        DkgParams(g, "e", 3, 2, ids[:2])
    with pytest.raises(ValueError, match="distinct"):
        DkgParams(g, "e", 3, 2, (ids[0], ids[0], ids[1]))
    with pytest.raises(MalformedInput):
        DkgParams(g, "e", 3, 2, (ids[0], ids[1], ids[2][:-1]))
    with pytest.raises(TypeError):
        DkgParams(g, b"e", 3, 2, ids)  # type: ignore[arg-type]
    base = DkgParams(g, "e", 3, 2, ids)
    variants = [
        DkgParams(g, "f", 3, 2, ids),
        DkgParams(g, "e", 3, 3, ids),
        DkgParams(g, "e", 3, 2, (ids[1], ids[0], ids[2])),
        DkgParams(crypto.group("ristretto255"), "e", 3, 2, ids),
    ]
    assert len({base.digest, *(v.digest for v in variants)}) == 5


# --- message codecs -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def transcript() -> Run:
    def tamper(run: Run, deals: Deals) -> Deals:
        deals[2] = wrong_share_deal(run, deals[2], 4)
        deals[5] = wrong_share_deal(run, deals[5], 1)
        return deals

    return drive(tamper_deals=tamper)


def test_messages_round_trip(transcript: Run) -> None:
    p = transcript.params
    for d in transcript.deals.values():
        raw = d.to_bytes()
        assert len(raw) == p.deal_size
        assert Deal.from_bytes(p, raw) == d
    for c in transcript.complaints.values():
        assert ComplaintMsg.from_bytes(p, c.to_bytes()) == c
    for r in transcript.responses.values():
        assert ResponseMsg.from_bytes(p, r.to_bytes()) == r
    assert transcript.complaints[4].accused == (2,)
    assert transcript.responses[5].revealed[0][0] == 1


def _off_curve_x(g: Group) -> bytes:
    p = g.field_prime  # type: ignore[attr-defined]
    x = 1
    while gmpy2.legendre((x**3 + 7) % p, p) == 1:
        x += 1
    return b"\x02" + x.to_bytes(32, "big")


def test_deal_decoding_rejections(transcript: Run) -> None:
    p, g = transcript.params, transcript.params.group
    raw = transcript.deals[2].to_bytes()
    el, sc = g.element_size, g.scalar_size
    commit0 = 1 + 32 + 4
    pok_z = commit0 + p.t * el + sc

    def at(offset: int, new: bytes) -> bytes:
        return raw[:offset] + new + raw[offset + len(new) :]

    cases: list[tuple[bytes, type[Exception], str]] = [
        (raw[:-1], MalformedInput, "expected"),
        (raw + b"\x00", MalformedInput, "expected"),
        (b"", MalformedInput, "expected"),
        (at(0, b"\x02"), MalformedInput, "wrong message type"),
        (at(1, bytes(32)), ProtocolViolation, "another DKG run"),
        (at(33, (0).to_bytes(4, "big")), MalformedInput, "index 0"),
        (at(33, (6).to_bytes(4, "big")), MalformedInput, "index 6"),
        (at(commit0, bytes(el)), InvalidElement, "C_0"),
        (at(commit0 + el, b"\x05" + bytes(32)), InvalidElement, "C_1"),
        (at(commit0, b"\x02" + b"\xff" * 32), InvalidElement, "C_0"),
        (at(commit0 + 2 * el, _off_curve_x(g)), InvalidElement, "C_2"),
        (at(pok_z, g.order.to_bytes(sc, "big")), MalformedInput, "proof z"),
    ]
    for data, exc, reason in cases:
        with pytest.raises(exc, match=reason):
            Deal.from_bytes(p, data)
    with pytest.raises(MalformedInput):
        Deal.from_bytes(p, raw.hex())  # type: ignore[arg-type]
    # A flipped byte inside a sealed share still decodes; its recipient complains instead.
    tampered = Deal.from_bytes(p, raw[:-1] + bytes([raw[-1] ^ 1]))
    assert tampered != transcript.deals[2]


def _complaint(p: DkgParams, sender: int, accused: list[int], count: int | None = None) -> bytes:
    header = bytes([2]) + p.digest + sender.to_bytes(4, "big")
    n = len(accused) if count is None else count
    return header + n.to_bytes(4, "big") + b"".join(i.to_bytes(4, "big") for i in accused)


def _response(p: DkgParams, dealer: int, revealed: list[tuple[int, int]]) -> bytes:
    header = bytes([3]) + p.digest + dealer.to_bytes(4, "big")
    body = b"".join(j.to_bytes(4, "big") + s.to_bytes(32, "big") for j, s in revealed)
    return header + len(revealed).to_bytes(4, "big") + body


def test_complaint_decoding_rejections(transcript: Run) -> None:
    p = transcript.params
    assert ComplaintMsg.from_bytes(p, _complaint(p, 1, [2, 5])).accused == (2, 5)
    bad = [
        (_complaint(p, 1, [5, 2]), "strictly increasing"),
        (_complaint(p, 1, [2, 2]), "strictly increasing"),
        (_complaint(p, 1, [1]), "cannot name itself"),
        (_complaint(p, 1, [0]), "index 0"),
        (_complaint(p, 1, [6]), "index 6"),
        (_complaint(p, 0, []), "index 0"),
        (_complaint(p, 1, [2, 3, 4, 5, 2]), "at most n-1"),
        (_complaint(p, 1, [2], count=2), "truncated"),
        (_complaint(p, 1, [2]) + b"\x00", "trailing"),
        (bytes([3]) + _complaint(p, 1, [2])[1:], "wrong message type"),
    ]
    for data, reason in bad:
        with pytest.raises(MalformedInput, match=reason):
            ComplaintMsg.from_bytes(p, data)


def test_response_decoding_rejections(transcript: Run) -> None:
    p, q = transcript.params, transcript.params.group.order
    assert ResponseMsg.from_bytes(p, _response(p, 2, [(1, 5), (4, q - 1)])).revealed == (
        (1, 5),
        (4, q - 1),
    )
    bad = [
        (_response(p, 2, [(1, q)]), "not below its bound"),
        (_response(p, 2, [(4, 1), (1, 1)]), "strictly increasing"),
        (_response(p, 2, [(2, 1)]), "cannot name itself"),
        (_response(p, 2, [(6, 1)]), "index 6"),
        (_response(p, 2, [(1, 1)])[:-1], "truncated"),
        (_response(p, 2, []) + b"\x00", "trailing"),
    ]
    for data, reason in bad:
        with pytest.raises(MalformedInput, match=reason):
            ResponseMsg.from_bytes(p, data)
    other, _, _ = make(election="another")
    with pytest.raises(ProtocolViolation):
        ResponseMsg.from_bytes(other, _response(p, 2, []))


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_complaint_and_response_round_trip_property(data: st.DataObject) -> None:
    p = _PARAMS
    sender = data.draw(st.integers(1, p.n))
    others = [j for j in range(1, p.n + 1) if j != sender]
    accused = tuple(sorted(data.draw(st.sets(st.sampled_from(others)))))
    c = ComplaintMsg(p, sender, accused)
    assert ComplaintMsg.from_bytes(p, c.to_bytes()) == c
    scalars = data.draw(
        st.lists(st.integers(0, p.group.order - 1), min_size=len(accused), max_size=len(accused))
    )
    r = ResponseMsg(p, sender, tuple(zip(accused, scalars, strict=True)))
    assert ResponseMsg.from_bytes(p, r.to_bytes()) == r


_PARAMS = make(n=6, t=3)[0]


# --- key shares ---------------------------------------------------------------------------------
def test_key_share_codec(transcript: Run) -> None:
    g = transcript.params.group
    share = transcript.shares[3]
    raw = share.to_bytes()
    assert KeyShare.from_bytes(g, raw) == share
    x_off = 4
    wrong_x = raw[:x_off] + (share.x_j ^ 1).to_bytes(32, "big") + raw[x_off + 32 :]
    with pytest.raises(InvalidProof, match="verification key of node 3"):
        KeyShare.from_bytes(g, wrong_x)
    with pytest.raises(MalformedInput):
        KeyShare.from_bytes(g, raw[:-1])
    with pytest.raises(MalformedInput):
        KeyShare.from_bytes(g, raw + b"\x00")
    with pytest.raises(MalformedInput, match="index 9"):
        KeyShare.from_bytes(g, (9).to_bytes(4, "big") + raw[4:])
    y_off = 4 + 32
    with pytest.raises(InvalidElement):
        KeyShare.from_bytes(g, raw[:y_off] + bytes(33) + raw[y_off + 33 :])
