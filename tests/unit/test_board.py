"""The SQLite board and the election services (no server, no sockets)."""

from __future__ import annotations

import json
import random
import stat
from pathlib import Path

import pytest

from crypto.errors import InvalidProof, MalformedInput, ProtocolViolation
from crypto.protocol.wire import decode_body
from crypto.record import verify_chain
from mixserver.board import Board
from mixserver.services import ElectionServices


@pytest.fixture
def services(tmp_path: Path) -> ElectionServices:
    svc = ElectionServices(tmp_path)
    yield svc
    svc.db.close()


def voting_election(
    svc: ElectionServices, voters: int = 4, policy: str = "last-ballot-counts"
) -> dict:
    """An election in the voting phase with a locally made key (no DKG needed here)."""
    from crypto import group
    from crypto.elgamal import encode_public_key, keygen

    e = svc.create_election("T", "Q?", ["a", "b", "c"], "secp256k1", 3, 2, voters, policy=policy)
    x, pk = keygen(group("secp256k1"), random.Random(5))
    svc.db.set_phase(e["id"], "voting", public_key=encode_public_key(pk).hex())
    e["x"] = x
    return e


def test_secret_files_are_private(services: ElectionServices, tmp_path: Path) -> None:
    for name in ("server_key", "admin_token"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert services.check_admin_token(services.admin_token)
    assert not services.check_admin_token("nope") and not services.check_admin_token(None)


def test_create_election_validates(services: ElectionServices) -> None:
    with pytest.raises(MalformedInput, match="group"):
        services.create_election("T", "Q", ["a"], "nope", 3, 2, 1)
    with pytest.raises(MalformedInput, match="t:"):
        services.create_election("T", "Q", ["a"], "secp256k1", 2, 3, 1)
    with pytest.raises(MalformedInput, match="choices"):
        services.create_election("T", "Q", [], "secp256k1", 2, 1, 1)
    e = services.create_election("T", "Q", ["a"], "secp256k1", 2, 1, 3)
    assert e["phase"] == "setup" and len(e["credentials"]) == 3
    entries = services.db.entries(e["id"])
    assert [s.kind for s in entries] == ["election.params", "voters.registered"]
    # the public list of credentials: their voter ids (sorted), never the secrets
    registered = decode_body(entries[1].entry.body)["voter_ids"]
    assert registered == b"".join(sorted(bytes.fromhex(c["voter_id"]) for c in e["credentials"]))
    assert not any(c["secret"].encode() in entries[1].entry.body for c in e["credentials"])


def test_first_ballot_counts_refuses_a_second_ballot(services: ElectionServices) -> None:
    with pytest.raises(MalformedInput, match="policy"):
        services.create_election("T", "Q", ["a"], "secp256k1", 2, 1, 1, policy="best-ballot")
    e = voting_election(services, policy="first-ballot-counts")
    eid = e["id"]
    services.generate_test_ballots(eid, 2)
    with pytest.raises(ProtocolViolation, match="already voted"):
        services.generate_test_ballots(eid, 1, choose=lambda i: 2)
    assert services.db.ballot_count(eid) == (2, 2)  # nothing stored
    assert json.loads(decode_body(services.db.entries(eid)[0].entry.body)["params"])[
        "policy"
    ] == "first-ballot-counts"


def test_enrolment_positions_tokens_and_duplicates(services: ElectionServices) -> None:
    from crypto.transport import NodeIdentity

    e = services.create_election("T", "Q", ["a"], "secp256k1", 2, 1, 0)
    key = NodeIdentity.generate(random.Random(3)).public_bytes().hex()
    first = services.enrol_node(e["id"], key)
    assert first["position"] == 1 and first["token"] is None
    with pytest.raises(ProtocolViolation, match="already enrolled"):
        services.enrol_node(e["id"], key)
    second = services.enrol_node(e["id"])
    assert second["position"] == 2 and second["token"]
    with pytest.raises(ProtocolViolation, match="every node position"):
        services.enrol_node(e["id"])
    with pytest.raises(MalformedInput):
        services.enrol_node(e["id"], "zz")


def test_cast_ballot_receipt_replay_and_last_ballot_counts(services: ElectionServices) -> None:
    e = voting_election(services)
    eid, creds = e["id"], e["credentials"]
    first = services.generate_test_ballots(eid, 2)
    assert first["cast"] == 2
    cast, counted = services.db.ballot_count(eid)
    assert (cast, counted) == (2, 2)
    # a ballot of voter 0 replayed verbatim is rejected, nothing stored
    ballot_entry = services.db.entries_of_kind(eid, "ballot")[0]
    msg = decode_body(ballot_entry.entry.body)
    replay = {"ciphertext": msg["ciphertext"].hex(), "proof": msg["proof"].hex(), "width": 1}
    with pytest.raises(ProtocolViolation, match="replay"):
        services.cast_ballot(eid, creds[0]["secret"], replay)
    # the same ballot under another credential fails the proof (bound to the voter id)
    with pytest.raises(InvalidProof):
        services.cast_ballot(eid, creds[2]["secret"], replay)
    with pytest.raises(ProtocolViolation, match="credential"):
        services.cast_ballot(eid, "not-a-credential", replay)
    with pytest.raises(MalformedInput):
        services.cast_ballot(eid, creds[2]["secret"], {**replay, "ciphertext": "00" * 66})
    with pytest.raises(MalformedInput):
        services.cast_ballot(eid, creds[2]["secret"], {**replay, "ciphertext": "zz"})
    assert services.db.ballot_count(eid) == (2, 2)
    # voter 0 votes again: the latest ballot counts
    tracker0 = ballot_entry.hash.hex()
    services.generate_test_ballots(eid, 1, choose=lambda i: 2)
    assert services.db.ballot_count(eid) == (3, 2)
    assert services.find_receipt(eid, tracker0)["counted"] is False
    latest = services.db.latest_ballots(eid)
    assert services.find_receipt(eid, latest[-1].hash.hex())["counted"] is True
    assert services.find_receipt(eid, "00" * 32) is None
    verify_chain((s.entry for s in services.db.iter_entries(eid)), eid)


def test_ballots_outside_voting_are_rejected(services: ElectionServices) -> None:
    e = voting_election(services)
    services.db.set_phase(e["id"], "closed")
    with pytest.raises(ProtocolViolation, match="voting is not open"):
        services.generate_test_ballots(e["id"], 1)


def test_board_survives_reopen(tmp_path: Path) -> None:
    svc = ElectionServices(tmp_path)
    e = voting_election(svc)
    svc.generate_test_ballots(e["id"], 3)
    svc.db.close()
    again = Board(tmp_path)
    assert again.ballot_count(e["id"]) == (3, 3)
    assert again.server_public == svc.db.server_public
    verify_chain((s.entry for s in again.iter_entries(e["id"])), e["id"])
    again.close()


def test_export_is_self_contained(services: ElectionServices, tmp_path: Path) -> None:
    import json

    from crypto.record import decode_entry

    e = voting_election(services)
    services.generate_test_ballots(e["id"], 2)
    out = services.export_record(e["id"], tmp_path / "rec")
    index = json.loads((tmp_path / "rec" / "index.json").read_text())
    entries = [decode_entry((tmp_path / "rec" / row["file"]).read_bytes()) for row in index]
    assert verify_chain(entries, e["id"]).hex() == out["head"]
    kinds = [row["kind"] for row in index]
    assert kinds == ["election.params", "voters.registered", "ballot", "ballot"]
    assert len(entries) == out["entries"] == 4
