"""JS/Python agreement for homomorphic ballots: the browser module
(webui/static/js/homomorphic.js, on mixvote-crypto.js and @noble/curves) and the Python reference
(crypto.homomorphic) produce the same bytes from the same randomness (the shared vectors of
``tests/vectors/data/kat_homomorphic.json``), each verifies the other's ballots, and both reject
the same forgeries at the same location.

The JS runs under ``node`` on exactly the file the browser loads (as in test_js_agreement.py).
Without node or ``npm ci`` the tests skip locally; under ``CI`` they fail, saying what is missing.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

import crypto
from crypto import elgamal
from crypto.errors import InvalidElement, InvalidProof, MixvoteError
from crypto.groups import GROUPS
from crypto.homomorphic import (
    SelectionRule,
    ballot_to_json,
    decode_ballot,
    encode_ballot,
    encrypt_ballot,
    vartime_discrete_logs,
    verify_ballot,
)
from tests.unit.test_homomorphic import forged_ballot
from tests.vectors import nodejs
from tests.vectors.nodejs import values
from tests.vectors.test_kat_homomorphic import load, randomness_from_json

MODULE = nodejs.JS_DIR / "homomorphic.js"

JS_GROUPS = ("secp256k1", "P-256", "ristretto255")
COMMON_GROUPS = [g for g in JS_GROUPS if g in GROUPS]


pytestmark = pytest.mark.usefixtures("js_side")


RUN = r"""
function run(c) {
  switch (c.op) {
    case 'encrypt': {
      const options = c.fixed ? { fixed: c.fixed } : {};
      const made = h.encryptHomomorphicBallot(c.params, c.selections, options);
      return { ballot: made.ballot, json: made.json };
    }
    case 'check':
      h.checkHomomorphicBallot(c.params, c.ballot);
      return 'valid';
    case 'size': {
      const g = m.group(c.params.group);
      const p = c.params;
      const rule = h.selectionRule(p.nChoices, p.minSelections, p.maxSelections);
      return h.homomorphicBallotSize(g, rule);
    }
    default:
      throw new Error('unknown op ' + c.op);
  }
}
"""


def run_js(tmp_path: Path, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run every case through the browser module under node; one result per case."""
    base = nodejs.JS_DIR / "mixvote-crypto.js"
    return nodejs.run_js(tmp_path, {"h": MODULE, "m": base}, RUN, cases, timeout=300)


def params(name: str, y_hex: str, rule: SelectionRule, context: bytes) -> dict[str, Any]:
    return {
        "group": name,
        "publicKey": y_hex,
        "nChoices": rule.n_choices,
        "minSelections": rule.min_selections,
        "maxSelections": rule.max_selections,
        "context": context.hex(),
    }


def key_pair(name: str, seed: int) -> tuple[crypto.Group, int, elgamal.PublicKey, str]:
    """A seeded ElGamal key pair of group ``name``, with the public key's hex for the browser."""
    grp = crypto.group(name)
    x, pk = elgamal.keygen(grp, random.Random(seed))
    return grp, x, pk, grp.encode(pk.y).hex()


def js_fixed(grp: crypto.Group, doc: dict[str, Any]) -> dict[str, Any]:
    """The KAT's randomness as the decimal strings the JS takes."""
    r = randomness_from_json(grp, doc)
    return {
        "r": [str(v) for v in r.r],
        "choiceNonces": [[[str(c), str(z)] for c, z in p] for p in r.choice_nonces],
        "selectionNonces": [[str(c), str(z)] for c, z in r.selection_nonces],
    }


@pytest.mark.parametrize("name", COMMON_GROUPS)
def test_js_makes_the_vector_ballots_byte_for_byte_and_verifies_them(
    tmp_path: Path, name: str
) -> None:
    grp = crypto.group(name)
    case = load(name)
    context = bytes.fromhex(case["context"])
    pk = elgamal.decode_public_key(grp, bytes.fromhex(case["y"]))
    cases: list[dict[str, Any]] = []
    expected: list[Any] = []
    for b in case["ballots"]:
        rule = SelectionRule(*b["rule"])
        p = params(name, case["y"], rule, context)
        ballot = decode_ballot(grp, bytes.fromhex(b["ballot"]), rule)
        cases.append(
            {
                "op": "encrypt",
                "params": p,
                "selections": b["selections"],
                "fixed": js_fixed(grp, b["randomness"]),
            }
        )
        expected.append({"ballot": b["ballot"], "json": ballot_to_json(grp, ballot)})
        cases.append({"op": "check", "params": p, "ballot": b["ballot"]})
        expected.append("valid")
        cases.append({"op": "size", "params": p})
        expected.append(len(bytes.fromhex(b["ballot"])))
        verify_ballot(pk, ballot, rule, context)
    assert values(run_js(tmp_path, cases)) == expected


@pytest.mark.parametrize("name", COMMON_GROUPS)
def test_python_verifies_browser_ballots_and_decrypts_them(tmp_path: Path, name: str) -> None:
    grp, x, pk, y_hex = key_pair(name, seed=5)
    rng = random.Random(6)
    rules = [SelectionRule.single(5), SelectionRule.approval(5, 3), SelectionRule(4, 2, 4)]
    cases, made_for = [], []
    for rule in rules:
        for _ in range(3):
            count = rng.randint(rule.min_selections, rule.max_selections)
            chosen = set(rng.sample(range(rule.n_choices), count))
            selections = [int(k in chosen) for k in range(rule.n_choices)]
            context = rng.randbytes(24)
            cases.append(
                {
                    "op": "encrypt",
                    "params": params(name, y_hex, rule, context),
                    "selections": selections,
                }
            )
            made_for.append((rule, selections, context))
    for (rule, selections, context), made in zip(
        made_for, values(run_js(tmp_path, cases)), strict=True
    ):
        ballot = decode_ballot(grp, bytes.fromhex(made["ballot"]), rule)
        assert ballot_to_json(grp, ballot) == made["json"]
        verify_ballot(pk, ballot, rule, context)
        bound = 1
        assert vartime_discrete_logs(grp, elgamal.decrypt(grp, x, ballot.ciphertext), bound) == (
            tuple(selections)
        )


@pytest.mark.parametrize("name", COMMON_GROUPS)
def test_both_reject_the_same_forgeries_at_the_same_location(tmp_path: Path, name: str) -> None:
    grp, _, pk, y_hex = key_pair(name, seed=7)
    rule = SelectionRule.single(3)
    context = b"fingerprint|alice"
    honest = encrypt_ballot(pk, [0, 1, 0], rule, context, random.Random(8))
    data = encode_ballot(grp, honest)
    size, s = grp.element_size, grp.scalar_size
    proofs_at = 6 * size

    def flipped(offset: int) -> bytes:
        bad = bytearray(data)
        bad[offset] ^= 0x01
        return bytes(bad)

    # A cheating voter running the prover with false claims (tests/unit/test_homomorphic.py):
    # choice 1 encrypts 2; or two choices selected on a single-choice question.
    encrypts_two = encode_ballot(grp, forged_ballot(pk, [0, 2, 0], [0, 1, 0], 1, rule, context))
    two_selected = encode_ballot(grp, forged_ballot(pk, [1, 1, 0], [1, 1, 0], 1, rule, context))
    bad_cases: list[tuple[bytes, bytes, str]] = [
        (data, b"fingerprint|bob", "choice 0: 0/1 proof"),  # replayed for another credential
        (encrypts_two, context, "choice 1: 0/1 proof"),
        (two_selected, context, "selection-count proof"),
        (flipped(proofs_at + 4 * s + 2 * s - 1), context, "choice 1: 0/1 proof"),  # z of branch 0
        (flipped(proofs_at + 12 * s + 1), context, "selection-count proof"),
    ]
    cases = [
        {"op": "check", "params": params(name, y_hex, rule, ctx), "ballot": bad.hex()}
        for bad, ctx, _ in bad_cases
    ]
    results = run_js(tmp_path, cases)
    for (bad, ctx, where), result in zip(bad_cases, results, strict=True):
        with pytest.raises(InvalidProof) as caught:
            verify_ballot(pk, decode_ballot(grp, bad, rule), rule, ctx)
        assert str(caught.value).startswith(where), caught.value
        assert not result["ok"] and result["error"].startswith(where), (where, result)

    # Invalid elements and a non-canonical scalar: both decoders reject, naming the field.
    identity = grp.encode(grp.identity)
    not_canonical = bytearray(data)
    not_canonical[proofs_at + 2 * s : proofs_at + 3 * s] = grp.order.to_bytes(s, "big")
    malformed: list[tuple[bytes, str]] = [
        (identity + data[size:], "choice 0: alpha"),
        (data[: 4 * size] + b"\xff" * size + data[5 * size :], "choice 1: beta"),
        (bytes(not_canonical), "choice 0: 0/1 proof"),
        (data[:-1], ""),
    ]
    results = run_js(
        tmp_path,
        [
            {"op": "check", "params": params(name, y_hex, rule, context), "ballot": bad.hex()}
            for bad, _ in malformed
        ],
    )
    for (bad, where), result in zip(malformed, results, strict=True):
        with pytest.raises(MixvoteError) as caught:
            decode_ballot(grp, bad, rule)
        assert str(caught.value).startswith(where)
        assert not result["ok"] and result["error"].startswith(where), (where, result)
    with pytest.raises(InvalidElement):
        decode_ballot(grp, identity + data[size:], rule)


def test_js_refuses_to_encrypt_invalid_selections(tmp_path: Path) -> None:
    grp = crypto.group("secp256k1")
    y_hex = grp.encode(grp.base_mul(99)).hex()
    p = params("secp256k1", y_hex, SelectionRule.single(3), b"c")
    results = run_js(
        tmp_path,
        [
            {"op": "encrypt", "params": p, "selections": sel}
            for sel in ([0, 2, 0], [1, 1, 0], [0, 0, 0], [1, 0])
        ],
    )
    errors = [r.get("error", "") for r in results]
    assert [r["ok"] for r in results] == [False] * 4
    assert "selections[1] must be 0 or 1" in errors[0]
    assert "2 choices selected, the rule allows 1..1" in errors[1]
    assert "0 choices selected" in errors[2]
    assert "2 selections for 3 choices" in errors[3]
