"""Regression: an election with no ballot, ``publish`` asked for right after ``mix``.

Mixing an empty list ends at once (every hop is skipped), and a publish that arrives while it is
ending used to start a second decryption run beside the one the end of mixing starts: the board
got two ``tally`` entries and the record was not the one ``docs/record.md`` describes. The
coordinator now starts one decryption run per election and ``write_tally`` is idempotent. With a
real server and three real nodes, each of a few empty elections (the window is small, so it is
tried more than once) must get exactly one ``tally`` entry, an all-zero result and a record that
``mixverify`` accepts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crypto.io.cli import main as mixverify
from crypto.protocol.wire import decode_body
from mixserver.board import Board
from mixserver.export import export_record
from mixserver.harness import HarnessError, wait_for
from tests.integration.test_election import Cluster, cluster  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow

ROUNDS = 3


def test_empty_election_mix_then_publish_gets_one_tally(cluster: Cluster,  # noqa: F811
                                                       tmp_path: Path) -> None:
    cluster.start_server(hop_timeout=30, grace=10)
    eids, publish_outcomes = [], []
    for _ in range(ROUNDS):
        e = cluster.election(voters=3)
        eid = e["id"]
        api = cluster.api
        assert api is not None
        api.request("POST", f"/api/elections/{eid}/close")
        wait_for(api, eid, lambda x: x["phase"] == "closed", "close", 20)
        api.request("POST", f"/api/elections/{eid}/mix")
        try:  # at once: mixing an empty list is ending, or decryption has just started
            api.request("POST", f"/api/elections/{eid}/publish")
            publish_outcomes.append("accepted")
        except HarnessError as exc:  # it may only be refused because all is done already
            assert "tallied" in str(exc), exc
            publish_outcomes.append("refused: already tallied")
        result = cluster.tallied(eid, timeout=60)
        assert result["ballots"] == 0 and result["counts"] == {"a": 0, "b": 0, "c": 0}
        eids.append(eid)
        for proc in list(cluster.nodes.values()):  # the next election gets fresh nodes
            proc.kill()
            proc.wait(10)
        cluster.nodes.clear()
    cluster.kill_server()  # the board is read, and the records exported, with the server down
    for n, eid in enumerate(eids):
        board = Board(tmp_path / "server")
        try:
            entries = board.entries(eid)
            record = tmp_path / f"record{n}"
            export_record(board, eid, record)
        finally:
            board.close()
        tallies = [s for s in entries if s.kind == "tally"]
        assert len(tallies) == 1, (eid, publish_outcomes, [s.kind for s in entries])
        assert tallies[0].entry.index == len(entries) - 1  # nothing after the tally
        assert decode_body(tallies[0].entry.body)["plaintexts"] == []
        assert [s.kind for s in entries].count("voting.closed") == 1
        assert mixverify([str(record)]) == 0, eid
    assert "accepted" in publish_outcomes, publish_outcomes  # the race was run at least once
