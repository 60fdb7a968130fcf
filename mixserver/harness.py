"""A whole election on loopback, as a library: the harness behind ``mixdemo``, the integration and
browser tests and ``mixbench``.

* :class:`Api`: a small JSON client for the server's HTTP API (one keep-alive connection per
  thread, reconnecting with tenacity when a kept-alive connection was closed);
* process orchestration: :func:`start_server`, :func:`start_node`, :func:`node_key`,
  :func:`stop_processes`;
* :func:`wait_for`: a bounded wait on a condition of an election;
* ``/proc`` readings (:mod:`mixserver.procinfo`) for the peak memory of each process tree;
* fault injection set-up: a node started with ``fault=MODE`` runs with ``MIXVOTE_FAULT=MODE``
  (:mod:`mixnode.faults`); :func:`watch_mixing` kills or pauses a node once it is shuffling;
* :func:`make_ballots` (encrypted ballots with proofs, signed with the voters' credentials, as a
  voter's browser makes them) and :func:`run_election`, the whole election of a
  :class:`DemoConfig`, returning its summary: by default a *test* election (the server is the
  credential authority and hands the harness the credentials); with ``test=False`` the harness
  is an external authority (:func:`authority_credentials`) and uploads the signed public list.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
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
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlparse

import tenacity

from mixnode.faults import ENV as FAULT_ENV
from mixnode.faults import MODES as FAULT_MODES
from mixserver.procinfo import peak_rss_mb, signal_tree

Summary = dict[str, Any]
Log = IO[bytes] | None


class HarnessError(RuntimeError):
    """A step of the orchestrated election failed (a process did not start, a phase failed)."""


class Api:
    """A tiny JSON client (one keep-alive connection per thread)."""

    def __init__(self, base: str, admin_token: str = "", timeout: float = 120.0) -> None:
        parsed = urlparse(base)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.admin_token = admin_token
        self.timeout = timeout
        self.local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.local.conn = conn
        return conn

    def _exchange(self, method: str, path: str, data: bytes | None, headers: dict[str, str]) -> Any:
        conn = self._conn()
        try:
            conn.request(method, path, data, headers)
            resp = conn.getresponse()
            return resp, resp.read()
        except (ConnectionError, http.client.HTTPException, OSError):
            conn.close()
            self.local.conn = None  # the next attempt opens a fresh connection
            raise

    def request(self, method: str, path: str, body: Any = None, auth: str | None = None) -> Any:
        """Send a JSON request; returns the decoded JSON reply, raises :class:`HarnessError` for
        an HTTP error status."""
        headers = {"Content-Type": "application/json"}
        if auth is not None:
            if auth:  # "" sends no Authorization header at all (a voter's ballot)
                headers["Authorization"] = auth
        elif self.admin_token:
            headers["Authorization"] = f"Bearer {self.admin_token}"
        data = json.dumps(body).encode() if body is not None else None
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(3),
            wait=tenacity.wait_random_exponential(multiplier=0.1, max=1.0),
            retry=tenacity.retry_if_exception_type(
                (ConnectionError, http.client.HTTPException, OSError)
            ),
            reraise=True,
        )
        resp, payload = retrying(self._exchange, method, path, data, headers)
        result = json.loads(payload or b"null")
        if resp.status >= 400:
            raise HarnessError(f"{method} {path}: HTTP {resp.status}: {result}")
        return result


# --- processes --------------------------------------------------------------------------------
def start_server(
    data: Path, port: int = 0, extra: list[str] | None = None, log: Log = None, timeout: float = 60
) -> tuple[subprocess.Popen[bytes], str, str]:
    """Start ``mixserver`` (on a free port when ``port`` is 0); returns (process, base URL,
    admin token) once it listens, or raises :class:`HarnessError` after ``timeout`` seconds."""
    cmd = [sys.executable, "-m", "mixserver.cli", "--data", str(data), "--port", str(port)]
    proc = subprocess.Popen(
        [*cmd, *(extra or [])], stdout=subprocess.PIPE, stderr=log or subprocess.DEVNULL
    )
    lines: queue.Queue[str] = queue.Queue()

    def read_stdout() -> None:  # until the server exits: its pipe must never fill up
        assert proc.stdout is not None
        for raw in proc.stdout:
            lines.put(raw.decode(errors="replace"))
        lines.put("")  # end of output

    threading.Thread(target=read_stdout, name="mixserver-stdout", daemon=True).start()
    base = token = ""
    deadline = time.monotonic() + timeout
    while not (base and token):
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        if not line:
            break
        if m := re.search(r"listening on (http://\S+?)/?$", line.strip()):
            base = m.group(1)
        if m := re.search(r"admin token:\s+(\S+)", line):
            token = m.group(1)
    if not (base and token):
        proc.kill()
        proc.wait(10)
        raise HarnessError(f"mixserver did not start within {timeout:g} s (exit {proc.returncode})")
    return proc, base, token


def start_node(
    base: str,
    key: Path,
    data: Path,
    workers: int = 1,
    fault: str | None = None,
    log: Log = None,
    give_up_after: float = 300.0,
) -> subprocess.Popen[bytes]:
    """Start ``mixnode run``; ``fault`` (one of :data:`mixnode.faults.MODES`) makes it
    misbehave through ``MIXVOTE_FAULT``."""
    env = {k: v for k, v in os.environ.items() if k != FAULT_ENV}
    if fault is not None:
        if fault not in FAULT_MODES:
            raise ValueError(f"start_node: unknown fault {fault!r} (known: {FAULT_MODES})")
        env[FAULT_ENV] = fault
    cmd = [sys.executable, "-m", "mixnode.cli", "run", "--server", base, "--key", str(key),
           "--data", str(data), "--workers", str(workers),
           "--give-up-after", str(give_up_after)]  # fmt: skip
    out = log or subprocess.DEVNULL
    return subprocess.Popen(cmd, stdout=out, stderr=out, env=env)


def node_key(path: Path) -> str:
    """Create a node identity at ``path`` (mixnode keygen) and return its public identity hex."""
    out = subprocess.run(
        [sys.executable, "-m", "mixnode.cli", "keygen", "--out", str(path), "--force"],
        check=True,
        capture_output=True,
    )
    return out.stdout.decode().strip()


def stop_processes(procs: Iterable[subprocess.Popen[Any]], timeout: float = 10.0) -> None:
    """SIGINT every process still running (last started first), wait up to ``timeout`` each,
    then SIGKILL what is left of its process tree."""
    procs = list(procs)
    for proc in reversed(procs):
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    for proc in procs:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            signal_tree(proc.pid, signal.SIGKILL)
            proc.wait(timeout)


def wait_for(
    api: Api, eid: str, predicate: Callable[[Summary], Any], what: str, timeout: float
) -> Summary:
    """Poll the election until ``predicate(election)`` holds; raises :class:`HarnessError` when
    the election reports an error and :class:`TimeoutError` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        election: Summary = api.request("GET", f"/api/elections/{eid}")
        if predicate(election):
            return election
        if error := election.get("progress", {}).get("error"):
            raise HarnessError(f"{what}: {error}")
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{what}: still {election['phase']} after {timeout:.0f} s "
                f"({election.get('progress')})"
            )
        time.sleep(0.1)


# --- the election -----------------------------------------------------------------------------
@dataclass(frozen=True)
class DemoConfig:
    """One election on loopback (``mixdemo``'s options)."""

    ballots: int = 100
    nodes: int = 3
    threshold: int = 2
    group: str = "secp256k1"
    width: int = 1
    choices: int = 3
    data: Path | None = None  # default: a fresh temporary directory
    export: Path | None = None
    seed: int = 1
    node_workers: int = 1
    server_workers: int = 1
    hop_timeout: float = 600.0
    timeout: float = 1800.0  # mixing and decryption
    port: int = 0
    log: bool = False  # keep the processes' output in DATA/demo.log
    faults: dict[int, str] = field(default_factory=dict)  # node position → fault mode
    crash_node: int | None = None  # kill it once it is shuffling
    pause_node: tuple[int, float] | None = None  # SIGSTOP it for so many seconds then
    #: a test election (the server is the credential authority); False: the harness is an
    #: external authority and uploads the signed public list, as a real election does
    test: bool = True
    #: registered voters who never vote (credentials beyond the ``ballots`` cast)
    abstain: int = 0

    def check(self) -> None:
        """Raise ValueError for a configuration no election can have."""
        if not 1 <= self.threshold <= self.nodes:
            raise ValueError("need 1 <= threshold <= nodes")
        positions = [*self.faults]
        positions += [self.crash_node] if self.crash_node is not None else []
        positions += [self.pause_node[0]] if self.pause_node is not None else []
        for pos in positions:
            if not 1 <= pos <= self.nodes:
                raise ValueError(f"node {pos} does not exist (nodes are 1..{self.nodes})")
        if bad := sorted(set(self.faults.values()) - set(FAULT_MODES)):
            raise ValueError(f"unknown fault {bad[0]!r} (known: {', '.join(FAULT_MODES)})")


def watch_mixing(
    api: Api,
    eid: str,
    nodes: dict[int, subprocess.Popen[bytes]],
    config: DemoConfig,
    stop: threading.Event,
    out: dict[str, Any],
) -> None:
    """Poll the status during mixing and decryption: record each (hop, node, stage) change and
    each hop verdict with its time (seconds since the mix request), and inject the fault asked
    for (``crash_node``: kill the node's processes once it is shuffling; ``pause_node``:
    SIGSTOP it for a while, as an overloaded machine would be)."""
    t0 = time.perf_counter()
    timeline: list[list[Any]] = out.setdefault("timeline", [])
    verdicts: list[dict[str, Any]] = out.setdefault("verdicts", [])
    crash, pause = config.crash_node, config.pause_node
    last: tuple[Any, ...] = ()
    resume_at: float | None = None
    while not stop.is_set():
        now = time.perf_counter() - t0
        try:
            status = api.request("GET", f"/api/elections/{eid}/status")
        except (HarnessError, OSError):
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
            signal_tree(nodes[crash].pid, signal.SIGKILL)
            out["fault"] = {"kind": "crash", "node": crash, "hop": key[0], "at": round(now, 3)}
        if pause and shuffling and key[1] == pause[0] and "fault" not in out:
            signal_tree(nodes[pause[0]].pid, signal.SIGSTOP)
            resume_at = now + pause[1]
            out["fault"] = {"kind": "pause", "node": pause[0], "hop": key[0],
                            "at": round(now, 3), "seconds": pause[1]}  # fmt: skip
        if resume_at is not None and pause and now >= resume_at:
            signal_tree(nodes[pause[0]].pid, signal.SIGCONT)
            resume_at = None
        if status.get("phase") == "tallied":
            break
        stop.wait(0.05)
    if resume_at is not None and pause:
        signal_tree(nodes[pause[0]].pid, signal.SIGCONT)


def make_ballots(
    group_name: str,
    pk_hex: str,
    eid: str,
    width: int,
    creds: list[bytes],
    choices: list[int],
    fingerprint: bytes,
) -> list[dict[str, Any]]:
    """Encrypted ballots with proofs, signed with the voters' private credentials over the
    election fingerprint, exactly as a voter's browser makes them (the body of
    ``POST /api/elections/<eid>/ballots``)."""
    from crypto import group
    from crypto.ballot import encode_ballot, encode_ballot_proof, encode_choice, prove_ballot
    from crypto.credentials import credential_from_private, sign_ballot
    from crypto.elgamal import decode_public_key, encode_ciphertext, encrypt

    g = group(group_name)
    pk = decode_public_key(g, bytes.fromhex(pk_hex))
    out = []
    for private, choice in zip(creds, choices, strict=True):
        cred = credential_from_private(private)
        ct, r = encrypt(pk, encode_ballot(g, encode_choice(choice), width))
        proof = encode_ballot_proof(g, prove_ballot(pk, ct, r, eid, cred.voter_id))
        row = encode_ciphertext(g, ct)
        out.append(
            {
                "credential": cred.public.hex(),
                "width": width,
                "ciphertext": row.hex(),
                "proof": proof.hex(),
                "signature": sign_ballot(private, fingerprint, row, proof).hex(),
            }
        )
    return out


def authority_credentials(eid: str, count: int) -> tuple[list[bytes], dict[str, Any]]:
    """Act as an external credential authority for a *normal* election: ``count`` fresh private
    credentials and the authority-signed public list (``public-credentials.json``) to upload."""
    from crypto.credentials import (
        encode_credential_list,
        generate_credential,
        sign_credential_list,
    )

    authority = generate_credential()
    creds = [generate_credential() for _ in range(count)]
    clist = sign_credential_list(authority.private, eid, [c.public for c in creds])
    return [c.private for c in creds], encode_credential_list(clist)


def load_credentials(
    api: Api, eid: str, test: bool, count: int, authority_dir: Path | None = None
) -> list[bytes]:
    """The private credentials the harness votes with: a test election's from the server (its
    admin download), a normal election's made here as the authority, the list uploaded (and, with
    ``authority_dir``, the authority's files kept there: ``credentials.csv`` (0600) and
    ``public-credentials.json``, never in the server's data directory)."""
    from crypto.credentials import credential_from_private, format_credential, parse_credential

    if test:
        rows = api.request("GET", f"/api/elections/{eid}/credentials")["credentials"]
        return [parse_credential(row["credential"]) for row in rows]
    creds, public = authority_credentials(eid, count)
    if authority_dir is not None:
        from mixserver.board import make_private_dir, write_private

        make_private_dir(authority_dir)
        lines = ["voter_id,credential"] + [
            f"{credential_from_private(c).voter_id},{format_credential(c)}" for c in creds
        ]
        write_private(authority_dir / "credentials.csv", ("\n".join(lines) + "\n").encode())
        (authority_dir / "public-credentials.json").write_text(json.dumps(public, indent=1))
    api.request("POST", f"/api/elections/{eid}/credentials", public)
    return creds


class _Election:
    """The running processes and measurements of one :func:`run_election`."""

    def __init__(self, config: DemoConfig, data: Path, say: Callable[[str], None]) -> None:
        self.config, self.data, self.say = config, data, say
        self.log = open(data / "demo.log", "ab") if config.log else None  # noqa: SIM115
        self.procs: list[subprocess.Popen[bytes]] = []
        self.nodes: dict[int, subprocess.Popen[bytes]] = {}
        self.timings: dict[str, float] = {}
        self.watch: dict[str, Any] = {}
        self.peaks: dict[str, float | None] = {}

    def start(self) -> tuple[Api, str, str]:
        c = self.config
        server, base, token = start_server(
            self.data / "server",
            port=c.port,
            extra=[
                "--workers",
                str(c.server_workers),
                "--hop-timeout",
                str(c.hop_timeout),
                "--connect-grace",
                "20",
            ],
            log=self.log,
        )
        self.procs.append(server)
        self.say(f"server at {base} (data in {self.data})")
        return Api(base, token), base, token

    def enrol_nodes(self, api: Api, base: str, eid: str) -> None:
        c = self.config
        for i in range(1, c.nodes + 1):
            key = self.data / f"node{i}.key"
            api.request("POST", f"/api/elections/{eid}/enrol", {"public_key": node_key(key)})
            node = start_node(base, key, self.data / f"node{i}", c.node_workers,
                              c.faults.get(i), log=self.log)  # fmt: skip
            self.procs.append(node)
            self.nodes[i] = node

    def timed(self, name: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        result = fn()
        self.timings[name] = time.perf_counter() - t0
        return result

    def stop(self) -> None:
        names = ["server", *(f"node{i}" for i in self.nodes)]
        for name, proc in zip(names, self.procs, strict=False):
            self.peaks[name] = peak_rss_mb(proc.pid)
        self.peaks["demo"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        stop_processes(self.procs)
        if self.log:
            self.log.close()


def run_election(
    config: DemoConfig,
    say: Callable[[str], None] = lambda text: None,
    on_done: Callable[[Summary, str, str], None] | None = None,
) -> Summary:
    """Run the election of ``config`` with a fresh server and nodes; returns its summary
    (tally and whether it is the expected one, hops, timings, timeline, peak memory).
    ``on_done(summary, base_url, admin_token)`` is called while the processes still run."""
    config.check()
    c = config
    data = Path(c.data) if c.data else Path(tempfile.mkdtemp(prefix="mixdemo-"))
    data.mkdir(parents=True, exist_ok=True)
    run = _Election(c, data, say)
    try:
        api, base, token = run.start()
        election = api.request("POST", "/api/elections", {
            "title": "mixdemo", "question": "Which option?",
            "choices": [f"option {i}" for i in range(c.choices)], "group": c.group,
            "n": c.nodes, "t": c.threshold, "width": c.width, "test": c.test,
            **({"voters": c.ballots + c.abstain} if c.test else {}),
        })  # fmt: skip
        eid = election["id"]
        creds = load_credentials(api, eid, c.test, c.ballots + c.abstain,
                                 data / "authority")[: c.ballots]
        run.enrol_nodes(api, base, eid)
        election = run.timed(
            "keygen", lambda: wait_for(api, eid, lambda e: e["public_key"], "key generation", 120)
        )
        say(f"election {eid}: key generation done, key {election['public_key'][:16]}…")
        api.request("POST", f"/api/elections/{eid}/open")
        wait_for(api, eid, lambda e: e["phase"] == "voting", "open", 30)

        rng = random.Random(c.seed)
        choices = [rng.randrange(c.choices) for _ in range(c.ballots)]
        fingerprint = bytes.fromhex(election["fingerprint"])
        say(f"election fingerprint {election['fingerprint_display']}")
        ballots = run.timed(
            "ballot_generation",
            lambda: make_ballots(c.group, election["public_key"], eid, c.width, creds, choices,
                                 fingerprint),
        )

        def cast(i: int) -> None:
            path = f"/api/elections/{eid}/ballots"
            api.request("POST", path, ballots[i], auth="")

        def cast_all() -> None:
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(cast, range(len(ballots))))

        run.timed("casting", cast_all)
        say(f"cast {len(ballots)} ballots in {run.timings['casting']:.2f} s")

        api.request("POST", f"/api/elections/{eid}/close")
        wait_for(api, eid, lambda e: e["phase"] == "closed", "close", 60)
        election = run.timed("mix_and_decrypt", lambda: _mix_and_decrypt(run, api, eid))
        result = api.request("GET", f"/api/elections/{eid}/results")
        server_timings = result.get("timings", {})
        expected = {f"option {i}": 0 for i in range(c.choices)}
        for choice in choices:
            expected[f"option {choice}"] += 1
        summary = {
            "election": eid, "ballots": c.ballots, "nodes": c.nodes, "threshold": c.threshold,
            "group": c.group, "width": c.width, "tally": result["counts"], "expected": expected,
            "test_election": c.test, "fingerprint": election.get("fingerprint"),
            "correct": result["counts"] == expected,
            "hops": election.get("progress")
            and api.request("GET", f"/api/elections/{eid}/status")["hops"],
            "timings": {**{k: round(v, 3) for k, v in run.timings.items()}, **server_timings},
            "mixing_ballots_per_s": server_timings.get("mixing_ballots_per_s"),
            "export": _export(data, eid, c.export), "data": str(data),
            "timeline": run.watch.get("timeline", []), "verdicts": run.watch.get("verdicts", []),
            "fault": run.watch.get("fault"), "peak_rss_mb": run.peaks,
        }  # fmt: skip
        if on_done is not None:
            on_done(summary, base, token)
        return summary
    finally:
        run.stop()  # fills run.peaks, which the summary shares


def _mix_and_decrypt(run: _Election, api: Api, eid: str) -> Summary:
    stop = threading.Event()
    watcher = threading.Thread(
        target=watch_mixing, args=(api, eid, run.nodes, run.config, stop, run.watch), daemon=True
    )
    api.request("POST", f"/api/elections/{eid}/mix")
    watcher.start()
    api.request("POST", f"/api/elections/{eid}/publish")
    try:
        return wait_for(
            api, eid, lambda e: e["phase"] == "tallied", "mixing and decryption", run.config.timeout
        )
    finally:
        stop.set()
        watcher.join(5)


def _export(data: Path, eid: str, export_dir: Path | None) -> dict[str, Any] | None:
    if export_dir is None:
        return None
    from mixserver.board import Board
    from mixserver.export import export_record

    if export_dir.exists():
        shutil.rmtree(export_dir)
    board = Board(data / "server")
    try:
        exported: dict[str, Any] = export_record(board, eid, export_dir)
    finally:
        board.close()
    return exported


__all__ = [
    "Api",
    "DemoConfig",
    "HarnessError",
    "authority_credentials",
    "load_credentials",
    "make_ballots",
    "node_key",
    "run_election",
    "start_node",
    "start_server",
    "stop_processes",
    "wait_for",
    "watch_mixing",
]
