"""The election harness (mixserver/harness.py) without a whole election: its configuration checks,
its HTTP client's errors, a server that does not start, and the /proc readings."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mixserver.harness import (
    Api,
    DemoConfig,
    HarnessError,
    start_node,
    start_server,
    stop_processes,
)
from mixserver.procinfo import descendants, peak_rss_mb


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (DemoConfig(nodes=2, threshold=3), "threshold <= nodes"),
        (DemoConfig(nodes=3, faults={4: "forged-proof"}), "node 4 does not exist"),
        (DemoConfig(nodes=3, faults={0: "forged-proof"}), "node 0 does not exist"),
        (DemoConfig(nodes=3, faults={2: "meteor"}), "unknown fault 'meteor'"),
        (DemoConfig(nodes=3, crash_node=5), "node 5 does not exist"),
        (DemoConfig(nodes=3, pause_node=(9, 1.0)), "node 9 does not exist"),
    ],
)
def test_impossible_elections_are_refused(config: DemoConfig, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config.check()


def test_a_possible_election_passes() -> None:
    DemoConfig(nodes=3, faults={2: "stall"}, crash_node=1, pause_node=(3, 2.0)).check()


def test_a_server_that_cannot_start_is_reported(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(HarnessError, match=r"did not start within 60 s \(exit 2\)"):
        start_server(not_a_dir)


def test_api_reports_refused_connections_and_http_errors(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConnectionRefusedError):  # after its retries
        Api(f"http://127.0.0.1:{port}", timeout=5).request("GET", "/api/elections")
    proc, base, _token = start_server(tmp_path / "server", extra=["--no-webui"])
    try:
        with pytest.raises(HarnessError, match=r"POST /api/elections: HTTP 401"):
            Api(base, "wrong-token").request("POST", "/api/elections", {})
    finally:
        stop_processes([proc])
    assert proc.returncode == 0  # SIGINT: a clean stop


def test_start_node_rejects_an_unknown_fault(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        start_node("http://127.0.0.1:1", tmp_path / "k", tmp_path / "d", fault="meteor")


def test_proc_readings_see_children() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in descendants(os.getpid())
        peak = peak_rss_mb(os.getpid())
        assert peak is not None and peak > 1
    finally:
        child.kill()
        child.wait(10)
