"""``mixbench``: benchmark experiments for researchers.

    mixbench crypto [--group G] [--ballots N] [--width W] [--workers K] [--json]
    mixbench run (CONFIG | --preset quick|full) [--out DIR] [grid options]
    mixbench plot RESULTS [--out DIR]
    mixbench verify [--record DIR | --ballots N --nodes K --threshold T] [--workers 1,2]
    mixbench load (--server URL --election EID --credentials CSV | --start-demo) --voters N
                  [--concurrency C] [--choices 1,2] [--tally] [--json]

``crypto`` measures the cryptographic core phase by phase against its floor
(:mod:`experiments.cryptobench`); ``run`` runs whole elections through ``mixdemo`` over a grid and
appends raw records (:mod:`experiments.grid`); ``plot`` reads only those records and draws
(:mod:`experiments.plots`); ``verify`` times the standalone verifier on a record
(:mod:`experiments.verify_bench`); ``load`` casts real signed ballots through the HTTP API with C
threads and reports ballots/s and latency percentiles (:mod:`experiments.load`).
Exit status (:mod:`crypto.io.commands`): 0 success, 1 a run or measurement failed, 2 bad
arguments or unreadable input, 3 an internal error.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from crypto import GROUPS
from crypto.io.commands import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    ArgumentParser,
    add_version,
    election_id,
    existing_file,
    existing_path,
    group_name,
    http_url,
    list_of,
    positive_float,
    positive_int,
    run_main,
)

POSITIVE_LIST = list_of(positive_int, "positive integer")
GROUP_LIST = list_of(group_name, "group name")


def _fault_name(text: str) -> str:
    from experiments.grid import FAULTS

    if text not in FAULTS:
        raise argparse.ArgumentTypeError(f"unknown fault {text!r} (known: {', '.join(FAULTS)})")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="mixbench",
        description="mixvote benchmark experiments: crypto micro/phase benchmarks, whole-election "
        "grids through mixdemo, plots of the recorded results, and the verifier's throughput. "
        "Exit status: 0 success, 1 a run or measurement failed, 2 bad arguments or unreadable "
        "input.",
    )
    add_version(parser, "mixbench")
    sub = parser.add_subparsers(dest="command", required=True)

    c = sub.add_parser(
        "crypto",
        help="throughput of each crypto phase (rows/s) against its scalar-multiplication floor",
        description="Measure mult, fixed_mult, add, decode (operations/s) and reencrypt, prove, "
        "verify, decrypt_share, combine (ciphertext rows/s) on random ciphertexts; each "
        "per-ballot phase is compared with its floor (its scalar multiplications at the rates "
        "measured in the same run). Every option takes a comma-separated list (a small grid).",
    )
    for flag, kind, default, text in (
        ("--group", GROUP_LIST, ["secp256k1"],
         f"group(s) (default secp256k1; known: {', '.join(GROUPS)})"),
        ("--ballots", POSITIVE_LIST, [10_000], "number of ciphertext rows N (default 10000)"),
        ("--width", POSITIVE_LIST, [1], "ballot width w (default 1)"),
        ("--workers", POSITIVE_LIST, [1], "worker processes for shuffle/prove/verify (default 1)"),
        ("--threshold", positive_int, 2, "shares combined in the combine phase (default 2)"),
        ("--seed", int, 1, "seed of the random inputs (default 1)"),
    ):
        c.add_argument(flag, type=kind, default=default, help=text)
    c.add_argument(
        "--from-json",
        type=existing_file,
        metavar="FILE",
        help="print the table of rows saved earlier with --json (measure nothing)",
    )
    c.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list of rows {group, ballots, width, workers, phase, "
        "per_second} instead of the table",
    )
    c.add_argument(
        "--backends",
        action="store_true",
        help="instead: the native core and the reference backends side by side on one core "
        "(micro rates, MSM points/s at N = the largest --ballots, verify floors, and shuffle+prove "
        "and verify rows/s, batch and per-equation, at up to that N)",
    )

    r = sub.add_parser(
        "run",
        help="run whole elections (mixdemo) over a grid and append raw records",
        description="Run whole elections through mixdemo over the grid of CONFIG (JSON or TOML) "
        "or a preset; command-line grid options replace the config's values. Each run appends "
        "one record to RESULTS/records.jsonl and RESULTS/records.csv; runs already recorded are "
        "skipped, so an interrupted grid resumes where it stopped.",
    )
    r.add_argument(
        "config", nargs="?", type=existing_file, help="grid configuration file (.json or .toml)"
    )
    r.add_argument("--preset", choices=("quick", "full"), help="a built-in grid")
    r.add_argument("--out", type=Path, help="results directory (default from the config)")
    r.add_argument("--ballots", type=POSITIVE_LIST, help="ballots N, e.g. 100,1000")
    r.add_argument("--nodes", type=POSITIVE_LIST, help="mix nodes k")
    r.add_argument("--threshold", type=POSITIVE_LIST, help="decryption threshold t")
    r.add_argument("--group", type=GROUP_LIST, help="group(s)")
    r.add_argument("--width", type=POSITIVE_LIST, help="ballot width w")
    r.add_argument("--workers", type=POSITIVE_LIST, help="worker processes per node")
    r.add_argument(
        "--fault",
        type=list_of(_fault_name, "fault name"),
        help="fault scenarios: none, crash, cheat, slow",
    )
    r.add_argument("--repetitions", type=positive_int, help="runs per grid point")
    r.add_argument("--timeout", type=positive_float, help="seconds allowed per run (mixdemo)")
    r.add_argument("--no-verify", action="store_true", help="skip full-record verification")
    r.add_argument("--dry-run", action="store_true", help="list the runs and exit")

    p = sub.add_parser(
        "plot",
        help="draw the recorded results (PNG and SVG) and write a Markdown summary",
        description="Read RESULTS (a results directory or a records .jsonl/.json file) and draw "
        "time per phase against N (log-log, fitted a·N+b), throughput against workers, the "
        "group comparison and fault detection/recovery times; write summary.md.",
    )
    p.add_argument("results", type=existing_path, help="results directory or records file")
    p.add_argument("--out", type=Path, help="output directory (default RESULTS/plots)")

    from experiments.verify_bench import add_arguments

    v = sub.add_parser(
        "verify",
        help="throughput of the standalone verifier on a whole election record",
        description="Verify an exported election record (or one generated with mixdemo) once per "
        "worker count and report the shuffle checks' rows per second, per worker, and against "
        "the group's floor on this machine. Exit status 1 when the record is rejected.",
    )
    add_arguments(v)

    ld = sub.add_parser(
        "load",
        help="ballot intake under load: N signed ballots through the HTTP API, C threads",
        description="Seal N real ballots with the credentials of a TEST election (the admin's "
        "credentials CSV), post them with C concurrent threads and report ballots/s, latency "
        "percentiles (p50, p90, p99, max) and errors by HTTP status; every receipt is checked. "
        "With --start-demo a server and mix nodes are started on loopback with a fresh test "
        "election (no --server/--election/--credentials then); --tally also mixes, decrypts "
        "and checks the tally. Only test elections are accepted.",
    )
    ld.add_argument("--server", type=http_url, metavar="URL", help="the election server")
    ld.add_argument("--election", type=election_id, metavar="EID", help="a test election, open")
    ld.add_argument("--credentials", type=existing_file, metavar="CSV",
                    help="the test election's credentials CSV (admin download)")
    ld.add_argument("--voters", type=positive_int, required=True, metavar="N",
                    help="ballots to cast (credentials are reused round-robin beyond their count, "
                    "under last-ballot-counts)")
    ld.add_argument("--concurrency", type=positive_int, default=1, metavar="C",
                    help="concurrent threads posting ballots (default 1)")
    ld.add_argument("--choices", type=POSITIVE_LIST, metavar="1,2,...",
                    help="choice numbers (from 1) cycled over the ballots (default: all in turn)")
    ld.add_argument("--timeout", type=positive_float, default=120.0, metavar="SECONDS",
                    help="time allowed per request (default 120)")
    ld.add_argument("--start-demo", action="store_true",
                    help="start a server, mix nodes and a test election with N credentials")
    ld.add_argument("--nodes", type=positive_int, default=3, help="with --start-demo (default 3)")
    ld.add_argument("--threshold", type=positive_int, default=2,
                    help="with --start-demo (default 2)")
    ld.add_argument("--group", type=group_name, default="secp256k1",
                    help="with --start-demo (default secp256k1)")
    ld.add_argument("--demo-choices", type=positive_int, default=3, metavar="K",
                    help="with --start-demo: number of choices (default 3)")
    ld.add_argument("--demo-data", type=Path, metavar="DIR",
                    help="with --start-demo: data directory (default a fresh temporary one)")
    ld.add_argument("--tally", action="store_true",
                    help="with --start-demo: then close, mix, decrypt and check the tally")
    ld.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                    help="progress bars on stderr (default: when stderr is a terminal)")
    ld.add_argument("--json", action="store_true", help="print one JSON row")
    return parser


def _check_load_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    target = [args.server, args.election, args.credentials]
    if args.start_demo:
        if any(v is not None for v in target):
            parser.error("load --start-demo takes no --server, --election or --credentials")
        if args.threshold > args.nodes:
            parser.error(f"--threshold {args.threshold} is more than --nodes {args.nodes}")
        if args.demo_choices < 2:
            parser.error("--demo-choices must be at least 2")
    else:
        if any(v is None for v in target):
            parser.error("load needs --server, --election and --credentials (or --start-demo)")
        demo_only = [("--tally", args.tally), ("--demo-data", args.demo_data is not None)]
        for name, given in demo_only:
            if given:
                parser.error(f"{name} needs --start-demo")


def _cmd_load(args: argparse.Namespace) -> int:
    from experiments.load import format_result, read_credentials_csv, run_load, start_demo

    progress = sys.stderr.isatty() if args.progress is None else args.progress
    choices = [c - 1 for c in args.choices] if args.choices else None

    def say(text: str) -> None:
        print(f"mixbench load: {text}", file=sys.stderr, flush=True)

    demo = None
    try:
        if args.start_demo:
            demo = start_demo(args.voters, args.nodes, args.threshold, args.group,
                              args.demo_choices, args.demo_data, say=say)  # fmt: skip
            server, eid, creds = demo.base, demo.election, demo.credentials
        else:
            server, eid = args.server, args.election
            creds = read_credentials_csv(args.credentials)
        result = run_load(server, eid, creds, args.voters, args.concurrency, choices,
                          progress, args.timeout)  # fmt: skip
        if demo is not None and args.tally:
            say("closing, mixing and decrypting")
            result.tally = demo.tally(max(600.0, args.voters * 2.0))
    finally:
        if demo is not None:
            demo.stop()
    row = result.row()
    print(json.dumps(row) if args.json else format_result(row))
    if row["tally_correct"] is False:
        return EXIT_FAILED
    return EXIT_OK if row["ok"] == args.voters else EXIT_FAILED


def _cmd_crypto(args: argparse.Namespace) -> int:
    from crypto.groups import backend_description
    from experiments.cryptobench import PHASES, ROW_KEYS, Row, format_table, run_grid

    print(f"backend: {backend_description()}", file=sys.stderr)
    if args.backends:
        from experiments.cryptobench import compare_backends, format_backends

        results = compare_backends(
            args.group,
            msm_points=max(args.ballots),
            seed=args.seed,
            proof_rows=max(args.ballots),
            progress=lambda text: print(f"measuring {text} ...", file=sys.stderr, flush=True),
        )
        print(format_backends(results, max(args.width)))
        return EXIT_OK

    if args.from_json:
        try:
            data = json.loads(args.from_json.read_text())
            rows = [Row(**{k: r[k] for k in ROW_KEYS}) for r in data]
        except (OSError, ValueError, TypeError, KeyError) as exc:
            print(f"mixbench crypto: {args.from_json}: not a list of rows ({exc})", file=sys.stderr)
            return EXIT_USAGE
        if any(r.phase not in PHASES for r in rows):
            print(f"mixbench crypto: {args.from_json}: unknown phase", file=sys.stderr)
            return EXIT_USAGE
        print(format_table(rows, args.threshold))
        return EXIT_OK
    if min(args.ballots) < 2:
        print("mixbench crypto: --ballots must be at least 2", file=sys.stderr)
        return EXIT_USAGE

    def say(text: str) -> None:
        if not args.json:
            print(f"measuring {text} ...", file=sys.stderr, flush=True)

    load_before = os.getloadavg()[0]
    rows = run_grid(
        args.group, args.ballots, args.width, args.workers, args.threshold, args.seed, progress=say
    )
    if args.json:
        print(json.dumps([r.as_dict() for r in rows], indent=1))
    else:
        print(format_table(rows, args.threshold))
        # a shared machine: the other tenants' load explains ratios that the code does not
        print(
            f"load average (1 min): {load_before:.2f} before, {os.getloadavg()[0]:.2f} after; "
            f"{os.cpu_count()} CPUs"
        )
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    from experiments.grid import ConfigError, load_config, run_grid_config
    from experiments.records import RecordError

    try:
        config = load_config(args.config, args.preset, args)
        return run_grid_config(config, dry_run=args.dry_run)
    except (ConfigError, RecordError) as exc:
        print(f"mixbench run: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _cmd_plot(args: argparse.Namespace) -> int:
    from experiments.plots import plot_results
    from experiments.records import RecordError

    try:
        written = plot_results(args.results, args.out)
    except RecordError as exc:
        print(f"mixbench plot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for path in written:
        print(path)
    return EXIT_OK


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _cmd_verify(args: argparse.Namespace) -> int:
    from experiments.verify_bench import run

    return run(args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "load":
        _check_load_args(parser, args)
    previous = None
    if args.command == "run":
        # a grid started in the background (SIGINT ignored) still stops cleanly on SIGTERM
        previous = signal.signal(signal.SIGTERM, _interrupt)
    commands = {"crypto": _cmd_crypto, "run": _cmd_run, "plot": _cmd_plot, "verify": _cmd_verify,
                "load": _cmd_load}
    try:
        return run_main("mixbench", lambda: commands[args.command](args))
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
