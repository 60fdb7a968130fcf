"""The SQLite board and the election services (no server, no sockets)."""

from __future__ import annotations

import json
import random
import stat
from pathlib import Path
from typing import Any

import pytest

from crypto.credentials import (
    credential_from_private,
    decode_credential_list,
    encode_credential_list,
    format_credential,
    parse_credential,
    verify_credential_list,
)
from crypto.errors import InvalidProof, MalformedInput, ProtocolViolation
from crypto.fingerprint import election_fingerprint
from crypto.protocol.wire import decode_body
from crypto.receipts import decode_receipt, verify_receipt
from crypto.record import verify_chain
from mixserver.board import Board
from mixserver.harness import authority_credentials, make_ballots
from mixserver.services import ElectionServices


@pytest.fixture
def services(tmp_path: Path) -> ElectionServices:
    svc = ElectionServices(tmp_path)
    yield svc
    svc.db.close()


def enrol_all(svc: ElectionServices, eid: str, n: int = 3) -> None:
    from crypto.transport import NodeIdentity

    for i in range(n):
        svc.enrol_node(eid, NodeIdentity.generate(random.Random(100 + i)).public_bytes().hex())


def open_voting(svc: ElectionServices, eid: str) -> Any:
    """Voting open with a locally made key (no DKG needed here); returns the secret key."""
    from crypto import group
    from crypto.elgamal import encode_public_key, keygen

    x, pk = keygen(group("secp256k1"), random.Random(5))
    svc.db.set_phase(eid, "voting", public_key=encode_public_key(pk).hex())
    return x


def voting_election(
    svc: ElectionServices, voters: int = 4, policy: str = "last-ballot-counts"
) -> dict[str, Any]:
    """A *test* election in the voting phase (the server holds the credentials)."""
    e = svc.create_election("T", "Q?", ["a", "b", "c"], "secp256k1", 3, 2, voters,
                            policy=policy, test=True)
    enrol_all(svc, e["id"])
    x = open_voting(svc, e["id"])
    return {**svc.get_election(e["id"]), "x": x}


def normal_election(
    svc: ElectionServices, voters: int = 3, policy: str = "last-ballot-counts"
) -> tuple[dict[str, Any], list[bytes], dict[str, Any]]:
    """A normal election in the voting phase: this test is the credential authority and uploads
    only the signed public list. Returns (election, private credentials, uploaded list)."""
    e = svc.create_election("T", "Q?", ["a", "b", "c"], "secp256k1", 3, 2, policy=policy)
    creds, public = authority_credentials(e["id"], voters)
    svc.upload_credentials(e["id"], public)
    enrol_all(svc, e["id"])
    open_voting(svc, e["id"])
    return svc.get_election(e["id"]), creds, public


def ballot(e: dict[str, Any], private: bytes, choice: int, fingerprint: bytes | None = None
           ) -> dict[str, Any]:
    (b,) = make_ballots("secp256k1", e["public_key"], e["id"], 1, [private], [choice],
                        fingerprint or bytes.fromhex(e["fingerprint"]))
    return b


def test_secret_files_are_private(services: ElectionServices, tmp_path: Path) -> None:
    for name in ("server_key", "admin_token"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert services.check_admin_token(services.admin_token)
    assert not services.check_admin_token("nope") and not services.check_admin_token(None)
    voting_election(services)  # a test election makes the server's authority key, 0600
    assert stat.S_IMODE((tmp_path / "authority_key").stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        (("T", "Q", ["a", "b"], "nope", 3, 2), {}, "group"),
        (("T", "Q", ["a", "b"], "secp256k1", 2, 3), {}, "t"),
        (("T", "Q", ["a"], "secp256k1", 2, 1), {}, "choices"),
        (("T", "Q", ["Yes", " yes"], "secp256k1", 2, 1), {}, "choices[1]"),
        (("T", "Q", ["Yes", "yes"], "secp256k1", 2, 1), {}, "choices[1]"),
        (("", "Q", ["a", "b"], "secp256k1", 2, 1), {}, "title"),
        (("T\u202e", "Q", ["a", "b"], "secp256k1", 2, 1), {}, "title"),
        (("T", "Q", ["a", "b"], "secp256k1", 2, 1), {"policy": "best-ballot"}, "policy"),
        (("T", "Q", ["a", "b"], "secp256k1", 2, 1), {"width": 0}, "width"),
        (("T", "Q", ["a", "b"], "secp256k1", 2, 1), {"test": "yes"}, "test"),
    ],
)
def test_parameters_are_validated_at_creation_with_the_field(
    services: ElectionServices, args: tuple[Any, ...], kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(MalformedInput) as info:
        services.create_election(*args, **kwargs)
    assert str(info.value).startswith(field), str(info.value)
    assert services.list_elections() == []


def test_tally_and_voters_rules(services: ElectionServices) -> None:
    with pytest.raises(MalformedInput, match=r"^tally: this server runs mixnet only"):
        services.create_election("T", "Q", ["a", "b"], tally="homomorphic")
    with pytest.raises(MalformedInput, match=r"^tally"):
        services.create_election("T", "Q", ["a", "b"], tally="magic")
    with pytest.raises(MalformedInput, match=r"^voters: the credential authority"):
        services.create_election("T", "Q", ["a", "b"], voters=5)
    e = services.create_election("T", "Q", ["a", "b"])
    assert e["test_election"] is False and e["tally"] == "mixnet" and e["voters"] == 0
    assert [s.kind for s in services.db.entries(e["id"])] == ["election.params"]


def test_test_election_records_the_servers_signed_list(services: ElectionServices) -> None:
    e = services.create_election("T", "Q", ["a", "b"], "secp256k1", 2, 1, 3, test=True)
    assert e["test_election"] is True and e["voters"] == 3 and e["fingerprint"] is None
    entries = services.db.entries(e["id"])
    assert [s.kind for s in entries] == ["election.params", "credentials.list"]
    clist = decode_credential_list(json.loads(decode_body(entries[1].entry.body)["list"]))
    verify_credential_list(clist)
    assert clist.test and clist.authority == credential_from_private(
        services.test_authority()).public
    creds = services.voter_credentials(e["id"])
    assert sorted(credential_from_private(parse_credential(c["credential"])).public
                  for c in creds) == list(clist.credentials)
    # the fingerprint is fixed once every node is enrolled, and it covers the list
    enrol_all(services, e["id"], 2)
    got = services.get_election(e["id"])
    params = json.loads(decode_body(entries[0].entry.body)["params"])
    keys = [k for _p, k, _t in services.db.nodes(e["id"])]
    assert got["fingerprint"] == election_fingerprint(params, clist, keys).hex()
    assert got["fingerprint_display"].replace(" ", "") == got["fingerprint"]


def test_normal_election_takes_only_a_valid_signed_list(services: ElectionServices) -> None:
    e = services.create_election("T", "Q", ["a", "b"], "secp256k1", 2, 1)
    eid = e["id"]
    _creds, public = authority_credentials(eid, 3)
    for bad, error, why in (
        ({**public, "signature": "00" * 64}, InvalidProof, "authority signature"),
        (authority_credentials("other", 3)[1], ProtocolViolation, "for election 'other'"),
        ({**public, "count": 4}, MalformedInput, "count 4"),
        ({**public, "credentials": public["credentials"][::-1]}, MalformedInput, "sorted"),
    ):
        with pytest.raises(error, match=why):
            services.upload_credentials(eid, bad)
    from crypto.credentials import generate_credential, sign_credential_list

    authority = generate_credential()
    test_list = encode_credential_list(sign_credential_list(
        authority.private, eid, [generate_credential().public], test=True))
    with pytest.raises(ProtocolViolation, match="test list"):
        services.upload_credentials(eid, test_list)
    assert services.get_election(eid)["fingerprint"] is None
    got = services.upload_credentials(eid, public)
    assert got["voters"] == 3 and got["credentials_loaded"] and got["authority"] == public[
        "authority"]
    with pytest.raises(ProtocolViolation, match="already loaded"):
        services.upload_credentials(eid, public)
    kinds = [s.kind for s in services.db.entries(eid)]
    assert kinds == ["election.params", "credentials.list"]


def test_a_normal_election_refuses_every_server_side_casting_path(
    services: ElectionServices,
) -> None:
    e, creds, _public = normal_election(services)
    eid = e["id"]
    with pytest.raises(ProtocolViolation, match="only in a test election"):
        services.generate_test_ballots(eid, 1)
    with pytest.raises(ProtocolViolation, match="holds no private credential"):
        services.voter_credentials(eid)
    # a ballot the server would make for a voter: any key not in the list is refused, and a
    # listed credential without its private key cannot sign
    from crypto.credentials import generate_credential

    stranger = generate_credential()
    with pytest.raises(ProtocolViolation, match="not in the authority-signed list"):
        services.cast_ballot(eid, ballot(e, stranger.private, 0))
    forged = ballot(e, stranger.private, 0)
    forged["credential"] = credential_from_private(creds[0]).public.hex()
    with pytest.raises(InvalidProof):
        services.cast_ballot(eid, forged)
    assert services.db.ballot_count(eid) == (0, 0)
    assert services.cast_ballot(eid, ballot(e, creds[0], 1))["index"] >= 0


def test_no_private_credential_in_the_data_dir_or_the_record(
    services: ElectionServices, tmp_path: Path
) -> None:
    e, creds, _public = normal_election(services, voters=4)
    for i, private in enumerate(creds):
        services.cast_ballot(e["id"], ballot(e, private, i % 3))
    services.export_record(e["id"], tmp_path / "record")
    services.db.close()
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "board.sqlite3" for p in files)
    assert any(p.parent.name == "entries" for p in files)
    blobs = [p.read_bytes() for p in files]
    for private in creds:
        forms = (private, private.hex().encode(), format_credential(private).encode(),
                 format_credential(private).replace("-", "").encode())
        for blob in blobs:
            for form in forms:
                assert form not in blob


def test_first_ballot_counts_refuses_a_second_ballot(services: ElectionServices) -> None:
    e, creds, _ = normal_election(services, policy="first-ballot-counts")
    eid = e["id"]
    services.cast_ballot(eid, ballot(e, creds[0], 0))
    with pytest.raises(ProtocolViolation, match="already voted"):
        services.cast_ballot(eid, ballot(e, creds[0], 2))
    assert services.db.ballot_count(eid) == (1, 1)  # nothing stored
    assert json.loads(decode_body(services.db.entries(eid)[0].entry.body)["params"])[
        "policy"
    ] == "first-ballot-counts"


def test_test_ballots_never_replace_a_voters_ballot(services: ElectionServices) -> None:
    from crypto import group
    from crypto.ballot import decode_ballot, decode_choice
    from crypto.elgamal import decode_ciphertext

    e = voting_election(services, voters=4)
    eid = e["id"]
    rows = services.voter_credentials(eid)
    voter = parse_credential(rows[0]["credential"])  # the first credential, as handed out
    receipt = services.cast_ballot(eid, ballot(e, voter, 2))
    got = services.generate_test_ballots(eid, 3, choose=lambda i: 0)
    assert got == {"cast": 3, "expected": {"a": 3}}
    with pytest.raises(MalformedInput, match="from 0 to 0"):
        services.generate_test_ballots(eid, 1)  # every credential has voted now
    assert services.db.ballot_count(eid) == (4, 4)
    assert services.find_receipt(eid, receipt["tracker"])["counted"] is True
    # the counted ballots decrypt to the voter's choice and the three test ballots
    g = group("secp256k1")
    choices = []
    for stored in services.db.latest_ballots(eid):
        m = decode_body(stored.entry.body)
        ct = decode_ciphertext(g, m["ciphertext"], 1)
        plain = [g.sub(b, g.mul(a, e["x"])) for a, b in zip(ct.alpha, ct.beta, strict=True)]
        choices.append((m["credential"], decode_choice(decode_ballot(g, plain))))
    assert choices[0] == (credential_from_private(voter).public, 2)
    assert sorted(c for _k, c in choices[1:]) == [0, 0, 0]


def test_enrolment_positions_tokens_and_duplicates(services: ElectionServices) -> None:
    from crypto.transport import NodeIdentity

    e = services.create_election("T", "Q", ["a", "b"], "secp256k1", 2, 1)
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
    e, creds, _ = normal_election(services)
    eid = e["id"]
    first = services.cast_ballot(eid, ballot(e, creds[0], 0))
    services.cast_ballot(eid, ballot(e, creds[1], 1))
    assert services.db.ballot_count(eid) == (2, 2)
    # the receipt: signed by the server, for this entry and head
    receipt = decode_receipt(first["receipt"])
    verify_receipt(receipt, services.db.server_public)
    stored = services.db.entry(eid, first["index"])
    assert receipt.index == first["index"] and receipt.entry_hash == stored.hash
    assert first["tracker"] == stored.hash.hex()
    assert first["voter_id"] == credential_from_private(creds[0]).voter_id
    # a ballot of voter 0 replayed verbatim is rejected, nothing stored
    msg = decode_body(stored.entry.body)
    replay = {"credential": msg["credential"].hex(), "width": 1,
              "ciphertext": msg["ciphertext"].hex(), "proof": msg["proof"].hex(),
              "signature": msg["signature"].hex()}
    with pytest.raises(ProtocolViolation, match="replay"):
        services.cast_ballot(eid, replay)
    # the same ciphertext under another credential fails the proof (bound to the voter id)
    other = credential_from_private(creds[2]).public.hex()
    with pytest.raises(InvalidProof):
        services.cast_ballot(eid, {**replay, "credential": other})
    # a signature over another fingerprint (another election, or altered parameters) fails
    with pytest.raises(InvalidProof, match="voter signature"):
        services.cast_ballot(eid, ballot(e, creds[2], 0, fingerprint=bytes(32)))
    fresh = ballot(e, creds[2], 0)
    with pytest.raises(InvalidProof, match="voter signature"):
        services.cast_ballot(eid, {**fresh, "signature": replay["signature"]})
    with pytest.raises(MalformedInput):
        services.cast_ballot(eid, {**fresh, "ciphertext": "00" * 66})
    with pytest.raises(MalformedInput):
        services.cast_ballot(eid, {**fresh, "ciphertext": "zz"})
    with pytest.raises(MalformedInput, match="exactly"):
        services.cast_ballot(eid, {k: v for k, v in fresh.items() if k != "signature"})
    with pytest.raises(MalformedInput, match="64 hex digits"):
        services.cast_ballot(eid, {**fresh, "credential": "ab"})
    assert services.db.ballot_count(eid) == (2, 2)
    # voter 0 votes again: the latest ballot counts
    services.cast_ballot(eid, ballot(e, creds[0], 2))
    assert services.db.ballot_count(eid) == (3, 2)
    assert services.find_receipt(eid, first["tracker"])["counted"] is False
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
    assert kinds == ["election.params", "credentials.list", *["node.enrolled"] * 3,
                     "ballot", "ballot"]
    assert len(entries) == out["entries"] == 7
