"""Whole elections over loopback: a real server process, real node processes, the HTTP API.

Every test kills its subprocesses in a finaliser; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import random
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket

from crypto.protocol.wire import MAX_FRAME, Message, decode_frame, sign_message
from crypto.record import decode_entry, verify_chain
from crypto.transport import NodeIdentity
from mixserver.harness import (
    Api,
    authority_credentials,
    make_ballots,
    node_key,
    start_node,
    start_server,
    wait_for,
)

pytestmark = pytest.mark.slow


class Cluster:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: list[subprocess.Popen[bytes]] = []
        self.nodes: dict[int, subprocess.Popen[bytes]] = {}
        self.port = free_port()
        self.server: subprocess.Popen[bytes] | None = None
        self.api: Api | None = None
        self.log = open(tmp / "log.txt", "ab")  # noqa: SIM115 - closed in stop()

    def start_server(self, hop_timeout: float = 60, grace: float = 15) -> Api:
        self.server, base, token = start_server(
            self.tmp / "server",
            self.port,
            ["--hop-timeout", str(hop_timeout), "--connect-grace", str(grace), "--no-webui"],
            log=self.log,
        )
        self.procs.append(self.server)
        self.base = base
        self.api = Api(base, token)
        return self.api

    def election(
        self, n: int = 3, t: int = 2, voters: int = 12, cheats: dict[int, str] | None = None
    ) -> dict[str, Any]:
        assert self.api is not None
        e = self.api.request(
            "POST",
            "/api/elections",
            {"title": "it", "question": "?", "choices": ["a", "b", "c"], "n": n, "t": t},
        )
        # a normal election: this test is the credential authority, the server gets the list
        creds, public = authority_credentials(e["id"], voters)
        self.api.request("POST", f"/api/elections/{e['id']}/credentials", public)
        for i in range(1, n + 1):
            key = self.tmp / f"node{i}.key"
            pub = node_key(key)
            self.api.request("POST", f"/api/elections/{e['id']}/enrol", {"public_key": pub})
            proc = start_node(
                self.base, key, self.tmp / f"node{i}", 1, (cheats or {}).get(i), log=self.log
            )
            self.procs.append(proc)
            self.nodes[i] = proc
        got = wait_for(self.api, e["id"], lambda x: x["public_key"], "keygen", 60)
        self.api.request("POST", f"/api/elections/{e['id']}/open")
        wait_for(self.api, e["id"], lambda x: x["phase"] == "voting", "open", 20)
        return {**got, "credentials": creds}

    def cast(self, e: dict[str, Any], indices: range, choices: list[int]) -> list[str]:
        assert self.api is not None
        creds = [e["credentials"][i] for i in indices]
        ballots = make_ballots(
            "secp256k1", e["public_key"], e["id"], 1, creds, [choices[i] for i in indices],
            bytes.fromhex(e["fingerprint"]),
        )
        return [
            self.api.request("POST", f"/api/elections/{e['id']}/ballots", b, auth="")["tracker"]
            for b in ballots
        ]

    def finish(self, e: dict[str, Any], timeout: float = 180) -> dict[str, Any]:
        assert self.api is not None
        eid = e["id"]
        self.close_and_mix(eid)
        self.api.request("POST", f"/api/elections/{eid}/publish")
        return self.tallied(eid, timeout)

    def bare_test_election(self, title: str) -> dict[str, Any]:
        """Create a one-node, one-voter test election, and nothing more (no node enrolled)."""
        assert self.api is not None
        return self.api.request(
            "POST",
            "/api/elections",
            {"title": title, "question": "?", "choices": ["a", "b"], "n": 1, "t": 1, "voters": 1,
             "test": True},
        )

    def close_and_mix(self, eid: str) -> None:
        """Close voting, wait until it is closed and start mixing."""
        assert self.api is not None
        self.api.request("POST", f"/api/elections/{eid}/close")
        wait_for(self.api, eid, lambda x: x["phase"] == "closed", "close", 20)
        self.api.request("POST", f"/api/elections/{eid}/mix")

    def kill_while_shuffling(self, eid: str, node: int) -> None:
        """Close voting, start mixing and SIGKILL ``node`` once it is shuffling its hop."""
        self.close_and_mix(eid)
        self.wait_shuffling(eid, node)
        self.nodes[node].kill()
        self.nodes[node].wait(10)

    def restart_node(self, node: int) -> None:
        """Start ``node`` again with its key and data directory (its key share is on disk)."""
        self.procs.append(start_node(self.base, self.tmp / f"node{node}.key",
                                     self.tmp / f"node{node}", workers=1, log=self.log))

    def wait_shuffling(self, eid: str, node: int) -> None:
        """Wait until ``node`` is shuffling its hop."""
        assert self.api is not None
        def shuffling(x: dict[str, Any]) -> bool:
            return bool(x["progress"].get("stage") == "shuffling"
                        and x["progress"].get("node") == node)

        wait_for(self.api, eid, shuffling, f"hop {node} started", 30)

    def finish_mixing_and_publish(self, eid: str, timeout: float = 180) -> dict[str, Any]:
        assert self.api is not None
        self.api.request("POST", f"/api/elections/{eid}/publish")
        return self.tallied(eid, timeout)

    def tallied(self, eid: str, timeout: float = 180) -> dict[str, Any]:
        assert self.api is not None
        wait_for(self.api, eid, lambda x: x["phase"] == "tallied", "tally", timeout)
        result = self.api.request("GET", f"/api/elections/{eid}/results")
        result["hops"] = self.api.request("GET", f"/api/elections/{eid}/status")["hops"]
        return result

    def kill_server(self) -> None:
        assert self.server is not None
        self.server.send_signal(signal.SIGKILL)
        self.server.wait(10)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        self.log.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        c.stop()


def expected(choices: list[int]) -> dict[str, int]:
    counts = {"a": 0, "b": 0, "c": 0}
    for c in choices:
        counts["abc"[c]] += 1
    return counts


CHOICES = [random.Random(7).randrange(3) for _ in range(12)]


def test_full_election_and_export(cluster: Cluster, tmp_path: Path) -> None:
    api = cluster.start_server()
    e = cluster.election()
    trackers = cluster.cast(e, range(12), CHOICES)
    result = cluster.finish(e)
    assert result["counts"] == expected(CHOICES)
    assert [h["status"] for h in result["hops"]] == ["accepted"] * 3
    receipt = api.request("GET", f"/api/elections/{e['id']}/receipts/{trackers[0]}")
    assert receipt["counted"] is True
    # the mix's input and output lists as the web UI shows them (read from the board)
    from mixserver.services import ElectionServices

    lists = ElectionServices(tmp_path / "server").ciphertext_lists(e["id"])
    size = 2 * 33
    inputs = {lists["inputs"][i : i + size] for i in range(0, len(lists["inputs"]), size)}
    mixed = {lists["mixed"][i : i + size] for i in range(0, len(lists["mixed"]), size)}
    assert len(inputs) == len(mixed) == 12
    assert not inputs & mixed  # every ballot was re-encrypted
    # the record: every entry verifies, and a flipped byte is detected
    from mixserver.board import Board
    from mixserver.export import export_record

    board = Board(tmp_path / "server")
    out = export_record(board, e["id"], tmp_path / "record")
    board.close()
    index = json.loads((tmp_path / "record" / "index.json").read_text())
    entries = [decode_entry((tmp_path / "record" / r["file"]).read_bytes()) for r in index]
    assert verify_chain(entries, e["id"]).hex() == out["head"]
    kinds = [r["kind"] for r in index]
    for kind in (
        "election.params",
        "dkg.deal",
        "dkg.result",
        "ballot",
        "voting.closed",
        "mix.result",
        "hop.verdict",
        "decrypt.share",
        "decrypt.verdict",
        "tally",
    ):
        assert kind in kinds, kind
    # Verificatum's layout of the cascade, which our own Verificatum-format verifier accepts
    from crypto.io.cli import main as mixverify

    assert out["verificatum"] is True
    vmn = tmp_path / "record" / "verificatum"
    assert (vmn / "nizkp" / "default" / "proofs" / "activethreshold").read_bytes() == b"3"
    assert mixverify(["--verificatum", str(vmn)]) == 0
    # the whole record, with every node's receipts; and each node's own audit of it
    report = export_and_verify(cluster, e["id"])
    assert report.summary["test_election"] is False
    from mixnode.cli import main as mixnode

    for i in (1, 2, 3):
        node_dir = str(tmp_path / f"node{i}")
        assert mixnode(["audit", str(tmp_path / "record"), "--data", node_dir]) == 0
    victim = tmp_path / "record" / index[len(index) // 2]["file"]
    data = bytearray(victim.read_bytes())
    data[-1] ^= 1
    bad = [decode_entry(bytes(data)) if i == len(index) // 2 else x for i, x in enumerate(entries)]
    with pytest.raises(Exception, match="entry"):
        verify_chain(bad, e["id"])


@pytest.mark.parametrize(
    "cheat", ["forged-proof", "wrong-permutation", "replace-ballot", "duplicate"]
)
def test_cheating_node_is_rejected_and_excluded(cluster: Cluster, cheat: str) -> None:
    cluster.start_server()
    e = cluster.election(cheats={2: cheat})
    cluster.cast(e, range(12), CHOICES)
    result = cluster.finish(e)
    assert [h["status"] for h in result["hops"]] == ["accepted", "rejected", "accepted"]
    assert result["counts"] == expected(CHOICES)
    # the rejected hop is not a party of the chain exported for Verificatum
    from mixserver.board import Board
    from mixserver.export import verificatum_files

    board = Board(cluster.tmp / "server")
    try:
        files = verificatum_files(board, e["id"])
    finally:
        board.close()
    assert files["nizkp/default/proofs/activethreshold"] == b"2"
    assert "nizkp/default/proofs/PoSReply03.bt" not in files


def test_node_whose_worker_dies_reports_it_and_is_skipped(cluster: Cluster) -> None:
    # the node's shuffle process dies: the node says so at once (no waiting for the long hop
    # time-out), gets a fresh process and still decrypts
    cluster.start_server(hop_timeout=600)
    e = cluster.election(cheats={2: "crash-worker"})
    cluster.cast(e, range(12), CHOICES)
    result = cluster.finish(e)
    assert [h["status"] for h in result["hops"]] == ["accepted", "skipped", "accepted"]
    assert "node 2 reported" in result["hops"][1]["reason"]
    assert result["counts"] == expected(CHOICES)


def test_silent_node_times_out_and_killed_node_is_skipped(cluster: Cluster) -> None:
    cluster.start_server(hop_timeout=4, grace=2)
    e = cluster.election(cheats={1: "stall", 3: "stall"})
    cluster.cast(e, range(12), CHOICES)
    assert cluster.api is not None
    eid = e["id"]
    # node 1 stalls: kill it mid-shuffle; node 3 stalls until its hop times out
    cluster.kill_while_shuffling(eid, 1)
    # node 1 has the connect grace (2 s) to come back; it does not, so its hop is skipped as a
    # time-out with the times recorded
    wait_for(
        cluster.api, eid,
        lambda x: len(cluster.api.request("GET", f"/api/elections/{eid}/status")["hops"]) >= 1,
        "hop 1 skipped", 30,
    )
    # node 3 stays stuck in its stalled shuffle; node 1 comes back (with its key share on disk)
    # and decrypts with node 2
    cluster.restart_node(1)
    cluster.api.request("POST", f"/api/elections/{eid}/publish")
    result = cluster.tallied(eid)
    hops = result["hops"]
    assert [h["status"] for h in hops] == ["skipped", "accepted", "skipped"]
    assert "disconnected" in hops[0]["reason"] and "timed out" in hops[2]["reason"]
    assert result["counts"] == expected(CHOICES)
    # both skips are time-outs whose times the record shows, and the verifier accepts them
    report = export_and_verify(cluster, eid)
    skips = [c for c in report.checks if c.name == "hop" and "skipped" in c.detail]
    assert len(skips) == 2 and all("time-out" in c.detail for c in skips), skips


def test_a_killed_node_that_comes_back_in_time_is_asked_again(cluster: Cluster) -> None:
    cluster.start_server(hop_timeout=60, grace=30)
    e = cluster.election(cheats={1: "stall"})
    cluster.cast(e, range(12), CHOICES)
    assert cluster.api is not None
    eid = e["id"]
    cluster.kill_while_shuffling(eid, 1)
    cluster.restart_node(1)
    result = cluster.finish_mixing_and_publish(eid)
    assert [h["status"] for h in result["hops"]] == ["accepted"] * 3
    assert result["counts"] == expected(CHOICES)


def export_and_verify(cluster: Cluster, eid: str) -> Any:
    """Export the record and verify it with every node's kept receipts; returns the report."""
    from crypto.io.recorddir import read_directory
    from crypto.verify import verify_record
    from mixnode.client import load_receipts
    from mixserver.board import Board
    from mixserver.export import export_record

    out = cluster.tmp / f"record-{eid}"
    board = Board(cluster.tmp / "server")
    try:
        export_record(board, eid, out)
    finally:
        board.close()
    receipts = [r for i in cluster.nodes
                for r in load_receipts(cluster.tmp / f"node{i}", eid).get(eid, [])]
    assert receipts
    report = verify_record(read_directory(out), receipts=receipts)
    assert report.ok, [str(c) for c in report.failures]
    return report


def test_server_sigkill_during_voting_and_mixing(cluster: Cluster) -> None:
    cluster.start_server()
    e = cluster.election()
    cluster.cast(e, range(6), CHOICES)
    cluster.kill_server()
    api = cluster.start_server()
    assert api.request("GET", f"/api/elections/{e['id']}")["ballots_cast"] == 6
    cluster.cast(e, range(6, 12), CHOICES)
    eid = e["id"]
    cluster.close_and_mix(eid)
    api.request("POST", f"/api/elections/{eid}/publish")
    wait_for(
        api,
        eid,
        lambda x: len(api.request("GET", f"/api/elections/{eid}/status")["hops"]) >= 1,
        "first hop",
        60,
    )
    cluster.kill_server()
    cluster.start_server()
    result = cluster.tallied(eid)
    assert result["counts"] == expected(CHOICES)
    assert sum(h["status"] == "accepted" for h in result["hops"]) >= 1


def test_hostile_frames_get_errors_and_server_keeps_serving(cluster: Cluster) -> None:
    api = cluster.start_server()
    e = cluster.bare_test_election("h")
    before = api.request("GET", f"/api/elections/{e['id']}/board")["total"]
    url = cluster.base.replace("http://", "ws://") + "/ws/node"
    ws = websocket.create_connection(url, timeout=10)
    challenge = decode_frame(ws.recv()).message
    nonce = challenge["nonce"]

    def error_after(frame: bytes | str) -> str:
        if isinstance(frame, str):
            ws.send(frame)
        else:
            ws.send_binary(frame)
        reply = decode_frame(ws.recv()).message
        assert reply.kind == "error"
        return str(reply["code"]) + ": " + str(reply["reason"])

    stranger = NodeIdentity.generate(random.Random(9))

    def frame(msg: Message, who: NodeIdentity = stranger) -> bytes:
        return sign_message(msg, who.sign, who.public.signing_key)[1]

    assert "text frames" in error_after("hello")
    assert error_after(b"\x00garbage").startswith("malformed")
    body_unknown = frame(
        Message("progress", "", {"job": "", "stage": "", "done": 0, "total": 0}, nonce, 1)
    )
    assert "not authenticated" in error_after(body_unknown)
    unknown = bytearray(body_unknown)
    idx = unknown.find(b"progress")
    unknown[idx : idx + 8] = b"zzzzzzzz"
    assert error_after(bytes(unknown)).startswith(("malformed", "invalid-proof"))
    tally = frame(Message("tally", e["id"], {"result": b"{}", "plaintexts": []}, nonce, 2))
    assert "may not be sent" in error_after(tally)
    auth = frame(
        Message(
            "auth",
            e["id"],
            {"public_key": stranger.public_bytes(), "token": "x", "nonce": nonce},
            nonce,
            3,
        )
    )
    assert "not enrolled" in error_after(auth)
    # a frame announcing one byte more than MAX_FRAME: the server reads the header only, sends
    # a close frame with 1009 (message too big) and drops the connection. Read on the raw
    # socket: the client library would answer the close frame, and that answer, reaching a
    # socket the server already closed, would turn the clean end into a reset.
    raw = ws.sock
    assert raw is not None
    raw.sendall(struct.pack("!BBQ", 0x82, 0x80 | 127, MAX_FRAME + 1))  # binary, masked, 64-bit
    reason = b"message too big"
    expected = bytes([0x88, 2 + len(reason)]) + struct.pack("!H", 1009) + reason
    got = b""
    while len(got) < len(expected) and (chunk := raw.recv(len(expected) - len(got))):
        got += chunk
    assert got == expected
    assert raw.recv(1) == b""  # then the end of the connection
    raw.close()
    # nothing stored (the server answered every frame above before this), still serving
    assert api.request("GET", f"/api/elections/{e['id']}/board")["total"] == before
    assert api.request("GET", "/api/elections")


# --- mixnode run: reconnection with back-off, and giving up -------------------------------------
def wait_for_text(path: Path, text: str, timeout: float = 30) -> None:
    """Bounded wait until ``text`` appears in the file at ``path``."""
    deadline = time.monotonic() + timeout
    while text not in path.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"{text!r} not in {path} after {timeout} s"
        time.sleep(0.05)


def test_node_waits_for_the_server_and_for_its_enrolment(cluster: Cluster) -> None:
    api = cluster.start_server()
    e = cluster.bare_test_election("r")
    cluster.kill_server()
    key = cluster.tmp / "late.key"
    pub = node_key(key)
    out = cluster.tmp / "late.log"
    with open(out, "wb") as log:
        cluster.procs.append(
            start_node(cluster.base, key, cluster.tmp / "late", log=log, give_up_after=120)
        )
    wait_for_text(out, "Connection refused")  # no server: refused, retried with back-off
    api = cluster.start_server()
    wait_for_text(out, "not enrolled")  # a server, but the node is not enrolled yet: retried
    api.request("POST", f"/api/elections/{e['id']}/enrol", {"public_key": pub})
    got = wait_for(api, e["id"], lambda x: x["public_key"], "keygen", 60)
    assert got["public_key"]
    assert cluster.procs[-1].poll() is None


def test_node_refused_by_the_server_gives_up_with_the_reason(cluster: Cluster) -> None:
    cluster.start_server()
    key = cluster.tmp / "stranger.key"
    node_key(key)
    argv = ["run", "--server", cluster.base, "--key", str(key), "--data",
            str(cluster.tmp / "stranger"), "--give-up-after", "2", "--quiet"]  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "mixnode.cli", *argv], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr.startswith("mixnode: giving up after 2 s without a session: ")
    assert "the server refused the node: [protocol-violation] auth: this key is not enrolled" in (
        result.stderr
    )


def test_a_node_refuses_an_election_with_another_fingerprint(cluster: Cluster) -> None:
    api = cluster.start_server()
    e = api.request("POST", "/api/elections", {"title": "f", "question": "?",
                                               "choices": ["a", "b"], "n": 1, "t": 1,
                                               "voters": 2, "test": True})
    key = cluster.tmp / "picky.key"
    api.request("POST", f"/api/elections/{e['id']}/enrol", {"public_key": node_key(key)})
    fp = api.request("GET", f"/api/elections/{e['id']}")["fingerprint"]
    other = ("0" if fp[0] != "0" else "1") + fp[1:32]  # the short form, one digit off
    argv = ["run", "--server", cluster.base, "--key", str(key), "--data",
            str(cluster.tmp / "picky"), "--expect-fingerprint", other, "--give-up-after", "30"]
    result = subprocess.run([sys.executable, "-m", "mixnode.cli", *argv], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    assert f"has fingerprint {fp[:4]} " in result.stderr
    assert "refusing to take part" in result.stderr
    assert f"not the expected {other}" in result.stderr
    # it signed nothing: no endorsement, no key generation on the board
    kinds = [x["kind"] for x in api.request("GET", f"/api/elections/{e['id']}/board")["entries"]]
    assert "node.endorse" not in kinds and "dkg.deal" not in kinds
