"""Fault injection with real processes over loopback: SIGKILL the server at random moments.

A real server and three real node processes run small elections. The server is killed (SIGKILL)
at 20 or more random moments spread over voting (while ballots are in flight), mixing and
decryption, and restarted each time on the same data directory. After every kill the board must
hold every acknowledged ballot and no result without its verdict; each election must end with the
right tally and a record that ``mixverify`` accepts. The RNG is seeded (the seed is printed; set
``MIXVOTE_FAULT_SEED`` to replay a run); every wait is bounded.

A 10-voter election mixes and decrypts in well under a second, so the nodes run in the honest but
slow fault mode (``MIXVOTE_FAULT=slow``: each hop and each decryption share comes
``MIXVOTE_FAULT_DELAY`` seconds late) and a kill aimed at mixing or decryption strikes as soon as
that phase is seen, with every node connected. The phase a kill really hit is read from the board
with the server dead; the run must have hit mixing and decryption at least three times each.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from crypto.io.cli import main as mixverify
from crypto.protocol.wire import decode_body
from mixnode.faults import DELAY_ENV
from mixserver.board import Board
from mixserver.harness import make_ballots, wait_for
from tests.integration.test_election import Cluster, expected, free_port

pytestmark = pytest.mark.slow

ELECTIONS = 3
VOTERS = 10
VOTING_KILLS = 3  # per election, while ballots are cast (the last election tops up to 20)
LATE_KILLS = {"mixing": 2, "decrypting": 2}  # per election, aimed at each phase
LATE_SPARE = 2  # late kills of the last election that may miss (the phase over) at no cost
LATE_MINIMUM = 3  # kills that must really land in each of mixing and decryption over the run
TOTAL_KILLS = 20
DELAY = 1.0  # seconds each (honest) hop and decryption share is held back by the slow nodes


def post_ballot(base: str, eid: str, ballot: dict[str, Any]) -> tuple[str, Any]:
    """One attempt, no retry: ("ok", tracker), ("refused", reason) or ("lost", error)."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request(
            "POST",
            f"/api/elections/{eid}/ballots",
            json.dumps(ballot).encode(),
            {"Content-Type": "application/json"},  # a voter-signed ballot: no Authorization
        )
        resp = conn.getresponse()
        body = json.loads(resp.read() or b"null")
    except (OSError, http.client.HTTPException) as exc:
        return "lost", exc
    finally:
        conn.close()
    if resp.status == 201:
        return "ok", body["tracker"]
    return "refused", body.get("error")


def board_invariants(data: Path, eid: str, acknowledged: set[str]) -> str:
    """With the server dead: every acknowledged ballot is on the board, and every node result
    (mix.result, decrypt.share) has a verdict that refers to it. Returns the election's phase."""
    board = Board(data)
    try:
        entries = board.entries(eid)
        got = board.election(eid)
    finally:
        board.close()
    assert got is not None
    phase: str = got[1]
    hashes = {s.hash.hex() for s in entries if s.kind == "ballot"}
    assert acknowledged <= hashes, f"acknowledged ballots lost: {acknowledged - hashes}"
    refs = {"hop.verdict": "result_entry", "decrypt.verdict": "share_entry"}
    referenced = {
        decode_body(s.entry.body)[refs[s.kind]] for s in entries if s.kind in refs
    }
    results = {s.entry.index for s in entries if s.kind in ("mix.result", "decrypt.share")}
    assert results <= referenced, f"results without a verdict: {sorted(results - referenced)}"
    return phase


class Faults:
    def __init__(self, cluster: Cluster, rng: random.Random) -> None:
        self.cluster = cluster
        self.rng = rng
        self.kills: list[str] = []
        self.phases: list[str] = []  # the phase each kill hit, as the board says

    def kill_and_restart(self, eid: str, acknowledged: set[str], where: str) -> str:
        self.cluster.kill_server()
        phase = board_invariants(self.cluster.tmp / "server", eid, acknowledged)
        self.kills.append(f"{where}: hit {phase}")
        self.phases.append(phase)
        self.cluster.start_server(hop_timeout=60, grace=15)
        return phase

    def vote(self, e: dict[str, Any], choices: list[int], last: bool) -> set[str]:
        """Cast every ballot, killing the server at random moments while they are in flight;
        a ballot whose answer was lost is sent again (a replay refusal means it was stored)."""
        eid = e["id"]
        ballots = make_ballots("secp256k1", e["public_key"], eid, 1, e["credentials"], choices,
                               bytes.fromhex(e["fingerprint"]))
        count = VOTING_KILLS
        if last:  # the late kills of this election are still to come (two may find it over)
            late = sum(LATE_KILLS.values()) - LATE_SPARE
            count = max(count, min(len(ballots), TOTAL_KILLS - late - len(self.phases)))
        kill_at = set(self.rng.sample(range(len(ballots)), count))
        acknowledged: set[str] = set()
        for i, ballot in enumerate(ballots):
            timer = None
            if i in kill_at:
                server = self.cluster.server
                assert server is not None
                timer = threading.Timer(self.rng.uniform(0.0, 0.03), server.kill)
                timer.start()
            outcome, value = post_ballot(self.cluster.base, eid, ballot)
            if timer is not None:
                timer.join()
                self.kill_and_restart(eid, acknowledged | ({value} if outcome == "ok" else set()),
                                      f"voting, ballot {i} ({outcome})")
            if outcome == "ok":
                acknowledged.add(value)
                continue
            for _ in range(3):  # lost or refused during the kill: send it again
                again, value = post_ballot(self.cluster.base, eid, ballot)
                if again == "ok":
                    acknowledged.add(value)
                    break
                if again == "refused" and "already cast" in str(value):
                    break  # it was stored before the kill: counted, just not acknowledged
                time.sleep(0.3)
            else:
                raise AssertionError(f"ballot {i} could not be cast: {value}")
        return acknowledged

    def mix_and_decrypt(self, eid: str, acknowledged: set[str]) -> dict[str, Any]:
        api = self.cluster.api
        assert api is not None
        api.request("POST", f"/api/elections/{eid}/close")
        wait_for(api, eid, lambda x: x["phase"] == "closed", "close", 20)
        api.request("POST", f"/api/elections/{eid}/mix")
        api.request("POST", f"/api/elections/{eid}/publish")
        for k, target in enumerate(t for t, n in LATE_KILLS.items() for _ in range(n)):
            self.strike(eid, acknowledged, target, k + 1)
        return self.cluster.tallied(eid, timeout=120)

    def strike(self, eid: str, acknowledged: set[str], target: str, k: int) -> None:
        """Kill the server at a random moment of ``target`` (mixing or decrypting): as soon as
        the phase is seen with enough nodes connected for a slow job to be in flight (every
        node to mix, t = 2 to decrypt), after a random part of one node delay. Does nothing if
        the election has already gone past it."""
        order = ("mixing", "decrypting", "tallied")
        deadline = time.monotonic() + 90
        while True:
            assert time.monotonic() < deadline, f"{target} with its nodes connected: not seen"
            assert self.cluster.api is not None
            got = self.cluster.api.request("GET", f"/api/elections/{eid}")
            if order.index(got["phase"]) > order.index(target):
                self.kills.append(f"{target} (late kill {k}): missed, already {got['phase']}")
                return
            connected = sum(node["connected"] for node in got["nodes"])
            if got["phase"] == target and connected >= (3 if target == "mixing" else 2):
                break
            time.sleep(0.02)
        time.sleep(self.rng.uniform(0.0, DELAY / 2))
        self.kill_and_restart(eid, acknowledged, f"aimed at {target} (late kill {k})")


def test_sigkill_at_random_moments_loses_nothing_and_always_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = int(os.environ.get("MIXVOTE_FAULT_SEED") or random.SystemRandom().randrange(2**32))
    with capsys.disabled():
        print(f"\nfault injection seed: {seed} (replay with MIXVOTE_FAULT_SEED={seed})")
    rng = random.Random(seed)
    monkeypatch.setenv(DELAY_ENV, str(DELAY))  # the slow nodes inherit it
    cluster = Cluster(tmp_path)
    cluster.port = free_port()
    faults = Faults(cluster, rng)
    started = time.monotonic()
    try:
        cluster.start_server(hop_timeout=60, grace=15)
        for n in range(ELECTIONS):
            e = cluster.election(voters=VOTERS, cheats=dict.fromkeys((1, 2, 3), "slow"))
            choices = [rng.randrange(3) for _ in range(VOTERS)]
            acknowledged = faults.vote(e, choices, last=n == ELECTIONS - 1)
            result = faults.mix_and_decrypt(e["id"], acknowledged)
            assert result["counts"] == expected(choices), f"seed {seed}, election {n}"
            assert result["ballots"] == VOTERS
            cluster.kill_server()  # the board is read with the server down
            board_invariants(tmp_path / "server", e["id"], acknowledged)
            record = tmp_path / f"record{n}"
            board = Board(tmp_path / "server")
            try:
                from mixserver.export import export_record

                export_record(board, e["id"], record)
            finally:
                board.close()
            assert mixverify([str(record)]) == 0, f"seed {seed}, election {n}"
            cluster.start_server(hop_timeout=60, grace=15)
            for proc in list(cluster.nodes.values()):  # the next election gets fresh nodes
                proc.kill()
                proc.wait(10)
            cluster.nodes.clear()
    finally:
        cluster.stop()
    with capsys.disabled():
        print(f"{len(faults.kills)} kills in {time.monotonic() - started:.0f} s: "
              + "; ".join(faults.kills))
    assert len(faults.phases) >= TOTAL_KILLS, faults.kills
    hit = {phase: faults.phases.count(phase) for phase in ("voting", "mixing", "decrypting")}
    assert hit["voting"] >= VOTING_KILLS * ELECTIONS, (seed, faults.kills)
    assert hit["mixing"] >= LATE_MINIMUM and hit["decrypting"] >= LATE_MINIMUM, (
        seed, faults.kills)
