"""Fault injection with real processes over loopback: SIGKILL the server at random moments.

A real server and three real node processes run small elections. The server is killed (SIGKILL)
at 20 or more random moments spread over voting (while ballots are in flight), mixing and
decryption, and restarted each time on the same data directory. After every kill the board must
hold every acknowledged ballot and no result without its verdict; each election must end with the
right tally and a record that ``mixverify`` accepts. The RNG is seeded (the seed is printed; set
``MIXVOTE_FAULT_SEED`` to replay a run); every wait is bounded.
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
from mixserver.board import Board
from mixserver.harness import make_ballots, wait_for
from tests.integration.test_election import Cluster, expected, free_port

pytestmark = pytest.mark.slow

ELECTIONS = 3
VOTERS = 10
VOTING_KILLS = 5  # per election, while ballots are cast (the last election tops up to 20)
LATE_KILLS = 4  # per election, during mixing and decryption (fewer if it finishes first)
TOTAL_KILLS = 20


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


def board_invariants(data: Path, eid: str, acknowledged: set[str]) -> None:
    """With the server dead: every acknowledged ballot is on the board, and every node result
    (mix.result, decrypt.share) has a verdict that refers to it."""
    board = Board(data)
    try:
        entries = board.entries(eid)
    finally:
        board.close()
    hashes = {s.hash.hex() for s in entries if s.kind == "ballot"}
    assert acknowledged <= hashes, f"acknowledged ballots lost: {acknowledged - hashes}"
    refs = {"hop.verdict": "result_entry", "decrypt.verdict": "share_entry"}
    referenced = {
        decode_body(s.entry.body)[refs[s.kind]] for s in entries if s.kind in refs
    }
    results = {s.entry.index for s in entries if s.kind in ("mix.result", "decrypt.share")}
    assert results <= referenced, f"results without a verdict: {sorted(results - referenced)}"


class Faults:
    def __init__(self, cluster: Cluster, rng: random.Random) -> None:
        self.cluster = cluster
        self.rng = rng
        self.kills: list[str] = []

    def kill_and_restart(self, eid: str, acknowledged: set[str], where: str) -> None:
        self.cluster.kill_server()
        self.kills.append(where)
        board_invariants(self.cluster.tmp / "server", eid, acknowledged)
        self.cluster.start_server(hop_timeout=60, grace=15)

    def vote(self, e: dict[str, Any], choices: list[int], last: bool) -> set[str]:
        """Cast every ballot, killing the server at random moments while they are in flight;
        a ballot whose answer was lost is sent again (a replay refusal means it was stored)."""
        eid = e["id"]
        ballots = make_ballots("secp256k1", e["public_key"], eid, 1, e["credentials"], choices,
                               bytes.fromhex(e["fingerprint"]))
        count = VOTING_KILLS
        if last:
            count = max(count, min(len(ballots), TOTAL_KILLS - len(self.kills)))
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
        order = ("mixing", "decrypting", "tallied")
        for k in range(LATE_KILLS):
            # aim at a phase (mixing or decryption) with every node connected, then strike at
            # a random moment in it
            target = self.rng.choice(order[:2])
            deadline = time.monotonic() + 60
            while True:
                assert self.cluster.api is not None and time.monotonic() < deadline
                got = self.cluster.api.request("GET", f"/api/elections/{eid}")
                connected = sum(node["connected"] for node in got["nodes"])
                if got["phase"] == "tallied" or (
                    order.index(got["phase"]) >= order.index(target) and connected == 3
                ):
                    break
                time.sleep(0.02)
            if got["phase"] == "tallied":
                break
            time.sleep(self.rng.uniform(0.0, 0.4))
            got = self.cluster.api.request("GET", f"/api/elections/{eid}")
            if got["phase"] == "tallied":
                break
            where = f"{got['phase']} {got.get('progress', {}).get('stage', '')}".strip()
            self.kill_and_restart(eid, acknowledged, f"{where} (kill {k + 1})")
        return self.cluster.tallied(eid, timeout=120)


def test_sigkill_at_random_moments_loses_nothing_and_always_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = int(os.environ.get("MIXVOTE_FAULT_SEED") or random.SystemRandom().randrange(2**32))
    with capsys.disabled():
        print(f"\nfault injection seed: {seed} (replay with MIXVOTE_FAULT_SEED={seed})")
    rng = random.Random(seed)
    cluster = Cluster(tmp_path)
    cluster.port = free_port()
    faults = Faults(cluster, rng)
    started = time.monotonic()
    try:
        cluster.start_server(hop_timeout=60, grace=15)
        for n in range(ELECTIONS):
            e = cluster.election(voters=VOTERS)
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
    assert len(faults.kills) >= TOTAL_KILLS, faults.kills
