"""``mixbench run``: whole elections over a grid, each one through the real ``mixdemo``.

A configuration (JSON or TOML; ``experiments/configs/``) is::

    {"name": "...", "out": "results dir", "repetitions": 1, "timeout": 1800, "verify": true,
     "defaults": {"ballots": [100], "nodes": [3], "threshold": [2], "group": ["secp256k1"],
                  "width": [1], "workers": [1], "fault": ["none"]},
     "grids": [{"ballots": [100, 1000]}, {"group": ["ristretto255", "P-256"]}]}

Each entry of ``grids`` is merged over ``defaults`` and expanded as a Cartesian product; the
union of the points, times ``repetitions``, is the list of runs (a point listed twice runs once).
Without ``grids`` the defaults alone are the grid. Command-line grid options replace the values of
every sub-grid.

One run = one ``mixdemo --json`` subprocess (server + k node processes on loopback) with the
record exported, then ``mixverify`` on the export (full-record verification, timed). Fault
scenarios (on node 2, or node 1 when k = 1):

* ``none``;
* ``crash``: the node's processes are killed once it starts shuffling (``--crash-node``);
  detect = crash → hop recorded as skipped;
* ``cheat``: the node sends a forged proof (``--cheat POS:forged-proof``); detect = its result
  reaches the server → hop rejected (the server's proof verification);
* ``slow``: the node is stopped (SIGSTOP) beyond the hop timeout (``--pause-node``,
  ``--hop-timeout``); detect = pause → hop skipped (≈ the hop timeout).

recover = fault → the next node starts shuffling once the faulty hop has its verdict (or
decryption starts, after the last hop): how long the cascade is held up. Per-hop times come from
polling mixdemo's status every 50 ms; the coordinator pipelines the cascade (node i+1 shuffles
while the server verifies hop i) and the status shows one stage at a time, so a stage shorter
than a poll, or overlapped by the next hop's, leaves that hop's split unknown (None); the
server-measured totals (``mixing``, each hop's ``seconds``) are exact.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from crypto import GROUPS
from experiments.records import (
    CONFIG_FIELDS,
    append_record,
    load_records,
    recorded_keys,
    run_key,
)
from mixcli import ConfigError  # a configuration that cannot be used: exit 2

FAULTS = ("none", "crash", "cheat", "slow")
GRID_FIELDS = ("ballots", "nodes", "threshold", "group", "width", "workers", "fault")
CONFIG_DIR = Path(__file__).parent / "configs"
LIBRARIES = ("coincurve", "pysodium", "ecdsa", "gmpy2", "cryptography", "tornado", "flask",
             "websocket-client", "numpy", "matplotlib")  # fmt: skip
REPO = Path(__file__).resolve().parent.parent


# --- configuration --------------------------------------------------------------------------------
def read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a configuration is a JSON/TOML object")
    return data


def load_config(
    path: Path | None, preset: str | None, args: argparse.Namespace | None = None
) -> dict[str, Any]:
    """The checked configuration from a file or a preset, with command-line overrides."""
    if (path is None) == (preset is None):
        raise ConfigError("give a CONFIG file or --preset (one of them)")
    config = read_config_file(path if path is not None else CONFIG_DIR / f"{preset}.json")
    known = {"name", "out", "repetitions", "timeout", "verify", "defaults", "grids", "description",
             "slow_timeout", "hop_timeout", "cheat_mode", "seed"}  # fmt: skip
    if unknown := sorted(set(config) - known):
        raise ConfigError(f"unknown configuration keys: {', '.join(unknown)}")
    config.setdefault("name", path.stem if path else preset)
    config.setdefault("repetitions", 1)
    config.setdefault("timeout", 1800)
    config.setdefault("verify", True)
    config.setdefault("cheat_mode", "forged-proof")
    config.setdefault("seed", 1)
    config.setdefault("out", f"experiments/results/{config['name']}")
    defaults = {
        "ballots": [100],
        "nodes": [3],
        "threshold": [2],
        "group": ["secp256k1"],
        "width": [1],
        "workers": [1],
        "fault": ["none"],
        **config.get("defaults", {}),
    }
    grids = config.get("grids") or [{}]
    if not isinstance(grids, list) or not all(isinstance(g, dict) for g in grids):
        raise ConfigError("grids must be a list of objects")
    if args is not None:
        overrides = {f: getattr(args, f) for f in GRID_FIELDS if getattr(args, f, None)}
        grids = [{**g, **overrides} for g in grids]
        for name in ("out", "repetitions", "timeout"):
            if getattr(args, name, None) is not None:
                config[name] = getattr(args, name)
        if getattr(args, "no_verify", False):
            config["verify"] = False
    config["grids"] = [{**defaults, **g} for g in grids]
    config["out"] = Path(config["out"])
    _check_config(config)
    return config


def _check_config(config: Mapping[str, Any]) -> None:
    for i, grid in enumerate(config["grids"]):
        if unknown := sorted(set(grid) - set(GRID_FIELDS)):
            raise ConfigError(f"grid {i}: unknown keys {', '.join(unknown)}")
        for field, values in grid.items():
            if not isinstance(values, list) or not values:
                raise ConfigError(f"grid {i}: {field} must be a non-empty list")
            for v in values:
                if field == "group" and v not in GROUPS:
                    raise ConfigError(f"grid {i}: unknown group {v!r}")
                if field == "fault" and v not in FAULTS:
                    raise ConfigError(f"grid {i}: unknown fault {v!r} (one of {FAULTS})")
                if field not in ("group", "fault") and (
                    not isinstance(v, int) or isinstance(v, bool) or v < 1
                ):
                    raise ConfigError(f"grid {i}: {field} values must be positive integers")
    reps = config["repetitions"]
    if not isinstance(reps, int) or reps < 1:
        raise ConfigError("repetitions must be a positive integer")


def expand(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The runs of a configuration, in order, without duplicates; points with ``t > k`` or a
    fault on a one-node cascade (nothing left to recover with) are left out."""
    seen: set[str] = set()
    runs = []
    for rep in range(config["repetitions"]):
        for grid in config["grids"]:
            for values in itertools.product(*(grid[f] for f in GRID_FIELDS)):
                point = dict(zip(GRID_FIELDS, values, strict=True))
                if point["threshold"] > point["nodes"]:
                    continue
                if point["fault"] != "none" and point["nodes"] < 2:
                    continue
                point["repetition"] = rep
                key = run_key(point)
                if key not in seen:
                    seen.add(key)
                    runs.append({**point, "key": key})
    return runs


# --- environment ----------------------------------------------------------------------------------
def environment() -> dict[str, Any]:
    """Commit, host and library versions, once per ``mixbench run``."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                                text=True, timeout=10).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO, capture_output=True, text=True, timeout=10,
        ).stdout.strip()  # fmt: skip
        commit = commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for lib in LIBRARIES:
        try:
            versions[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            versions[lib] = None
    return {
        "commit": commit or "unknown",
        "host": f"{platform.node()} ({platform.platform()}, {os.cpu_count()} CPUs)",
        "versions": versions,
    }


# --- one run --------------------------------------------------------------------------------------
def fault_node(point: Mapping[str, Any]) -> int:
    return 2 if point["nodes"] >= 2 else 1


def slow_timeout(point: Mapping[str, Any], config: Mapping[str, Any]) -> float:
    """Hop timeout of a ``slow`` run: above an honest hop, below the pause."""
    if "slow_timeout" in config:
        return float(config["slow_timeout"])
    return 8.0 + float(point["ballots"] * point["width"]) / 150


def hop_timeout(point: Mapping[str, Any], config: Mapping[str, Any]) -> float:
    """Hop timeout of an ordinary run: generous (20 rows/s per hop, plus start-up), so that only a
    hung node is skipped — and then the record shows it instead of the grid stalling."""
    if "hop_timeout" in config:
        return float(config["hop_timeout"])
    slow_group = point["group"] not in ("secp256k1", "ristretto255")
    return 60.0 + float(point["ballots"] * point["width"]) / (2 if slow_group else 20)


def demo_command(point: Mapping[str, Any], config: Mapping[str, Any], work: Path) -> list[str]:
    cmd = [
        sys.executable, "-m", "mixserver.demo", "--json",
        "--ballots", str(point["ballots"]), "--nodes", str(point["nodes"]),
        "--threshold", str(point["threshold"]), "--group", point["group"],
        "--width", str(point["width"]), "--node-workers", str(point["workers"]),
        "--server-workers", str(point["workers"]), "--seed", str(config["seed"]),
        "--data", str(work / "data"), "--export", str(work / "export"),
        "--timeout", str(config["timeout"]),
    ]  # fmt: skip
    if point["fault"] != "slow":
        cmd += ["--hop-timeout", str(hop_timeout(point, config))]
    pos = fault_node(point)
    if point["fault"] == "crash":
        cmd += ["--crash-node", str(pos)]
    elif point["fault"] == "cheat":
        cmd += ["--cheat", f"{pos}:{config['cheat_mode']}"]
    elif point["fault"] == "slow":
        timeout = slow_timeout(point, config)
        cmd += ["--hop-timeout", str(timeout), "--pause-node", f"{pos}:{timeout + 5}"]
    return cmd


def _run_process(cmd: list[str], timeout: float) -> tuple[int, str, str, float]:
    """Run ``cmd`` in its own session; on timeout or Ctrl-C, SIGINT it (mixdemo then stops its
    server and nodes), then SIGKILL what is left of its process group."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout)
    except (subprocess.TimeoutExpired, KeyboardInterrupt) as exc:
        _stop_group(proc)
        if isinstance(exc, KeyboardInterrupt):
            raise
        out, err = proc.communicate()
        return -1, out, f"timed out after {timeout:.0f} s\n{err}", time.perf_counter() - t0
    return proc.returncode, out, err, time.perf_counter() - t0


def _stop_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def hop_times(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per hop: status, the server's total seconds, ``node`` (request → result at the server:
    shuffle + prove + transfer) and ``verify`` (result → verdict: the server's proof check),
    from mixdemo's timeline (polled every 50 ms) and verdicts."""
    timeline = summary.get("timeline") or []
    out = []
    for verdict in summary.get("verdicts") or summary.get("hops") or []:
        hop = verdict["hop"]
        # matched by node (each node has one hop): the status's hop number can lag a poll behind
        entries = [e for e in timeline if e[2] == verdict.get("node")]
        start = entries[0][0] if entries else None
        received = next((e[0] for e in entries if e[3] == "verifying"), None)
        node = verify = None
        if verdict.get("status") in ("accepted", "rejected") and received is not None:
            node = round(received - start, 3) if start is not None else None
            total = verdict.get("seconds")
            verify = round(total - node, 3) if total is not None and node is not None else None
            if verify is not None and verify < 0:
                verify = round(verdict.get("at", received) - received, 3)
        out.append({"hop": hop, "node": verdict.get("node"), "status": verdict.get("status"),
                    "seconds": verdict.get("seconds"), "node_seconds": node,
                    "verify_seconds": verify})  # fmt: skip
    return out


def fault_times(summary: Mapping[str, Any], point: Mapping[str, Any]) -> tuple[Any, Any]:
    """(detect, recover) seconds of a fault run (module docstring), or (None, None)."""
    if point["fault"] == "none":
        return None, None
    timeline = summary.get("timeline") or []
    verdicts = summary.get("verdicts") or []
    pos = fault_node(point)
    verdict = next((v for v in verdicts if v.get("node") == pos), None)
    if verdict is None:
        return None, None
    if point["fault"] == "cheat":
        mine = [e for e in timeline if e[2] == pos and e[0] <= verdict["at"]]
        at = next((e[0] for e in mine if e[3] == "verifying"), None)
        if at is None and mine:
            # rejected within one polling interval of its arrival (e.g. a proof that does not
            # even parse): the last poll before the verdict bounds the arrival from below
            at = mine[-1][0]
    else:
        at = (summary.get("fault") or {}).get("at")
    if at is None:
        return None, None
    # the cascade is pipelined (node i+1 may start on hop i's output before hop i's verdict):
    # only a start seen once the faulty hop has its verdict counts as recovery
    later = [
        e[0] for e in timeline
        if e[0] >= verdict["at"] and e[0] > at and (e[2] != pos or e[3] == "decrypting")
    ]  # fmt: skip
    detect = round(verdict["at"] - at, 3)
    recover = round(later[0] - at, 3) if later else None
    return detect, recover


def record_sizes(export: Path) -> dict[str, Any]:
    """Bytes of the exported record, of each hop's proof and of one ciphertext list."""
    from crypto.record import decode_entry
    from crypto.wire import decode_body

    sizes: dict[str, Any] = {"record_bytes": None, "proof_bytes_per_hop": None,
                             "ciphertext_bytes": None}  # fmt: skip
    if not export.is_dir():
        return sizes
    sizes["record_bytes"] = sum(f.stat().st_size for f in export.rglob("*") if f.is_file())
    proofs, lists = [], []
    try:
        index = json.loads((export / "index.json").read_text())
        for item in index:
            if item["kind"] == "mix.result":
                body = decode_body(decode_entry((export / item["file"]).read_bytes()).body)
                proofs.append(sum(len(x) for x in body["proof"]))
                lists.append(len(body["outputs"]))
    except (OSError, ValueError, KeyError) as exc:
        sizes["size_error"] = str(exc)
        return sizes
    if proofs:
        sizes["proof_bytes_per_hop"] = round(sum(proofs) / len(proofs))
        sizes["ciphertext_bytes"] = lists[0]
    return sizes


def run_one(point: Mapping[str, Any], config: Mapping[str, Any], env: Mapping[str, Any],
            work_root: Path | None = None) -> dict[str, Any]:  # fmt: skip
    """One election; returns its record (``status`` ok or failed, never raises for a failed
    run)."""
    record: dict[str, Any] = {f: point[f] for f in CONFIG_FIELDS}
    record.update(key=point["key"], **env, started=datetime.now(UTC).isoformat(timespec="seconds"))
    with tempfile.TemporaryDirectory(prefix="mixbench-", dir=work_root) as tmp:
        work = Path(tmp)
        rc, out, err, wall = _run_process(
            demo_command(point, config, work), config["timeout"] + 300
        )
        record["wall"] = round(wall, 3)
        try:
            summary = json.loads(out) if out.strip() else {}
        except json.JSONDecodeError:
            summary = {}
        if rc != 0 or not summary:
            record["status"] = "failed"
            tail = (err.strip().splitlines() or ["no output"])[-3:]
            record["error"] = f"mixdemo exit {rc}: " + " | ".join(tail)
            if summary:
                record["correct"] = summary.get("correct")
            return record
        record["status"] = "ok"
        record["correct"] = summary.get("correct")
        timings = summary.get("timings", {})
        for name in ("keygen", "ballot_generation", "casting", "mixing", "decryption",
                     "mix_and_decrypt", "mixing_ballots_per_s"):  # fmt: skip
            record[name] = timings.get(name)
        hops = hop_times(summary)
        record["hops"] = hops
        accepted = [h for h in hops if h["status"] == "accepted"]
        for name in ("node", "verify"):
            vals = [h[f"{name}_seconds"] for h in accepted if h[f"{name}_seconds"] is not None]
            record[f"hop_{name}_mean"] = round(sum(vals) / len(vals), 3) if vals else None
        for status in ("accepted", "skipped", "rejected"):
            record[f"hops_{status}"] = sum(1 for h in hops if h["status"] == status)
        record["fault_detect"], record["fault_recover"] = fault_times(summary, point)
        record["fault_info"] = summary.get("fault")
        # mixdemo's raw observations, so that later analyses need not rerun anything
        record["timeline"] = summary.get("timeline")
        record["verdicts"] = summary.get("verdicts")
        peaks = summary.get("peak_rss_mb") or {}
        record["peak_rss_mb"] = peaks
        record["peak_rss_server_mb"] = peaks.get("server")
        node_peaks = [v for k, v in peaks.items() if k.startswith("node") and v is not None]
        record["peak_rss_node_max_mb"] = max(node_peaks) if node_peaks else None
        record["peak_rss_demo_mb"] = peaks.get("demo")
        record.update(record_sizes(work / "export"))
        if config["verify"]:
            vrc, vout, verr, vsec = _run_process(
                [sys.executable, "-m", "crypto.verifier_cli", str(work / "export")],
                config["timeout"],
            )
            # the time counts only when the record was accepted; a rejection keeps the failed
            # checks (mixverify prints one FAIL line each) and the elapsed time apart
            record["verify_record"] = round(vsec, 3) if vrc == 0 else None
            record["verify_elapsed"] = round(vsec, 3)
            record["verify_status"] = {0: "accepted", 1: "rejected"}.get(
                vrc, f"unavailable ({vrc})"
            )
            if vrc != 0:
                fails = [x for x in vout.splitlines() if x.startswith(("FAIL", "VERDICT"))]
                record["verify_message"] = "\n".join(fails[:20]) or (verr.strip() or vout)[-500:]
        if record["correct"] is False:
            record["status"] = "failed"
            record["error"] = "wrong tally"
    return record


# --- the grid -------------------------------------------------------------------------------------
def run_grid_config(config: Mapping[str, Any], dry_run: bool = False) -> int:
    """Run every run not yet recorded in ``config["out"]``; 0 when all recorded runs of this grid
    succeeded, 1 otherwise."""
    from tqdm import tqdm

    out: Path = config["out"]
    runs = expand(config)
    done = recorded_keys(load_records(out)) if out.exists() else set()
    todo = [r for r in runs if r["key"] not in done]
    print(f"mixbench run {config['name']}: {len(runs)} runs, {len(runs) - len(todo)} already "
          f"recorded in {out}, {len(todo)} to go", file=sys.stderr)  # fmt: skip
    if dry_run:
        for r in runs:
            print(("  done  " if r["key"] in done else "  todo  ") + r["key"])
        return 0
    env = environment()
    failed = 0
    with tqdm(total=len(runs), initial=len(runs) - len(todo), unit="run", file=sys.stderr,
              dynamic_ncols=True) as bar:  # fmt: skip
        for point in todo:
            bar.set_postfix_str(f"{point['group']} N={point['ballots']} k={point['nodes']} "
                                f"fault={point['fault']}")  # fmt: skip
            record = run_one(point, config, env)
            append_record(out, record)
            if record["status"] != "ok":
                failed += 1
                bar.write(f"run failed: {point['key']}: {record.get('error')}")
            bar.update(1)
    records = load_records(out)
    keys = {r["key"] for r in runs}
    bad = [r for r in records if r["key"] in keys and r["status"] != "ok"]
    print(f"mixbench run {config['name']}: done; {len(bad)} failed runs recorded in "
          f"{out / 'records.jsonl'}", file=sys.stderr)  # fmt: skip
    return 1 if bad or failed else 0


__all__: Sequence[str] = ["ConfigError", "expand", "load_config", "run_grid_config", "run_one"]
