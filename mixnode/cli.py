"""``mixnode``: run a mix node, or create its identity.

    mixnode keygen --out FILE            create a node identity (mode 0600), print its public key
    mixnode pubkey --key FILE            print the public identity to enrol
    mixnode [run] --server URL --key FILE [--workers N] [--data DIR] [--token T]
                  [--give-up-after SECONDS] [--expect-fingerprint HEX]
    mixnode audit RECORD_DIR [--data DIR]   check the receipts this node kept against a record

``--expect-fingerprint`` (the full or short form of the election fingerprint, from the election's
organisers): the node refuses to take part in an election with another fingerprint. The node
prints the fingerprint it signs when key generation starts.

``audit`` exits 0 when the record keeps every entry the node holds a receipt for, 1 when it does
not (each broken promise printed as server misbehaviour, with the receipt as evidence).

Exit codes (:mod:`crypto.io.commands`):
0 on success or Ctrl-C, 1 for a bad key file, an unusable data
directory or a server given up on, 2 for bad arguments, 3 for an internal error.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from crypto.errors import MixvoteError
from crypto.io.commands import (
    EXIT_FAILED,
    EXIT_OK,
    ArgumentParser,
    add_version,
    existing_file,
    positive_float,
    positive_int,
    run_main,
    url,
)
from crypto.io.files import write_private
from crypto.transport import NodeIdentity
from mixnode import faults
from mixnode.client import NodeClient

DESCRIPTION = (
    "mixvote mix node: key generation, verifiable shuffles, decryption shares. "
    "Without a command, runs the node (as 'mixnode run'). Exit status: 0 on success or Ctrl-C, "
    "1 for a bad key file, an unusable data directory or a server given up on, "
    "2 for bad arguments."
)


def fingerprint_text(text: str) -> str:
    """An argparse type: a fingerprint's full (64 hex digits) or short (32) form."""
    from crypto.fingerprint import fingerprint_matches

    if not text:
        return text  # the default: no fingerprint expected
    try:
        fingerprint_matches(bytes(32), text)
    except MixvoteError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _add_run_options(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument(
        "--server",
        type=url,
        required=required,
        help="server URL (http, https, ws or wss), e.g. http://127.0.0.1:8080",
    )
    parser.add_argument(
        "--key", type=existing_file, required=required, help="node identity file (from keygen)"
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="processes for shuffling and proving (default 1)",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=Path("mixnode-data"),
        help="data directory for key shares (default ./mixnode-data)",
    )
    parser.add_argument("--token", default="", help="one-time enrolment token from the admin")
    parser.add_argument("--election", default="", help="election id (default: any enrolled)")
    parser.add_argument(
        "--give-up-after",
        type=positive_float,
        default=300.0,
        metavar="SECONDS",
        help="exit with status 1 after this long without a session with the server "
        "(unreachable, or refusing the node); reconnection attempts back off exponentially "
        "with jitter up to 10 s apart (default 300)",
    )
    parser.add_argument(
        "--expect-fingerprint",
        type=fingerprint_text,
        default="",
        metavar="HEX",
        help="the election fingerprint (full or short form) this node agrees to: it refuses "
        "to take part in an election with another one",
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing")


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="mixnode", description=DESCRIPTION)
    add_version(p, "mixnode")
    sub = p.add_subparsers(dest="command", metavar="{keygen,pubkey,run,audit}")
    kg = sub.add_parser("keygen", help="create a node identity file (mode 0600)")
    kg.add_argument("--out", required=True, type=Path, help="where to write the identity")
    kg.add_argument("--force", action="store_true", help="overwrite an existing file")
    pk = sub.add_parser("pubkey", help="print the public identity (hex) to enrol")
    pk.add_argument("--key", required=True, type=existing_file, help="node identity file")
    audit = sub.add_parser(
        "audit", help="check the receipts kept in the data directory against an exported record"
    )
    audit.add_argument("record", type=Path, metavar="RECORD_DIR", help="an exported record")
    audit.add_argument(
        "--data", type=Path, default=Path("mixnode-data"),
        help="the node's data directory (default ./mixnode-data)",
    )
    run = sub.add_parser("run", help="connect to a server and serve (the default command)")
    _add_run_options(run, required=True)
    _add_run_options(p, required=False)  # `mixnode --server … --key …` means `mixnode run …`
    return p


def load_identity(path: Path) -> NodeIdentity:
    data = path.read_bytes()
    try:
        return NodeIdentity.from_bytes(bytes.fromhex(data.decode().strip()))
    except (UnicodeDecodeError, ValueError):
        return NodeIdentity.from_bytes(data)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        missing = [name for name in ("server", "key") if getattr(args, name) is None]
        if missing:
            parser.error(f"the following arguments are required: --{', --'.join(missing)}")
    return run_main("mixnode", lambda: _main(args))


def audit(record: Path, data: Path) -> int:
    """Check every receipt the node kept for the record's election against the record."""
    import json

    from crypto.io.recorddir import read_directory
    from crypto.receipts import check_receipts
    from crypto.record import decode_entry
    from mixnode.client import load_receipts

    files = read_directory(record)
    try:
        index = json.loads(files["index.json"])
        entries = [decode_entry(files[row["file"]], f"entry {k}") for k, row in enumerate(index)]
    except (KeyError, TypeError, ValueError) as exc:
        print(f"mixnode: {record} is not a readable record: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if not entries:
        print(f"mixnode: {record} holds no entries", file=sys.stderr)
        return EXIT_FAILED
    eid = entries[0].election_id
    receipts = load_receipts(data, eid).get(eid, [])
    if not receipts:
        print(f"no receipts for election {eid} in {data}: nothing to check")
        return EXIT_OK
    findings = []
    for server in sorted({r.server for r in receipts}):
        held = [r for r in receipts if r.server == server]
        findings += check_receipts(held, entries, eid, server)
    for f in findings:
        print(f"SERVER MISBEHAVIOUR: {f}")
    if findings:
        print(f"audit of election {eid}: {len(findings)} broken promise(s) in {record}")
        return EXIT_FAILED
    print(f"audit of election {eid}: the record keeps all {len(receipts)} receipted entries "
          f"and heads (up to {max(r.head_size for r in receipts)} entries)")
    return EXIT_OK


def _main(args: argparse.Namespace) -> int:
    if args.command == "audit":
        try:
            return audit(args.record, args.data)
        except MixvoteError as exc:
            print(f"mixnode: audit: {exc}", file=sys.stderr)
            return EXIT_FAILED
    if args.command == "keygen":
        if args.out.exists() and not args.force:
            print(f"mixnode: {args.out} exists (use --force to overwrite)", file=sys.stderr)
            return EXIT_FAILED
        identity = NodeIdentity.generate()
        write_private(args.out, identity.to_bytes().hex().encode() + b"\n")
        print(identity.public_bytes().hex())
        return EXIT_OK
    try:
        identity = load_identity(args.key)
    except (OSError, MixvoteError) as exc:
        print(f"mixnode: cannot load the identity {args.key}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.command == "pubkey":
        print(identity.public_bytes().hex())
        return EXIT_OK
    fault = faults.from_environment()  # an unknown MIXVOTE_FAULT is a usage error (exit 2)
    delay = faults.delay_from_environment() if fault == "slow" else faults.DEFAULT_DELAY
    if fault is not None:
        print(f"mixnode: fault injection on ({faults.ENV}={fault})", file=sys.stderr, flush=True)
    try:
        client = NodeClient(
            args.server,
            identity,
            args.data,
            workers=args.workers,
            token=args.token,
            election_id=args.election,
            mix=faults.mix_function(fault, delay),
            decrypt=faults.decrypt_function(fault, delay),
            quiet=args.quiet,
            give_up_after=args.give_up_after,
            expect_fingerprint=args.expect_fingerprint,
        )
    except OSError as exc:
        print(f"mixnode: cannot use the data directory {args.data}: {exc}", file=sys.stderr)
        return EXIT_FAILED

    def on_signal(signum: int, frame: object) -> None:
        client.request_stop()  # websocket-client would swallow a KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return client.run()


if __name__ == "__main__":
    sys.exit(main())
