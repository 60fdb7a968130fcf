"""mixbench end to end: a tiny grid of real elections (mixdemo: server + 3 node processes on
loopback), its CSV/JSON records, resume, and the plots drawn from those records; and the
verifier's benchmark (``mixbench verify``) on a recorded election."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from experiments import cli, plots
from experiments.records import load_records
from mixserver.harness import DemoConfig, run_election

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("mixbench")
    config = {
        "name": "tiny",
        "out": str(tmp / "results"),
        "timeout": 240,
        "defaults": {"ballots": [8], "nodes": [3], "threshold": [2], "group": ["secp256k1"]},
        "grids": [{"ballots": [8, 16]}, {"fault": ["crash"]}],
    }
    path = tmp / "tiny.json"
    path.write_text(json.dumps(config))
    assert cli.main(["run", str(path)]) == 0
    return tmp / "results"


def test_grid_writes_csv_and_json_records(results: Path) -> None:
    records = load_records(results)
    assert json.loads((results / "records.json").read_text()) == records
    assert len(records) == 3
    by_key = {(r["ballots"], r["fault"]): r for r in records}
    assert set(by_key) == {(8, "none"), (16, "none"), (8, "crash")}
    for r in records:
        assert r["status"] == "ok" and r["correct"] is True, r.get("error")
        assert r["commit"] and r["host"] and r["versions"]["coincurve"]
        for phase in ("keygen", "casting", "mixing", "decryption", "wall"):
            assert r[phase] > 0, phase
        assert r["peak_rss_server_mb"] > 10 and r["peak_rss_node_max_mb"] > 10
        assert 0 < r["proof_bytes_per_hop"] < r["record_bytes"]
        assert r["ciphertext_bytes"] == r["ballots"] * 2 * 33  # secp256k1, width 1
        assert r["verify_status"] in ("accepted", "unavailable (2)")
    clean = by_key[(8, "none")]
    assert clean["hops_accepted"] == 3 and clean["fault_detect"] is None
    assert [h["status"] for h in clean["hops"]] == ["accepted"] * 3
    crash = by_key[(8, "crash")]
    assert (crash["hops_accepted"], crash["hops_skipped"]) == (2, 1)
    assert crash["hops"][1]["status"] == "skipped" and crash["hops"][1]["node"] == 2
    assert 0 <= crash["fault_detect"] <= crash["fault_recover"] < 30
    with open(results / "records.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [row["key"] for row in rows] == [r["key"] for r in records]
    assert {row["status"] for row in rows} == {"ok"}


def test_rerun_resumes_without_running_again(results: Path, tmp_path: Path) -> None:
    before = (results / "records.jsonl").read_text()
    config = json.loads(next(results.parent.glob("*.json")).read_text())
    path = tmp_path / "again.json"
    path.write_text(json.dumps(config))
    assert cli.main(["run", str(path)]) == 0
    assert (results / "records.jsonl").read_text() == before


def test_plot_of_the_grid(results: Path, tmp_path: Path) -> None:
    shutil.copytree(results, tmp_path / "r")
    written = {p.name for p in plots.plot_results(tmp_path / "r")}
    assert {"phases_vs_n.png", "phases_vs_n.svg", "faults.png", "faults.svg", "summary.md"} <= (
        written
    )
    summary = (tmp_path / "r" / "plots" / "summary.md").read_text()
    assert "3 runs recorded, 3 succeeded" in summary
    assert "| crash | 8 | 1 | 2/1/0 |" in summary


def test_verify_benchmark_on_a_recorded_election(tmp_path: Path) -> None:
    record = tmp_path / "record"
    summary = run_election(DemoConfig(ballots=8, nodes=3, threshold=2, export=record))
    assert summary["correct"] and summary["export"]
    out = tmp_path / "verify.json"
    argv = ["verify", "--record", str(record), "--workers", "1", "--out", str(out)]
    assert cli.main(argv) == 0
    doc = json.loads(out.read_text())
    assert doc["experiment"] == "verify_bench" and doc["params"]["group"] == "secp256k1"
    (result,) = doc["results"]
    assert result["ok"] is True and result["failures"] == []
    assert result["workers"] == 1 and result["shuffle_rows"] == 8 * 3  # 8 ballots, 3 hops
    assert result["shuffle_rows_per_s"] > 0 and doc["floor"]["floor_rows_per_s"] > 0


def test_a_test_election_says_so_with_its_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # mixbench and mixdemo run test elections: the server held the credentials, and mixverify
    # prints that with its verdict (text and JSON)
    from crypto.io.cli import main as mixverify

    record = tmp_path / "record"
    summary = run_election(DemoConfig(ballots=3, nodes=2, threshold=1, export=record))
    assert summary["correct"] and summary["test_election"] is True
    assert mixverify([str(record)]) == 0
    out = capsys.readouterr().out
    assert "test election: the server held the credentials\nVERDICT: ACCEPTED" in out
    assert mixverify([str(record), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["note"] == "test election: the server held the credentials"
    assert doc["summary"]["test_election"] is True
