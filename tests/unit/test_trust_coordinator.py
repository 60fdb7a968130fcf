"""The coordinator's side of the trust model (issue 12), without sockets: a node message that
goes on the record must bind this election's fingerprint and a head that is a prefix of the
board, and a node signs the fingerprint (``node.endorse``) before any DKG message."""

from __future__ import annotations

import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from crypto.errors import ProtocolViolation
from crypto.protocol.wire import Message, SignedMessage, decode_frame, sign_message
from crypto.transport import NodeIdentity
from mixserver.coordinator import Coordinator
from mixserver.services import ElectionServices


@pytest.fixture()
def setup(tmp_path: Path) -> Iterator[tuple[ElectionServices, str, dict[int, NodeIdentity]]]:
    svc = ElectionServices(tmp_path)
    eid = svc.create_election("T", "Q", ["a", "b"], n=2, t=1, voters=2, test=True)["id"]
    ids = {p: NodeIdentity.generate(random.Random(p)) for p in (1, 2)}
    for p, ident in ids.items():
        svc.enrol_node(eid, ident.public_bytes().hex(), p)
    pool = ThreadPoolExecutor(1)  # no proofs are checked here
    Coordinator.configure(svc, None, pool)
    yield svc, eid, ids
    pool.shutdown()
    svc.db.close()


def signed(eid: str, ident: NodeIdentity, kind: str, fields: dict[str, Any]) -> SignedMessage:
    msg = Message(kind, eid, fields, bytes(32), 1)
    return decode_frame(sign_message(msg, ident.sign, ident.public.signing_key)[1])


def bound(svc: ElectionServices, eid: str, **changes: Any) -> dict[str, Any]:
    size = svc.db.count_entries(eid)
    fields = {"fingerprint": bytes.fromhex(svc.get_election(eid)["fingerprint"]),
              "seen_size": size, "seen_head": svc.db.hash_at(eid, size - 1)}
    return {**fields, **changes}


def test_a_node_message_must_bind_the_fingerprint_and_a_prefix_of_the_board(
    setup: tuple[ElectionServices, str, dict[int, NodeIdentity]],
) -> None:
    svc, eid, ids = setup
    ok = signed(eid, ids[1], "job.failed", {"job": "j", "reason": "r", **bound(svc, eid)})
    assert Coordinator.on_node_message(eid, 1, ok) == "noted"
    for changes, why in (
        ({"fingerprint": bytes(32)}, "another election fingerprint"),
        ({"seen_head": bytes(range(32))}, "not a prefix of this board"),
        ({"seen_size": 99}, "not a prefix of this board"),
        ({"seen_size": 0}, "an empty seen head with a hash"),
    ):
        bad = signed(eid, ids[1], "job.failed", {"job": "j", "reason": "r",
                                                 **bound(svc, eid, **changes)})
        with pytest.raises(ProtocolViolation, match=why):
            Coordinator.on_node_message(eid, 1, bad)


def test_a_node_signs_the_fingerprint_before_its_deal(
    setup: tuple[ElectionServices, str, dict[int, NodeIdentity]],
) -> None:
    svc, eid, ids = setup
    endorse = signed(eid, ids[1], "node.endorse", bound(svc, eid))
    with pytest.raises(ProtocolViolation, match="only when key generation starts"):
        Coordinator.on_node_message(eid, 1, endorse)
    run = Coordinator._run(eid)
    run.dkg_round, run.dkg_kind = {}, "dkg.deal"
    run.endorsements = {}
    deal = signed(eid, ids[2], "dkg.deal", {"data": b"x", **bound(svc, eid)})
    with pytest.raises(ProtocolViolation, match="has not signed the election fingerprint"):
        Coordinator.on_node_message(eid, 2, deal)
    assert Coordinator.on_node_message(eid, 1, endorse) == "fingerprint endorsed"
    with pytest.raises(ProtocolViolation, match="already sent one"):
        Coordinator.on_node_message(eid, 1, endorse)
    assert run.endorsements[1] is endorse
