"""Benchmark of the standalone verifier (``mixverify RECORD_DIR``) on a real election record.

    mixbench verify [--record DIR | --ballots N --nodes K --threshold T]
                    [--workers 1,2] [--repeat R] [--out FILE.json]

Without ``--record`` it first generates a record with ``mixdemo`` (which takes a while for
large N). For each worker count it verifies the whole record once with
:func:`crypto.verify.verify_record`, timing every stage through the verifier's progress
callback (the verifier itself reads no clock), and prints:

* the shuffle checks' throughput — rows verified per second (a row is one ballot in one hop) and
  per second *per worker*;
* the group's *floor* for this verifier on this machine: the rows per second one core would reach
  doing nothing but the verifier's group operations per row (``4 + 4·w`` variable-base and one
  fixed-base multiplication at width ``w``, :mod:`crypto.shuffle`), from measured batch rates —
  and the ratio of the measured rate to that floor.

The target (issue 6) is at least 2,000 rows/s per worker on a 10,000-ballot, 3-node record.
``run`` writes one JSON document (config, commit, host, timings) with ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from crypto.io.commands import UsageError

ROOT = Path(__file__).resolve().parents[1]
TARGET_ROWS_PER_WORKER = 2000.0


def commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, check=True
        )
        return out.stdout.decode().strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def read_record(root: Path) -> dict[str, bytes]:
    from crypto.errors import UsageError as ReadError
    from crypto.io.recorddir import read_directory

    try:
        files = read_directory(root)
    except ReadError as exc:
        raise UsageError(str(exc)) from None
    try:
        meta = json.loads(files["election.json"])
        meta["params"]["group"], meta["params"]["width"], meta["entries"]
    except (KeyError, TypeError, ValueError):
        raise UsageError(
            f"{root}: not an exported election record (no valid election.json)"
        ) from None
    return files


def generate(ballots: int, nodes: int, threshold: int, dest: Path) -> dict[str, Any]:
    """Run mixdemo and export its record to ``dest``; returns mixdemo's summary (raises
    :class:`RuntimeError` when mixdemo fails)."""
    cmd = [
        sys.executable,
        "-m",
        "mixserver.demo",
        "--ballots",
        str(ballots),
        "--nodes",
        str(nodes),
        "--threshold",
        str(threshold),
        "--export",
        str(dest),
        "--json",
        "--hop-timeout",
        "3600",
        "--timeout",
        "7200",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"mixdemo failed: {proc.stderr.decode()[-2000:]}")
    summary: dict[str, Any] = json.loads(proc.stdout)
    return summary


def group_floor(
    group_name: str, width: int, samples: int = 2000, rounds: int = 7
) -> dict[str, float]:
    """Measured batch rates (one core) and the verifier's floor in rows/s at ``width``."""
    from crypto import group

    g = group(group_name)
    rng = random.Random(1)
    scalars = [g.random_scalar(rng) for _ in range(samples)]
    points = g.batch_base_mul([g.random_scalar(rng) for _ in range(samples)])
    var = base = 0.0
    for _ in range(rounds):  # best of several: the machine is shared, take its quiet moments
        t0 = time.perf_counter()
        g.batch_mul(points, scalars)
        var = max(var, samples / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        g.batch_base_mul(scalars)
        base = max(base, samples / (time.perf_counter() - t0))
    per_row = (4 + 4 * width) / var + 1 / base
    return {"var_mul_per_s": var, "base_mul_per_s": base, "floor_rows_per_s": 1 / per_row}


def _spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def parallel_capacity(workers: int, n: int = 3_000_000) -> float:
    """How many cores ``workers`` busy processes really get now (1.0 = one core): the machine
    is shared, so per-worker rates only mean something next to this figure."""
    from concurrent.futures import ProcessPoolExecutor

    t0 = time.perf_counter()
    _spin(n)
    one = time.perf_counter() - t0
    if workers == 1:
        return 1.0
    with ProcessPoolExecutor(workers) as pool:
        t0 = time.perf_counter()
        list(pool.map(_spin, [n] * workers))
        many = time.perf_counter() - t0
    return workers * one / many


def verify_once(files: dict[str, bytes], workers: int) -> dict[str, Any]:
    """Verify once; returns the verdict, the stage timings and the shuffle throughput."""
    from crypto.io.pool import process_map
    from crypto.verify import verify_record

    marks: dict[str, list[float]] = {}

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        span = marks.setdefault(stage, [now, now])
        span[1] = now

    t0 = time.perf_counter()
    report = verify_record(files, workers=workers, mapper=process_map(workers), progress=progress)
    total = time.perf_counter() - t0
    stages = {k: v[1] - v[0] for k, v in marks.items()}
    rows = int(report.summary.get("shuffle_rows", 0))
    shuffle_s = stages.get("shuffle", 0.0)
    rate = rows / shuffle_s if shuffle_s else 0.0
    return {
        "workers": workers,
        "ok": report.ok,
        "failures": [str(c) for c in report.failures],
        "total_s": total,
        "stages_s": stages,
        "shuffle_rows": rows,
        "shuffle_rows_per_s": rate,
        "shuffle_rows_per_s_per_worker": rate / workers,
        "ballots": report.summary.get("ballots_counted"),
    }


def run(args: argparse.Namespace) -> int:
    generated = None
    if args.threshold > args.nodes:
        raise UsageError("--threshold must not exceed --nodes")
    if args.record:
        record = Path(args.record)
    else:
        record = Path(tempfile.mkdtemp(prefix="verify-bench-")) / "record"
        print(
            f"generating a {args.ballots}-ballot, {args.nodes}-node record with mixdemo …",
            flush=True,
        )
        t0 = time.perf_counter()
        generated = generate(args.ballots, args.nodes, args.threshold, record)
        print(f"  done in {time.perf_counter() - t0:.0f} s: {record}", flush=True)
    files = read_record(record)
    meta = json.loads(files["election.json"])
    params = meta["params"]
    floor = group_floor(params["group"], params["width"])
    print(
        f"record {record}: {meta['entries']} entries, group {params['group']}, "
        f"n={params['n']}, width {params['width']}"
    )
    print(
        f"group floor (one core): {floor['var_mul_per_s']:.0f} var-base mul/s, "
        f"{floor['base_mul_per_s']:.0f} fixed-base mul/s -> "
        f"{floor['floor_rows_per_s']:.0f} rows/s"
    )
    results = []
    for workers in args.workers:
        load = os.getloadavg()[0]
        capacity = parallel_capacity(workers)
        runs = [verify_once(files, workers) for _ in range(args.repeat)]
        res = max(runs, key=lambda r: float(r["shuffle_rows_per_s"]))  # best of the repeats
        res["repeats_rows_per_s"] = [r["shuffle_rows_per_s"] for r in runs]
        res["load_average"], res["cores_available"] = load, capacity
        print(f"workers={workers}: load average {load:.2f}, {capacity:.2f} cores available "
              f"to {workers} busy processes")
        res["ratio_to_floor"] = res["shuffle_rows_per_s_per_worker"] / floor["floor_rows_per_s"]
        results.append(res)
        verdict = "ACCEPTED" if res["ok"] else f"REJECTED {res['failures'][:3]}"
        print(
            f"workers={workers}: {verdict}; total {res['total_s']:.1f} s "
            f"({', '.join(f'{k} {v:.1f} s' for k, v in res['stages_s'].items())})"
        )
        ok = "meets" if res["shuffle_rows_per_s_per_worker"] >= TARGET_ROWS_PER_WORKER else "BELOW"
        shuffle_s = res["stages_s"].get("shuffle", 0.0)
        print(
            f"  shuffle checks: {res['shuffle_rows']} rows in {shuffle_s:.2f}"
            f" s = {res['shuffle_rows_per_s']:.0f} rows/s, "
            f"{res['shuffle_rows_per_s_per_worker']:.0f} rows/s per worker "
            f"({ok} the {TARGET_ROWS_PER_WORKER:.0f} target); "
            f"ratio to the floor {res['ratio_to_floor']:.2f}"
        )
    doc = {
        "experiment": "verify_bench",
        "commit": commit(),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "record": str(record),
        "params": params,
        "entries": meta["entries"],
        "floor": floor,
        "results": results,
        "generated": generated,
    }
    if args.out:
        Path(args.out).write_text(json.dumps(doc, indent=1))
        print(f"wrote {args.out}")
    return 0 if all(r["ok"] for r in results) else 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``mixbench verify``."""
    from crypto.io.commands import existing_dir, list_of, positive_int

    parser.add_argument(
        "--record",
        type=existing_dir,
        help="an exported record directory (default: generate one with mixdemo)",
    )
    parser.add_argument(
        "--ballots", type=positive_int, default=10_000, help="ballots of a generated record"
    )
    parser.add_argument("--nodes", type=positive_int, default=3, help="mix nodes of that record")
    parser.add_argument(
        "--threshold", type=positive_int, default=2, help="decryption threshold of that record"
    )
    parser.add_argument(
        "--workers",
        type=list_of(positive_int, "positive integer"),
        default=[1, 2],
        help="worker counts to verify with, comma-separated (default 1,2)",
    )
    parser.add_argument(
        "--repeat",
        type=positive_int,
        default=1,
        help="verifications per worker count (the best is reported, all are recorded)",
    )
    parser.add_argument("--out", type=Path, help="write the raw results as JSON here")


def main(argv: list[str] | None = None) -> int:
    """``python -m experiments.verify_bench [run] …``: the same as ``mixbench verify …``."""
    from experiments.cli import main as mixbench

    args = list(sys.argv[1:] if argv is None else argv)
    return mixbench(["verify", *(args[1:] if args[:1] == ["run"] else args)])


if __name__ == "__main__":
    sys.exit(main())
