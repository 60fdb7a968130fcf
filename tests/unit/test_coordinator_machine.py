"""Every transition of the coordinator's sans-io machines (mixserver/machine.py), with the clock
injected: events in, effects out; no board, no socket, no crypto (results are opaque bytes)."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from crypto.errors import ProtocolViolation
from crypto.protocol.sessions import Cascade, ShareCollector
from crypto.protocol.wire import (
    ABANDONED,
    ACCEPTED,
    REJECTED,
    SKIPPED,
    Message,
    SignedMessage,
    digest,
)
from mixserver.decryption import DecryptMachine
from mixserver.machine import (
    AbandonHop,
    AbandonShare,
    BoardEntry,
    Combine,
    CommitHop,
    CommitShare,
    DecryptFailed,
    MixFinished,
    Progress,
    Send,
    Timeouts,
    VerifyHop,
    VerifyShare,
    check_action,
    resume_stage,
)
from mixserver.mixing import MixMachine

EID = "e1"
CLOSED = b"closed-list"
T = Timeouts(hop=10.0, connect_grace=5.0, decrypt=20.0)


def signed(kind: str, **fields: Any) -> SignedMessage:
    return SignedMessage(Message(kind, EID, fields), b"body", b"a" * 32, b"s" * 64)


def mix_result(job: str, inputs: bytes, outputs: bytes) -> SignedMessage:
    return signed("mix.result", job=job, input_digest=digest(inputs), outputs=outputs, proof=[])


FP = bytes(range(32))


def machine(count: int = 4, n: int = 3) -> MixMachine:
    m = MixMachine(EID, "secp256k1", b"pk", 1, Cascade(list(range(1, n + 1))), CLOSED, count,
                   "s", T)
    m.fingerprint = FP
    return m


def of(effects: list[Any], kind: type) -> list[Any]:
    return [e for e in effects if isinstance(e, kind)]


def request(effects: list[Any], position: int) -> Message:
    (send,) = [s for s in of(effects, Send) if s.message.kind == "mix.request"
               and s.position == position]
    return send.message  # type: ignore[no-any-return]


def test_the_machine_module_is_pure() -> None:
    path = Path(__file__).resolve().parents[2] / "mixserver" / "machine.py"
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module.split(".")[0])
    assert not roots & {"tornado", "sqlite3", "asyncio", "threading", "os", "time", "socket",
                        "mixserver"}, roots


# --- the cascade ----------------------------------------------------------------------------------
def test_pipelined_cascade_all_accepted() -> None:
    m = machine()
    out = m.start(0.0, {1, 2, 3})
    r1 = request(out, 1)
    assert r1["ciphertexts"] == CLOSED and r1["count"] == 4
    assert of(out, Progress)[0].fields["stage"] == "shuffling"
    out = m.result(1, mix_result(r1["job"], CLOSED, b"out1"), 1.0)[1]
    (verify,) = of(out, VerifyHop)
    assert verify.position == 1 and verify.inputs == CLOSED
    r2 = request(out, 2)  # node 2 already shuffles hop 1's output while it is verified
    assert r2["ciphertexts"] == b"out1"
    out = m.verified(r1["job"], True, "", 2.0)
    (commit,) = of(out, CommitHop)
    assert (commit.hop, commit.position, commit.status, commit.reason) == (
        1, 1, ACCEPTED, "proof verified")
    assert commit.seconds == 2.0 and commit.result is not None
    assert not of(out, Send)  # node 2's speculative job is kept: no second request
    out = m.result(2, mix_result(r2["job"], b"out1", b"out2"), 3.0)[1]
    assert of(out, VerifyHop)[0].inputs == b"out1"
    r3 = request(out, 3)
    out = m.verified(r2["job"], True, "", 4.0)
    out += m.result(3, mix_result(r3["job"], b"out2", b"out3"), 5.0)[1]
    out += m.verified(r3["job"], True, "", 6.0)
    assert [c.status for c in of(out, CommitHop)] == [ACCEPTED, ACCEPTED]
    assert of(out, MixFinished) == [MixFinished(True, "")]
    assert m.current == b"out3" and m.finished


def test_a_result_that_arrives_while_the_previous_hop_is_verified_waits_its_turn() -> None:
    m = machine()
    r1 = request(m.start(0.0, {1, 2, 3}), 1)
    r2 = request(m.result(1, mix_result(r1["job"], CLOSED, b"out1"), 1.0)[1], 2)
    note, out = m.result(2, mix_result(r2["job"], b"out1", b"out2"), 2.0)
    assert note == "received" and out == []  # held: hop 1 has no verdict yet
    out = m.verified(r1["job"], True, "", 3.0)
    assert [e.position for e in of(out, VerifyHop)] == [2]  # verified at once


def test_a_rejected_hop_abandons_the_speculative_job_and_asks_again() -> None:
    m = machine()
    r1 = request(m.start(0.0, {1, 2, 3}), 1)
    r2 = request(m.result(1, mix_result(r1["job"], CLOSED, b"bad"), 1.0)[1], 2)
    out = m.verified(r1["job"], False, "InvalidProof: no", 2.0)
    (commit,) = of(out, CommitHop)
    assert commit.status == REJECTED and commit.reason == "InvalidProof: no"
    errors = [s for s in of(out, Send) if s.message.kind == "error"]
    assert errors[0].position == 1 and errors[0].message["code"] == "hop-rejected"
    again = request(out, 2)
    assert again["ciphertexts"] == CLOSED and again["job"] != r2["job"]
    note, late = m.result(2, mix_result(r2["job"], b"bad", b"x"), 3.0)
    assert note.startswith("discarded") and late == []
    assert m.cascade.excluded == [1]


def test_a_result_for_another_list_is_rejected_without_verification() -> None:
    m = machine()
    r1 = request(m.start(0.0, {1, 2, 3}), 1)
    out = m.result(1, mix_result(r1["job"], b"other", b"out1"), 1.0)[1]
    assert not of(out, VerifyHop)
    (commit,) = of(out, CommitHop)
    assert commit.status == REJECTED and "not for the list" in commit.reason


def test_results_nobody_asked_for_are_protocol_violations() -> None:
    m = machine()
    r1 = request(m.start(0.0, {1, 2, 3}), 1)
    with pytest.raises(ProtocolViolation, match="no job"):
        m.result(2, mix_result(r1["job"], CLOSED, b"x"), 1.0)  # wrong node
    with pytest.raises(ProtocolViolation, match="no job"):
        m.result(1, mix_result("mix-1-1-forged", CLOSED, b"x"), 1.0)
    m.result(1, mix_result(r1["job"], CLOSED, b"x"), 1.0)
    with pytest.raises(ProtocolViolation, match="no job"):
        m.result(1, mix_result(r1["job"], CLOSED, b"x"), 1.0)  # a replay
    with pytest.raises(ProtocolViolation, match="no verification"):
        m.verified("mix-2-2-nope", True, "", 2.0)
    with pytest.raises(ProtocolViolation, match="already under way"):
        m.start(3.0)


def test_hop_timeout_through_the_injected_clock() -> None:
    m = machine()
    r1 = request(m.start(100.0, {1, 2, 3}), 1)
    assert m.tick(109.9) == []
    out = m.tick(110.0)
    (commit,) = of(out, CommitHop)
    assert (commit.position, commit.status, commit.reason) == (1, SKIPPED, "timed out")
    assert commit.result is None
    assert request(out, 2)["ciphertexts"] == CLOSED
    note, _ = m.result(1, mix_result(r1["job"], CLOSED, b"late"), 111.0)
    assert note.startswith("discarded")


def test_connect_grace_through_the_injected_clock() -> None:
    m = machine()
    out = m.start(0.0, {2, 3})  # node 1 is not connected
    assert of(out, Progress)[0].fields["stage"] == "waiting for the node" and not of(out, Send)
    assert m.tick(4.9) == []
    out = m.tick(5.0)
    (commit,) = of(out, CommitHop)
    assert (commit.position, commit.status, commit.reason) == (1, SKIPPED, "node not connected")
    assert request(out, 2)


def test_a_node_connecting_within_the_grace_is_asked() -> None:
    m = machine()
    m.start(0.0, {2, 3})
    out = m.node_connected(1, 3.0)
    assert request(out, 1)["ciphertexts"] == CLOSED
    assert m.tick(6.0) == []  # no skip once it is shuffling


def test_disconnect_and_job_failure_skip_the_hop_with_evidence() -> None:
    m = machine()
    r1 = request(m.start(0.0, {1, 2, 3}), 1)
    # a node that leaves has the connect grace (5 s here) to come back: no skip before
    assert m.node_gone(1, 1.0) == []
    assert m.tick(5.9) == []
    out = m.tick(6.0)
    (skip,) = of(out, CommitHop)
    assert skip.reason == "node 1 disconnected and did not come back in time"
    assert skip.status == SKIPPED and skip.evidence is None
    assert skip.timeout == 5.0 and skip.seconds >= skip.timeout  # a time-out, times recorded
    assert r1["fingerprint"] == FP
    r2 = request(out, 2)
    failed = signed("job.failed", job=r2["job"], reason="worker died")
    out = m.job_failed(2, r2["job"], "worker died", 7.0, failed)
    (skip,) = of(out, CommitHop)
    assert skip.reason == "node 2 reported: worker died"
    assert skip.evidence is failed and skip.timeout == 0.0  # the node's own signed word
    r3 = request(out, 3)
    assert m.job_failed(3, "other-job", "x", 8.0) == []  # not its job: nothing happens
    out = m.result(3, mix_result(r3["job"], CLOSED, b"o"), 9.0)[1]
    out += m.verified(r3["job"], True, "", 10.0)
    assert of(out, MixFinished) == [MixFinished(True, "")]
    assert m.cascade.verdicts == {1: SKIPPED, 2: SKIPPED, 3: ACCEPTED}


def test_a_node_back_within_the_grace_is_asked_again() -> None:
    m = machine()
    r1 = request(m.start(0.0, {1, 2, 3}), 1)
    assert m.node_gone(1, 1.0) == []
    again = request(m.node_connected(1, 2.5), 1)
    assert again == r1  # the same job, sent again
    assert m.tick(8.0) == []  # back and shuffling: no skip before the hop time-out (10 s)
    out = m.result(1, mix_result(r1["job"], CLOSED, b"o"), 9.0)[1]
    assert of(out, VerifyHop)


def test_a_failed_or_gone_speculative_job_is_asked_again_when_its_turn_comes() -> None:
    m = machine()
    r1 = request(m.start(0.0, {1, 2, 3}), 1)
    r2 = request(m.result(1, mix_result(r1["job"], CLOSED, b"o1"), 1.0)[1], 2)
    assert m.job_failed(2, r2["job"], "oops", 1.5) == []
    again = request(m.verified(r1["job"], True, "", 2.0), 2)
    assert again["job"] != r2["job"] and again["ciphertexts"] == b"o1"
    r3 = request(m.result(2, mix_result(again["job"], b"o1", b"o2"), 3.0)[1], 3)
    assert m.node_gone(3, 3.5) == []  # the speculative job of a node that left is dropped
    assert m.result(3, mix_result(r3["job"], b"o2", b"o3"), 3.6)[0].startswith("discarded")
    out = m.verified(again["job"], True, "", 4.0)
    assert of(out, Progress)[-1].fields["stage"] == "waiting for the node"
    assert request(m.node_connected(3, 4.5), 3)["ciphertexts"] == b"o2"


def test_no_accepted_hop_fails_the_mix_and_an_empty_list_is_skipped_through() -> None:
    m = machine()
    out = m.start(0.0, set())
    for now in (5.0, 10.0, 15.0):
        out += m.tick(now)
        out += m.tick(now)
    assert [c.status for c in of(out, CommitHop)] == [SKIPPED] * 3
    assert of(out, MixFinished) == [MixFinished(False, "mixing failed: no hop was accepted")]
    assert m.tick(100.0) == []
    empty = machine(count=0)
    out = empty.start(0.0, {1, 2, 3})
    assert [c.reason for c in of(out, CommitHop)] == ["empty ballot list"] * 3
    assert of(out, MixFinished) == [MixFinished(True, "")]


# --- rebuilt from the board -----------------------------------------------------------------------
def entry(index: int, kind: str, author: int | None = None, **fields: Any) -> BoardEntry:
    return BoardEntry(index, kind, Message(kind, EID, fields), author)


PARAMS = {"n": 3, "t": 2, "group": "secp256k1", "width": 1}


def test_rebuild_from_the_board_resumes_after_the_last_verdict() -> None:
    entries = [
        entry(10, "voting.closed", count=4, ciphertexts=CLOSED),
        entry(11, "mix.result", 1, job="j1", outputs=b"out1"),
        entry(12, "hop.verdict", hop=1, position=1, status=ACCEPTED, result_entry=11),
        entry(13, "mix.result", 2, job="j2", outputs=b"bad"),
        entry(14, "hop.verdict", hop=2, position=2, status=REJECTED, result_entry=13),
        entry(15, "mix.result", 3, job="j3", outputs=b"orphan"),
    ]
    m = MixMachine.from_board(EID, PARAMS, b"pk", entries, "s2", T)
    assert m.current == b"out1" and m.cascade.verdicts == {1: ACCEPTED, 2: REJECTED}
    out = m.start(0.0, {3})
    assert out[0] == AbandonHop(3, 3, 15, digest(b"orphan"))
    assert request(out, 3)["ciphertexts"] == b"out1"
    # an abandoned verdict on the board counts for nothing: the hop is still to do
    entries.append(entry(16, "hop.verdict", hop=3, position=3, status=ABANDONED,
                         result_entry=15))
    m2 = MixMachine.from_board(EID, PARAMS, b"pk", entries, "s3", T)
    assert m2.orphans == [] and m2.cascade.next_hop() == 3


def test_rebuild_refuses_a_board_without_a_closed_list_or_an_unsigned_result() -> None:
    with pytest.raises(ProtocolViolation, match="no closed ballot list"):
        MixMachine.from_board(EID, PARAMS, b"pk", [], "s", T)
    entries = [entry(1, "voting.closed", count=1, ciphertexts=CLOSED),
               entry(2, "mix.result", None, job="j", outputs=b"o")]
    with pytest.raises(ProtocolViolation, match="not signed by a node"):
        MixMachine.from_board(EID, PARAMS, b"pk", entries, "s", T)


# --- decryption -----------------------------------------------------------------------------------
def decrypter(eligible: set[int] | None = None, count: int = 4) -> DecryptMachine:
    return DecryptMachine(EID, "secp256k1", 1, b"final", count,
                          ShareCollector(2, eligible or {1, 2, 3}), "s", T)


def share(m: DecryptMachine, final: bytes = b"final", data: bytes = b"sh") -> SignedMessage:
    return signed("decrypt.share", job=m.job, input_digest=digest(final), share=data)


def test_decryption_collects_t_shares_then_combines() -> None:
    m = decrypter()
    out = m.start(0.0, {1, 3})
    assert sorted(s.position for s in of(out, Send)) == [1, 3]
    assert of(out, Send)[0].message["ciphertexts"] == b"final"
    assert [s.position for s in of(m.node_connected(2, 1.0), Send)] == [2]
    note, out = m.share(1, share(m, data=b"s1"), 2.0)
    assert note == "received" and [v.position for v in of(out, VerifyShare)] == [1]
    with pytest.raises(ProtocolViolation, match="may not send"):
        m.share(1, share(m), 2.1)  # a second share while the first is verified
    assert m.node_connected(1, 2.2) == []  # no new request for a node being verified
    out = m.verified(1, True, "", 3.0)
    assert of(out, CommitShare)[0].status == ACCEPTED and not of(out, Combine)
    out = m.share(2, share(m, final=b"other"), 4.0)[1]  # not for the final list
    (commit,) = of(out, CommitShare)
    assert commit.status == REJECTED and "not for the final list" in commit.reason
    m.share(3, share(m, data=b"s3"), 5.0)
    out = m.verified(3, True, "", 6.0)
    assert of(out, Combine) == [Combine({1: b"s1", 3: b"s3"})]
    assert m.share(2, share(m), 7.0)[0].startswith("discarded")


def test_decryption_fails_when_too_few_can_be_valid_or_time_runs_out() -> None:
    m = decrypter()
    m.start(0.0, {1, 2, 3})
    m.share(1, share(m), 1.0)
    m.verified(1, False, "InvalidProof: bad", 1.0)
    m.share(2, share(m), 2.0)
    out = m.verified(2, False, "InvalidProof: bad", 2.0)
    assert of(out, DecryptFailed) == [DecryptFailed("decryption failed: fewer than t valid shares")]
    slow = decrypter()
    slow.start(0.0, {1})
    assert slow.tick(19.0) == []
    assert slow.tick(20.5) == [DecryptFailed("decryption timed out")]


def test_decryption_refuses_strangers_and_wrong_jobs() -> None:
    m = decrypter(eligible={1, 2})
    with pytest.raises(ProtocolViolation, match="no job"):
        m.share(1, share(m), 0.0)  # not started
    m.start(0.0, {1, 2, 3})
    with pytest.raises(ProtocolViolation, match="may not send"):
        m.share(3, share(m), 1.0)  # excluded or not qualified
    bad = signed("decrypt.share", job="decrypt-other", input_digest=b"", share=b"")
    with pytest.raises(ProtocolViolation, match="no job"):
        m.share(1, bad, 1.0)
    with pytest.raises(ProtocolViolation, match="being verified"):
        m.verified(2, True, "", 1.0)


def test_empty_list_tallies_at_once_and_rebuild_abandons_orphan_shares() -> None:
    assert decrypter(count=0).start(0.0) == [Combine({})]
    entries = [
        entry(10, "voting.closed", count=4, ciphertexts=CLOSED),
        entry(11, "mix.result", 1, job="j1", outputs=b"out1"),
        entry(12, "hop.verdict", hop=1, position=1, status=ACCEPTED, result_entry=11),
        entry(13, "hop.verdict", hop=2, position=2, status=SKIPPED, result_entry=0),
        entry(14, "mix.result", 3, job="j3", outputs=b"x"),
        entry(15, "hop.verdict", hop=3, position=3, status=REJECTED, result_entry=14),
        entry(16, "decrypt.share", 1, job="d", share=b"s1"),
        entry(17, "decrypt.verdict", position=1, status=ACCEPTED, share_entry=16),
        entry(18, "decrypt.share", 2, job="d", share=b"s2"),
    ]
    m = DecryptMachine.from_board(EID, PARAMS, [1, 2, 3], entries, "s", T)
    assert m.final == b"out1" and m.collector.eligible == {1, 2}  # node 3 was excluded
    assert m.collector.valid == {1: b"s1"}
    out = m.start(0.0, {1, 2})
    assert out[0] == AbandonShare(2, 18)
    assert [s.position for s in of(out, Send)] == [2]  # asked again; node 1 is done
    with pytest.raises(ProtocolViolation, match="not finished"):
        DecryptMachine.from_board(EID, PARAMS, [1, 2, 3], entries[:3], "s", T)


# --- admin actions and resumption -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("action", "phase", "state", "busy", "error"),
    [
        ("open", "keygen", {"public_key": "ab"}, False, None),
        ("open", "keygen", {}, False, "key generation has not finished"),
        ("open", "voting", {"public_key": "ab"}, False, "not allowed in phase voting"),
        ("close", "voting", {}, False, None),
        ("close", "closed", {}, False, "not allowed in phase closed (needs voting)"),
        ("close", "voting", {}, True, "already under way"),
        ("mix", "closed", {}, False, None),
        ("mix", "mixing", {}, False, "not allowed in phase mixing"),
        ("publish", "mixing", {}, False, None),
        ("publish", "decrypting", {}, False, None),
        ("publish", "mixing", {"publish_requested": True}, False, "already requested"),
        ("publish", "tallied", {}, False, "not allowed in phase tallied"),
    ],
)
def test_check_action(
    action: str, phase: str, state: dict[str, Any], busy: bool, error: str | None
) -> None:
    if error is None:
        check_action(action, phase, state, busy)
    else:
        with pytest.raises(ProtocolViolation, match=re.escape(error)):
            check_action(action, phase, state, busy)


def test_check_action_rejects_an_unknown_action() -> None:
    with pytest.raises(ValueError, match="unknown action"):
        check_action("explode", "voting", {})


@pytest.mark.parametrize(
    ("phase", "state", "stage"),
    [
        ("mixing", {"mixed": False}, "mix"),
        ("mixing", {"mixed": False, "publish_requested": True}, "mix"),
        ("mixing", {"mixed": True}, None),
        ("mixing", {"mixed": True, "publish_requested": True}, "decrypt"),
        ("decrypting", {"mixed": True}, "decrypt"),
        ("voting", {}, None),
        ("tallied", {"mixed": True, "publish_requested": True}, None),
    ],
)
def test_resume_stage(phase: str, state: dict[str, Any], stage: str | None) -> None:
    assert resume_stage(phase, state) == stage
