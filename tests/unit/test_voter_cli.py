"""``mixvote-vote`` and ``mixbench load`` without a server: argument validation (one line, exit 2),
the booth's bytes for the same randomness (the ballot known-answer vectors the browser also
passes), the audit check and its refusals, the receipt and audit file parsers, the credential
file and CSV readers."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from crypto import group
from crypto.credentials import generate_credential
from crypto.elgamal import PublicKey, decode_public_key, keygen
from crypto.errors import UsageError
from crypto.io import voter, voting
from crypto.receipts import Receipt, encode_receipt, make_receipt
from experiments import cli as bench_cli
from experiments.load import read_credentials_csv

KAT = json.loads((Path(__file__).parents[1] / "vectors" / "data" / "kat_ballot.json").read_text())


def usage(capsys: pytest.CaptureFixture[str], main: object, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)  # type: ignore[operator]
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        ([], "required: COMMAND"),
        (["vote"], "invalid choice: 'vote'"),
        (["show", "--election", "e1"], "--server"),
        (["show", "--server", "ftp://h", "--election", "e1"], "scheme http, https"),
        (["show", "--server", "http://", "--election", "e1"], "has no host"),
        (["show", "--server", "http://h:0", "--election", "e1"], "port 0"),
        (["show", "--server", "http://h", "--election", "bad id!"], "--election"),
        (["show", "--server", "http://h", "--election", "e1", "--timeout", "0"], "positive"),
        (["cast", "--server", "http://h", "--election", "e1", "--choice", "1"], "--credential"),
        (["cast", "--server", "http://h", "--election", "e1", "--credential", "/no/such",
          "--choice", "1"], "/no/such: no such file"),
        (["cast", "--server", "http://h", "--election", "e1", "--credential", "{card}",
          "--choice", " "], "a choice number"),
        (["cast", "--server", "http://h", "--election", "e1", "--credential", "{card}",
          "--choice", "1", "--expect-fingerprint", "abc"], "is not a fingerprint"),
        (["cast", "--server", "http://h", "--election", "e1", "--credential", "{card}",
          "--choice", "1", "--receipt-out", "{card}"], "exists already"),
        (["cast", "--server", "http://h", "--election", "e1", "--credential", "{card}",
          "--choice", "1", "--receipt-out", "/no/such/dir/r.json"], "no such directory"),
        (["audit", "--server", "http://h", "--election", "e1"], "needs --election and --choice"),
        (["audit", "--server", "http://h", "--check", "{card}", "--choice", "1"],
         "takes no --choice"),
        (["check", "--server", "http://h"], "--receipt"),
    ],
)  # fmt: skip
def test_bad_arguments_are_one_line_exit_2(
    argv: list[str], words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "card.txt"
    path.write_text(generate_credential().printed)
    err = usage(capsys, voter.main, [a.replace("{card}", str(path)) for a in argv])
    assert err.startswith("mixvote-vote") and words in err, err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        voter.main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.startswith("mixvote-vote ")


def test_unreachable_server_is_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = voter.main(["show", "--server", f"http://127.0.0.1:{port}", "--election", "e1",
                       "--timeout", "2"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "cannot reach the server" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["load", "--voters", "3"], "needs --server, --election and --credentials"),
        (["load", "--start-demo", "--voters", "3", "--server", "http://h"], "takes no --server"),
        (["load", "--start-demo", "--voters", "3", "--threshold", "4"], "more than --nodes"),
        (["load", "--start-demo", "--voters", "3", "--demo-choices", "1"], "at least 2"),
        (["load", "--voters", "0", "--start-demo"], "positive integer"),
        (["load", "--voters", "3", "--start-demo", "--concurrency", "-1"], "positive integer"),
        (["load", "--voters", "3", "--start-demo", "--choices", "1,x"], "not an integer"),
        (["load", "--voters", "3", "--server", "ws://h", "--election", "e1",
          "--credentials", "{csv}"], "scheme http, https"),
        (["load", "--voters", "3", "--server", "http://h", "--election", "e1",
          "--credentials", "{csv}", "--tally"], "--tally needs --start-demo"),
    ],
)  # fmt: skip
def test_mixbench_load_arguments(
    argv: list[str], words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.csv"
    path.write_text("voter_id,credential\n")
    err = usage(capsys, bench_cli.main, [a.replace("{csv}", str(path)) for a in argv])
    assert err.startswith("mixbench") and words in err, err


# --- the ballot ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["secp256k1", "ristretto255", "P-256"])
def test_same_bytes_as_the_booth_for_the_same_randomness(name: str) -> None:
    """The known-answer vectors the browser's makeBallot also reproduces (single choices)."""
    cases = [c for c in KAT["groups"][name] if isinstance(c["choice"], int)]
    assert cases
    g = group(name)
    for case in cases:
        pk = decode_public_key(g, bytes.fromhex(case["y"]))
        made = voting.make_ballot_with(
            pk, case["election_id"], case["voter_id"], case["choice"], case["width"],
            [int(r, 16) for r in case["r"]], [int(a, 16) for a in case["a"]],
        )  # fmt: skip
        assert made.wire == {"ciphertext": case["ciphertext"], "proof": case["proof"],
                             "width": case["width"]}  # fmt: skip


def _ballot(width: int = 1, choice: int = 1) -> tuple[PublicKey, voting.MadeBallot]:
    g = group("secp256k1")
    _x, pk = keygen(g, random.Random(5))
    return pk, voting.make_ballot(pk, "e1", "ab" * 16, choice, width, random.Random(6))


def test_audit_opens_the_choice_and_catches_each_lie() -> None:
    pk, made = _ballot(width=2, choice=2)
    report = voting.audit_ballot(pk, "e1", "ab" * 16, made.wire, made.randomness)
    assert report.ok and report.choice == 2 and len(report.checks) == 5
    # wrong randomness, another voter id (the proof is bound to it), a tampered ciphertext
    bad_r = voting.audit_ballot(pk, "e1", "ab" * 16, made.wire,
                               [made.randomness[0] + 1, made.randomness[1]])  # fmt: skip
    assert not bad_r.ok and bad_r.choice is None
    assert ("alpha_k = r_k·g for every position", False) in bad_r.checks
    other = voting.audit_ballot(pk, "e1", "cd" * 16, made.wire, made.randomness)
    assert not other.ok and other.checks[-1] == (
        "the proof of knowledge verifies for this election and credential", False)
    row = bytearray.fromhex(made.wire["ciphertext"])
    row[-1] ^= 1
    tampered = voting.audit_ballot(pk, "e1", "ab" * 16, {**made.wire, "ciphertext": row.hex()},
                                  made.randomness)  # fmt: skip
    assert not tampered.ok


def test_audit_document_round_trips_through_the_parser() -> None:
    pk, made = _ballot()
    election = voting.Election("e1", "t", "q", ("a", "b"), "voting", group("secp256k1"), 1,
                              "last-ballot-counts", True, bytes(32), pk)
    doc = voting.audit_document(election, made)
    assert doc["kind"] == "mixvote-audited-ballot" and doc["version"] == 1
    eid, vid, wire, rs = voting.parse_audit(json.loads(json.dumps(doc)))
    assert (eid, vid, wire, tuple(rs)) == ("e1", made.voter_id, made.wire, made.randomness)
    for broken in ({**doc, "kind": "x"}, {**doc, "randomness": ["-1"]},
                   {**doc, "randomness": []}, {**doc, "voter_id": "zz"},
                   {**doc, "ballot": {**doc["ballot"], "width": True}},
                   {**doc, "election": "bad id!"}, []):  # fmt: skip
        with pytest.raises(UsageError):
            voting.parse_audit(broken)


def test_receipt_file_parser() -> None:
    seed = generate_credential().private
    receipt = make_receipt(seed, "e1", 5, b"\x01" * 32, 6, b"\x01" * 32)
    doc = {"kind": "mixvote-receipt", "election": "e1", "voter_id": "ab", "tracker": "22" * 32,
           "board_entry": 5, "entry_hash": "01" * 32, "cast_at": "x", "fingerprint": "33" * 32,
           "server_receipt": encode_receipt(receipt)}  # fmt: skip
    assert voting.parse_receipt_file(doc)[1] == receipt
    for broken in ({**doc, "kind": "receipt"}, {**doc, "board_entry": 4},
                   {**doc, "entry_hash": "02" * 32}, {**doc, "election": "e2"},
                   {**doc, "tracker": "2"}, {**doc, "server_receipt": {}}):  # fmt: skip
        with pytest.raises(UsageError):
            voting.parse_receipt_file(broken)


def test_choice_by_number_or_name() -> None:
    pk, _made = _ballot()
    e = voting.Election("e1", "t", "q", ("Alice", "Bob", "bob"), "voting", group("secp256k1"),
                       1, "last-ballot-counts", False, None, pk)
    assert voting.choice_index(e, "1") == 0 and voting.choice_index(e, "Bob") == 1
    assert voting.choice_index(e, "alice") == 0
    for bad in ("0", "4", "BOB", "Carol"):  # BOB: two choices fold to it
        with pytest.raises(UsageError):
            voting.choice_index(e, bad)


def test_credential_files(tmp_path: Path) -> None:
    cred = generate_credential()
    card = tmp_path / "card.txt"
    card.write_text(f"mixvote voter credential\nVoter id: {cred.voter_id}\n"
                    f"Credential:   {cred.printed}\n")  # fmt: skip
    assert voting.read_credential(card) == cred
    bare = tmp_path / "bare.txt"
    bare.write_text(cred.printed.lower().replace("-", " ") + "\n")
    assert voting.read_credential(bare) == cred
    bad = tmp_path / "bad.txt"
    bad.write_text("Credential: AAAA\n")
    with pytest.raises(UsageError, match="not a voter credential"):
        voting.read_credential(bad)

    other = generate_credential()
    csv_ok = tmp_path / "c.csv"
    csv_ok.write_text(f"voter_id,credential\n{cred.voter_id},{cred.printed}\n"
                      f"{other.voter_id},{other.printed}\n")  # fmt: skip
    assert read_credentials_csv(csv_ok) == [cred, other]
    for text, words in (
        ("id,cred\n", "header"),
        ("voter_id,credential\n", "no credentials"),
        (f"voter_id,credential\n{other.voter_id},{cred.printed}\n", "not the credential's"),
        (f"voter_id,credential\n{cred.voter_id},{cred.printed},x\n", "2 columns"),
    ):
        csv_ok.write_text(text)
        with pytest.raises(UsageError, match=words):
            read_credentials_csv(csv_ok)


# --- the browser's code on the same inputs (node, as tests/unit/test_webui_js.py) -------------
ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "webui" / "static" / "js"
NOBLE = ROOT / "node_modules" / "@noble" / "curves" / "package.json"
HAVE_NODE = shutil.which("node") is not None and NOBLE.is_file()
if os.environ.get("CI"):
    assert HAVE_NODE, "CI needs node and `npm ci`"

JS_DRIVER = r"""
import { readFileSync } from 'node:fs';
const booth = await import(%(booth)s);
const audit = await import(%(audit)s);
const crypto = await import(%(crypto)s);
const c = JSON.parse(readFileSync(0, 'utf8'));
const voter = { private: c.private, ...crypto.credentialFromPrivate(c.private) };
const params = { ...c.params, voterId: voter.voterId };
const ballot = crypto.makeBallot(params, c.choice, { fixed: c.fixed });
// the audit document exactly as booth.js builds it after "Audit"
const auditDoc = { kind: 'mixvote-audited-ballot', version: 1, election: params.electionId,
  group: params.group, voter_id: params.voterId, tracker: booth.ballotTracker(ballot.wire),
  ballot: ballot.wire, randomness: ballot.randomness };
const doc = audit.parseAudit(c.pythonAudit, params);
const report = crypto.auditBallot({ ...params, voterId: doc.voter_id }, doc.ballot, doc.randomness);
process.stdout.write(JSON.stringify({
  signed: booth.signedBallot(ballot.wire, voter, params.fingerprint), auditDoc,
  checked: { ok: report.ok, choice: report.choice },
}));
"""


@pytest.mark.skipif(not HAVE_NODE, reason="needs node and `npm ci` (run ./dev install)")
def test_the_booth_and_the_voter_tool_agree() -> None:
    """Same randomness, same signed ballot bytes; the booth's audit file passes `audit --check`'s
    check, and the voter tool's audit file passes the browser's audit page."""
    g = group("secp256k1")
    _x, pk = keygen(g, random.Random(9))
    cred = generate_credential(random.Random(10))
    fingerprint = bytes(range(32))
    r, a = [g.random_scalar(random.Random(11))], [g.random_scalar(random.Random(12))]
    made = voting.make_ballot_with(pk, "e-js", cred.voter_id, 1, 1, r, a)
    election = voting.Election("e-js", "t", "q", ("a", "b"), "voting", g, 1,
                              "last-ballot-counts", False, fingerprint, pk)  # fmt: skip
    ours = voting.audit_document(election, voting.make_ballot(pk, "e-js", cred.voter_id, 0, 1))
    params = {"group": "secp256k1", "publicKey": g.encode(pk.y).hex(), "width": 1,
              "electionId": "e-js", "fingerprint": fingerprint.hex(), "choices": ["a", "b"]}
    case = {"private": cred.private.hex(), "params": params, "choice": 1,
            "fixed": {"randomness": [str(r[0])], "nonces": [str(a[0])]},
            "pythonAudit": json.dumps(ours)}  # fmt: skip
    files = {k: json.dumps((JS / f"{k}.js").as_uri()) for k in ("booth", "audit")}
    files["crypto"] = json.dumps((JS / "mixvote-crypto.js").as_uri())
    got = json.loads(subprocess.run(
        ["node", "--input-type=module", "-e", JS_DRIVER % files], input=json.dumps(case).encode(),
        capture_output=True, check=True, timeout=60, cwd=ROOT,
    ).stdout)  # fmt: skip
    assert got["signed"] == voting.signed_ballot(made, cred, fingerprint)
    assert got["checked"] == {"ok": True, "choice": 0}
    eid, vid, wire, rs = voting.parse_audit(got["auditDoc"])
    report = voting.audit_ballot(pk, eid, vid, wire, rs)
    assert report.ok and report.choice == 1
    assert got["auditDoc"]["tracker"] == made.tracker


# --- check: a receipt against a board that keeps or breaks its promise ------------------------
class FakeBoard(voting.Client):
    """A server whose board is a list of entry descriptions (the API's shape)."""

    def __init__(self, entries: list[dict[str, object]], counted: bool = True) -> None:
        super().__init__("http://fake")
        self.entries, self.counted = entries, counted

    def request(self, method: str, path: str, body: object = None) -> object:
        if "/board?" in path:
            offset = int(path.split("offset=")[1].split("&")[0])
            return {"entries": self.entries[offset : offset + 1]}
        if "/receipts/" in path:
            return {"counted": self.counted}
        raise AssertionError(path)


def _board_and_receipt() -> tuple[list[dict[str, object]], dict[str, object], Receipt]:
    import hashlib

    server = generate_credential(random.Random(20))
    ciphertext = "02" + "11" * 32 + "03" + "22" * 32
    hashes = [hashlib.sha256(bytes([i])).digest() for i in range(4)]
    entries: list[dict[str, object]] = [
        {"index": 0, "kind": "election.params", "hash": hashes[0].hex(),
         "server_key": server.public.hex()},
        {"index": 1, "kind": "credentials.list", "hash": hashes[1].hex()},
        {"index": 2, "kind": "ballot", "hash": hashes[2].hex(), "voter_id": "ab" * 16,
         "ciphertext": ciphertext},
        {"index": 3, "kind": "ballot", "hash": hashes[3].hex(), "voter_id": "cd" * 16},
    ]  # fmt: skip
    receipt = make_receipt(server.private, "e1", 2, hashes[2], 4, hashes[3])
    doc = {"kind": "mixvote-receipt", "election": "e1", "voter_id": "ab" * 16,
           "tracker": hashlib.sha256(bytes.fromhex(ciphertext)).hexdigest(), "board_entry": 2,
           "entry_hash": hashes[2].hex(), "cast_at": "x", "fingerprint": "33" * 32,
           "server_receipt": encode_receipt(receipt)}  # fmt: skip
    return entries, doc, receipt


def test_check_finds_the_ballot_and_reports_whether_it_counts() -> None:
    entries, doc, receipt = _board_and_receipt()
    result = voting.check_receipt_on_board(FakeBoard(entries), doc, receipt)
    assert (result.index, result.counted, result.tracker_checked) == (2, True, True)
    replaced = voting.check_receipt_on_board(FakeBoard(entries, counted=False), doc, receipt)
    assert replaced.counted is False


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda e: e.pop(), "the receipted head (entry 3) is missing or altered"),
        (lambda e: e[3].update(hash="00" * 32), "the receipted head (entry 3) is missing"),
        (lambda e: e[2].update(hash="00" * 32), "entry 2 on the board has hash 0000"),
        (lambda e: e[2].update(ciphertext="02" + "11" * 32 + "03" + "23" * 32),
         "does not have the tracker"),
        (lambda e: e[2].update(voter_id="cd" * 16), "is not this voter's ballot"),
        (lambda e: e[0].update(server_key=generate_credential().public.hex()),
         "not signed by the expected server"),
        (lambda e: [e.pop() for _ in range(2)], "entry 2 is not on the board"),
    ],
)  # fmt: skip
def test_check_reports_a_broken_promise(change: object, words: str) -> None:
    from crypto.errors import InvalidProof

    entries, doc, receipt = _board_and_receipt()
    change(entries)  # type: ignore[operator]
    with pytest.raises(InvalidProof, match=re.escape(words)):
        voting.check_receipt_on_board(FakeBoard(entries), doc, receipt)


def test_a_server_that_is_not_http_is_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    import socket
    import threading

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        def answer_garbage() -> None:
            conn, _addr = listener.accept()  # once: a reply that is not HTTP is not retried
            with conn:
                conn.recv(4096)
                conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

        thread = threading.Thread(target=answer_garbage, daemon=True)
        thread.start()
        code = voter.main(["show", "--server", f"http://127.0.0.1:{port}", "--election", "e1",
                           "--timeout", "5"])  # fmt: skip
        thread.join(5)
    err = capsys.readouterr().err
    assert code == 1 and "does not speak HTTP" in err and err.count("\n") == 1
