"""JS/Python agreement: the browser's ES module (webui/static/js/mixvote-crypto.js, on @noble/curves
and @noble/hashes from npm) and the Python reference (crypto.hashing, crypto.groups, crypto.elgamal,
crypto.ballot) must produce the same bytes for the same inputs and fixed randomness, and each must
accept the other's ballots and reject tampered ones.

The JS runs under ``node`` on exactly the module file the browser loads; node resolves its bare
``@noble/...`` imports from the repository's ``node_modules`` (populated by ``npm ci``), the browser
through the page's import map onto the same files.

Without node or the npm packages the tests skip locally; under CI (``CI`` set) they fail, with a
message naming what is missing.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from crypto import ballot, elgamal
from crypto.errors import InvalidElement, MixvoteError
from crypto.groups import GROUPS, group
from crypto.hashing import hash_bytes, hash_to_scalar
from tests.vectors import nodejs
from tests.vectors.nodejs import missing_prerequisites, values

MODULE = nodejs.JS_DIR / "mixvote-crypto.js"


pytestmark = pytest.mark.usefixtures("js_side")


def test_missing_prerequisites_are_named(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text(
        json.dumps({"dependencies": {"@noble/curves": "2", "@noble/hashes": "2"}})
    )
    assert missing_prerequisites(tmp_path, lambda name: None) == [
        "node on PATH (Debian package nodejs)",
        "npm package @noble/curves (run `npm ci` or ./dev install)",
        "npm package @noble/hashes (run `npm ci` or ./dev install)",
    ]
    (tmp_path / "node_modules" / "@noble" / "curves").mkdir(parents=True)
    (tmp_path / "node_modules" / "@noble" / "curves" / "package.json").write_text("{}")
    assert missing_prerequisites(tmp_path, lambda name: "/usr/bin/node") == [
        "npm package @noble/hashes (run `npm ci` or ./dev install)"
    ]

# The JS groups the browser supports; the agreement is checked for those Python also has.
JS_GROUPS = ("secp256k1", "P-256", "ristretto255")
COMMON_GROUPS = [g for g in JS_GROUPS if g in GROUPS]

RUN = r"""
function run(c) {
  switch (c.op) {
    case 'hash_bytes':
      return m.toHex(m.hashBytes(c.dst, c.parts.map(m.fromHex), c.size));
    case 'hash_to_scalar':
      return m.hashToScalar(m.group(c.group), c.dst, c.parts.map(m.fromHex)).toString();
    case 'embed': {
      const g = m.group(c.group);
      return m.toHex(g.encode(g.embed(m.fromHex(c.payload))));
    }
    case 'extract': {
      const g = m.group(c.group);
      return m.toHex(g.extract(g.decode(m.fromHex(c.element), true)));
    }
    case 'decode': {
      const g = m.group(c.group);
      return m.toHex(g.encode(g.decode(m.fromHex(c.element), c.allowIdentity)));
    }
    case 'base_mul': {
      const g = m.group(c.group);
      return m.toHex(g.encode(g.baseMul(BigInt(c.k))));
    }
    case 'encode_choice':
      return m.toHex(m.encodeChoice(c.choice));
    case 'decode_choice':
      return m.decodeChoice(m.fromHex(c.payload));
    case 'make_ballot':
      return m.makeBallot(c.params, c.choice, { fixed: c.fixed }).wire;
    case 'random_ballot': {
      const b = m.makeBallot(c.params, c.choice);
      return { wire: b.wire, randomness: b.randomness };
    }
    case 'verify_ballot': {
      const g = m.group(c.params.group);
      const y = g.decode(m.fromHex(c.params.publicKey));
      const ct = m.decodeCiphertext(g, m.fromHex(c.ciphertext), c.width);
      const proof = m.decodeBallotProof(g, m.fromHex(c.proof), c.width);
      m.verifyBallot(g, y, ct, proof, c.params.electionId, c.params.voterId);
      return 'valid';
    }
    case 'audit':
      return m.auditBallot(c.params, c.wire, c.randomness);
    default:
      throw new Error('unknown op ' + c.op);
  }
}
"""


def run_js(tmp_path: Path, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run every case through the browser module under node; one result per case."""
    return nodejs.run_js(tmp_path, {"m": MODULE}, RUN, cases)


def test_hash_bytes_and_hash_to_scalar_agree(tmp_path: Path) -> None:
    rng = random.Random(1)
    cases: list[dict[str, Any]] = []
    expected: list[Any] = []
    for size in (1, 32, 48, 64, 100):
        parts = [rng.randbytes(rng.randrange(0, 70)) for _ in range(rng.randrange(0, 5))]
        cases.append(
            {
                "op": "hash_bytes",
                "dst": f"test/{size}",
                "parts": [p.hex() for p in parts],
                "size": size,
            }
        )
        expected.append(hash_bytes(f"test/{size}", *parts, size=size).hex())
    for name in COMMON_GROUPS:
        parts = [rng.randbytes(40), b"", rng.randbytes(3)]
        cases.append(
            {
                "op": "hash_to_scalar",
                "group": name,
                "dst": "ballot-pok",
                "parts": [p.hex() for p in parts],
            }
        )
        expected.append(str(hash_to_scalar(group(name), "ballot-pok", *parts)))
    assert values(run_js(tmp_path, cases)) == expected


@pytest.mark.parametrize("name", COMMON_GROUPS)
def test_group_encodings_and_embedding_agree(tmp_path: Path, name: str) -> None:
    grp = group(name)
    rng = random.Random(2)
    cases: list[dict[str, Any]] = []
    expected: list[Any] = []
    for k in [1, 2, grp.order - 1, *(rng.randrange(1, grp.order) for _ in range(4))]:
        cases.append({"op": "base_mul", "group": name, "k": str(k)})
        expected.append(grp.encode(grp.base_mul(k)).hex())
    payloads = [
        b"",
        b"\x00",
        b"\x01\x00\x02",
        bytes(grp.embed_capacity),
        rng.randbytes(grp.embed_capacity),
    ]
    payloads += [rng.randbytes(rng.randrange(0, grp.embed_capacity + 1)) for _ in range(8)]
    for payload in payloads:
        element = grp.encode(grp.embed(payload)).hex()
        cases.append({"op": "embed", "group": name, "payload": payload.hex()})
        expected.append(element)
        cases.append({"op": "extract", "group": name, "element": element})
        expected.append(payload.hex())
    # The identity: both encode it the same way and refuse it unless allowed.
    cases.append(
        {
            "op": "decode",
            "group": name,
            "element": grp.encode(grp.identity).hex(),
            "allowIdentity": True,
        }
    )
    expected.append(grp.encode(grp.identity).hex())
    assert values(run_js(tmp_path, cases)) == expected


def invalid_encodings(name: str) -> list[bytes]:
    """Encodings Python's decoder rejects: the JS decoder must reject each as well."""
    grp = group(name)
    good = grp.encode(grp.base_mul(7))
    bad = [good[:-1], good + b"\x00", grp.encode(grp.identity)]
    if name == "ristretto255":
        bad += [b"\xff" * 32, bytes([1]) + bytes(31)]
    else:
        bad += [b"\x04" + good[1:], b"\x02" + b"\xff" * (len(good) - 1)]
        # an x with no y on the curve
        x = 5
        while True:
            candidate = b"\x02" + x.to_bytes(len(good) - 1, "big")
            try:
                grp.decode(candidate)
            except MixvoteError:
                bad.append(candidate)
                break
            x += 1
    for data in bad:
        with pytest.raises(MixvoteError):
            grp.decode(data)
    return bad


@pytest.mark.parametrize("name", COMMON_GROUPS)
def test_js_rejects_what_python_rejects(tmp_path: Path, name: str) -> None:
    bad = invalid_encodings(name)
    cases = [
        {"op": "decode", "group": name, "element": b.hex(), "allowIdentity": False} for b in bad
    ]
    results = run_js(tmp_path, cases)
    assert [r["ok"] for r in results] == [False] * len(bad), results


def test_js_rejects_non_canonical_ristretto_with_the_top_bit_set(tmp_path: Path) -> None:
    # RFC 9496 §4.3.1: an encoding with the top bit set is not canonical; both sides reject it
    # (the Python backend checks the bit itself, since libsodium 1.0.18's is_valid_point does not).
    with pytest.raises(InvalidElement):
        group("ristretto255").decode(bytes(31) + b"\x80", allow_identity=True)
    case = {
        "op": "decode",
        "group": "ristretto255",
        "element": (bytes(31) + b"\x80").hex(),
        "allowIdentity": True,
    }
    [result] = run_js(tmp_path, [case])
    assert not result["ok"]


CHOICES: list[Any] = [0, 3, 65535, [2, 0, 1], "Ada Lovelace", "é✓ 写", "x" * 70]


def test_choice_payloads_agree(tmp_path: Path) -> None:
    cases: list[dict[str, Any]] = [{"op": "encode_choice", "choice": c} for c in CHOICES]
    expected: list[Any] = [ballot.encode_choice(c).hex() for c in CHOICES]
    for c in CHOICES:
        cases.append({"op": "decode_choice", "payload": ballot.encode_choice(c).hex()})
        expected.append(list(c) if isinstance(c, list) else c)
    assert values(run_js(tmp_path, cases)) == expected
    # Malformed payloads Python rejects are rejected by the JS too.
    bad = [
        b"",
        b"\x01\x00",
        b"\x02\x00\x01\x00\x01",
        b"\x02\x00",
        b"\x03",
        b"\x03\xff\xfe",
        b"\x09\x00\x00",
    ]
    for payload in bad:
        with pytest.raises(MixvoteError):
            ballot.decode_choice(payload)
    results = run_js(tmp_path, [{"op": "decode_choice", "payload": p.hex()} for p in bad])
    assert [r["ok"] for r in results] == [False] * len(bad)


def python_ballot(
    name: str,
    y_secret: int,
    choice: Any,
    width: int,
    rng: random.Random,
    election_id: str,
    voter_id: str,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(params, fixed randomness, expected wire) computed by the Python reference."""
    grp = group(name)
    pk = elgamal.public_key(grp, y_secret)
    messages = ballot.encode_ballot(grp, ballot.encode_choice(choice), width)
    r = [grp.random_scalar(rng) for _ in range(width)]
    a = [grp.random_scalar(rng) for _ in range(width)]
    ct = elgamal.encrypt_with(pk, messages, r)
    proof = ballot.prove_ballot_with(pk, ct, r, a, election_id, voter_id)
    params = {
        "group": name,
        "publicKey": grp.encode(pk.y).hex(),
        "width": width,
        "electionId": election_id,
        "voterId": voter_id,
    }
    fixed = {"randomness": [str(v) for v in r], "nonces": [str(v) for v in a]}
    wire = {
        "ciphertext": elgamal.encode_ciphertext(grp, ct).hex(),
        "proof": ballot.encode_ballot_proof(grp, proof).hex(),
        "width": width,
    }
    return params, fixed, wire


@pytest.mark.parametrize("name", COMMON_GROUPS)
def test_ballot_with_fixed_randomness_is_byte_identical(tmp_path: Path, name: str) -> None:
    grp = group(name)
    rng = random.Random(3)
    cases: list[dict[str, Any]] = []
    expected: list[Any] = []
    for i, choice in enumerate(CHOICES):
        width = max(1, -(-len(ballot.encode_choice(choice)) // grp.embed_capacity)) + (i % 2)
        params, fixed, wire = python_ballot(
            name, grp.random_scalar(rng), choice, width, rng, f"election-{i}", f"{i:032x}"
        )
        cases.append({"op": "make_ballot", "params": params, "choice": choice, "fixed": fixed})
        expected.append(wire)
        cases.append({"op": "verify_ballot", "params": params, **wire})
        expected.append("valid")
    assert values(run_js(tmp_path, cases)) == expected


@pytest.mark.parametrize("name", COMMON_GROUPS)
def test_python_accepts_browser_ballots_and_both_reject_tampering(
    tmp_path: Path, name: str
) -> None:
    grp = group(name)
    x = grp.random_scalar(random.Random(4))
    pk = elgamal.public_key(grp, x)
    params = {
        "group": name,
        "publicKey": grp.encode(pk.y).hex(),
        "width": 2,
        "electionId": "e-42",
        "voterId": "0123456789abcdef0123456789abcdef",
    }
    [made] = values(run_js(tmp_path, [{"op": "random_ballot", "params": params, "choice": [1, 0]}]))
    wire = made["wire"]
    ct = elgamal.decode_ciphertext(grp, bytes.fromhex(wire["ciphertext"]), 2)
    proof = ballot.decode_ballot_proof(grp, bytes.fromhex(wire["proof"]), 2)
    ballot.verify_ballot(pk, ct, proof, "e-42", params["voterId"])
    assert ballot.decode_choice(ballot.decode_ballot(grp, elgamal.decrypt(grp, x, ct))) == (1, 0)

    # The same ballot under another voter's id or another election is rejected by both sides.
    for other in ({"voterId": "f" * 32}, {"electionId": "e-43"}):
        p2 = {**params, **other}
        with pytest.raises(MixvoteError):
            ballot.verify_ballot(pk, ct, proof, p2["electionId"], p2["voterId"])
        [res] = run_js(tmp_path, [{"op": "verify_ballot", "params": p2, **wire}])
        assert not res["ok"] and "challenge mismatch" in res["error"]
    # A flipped byte in the proof: rejected by both.
    tampered = bytearray(bytes.fromhex(wire["proof"]))
    tampered[-1] ^= 1
    with pytest.raises(MixvoteError):
        ballot.verify_ballot(
            pk, ct, ballot.decode_ballot_proof(grp, bytes(tampered), 2), "e-42", params["voterId"]
        )
    [res] = run_js(
        tmp_path, [{"op": "verify_ballot", "params": params, **wire, "proof": tampered.hex()}]
    )
    assert not res["ok"]


@pytest.mark.parametrize("name", COMMON_GROUPS)
def test_benaloh_audit_reveals_the_choice_and_catches_a_cheating_booth(
    tmp_path: Path, name: str
) -> None:
    grp = group(name)
    rng = random.Random(5)
    params, fixed, wire = python_ballot(name, grp.random_scalar(rng), 2, 1, rng, "e", "v")
    [audit] = values(
        run_js(
            tmp_path,
            [{"op": "audit", "params": params, "wire": wire, "randomness": fixed["randomness"]}],
        )
    )
    assert audit["ok"] and audit["choice"] == 2
    # A booth that encrypted choice 1 while claiming otherwise is caught: the revealed randomness
    # opens the ciphertext to what it really holds, and the wrong randomness does not open it.
    wrong_r = [str((int(fixed["randomness"][0]) + 1) % grp.order)]
    [bad] = values(
        run_js(tmp_path, [{"op": "audit", "params": params, "wire": wire, "randomness": wrong_r}])
    )
    assert not bad["ok"]
    assert any(not c["ok"] and "alpha_k" in c["what"] for c in bad["checks"]) or any(
        "audit failed" in c["what"] for c in bad["checks"]
    )
