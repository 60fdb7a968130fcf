"""``mixbench load``: ballot intake under load, through the HTTP API, with real signed ballots.

N ballots are sealed first (encrypted, proved and signed with the credentials of a *test* election,
exactly as ``mixvote-vote cast`` and the browser booth make them: :mod:`crypto.io.voting`), then C
worker threads post them to ``POST /api/elections/<eid>/ballots``, each over its own keep-alive
connection, timing every request. Reported: ballots/s over the casting wall time, latency
percentiles (p50, p90, p99, max), errors by HTTP status, and every receipt checked against the
server key the election published. With more ballots than credentials (last-ballot-counts only),
credentials are reused round-robin: those ballots replace earlier ones.

``--start-demo`` starts a server and mix nodes on loopback (:mod:`mixserver.harness`), creates a
test election with as many credentials as ballots, opens it and runs the load against it;
``--tally`` then closes, mixes and decrypts, and checks the tally against the ballots that count.
Its temporary data directory is removed at the end (``--demo-data DIR`` keeps it).
Only test elections are accepted: a load run must never touch a real election.
"""

from __future__ import annotations

import csv
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import numpy as np

from crypto.ballot import FIRST_BALLOT_COUNTS
from crypto.credentials import Credential, credential_from_private, parse_credential
from crypto.errors import MalformedInput, MixvoteError, ProtocolViolation, UsageError
from crypto.io.voting import Client, Election, check_cast_answer, make_ballot, signed_ballot

MAX_CSV_BYTES = 64 << 20


def read_credentials_csv(path: Path) -> list[Credential]:
    """The admin's credentials CSV of a test election (``voter_id,credential`` rows, as the
    admin page downloads it); each voter id is checked against its credential."""
    try:
        if path.stat().st_size > MAX_CSV_BYTES:
            raise UsageError(f"{path}: too large for a credentials CSV")
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"{path}: cannot read the credentials ({exc})") from None
    if not rows or [c.strip() for c in rows[0]] != ["voter_id", "credential"]:
        raise UsageError(f"{path}: not a credentials CSV (header voter_id,credential expected)")
    creds: list[Credential] = []
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != 2:
            raise UsageError(f"{path}:{line}: expected 2 columns, got {len(row)}")
        try:
            cred = credential_from_private(parse_credential(row[1]))
        except MalformedInput as exc:
            raise UsageError(f"{path}:{line}: {exc}") from None
        if cred.voter_id != row[0].strip():
            raise UsageError(f"{path}:{line}: the voter id is not the credential's")
        creds.append(cred)
    if not creds:
        raise UsageError(f"{path}: no credentials")
    return creds


@dataclass
class _Worker:
    """One thread's keep-alive connection."""

    host: str
    port: int
    timeout: float
    conn: http.client.HTTPConnection | None = None

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request("POST", path, body, {"Content-Type": "application/json"})
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # a kept-alive connection the server closed before this request reached it
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


@dataclass
class LoadResult:
    """One load run's measurements (:meth:`row` is the ``--json`` output)."""

    server: str
    election: str
    group: str
    width: int
    voters: int
    credentials: int
    concurrency: int
    sealing_s: float
    wall_s: float
    latencies_ms: list[float]
    errors: Counter[str]
    expected: dict[str, int] = field(default_factory=dict)
    tally: dict[str, int] | None = None

    @property
    def ok(self) -> int:
        return len(self.latencies_ms)

    def row(self) -> dict[str, Any]:
        lat = np.asarray(self.latencies_ms) if self.latencies_ms else np.zeros(1)
        pct = {f"p{p}": round(float(np.percentile(lat, p)), 2) for p in (50, 90, 99)}
        return {
            "server": self.server, "election": self.election, "group": self.group,
            "width": self.width, "voters": self.voters, "credentials": self.credentials,
            "concurrency": self.concurrency, "ok": self.ok,
            "errors": dict(sorted(self.errors.items())),
            "wall_s": round(self.wall_s, 3),
            "ballots_per_s": round(self.ok / self.wall_s, 2) if self.wall_s > 0 else None,
            "latency_ms": {**pct, "max": round(float(lat.max()), 2)},
            "sealing_per_s": round(self.voters / self.sealing_s, 1) if self.sealing_s else None,
            "expected": self.expected,
            "tally": self.tally,
            "tally_correct": None if self.tally is None else self.tally == self.expected,
            "cpus": os.cpu_count(), "load_average": round(os.getloadavg()[0], 2),
        }  # fmt: skip


def format_result(row: dict[str, Any]) -> str:
    lat = row["latency_ms"]
    errors = ", ".join(f"{k}: {v}" for k, v in row["errors"].items()) or "none"
    lines = [
        f"election {row['election']} ({row['group']}, width {row['width']}) at {row['server']}",
        f"ballots {row['voters']} ({row['credentials']} credentials), concurrency "
        f"{row['concurrency']}: {row['ok']} accepted in {row['wall_s']:.2f} s = "
        f"{row['ballots_per_s']} ballots/s",
        f"latency ms: p50 {lat['p50']}  p90 {lat['p90']}  p99 {lat['p99']}  max {lat['max']}",
        f"errors: {errors}",
        f"sealing (client side, before the clock): {row['sealing_per_s']} ballots/s",
        f"load average {row['load_average']} on {row['cpus']} CPUs",
    ]
    if row["tally"] is not None:
        lines.append(f"tally {row['tally']}: "
                     + ("as expected" if row["tally_correct"] else f"EXPECTED {row['expected']}"))
    return "\n".join(lines)


def _bar(total: int, desc: str, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="ballot", file=sys.stderr, leave=False,
                disable=not enabled)  # fmt: skip


def run_load(
    server: str,
    eid: str,
    creds: Sequence[Credential],
    voters: int,
    concurrency: int,
    choices: Sequence[int] | None = None,
    progress: bool = True,
    timeout: float = 120.0,
) -> LoadResult:
    """Seal ``voters`` ballots and cast them with ``concurrency`` threads (module docstring).
    ``choices`` are 0-based indexes cycled over the ballots (default: every choice in turn)."""
    client = Client(server, timeout=timeout)
    election: Election = client.election(eid)
    if not election.test:
        raise ProtocolViolation(f"election {eid} is not a test election: mixbench load casts "
                                "only in test elections")  # fmt: skip
    if election.phase != "voting":
        raise ProtocolViolation(f"election {eid}: voting is not open (phase {election.phase})")
    pk, fingerprint = election.require_key()
    if voters > len(creds) and election.policy == FIRST_BALLOT_COUNTS:
        raise UsageError(f"--voters {voters} is more than the {len(creds)} credentials, and this "
                         "election counts first ballots only")  # fmt: skip
    picks = list(choices) if choices else list(range(len(election.choices)))
    if any(not 0 <= c < len(election.choices) for c in picks):
        raise UsageError(f"--choices: this election has choices 1 to {len(election.choices)}")
    server_key = client.server_key(eid)

    bodies: list[bytes] = []
    made_list = []
    t0 = time.perf_counter()
    with _bar(voters, "sealing", progress) as bar:
        for i in range(voters):
            cred = creds[i % len(creds)]
            made = make_ballot(pk, eid, cred.voter_id, picks[i % len(picks)], election.width)
            made_list.append(made)
            bodies.append(json.dumps(signed_ballot(made, cred, fingerprint)).encode())
            bar.update()
    sealing = time.perf_counter() - t0

    parts = urlsplit(server)
    local = threading.local()
    path = f"/api/elections/{quote(eid)}/ballots"
    lock = threading.Lock()
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    accepted: dict[int, tuple[int, int]] = {}  # ballot i -> (board index, choice)

    def cast(i: int) -> None:
        worker = getattr(local, "worker", None)
        if worker is None:
            worker = local.worker = _Worker(parts.hostname or "127.0.0.1", parts.port or 80,
                                            timeout)  # fmt: skip
        start = time.perf_counter()
        try:
            status, raw = worker.post(path, bodies[i])
        except (OSError, http.client.HTTPException) as exc:
            with lock:
                errors[f"connection ({type(exc).__name__})"] += 1
            return
        elapsed = (time.perf_counter() - start) * 1000
        if status != 201:
            with lock:
                errors[str(status)] += 1
            return
        try:
            receipt = check_cast_answer(json.loads(raw), eid, made_list[i], server_key)
        except (MixvoteError, ValueError):
            with lock:
                errors["bad receipt"] += 1
            return
        with lock:
            latencies.append(elapsed)
            accepted[i] = (receipt.index, picks[i % len(picks)])

    with _bar(voters, f"casting ({concurrency} threads)", progress) as bar:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(concurrency, thread_name_prefix="load") as pool:
            for _ in pool.map(cast, range(voters)):
                bar.update()
        wall = time.perf_counter() - t0

    # the ballot that counts per credential: the last one on the board (last-ballot-counts),
    # or the only one (first-ballot-counts refuses the rest)
    last: dict[str, tuple[int, int]] = {}
    for i, (index, choice) in accepted.items():
        vid = creds[i % len(creds)].voter_id
        if vid not in last or (index > last[vid][0]) == (election.policy != FIRST_BALLOT_COUNTS):
            last[vid] = (index, choice)
    expected = {c: 0 for c in election.choices}
    for _index, choice in last.values():
        expected[election.choices[choice]] += 1
    return LoadResult(server, eid, election.group.name, election.width, voters, len(creds),
                      concurrency, sealing, wall, sorted(latencies), errors, expected)  # fmt: skip


@dataclass
class Demo:
    """A server and mix nodes on loopback with one open test election (``--start-demo``)."""

    base: str
    token: str
    election: str
    credentials: list[Credential]
    procs: list[subprocess.Popen[bytes]]
    data: Path
    owned: bool = False  # a temporary directory made here: removed by stop()

    def tally(self, timeout: float) -> dict[str, int]:
        """Close (unless closed already), mix and decrypt; the published counts."""
        from mixserver.harness import Api, wait_for

        api = Api(self.base, self.token)
        eid = self.election
        if api.request("GET", f"/api/elections/{eid}")["phase"] == "voting":
            api.request("POST", f"/api/elections/{eid}/close")
        wait_for(api, eid, lambda e: e["phase"] == "closed", "close", 60)
        api.request("POST", f"/api/elections/{eid}/mix")
        api.request("POST", f"/api/elections/{eid}/publish")
        wait_for(api, eid, lambda e: e["phase"] == "tallied", "mixing and decryption", timeout)
        counts: dict[str, int] = api.request("GET", f"/api/elections/{eid}/results")["counts"]
        return counts

    def stop(self) -> None:
        from mixserver.harness import stop_processes

        stop_processes(self.procs)
        if self.owned:
            shutil.rmtree(self.data, ignore_errors=True)


def start_demo(
    voters: int, nodes: int = 3, threshold: int = 2, group: str = "secp256k1",
    choices: int = 3, data: Path | None = None, policy: str = "last-ballot-counts",
    say: Callable[[str], None] = lambda text: None,
) -> Demo:  # fmt: skip
    """Start a server and ``nodes`` mix nodes on loopback and a *test* election with ``voters``
    credentials, voting open; the caller stops it (:meth:`Demo.stop`)."""
    from mixserver.harness import (
        Api,
        load_credentials,
        node_key,
        start_node,
        start_server,
        stop_processes,
        wait_for,
    )

    owned = data is None
    data = data or Path(tempfile.mkdtemp(prefix="mixbench-load-"))
    data.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        server, base, token = start_server(data / "server", extra=["--connect-grace", "20"])
        procs.append(server)
        api = Api(base, token)
        eid = api.request("POST", "/api/elections", {
            "title": "mixbench load", "question": "Which option?",
            "choices": [f"option {i + 1}" for i in range(choices)], "group": group,
            "n": nodes, "t": threshold, "test": True, "voters": voters, "policy": policy,
        })["id"]  # fmt: skip
        say(f"server at {base}, test election {eid} with {voters} credentials (data in {data})")
        privates = load_credentials(api, eid, True, voters)
        for i in range(1, nodes + 1):
            key = data / f"node{i}.key"
            api.request("POST", f"/api/elections/{eid}/enrol", {"public_key": node_key(key)})
            procs.append(start_node(base, key, data / f"node{i}"))
        wait_for(api, eid, lambda e: e["public_key"], "key generation", 180)
        api.request("POST", f"/api/elections/{eid}/open")
        wait_for(api, eid, lambda e: e["phase"] == "voting", "open", 30)
        say("key generation done, voting open")
        creds = [credential_from_private(p) for p in privates]
        return Demo(base, token, eid, creds, procs, data, owned)
    except BaseException:
        stop_processes(procs)
        if owned:
            shutil.rmtree(data, ignore_errors=True)
        raise


__all__ = ["Demo", "LoadResult", "format_result", "read_credentials_csv", "run_load",
           "start_demo"]  # fmt: skip
