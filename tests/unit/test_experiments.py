"""mixbench: the crypto bench's schema and floors, grid configuration, records, resume, plots.

Whole elections through mixdemo are in ``tests/e2e/test_mixbench.py``; here ``run_one`` is
replaced by a fake so that the grid logic (resume, interruption, failures) is tested fast.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from experiments import cli, cryptobench, grid, plots, records

FIXTURE = Path(__file__).with_name("test_experiments_records.json")


# --- mixbench crypto ------------------------------------------------------------------------------
def _run_cli(argv: list[str]) -> tuple[int, str]:
    buf = io.StringIO()
    with redirect_stdout(buf):
        code = cli.main(argv)
    return code, buf.getvalue()


def test_crypto_json_schema_is_exact() -> None:
    code, out = _run_cli(["crypto", "--ballots", "4", "--json"])
    assert code == 0
    rows = json.loads(out)
    assert [r["phase"] for r in rows] == list(cryptobench.PHASES)
    for r in rows:
        assert list(r) == ["group", "ballots", "width", "workers", "phase", "per_second"]
        assert (r["group"], r["ballots"], r["width"], r["workers"]) == ("secp256k1", 4, 1, 1)
        assert isinstance(r["per_second"], float) and r["per_second"] > 0


def test_crypto_grid_rows_per_configuration() -> None:
    code, out = _run_cli(
        ["crypto", "--group", "secp256k1,ristretto255", "--ballots", "3", "--width", "1,2",
         "--json"]
    )  # fmt: skip
    assert code == 0
    rows = json.loads(out)
    configs = {(r["group"], r["width"]) for r in rows}
    assert configs == {(g, w) for g in ("secp256k1", "ristretto255") for w in (1, 2)}
    assert len(rows) == 4 * len(cryptobench.PHASES)


def test_crypto_table_shows_floor_ratio_and_shuffle_plus_prove() -> None:
    code, out = _run_cli(["crypto", "--ballots", "4"])
    assert code == 0
    lines = out.splitlines()
    assert "floor/s" in lines[0] and "ratio" in lines[0]
    assert lines[-1].startswith("load average (1 min):")
    by_phase = {line.split()[4]: line.split() for line in lines[2:-1]}
    assert set(by_phase) == {*cryptobench.PHASES, "shuffle+prove"}
    # per-ballot phases carry floor and ratio columns, micro phases do not
    assert len(by_phase["verify"]) == 8 and len(by_phase["mult"]) == 6
    rate, fl, ratio = (float(x.replace(",", "")) for x in by_phase["verify"][5:8])
    assert ratio == pytest.approx(rate / fl, rel=0.02, abs=0.01)


def test_crypto_table_from_saved_json(tmp_path: Path) -> None:
    code, out = _run_cli(["crypto", "--ballots", "3", "--json"])
    saved = tmp_path / "rows.json"
    saved.write_text(out)
    code, table = _run_cli(["crypto", "--from-json", str(saved)])
    assert code == 0 and "shuffle+prove" in table and "floor/s" in table
    rows = json.loads(out)
    rows[0]["phase"] = "teleport"
    saved.write_text(json.dumps(rows))
    assert cli.main(["crypto", "--from-json", str(saved)]) == cli.EXIT_USAGE
    saved.write_text('[{"group": "secp256k1"}]')
    assert cli.main(["crypto", "--from-json", str(saved)]) == cli.EXIT_USAGE


@pytest.mark.parametrize(
    "argv",
    [["crypto", "--group", "nope"], ["crypto", "--ballots", "0"], ["crypto", "--workers", "x"],
     ["crypto", "--width", ""]],
)  # fmt: skip
def test_crypto_bad_arguments_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2


def test_crypto_too_few_ballots_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["crypto", "--ballots", "1"]) == cli.EXIT_USAGE
    assert "at least 2" in capsys.readouterr().err


def test_operation_counts_match_the_documented_costs() -> None:
    assert cryptobench.operation_counts("prove", 1) == (3, 5)
    assert cryptobench.operation_counts("verify", 1) == (1, 8)
    assert cryptobench.operation_counts("verify", 3) == (1, 16)
    assert cryptobench.operation_counts("reencrypt", 2) == (2, 2)
    assert cryptobench.operation_counts("combine", 2, threshold=3) == (0, 6)
    with pytest.raises(ValueError, match="not a per-ballot phase"):
        cryptobench.operation_counts("mult", 1)


def test_floor_scales_with_workers_only_for_parallel_phases() -> None:
    rates = {"mult": 1000.0, "fixed_mult": 2000.0}
    # verify at w=1: 1/2000 + 8/1000 s per row
    assert cryptobench.floor_per_second("verify", 1, rates) == pytest.approx(1 / 0.0085)
    assert cryptobench.floor_per_second("verify", 1, rates, workers=2) == pytest.approx(2 / 0.0085)
    assert cryptobench.floor_per_second("decrypt_share", 1, rates, workers=2) == pytest.approx(500)


def test_bench_rows_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="ballots >= 2"):
        cryptobench.bench_rows("secp256k1", 1, 1, 1)
    with pytest.raises(ValueError):
        cryptobench.bench_rows("secp256k1", 4, 0, 1)


def test_dealer_shares_combine_to_the_key() -> None:
    import random

    from crypto import group
    from crypto.threshold import lagrange_at_zero

    g = group("secp256k1")
    shares = cryptobench.dealer_key_shares(g, 3, 2, random.Random(5))
    for pair in ((1, 2), (1, 3), (2, 3)):
        x = sum(lagrange_at_zero(pair, j, g.order) * shares[j - 1].x_j for j in pair) % g.order
        assert g.base_mul(x) == shares[0].public_key.y
    assert g.base_mul(shares[0].x_j) != shares[0].public_key.y


# --- configuration --------------------------------------------------------------------------------
def _write(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_presets_load_and_expand() -> None:
    quick = grid.load_config(None, "quick")
    runs = grid.expand(quick)
    assert 1 <= len(runs) <= 4
    assert all(r["nodes"] >= r["threshold"] for r in runs)
    full = grid.expand(grid.load_config(None, "full"))
    assert {r["fault"] for r in full} == set(grid.FAULTS)
    assert {"secp256k1", "ristretto255", "P-256", "M-221", "E-521"} <= {r["group"] for r in full}
    assert min(r["ballots"] for r in full) == 100 and max(r["ballots"] for r in full) == 100_000
    assert len({r["key"] for r in full}) == len(full)


def test_example_toml_config_loads() -> None:
    config = grid.load_config(grid.CONFIG_DIR / "example.toml", None)
    runs = grid.expand(config)
    assert {r["repetition"] for r in runs} == {0, 1}
    assert {r["group"] for r in runs} == {"ristretto255"}


def test_expand_dedups_and_skips_impossible_points(tmp_path: Path) -> None:
    path = _write(tmp_path, "g.json", {
        "defaults": {"ballots": [8], "nodes": [1, 3], "threshold": [1, 2]},
        "grids": [{"fault": ["none", "crash"]}, {"fault": ["none"]}],
    })  # fmt: skip
    runs = grid.expand(grid.load_config(path, None))
    keys = [r["key"] for r in runs]
    assert len(keys) == len(set(keys))
    # t > k dropped; a fault on a one-node cascade dropped
    assert not any(r["threshold"] > r["nodes"] for r in runs)
    assert not any(r["nodes"] == 1 and r["fault"] != "none" for r in runs)
    assert len(runs) == 3 + 2  # none: (1,1),(3,1),(3,2); crash: (3,1),(3,2)


def test_command_line_overrides_every_subgrid(tmp_path: Path) -> None:
    path = _write(tmp_path, "g.json", {"grids": [{"ballots": [10]}, {"ballots": [20]}]})
    args = argparse.Namespace(ballots=[5], nodes=None, threshold=None, group=None, width=None,
                              workers=None, fault=["crash"], out=tmp_path / "o",
                              repetitions=2, timeout=None, no_verify=True)  # fmt: skip
    config = grid.load_config(path, None, args)
    runs = grid.expand(config)
    assert {r["ballots"] for r in runs} == {5}
    assert {r["fault"] for r in runs} == {"crash"}
    assert len(runs) == 2 and config["verify"] is False and config["out"] == tmp_path / "o"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"grids": [{"group": ["nope"]}]}, "unknown group"),
        ({"grids": [{"fault": ["meteor"]}]}, "unknown fault"),
        ({"grids": [{"ballots": [0]}]}, "positive integers"),
        ({"grids": [{"ballots": 5}]}, "non-empty list"),
        ({"grids": [{"colour": [1]}]}, "unknown keys"),
        ({"surprise": 1}, "unknown configuration keys"),
        ({"repetitions": 0}, "repetitions"),
        ("[1, 2]", "object"),
        ("{not json", "g.json"),
    ],
)
def test_bad_configs_are_rejected(tmp_path: Path, data: Any, message: str) -> None:
    path = _write(tmp_path, "g.json", data)
    with pytest.raises(grid.ConfigError, match=message):
        grid.load_config(path, None)


def test_config_file_or_preset_exactly_one(tmp_path: Path) -> None:
    with pytest.raises(grid.ConfigError, match="one of them"):
        grid.load_config(None, None)
    with pytest.raises(grid.ConfigError, match="one of them"):
        grid.load_config(tmp_path / "x.json", "quick")
    with pytest.raises(grid.ConfigError, match=r"x\.json"):
        grid.load_config(tmp_path / "x.json", None)


def test_run_cli_maps_bad_config_to_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = _write(tmp_path, "g.json", {"grids": [{"group": ["nope"]}]})
    assert cli.main(["run", str(path)]) == cli.EXIT_USAGE
    assert "unknown group" in capsys.readouterr().err


def test_demo_command_fault_switches() -> None:
    config = grid.load_config(None, "quick")
    point = {"ballots": 8, "nodes": 3, "threshold": 2, "group": "P-256", "width": 2,
             "workers": 2, "fault": "none"}  # fmt: skip
    work = Path("/w")
    cmd = grid.demo_command(point, config, work)
    assert cmd[cmd.index("--group") + 1] == "P-256"
    assert cmd[cmd.index("--node-workers") + 1] == "2"
    assert "--json" in cmd and cmd[cmd.index("--export") + 1] == "/w/export"
    assert not {"--crash-node", "--cheat", "--pause-node"} & set(cmd)
    cmd = grid.demo_command({**point, "fault": "crash"}, config, work)
    assert cmd[cmd.index("--crash-node") + 1] == "2"
    cmd = grid.demo_command({**point, "fault": "cheat"}, config, work)
    assert cmd[cmd.index("--cheat") + 1] == "2:forged-proof"
    cmd = grid.demo_command({**point, "fault": "slow"}, config, work)
    timeout = float(cmd[cmd.index("--hop-timeout") + 1])
    pos, pause = cmd[cmd.index("--pause-node") + 1].split(":")
    assert pos == "2" and float(pause) > timeout  # the slow node outlasts the hop timeout


# --- deriving metrics from mixdemo's output ------------------------------------------------------
SUMMARY = {
    "timeline": [[0.0, 1, 1, "shuffling"], [0.4, 1, 1, "verifying"], [0.6, 2, 2, "shuffling"],
                 [0.9, 3, 3, "shuffling"], [1.3, 3, 3, "verifying"], [1.5, 3, 3, "decrypting"],
                 [2.0, 3, 3, "tallied"]],
    "verdicts": [
        {"hop": 1, "node": 1, "status": "accepted", "seconds": 0.58, "at": 0.6},
        {"hop": 2, "node": 2, "status": "skipped", "seconds": 0.2, "at": 0.85},
        {"hop": 3, "node": 3, "status": "accepted", "seconds": 0.55, "at": 1.5},
    ],
    "fault": {"kind": "crash", "node": 2, "hop": 2, "at": 0.65},
}  # fmt: skip


def test_hop_times_split_node_and_verification() -> None:
    hops = grid.hop_times(SUMMARY)
    assert [h["status"] for h in hops] == ["accepted", "skipped", "accepted"]
    assert hops[0]["node_seconds"] == pytest.approx(0.4)
    assert hops[0]["verify_seconds"] == pytest.approx(0.18)
    assert hops[1]["node_seconds"] is None and hops[1]["verify_seconds"] is None
    assert hops[2]["node_seconds"] == pytest.approx(0.4)


def test_fault_times() -> None:
    point = {"nodes": 3, "fault": "crash"}
    detect, recover = grid.fault_times(SUMMARY, point)
    assert detect == pytest.approx(0.2)  # crash at 0.65, skipped verdict seen at 0.85
    assert recover == pytest.approx(0.25)  # node 3 starts at 0.9
    assert grid.fault_times(SUMMARY, {"nodes": 3, "fault": "none"}) == (None, None)
    cheat = {**SUMMARY, "timeline": [*SUMMARY["timeline"][:3], [0.7, 2, 2, "verifying"],
                                     *SUMMARY["timeline"][3:]]}  # fmt: skip
    detect, recover = grid.fault_times(cheat, {"nodes": 3, "fault": "cheat"})
    assert detect == pytest.approx(0.15) and recover == pytest.approx(0.2)


# --- records and resume ---------------------------------------------------------------------------
def _point(n: int) -> dict[str, Any]:
    p = {"group": "secp256k1", "ballots": n, "nodes": 3, "threshold": 2, "width": 1,
         "workers": 1, "fault": "none", "repetition": 0}  # fmt: skip
    return {**p, "key": records.run_key(p)}


def test_records_round_trip_csv_json_and_torn_line(tmp_path: Path) -> None:
    r1 = {**_point(8), "status": "ok", "mixing": 1.5, "hops": [{"hop": 1}]}
    r2 = {**_point(16), "status": "failed", "error": "boom"}
    records.append_record(tmp_path, r1)
    records.append_record(tmp_path, r2)
    assert [r["key"] for r in records.load_records(tmp_path)] == [r1["key"], r2["key"]]
    assert json.loads((tmp_path / "records.json").read_text()) == [r1, r2]
    with open(tmp_path / "records.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["status"] for r in rows] == ["ok", "failed"]
    assert rows[0]["mixing"] == "1.5" and json.loads(rows[0]["hops"]) == [{"hop": 1}]
    assert list(rows[0]) == list(records.CSV_FIELDS)
    with open(tmp_path / "records.jsonl", "a") as f:
        f.write('{"key": "half a rec')  # interrupted while appending
    assert len(records.load_records(tmp_path)) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [("{}", "list of records"), ('[{"key": "k"}]', "lacks"), ("[1]", "list of records"),
     ("{no", "not JSON")],
)  # fmt: skip
def test_bad_record_files_are_rejected(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(text)
    with pytest.raises(records.RecordError, match=message):
        records.load_records(path)


def test_corrupt_jsonl_line_in_the_middle_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    path.write_text("{bad\n" + json.dumps({**_point(8), "status": "ok"}) + "\n")
    with pytest.raises(records.RecordError, match=":1: not JSON"):
        records.load_records(path)


def _fake_config(tmp_path: Path, ballots: list[int]) -> dict[str, Any]:
    path = _write(tmp_path, "g.json", {"out": str(tmp_path / "res"),
                                       "defaults": {"ballots": ballots}})  # fmt: skip
    return grid.load_config(path, None)


def test_resume_skips_recorded_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _fake_config(tmp_path, [8, 16, 32])
    calls: list[int] = []
    interrupt = [True]

    def fake_run_one(point: dict[str, Any], config: Any, env: Any) -> dict[str, Any]:
        calls.append(point["ballots"])
        if point["ballots"] == 16 and interrupt:
            interrupt.clear()
            raise KeyboardInterrupt  # interrupted in the middle of the second run
        return {**point, "status": "ok", "mixing": 0.1}

    monkeypatch.setattr(grid, "run_one", fake_run_one)
    monkeypatch.setattr(grid, "environment", lambda: {"commit": "x"})
    with pytest.raises(KeyboardInterrupt):
        grid.run_grid_config(config)
    assert [r["ballots"] for r in records.load_records(config["out"])] == [8]
    calls.clear()
    assert grid.run_grid_config(config) == 0
    assert calls == [16, 32]  # the recorded run is skipped
    calls.clear()
    assert grid.run_grid_config(config) == 0
    assert calls == []
    assert sorted(r["ballots"] for r in records.load_records(config["out"])) == [8, 16, 32]


def test_failed_runs_are_recorded_and_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    config = _fake_config(tmp_path, [8, 16])
    monkeypatch.setattr(grid, "environment", lambda: {})
    monkeypatch.setattr(grid, "run_one", lambda p, c, e: {
        **p, "status": "failed" if p["ballots"] == 16 else "ok", "error": "x"})  # fmt: skip
    assert grid.run_grid_config(config) == 1
    statuses = {r["ballots"]: r["status"] for r in records.load_records(config["out"])}
    assert statuses == {8: "ok", 16: "failed"}


def test_dry_run_lists_without_running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    config = _fake_config(tmp_path, [8, 16])
    records.append_record(config["out"], {**_point(8), "status": "ok"})
    monkeypatch.setattr(grid, "run_one", lambda *a: pytest.fail("dry run must not run"))
    assert grid.run_grid_config(config, dry_run=True) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == ["done", "todo"]


# --- plots ----------------------------------------------------------------------------------------
def test_fit_linear_recovers_a_line() -> None:
    ns = [100, 100, 1000, 1000, 10000]
    fit = plots.fit_linear(ns, [0.002 * n + 0.5 for n in ns])
    assert fit is not None
    assert fit["a"] == pytest.approx(0.002) and fit["b"] == pytest.approx(0.5)
    assert fit["rel_rms"] < 1e-9 and fit["a_err"] < 1e-9
    noisy = plots.fit_linear(ns, [0.002 * n + 0.5 + (0.3 if i % 2 else -0.3)
                                  for i, n in enumerate(ns)])  # fmt: skip
    assert noisy is not None and noisy["rel_rms"] > 0.01 and noisy["a_err"] > 0
    assert plots.fit_linear([100, 100], [1.0, 2.0]) is None


def test_plot_fixture_writes_every_figure_and_summary(tmp_path: Path) -> None:
    written = plots.plot_results(FIXTURE, tmp_path)
    names = {p.name for p in written}
    for fig in ("phases_vs_n", "throughput_vs_workers", "groups", "faults"):
        assert {f"{fig}.png", f"{fig}.svg"} <= names
        assert (tmp_path / f"{fig}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "<svg" in (tmp_path / f"{fig}.svg").read_text()[:2000]
    summary = (tmp_path / "summary.md").read_text()
    assert "13 runs recorded, 12 succeeded" in summary
    assert "| secp256k1 | 1000 | 3 | 2 | 1 | 2 | none | 1 |" in summary
    # the fixture's hop verification is exactly 0.0015·N + 0.05 s: the fit must find it
    line = next(x for x in summary.splitlines() if x.startswith("| hop: server verification"))
    cells = [c.strip() for c in line.split("|")[1:-1]]
    assert float(cells[1]) == pytest.approx(1.5, rel=1e-3)  # a in ms per ballot
    assert float(cells[3]) == pytest.approx(0.05, rel=1e-3)
    assert "| crash | 100 | 1 | 2/1/0 | 0.05 | 0.1 |" in summary
    assert "ballots=30000" in summary and "timed out" in summary  # failed runs are listed


def test_plot_cli(tmp_path: Path) -> None:
    code, out = _run_cli(["plot", str(FIXTURE), "--out", str(tmp_path)])
    assert code == 0
    assert str(tmp_path / "summary.md") in out.splitlines()


def test_plot_without_records_is_usage_error(tmp_path: Path) -> None:
    assert cli.main(["plot", str(tmp_path)]) == cli.EXIT_USAGE
    with pytest.raises(SystemExit) as exc:  # a path that does not exist: argparse's check
        cli.main(["plot", str(tmp_path / "missing.json")])
    assert exc.value.code == cli.EXIT_USAGE


def test_plot_skips_figures_the_records_cannot_support(tmp_path: Path) -> None:
    one = [r for r in json.loads(FIXTURE.read_text()) if r["ballots"] == 100
           and r["group"] == "secp256k1" and r["fault"] == "none"][:1]  # fmt: skip
    path = tmp_path / "one.json"
    path.write_text(json.dumps(one))
    written = plots.plot_results(path, tmp_path / "p")
    assert [p.name for p in written] == ["summary.md"]


def test_compare_backends_measures_both_verifiers() -> None:
    results = cryptobench.compare_backends(["secp256k1"], msm_points=200, micro_count=64,
                                           proof_rows=80)
    assert {r.backend for r in results} >= {"reference"}
    for r in results:
        assert r.proof is not None and r.proof_rows == 80
        assert set(r.proof) == {"shuffle+prove", "verify", "verify_per_equation"}
        assert all(v > 0 for v in r.proof.values())
    table = cryptobench.format_backends(results)
    assert "per-equation/s" in table and "of MSM floor" in table
    assert table.count("secp256k1") == 2 * len(results)
