"""The pure parts of the pages' JavaScript, run under node on the files the browser loads: the
election form's field checks, the booth's voter messages and tracker, the audit page's parsing and
its check of an audited ballot made by the Python implementation (the "second device"), and which
admin buttons the console enables in which status."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from crypto.ballot import encode_ballot, encode_ballot_proof, encode_choice, prove_ballot
from crypto.elgamal import encode_ciphertext, encode_public_key, encrypt, keygen
from crypto.errors import MixvoteError
from crypto.groups import group

ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "webui" / "static" / "js"
NOBLE = ROOT / "node_modules" / "@noble" / "curves" / "package.json"

# Under CI (`./dev test` installs node's packages) a missing prerequisite fails, never skips.
if os.environ.get("CI"):
    assert shutil.which("node") and NOBLE.is_file(), "CI needs node and `npm ci`"
pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not NOBLE.is_file(),
    reason="needs node and `npm ci` (run ./dev install)",
)

DRIVER = r"""
import { readFileSync } from 'node:fs';
const form = await import(%(form)s);
const booth = await import(%(booth)s);
const audit = await import(%(audit)s);
const consoleJs = await import(%(console)s);
const crypto = await import(%(crypto)s);

const cases = JSON.parse(readFileSync(0, 'utf8'));
const out = cases.map((c) => {
  try {
    switch (c.op) {
      case 'problems': return { ok: true, value: form.problems(c.values) };
      case 'message': return { ok: true, value: booth.voterMessage(c.raw, c.status) };
      case 'tracker': return { ok: true, value: booth.ballotTracker({ ciphertext: c.ciphertext }) };
      case 'key': return { ok: true, value: booth.storageKey(c.eid, c.voter) };
      case 'actions': return { ok: true, value: [...consoleJs.allowedActions(c.status)].sort() };
      case 'signin': {
        // what the booth does with a typed credential, then with a sealed ballot
        const priv = crypto.parseCredential(c.typed);
        const voter = { private: priv, ...crypto.credentialFromPrivate(priv) };
        const ballot = crypto.makeBallot({ ...c.params, voterId: voter.voterId }, c.choice);
        return { ok: true, value: booth.signedBallot(ballot.wire, voter, c.params.fingerprint) };
      }
      case 'audit': {
        const doc = audit.parseAudit(c.text, c.election);
        const params = { ...c.election, voterId: doc.voter_id };
        const report = crypto.auditBallot(params, doc.ballot, doc.randomness);
        return { ok: true, value: { choice: report.choice, ok: report.ok } };
      }
      default: throw new Error(`unknown op ${c.op}`);
    }
  } catch (e) {
    return { ok: false, error: String(e && e.message || e) };
  }
});
process.stdout.write(JSON.stringify(out));
"""


def run_js(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    files = {k: json.dumps((JS / f"{k}.js").as_uri()) for k in ("booth", "audit", "console")}
    files["form"] = json.dumps((JS / "election-form.js").as_uri())
    files["crypto"] = json.dumps((JS / "mixvote-crypto.js").as_uri())
    got = subprocess.run(
        ["node", "--input-type=module", "-e", DRIVER % files],
        input=json.dumps(cases).encode(),
        capture_output=True,
        check=True,
        timeout=60,
        cwd=ROOT,
    )
    out: list[dict[str, Any]] = json.loads(got.stdout)
    return out


def values(cases: list[dict[str, Any]]) -> list[Any]:
    out = run_js(cases)
    assert all(o["ok"] for o in out), out
    return [o["value"] for o in out]


GOOD = {"title": "T", "choices": "Ann\nBob", "n": "3", "t": "2", "voters": "10", "width": "1"}


def test_election_form_checks_each_field() -> None:
    cases = [
        GOOD,
        {**GOOD, "title": "  "},
        {**GOOD, "choices": "Ann\n\n  "},
        {**GOOD, "choices": "Ann\n Bob \nann"},
        {**GOOD, "choices": "Caf\u00e9\nCafe\u0301"},  # the same name, two Unicode spellings
        {**GOOD, "t": "4"},
        {**GOOD, "t": "0"},
        {**GOOD, "n": "x", "width": "65", "voters": "-1"},
    ]
    got = values([{"op": "problems", "values": v} for v in cases])
    assert got[0] == {}
    assert set(got[1]) == {"title"}
    assert got[2] == {"choices": "Enter at least two choices, one per line."}
    assert "“ann” appears more than once" in got[3]["choices"]
    assert "appears more than once" in got[4]["choices"]
    assert got[5] == {"t": "The threshold cannot be more than the number of mix nodes (3)."}
    assert set(got[6]) == {"t"}
    assert set(got[7]) == {"n", "width", "voters"}


def test_booth_says_what_went_wrong_in_a_voters_words() -> None:
    raws = [
        ("sign in with your voter credential first", 401),
        ("credential: not a voter credential of this election", 409),
        ("ballot: voting is not open (phase closed)", 409),
        ("ballot: this credential has already voted (the first ballot counts)", 409),
        ("ballot: this ciphertext was already cast (replay)", 409),
        ("ballot proof: challenge mismatch", 400),
        ("Failed to fetch", 0),
        ("Traceback (most recent call last)", 500),
    ]
    got = values([{"op": "message", "raw": r, "status": s} for r, s in raws])
    assert got[0].startswith("You are signed out") and "sealed ballot is kept" in got[0]
    assert got[1].startswith("This credential does not belong to this election")
    assert got[2] == "Voting is closed: this ballot was not cast."
    assert "counts your first ballot" in got[3]
    assert got[4].startswith("This exact ballot was already cast")
    assert got[5].startswith("The server could not check this ballot")
    assert "sealed ballot is kept" in got[6]
    assert got[7] == (
        "The ballot was not cast: something went wrong on the server. Try again in a moment."
    )
    for (raw, _status), message in zip(raws, got, strict=True):
        assert raw not in message  # never the developer's wording


def test_booth_tracker_and_storage_key() -> None:
    ct = "02" + "ab" * 32 + "03" + "cd" * 32
    tracker, key = values(
        [{"op": "tracker", "ciphertext": ct}, {"op": "key", "eid": "e1", "voter": "v9"}]
    )
    assert tracker == hashlib.sha256(bytes.fromhex(ct)).hexdigest()
    assert key == "mixvote:vote:e1:v9"


def python_audit(choice: int, eid: str = "e1") -> tuple[dict[str, Any], dict[str, Any]]:
    """An audited ballot made by the Python implementation, and the audit page's parameters."""
    g = group("secp256k1")
    _x, pk = keygen(g)
    voter_id = "ab" * 16
    ct, r = encrypt(pk, encode_ballot(g, encode_choice(choice), 1))
    proof = prove_ballot(pk, ct, r, eid, voter_id)
    doc = {
        "kind": "mixvote-audited-ballot",
        "version": 1,
        "election": eid,
        "group": "secp256k1",
        "voter_id": voter_id,
        "ballot": {
            "ciphertext": encode_ciphertext(g, ct).hex(),
            "proof": encode_ballot_proof(g, proof).hex(),
            "width": 1,
        },
        "randomness": [str(x) for x in r],
    }
    election = {
        "group": "secp256k1",
        "publicKey": encode_public_key(pk).hex(),
        "width": 1,
        "electionId": eid,
        "choices": ["Ann", "Bob", "Cyd"],
    }
    return doc, election


def test_audit_page_checks_a_ballot_made_elsewhere_and_rejects_damaged_audits() -> None:
    doc, election = python_audit(2)
    tampered = json.loads(json.dumps(doc))
    tampered["randomness"][0] = str(int(tampered["randomness"][0]) + 1)
    other_voter = {**doc, "voter_id": "cd" * 16}  # the proof is bound to the voter id
    cases = [
        json.dumps(doc),
        json.dumps(tampered),
        json.dumps(other_voter),
        "not json",
        json.dumps({**doc, "kind": "something else"}),
        json.dumps({**doc, "election": "e2"}),
        json.dumps({**doc, "randomness": ["12x"]}),
        json.dumps({**doc, "randomness": []}),
        json.dumps({**doc, "ballot": {**doc["ballot"], "width": 2}}),
        json.dumps({**doc, "ballot": {**doc["ballot"], "ciphertext": "zz"}}),
        "x" * ((1 << 20) + 1),
    ]
    out = run_js([{"op": "audit", "text": t, "election": election} for t in cases])
    assert out[0] == {"ok": True, "value": {"choice": 2, "ok": True}}
    assert out[1]["ok"] and out[1]["value"]["ok"] is False
    assert out[2] == {"ok": True, "value": {"choice": 2, "ok": False}}
    assert out[3]["error"].startswith("This is not an audit")
    assert out[4]["error"] == "This is not an audit from a mixvote booth."
    assert out[5]["error"].startswith("This audit is for another election (e2)")
    for o in out[6:10]:
        assert o["error"] == "This audit is damaged: some of its parts are missing or malformed."
    assert out[10]["error"] == "This text is too long to be an audit."


def test_console_enables_each_button_only_when_its_action_can_happen() -> None:
    statuses = [
        {"phase": "setup"},
        {"phase": "keygen", "timings": {}},
        {"phase": "keygen", "timings": {"keygen": 0.3}},
        {"phase": "voting"},
        {"phase": "closed"},
        {"phase": "mixing"},
        {"phase": "decrypting"},
        {"phase": "tallied"},
    ]
    got = values([{"op": "actions", "status": s} for s in statuses])
    assert got == [[], [], ["open"], ["close"], ["mix"], ["publish"], ["publish"], []]


def test_booth_signs_a_ballot_the_server_accepts() -> None:
    """The booth derives the key from the typed credential and signs the sealed ballot: the
    Python side accepts the proof (bound to the voter id) and the signature (strict Ed25519)."""
    from crypto.ballot import decode_ballot_proof, verify_ballot
    from crypto.credentials import (
        credential_from_private,
        format_credential,
        verify_ballot_signature,
    )
    from crypto.elgamal import decode_ciphertext

    g = group("secp256k1")
    _x, pk = keygen(g)
    seed, fp = bytes(range(32)), bytes(range(100, 132))
    cred = credential_from_private(seed)
    typed = format_credential(seed).lower().replace("-", " ")  # case and spacing ignored
    params = {"group": "secp256k1", "publicKey": encode_public_key(pk).hex(), "width": 1,
              "electionId": "e1", "fingerprint": fp.hex(), "choices": ["a", "b"]}
    bad = "AAAA" + format_credential(seed)[4:]
    (got, typo) = run_js([{"op": "signin", "typed": typed, "params": params, "choice": 1},
                          {"op": "signin", "typed": bad, "params": params, "choice": 1}])
    assert got["ok"] and not typo["ok"] and "check value" in typo["error"]
    wire = got["value"]
    assert set(wire) == {"credential", "width", "ciphertext", "proof", "signature"}
    assert wire["credential"] == cred.public.hex()
    row, proof = bytes.fromhex(wire["ciphertext"]), bytes.fromhex(wire["proof"])
    verify_ballot(pk, decode_ciphertext(g, row, 1), decode_ballot_proof(g, proof, 1), "e1",
                  cred.voter_id)
    verify_ballot_signature(cred.public, fp, row, proof, bytes.fromhex(wire["signature"]))
    with pytest.raises(MixvoteError):
        verify_ballot_signature(cred.public, bytes(32), row, proof,
                                bytes.fromhex(wire["signature"]))
