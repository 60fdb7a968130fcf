"""``mixdemo``: a whole election on loopback — one server, K mix nodes, N generated ballots.

    mixdemo --ballots N --nodes K --threshold T [--group G] [--data DIR] [--export DIR] [--json]

Starts ``mixserver`` and K ``mixnode`` processes, creates an election through the admin API,
enrols the nodes, waits for key generation, casts N ballots through the same HTTP endpoint voters
use (``POST /api/elections/<eid>/ballots``), closes, mixes, decrypts, exports the record and prints
the tally (checked against the ballots cast) and per-phase timings. Exit code 0 when the tally is
right, 1 when it is not or a phase fails, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from crypto import GROUPS


class Api:
    """A tiny JSON client (one keep-alive connection per thread)."""

    def __init__(self, base: str, admin_token: str = "") -> None:
        parsed = urlparse(base)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.admin_token = admin_token
        self.local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        return conn

    def request(self, method: str, path: str, body: Any = None, auth: str | None = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if auth is not None:
            headers["Authorization"] = auth
        elif self.admin_token:
            headers["Authorization"] = f"Bearer {self.admin_token}"
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(3):
            conn = self._conn()
            try:
                conn.request(method, path, data, headers)
                resp = conn.getresponse()
                payload = resp.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError):
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise
                time.sleep(0.2)
        result = json.loads(payload or b"null")
        if resp.status >= 400:
            raise RuntimeError(f"{method} {path}: HTTP {resp.status}: {result}")
        return result


def start_server(
    data: Path, port: int = 0, extra: list[str] | None = None, log: Any = None
) -> tuple[subprocess.Popen[bytes], str, str]:
    """Start ``mixserver`` on a free port; returns (process, base URL, admin token)."""
    cmd = [
        sys.executable,
        "-m",
        "mixserver.cli",
        "--data",
        str(data),
        "--port",
        str(port),
        *(extra or []),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log or subprocess.DEVNULL)
    assert proc.stdout is not None
    base = token = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (base and token):
        line = proc.stdout.readline().decode()
        if not line:
            break
        if m := re.search(r"listening on (http://\S+?)/?$", line.strip()):
            base = m.group(1)
        if m := re.search(r"admin token:\s+(\S+)", line):
            token = m.group(1)
    if not (base and token):
        proc.kill()
        raise RuntimeError("mixserver did not start")
    threading.Thread(target=lambda: proc.stdout and proc.stdout.read(), daemon=True).start()
    return proc, base, token


def start_node(
    base: str, key: Path, data: Path, workers: int = 1, cheat: str | None = None, log: Any = None
) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "mixnode.cli",
        "run",
        "--server",
        base,
        "--key",
        str(key),
        "--data",
        str(data),
        "--workers",
        str(workers),
    ]
    if cheat:
        cmd += ["--cheat", cheat]
    return subprocess.Popen(cmd, stdout=log or subprocess.DEVNULL, stderr=log or subprocess.DEVNULL)


def node_key(path: Path) -> str:
    """Create a node identity at ``path`` (mixnode keygen) and return its public identity hex."""
    out = subprocess.run(
        [sys.executable, "-m", "mixnode.cli", "keygen", "--out", str(path), "--force"],
        check=True,
        capture_output=True,
    )
    return out.stdout.decode().strip()


def wait_for(api: Api, eid: str, predicate: Any, what: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        election = api.request("GET", f"/api/elections/{eid}")
        if predicate(election):
            return election
        if error := election.get("progress", {}).get("error"):
            raise RuntimeError(f"{what}: {error}")
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{what}: still {election['phase']} after {timeout:.0f} s "
                f"({election.get('progress')})"
            )
        time.sleep(0.1)


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (Linux /proc; empty elsewhere)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo.extend(int(c) for c in task.read_text().split())
    return found


def peak_rss_mb(pid: int) -> float | None:
    """Largest peak resident set (VmHWM) among ``pid`` and its descendants, in MiB."""
    peaks = []
    for p in _descendants(pid):
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        if m := re.search(r"^VmHWM:\s+(\d+) kB", status, re.M):
            peaks.append(int(m.group(1)) / 1024)
    return round(max(peaks), 1) if peaks else None


def _signal_tree(pid: int, sig: int) -> None:
    for p in _descendants(pid):
        with contextlib.suppress(OSError):
            os.kill(p, sig)


def watch_mixing(
    api: Api,
    eid: str,
    nodes: dict[int, subprocess.Popen[bytes]],
    args: argparse.Namespace,
    stop: threading.Event,
    out: dict[str, Any],
) -> None:
    """Poll the status during mixing and decryption: record each (hop, node, stage) change and
    each hop verdict with its time (seconds since the mix request), and inject the fault asked
    for (``--crash-node``: kill the node's processes once it is shuffling; ``--pause-node``:
    SIGSTOP it for a while, as an overloaded machine would be)."""
    t0 = time.perf_counter()
    timeline: list[list[Any]] = out.setdefault("timeline", [])
    verdicts: list[dict[str, Any]] = out.setdefault("verdicts", [])
    crash = args.crash_node
    pause = args.pause_node and tuple(float(x) for x in args.pause_node.split(":", 1))
    last: tuple[Any, ...] = ()
    resume_at: float | None = None
    while not stop.is_set():
        now = time.perf_counter() - t0
        try:
            status = api.request("GET", f"/api/elections/{eid}/status")
        except (RuntimeError, OSError):
            status = {}
        progress = status.get("progress", {})
        key = (progress.get("hop"), progress.get("node"), progress.get("stage"))
        if key != last:
            timeline.append([round(now, 3), *key])
            last = key
        for hop in status.get("hops", [])[len(verdicts) :]:
            verdicts.append({**hop, "at": round(now, 3)})
        shuffling = key[2] == "shuffling"
        if crash and shuffling and key[1] == crash and "fault" not in out:
            _signal_tree(nodes[crash].pid, signal.SIGKILL)
            out["fault"] = {"kind": "crash", "node": crash, "hop": key[0], "at": round(now, 3)}
        if pause and shuffling and key[1] == int(pause[0]) and "fault" not in out:
            _signal_tree(nodes[int(pause[0])].pid, signal.SIGSTOP)
            resume_at = now + pause[1]
            out["fault"] = {
                "kind": "pause",
                "node": int(pause[0]),
                "hop": key[0],
                "at": round(now, 3),
                "seconds": pause[1],
            }
        if resume_at is not None and now >= resume_at:
            _signal_tree(nodes[int(pause[0])].pid, signal.SIGCONT)
            resume_at = None
        if status.get("phase") == "tallied":
            break
        stop.wait(0.05)
    if resume_at is not None:
        _signal_tree(nodes[int(pause[0])].pid, signal.SIGCONT)


def make_ballots(
    group_name: str,
    pk_hex: str,
    eid: str,
    width: int,
    creds: list[dict[str, str]],
    choices: list[int],
) -> list[dict[str, Any]]:
    """Encrypted ballots with proofs, exactly as a voter's browser makes them."""
    from crypto import group
    from crypto.ballot import encode_ballot, encode_ballot_proof, encode_choice, prove_ballot
    from crypto.elgamal import decode_public_key, encode_ciphertext, encrypt

    g = group(group_name)
    pk = decode_public_key(g, bytes.fromhex(pk_hex))
    out = []
    for cred, choice in zip(creds, choices, strict=True):
        ct, r = encrypt(pk, encode_ballot(g, encode_choice(choice), width))
        proof = prove_ballot(pk, ct, r, eid, cred["voter_id"])
        out.append(
            {
                "ciphertext": encode_ciphertext(g, ct).hex(),
                "proof": encode_ballot_proof(g, proof).hex(),
                "width": width,
            }
        )
    return out


def run_demo(
    args: argparse.Namespace, on_done: Callable[[dict[str, Any], str, str], None] | None = None
) -> dict[str, Any]:
    """Run the election; ``on_done(summary, base_url, admin_token)`` is called while the server
    and nodes still run (``--serve`` keeps them up there)."""
    data = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="mixdemo-"))
    data.mkdir(parents=True, exist_ok=True)
    log = open(data / "demo.log", "ab") if args.log else None  # noqa: SIM115 - closed below
    procs: list[subprocess.Popen[bytes]] = []
    timings: dict[str, float] = {}
    nodes: dict[int, subprocess.Popen[bytes]] = {}
    watch: dict[str, Any] = {}
    peaks: dict[str, float | None] = {}
    try:
        server, base, token = start_server(
            data / "server",
            port=args.port,
            extra=[
                "--workers",
                str(args.server_workers),
                "--hop-timeout",
                str(args.hop_timeout),
                "--connect-grace",
                "20",
            ],
            log=log,
        )
        procs.append(server)
        api = Api(base, token)
        say = (lambda *a: None) if args.json else (lambda *a: print(*a, flush=True))
        say(f"server at {base} (data in {data})")
        election = api.request(
            "POST",
            "/api/elections",
            {
                "title": "mixdemo",
                "question": "Which option?",
                "choices": [f"option {i}" for i in range(args.choices)],
                "group": args.group,
                "n": args.nodes,
                "t": args.threshold,
                "voters": args.ballots,
                "width": args.width,
            },
        )
        eid = election["id"]
        cheats = dict(item.split(":", 1) for item in args.cheat)
        for i in range(1, args.nodes + 1):
            key = data / f"node{i}.key"
            pub = node_key(key)
            api.request("POST", f"/api/elections/{eid}/enrol", {"public_key": pub})
            procs.append(
                start_node(
                    base, key, data / f"node{i}", args.node_workers, cheats.get(str(i)), log=log
                )
            )
            nodes[i] = procs[-1]
        t0 = time.perf_counter()
        election = wait_for(api, eid, lambda e: e["public_key"], "key generation", 120)
        timings["keygen"] = time.perf_counter() - t0
        say(f"election {eid}: key generation done, key {election['public_key'][:16]}…")
        api.request("POST", f"/api/elections/{eid}/open")
        wait_for(api, eid, lambda e: e["phase"] == "voting", "open", 30)

        rng = random.Random(args.seed)
        choices = [rng.randrange(args.choices) for _ in range(args.ballots)]
        creds = election.get("credentials") or api.request(
            "POST", f"/api/elections/{eid}/credentials"
        )
        t0 = time.perf_counter()
        ballots = make_ballots(args.group, election["public_key"], eid, args.width, creds, choices)
        timings["ballot_generation"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        trackers: list[str] = [""] * len(ballots)

        def cast(i: int) -> None:
            receipt = api.request(
                "POST",
                f"/api/elections/{eid}/ballots",
                ballots[i],
                auth=f"Voter {creds[i]['secret']}",
            )
            trackers[i] = receipt["tracker"]

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(cast, range(len(ballots))))
        timings["casting"] = time.perf_counter() - t0
        say(f"cast {len(ballots)} ballots in {timings['casting']:.2f} s")

        api.request("POST", f"/api/elections/{eid}/close")
        wait_for(api, eid, lambda e: e["phase"] == "closed", "close", 60)
        t0 = time.perf_counter()
        stop = threading.Event()
        watcher = threading.Thread(
            target=watch_mixing, args=(api, eid, nodes, args, stop, watch), daemon=True
        )
        api.request("POST", f"/api/elections/{eid}/mix")
        watcher.start()
        api.request("POST", f"/api/elections/{eid}/publish")
        try:
            election = wait_for(
                api, eid, lambda e: e["phase"] == "tallied", "mixing and decryption", args.timeout
            )
        finally:
            stop.set()
            watcher.join(5)
        timings["mix_and_decrypt"] = time.perf_counter() - t0
        result = api.request("GET", f"/api/elections/{eid}/results")
        server_timings = result.get("timings", {})
        expected = {f"option {i}": 0 for i in range(args.choices)}
        for c in choices:
            expected[f"option {c}"] += 1
        exported = None
        if args.export:
            export_dir = Path(args.export)
            from mixserver.board import Board
            from mixserver.export import export_record

            if export_dir.exists():
                shutil.rmtree(export_dir)
            board = Board(data / "server")
            exported = export_record(board, eid, export_dir)
            board.close()
        summary = {
            "election": eid,
            "ballots": args.ballots,
            "nodes": args.nodes,
            "threshold": args.threshold,
            "group": args.group,
            "width": args.width,
            "tally": result["counts"],
            "expected": expected,
            "correct": result["counts"] == expected,
            "hops": election.get("progress")
            and api.request("GET", f"/api/elections/{eid}/status")["hops"],
            "timings": {**{k: round(v, 3) for k, v in timings.items()}, **server_timings},
            "mixing_ballots_per_s": server_timings.get("mixing_ballots_per_s"),
            "export": exported,
            "data": str(data),
            "timeline": watch.get("timeline", []),
            "verdicts": watch.get("verdicts", []),
            "fault": watch.get("fault"),
            "peak_rss_mb": peaks,
        }
        if on_done is not None:
            on_done(summary, base, token)
        return summary
    finally:
        for name, proc in zip(["server", *(f"node{i}" for i in nodes)], procs, strict=False):
            peaks[name] = peak_rss_mb(proc.pid)
        peaks["demo"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                _signal_tree(proc.pid, signal.SIGKILL)
        if log:
            log.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="mixdemo", description=__doc__.split("\n\n")[0])
    p.add_argument("--ballots", type=int, default=100, help="number of ballots (default 100)")
    p.add_argument("--nodes", type=int, default=3, help="mix nodes K (default 3)")
    p.add_argument("--threshold", type=int, default=2, help="decryption threshold T (default 2)")
    p.add_argument("--group", default="secp256k1", choices=GROUPS)
    p.add_argument("--width", type=int, default=1, help="ballot width (default 1)")
    p.add_argument("--choices", type=int, default=3, help="number of options (default 3)")
    p.add_argument("--data", help="data directory (default: a fresh temporary one)")
    p.add_argument("--export", help="export the election record to this directory")
    p.add_argument("--json", action="store_true", help="print one JSON summary")
    p.add_argument("--seed", type=int, default=1, help="seed of the generated choices")
    p.add_argument("--node-workers", type=int, default=1, help="processes per node")
    p.add_argument("--server-workers", type=int, default=1, help="server verifier processes")
    p.add_argument("--hop-timeout", type=float, default=600.0)
    p.add_argument("--timeout", type=float, default=1800.0, help="mixing+decryption time limit")
    p.add_argument(
        "--cheat",
        action="append",
        default=[],
        metavar="POS:MODE",
        help="TEST MODE: node POS cheats with MODE (e.g. 2:forged-proof)",
    )
    p.add_argument(
        "--crash-node",
        type=int,
        metavar="POS",
        help="TEST MODE: kill node POS (all its processes) once it starts shuffling",
    )
    p.add_argument(
        "--pause-node",
        metavar="POS:SECONDS",
        help="TEST MODE: SIGSTOP node POS for SECONDS once it starts shuffling",
    )
    p.add_argument("--log", action="store_true", help="keep server/node output in DATA/demo.log")
    p.add_argument(
        "--serve",
        action="store_true",
        help="keep the server, its web UI and the nodes running after the election (Ctrl-C stops)",
    )
    p.add_argument("--port", type=int, default=0, help="server port (default: any free port)")
    args = p.parse_args(argv)
    if not 1 <= args.threshold <= args.nodes or args.ballots < 0:
        p.error("need 1 <= threshold <= nodes and ballots >= 0")
    # `timeout`, a CI runner or mixbench end us with SIGTERM: stop the server and nodes too.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        summary = run_demo(args, on_done=serve_until_interrupted if args.serve else None)
    except (RuntimeError, TimeoutError, OSError) as exc:
        print(f"mixdemo: failed: {exc}", file=sys.stderr)
        return 1
    if not args.serve:
        print_summary(summary, args.json)
    return 0 if summary["correct"] else 1


def print_summary(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, indent=1))
        return
    print(f"tally: {summary['tally']}  ({'correct' if summary['correct'] else 'WRONG'})")
    for hop in summary["hops"] or []:
        print(
            f"  hop {hop['hop']} node {hop['node']}: {hop['status']} ({hop['reason']}, "
            f"{hop['seconds']} s)"
        )
    for name, value in summary["timings"].items():
        print(f"  {name}: {value}")
    if summary["mixing_ballots_per_s"]:
        print(
            f"mixing: {summary['mixing_ballots_per_s']:.0f} ballots/s "
            f"({summary['nodes']} hops, each proof verified by the server)"
        )
    if summary["export"]:
        print(
            f"record exported to {summary['export']['path']} "
            f"({summary['export']['entries']} entries)"
        )


def serve_until_interrupted(summary: dict[str, Any], base: str, token: str) -> None:
    """``--serve``: show where to look, then keep everything running until Ctrl-C."""
    print_summary(summary, as_json=False)
    eid = summary["election"]
    print(
        f"\nThe election stays up until you press Ctrl-C:\n"
        f"  web UI:        {base}/\n"
        f"  results:       {base}/elections/{eid}/results\n"
        f"  live mixing:   {base}/elections/{eid}\n"
        f"  admin sign-in: {base}/admin  (admin token {token})\n"
        f"  data:          {summary['data']}",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)

if __name__ == "__main__":
    sys.exit(main())
