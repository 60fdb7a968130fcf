"""The conformance vectors (``tests/conformance/vectors/manifest.json``) against ``mixverify``.

Every case must reach its verdict, and the set of check names that fail must be exactly the
manifest's ``failing_checks``. The manifest must cover every check name that ``docs/record.md``
§7 lists and every decision of its §8; ``docs/record.md`` must carry the worked ballot exactly as
``tests.conformance.worked_ballot`` computes it, and delegate nothing to code.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from crypto.io.cli import main
from crypto.io.recorddir import read_directory
from crypto.verify import verify_record
from tests.conformance.worked_ballot import render

HERE = Path(__file__).resolve().parent
VECTORS = HERE / "vectors"
DOCS = HERE.parents[1] / "docs"
MANIFEST: dict[str, Any] = json.loads((VECTORS / "manifest.json").read_text())
CASES: list[dict[str, Any]] = MANIFEST["cases"]


def spec_check_names() -> list[str]:
    text = (DOCS / "record.md").read_text()
    start = text.index("which the conformance manifest uses:")
    paragraph = text[start:].split("\n\n")[1]
    return re.findall(r"`([^`]+)`", paragraph)


def run(case: dict[str, Any]) -> Any:
    """``verify_record`` as the manifest says: the server key and the receipts held, if any."""
    files = read_directory(VECTORS / case["path"])
    kwargs: dict[str, Any] = {}
    if case.get("server_key"):
        kwargs["server_key"] = bytes.fromhex(case["server_key"])
    if case.get("receipts"):
        from crypto.receipts import decode_receipt

        held = json.loads((VECTORS / case["receipts"]).read_text())
        kwargs["receipts"] = [decode_receipt(r) for r in held]
    return verify_record(files, **kwargs)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(case: dict[str, Any]) -> None:
    report = run(case)
    failing = sorted({c.name for c in report.failures})
    assert failing == case["failing_checks"], [str(c) for c in report.failures]
    assert ("accepted" if report.ok else "rejected") == case["verdict"]
    if case["verdict"] == "accepted":
        assert report.ok and not report.failures


def test_manifest_covers_every_check_and_decision() -> None:
    names = spec_check_names()
    assert len(names) >= 26 and {"registered credential", "verificatum", "abandoned"} <= set(names)
    assert len(CASES) >= 60
    covered = {n for c in CASES for n in c["failing_checks"]}
    informational = {"DKG disqualification"}
    assert set(names) - informational <= covered, set(names) - covered
    assert covered <= set(names), covered - set(names)  # no check name the spec does not list
    decisions = {c.get("decision") for c in CASES} - {None}
    assert decisions >= {"embedding", "unknown keys", "duplicate choices",
                         "infinity in shuffle proofs", "verificatum byte for byte",
                         "empty election", "proof file order", "verificatum required",
                         "registered credential"}
    groups = {c["group"] for c in CASES if c["verdict"] == "accepted"}
    assert groups == {"secp256k1", "secp256k1-ref", "ristretto255", "P-256", "P-384",
                      "brainpoolP256r1", "M-221", "E-521"}
    assert {c["width"] for c in CASES if c["verdict"] == "accepted"} >= {1, 2, 3}
    assert sum(1 for c in CASES if c["verdict"] == "accepted") >= 14


def test_informational_disqualification_is_reported() -> None:
    (case,) = [c for c in CASES if c["name"] == "dkg-deal-bad-proof"]
    report = run(case)
    assert any(c.name == "DKG disqualification" and c.ok and c.where == "node 3"
               for c in report.checks)


@pytest.mark.parametrize("name, code", [("honest-ristretto255-w2", 0),
                                        ("hop-proof-infinity", 1)])
def test_cli_agrees(name: str, code: int, capsys: pytest.CaptureFixture[str]) -> None:
    (case,) = [c for c in CASES if c["name"] == name]
    assert main([str(VECTORS / case["path"]), "--json"]) == code
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == case["verdict"]
    assert sorted({c["check"] for c in doc["checks"] if not c["ok"]}) == case["failing_checks"]


def test_spec_carries_the_worked_ballot() -> None:
    assert render() in (DOCS / "record.md").read_text()


def test_spec_delegates_nothing_to_code() -> None:
    for doc in ("record.md", "spec-shuffle.md"):
        text = (DOCS / doc).read_text()
        assert "docstring" not in text
        assert not re.search(r"crypto/[a-z]", text), doc
        assert "shared/" not in text
