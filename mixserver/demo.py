"""``mixdemo``: a whole election on loopback — one server, K mix nodes, N generated ballots.

    mixdemo --ballots N --nodes K --threshold T [--group G] [--data DIR] [--export DIR] [--json]
            [--normal-election]

By default the election is a *test* election: the server is the credential authority and hands
mixdemo the credentials (shown on every page, in the results and by ``mixverify``). With
``--normal-election`` mixdemo is an external authority: it makes the credentials itself and
uploads only the signed public list, as a real election does.

A thin command line over :mod:`mixserver.harness`: starts ``mixserver`` and K ``mixnode``
processes, creates an election through the admin API, enrols the nodes, waits for key generation,
casts N voter-signed ballots through the same HTTP endpoint voters use, closes, mixes, decrypts,
exports the record and prints the tally (checked against the ballots cast) and per-phase timings.
Exit codes (:mod:`crypto.io.commands`): 0 when the tally is right, 1 when it is not or a phase
fails, 2 for bad arguments, 3 for an internal error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Any

from crypto.io.commands import (
    EXIT_FAILED,
    EXIT_OK,
    ArgumentParser,
    add_version,
    group_name,
    non_negative_int,
    port_or_any,
    positive_float,
    positive_int,
    run_main,
)
from mixnode.faults import MODES as FAULT_MODES
from mixserver.harness import DemoConfig, HarnessError, run_election

DESCRIPTION = (
    "A whole mixvote election on loopback: one server, K mix node processes and N generated "
    "ballots cast through the voters' HTTP endpoint; then mixing, decryption, the record's "
    "export and the tally, checked against the ballots cast. Exit status: 0 when the tally is "
    "right, 1 when it is not or a phase fails, 2 for bad arguments."
)


def _fault_spec(text: str) -> tuple[int, str]:
    pos, sep, mode = text.partition(":")
    if not sep or mode not in FAULT_MODES:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not POS:MODE with MODE one of {', '.join(FAULT_MODES)}"
        )
    return positive_int(pos), mode


def _pause_spec(text: str) -> tuple[int, float]:
    pos, sep, seconds = text.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r} is not POS:SECONDS")
    return positive_int(pos), positive_float(seconds)


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="mixdemo", description=DESCRIPTION)
    add_version(p, "mixdemo")
    for flag, kind, default, text in (
        ("--ballots", non_negative_int, 100, "number of ballots (default 100)"),
        ("--nodes", positive_int, 3, "mix nodes K (default 3)"),
        ("--threshold", positive_int, 2, "decryption threshold T (default 2)"),
        ("--group", group_name, "secp256k1", "group (default secp256k1)"),
        ("--width", positive_int, 1, "ballot width (default 1)"),
        ("--choices", positive_int, 3, "number of options (default 3)"),
        ("--data", Path, None, "data directory (default: a fresh temporary one)"),
        ("--export", Path, None, "export the election record to this directory"),
        ("--seed", int, 1, "seed of the generated choices"),
        ("--node-workers", positive_int, 1, "processes per node"),
        ("--server-workers", positive_int, 1, "server verifier processes"),
        ("--hop-timeout", positive_float, 600.0, "seconds per hop (default 600)"),
        ("--timeout", positive_float, 1800.0,
         "seconds allowed for mixing and decryption (default 1800)"),
    ):
        p.add_argument(flag, type=kind, default=default, help=text)
    p.add_argument("--json", action="store_true", help="print one JSON summary")
    p.add_argument("--log", action="store_true", help="keep server/node output in DATA/demo.log")
    p.add_argument(
        "--serve",
        action="store_true",
        help="keep the server, its web UI and the nodes running after the election (Ctrl-C stops)",
    )
    p.add_argument(
        "--port", type=port_or_any, default=0, help="server port (default 0: any free port)"
    )
    p.add_argument(
        "--abstain",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="N more registered voters who never vote (default 0)",
    )
    p.add_argument(
        "--normal-election",
        action="store_true",
        help="run a normal election: mixdemo acts as an external credential authority and "
        "uploads the signed public list (default: a test election, the server holds the "
        "credentials)",
    )
    f = p.add_argument_group("fault injection (tests and experiments)")
    f.add_argument(
        "--cheat",
        type=_fault_spec,
        action="append",
        default=[],
        metavar="POS:MODE",
        help=f"node POS misbehaves with MODE (one of {', '.join(FAULT_MODES)}), "
        "e.g. 2:forged-proof",
    )
    f.add_argument(
        "--crash-node",
        type=positive_int,
        metavar="POS",
        help="kill node POS (all its processes) once it starts shuffling",
    )
    f.add_argument(
        "--pause-node",
        type=_pause_spec,
        metavar="POS:SECONDS",
        help="SIGSTOP node POS for SECONDS once it starts shuffling",
    )
    return p


def config_from(args: argparse.Namespace) -> DemoConfig:
    return DemoConfig(
        ballots=args.ballots, nodes=args.nodes, threshold=args.threshold, group=args.group,
        width=args.width, choices=args.choices, data=args.data, export=args.export,
        seed=args.seed, node_workers=args.node_workers, server_workers=args.server_workers,
        hop_timeout=args.hop_timeout, timeout=args.timeout, port=args.port, log=args.log,
        faults=dict(args.cheat), crash_node=args.crash_node, pause_node=args.pause_node,
        test=not args.normal_election, abstain=args.abstain,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    config = config_from(args)
    try:
        config.check()
    except ValueError as exc:
        parser.error(str(exc))
    # `timeout`, a CI runner or mixbench end us with SIGTERM: stop the server and nodes too.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    say = (lambda text: None) if args.json else (lambda text: print(text, flush=True))

    def body() -> int:
        try:
            summary = run_election(
                config, say, on_done=serve_until_interrupted if args.serve else None
            )
        except (HarnessError, TimeoutError, OSError) as exc:
            print(f"mixdemo: failed: {exc}", file=sys.stderr)
            return EXIT_FAILED
        if not args.serve:
            print_summary(summary, args.json)
        return EXIT_OK if summary["correct"] else EXIT_FAILED

    return run_main("mixdemo", body)


def print_summary(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, indent=1))
        return
    print(f"tally: {summary['tally']}  ({'correct' if summary['correct'] else 'WRONG'})")
    if summary.get("test_election"):
        print("test election: the server held the credentials")
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
        signal.pause()  # until Ctrl-C (SIGINT) or SIGTERM


if __name__ == "__main__":
    sys.exit(main())
