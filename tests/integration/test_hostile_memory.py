"""Bounded resources before authentication, against a real ``mixserver`` process (issue 13).

The attacks of the issue, on loopback, with bounded loops and time-outs: four concurrent
unauthenticated 200 MiB POSTs (three by Content-Length, one chunked), two pre-authentication
512 MiB websocket messages (one announced in a single frame, one as a stream of 1 MiB chunk frames),
and more idle unauthenticated node connections than the cap. The server's resident memory
(``VmRSS`` in ``/proc/<pid>/status``, sampled every 20 ms) must grow by less than 50 MB, every
attacker must be answered or cut off within seconds, and the server must keep serving.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import websocket

from mixserver.app import PREAUTH_CAP

MiB = 1 << 20
RSS_BUDGET_MB = 50.0


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """``VmRSS`` (resident now) or ``VmHWM`` (its peak so far) of ``pid``, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} line")


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    cmd = [sys.executable, "-m", "mixserver.cli", "--data", str(tmp_path / "data"), "--port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    base = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not base:
        line = proc.stdout.readline().decode()
        if not line:
            break
        if m := re.search(r"listening on (http://\S+?)/?$", line.strip()):
            base = m.group(1)
    if not base:
        proc.kill()
        pytest.fail("mixserver did not start")
    threading.Thread(target=lambda: proc.stdout and proc.stdout.read(), daemon=True).start()
    try:
        yield proc, base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _hostport(base: str) -> tuple[str, int]:
    host, port = base.removeprefix("http://").split(":")
    return host, int(port)


def big_post(base: str, path: str, total: int, chunked: bool, out: dict[str, object]) -> None:
    """Send a ``total``-byte POST until the server answers or cuts us off (at most 20 s)."""
    t0 = time.monotonic()
    sock = socket.create_connection(_hostport(base), timeout=5)
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {total}\r\n\r\n"
    block = b" " * (64 << 10)
    sent = 0
    try:
        sock.sendall(head.encode())
        while sent < total and time.monotonic() - t0 < 20:
            data = (b"%x\r\n" % len(block)) + block + b"\r\n" if chunked else block
            sock.sendall(data)
            sent += len(block)
    except OSError:
        pass  # the server closed the connection: that is the point
    reply = b""
    try:
        sock.settimeout(5)
        reply = sock.recv(4096)
    except OSError:
        pass
    finally:
        sock.close()
    out["sent"] = sent
    out["status"] = reply.split(b"\r\n", 1)[0].decode(errors="replace")
    out["seconds"] = time.monotonic() - t0


def ws_flood(base: str, total: int, as_chunks: bool, out: dict[str, object]) -> None:
    """Connect to the node websocket, read the challenge, then send ``total`` bytes unauthenticated:
    one frame announcing them all, or 1 MiB chunk frames; stop when the server cuts us off."""
    t0 = time.monotonic()
    ws = websocket.create_connection(base.replace("http", "ws") + "/ws/node", timeout=5)
    ws.recv()  # the challenge
    sock = ws.sock
    mask = os.urandom(4)
    block = bytes(64 << 10)  # zeros masked are the mask repeated
    masked = (mask * (len(block) // 4))
    sent = 0

    def header(length: int) -> bytes:
        return bytes([0x82, 0x80 | 127]) + struct.pack("!Q", length) + mask

    try:
        if as_chunks:
            while sent < total and time.monotonic() - t0 < 20:
                sock.sendall(header(MiB))
                for _ in range(MiB // len(block)):
                    sock.sendall(masked)
                sent += MiB
        else:
            sock.sendall(header(total))
            while sent < total and time.monotonic() - t0 < 20:
                sock.sendall(masked)
                sent += len(block)
    except OSError:
        pass
    out["sent"] = sent
    out["seconds"] = time.monotonic() - t0
    with contextlib.suppress(Exception):  # the socket is already gone
        ws.close()


def test_memory_stays_bounded_under_preauth_attacks(
    server: tuple[subprocess.Popen[bytes], str],
) -> None:
    proc, base = server
    with urllib.request.urlopen(base + "/api/elections", timeout=10) as r:  # warm up
        assert r.status == 200
    urllib.request.urlopen(base + "/", timeout=10).read()
    time.sleep(0.5)
    baseline = rss_mb(proc.pid)
    hwm_before = rss_mb(proc.pid, "VmHWM")
    peak = [baseline]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_mb(proc.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    results: list[dict[str, object]] = [{} for _ in range(6)]
    attackers = [
        threading.Thread(target=big_post, args=(base, "/api/elections", 200 * MiB, False,
                                                results[0])),
        threading.Thread(target=big_post, args=(base, "/api/elections/x/ballots", 200 * MiB,
                                                False, results[1])),
        threading.Thread(target=big_post, args=(base, "/admin/login", 200 * MiB, False,
                                                results[2])),
        threading.Thread(target=big_post, args=(base, "/api/elections", 200 * MiB, True,
                                                results[3])),
        threading.Thread(target=ws_flood, args=(base, 512 * MiB, False, results[4])),
        threading.Thread(target=ws_flood, args=(base, 512 * MiB, True, results[5])),
    ]
    for t in attackers:
        t.start()
    for t in attackers:
        t.join(timeout=60)
    stop.set()
    sampler.join(timeout=5)
    # the kernel's high-water mark catches a spike between two samples
    hwm_after = rss_mb(proc.pid, "VmHWM")
    if hwm_after > hwm_before:
        peak[0] = max(peak[0], hwm_after)
    growth = peak[0] - baseline
    print(f"\nRSS baseline {baseline:.1f} MB, peak {peak[0]:.1f} MB, growth {growth:.1f} MB "
          f"(VmHWM {hwm_before:.1f} → {hwm_after:.1f} MB)")
    for r in results:
        print("  attacker:", r)
    assert not any(t.is_alive() for t in attackers), "an attacker was never cut off"
    assert growth < RSS_BUDGET_MB, f"RSS grew by {growth:.1f} MB"
    for r in results:
        # each attacker was answered or cut off long before it could send its whole body
        assert int(r["sent"]) < 64 * MiB, r  # type: ignore[call-overload]
        assert float(r["seconds"]) < 20, r  # type: ignore[arg-type]
    assert results[0]["status"].startswith("HTTP/1.1 401"), results[0]  # type: ignore[union-attr]
    assert results[2]["status"].startswith("HTTP/1.1 413"), results[2]  # type: ignore[union-attr]
    with urllib.request.urlopen(base + "/api/elections", timeout=10) as r:
        assert r.status == 200 and isinstance(json.loads(r.read()), list)


def test_unauthenticated_node_connections_are_capped(
    server: tuple[subprocess.Popen[bytes], str],
) -> None:
    _proc, base = server
    url = base.replace("http", "ws") + "/ws/node"
    held = []
    try:
        for _ in range(PREAUTH_CAP):
            ws = websocket.create_connection(url, timeout=5)
            ws.recv()  # each gets its challenge
            held.append(ws)
        extra = websocket.create_connection(url, timeout=5)
        t0 = time.monotonic()
        with pytest.raises(websocket.WebSocketConnectionClosedException):
            while time.monotonic() - t0 < 5:
                op, data = extra.recv_data(control_frame=True)
                if op == websocket.ABNF.OPCODE_CLOSE:
                    assert struct.unpack("!H", data[:2])[0] == 1013
                    assert b"too many unauthenticated" in data
                    raise websocket.WebSocketConnectionClosedException("closed")
        assert time.monotonic() - t0 < 2  # closed at once, not after the time-out
        extra.close()
    finally:
        for ws in held:
            ws.close()
    # once they are gone, a new connection is served again
    time.sleep(0.5)
    again = websocket.create_connection(url, timeout=5)
    assert again.recv()
    again.close()
