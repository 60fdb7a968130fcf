"""Crash consistency of the coordinator, in process: no socket, no subprocess, no event loop.

A real board (SQLite in a temporary directory) holds a real election up to the closed list (an
in-process DKG, real ballots). Then the sans-io machines of ``mixserver.machine`` run the cascade
and the decryption, their effects carried out by the same board-writing functions the server uses
(``mixserver.boardio.write_*``), the nodes' work done by the node's own job functions. The
"server" crashes (its machine and every message in flight thrown away) right after each board
commit in turn, is rebuilt from the board alone, and resumes; every time, the exported record must
pass the standalone verifier with the right tally.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crypto import group
from crypto.dkg import DkgParams, DkgParticipant
from crypto.errors import MixvoteError, error_class
from crypto.io.recorddir import read_directory
from crypto.protocol.wire import (
    Message,
    SignedMessage,
    decode_body,
    decode_frame,
    decryption_context,
    digest,
    shuffle_sid,
    sign_message,
)
from crypto.transport import NodeIdentity
from crypto.verify import verify_record
from mixnode.protocol import decrypt_job, mix_job
from mixserver import jobs
from mixserver.boardio import (
    dkg_outcome,
    load_decrypt,
    load_mix,
    write_close,
    write_dkg,
    write_effect,
    write_mixed,
    write_open,
    write_publish,
    write_start_mixing,
    write_tally,
)
from mixserver.coordinator import BOUND_KINDS
from mixserver.decryption import DecryptMachine
from mixserver.machine import (
    BoardWrite,
    Combine,
    DecryptFailed,
    Effect,
    MixFinished,
    Progress,
    Send,
    Timeouts,
    VerifyHop,
    VerifyShare,
    resume_stage,
)
from mixserver.mixing import MixMachine
from mixserver.services import ElectionServices

CHOICES = ["a", "b", "c"]


class Crash(Exception):
    """The simulated server dies here."""



def outcome(check: Any, *args: Any) -> tuple[bool, str]:
    """(ok, reason) of a check that raises, the reason as the coordinator records it."""
    try:
        check(*args)
    except MixvoteError as exc:
        return False, f"{error_class(exc).__name__}: {exc}"
    return True, ""

class Election:
    """A real election on a real board, driven without a network."""

    def __init__(self, tmp: Path, n: int = 3, t: int = 2, voters: int = 5) -> None:
        self.tmp = tmp
        self.svc = ElectionServices(tmp / "data")
        self.db = self.svc.db
        e = self.svc.create_election("crash", "?", CHOICES, n=n, t=t, voters=voters,
                                     test=True)
        self.eid: str = e["id"]
        self.n, self.t = n, t
        self.ids = {p: NodeIdentity.generate() for p in range(1, n + 1)}
        for p, ident in self.ids.items():
            self.svc.enrol_node(self.eid, ident.public_bytes().hex(), p)
        self.seq = itertools.count(1)
        self.key_shares = self._dkg()
        write_open(self.db, self.eid)
        self.expected = self.svc.generate_test_ballots(self.eid, voters)["expected"]
        write_close(self.db, self.eid)
        write_start_mixing(self.db, self.eid)
        assert write_publish(self.db, self.eid) is False  # mixing is not over yet
        self.commits = 0
        self.crash_at: int | None = None
        self.restarts = 0

    def signed(self, position: int, kind: str, fields: dict[str, Any]) -> SignedMessage:
        """A node's signed message; one for the record binds the fingerprint and a seen head."""
        ident = self.ids[position]
        if kind in BOUND_KINDS:
            _p, _phase, state = self.db.election(self.eid)
            size = self.db.count_entries(self.eid)
            fields = {**fields, "fingerprint": bytes.fromhex(state["fingerprint"]),
                      "seen_size": size, "seen_head": self.db.hash_at(self.eid, size - 1)}
        msg = Message(kind, self.eid, fields, bytes(32), next(self.seq))
        _body, frame = sign_message(msg, ident.sign, ident.public.signing_key)
        return decode_frame(frame)

    def _dkg(self) -> dict[int, bytes]:
        g = group("secp256k1")
        params = DkgParams(
            g, self.eid, self.n, self.t, tuple(i.public_bytes() for i in self.ids.values())
        )
        parts = {p: DkgParticipant(params, p, self.ids[p]) for p in self.ids}
        deals = {p: x.deal() for p, x in parts.items()}
        complaints = {
            p: x.on_deals({q: d for q, d in deals.items() if q != p}) for p, x in parts.items()
        }
        responses = {
            p: x.on_complaints({q: c for q, c in complaints.items() if q != p})
            for p, x in parts.items()
        }
        shares = {
            p: x.on_responses({q: r for q, r in responses.items() if q != p}).to_bytes()
            for p, x in parts.items()
        }
        transcript = [self.signed(p, "node.endorse", {}) for p in sorted(parts)] + [
            self.signed(p, kind, {"data": item.to_bytes()})
            for kind, items in (
                ("dkg.deal", deals),
                ("dkg.complaint", complaints),
                ("dkg.response", responses),
            )
            for p, item in sorted(items.items())
        ]
        result, state = dkg_outcome(
            params,
            [d.to_bytes() for d in deals.values()],
            [c.to_bytes() for c in complaints.values()],
            [r.to_bytes() for r in responses.values()],
        )
        write_dkg(self.db, self.eid, transcript, result, state)
        return shares

    # --- the server's side ------------------------------------------------------------------
    def commit(self, fn: Callable[..., Any], *args: Any) -> Any:
        out = fn(self.db, self.eid, *args)
        self.commits += 1
        if self.crash_at is not None and self.commits == self.crash_at:
            raise Crash(f"after commit {self.commits}")
        return out

    def run(self, now: float = 0.0) -> None:
        """Run the server until the election is tallied, or until the chosen crash."""
        while True:
            _params, phase, state = self.db.election(self.eid)
            stage = resume_stage(phase, state)
            if phase == "tallied" or stage is None:
                return
            session = f"s{self.restarts}"
            machine: MixMachine | DecryptMachine
            if stage == "mix":
                machine = load_mix(self.db, self.eid, session, Timeouts())
            else:
                if phase != "decrypting":
                    self.commit(lambda db, eid: db.set_phase(eid, "decrypting"))
                machine = load_decrypt(self.db, self.eid, session, Timeouts())
            self.drive(machine, machine.start(now, self.ids))

    def drive(self, machine: MixMachine | DecryptMachine, first: list[Effect]) -> None:
        """Carry out effects; node answers and verifications come back as events, in order."""
        queue: collections.deque[Effect] = collections.deque(first)
        params, _phase, state = self.db.election(self.eid)
        while queue:
            effect = queue.popleft()
            if isinstance(effect, Send):
                queue.extend(self.node(machine, effect))
            elif isinstance(effect, VerifyHop):
                assert isinstance(machine, MixMachine)
                m = effect.result.message
                ok, reason = outcome(
                    jobs.verify_hop, "secp256k1", self.eid, machine.public_key, params["width"],
                    effect.inputs, m["outputs"], m["proof"],
                )
                queue.extend(machine.verified(effect.job, ok, reason, 0.0))
            elif isinstance(effect, VerifyShare):
                assert isinstance(machine, DecryptMachine)
                p = effect.position
                ok, reason = outcome(
                    jobs.verify_share, "secp256k1",
                    bytes.fromhex(state["verification_keys"][p - 1]),
                    params["width"], machine.final, effect.share.message["share"],
                    decryption_context(self.eid, machine.final), p,
                )
                queue.extend(machine.verified(p, ok, reason, 0.0))
            elif isinstance(effect, BoardWrite):
                self.commit(write_effect, effect)
            elif isinstance(effect, MixFinished):
                assert isinstance(machine, MixMachine)
                assert effect.ok, effect.reason
                self.commit(write_mixed, True, 1.0, machine.count)
                return
            elif isinstance(effect, Combine):
                assert isinstance(machine, DecryptMachine)
                result = jobs.combine_and_tally(
                    "secp256k1", params["width"], machine.final, dict(effect.shares),
                    self.t, CHOICES,
                )
                self.commit(write_tally, result, 1.0)
                return
            elif isinstance(effect, DecryptFailed):
                raise AssertionError(effect.reason)
            else:
                assert isinstance(effect, Progress), effect

    def node(self, machine: MixMachine | DecryptMachine, send: Send) -> list[Effect]:
        """The node at ``send.position`` does its job at once and answers."""
        msg, p = send.message, send.position
        if msg.kind == "mix.request":
            assert isinstance(machine, MixMachine)
            outputs, proof = mix_job(
                msg["group"], msg["sid"], msg["public_key"], msg["width"], msg["ciphertexts"], 1
            )
            result = self.signed(
                p, "mix.result",
                {"job": msg["job"], "input_digest": digest(msg["ciphertexts"]),
                 "outputs": outputs, "proof": proof},
            )
            _note, effects = machine.result(p, result, 0.0)
            return effects
        if msg.kind == "decrypt.request":
            assert isinstance(machine, DecryptMachine)
            share = decrypt_job(
                msg["group"], self.key_shares[p], msg["width"], msg["ciphertexts"],
                decryption_context(self.eid, msg["ciphertexts"]),
            )
            signed = self.signed(
                p, "decrypt.share",
                {"job": msg["job"], "input_digest": digest(msg["ciphertexts"]), "share": share},
            )
            _note, effects = machine.share(p, signed, 0.0)
            return effects
        assert msg.kind == "error", msg.kind
        return []

    def run_with_restarts(self) -> None:
        while True:
            try:
                self.run()
                return
            except Crash:
                self.crash_at = None  # the restarted server runs to the end
                self.restarts += 1

    def verify(self) -> Any:
        out = self.tmp / f"record-{self.restarts}-{self.commits}"
        self.svc.export_record(self.eid, out)
        report = verify_record(read_directory(out))
        assert report.ok, "\n".join(str(c) for c in report.failures)
        _p, phase, state = self.db.election(self.eid)
        assert phase == "tallied"
        assert {k: v for k, v in state["result"]["counts"].items() if v} == self.expected
        return report


def kinds(db: Any, eid: str) -> list[str]:
    return [s.kind for s in db.entries(eid)]


def test_a_run_without_crash_verifies_and_counts_its_commits(tmp_path: Path) -> None:
    e = Election(tmp_path)
    e.run()
    e.verify()
    # three hops (result + verdict each), the mixed flag, the decrypting phase, two shares
    # (share + verdict each), the tally
    assert e.commits == 3 + 1 + 1 + 2 + 1
    tail = kinds(e.db, e.eid)[-11:]
    assert tail == ["mix.result", "hop.verdict"] * 3 + [
        "decrypt.share", "decrypt.verdict", "decrypt.share", "decrypt.verdict", "tally"
    ]


@pytest.mark.parametrize("crash_at", range(1, 9))
def test_crash_after_every_commit_resumes_to_a_verified_record(
    tmp_path: Path, crash_at: int
) -> None:
    e = Election(tmp_path)
    e.crash_at = crash_at
    e.run_with_restarts()
    assert e.restarts == 1
    report = e.verify()
    # every hop was accepted exactly once, whatever the crash point
    assert report.summary["hops_accepted"] == 3
    assert not any(s.kind == "hop.verdict" and b"abandoned" in s.entry.body
                   for s in e.db.entries(e.eid))  # atomic commits leave nothing to abandon


def test_two_crashes_in_a_row_still_verify(tmp_path: Path) -> None:
    e = Election(tmp_path)
    for at in (2, 2):  # crash after the 2nd commit of the first run, then of the second
        e.crash_at = e.commits + at
        with pytest.raises(Crash):
            e.run()
        e.restarts += 1
    e.crash_at = None
    e.run()
    e.verify()


def test_verdictless_results_of_an_older_server_are_abandoned_and_redone(
    tmp_path: Path,
) -> None:
    """A record written the old way (a result appended before its verdict, then a crash):
    the rebuilt machine closes it with an ``abandoned`` verdict, the hop is redone, and the
    verifier accepts the record."""
    e = Election(tmp_path)
    _p, _phase, state = e.db.election(e.eid)
    closed = [s for s in e.db.entries(e.eid) if s.kind == "voting.closed"][-1]
    inputs = decode_body(closed.entry.body)["ciphertexts"]
    outputs, proof = mix_job("secp256k1", shuffle_sid(e.eid), bytes.fromhex(
        state["public_key"]), 1, inputs, 1)
    orphan = e.signed(1, "mix.result", {"job": "mix-1-1-old", "input_digest": digest(inputs),
                                        "outputs": outputs, "proof": proof})
    e.db.append(e.eid, "mix.result", orphan.body, orphan.author, orphan.signature)
    machine = load_mix(e.db, e.eid, "s1", Timeouts())
    assert machine.orphans and machine.orphans[0].position == 1
    e.run()
    _p, phase, _s = e.db.election(e.eid)
    assert phase == "tallied"
    bodies = [decode_body(s.entry.body) for s in e.db.entries(e.eid) if s.kind == "hop.verdict"]
    assert [b["status"] for b in bodies] == ["abandoned", "accepted", "accepted", "accepted"]
    e.verify()


def test_verdictless_share_is_abandoned_and_the_record_verifies(tmp_path: Path) -> None:
    e = Election(tmp_path)
    e.crash_at = 5  # right after the decryption phase began
    with pytest.raises(Crash):
        e.run()
    _p, phase, _s = e.db.election(e.eid)
    assert phase == "decrypting"
    machine = load_decrypt(e.db, e.eid, "x", Timeouts())
    share = decrypt_job("secp256k1", e.key_shares[2], 1, machine.final,
                        decryption_context(e.eid, machine.final))
    orphan = e.signed(2, "decrypt.share", {"job": "decrypt-old", "input_digest": digest(
        machine.final), "share": share})
    e.db.append(e.eid, "decrypt.share", orphan.body, orphan.author, orphan.signature)
    e.crash_at = None
    e.restarts += 1
    e.run()
    report = e.verify()
    assert any(c.name == "abandoned" and c.ok for c in report.checks)


def test_the_verifier_rejects_a_forged_abandoned_verdict(tmp_path: Path) -> None:
    """An ``abandoned`` verdict must alone close an earlier result of the node it names: one
    that names node 2 for node 1's (already judged) result fails, and so does the judged
    verdict that now shares its result."""
    e = Election(tmp_path)
    e.crash_at = 1  # hop 1's result and verdict are on the board
    with pytest.raises(Crash):
        e.run()
    r1 = next(s for s in e.db.entries(e.eid) if s.kind == "mix.result")
    e.db.append_server(e.eid, Message("hop.verdict", e.eid, {
        "hop": 2, "position": 2, "status": "abandoned", "reason": "forged",
        "result_entry": r1.entry.index, "output_digest": b"", "evidence_entry": 0,
        "requested_ms": 0, "gave_up_ms": 0, "timeout_ms": 0}))
    e.crash_at = None
    e.restarts += 1
    e.run()
    out = tmp_path / "forged"
    e.svc.export_record(e.eid, out)
    report = verify_record(read_directory(out))
    assert not report.ok
    bad = [str(c) for c in report.failures]
    assert any(c.startswith("abandoned") and "signed by node 1, not node 2" in c for c in bad)
    assert any("hop 1" in c and "is not a mix.result" in c for c in bad)
