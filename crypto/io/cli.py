"""``mixverify``: the standalone verifier's command line.

It parses the arguments, reads the directory into a file map, calls the pure verifiers
(:mod:`crypto.verify`, :mod:`crypto.verificatum.directory`) and maps the outcome to an exit
status from :data:`crypto.errors.ERROR_TABLE` — 0 accepted, 1 rejected (a check failed), 2 usage
error or unreadable input, 3 a bug in mixvote (an internal error of the verifier, reported with
its traceback, never as a verdict).

Modes (subcommand-free, so that ``mixverify RECORD_DIR`` can be the main mode):

* ``mixverify RECORD_DIR [--json] [--workers K] [--server-key HEX] [--authority-key HEX]
  [--receipt FILE...] [--progress|--no-progress]`` checks a whole election from its exported
  record (:mod:`crypto.verify`, ``docs/record.md``): every check is listed, every failure with its
  location; a progress bar (tqdm, on stderr) on large records. With ``--receipt``, receipts a node
  or voter holds are checked against the record (a dropped or altered entry is reported as server
  misbehaviour, with the receipt as evidence). A test election's verdict comes with the line
  "test election: the server held the credentials".
* ``mixverify --verificatum DIR [--protinfo FILE] [--auxsid X] [--width W] [--json] [--workers K]``
  verifies a Verificatum shuffle-proof directory with mixvote's own code (``docs/verificatum.md``).
  ``DIR`` is the proof directory ``nizkp/<auxsid>/`` or the directory that holds ``protInfo.xml``
  and ``nizkp/``.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from crypto.errors import (
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    InternalError,
    MixvoteError,
    UsageError,
    medium_of,
)
from crypto.io.pool import process_map
from crypto.io.recorddir import locate_verificatum, read_directory
from crypto.receipts import Receipt, decode_receipt
from crypto.report import Check
from crypto.verificatum.directory import check_shuffle_directory
from crypto.verify import verify_record

TEST_ELECTION_NOTE = "test election: the server held the credentials"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mixverify",
        description=(
            "Verify mixvote election records and Verificatum shuffle proofs, offline. "
            "With RECORD_DIR (an exported record, see docs/record.md), check the whole election: "
            "hash chain and signatures, parameters, DKG, every ballot proof, the closed list, "
            "every hop's shuffle proof, every decryption share and the tally. "
            "With --verificatum DIR, check a Verificatum Mix-Net 3.1.0 shuffle-proof directory "
            "(nizkp/<auxsid>/, with protInfo.xml beside it) using mixvote's own verifier, which "
            "is stricter than Verificatum's vmnv. Exit status: 0 accepted, 1 rejected, 2 usage "
            "error or unreadable input."
        ),
    )
    parser.add_argument(
        "record_dir", nargs="?", metavar="RECORD_DIR", help="an exported election record directory"
    )
    parser.add_argument(
        "--verificatum",
        metavar="DIR",
        type=Path,
        help="a Verificatum proof directory (nizkp/<auxsid>/) or the directory holding "
        "protInfo.xml and nizkp/",
    )
    parser.add_argument(
        "--protinfo",
        metavar="FILE",
        type=Path,
        help="the protInfo.xml to use (default: found beside DIR, or two levels up)",
    )
    parser.add_argument(
        "--auxsid",
        metavar="X",
        help="the expected auxiliary session id (default: the directory's name under nizkp/, "
        "else whatever the auxsid file says)",
    )
    parser.add_argument(
        "--width", metavar="W", type=int, help="the expected ciphertext width (default: protInfo's)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document instead")
    parser.add_argument(
        "--workers", metavar="K", type=int, default=1, help="worker processes for the proofs"
    )
    parser.add_argument(
        "--server-key",
        metavar="HEX",
        help="RECORD_DIR mode: the server's Ed25519 public key (64 hex digits), obtained out of "
        "band; the record must be signed by it",
    )
    parser.add_argument(
        "--authority-key",
        metavar="HEX",
        help="RECORD_DIR mode: the credential authority's Ed25519 public key (64 hex digits), "
        "obtained from the authority; the credential list must be signed by it",
    )
    parser.add_argument(
        "--receipt",
        metavar="FILE",
        nargs="+",
        action="extend",
        default=[],
        type=Path,
        help="RECORD_DIR mode: receipts you hold (a receipt JSON, a JSON list of them, or one "
        "per line, as a node keeps them): every receipted entry must be in the record at its "
        "index with its hash, every receipted head a prefix of the chain",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="RECORD_DIR mode: progress bars on stderr (default: on a terminal, large records)",
    )
    return parser


def run_verificatum(args: argparse.Namespace, out: TextIO) -> int:
    """The ``--verificatum`` mode: check a Verificatum proof directory and report."""

    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    if args.width is not None and args.width < 1:
        raise UsageError("--width must be at least 1")
    directory, protinfo_path, auxsid = locate_verificatum(
        args.verificatum, args.protinfo, args.auxsid
    )
    files = read_directory(directory)
    if protinfo_path.resolve().parent == directory:
        files.pop("protInfo.xml", None)  # the protocol file itself, not part of the proofs
    try:
        protinfo_xml = protinfo_path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        protinfo_xml = "\x00"  # reported by the verifier as malformed XML, like any other defect

    def show(check: Check) -> None:
        status = "ok  " if check.ok else "FAIL"
        detail = f"  {check.detail}" if check.detail else ""
        print(f"{status}  {check.name}{detail}", file=out, flush=True)

    if not args.json:
        print(f"Verificatum proof directory {directory}", file=out)
        print(f"protInfo.xml {protinfo_path}", file=out)
    report = check_shuffle_directory(
        files,
        protinfo_xml,
        auxsid=auxsid,
        width=args.width,
        workers=args.workers,
        mapper=process_map(args.workers),
        progress=None if args.json else show,
    )
    verdict = "accepted" if report.ok else "rejected"
    if args.json:
        doc = {
            "mode": "verificatum",
            "directory": str(directory),
            "protinfo": str(protinfo_path),
            "verdict": verdict,
            "checks": [c.as_dict() for c in report.checks],
        }
        print(json.dumps(doc, indent=2), file=out)
    else:
        failures = len(report.failures)
        summary = "" if report.ok else f" ({failures} check{'s' if failures != 1 else ''} failed)"
        print(f"VERDICT: {verdict.upper()}{summary}", file=out)
    return EXIT_OK if report.ok else EXIT_REJECTED



#: Stages smaller than this get no progress bar (unless --progress is given).
PROGRESS_MIN = 1000


class _Bars:
    """tqdm progress bars on stderr, one per verification stage, created on first report."""

    def __init__(self, enabled: bool | None) -> None:
        self.enabled = enabled
        self.bars: dict[str, Any] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.enabled is False or (self.enabled is None and total < PROGRESS_MIN):
            return
        bar = self.bars.get(stage)
        if bar is None:
            from tqdm import tqdm

            units = {"chain": "entry", "ballots": "ballot", "shuffle": "row",
                     "decryption": "share"}
            bar = self.bars[stage] = tqdm(
                total=total, desc=stage, unit=units.get(stage, "it"), file=sys.stderr,
                leave=False, disable=None if self.enabled is None else False,
            )
        bar.total = total
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def _public_key_option(text: str | None, option: str) -> bytes | None:
    """The Ed25519 public key given as 64 hex digits to ``option``, or None if not given."""
    if text is None:
        return None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise UsageError(f"{option} must be 64 hex digits (an Ed25519 public key)")
    return key


def run_record(args: argparse.Namespace, out: TextIO) -> int:
    """The main mode: check an exported election record and report every check."""
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    server_key = _public_key_option(args.server_key, "--server-key")
    authority_key = _public_key_option(args.authority_key, "--authority-key")
    receipts = [r for path in args.receipt for r in read_receipts(path)]
    root = Path(args.record_dir)
    files = read_directory(root)
    bars = _Bars(args.progress)
    try:
        report = verify_record(files, workers=args.workers, mapper=process_map(args.workers),
                               server_key=server_key, authority_key=authority_key,
                               receipts=receipts, progress=bars)
    finally:
        bars.close()
    verdict = "accepted" if report.ok else "rejected"
    if args.json:
        doc = {"mode": "record", "directory": str(root), **report.as_dict()}
        if report.summary.get("test_election"):
            doc["note"] = TEST_ELECTION_NOTE
        print(json.dumps(doc, indent=2, ensure_ascii=False), file=out)
    else:
        print(f"election record {root} (election {report.election_id or '?'})", file=out)
        for check in report.checks:
            status = "ok  " if check.ok else "FAIL"
            print(f"{status}  {check}", file=out)
        failures = len(report.failures)
        summary = "" if report.ok else f" ({failures} check{'s' if failures != 1 else ''} failed)"
        if report.summary.get("test_election"):
            print(TEST_ELECTION_NOTE, file=out)
        print(f"VERDICT: {verdict.upper()}{summary}", file=out)
    return EXIT_OK if report.ok else EXIT_REJECTED


def read_receipts(path: Path) -> list[Receipt]:
    """The receipts in a file: one receipt object, a JSON list of them, or one per line;
    a malformed file is a usage error naming it."""
    text = path.read_text(encoding="utf-8")
    try:
        try:
            value = json.loads(text)
            items = value if isinstance(value, list) else [value]
        except ValueError:
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
        return [decode_receipt(item) for item in items]
    except (ValueError, MixvoteError) as exc:
        raise UsageError(f"{path}: not a receipt file ({exc})") from None


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Entry point of the ``mixverify`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    stream = sys.stdout if out is None else out
    try:
        if args.verificatum is not None:
            if args.record_dir is not None:
                raise UsageError("give either RECORD_DIR or --verificatum DIR, not both")
            return run_verificatum(args, stream)
        if args.record_dir is not None:
            return run_record(args, stream)
        raise UsageError("nothing to verify: give RECORD_DIR or --verificatum DIR")
    except UsageError as exc:
        print(f"mixverify: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"mixverify: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except InternalError as exc:
        # A bug in mixvote, not a verdict: say so, with the traceback a bug report needs.
        print(f"mixverify: internal error: {exc}", file=sys.stderr)
        traceback.print_exception(exc.__cause__ or exc, file=sys.stderr)
        print("mixverify: please report this as a bug in mixvote", file=sys.stderr)
        return EXIT_INTERNAL
    except MixvoteError as exc:
        print(f"mixverify: rejected: {exc}", file=sys.stderr)
        return medium_of(exc).exit_code


if __name__ == "__main__":
    sys.exit(main())
