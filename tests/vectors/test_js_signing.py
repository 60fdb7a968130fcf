"""JS/Python agreement for voter credentials and ballot signatures: the browser module
(webui/static/js/mixvote-crypto.js, Ed25519 from @noble/curves) and crypto.credentials (Ed25519
from pyca/cryptography, key checks from libsodium) derive the same key, voter id and printed form
from a credential, produce byte-identical ballot signatures (RFC 8032 signing is deterministic),
accept each other's signatures, and reject the same invalid keys and signatures.

The JS runs under ``node`` on exactly the file the browser loads (as in test_js_agreement.py).
Without node or ``npm ci`` the module is skipped locally, never under CI (``CI`` set): there a
missing prerequisite is a failure.
"""

from __future__ import annotations

import ctypes
import random
from pathlib import Path
from typing import Any

import pysodium
import pytest

from crypto import ballot, elgamal
from crypto import credentials as cr
from crypto.errors import MixvoteError
from crypto.fingerprint import format_fingerprint, short_fingerprint
from crypto.groups import group
from tests.vectors import nodejs
from tests.vectors.nodejs import values

MODULE = nodejs.JS_DIR / "mixvote-crypto.js"


pytestmark = pytest.mark.usefixtures("js_side")


RUN = r"""
function run(c) {
  switch (c.op) {
    case 'derive': {
      const k = m.credentialFromPrivate(c.private);
      return { public: k.public, voterId: k.voterId, printed: m.formatCredential(c.private) };
    }
    case 'parse':
      return m.parseCredential(c.printed);
    case 'sign': {
      const [fp, row, proof] = [c.fingerprint, c.row, c.proof].map(m.fromHex);
      return m.toHex(m.signBallot(c.private, fp, row, proof));
    }
    case 'signing_input':
      return m.toHex(m.ballotSigningInput(c.fingerprint, c.row, c.proof));
    case 'verify':
      m.verifyBallotSignature(c.public, c.fingerprint, c.row, c.proof, c.signature);
      return 'valid';
    case 'fresh': {
      const seed = m.toHex(m.systemRng(32));
      const k = m.credentialFromPrivate(seed);
      const [fp, row, proof] = [c.fingerprint, c.row, c.proof].map(m.fromHex);
      const sig = m.toHex(m.signBallot(seed, fp, row, proof));
      return { private: seed, public: k.public, printed: m.formatCredential(seed), signature: sig };
    }
    case 'booth': {
      const b = m.makeBallot(c.params, c.choice);
      const printed = c.printed;
      const seed = m.parseCredential(printed);
      const sig = m.signBallot(seed, c.fingerprint, b.wire.ciphertext, b.wire.proof);
      return { wire: b.wire, signature: m.toHex(sig) };
    }
    case 'fingerprint':
      return m.formatFingerprint(c.fingerprint, c.groups);
    default:
      throw new Error('unknown op ' + c.op);
  }
}
"""


def run_js(tmp_path: Path, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return nodejs.run_js(tmp_path, {"m": MODULE}, RUN, cases)


def sample(rng: random.Random) -> tuple[bytes, bytes, bytes]:
    return rng.randbytes(32), rng.randbytes(rng.randrange(0, 300)), rng.randbytes(
        rng.randrange(0, 200)
    )


def test_python_credentials_and_signatures_are_reproduced_by_js(tmp_path: Path) -> None:
    rng = random.Random(11)
    cases: list[dict[str, Any]] = []
    expected: list[Any] = []
    seeds = [bytes(32), b"\xff" * 32] + [rng.randbytes(32) for _ in range(8)]
    for seed in seeds:
        c = cr.credential_from_private(seed)
        cases.append({"op": "derive", "private": seed.hex()})
        expected.append({"public": c.public.hex(), "voterId": c.voter_id, "printed": c.printed})
        cases.append({"op": "parse", "printed": c.printed.lower().replace("-", " ")})
        expected.append(seed.hex())
        fp, row, proof = sample(rng)
        cases.append({"op": "signing_input", "fingerprint": fp.hex(), "row": row.hex(),
                      "proof": proof.hex()})
        expected.append(cr.ballot_signing_input(fp, row, proof).hex())
        sig = cr.sign_ballot(seed, fp, row, proof)
        cases.append({"op": "sign", "private": seed.hex(), "fingerprint": fp.hex(),
                      "row": row.hex(), "proof": proof.hex()})
        expected.append(sig.hex())
        cases.append({"op": "verify", "public": c.public.hex(), "fingerprint": fp.hex(),
                      "row": row.hex(), "proof": proof.hex(), "signature": sig.hex()})
        expected.append("valid")
    assert values(run_js(tmp_path, cases)) == expected


def test_js_credentials_and_signatures_are_accepted_by_python(tmp_path: Path) -> None:
    rng = random.Random(12)
    samples = [sample(rng) for _ in range(6)]
    cases = [{"op": "fresh", "fingerprint": fp.hex(), "row": row.hex(), "proof": proof.hex()}
             for fp, row, proof in samples]
    made = values(run_js(tmp_path, cases))
    assert len({m["private"] for m in made}) == len(made)  # the OS CSPRNG, not a constant
    for (fp, row, proof), m in zip(samples, made, strict=True):
        seed = cr.parse_credential(m["printed"])
        assert seed.hex() == m["private"]
        assert cr.credential_from_private(seed).public.hex() == m["public"]
        signature = bytes.fromhex(m["signature"])
        cr.verify_ballot_signature(bytes.fromhex(m["public"]), fp, row, proof, signature)
        with pytest.raises(MixvoteError):
            cr.verify_ballot_signature(bytes.fromhex(m["public"]), fp, row + b"\x00", proof,
                                       signature)


def _add(a: bytes, b: bytes) -> bytes:
    out = ctypes.create_string_buffer(32)
    assert pysodium.sodium.crypto_core_ed25519_add(out, a, b) == 0
    return out.raw


IDENTITY = bytes([1]) + bytes(31)
ORDER_8 = bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")


def invalid_cases() -> list[tuple[str, bytes, bytes, bytes, bytes, bytes]]:
    """(name, public, fingerprint, row, proof, signature) that both sides must reject."""
    c = cr.credential_from_private(bytes(range(32)))
    fp, row, proof = bytes(range(32)), b"row bytes", b"proof bytes"
    sig = cr.sign_ballot(c.private, fp, row, proof)
    s = int.from_bytes(sig[32:], "little")
    flipped = bytearray(sig)
    flipped[10] ^= 4
    p = 2**255 - 19
    return [
        ("flipped byte", c.public, fp, row, proof, bytes(flipped)),
        ("S + l (malleated)", c.public, fp, row, proof,
         sig[:32] + (s + cr.ED25519_ORDER).to_bytes(32, "little")),
        ("other fingerprint", c.public, bytes(32), row, proof, sig),
        ("other row", c.public, fp, row + b"!", proof, sig),
        ("boundary moved", c.public, fp, row + proof[:1], proof[1:], sig),
        ("other voter", cr.credential_from_private(b"\x07" * 32).public, fp, row, proof, sig),
        # A small-order key with (identity, 0) "verifies" any message under a lax verifier.
        ("identity key, universal forgery", IDENTITY, fp, row, proof, IDENTITY + bytes(32)),
        ("order-8 key", ORDER_8, fp, row, proof, sig),
        ("mixed-order key", _add(c.public, ORDER_8), fp, row, proof, sig),
        ("non-canonical key", (p + 1).to_bytes(32, "little"), fp, row, proof, sig),
        ("R with a torsion component", c.public, fp, row, proof, _add(sig[:32], ORDER_8)
         + sig[32:]),
        ("short signature", c.public, fp, row, proof, sig[:63]),
    ]


def test_both_sides_reject_the_same_invalid_signatures(tmp_path: Path) -> None:
    table = invalid_cases()
    for name, pub, fp, row, proof, sig in table:
        with pytest.raises(MixvoteError):
            cr.verify_ballot_signature(pub, fp, row, proof, sig)
        assert name
    cases = [{"op": "verify", "public": pub.hex(), "fingerprint": fp.hex(), "row": row.hex(),
              "proof": proof.hex(), "signature": sig.hex()}
             for _, pub, fp, row, proof, sig in table]
    results = run_js(tmp_path, cases)
    accepted = [name for (name, *_), r in zip(table, results, strict=True) if r["ok"]]
    assert accepted == []
    reasons = {name: r["error"] for (name, *_), r in zip(table, results, strict=True)}
    assert "not of prime order" in reasons["mixed-order key"]
    assert "prime-order subgroup" in reasons["R with a torsion component"]
    assert "S is not below" in reasons["S + l (malleated)"]


def test_both_sides_reject_mistyped_credentials(tmp_path: Path) -> None:
    printed = cr.credential_from_private(bytes(range(1, 33))).printed
    typo = ("A" if printed[7] != "A" else "B")
    bad = [printed[:7] + typo + printed[8:], printed[:-2], printed + "AA", printed.replace(
        printed[0], "0", 1), ""]
    for text in bad:
        with pytest.raises(MixvoteError):
            cr.parse_credential(text)
    results = run_js(tmp_path, [{"op": "parse", "printed": t} for t in bad])
    assert [r["ok"] for r in results] == [False] * len(bad)


@pytest.mark.parametrize("name", ["secp256k1", "ristretto255"])
def test_the_booth_signs_a_real_ballot_that_python_accepts(tmp_path: Path, name: str) -> None:
    grp = group(name)
    x = grp.random_scalar(random.Random(13))
    pk = elgamal.public_key(grp, x)
    voter = cr.generate_credential(random.Random(14))
    fingerprint = bytes(range(100, 132))
    params = {"group": name, "publicKey": grp.encode(pk.y).hex(), "width": 1,
              "electionId": "e-sign", "voterId": voter.voter_id}
    [made] = values(run_js(tmp_path, [{"op": "booth", "params": params, "choice": 1,
                                       "printed": voter.printed,
                                       "fingerprint": fingerprint.hex()}]))
    row, proof_bytes = bytes.fromhex(made["wire"]["ciphertext"]), bytes.fromhex(
        made["wire"]["proof"])
    signature = bytes.fromhex(made["signature"])
    cr.verify_ballot_signature(voter.public, fingerprint, row, proof_bytes, signature)
    assert signature == cr.sign_ballot(voter.private, fingerprint, row, proof_bytes)
    ct = elgamal.decode_ciphertext(grp, row, 1)
    ballot.verify_ballot(pk, ct, ballot.decode_ballot_proof(grp, proof_bytes, 1), "e-sign",
                         voter.voter_id)
    # The server, holding everything but the credential, cannot re-sign the ballot for another
    # fingerprint (changed parameters) or another voter.
    with pytest.raises(MixvoteError):
        cr.verify_ballot_signature(voter.public, bytes(32), row, proof_bytes, signature)


def test_fingerprint_display_agrees(tmp_path: Path) -> None:
    fp = bytes(range(7, 39))
    cases = [{"op": "fingerprint", "fingerprint": fp.hex(), "groups": g} for g in (16, 8)]
    assert values(run_js(tmp_path, cases)) == [format_fingerprint(fp), short_fingerprint(fp)]
