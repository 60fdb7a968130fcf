"""The mix node's sans-io protocol (mixnode/protocol.py): frames in, actions out, no socket.

A small in-test "server" signs frames with its own key, runs three nodes through the key
generation, a hop and a decryption by calling each Job's function in process, and checks the
messages the nodes answer with; then the rejections (wrong signer, wrong session, out of order);
then fault injection (mixnode/faults.py: off unless asked for, every cheat fails verification)
and the node's secret files (mode 0600 from creation).
"""

from __future__ import annotations

import os
import pickle
import secrets
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from crypto import group
from crypto.elgamal import (
    PublicKey,
    decode_ciphertexts,
    decode_public_key,
    encode_ciphertexts,
    encrypt,
)
from crypto.errors import ConfigError, MixvoteError, ProtocolViolation
from crypto.io.files import write_private
from crypto.protocol.wire import (
    NODE_KINDS,
    Message,
    SignedMessage,
    decode_frame,
    decode_proof_files,
    shuffle_sid,
    sign_message,
)
from crypto.shuffle import ShuffleSession, decode_proof, verify_shuffle
from crypto.threshold import combine, decode_decryption_share
from crypto.transport import NodeIdentity
from mixnode import faults
from mixnode.protocol import (
    Job,
    NodeProtocol,
    Note,
    Refuse,
    SaveFingerprint,
    SaveKeyShare,
    SaveReceipt,
    Send,
    decrypt_job,
    mix_job,
)

EID = "e1"
G = group("secp256k1")


FP = bytes(range(32))  # the election fingerprint the server announces


class Server:
    """Signs server frames (and receipts) for one connection to each node."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        from crypto.record import public_key_bytes

        self.seed = secrets.token_bytes(32)
        self.sk = Ed25519PrivateKey.from_private_bytes(self.seed)
        self.key = public_key_bytes(self.sk)
        self.seq = 0

    def frame(self, kind: str, fields: dict[str, Any], session: bytes, signer: Any = None) -> bytes:
        self.seq += 1
        msg = Message(kind, EID, fields, session, self.seq)
        if signer is None:
            _body, frame = sign_message(msg, self.sk.sign, self.key)
        else:
            _body, frame = sign_message(msg, signer.sign, signer.public.signing_key)
        return frame

    def receipt(self, index: int, entry_hash: bytes, session: bytes) -> bytes:
        """A receipt frame for entry ``index`` (the head after it)."""
        import json

        from crypto.receipts import encode_receipt, make_receipt

        r = make_receipt(self.seed, EID, index, entry_hash, index + 1, entry_hash)
        return self.frame("receipt", {"receipt": json.dumps(encode_receipt(r)).encode()}, session)


def sent(actions: list[Any]) -> list[SignedMessage]:
    """The node's messages among ``actions``, decoded as the server decodes them."""
    out = []
    for action in actions:
        if isinstance(action, Send):
            (frame,) = action.frames
            out.append(decode_frame(frame, NODE_KINDS))
    return out


def connect(server: Server, node: NodeProtocol, position: int) -> bytes:
    """challenge → auth → welcome; returns the session nonce."""
    nonce = secrets.token_bytes(32)
    (auth,) = sent(
        node.receive(server.frame("challenge", {"nonce": nonce, "server_key": server.key}, nonce))
    )
    assert auth.message.kind == "auth" and auth.message["nonce"] == nonce
    assert auth.author == node.identity.public.signing_key
    welcome = {"position": position, "n": 3, "t": 2, "group": G.name, "phase": "keygen"}
    notes = node.receive(server.frame("welcome", welcome, nonce))
    assert node.position == position and any(isinstance(a, Note) for a in notes)
    return nonce


def run(job: Job) -> Any:
    return job.fn(*job.args)


@pytest.fixture()
def cluster() -> tuple[Server, list[NodeProtocol], list[bytes]]:
    server = Server()
    nodes = [NodeProtocol(NodeIdentity.generate(), election_id=EID) for _ in range(3)]
    sessions = [connect(server, node, i + 1) for i, node in enumerate(nodes)]
    return server, nodes, sessions


def keygen(server: Server, nodes: list[NodeProtocol], sessions: list[bytes]) -> bytes:
    """Relay the three DKG rounds; returns the joint public key all nodes report."""
    participants = [n.identity.public_bytes() for n in nodes]
    replies = []
    for i, (node, session) in enumerate(zip(nodes, sessions, strict=True)):
        start = {"group": G.name, "n": 3, "t": 2, "position": i + 1,
                 "participants": participants, "fingerprint": FP}
        actions = node.receive(server.frame("dkg.start", start, session))
        endorse, deal = sent(actions)
        assert endorse.message.kind == "node.endorse" and endorse.message["fingerprint"] == FP
        assert any(isinstance(a, SaveFingerprint) and a.fingerprint == FP for a in actions)
        assert deal.message["fingerprint"] == FP
        replies.append(deal.message["data"])
    for kind in ("dkg.deals", "dkg.complaints", "dkg.responses"):
        items, replies = replies, []
        for node, session in zip(nodes, sessions, strict=True):
            actions = node.receive(server.frame(kind, {"items": items}, session))
            (reply,) = sent(actions)
            replies.append(reply.message.fields.get("data", reply.message.fields.get("public_key")))
            if kind == "dkg.responses":
                assert reply.message.kind == "dkg.done"
                assert any(isinstance(a, SaveKeyShare) for a in actions)
    assert len(set(replies)) == 1, "all nodes must derive the same election key"
    return replies[0]


def test_keygen_mix_and_decrypt_without_a_socket(
    cluster: tuple[Server, list[NodeProtocol], list[bytes]],
) -> None:
    server, nodes, sessions = cluster
    pk = decode_public_key(G, keygen(server, nodes, sessions))
    cts = [encrypt(pk, [G.embed(bytes([i]))])[0] for i in range(5)]
    inputs = encode_ciphertexts(G, cts)

    # a hop: the node asks for a Job, and its result becomes a signed mix.result
    request = {
        "job": "mix-1",
        "sid": shuffle_sid(EID),
        "group": G.name,
        "public_key": G.encode(pk.y),
        "width": 1,
        "count": 5,
        "ciphertexts": inputs,
        "fingerprint": FP,
    }
    actions = nodes[0].receive(server.frame("mix.request", request, sessions[0]))
    (job,) = [a for a in actions if isinstance(a, Job)]
    (progress,) = sent(actions)
    assert progress.message.kind == "progress" and progress.message["total"] == 5
    (result,) = sent(nodes[0].job_done(job.tag, run(job)))
    assert result.message.kind == "mix.result" and result.message["job"] == "mix-1"
    outputs = decode_ciphertexts(G, result.message["outputs"], 1)
    session = ShuffleSession(G, shuffle_sid(EID))
    proof = decode_proof(session, decode_proof_files(result.message["proof"]), 5, 1)
    verify_shuffle(session, pk, cts, outputs, proof)
    assert nodes[0].job_done(job.tag, run(job)) == []  # a job answers once

    # decryption by two nodes recovers the plaintexts (node 3 in the honest-but-slow mode)
    mixed = result.message["outputs"]
    shares = {}
    nodes[2].decrypt = faults.decrypt_function("slow", 0.05)
    for i in (1, 2):
        req = {"job": "dec", "group": G.name, "width": 1, "count": 5, "ciphertexts": mixed,
               "fingerprint": FP}
        (djob,) = [
            a
            for a in nodes[i].receive(server.frame("decrypt.request", req, sessions[i]))
            if isinstance(a, Job)
        ]
        assert djob.fn is (nodes[i].decrypt or decrypt_job)
        (share_msg,) = sent(nodes[i].job_done(djob.tag, run(djob)))
        assert share_msg.message.kind == "decrypt.share"
        shares[i + 1] = decode_decryption_share(G, share_msg.message["share"], 5, 1)
    rows = combine(G, outputs, shares, 2)
    assert sorted(G.extract(r[0]) for r in rows) == [bytes([i]) for i in range(5)]


def test_a_failed_job_is_reported_once(
    cluster: tuple[Server, list[NodeProtocol], list[bytes]],
) -> None:
    server, nodes, sessions = cluster
    pk = PublicKey(G, G.base_mul(7))
    request = {
        "job": "mix-9",
        "sid": shuffle_sid(EID),
        "group": G.name,
        "public_key": G.encode(pk.y),
        "width": 1,
        "count": 1,
        "ciphertexts": encode_ciphertexts(G, [encrypt(pk, [G.generator])[0]]),
        "fingerprint": FP,
    }
    nodes[0].receive(server.frame("mix.request", request, sessions[0]))
    (failed,) = sent(nodes[0].job_failed("mix-9", "BrokenProcessPool: worker died"))
    assert failed.message.kind == "job.failed"
    assert failed.message["job"] == "mix-9" and "worker died" in failed.message["reason"]
    assert nodes[0].job_failed("mix-9", "again") == []


def test_decryption_without_a_key_share_is_only_noted(
    cluster: tuple[Server, list[NodeProtocol], list[bytes]],
) -> None:
    server, nodes, sessions = cluster
    req = {"job": "d", "group": G.name, "width": 1, "count": 0, "ciphertexts": b"",
           "fingerprint": FP}
    actions = nodes[0].receive(server.frame("decrypt.request", req, sessions[0]))
    assert actions and all(isinstance(a, Note) for a in actions)


def test_frames_from_another_signer_or_session_are_refused(
    cluster: tuple[Server, list[NodeProtocol], list[bytes]],
) -> None:
    server, nodes, sessions = cluster
    impostor = NodeIdentity.generate()
    ack = {"ref": 1, "note": "ok"}
    with pytest.raises(ProtocolViolation, match="server key"):
        nodes[0].receive(server.frame("ack", ack, sessions[0], signer=impostor))
    with pytest.raises(ProtocolViolation, match="session"):
        nodes[0].receive(server.frame("ack", ack, sessions[1]))
    with pytest.raises(ProtocolViolation, match="already"):
        nonce = sessions[0]
        nodes[0].receive(
            server.frame("challenge", {"nonce": nonce, "server_key": server.key}, nonce)
        )


def test_messages_out_of_order_are_refused() -> None:
    server = Server()
    node = NodeProtocol(NodeIdentity.generate(), election_id=EID)
    with pytest.raises(ProtocolViolation, match="session"):  # nothing before the challenge
        node.receive(server.frame("ack", {"ref": 1, "note": ""}, b"x" * 32))
    session = connect(server, node, 1)
    with pytest.raises(ProtocolViolation, match="no key generation"):
        node.receive(server.frame("dkg.deals", {"items": []}, session))
    with pytest.raises(MixvoteError):  # a node-only kind is never accepted from the server
        node.receive(server.frame("dkg.done", {"public_key": b"x"}, session))
    challenge_by_other = NodeProtocol(NodeIdentity.generate(), election_id=EID)
    nonce = secrets.token_bytes(32)
    with pytest.raises(ProtocolViolation, match="not signed by the key it announces"):
        other = NodeIdentity.generate().public.signing_key
        challenge_by_other.receive(
            server.frame("challenge", {"nonce": nonce, "server_key": other}, nonce)
        )


# --- fault injection (mixnode/faults.py): off unless asked for, and each fault is caught ---------
def hop_request(pk: PublicKey, cts: list[Any], job: str = "mix-f") -> dict[str, Any]:
    return {"job": job, "sid": shuffle_sid(EID), "group": G.name, "public_key": G.encode(pk.y),
            "width": 1, "count": len(cts), "ciphertexts": encode_ciphertexts(G, cts),
            "fingerprint": FP}  # fmt: skip


def test_a_node_is_honest_unless_a_fault_is_asked_for() -> None:
    assert faults.from_environment({}) is None
    assert faults.from_environment({faults.ENV: "  "}) is None
    assert faults.from_environment({faults.ENV: "forged-proof"}) == "forged-proof"
    with pytest.raises(ConfigError, match="not a fault mode"):
        faults.from_environment({faults.ENV: "cheat-permutation"})
    assert faults.mix_function(None) is mix_job
    assert NodeProtocol(NodeIdentity.generate()).mix is None  # → mix_job
    with pytest.raises(ValueError, match="unknown fault"):
        faults.mix_function("nonsense")


@pytest.mark.parametrize("mode", ["wrong-permutation", "replace-ballot", "duplicate",
                                  "forged-proof"])  # fmt: skip
def test_each_cheating_hop_fails_verification(mode: str) -> None:
    server = Server()
    node = NodeProtocol(NodeIdentity.generate(), election_id=EID, mix=faults.mix_function(mode))
    session = connect(server, node, 1)
    pk = PublicKey(G, G.base_mul(11))
    cts = [encrypt(pk, [G.embed(bytes([i]))])[0] for i in range(4)]
    actions = node.receive(server.frame("mix.request", hop_request(pk, cts), session))
    (job,) = [a for a in actions if isinstance(a, Job)]
    pickle.loads(pickle.dumps(job.fn))  # goes to a process pool
    (result,) = sent(node.job_done(job.tag, run(job)))
    shuffle = ShuffleSession(G, shuffle_sid(EID))
    outputs = decode_ciphertexts(G, result.message["outputs"], 1)
    with pytest.raises(MixvoteError):
        proof = decode_proof(shuffle, decode_proof_files(result.message["proof"]), 4, 1)
        verify_shuffle(shuffle, pk, cts, outputs, proof)


def test_the_slow_mode_is_honest_but_late() -> None:
    assert faults.delay_from_environment({}) == faults.DEFAULT_DELAY == 1.0
    assert faults.delay_from_environment({faults.DELAY_ENV: "0.25"}) == 0.25
    for bad in ("soon", "-1", "nan", "inf", "601"):
        with pytest.raises(ConfigError, match="MIXVOTE_FAULT_DELAY"):
            faults.delay_from_environment({faults.DELAY_ENV: bad})
    assert faults.decrypt_function(None) is decrypt_job
    assert faults.decrypt_function("forged-proof") is decrypt_job  # the cheats are in the mix
    with pytest.raises(ValueError, match="unknown fault"):
        faults.decrypt_function("nonsense")
    pk = PublicKey(G, G.base_mul(11))
    cts = [encrypt(pk, [G.embed(bytes([i]))])[0] for i in range(4)]
    req = hop_request(pk, cts)
    slow = faults.mix_function("slow", 0.3)
    pickle.loads(pickle.dumps(slow))  # goes to a process pool
    started = time.monotonic()
    outputs_b, files = slow(G.name, req["sid"], req["public_key"], 1, req["ciphertexts"], 1)
    assert time.monotonic() - started >= 0.3
    shuffle = ShuffleSession(G, shuffle_sid(EID))
    proof = decode_proof(shuffle, decode_proof_files(files), 4, 1)
    verify_shuffle(shuffle, pk, cts, decode_ciphertexts(G, outputs_b, 1), proof)  # honest
    assert pickle.loads(pickle.dumps(faults.decrypt_function("slow", 0.3))).args == (
        0.3, decrypt_job)


def test_the_honest_hop_function_verifies() -> None:
    pk = PublicKey(G, G.base_mul(11))
    cts = [encrypt(pk, [G.embed(bytes([i]))])[0] for i in range(4)]
    req = hop_request(pk, cts)
    outputs_b, files = mix_job(G.name, req["sid"], req["public_key"], 1, req["ciphertexts"], 1)
    shuffle = ShuffleSession(G, shuffle_sid(EID))
    proof = decode_proof(shuffle, decode_proof_files(files), 4, 1)
    verify_shuffle(shuffle, pk, cts, decode_ciphertexts(G, outputs_b, 1), proof)


# --- the node adapter's secret files --------------------------------------------------------------
@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_write_private_is_0600_from_creation(tmp_path: Path, umask: int) -> None:
    new, old = tmp_path / "new.key", tmp_path / "old.key"
    old.write_bytes(b"public")
    old.chmod(0o644)
    previous = os.umask(umask)
    try:
        write_private(new, b"secret")
        write_private(old, b"secret too")  # replaced by a new 0600 file, not re-chmodded
    finally:
        os.umask(previous)
    assert new.read_bytes() == b"secret" and old.read_bytes() == b"secret too"
    assert stat.S_IMODE(new.stat().st_mode) == stat.S_IMODE(old.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.key", "old.key"]  # no temp left


def test_write_private_leaves_nothing_behind_on_failure(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        write_private(tmp_path / "k", "not bytes")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


# --- the fingerprint and receipts ---------------------------------------------------------------
def test_receipts_are_kept_and_their_head_is_bound_into_later_messages(
    cluster: tuple[Server, list[NodeProtocol], list[bytes]],
) -> None:
    server, nodes, sessions = cluster
    node, session = nodes[0], sessions[0]
    head = secrets.token_bytes(32)
    actions = node.receive(server.receipt(11, head, session))
    (saved,) = actions
    assert isinstance(saved, SaveReceipt) and saved.receipt["index"] == 11
    # an older receipt does not move the head back
    assert node.receive(server.receipt(3, secrets.token_bytes(32), session))
    start = {"group": G.name, "n": 3, "t": 2, "position": 1,
             "participants": [n.identity.public_bytes() for n in nodes], "fingerprint": FP}
    endorse, deal = sent(node.receive(server.frame("dkg.start", start, session)))
    for m in (endorse, deal):
        assert (m.message["seen_size"], m.message["seen_head"]) == (12, head)
    # a job.failed binds it too
    node.receive(server.frame("mix.request", hop_request(PublicKey(G, G.base_mul(3)), []),
                              session))
    (failed,) = sent(node.job_failed("mix-f", "boom"))
    assert failed.message["seen_size"] == 12 and failed.message["fingerprint"] == FP


def test_a_receipt_not_signed_by_the_session_server_is_refused(
    cluster: tuple[Server, list[NodeProtocol], list[bytes]],
) -> None:
    import json

    from crypto.receipts import encode_receipt, make_receipt

    server, nodes, sessions = cluster
    forged = make_receipt(secrets.token_bytes(32), EID, 1, bytes(32), 2, bytes(32))
    frame = server.frame("receipt", {"receipt": json.dumps(encode_receipt(forged)).encode()},
                         sessions[0])
    with pytest.raises(MixvoteError, match="expected server"):
        nodes[0].receive(frame)
    assert EID not in nodes[0].heads


def test_a_node_refuses_another_fingerprint_than_expected_or_signed() -> None:
    server = Server()
    participants = [NodeIdentity.generate().public_bytes() for _ in range(3)]
    start = {"group": G.name, "n": 3, "t": 2, "position": 1, "participants": participants,
             "fingerprint": FP}
    # --expect-fingerprint with the short form of another fingerprint
    other = bytes(32).hex()[:32]
    node = NodeProtocol(NodeIdentity.generate(), election_id=EID, expect_fingerprint=other)
    session = connect(server, node, 1)
    actions = node.receive(server.frame("dkg.start", start, session))
    (refuse,) = actions
    assert isinstance(refuse, Refuse) and "not the expected" in refuse.reason
    assert node.dkg is None and not sent(actions)
    # the expected one (full form with spaces) is served
    from crypto.fingerprint import format_fingerprint

    node = NodeProtocol(NodeIdentity.generate(), election_id=EID,
                        expect_fingerprint=format_fingerprint(FP))
    session = connect(server, node, 1)
    start["participants"] = [node.identity.public_bytes(), *participants[1:]]
    assert len(sent(node.receive(server.frame("dkg.start", start, session)))) == 2
    # a request under another fingerprint than the one this node signed is refused (also
    # without --expect-fingerprint)
    node.expect_fingerprint = ""
    pk = PublicKey(G, G.base_mul(5))
    req = {**hop_request(pk, [encrypt(pk, [G.generator])[0]]), "fingerprint": bytes(32)}
    (refuse,) = node.receive(server.frame("mix.request", req, session))
    assert isinstance(refuse, Refuse) and "this node signed" in refuse.reason
