"""``mixbench load`` end to end: against a test election it started itself (``--start-demo
--tally``: the ballots it cast are the ones the tally counts), and against a running server with
the admin's credentials CSV (more ballots than credentials: replaced ballots); a normal election
is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments import cli
from experiments.load import Demo
from mixserver.harness import Api, authority_credentials
from tests.e2e.demos import demo_fixture

pytestmark = pytest.mark.slow


def test_start_demo_load_and_tally(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = cli.main(["load", "--start-demo", "--voters", "12", "--concurrency", "3",
                     "--choices", "1,2,2", "--tally", "--json", "--no-progress",
                     "--demo-data", str(tmp_path / "demo")])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    row = json.loads(out)
    assert row["ok"] == 12 and row["errors"] == {} and row["concurrency"] == 3
    assert row["expected"] == {"option 1": 4, "option 2": 8, "option 3": 0}
    assert row["tally"] == row["expected"] and row["tally_correct"] is True
    lat = row["latency_ms"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert row["ballots_per_s"] > 0 and row["wall_s"] > 0


demo = demo_fixture(5)


def test_load_with_the_admin_csv(
    demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api = Api(demo.base, demo.token)
    rows = api.request("GET", f"/api/elections/{demo.election}/credentials")["credentials"]
    csv = tmp_path / "creds.csv"
    csv.write_text("voter_id,credential\n"
                   + "".join(f"{r['voter_id']},{r['credential']}\n" for r in rows))  # fmt: skip
    code = cli.main(["load", "--server", demo.base, "--election", demo.election,
                     "--credentials", str(csv), "--voters", "8", "--concurrency", "2",
                     "--no-progress"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "8 accepted" in out and "ballots/s" in out and "p99" in out and "errors: none" in out
    election = api.request("GET", f"/api/elections/{demo.election}")
    # 8 ballots from 5 credentials: 3 replaced ones, 5 that count
    assert (election["ballots_cast"], election["ballots_counted"]) == (8, 5)

    # a normal election is refused before any ballot is made
    normal = api.request("POST", "/api/elections", {"title": "n", "question": "q",
                                                    "choices": ["a", "b"]})  # fmt: skip
    _creds, public = authority_credentials(normal["id"], 2)
    api.request("POST", f"/api/elections/{normal['id']}/credentials", public)
    code = cli.main(["load", "--server", demo.base, "--election", normal["id"],
                     "--credentials", str(csv), "--voters", "1", "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "not a test election" in err
