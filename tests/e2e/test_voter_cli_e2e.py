"""The command-line voter end to end: a real server and three mix nodes on loopback (a test
election started by :func:`experiments.load.start_demo`), driven through ``mixvote-vote``'s
``main``: show, cast (with the fingerprint checked), a re-cast under last-ballot-counts, receipts
checked on the board, an audit and its check on "another device", the refusals (a credential of
no voter, a wrong fingerprint, a mistyped credential, a closed election) with their exit codes,
and finally the tally, which counts exactly the ballots that should count."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from crypto.credentials import Credential, generate_credential
from crypto.io import voter
from experiments.load import Demo, start_demo
from mixserver.harness import Api, wait_for
from tests.e2e.demos import demo_fixture

pytestmark = pytest.mark.slow


demo = demo_fixture(4)


def card(path: Path, eid: str, cred: Credential) -> Path:
    """A card as mixvote-credentials prints it (only the lines the voter tool reads matter)."""
    path.write_text(
        f"mixvote voter credential\n\nElection:     {eid}\nVoter id:     {cred.voter_id}\n"
        f"Credential:   {cred.printed}\n"
    )
    return path


def vote(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = voter.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_show_prints_the_election(demo: Demo, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = vote(capsys, "show", "--server", demo.base, "--election", demo.election)
    assert code == 0
    election = Api(demo.base).request("GET", f"/api/elections/{demo.election}")
    assert "  1. option 1\n  2. option 2\n  3. option 3" in out
    assert f"Fingerprint:  {election['fingerprint_display']}" in out
    assert "Phase:        voting" in out and "Test election: yes" in out
    assert out.startswith("TEST ELECTION")
    code, out, _err = vote(capsys, "show", "--server", demo.base, "--election", demo.election,
                           "--json")  # fmt: skip
    data = json.loads(out)
    assert data["fingerprint"] == election["fingerprint"] and data["test_election"] is True
    assert [c["name"] for c in data["choices"]] == ["option 1", "option 2", "option 3"]


def test_cast_recast_check_audit_refusals_and_tally(
    demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    eid, base = demo.election, demo.base
    api = Api(base, demo.token)
    election = api.request("GET", f"/api/elections/{eid}")
    short = election["fingerprint_short"]
    alice = card(tmp_path / "alice.txt", eid, demo.credentials[0])
    bob = card(tmp_path / "bob.txt", eid, demo.credentials[1])
    common = ["--server", base, "--election", eid]

    # cast, with the fingerprint from the card: the receipt is checked and saved
    first = tmp_path / "r1.json"
    code, out, err = vote(capsys, "cast", *common, "--credential", str(alice), "--choice", "1",
                          "--expect-fingerprint", short, "--receipt-out", str(first))
    assert code == 0, err
    doc = json.loads(first.read_text())
    assert doc["kind"] == "mixvote-receipt" and doc["voter_id"] == demo.credentials[0].voter_id
    assert f"Tracker:      {doc['tracker']}" in out
    assert f"On the board: entry {doc['board_entry']}, with this tracker" in out
    assert "fingerprint matches" in err
    found = api.request("GET", f"/api/elections/{eid}/receipts/{doc['entry_hash']}")
    assert found["counted"] is True and found["index"] == doc["board_entry"]

    # a second ballot of the same credential (by name) replaces the first
    second = tmp_path / "r2.json"
    code, out, err = vote(capsys, "cast", *common, "--credential", str(alice), "--choice",
                          "Option 2", "--receipt-out", str(second), "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["board_entry"] > doc["board_entry"]
    code, out, _ = vote(capsys, "cast", *common, "--credential", str(bob), "--choice", "3",
                        "--receipt-out", str(tmp_path / "r3.json"))  # fmt: skip
    assert code == 0

    # check: the old receipt's ballot is on the board but no longer counts; the new one counts
    code, out, err = vote(capsys, "check", *common, "--receipt", str(first), "--json")
    assert code == 0, err
    assert json.loads(out) | {"counted": None} == {
        "election": eid, "index": doc["board_entry"], "entry_hash": doc["entry_hash"],
        "tracker": doc["tracker"], "receipt_valid": True, "counted": None}  # fmt: skip
    assert json.loads(out)["counted"] is False
    code, out, _ = vote(capsys, "check", "--server", base, "--receipt", str(second))
    assert code == 0 and "Counted:      yes" in out and "signature valid" in out

    # a receipt whose signature was altered is refused
    forged = json.loads(second.read_text())
    sig = forged["server_receipt"]["signature"]
    forged["server_receipt"]["signature"] = ("0" if sig[0] != "0" else "1") + sig[1:]
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    code, _out, err = vote(capsys, "check", "--server", base, "--receipt",
                           str(tmp_path / "forged.json"))  # fmt: skip
    assert code == 1 and "signature" in err

    # audit: a ballot made, checked, never cast; its file checked again as on another device
    audit = tmp_path / "audit.json"
    before = api.request("GET", f"/api/elections/{eid}")["ballots_cast"]
    code, out, err = vote(capsys, "audit", *common, "--choice", "2", "--credential", str(alice),
                          "--out", str(audit))  # fmt: skip
    assert code == 0, err
    assert "This ballot encrypts choice 2 ('option 2') under this election's key" in out
    assert api.request("GET", f"/api/elections/{eid}")["ballots_cast"] == before
    code, out, err = vote(capsys, "audit", "--server", base, "--check", str(audit), "--json")
    assert code == 0, err
    assert json.loads(out)["ok"] is True and json.loads(out)["choice"] == 2
    opened = json.loads(audit.read_text())
    opened["randomness"] = [str(int(opened["randomness"][0]) + 1)]
    (tmp_path / "bad-audit.json").write_text(json.dumps(opened))
    code, out, _ = vote(capsys, "audit", "--server", base, "--check",
                        str(tmp_path / "bad-audit.json"))  # fmt: skip
    assert code == 1 and "does NOT check out" in out and "BAD alpha_k = r_k·g" in out
    (tmp_path / "junk.json").write_text('{"kind": "something else"}')
    code, _, err = vote(capsys, "audit", "--server", base, "--check", str(tmp_path / "junk.json"))
    assert code == 2 and "not an audit" in err

    # refusals: a credential of no voter, a wrong fingerprint, a mistyped credential
    stranger = card(tmp_path / "stranger.txt", eid, generate_credential())
    code, _, err = vote(capsys, "cast", *common, "--credential", str(stranger), "--choice", "1",
                        "--quiet")  # fmt: skip
    assert code == 1 and "is not one of election" in err and err.count("\n") == 1
    code, _, err = vote(capsys, "cast", *common, "--credential", str(bob), "--choice", "1",
                        "--expect-fingerprint", "ab" * 16)  # fmt: skip
    assert code == 1 and "do not vote here" in err
    typo = tmp_path / "typo.txt"
    printed = demo.credentials[2].printed
    typo.write_text(printed[:-1] + ("A" if printed[-1] != "A" else "B"))
    code, _, err = vote(capsys, "cast", *common, "--credential", str(typo), "--choice", "1")
    assert code == 2 and "not a voter credential" in err
    code, _, err = vote(capsys, "cast", *common, "--credential", str(bob), "--choice", "9")
    assert code == 2 and "choices 1 to 3" in err
    code, _, err = vote(capsys, "show", "--server", base, "--election", "nosuchelection")
    assert code == 1 and "404" in err
    assert api.request("GET", f"/api/elections/{eid}")["ballots_cast"] == before

    # the command itself, as a process: results on stdout, progress on stderr
    proc = subprocess.run(
        [sys.executable, "-m", "crypto.io.voter", "show", *common], capture_output=True,
        text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0 and "Fingerprint:" in proc.stdout and proc.stderr == ""

    # closed: refused before anything is sent
    api.request("POST", f"/api/elections/{eid}/close")
    wait_for(api, eid, lambda e: e["phase"] == "closed", "close", 60)
    code, _, err = vote(capsys, "cast", *common, "--credential", str(bob), "--choice", "1",
                        "--quiet")  # fmt: skip
    assert code == 1 and err == (f"mixvote-vote: voting is not open in election {eid} (phase "
                                 "closed): no ballot was sent\n")  # fmt: skip
    demo_tally = demo.tally(300)
    # alice's second ballot (option 2) and bob's (option 3) count; alice's first does not
    assert demo_tally == {"option 1": 0, "option 2": 1, "option 3": 1}
    code, out, _ = vote(capsys, "check", *common, "--receipt", str(second))
    assert code == 0 and "Counted:      yes" in out


def test_first_ballot_counts_refuses_a_second_ballot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from experiments import cli as bench_cli

    first = start_demo(2, data=tmp_path / "demo", policy="first-ballot-counts")
    try:
        common = ["--server", first.base, "--election", first.election, "--quiet"]
        alice = card(tmp_path / "alice.txt", first.election, first.credentials[0])
        code, out, _ = vote(capsys, "cast", *common, "--credential", str(alice), "--choice", "2",
                            "--receipt-out", str(tmp_path / "r1.json"))  # fmt: skip
        assert code == 0 and "counts your first ballot: it is final" in out
        code, _, err = vote(capsys, "cast", *common, "--credential", str(alice), "--choice", "1",
                            "--receipt-out", str(tmp_path / "r2.json"))  # fmt: skip
        assert code == 1 and "already voted" in err and err.count("\n") == 1
        assert not (tmp_path / "r2.json").exists()
        # mixbench load cannot reuse credentials here
        csv = tmp_path / "c.csv"
        csv.write_text("voter_id,credential\n" + "".join(
            f"{c.voter_id},{c.printed}\n" for c in first.credentials))  # fmt: skip
        code = bench_cli.main(["load", "--server", first.base, "--election", first.election,
                               "--credentials", str(csv), "--voters", "3", "--no-progress"])
        assert code == 2 and "counts first ballots only" in capsys.readouterr().err
        assert first.tally(300) == {"option 1": 0, "option 2": 1, "option 3": 0}
    finally:
        first.stop()
