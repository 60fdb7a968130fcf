"""``mixnode``: run a mix node, or create its identity.

    mixnode keygen --out FILE            create a node identity (mode 0600), print its public key
    mixnode pubkey --key FILE            print the public identity to enrol
    mixnode [run] --server URL --key FILE [--workers N] [--data DIR] [--token T]

Exit codes: 0 on success or Ctrl-C, 1 for a bad key file or an unusable data directory,
2 for bad arguments.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from crypto.errors import MixvoteError
from crypto.transport import NodeIdentity
from mixnode.client import NodeClient, write_private
from mixnode.protocol import CHEATS


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mixnode",
        description="mixvote mix node: key generation, verifiable shuffles, decryption shares.",
    )
    sub = p.add_subparsers(dest="command")
    kg = sub.add_parser("keygen", help="create a node identity file (mode 0600)")
    kg.add_argument("--out", required=True, type=Path, help="where to write the identity")
    kg.add_argument("--force", action="store_true", help="overwrite an existing file")
    pk = sub.add_parser("pubkey", help="print the public identity (hex) to enrol")
    pk.add_argument("--key", required=True, type=Path)
    run = sub.add_parser("run", help="connect to a server and serve (the default command)")
    for parser in (p, run):
        parser.add_argument("--server", help="server URL, e.g. http://127.0.0.1:8080")
        parser.add_argument("--key", type=Path, help="node identity file (from keygen)")
        parser.add_argument(
            "--workers", type=int, default=1, help="processes for shuffling and proving (default 1)"
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
            "--cheat",
            choices=CHEATS,
            default=None,
            help="TEST MODE: misbehave on purpose to exercise the server's checks",
        )
        parser.add_argument("--quiet", action="store_true", help="print nothing")
    return p


def load_identity(path: Path) -> NodeIdentity:
    data = path.read_bytes()
    try:
        return NodeIdentity.from_bytes(bytes.fromhex(data.decode().strip()))
    except (UnicodeDecodeError, ValueError):
        return NodeIdentity.from_bytes(data)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "keygen":
        if args.out.exists() and not args.force:
            print(f"mixnode: {args.out} exists (use --force to overwrite)", file=sys.stderr)
            return 1
        identity = NodeIdentity.generate()
        write_private(args.out, identity.to_bytes().hex().encode() + b"\n")
        print(identity.public_bytes().hex())
        return 0
    if not args.key:
        print("mixnode: --key FILE is required", file=sys.stderr)
        return 2
    try:
        identity = load_identity(args.key)
    except (OSError, MixvoteError) as exc:
        print(f"mixnode: cannot load the identity {args.key}: {exc}", file=sys.stderr)
        return 1
    if args.command == "pubkey":
        print(identity.public_bytes().hex())
        return 0
    if not args.server:
        print("mixnode: --server URL is required", file=sys.stderr)
        return 2
    try:
        client = NodeClient(
            args.server,
            identity,
            args.data,
            workers=args.workers,
            token=args.token,
            election_id=args.election,
            cheat=args.cheat,
            quiet=args.quiet,
        )
    except OSError as exc:
        print(f"mixnode: cannot use the data directory {args.data}: {exc}", file=sys.stderr)
        return 1

    def on_signal(signum: int, frame: object) -> None:
        client.request_stop()  # websocket-client would swallow a KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return client.run()


if __name__ == "__main__":
    sys.exit(main())
