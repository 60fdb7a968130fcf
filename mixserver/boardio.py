"""Board reads and writes of the coordinator: plain functions that the board's I/O thread runs
(each result with its verdict in one transaction) and that tests call directly."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from typing import Any

from crypto.protocol.wire import (
    ABANDONED,
    SKIPPED,
    Message,
    SignedMessage,
    canonical_json,
    decode_body,
    digest,
)
from mixserver.decryption import DecryptMachine
from mixserver.machine import (
    RESTARTED,
    AbandonHop,
    AbandonShare,
    BoardEntry,
    CommitHop,
    CommitShare,
    Effect,
    Timeouts,
    check_action,
)
from mixserver.mixing import MixMachine


def author_positions(db: Any, eid: str) -> dict[bytes, int]:
    """Ed25519 signing key (first 32 bytes of the node identity) -> node position."""
    return {bytes(k[:32]): p for p, k, _tok in db.nodes(eid) if k is not None}


def board_entries(db: Any, eid: str, kinds: Iterable[str]) -> list[BoardEntry]:
    """The entries of ``kinds`` in board order, decoded, with their author's node position."""
    authors = author_positions(db, eid)
    got = [s for kind in kinds for s in db.entries_of_kind(eid, kind)]
    got.sort(key=lambda s: s.entry.index)
    return [
        BoardEntry(s.entry.index, s.kind, decode_body(s.entry.body), authors.get(s.entry.author))
        for s in got
    ]


MIX_KINDS = ("voting.closed", "mix.result", "hop.verdict")
DECRYPT_KINDS = (*MIX_KINDS, "decrypt.share", "decrypt.verdict")


def load_mix(db: Any, eid: str, session: str, timeouts: Timeouts) -> MixMachine:
    params, _phase, state = db.election(eid)
    machine = MixMachine.from_board(
        eid,
        params,
        bytes.fromhex(state["public_key"]),
        board_entries(db, eid, MIX_KINDS),
        session,
        timeouts,
    )
    machine.fingerprint = bytes.fromhex(state["fingerprint"])
    return machine


def load_decrypt(db: Any, eid: str, session: str, timeouts: Timeouts) -> DecryptMachine:
    params, _phase, state = db.election(eid)
    machine = DecryptMachine.from_board(
        eid,
        params,
        state.get("qualified", []),
        board_entries(db, eid, DECRYPT_KINDS),
        session,
        timeouts,
        [bytes.fromhex(v) for v in state.get("verification_keys", [])],
    )
    machine.fingerprint = bytes.fromhex(state["fingerprint"])
    return machine


def write_hop(db: Any, eid: str, c: CommitHop) -> int:
    """The node's result (if any) and the server's verdict on it, in one transaction; returns
    the verdict's index."""
    with db.transaction():
        result_entry, output_digest = 0, b""
        if c.result is not None:
            r = c.result
            stored = db.append(eid, r.message.kind, r.body, r.author, r.signature)
            result_entry, output_digest = stored.entry.index, digest(r.message["outputs"])
        evidence = skip_evidence(db, eid, c)
        _p, phase, state = db.election(eid)
        hops = [
            *state.get("hops", []),
            {
                "hop": c.hop,
                "node": c.position,
                "status": c.status,
                "reason": c.reason,
                "seconds": round(c.seconds, 3),
            },
        ]
        verdict = Message(
            "hop.verdict",
            eid,
            {
                "hop": c.hop,
                "position": c.position,
                "status": c.status,
                "reason": c.reason[:4000],
                "result_entry": result_entry,
                "output_digest": output_digest,
                **evidence,
            },
        )
        return int(db.append_server(eid, verdict, phase=phase, state={"hops": hops}).entry.index)


NO_EVIDENCE = {"evidence_entry": 0, "requested_ms": 0, "gave_up_ms": 0, "timeout_ms": 0}


def skip_evidence(db: Any, eid: str, c: CommitHop) -> dict[str, int]:
    """The evidence fields of a hop verdict: a skipped hop's job.failed entry (appended here, in
    the verdict's transaction), or the times of its time-out (Unix milliseconds, the request
    time ``c.seconds`` before now); all 0 otherwise."""
    if c.status != SKIPPED:
        return dict(NO_EVIDENCE)
    if c.evidence is not None:
        e = c.evidence
        stored = db.append(eid, e.message.kind, e.body, e.author, e.signature)
        return {**NO_EVIDENCE, "evidence_entry": stored.entry.index}
    if c.timeout > 0:
        gave_up = int(time.time() * 1000)
        return {
            "evidence_entry": 0,
            "requested_ms": gave_up - math.ceil(c.seconds * 1000),
            "gave_up_ms": gave_up,
            "timeout_ms": int(c.timeout * 1000),
        }
    return dict(NO_EVIDENCE)


def write_abandoned_hop(db: Any, eid: str, a: AbandonHop) -> int:
    verdict = Message(
        "hop.verdict",
        eid,
        {
            "hop": a.hop,
            "position": a.position,
            "status": ABANDONED,
            "reason": RESTARTED,
            "result_entry": a.result_entry,
            "output_digest": a.output_digest,
            **NO_EVIDENCE,
        },
    )
    return int(db.append_server(eid, verdict).entry.index)


def write_share(db: Any, eid: str, c: CommitShare) -> int:
    """The node's decryption share and the verdict on it, in one transaction."""
    with db.transaction():
        s = c.share
        stored = db.append(eid, s.message.kind, s.body, s.author, s.signature)
        verdict = Message(
            "decrypt.verdict",
            eid,
            {
                "position": c.position,
                "status": c.status,
                "reason": c.reason[:4000],
                "share_entry": stored.entry.index,
            },
        )
        return int(db.append_server(eid, verdict).entry.index)


def write_abandoned_share(db: Any, eid: str, a: AbandonShare) -> int:
    verdict = Message(
        "decrypt.verdict",
        eid,
        {
            "position": a.position,
            "status": ABANDONED,
            "reason": RESTARTED,
            "share_entry": a.share_entry,
        },
    )
    return int(db.append_server(eid, verdict).entry.index)


def receipts_for(
    db: Any, eid: str, positions: Iterable[int], since: Mapping[int, int]
) -> tuple[dict[int, list[bytes]], dict[int, int]]:
    """Receipts to send: for each node position, one for each of its entries after index
    ``since[position]``, then one for the board's head. Returns (receipt JSON documents per
    position, the newest index receipted per position)."""
    from crypto.receipts import encode_receipt

    head = db.head_receipt(eid)
    if head is None:
        return {}, {}
    keys = {p: k[:32] for p, k, _t in db.nodes(eid) if k is not None}
    out: dict[int, list[bytes]] = {}
    newest: dict[int, int] = {}
    for position in positions:
        docs = []
        key = keys.get(position)
        start = since.get(position, -1) + 1
        if key is not None:
            for stored in db.entries_by_author(eid, key, start):
                docs.append(canonical_json(encode_receipt(db.receipt(stored))))
        docs.append(canonical_json(encode_receipt(head)))
        out[position] = docs
        newest[position] = head.index
    return out, newest


def write_effect(db: Any, eid: str, effect: Effect) -> None:
    """Carry out one board-writing effect."""
    if isinstance(effect, CommitHop):
        write_hop(db, eid, effect)
    elif isinstance(effect, AbandonHop):
        write_abandoned_hop(db, eid, effect)
    elif isinstance(effect, CommitShare):
        write_share(db, eid, effect)
    elif isinstance(effect, AbandonShare):
        write_abandoned_share(db, eid, effect)
    else:
        raise TypeError(f"write_effect: {type(effect).__name__} writes nothing")


def write_mixed(db: Any, eid: str, ok: bool, seconds: float, count: int) -> None:
    with db.transaction():
        _p, phase, state = db.election(eid)
        timings = {**state.get("timings", {}), "mixing": round(seconds, 4)}
        if count:
            timings["mixing_ballots_per_s"] = round(count / seconds if seconds else 0.0, 4)
        db.set_phase(eid, phase, mixed=ok, timings=timings)


def write_tally(db: Any, eid: str, result: Mapping[str, Any], seconds: float) -> None:
    """Append the tally, once: a second decryption run that raced the first (publish pressed
    while mixing ended) finds the election tallied and writes nothing."""
    summary = {k: v for k, v in result.items() if k != "plaintexts"}
    with db.transaction():
        _p, phase, state = db.election(eid)
        if phase == "tallied":
            return
        timings = {**state.get("timings", {}), "decryption": round(seconds, 4)}
        db.append_server(
            eid,
            Message(
                "tally",
                eid,
                {"result": canonical_json(summary), "plaintexts": list(result["plaintexts"])},
            ),
            phase="tallied",
            state={"result": summary, "timings": timings},
        )


def write_open(db: Any, eid: str) -> None:
    with db.transaction():
        _params, phase, state = db.election(eid)
        check_action("open", phase, state)
        db.append_server(
            eid,
            Message("voting.opened", eid, {"public_key": bytes.fromhex(state["public_key"])}),
            phase="voting",
            state={"voting_opened": time.time()},
        )


def write_close(db: Any, eid: str) -> int:
    """Close voting in one transaction: the counted ballots (the latest per voter) become the
    closed list, and no ballot is accepted from here on. Returns the count."""
    with db.transaction():
        params, phase, state = db.election(eid)
        check_action("close", phase, state)
        cts, trackers = [], []
        for stored in db.latest_ballots(eid):
            cts.append(decode_body(stored.entry.body)["ciphertext"])
            trackers.append(stored.hash)
        timings = {
            **state.get("timings", {}),
            "voting": round(time.time() - state.get("voting_opened", time.time()), 4),
        }
        db.append_server(
            eid,
            Message(
                "voting.closed",
                eid,
                {
                    "count": len(cts),
                    "width": params["width"],
                    "ciphertexts": b"".join(cts),
                    "trackers": trackers,
                },
            ),
            phase="closed",
            state={"voting_closed": time.time(), "closed_count": len(cts), "timings": timings},
        )
        return len(cts)


def write_start_mixing(db: Any, eid: str) -> None:
    with db.transaction():
        _params, phase, state = db.election(eid)
        check_action("mix", phase, state)
        db.set_phase(eid, "mixing", hops=[], mixed=False)


def write_publish(db: Any, eid: str) -> bool:
    """Note the publish request; True if decryption can start now (mixing is over)."""
    with db.transaction():
        _params, phase, state = db.election(eid)
        check_action("publish", phase, state)
        db.set_phase(eid, phase, publish_requested=True)
        return phase == "decrypting" or bool(state.get("mixed"))


def dkg_outcome(
    params: Any, deals: list[bytes], complaints: list[bytes], responses: list[bytes]
) -> tuple[Message, dict[str, Any]]:
    """The dkg.result entry and the election state it implies, from the three rounds' items."""
    from crypto.dkg import ComplaintMsg, Deal, ResponseMsg, dkg_result
    from crypto.elgamal import encode_public_key

    result = dkg_result(
        params,
        {d.dealer: d for d in (Deal.from_bytes(params, x) for x in deals)},
        {c.sender: c for c in (ComplaintMsg.from_bytes(params, x) for x in complaints)},
        {r.dealer: r for r in (ResponseMsg.from_bytes(params, x) for x in responses)},
    )
    g = params.group
    pk = encode_public_key(result.public_key)
    vkeys = [g.encode(result.verification_keys[j]) for j in range(1, params.n + 1)]
    msg = Message(
        "dkg.result",
        params.election_id,
        {
            "public_key": pk,
            "verification_keys": vkeys,
            "qualified": [str(i).encode() for i in result.qualified],
        },
    )
    state = {
        "public_key": pk.hex(),
        "verification_keys": [v.hex() for v in vkeys],
        "qualified": list(result.qualified),
    }
    return msg, state


def write_dkg(
    db: Any, eid: str, transcript: list[SignedMessage], result: Message, state: dict[str, Any]
) -> None:
    """The whole DKG transcript and its result in one transaction (a crash mid-way leaves no
    part of it, and key generation is redone)."""
    with db.transaction():
        for signed in transcript:
            db.append(eid, signed.message.kind, signed.body, signed.author, signed.signature)
        db.append_server(eid, result, phase="keygen", state=state)
