"""``mixvote-vote``: the command-line voter (the same crypto as the server, the same HTTP API as the
browser booth; ``docs/voter.md``).

* ``mixvote-vote show --server URL --election EID`` — the election: title, question, numbered
  choices, phase, fingerprint, and whether it is a test election.
* ``mixvote-vote cast --server URL --election EID --credential FILE --choice N|NAME
  [--expect-fingerprint HEX] [--receipt-out FILE]`` — encrypts the choice, proves knowledge of the
  randomness (bound to the election and the voter id), signs with the credential over (election
  fingerprint, ciphertext row, proof), submits it without any Authorization header, checks the
  server's signed receipt against the server key the election published (entry 0 of the board)
  and saves the receipt in the browser booth's format. The bytes are the booth's for the same
  randomness (``make_ballot_with``; ``webui/static/js/mixvote-crypto.js`` ``makeBallot``).
* ``mixvote-vote audit --server URL --election EID --choice N [--out FILE]`` — a Benaloh
  challenge: makes a ballot, keeps its randomness, never casts it, and checks that it encrypts the
  choice under the election's key; the audit file is the booth's (``kind:
  mixvote-audited-ballot``). ``mixvote-vote audit --check FILE --server URL`` checks such a file
  (made here or by a browser) on another device, against the key this command fetches itself.
* ``mixvote-vote check --server URL --election EID --receipt FILE`` — finds the ballot on the
  board at its index with its hash, checks the receipt's signature and the receipted chain head,
  and reports whether the ballot is still the one that counts.

Choices are numbered from 1, as ``show`` prints them. Progress goes to stderr, results to stdout
(``--json`` for scripts). Exit status (:data:`crypto.errors.ERROR_TABLE`): 0 done, 1 refused or a
check failed (wrong fingerprint, credential not of this election, voting not open, an audit or
receipt that does not check out, an unreachable server), 2 usage error or unreadable file, 3 a bug.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from crypto.ballot import (
    FIRST_BALLOT_COUNTS,
    decode_ballot_proof,
    verify_ballot,
)
from crypto.credentials import (
    generate_credential,
    verify_ballot_signature,
)
from crypto.elgamal import (
    decode_ciphertext,
)
from crypto.errors import (
    EXIT_OK,
    EXIT_REJECTED,
    InvalidProof,
    ProtocolViolation,
    UsageError,
)
from crypto.fingerprint import fingerprint_matches, format_fingerprint
from crypto.io.commands import (
    ArgumentParser,
    add_version,
    election_id,
    existing_file,
    http_url,
    positive_float,
    run_main,
)
from crypto.io.voting import (
    HEX_DIGITS,
    AuditReport,
    Client,
    Election,
    audit_ballot,
    audit_document,
    check_cast_answer,
    check_receipt_on_board,
    choice_index,
    hex_value,
    make_ballot,
    parse_audit,
    parse_receipt_file,
    read_credential,
    read_json,
    receipt_document,
    signed_ballot,
)

PROG = "mixvote-vote"


# --- commands ----------------------------------------------------------------------------------
class Output:
    """Progress on stderr (unless --quiet), results on stdout (text or one JSON document)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.json = bool(args.json)
        self.quiet = bool(args.quiet)

    def say(self, text: str) -> None:
        if not self.quiet:
            print(f"{PROG}: {text}", file=sys.stderr, flush=True)

    def result(self, text: str, data: Mapping[str, Any]) -> None:
        print(json.dumps(data, indent=1) if self.json else text, flush=True)


def _client(args: argparse.Namespace) -> Client:
    return Client(args.server, timeout=args.timeout)


def _election_json(e: Election) -> dict[str, Any]:
    return {
        "election": e.id, "title": e.title, "question": e.question,
        "choices": [{"number": i + 1, "name": c} for i, c in enumerate(e.choices)],
        "phase": e.phase, "policy": e.policy, "test_election": e.test,
        "fingerprint": e.fingerprint.hex() if e.fingerprint else None,
        "fingerprint_display": format_fingerprint(e.fingerprint) if e.fingerprint else None,
    }  # fmt: skip


def cmd_show(args: argparse.Namespace, out: Output) -> int:
    e = _client(args).election(args.election)
    lines = [
        *(["TEST ELECTION: test ballots and test credentials, not a real vote."] if e.test
          else []),
        f"Election:     {e.id}",
        f"Title:        {e.title}",
        f"Question:     {e.question}",
        "Choices:",
        *(f"  {i + 1}. {c}" for i, c in enumerate(e.choices)),
        f"Phase:        {e.phase}" + ("  (voting is open)" if e.phase == "voting" else ""),
        f"Policy:       {e.policy.replace('-', ' ')}",
        f"Fingerprint:  {e.fingerprint_display}",
        f"Test election: {'yes' if e.test else 'no'}",
    ]  # fmt: skip
    out.result("\n".join(lines), _election_json(e))
    return EXIT_OK


def _check_fingerprint(election: Election, expected: str | None, out: Output) -> None:
    _pk, fingerprint = election.require_key()
    if expected is None:
        out.say(f"election fingerprint {format_fingerprint(fingerprint)}: compare it with the "
                "one on your card (or pass --expect-fingerprint)")  # fmt: skip
        return
    if not fingerprint_matches(fingerprint, expected):
        raise InvalidProof(
            f"the election's fingerprint {format_fingerprint(fingerprint)} is not the expected "
            f"{expected.strip()[:80]}: this is not the election on your card; do not vote here"
        )
    out.say("the election fingerprint matches the expected one")


def _write_new(path: Path, data: Mapping[str, Any]) -> None:
    """Write JSON to a file that must not exist yet (never overwrite a receipt or an audit)."""
    try:
        with path.open("x", encoding="utf-8") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
    except FileExistsError:
        raise UsageError(f"{path} exists already (give another --receipt-out / --out)") from None


def cmd_cast(args: argparse.Namespace, out: Output) -> int:
    credential = read_credential(args.credential)
    client = _client(args)
    out.say(f"fetching election {args.election} from {client.base}")
    election = client.election(args.election)
    choice = choice_index(election, args.choice)
    if election.phase != "voting":
        raise ProtocolViolation(f"voting is not open in election {election.id} (phase "
                                f"{election.phase}): no ballot was sent")  # fmt: skip
    pk, fingerprint = election.require_key()
    _check_fingerprint(election, args.expect_fingerprint, out)
    server_key = client.server_key(election.id)
    receipt_path = args.receipt_out or Path(f"receipt-{election.id}-{credential.voter_id[:8]}-"
                                            f"{int(time.time())}.json")  # fmt: skip
    if receipt_path.exists():
        raise UsageError(f"{receipt_path} exists already (give another --receipt-out)")
    out.say(f"encrypting choice {choice + 1} ({election.choices[choice]!r}) for voter "
            f"{credential.voter_id}")  # fmt: skip
    made = make_ballot(pk, election.id, credential.voter_id, choice, election.width)
    body = signed_ballot(made, credential, fingerprint)
    # our own checks first: a ballot the server would refuse is a bug here, not its fault
    verify_ballot(pk, decode_ciphertext(election.group, bytes.fromhex(body["ciphertext"]),
                                        election.width),
                  decode_ballot_proof(election.group, bytes.fromhex(body["proof"]),
                                      election.width), election.id, credential.voter_id)
    verify_ballot_signature(credential.public, fingerprint, bytes.fromhex(body["ciphertext"]),
                            bytes.fromhex(body["proof"]), bytes.fromhex(body["signature"]))
    out.say("submitting the signed ballot")
    try:
        answer = client.request("POST", f"/api/elections/{quote(election.id)}/ballots", body)
    except ProtocolViolation as exc:
        if "not a voter credential" in str(exc):
            raise ProtocolViolation(
                f"this credential (voter {credential.voter_id}) is not one of election "
                f"{election.id}'s voters: the server refused the ballot"
            ) from None
        raise
    receipt = check_cast_answer(answer, election.id, made, server_key)
    doc = receipt_document(election, made, receipt)
    _write_new(receipt_path, doc)
    out.say(f"receipt saved to {receipt_path}; looking for the ballot on the board")
    on_board = check_receipt_on_board(client, doc, receipt)
    policy = ("this election counts your first ballot: it is final"
              if election.policy == FIRST_BALLOT_COUNTS
              else "you may vote again until voting closes: a new ballot replaces this one")
    text = "\n".join([
        f"Your ballot is cast: board entry {receipt.index}.",
        f"Tracker:      {made.tracker}",
        f"Entry hash:   {receipt.entry_hash.hex()}",
        f"Receipt:      {receipt_path} (signed by server {server_key.hex()[:16]}…, checked)",
        f"On the board: entry {on_board.index}"
        + (", with this tracker" if on_board.tracker_checked else ""),
        f"Note:         {policy}.",
    ])  # fmt: skip
    out.result(text, {**doc, "receipt_file": str(receipt_path)})
    return EXIT_OK


def _audit_text(election: Election, report: AuditReport, tracker: str) -> str:
    lines = []
    if report.ok and report.choice is not None:
        name = election.choices[report.choice] if report.choice < len(election.choices) else (
            f"choice {report.choice + 1}")
        lines.append(f"This ballot encrypts choice {report.choice + 1} ({name!r}) under this "
                     "election's key. Every check passed.")  # fmt: skip
    else:
        lines.append("This ballot does NOT check out: do not trust the device that made it.")
    lines.append(f"Tracker:      {tracker}")
    lines.append("Checks:")
    lines += [f"  {'ok ' if ok else 'BAD'} {what}" for what, ok in report.checks]
    return "\n".join(lines)


def _audit_json(report: AuditReport, tracker: str) -> dict[str, Any]:
    return {"ok": report.ok,
            "choice": None if report.choice is None else report.choice + 1,
            "tracker": tracker,
            "checks": [{"what": w, "ok": ok} for w, ok in report.checks]}  # fmt: skip


def cmd_audit(args: argparse.Namespace, out: Output) -> int:
    client = _client(args)
    if args.check is not None:
        eid, voter, wire, randomness = parse_audit(read_json(args.check, "audit"))
        if args.election is not None and args.election != eid:
            raise UsageError(f"the audit is for election {eid}, not {args.election}")
        out.say(f"fetching election {eid}'s key from {client.base} (not from the audit file)")
        election = client.election(eid)
        pk, _fp = election.require_key()
        if wire["width"] != election.width:
            raise InvalidProof(f"the audited ballot has width {wire['width']}, this election "
                               f"{election.width}")  # fmt: skip
        report = audit_ballot(pk, eid, voter, wire, randomness)
        tracker = hashlib.sha256(hex_value(wire["ciphertext"], "ciphertext")).hexdigest()
        out.result(_audit_text(election, report, tracker),
                   {"election": eid, **_audit_json(report, tracker)})  # fmt: skip
        return EXIT_OK if report.ok else EXIT_REJECTED
    if args.election is None or args.choice is None:
        raise UsageError("audit needs --election and --choice (or --check FILE)")
    election = client.election(args.election)
    choice = choice_index(election, args.choice)
    pk, _fp = election.require_key()
    voter = read_credential(args.credential).voter_id if args.credential else (
        generate_credential().voter_id)
    if args.out is not None and args.out.exists():
        raise UsageError(f"{args.out} exists already (give another --out)")
    out.say(f"making a ballot for choice {choice + 1} to audit; it will never be cast")
    made = make_ballot(pk, election.id, voter, choice, election.width)
    report = audit_ballot(pk, election.id, voter, made.wire, made.randomness)
    if report.ok and report.choice != choice:
        report = AuditReport(report.choice, (*report.checks, ("it holds the choice made", False)))
    doc = audit_document(election, made)
    if args.out is not None:
        _write_new(args.out, doc)
        out.say(f"audit written to {args.out}: check it on another device with "
                f"'{PROG} audit --check {args.out} --server URL'")  # fmt: skip
    out.result(_audit_text(election, report, made.tracker),
               {"election": election.id, **_audit_json(report, made.tracker), "audit": doc})
    return EXIT_OK if report.ok else EXIT_REJECTED


def cmd_check(args: argparse.Namespace, out: Output) -> int:
    doc, receipt = parse_receipt_file(read_json(args.receipt, "receipt"))
    if args.election is not None and args.election != receipt.election_id:
        raise UsageError(f"the receipt is for election {receipt.election_id}, "
                         f"not {args.election}")  # fmt: skip
    client = _client(args)
    out.say(f"looking for board entry {receipt.index} of election {receipt.election_id}")
    result = check_receipt_on_board(client, doc, receipt)
    counted = ("yes: it is the ballot that counts for this credential" if result.counted
               else "no: a later ballot of the same credential replaced it")
    text = "\n".join([
        f"Found on the board: entry {result.index}, hash {result.entry_hash}",
        f"Tracker:      {doc['tracker']}"
        + ("" if result.tracker_checked else " (the board shows only the ciphertext's size)"),
        f"Receipt:      signature valid (server {result.server_key[:16]}…); the receipted head "
        f"(entry {result.head_size - 1}) is on the board",
        f"Counted:      {counted}",
    ])  # fmt: skip
    out.result(text, {"election": receipt.election_id, "index": result.index,
                      "entry_hash": result.entry_hash, "tracker": doc["tracker"],
                      "receipt_valid": True, "counted": result.counted})  # fmt: skip
    return EXIT_OK


# --- arguments -----------------------------------------------------------------------------------
def fingerprint_text(text: str) -> str:
    compact = "".join(text.split()).replace("-", "").lower()
    if len(compact) not in (32, 64) or any(c not in HEX_DIGITS for c in compact):
        raise argparse.ArgumentTypeError(
            f"{text[:80]!r} is not a fingerprint (32 or 64 hex digits, spaces allowed)"
        )
    return text


def choice_text(text: str) -> str:
    if not text.strip() or len(text) > 1000:
        raise argparse.ArgumentTypeError("a choice number (from 1) or a choice's name")
    return text


def new_file(text: str) -> Path:
    path = Path(text)
    if path.exists():
        raise argparse.ArgumentTypeError(f"{text} exists already")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{path.parent}: no such directory")
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog=PROG,
        description="Vote from the command line: show an election, cast a ballot with your "
        "credential, audit a ballot (Benaloh challenge) and check your receipt on the board. "
        "Uses the same cryptography as the server and the same HTTP API as the browser booth; "
        "your credential never leaves this machine. Exit status: 0 done, 1 refused or a check "
        "failed, 2 usage error or unreadable file, 3 a bug.",
    )
    add_version(parser, PROG)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=ArgumentParser)  # fmt: skip

    def common(p: argparse.ArgumentParser, election_required: bool = True) -> None:
        p.add_argument("--server", required=True, type=http_url, metavar="URL",
                       help="the election server, e.g. http://127.0.0.1:8080")
        p.add_argument("--election", required=election_required, type=election_id,
                       metavar="EID", help="the election id (from its page or your card)")
        p.add_argument("--json", action="store_true", help="print the result as JSON")
        p.add_argument("--quiet", action="store_true", help="no progress on stderr")
        p.add_argument("--timeout", type=positive_float, default=60.0, metavar="SECONDS",
                       help="time allowed per HTTP request (default 60)")

    show = sub.add_parser("show", help="print the election, its fingerprint and its choices",
                          description="Print the election: title, question, the numbered "
                          "choices, its phase, its fingerprint and whether it is a test "
                          "election.")  # fmt: skip
    common(show)

    cast = sub.add_parser("cast", help="encrypt, prove, sign and submit a ballot",
                          description="Cast a ballot: encrypt the choice under the election key, "
                          "prove it, sign it with your credential, submit it, check the server's "
                          "signed receipt and save it (JSON, as the browser booth's receipt).")
    common(cast)
    cast.add_argument("--credential", required=True, type=existing_file, metavar="FILE",
                      help="your credential card (or a file holding just the credential)")
    cast.add_argument("--choice", required=True, type=choice_text, metavar="N|NAME",
                      help="the choice: its number as 'show' prints it (from 1) or its name")
    cast.add_argument("--expect-fingerprint", type=fingerprint_text, metavar="HEX",
                      help="refuse to vote unless the election has this fingerprint (full or "
                      "short form, as printed on your card)")
    cast.add_argument("--receipt-out", type=new_file, metavar="FILE",
                      help="where to save the receipt (must not exist; default "
                      "receipt-<election>-<voter>-<time>.json here)")

    audit = sub.add_parser("audit", help="make a ballot and check it without casting it, or "
                           "check an audit file",
                           description="Benaloh challenge: make a ballot, keep its randomness, do "
                           "not cast it, and check that it encrypts the choice under this "
                           "election's key. With --check FILE, check an audit made here or by "
                           "the browser booth (its JSON), against the key fetched from the "
                           "server.")  # fmt: skip
    common(audit, election_required=False)
    audit.add_argument("--choice", type=choice_text, metavar="N|NAME",
                       help="the choice to audit (number from 1, or name)")
    audit.add_argument("--credential", type=existing_file, metavar="FILE",
                       help="bind the proof to your voter id, as the booth does (optional)")
    audit.add_argument("--out", type=new_file, metavar="FILE",
                       help="write the audit (the booth's JSON) to FILE (must not exist)")
    audit.add_argument("--check", type=existing_file, metavar="FILE",
                       help="check this audit file instead of making a ballot")

    check = sub.add_parser("check", help="find your ballot on the board and check the receipt",
                           description="Find the receipted ballot on the board at its index "
                           "with its hash, check the server's signature on the receipt and the "
                           "receipted chain head, and report whether the ballot is still the "
                           "one that counts.")  # fmt: skip
    common(check, election_required=False)
    check.add_argument("--receipt", required=True, type=existing_file, metavar="FILE",
                       help="the receipt saved by cast or downloaded from the booth")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "audit":
        if args.check is not None and (args.choice is not None or args.out is not None
                                       or args.credential is not None):
            parser.error("audit --check takes no --choice, --credential or --out")
        if args.check is None and (args.election is None or args.choice is None):
            parser.error("audit needs --election and --choice (or --check FILE)")
    commands: dict[str, Callable[[argparse.Namespace, Output], int]] = {
        "show": cmd_show, "cast": cmd_cast, "audit": cmd_audit, "check": cmd_check,
    }  # fmt: skip
    out = Output(args)
    return run_main(PROG, lambda: commands[args.command](args, out))


if __name__ == "__main__":
    sys.exit(main())
