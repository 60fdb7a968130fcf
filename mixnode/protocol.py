"""A mix node's side of the protocol, sans-io: frames in, actions out.

:class:`NodeProtocol` consumes websocket frames from the server and returns a list of actions for
the adapter (:mod:`mixnode.client`) to carry out: :class:`Send` a signed frame, run a heavy
:class:`Job` in the node's process pool (its result comes back through :meth:`NodeProtocol.
job_done`), :class:`SaveKeyShare` to the data directory, or :class:`Note` a line of progress.
Nothing here touches a socket, a file or a clock, so it is tested with plain frames.

The function that does a hop is :func:`mix_job`; tests and experiments may hand the protocol
another one (``mix=``, and ``decrypt=`` for the share), which is how :mod:`mixnode.faults`
makes a node misbehave (or, honestly, run slow).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from crypto import group
from crypto.errors import MixvoteError, ProtocolViolation
from crypto.protocol.wire import (
    SERVER_KINDS,
    Message,
    Reassembler,
    SignedMessage,
    decode_frame,
    decryption_context,
    digest,
    sign_message,
    split_frame,
)
from crypto.transport import NodeIdentity


@dataclass(frozen=True)
class Send:
    frames: list[bytes]


@dataclass(frozen=True)
class Job:
    """Heavy work for the pool: ``fn(*args)``; its result goes back to ``job_done(tag, result)``."""

    tag: str
    fn: Callable[..., Any]
    args: tuple[Any, ...]


@dataclass(frozen=True)
class SaveKeyShare:
    election_id: str
    data: bytes


@dataclass(frozen=True)
class Note:
    text: str


@dataclass(frozen=True)
class SaveReceipt:
    """Keep a server-signed receipt (its JSON form) in the data directory."""

    election_id: str
    receipt: dict[str, Any]


@dataclass(frozen=True)
class SaveFingerprint:
    """Keep the election fingerprint this node signed (refuse any other one later)."""

    election_id: str
    fingerprint: bytes


@dataclass(frozen=True)
class Refuse:
    """The node will not take part in this election: stop, saying why."""

    reason: str


Action = Send | Job | SaveKeyShare | Note | SaveReceipt | SaveFingerprint | Refuse

#: Node messages that go on the record: they bind the fingerprint and the last head seen.
BOUND_KINDS = frozenset(
    {"node.endorse", "dkg.deal", "dkg.complaint", "dkg.response", "mix.result", "decrypt.share",
     "job.failed"}
)


@dataclass
class NodeProtocol:
    """One connection's worth of node state (a new one per connection; key shares persist in the
    data directory and are handed in through ``key_shares``)."""

    identity: NodeIdentity
    token: str = ""
    election_id: str = ""
    workers: int = 1
    # the pool function doing a hop (default mix_job); must pickle (a top-level function)
    mix: Callable[..., tuple[bytes, list[bytes]]] | None = None
    # the pool function making a decryption share (default decrypt_job); must pickle too
    decrypt: Callable[..., bytes] | None = None
    key_shares: dict[str, bytes] = field(default_factory=dict)
    #: fingerprints this node signed, per election (kept in the data directory)
    fingerprints: dict[str, bytes] = field(default_factory=dict)
    #: the newest chain head (size, hash) this node holds a receipt for, per election
    heads: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    #: refuse an election whose fingerprint is not this one (``--expect-fingerprint``)
    expect_fingerprint: str = ""
    server_key: bytes | None = None
    session: bytes = b""
    seq: int = 0
    position: int = 0
    reassembler: Reassembler = field(default_factory=Reassembler)
    dkg: Any = None
    jobs: dict[str, Message] = field(default_factory=dict)
    authenticated: bool = False  # the server welcomed this node on this connection
    server_error: str = ""  # the last error the server reported, e.g. "not enrolled"

    # --- output -----------------------------------------------------------------------------
    def send(self, kind: str, fields: dict[str, Any]) -> Send:
        self.seq += 1
        if kind in BOUND_KINDS:
            size, head = self.heads.get(self.election_id, (0, bytes(32)))
            fields = {
                **fields,
                "fingerprint": self.fingerprints.get(self.election_id, b""),
                "seen_size": size,
                "seen_head": head,
            }
        msg = Message(kind, self.election_id, fields, self.session, self.seq)
        _body, frame = sign_message(msg, self.identity.sign, self.identity.public.signing_key)
        return Send(split_frame(frame))

    # --- input ------------------------------------------------------------------------------
    def receive(self, frame: bytes) -> list[Action]:
        """Handle one websocket frame from the server."""
        whole = self.reassembler.feed(frame)
        if whole is None:
            return []
        signed = decode_frame(whole, SERVER_KINDS)
        if self.server_key is not None and signed.author != self.server_key:
            raise ProtocolViolation("server: frame not signed by the server key of this session")
        return self.handle(signed)

    def handle(self, signed: SignedMessage) -> list[Action]:
        msg = signed.message
        if msg.kind == "challenge":
            if self.session:
                raise ProtocolViolation("challenge: already received one on this connection")
            self.session, self.server_key = msg["nonce"], msg["server_key"]
            if signed.author != self.server_key:
                raise ProtocolViolation("challenge: not signed by the key it announces")
            return [
                self.send(
                    "auth",
                    {
                        "public_key": self.identity.public_bytes(),
                        "token": self.token,
                        "nonce": self.session,
                    },
                )
            ]
        if not self.session or msg.session != self.session:
            raise ProtocolViolation(f"{msg.kind}: not part of this session")
        if msg.kind == "welcome":
            self.election_id, self.position = msg.election_id, msg["position"]
            self.authenticated = True
            return [
                Note(
                    f"authenticated as node {self.position}/{msg['n']} of election "
                    f"{self.election_id} (phase {msg['phase']})"
                )
            ]
        if msg.kind == "error":
            self.server_error = f"[{msg['code']}] {msg['reason']}"
            return [Note(f"server error {self.server_error}")]
        if msg.kind == "ack":
            return []
        if msg.kind == "receipt":
            return self.on_receipt(msg)
        if msg.kind == "dkg.start":
            return self.on_dkg_start(msg)
        if msg.kind in ("dkg.deals", "dkg.complaints", "dkg.responses"):
            return self.on_dkg_round(msg)
        if msg.kind in ("mix.request", "decrypt.request"):
            refused = self.check_fingerprint(msg)
            if refused:
                return refused
        if msg.kind == "mix.request":
            self.jobs[msg["job"]] = msg
            return [
                Note(f"shuffling {msg['count']} ballots (job {msg['job']})"),
                self.send(
                    "progress",
                    {"job": msg["job"], "stage": "shuffling", "done": 0, "total": msg["count"]},
                ),
                Job(
                    msg["job"],
                    self.mix or mix_job,
                    (
                        msg["group"],
                        msg["sid"],
                        msg["public_key"],
                        msg["width"],
                        msg["ciphertexts"],
                        self.workers,
                    ),
                ),
            ]
        if msg.kind == "decrypt.request":
            share = self.key_shares.get(msg.election_id)
            if share is None:
                return [Note("decryption requested but this node holds no key share")]
            self.jobs[msg["job"]] = msg
            return [
                Note(f"decrypting {msg['count']} ballots"),
                Job(
                    msg["job"],
                    self.decrypt or decrypt_job,
                    (
                        msg["group"],
                        share,
                        msg["width"],
                        msg["ciphertexts"],
                        decryption_context(msg.election_id, msg["ciphertexts"]),
                    ),
                ),
            ]
        raise ProtocolViolation(f"{msg.kind}: not expected by a node")

    def job_failed(self, tag: str, reason: str) -> list[Action]:
        """A pool job raised or its worker died: tell the server at once (it skips this node's
        hop or share instead of waiting for its time-out)."""
        if self.jobs.pop(tag, None) is None:
            return []
        return [
            Note(f"job {tag} failed: {reason}"),
            self.send("job.failed", {"job": tag, "reason": reason[:4000]}),
        ]

    def job_done(self, tag: str, result: Any) -> list[Action]:
        """A pool job finished: turn its result into the reply."""
        msg = self.jobs.pop(tag, None)
        if msg is None:
            return []
        if msg.kind == "mix.request":
            outputs, proof = result
            return [
                Note(f"hop done, sending {len(outputs)} bytes of output and the proof"),
                self.send(
                    "mix.result",
                    {
                        "job": tag,
                        "input_digest": digest(msg["ciphertexts"]),
                        "outputs": outputs,
                        "proof": proof,
                    },
                ),
            ]
        return [
            Note("decryption share ready"),
            self.send(
                "decrypt.share",
                {"job": tag, "input_digest": digest(msg["ciphertexts"]), "share": result},
            ),
        ]

    # --- receipts and the fingerprint ------------------------------------------------------------
    def on_receipt(self, msg: Message) -> list[Action]:
        """A receipt from the server: check it (the server key of this session, this election)
        and keep it; its head becomes the head this node's next messages bind."""
        import json

        from crypto.receipts import decode_receipt, encode_receipt, verify_receipt

        try:
            obj = json.loads(msg["receipt"].decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ProtocolViolation("receipt: not JSON") from None
        receipt = decode_receipt(obj)
        if receipt.election_id != self.election_id:
            raise ProtocolViolation("receipt: for another election")
        verify_receipt(receipt, self.server_key)
        size, _head = self.heads.get(self.election_id, (0, b""))
        if receipt.head_size > size:
            self.heads[self.election_id] = (receipt.head_size, receipt.head_hash)
        return [SaveReceipt(self.election_id, encode_receipt(receipt))]

    def check_fingerprint(self, msg: Message) -> list[Action]:
        """[] if this node may serve ``msg``'s election fingerprint, else a Refuse."""
        from crypto.fingerprint import fingerprint_matches, format_fingerprint

        fp = msg["fingerprint"]
        if len(fp) != 32:
            raise ProtocolViolation(f"{msg.kind}: the fingerprint is not 32 bytes")
        shown = format_fingerprint(fp)
        if self.expect_fingerprint and not fingerprint_matches(fp, self.expect_fingerprint):
            return [Refuse(f"election {msg.election_id} has fingerprint {shown}, not the "
                           f"expected {self.expect_fingerprint}: refusing to take part")]
        signed = self.fingerprints.get(msg.election_id)
        if signed is not None and signed != fp:
            return [Refuse(f"election {msg.election_id} now has fingerprint {shown}, but this "
                           f"node signed {format_fingerprint(signed)}: refusing to take part")]
        return []

    # --- key generation --------------------------------------------------------------------------
    def on_dkg_start(self, msg: Message) -> list[Action]:
        from crypto.dkg import DkgParams, DkgParticipant
        from crypto.fingerprint import format_fingerprint

        refused = self.check_fingerprint(msg)
        if refused:
            return refused
        fp = msg["fingerprint"]
        self.fingerprints[msg.election_id] = fp
        params = DkgParams(
            group(msg["group"]), msg.election_id, msg["n"], msg["t"], tuple(msg["participants"])
        )
        self.dkg = DkgParticipant(params, msg["position"], self.identity)
        deal = self.dkg.deal()
        return [
            Note(f"election fingerprint {format_fingerprint(fp)}"),
            SaveFingerprint(msg.election_id, fp),
            self.send("node.endorse", {}),
            Note(f"key generation: dealing as node {msg['position']}"),
            self.send("dkg.deal", {"data": deal.to_bytes()}),
        ]

    def on_dkg_round(self, msg: Message) -> list[Action]:
        from crypto.dkg import ComplaintMsg, Deal, ResponseMsg

        if self.dkg is None:
            raise ProtocolViolation(f"{msg.kind}: no key generation in progress")
        params = self.dkg.params
        if msg.kind == "dkg.deals":
            deals = {d.dealer: d for d in (Deal.from_bytes(params, x) for x in msg["items"])}
            deals.pop(self.dkg.index, None)
            complaint = self.dkg.on_deals(deals)
            return [self.send("dkg.complaint", {"data": complaint.to_bytes()})]
        if msg.kind == "dkg.complaints":
            cs = {c.sender: c for c in (ComplaintMsg.from_bytes(params, x) for x in msg["items"])}
            cs.pop(self.dkg.index, None)
            response = self.dkg.on_complaints(cs)
            return [self.send("dkg.response", {"data": response.to_bytes()})]
        rs = {r.dealer: r for r in (ResponseMsg.from_bytes(params, x) for x in msg["items"])}
        rs.pop(self.dkg.index, None)
        share = self.dkg.on_responses(rs)
        self.dkg = None
        data = share.to_bytes()
        self.key_shares[msg.election_id] = data
        pk = params.group.encode(share.public_key.y)
        return [
            SaveKeyShare(msg.election_id, data),
            Note(
                f"key generation done: election key {pk.hex()[:16]}…, "
                f"qualified {list(share.qualified)}"
            ),
            self.send("dkg.done", {"public_key": pk}),
        ]


# --- pool jobs (top level so they pickle) ----------------------------------------------------


def open_hop(
    group_name: str, sid: str, public_key: bytes, width: int, ciphertexts: bytes
) -> tuple[Any, Any, list[Any], Any]:
    """Decode a mix request's inputs: (group, public key, ciphertexts, shuffle session)."""
    from crypto.elgamal import decode_ciphertexts, decode_public_key
    from crypto.shuffle import ShuffleSession

    g = group(group_name)
    pk = decode_public_key(g, public_key)
    return g, pk, decode_ciphertexts(g, ciphertexts, width), ShuffleSession(g, sid)


def encode_hop(
    g: Any, outputs: Sequence[Any], files: dict[str, bytes]
) -> tuple[bytes, list[bytes]]:
    """A hop's reply: (encoded outputs, proof files as a flat list)."""
    from crypto.elgamal import encode_ciphertexts
    from crypto.protocol.wire import encode_proof_files

    return encode_ciphertexts(g, list(outputs)), encode_proof_files(files)


def mix_job(
    group_name: str, sid: str, public_key: bytes, width: int, ciphertexts: bytes, workers: int
) -> tuple[bytes, list[bytes]]:
    """Shuffle and prove one hop; returns (encoded outputs, proof files as a flat list)."""
    from crypto.io.pool import process_map
    from crypto.shuffle import encode_proof, prove_shuffle, shuffle

    g, pk, inputs, session = open_hop(group_name, sid, public_key, width, ciphertexts)
    mapper = process_map(workers)
    result = shuffle(pk, inputs, workers=workers, mapper=mapper)
    proof = prove_shuffle(
        session, pk, inputs, result.outputs, result.permutation, result.randomness,
        workers=workers, mapper=mapper,
    )
    return encode_hop(g, result.outputs, encode_proof(session, proof))


def decrypt_job(
    group_name: str, key_share: bytes, width: int, ciphertexts: bytes, context: bytes
) -> bytes:
    """This node's decryption share of the final list, with its proof, encoded."""
    from crypto.dkg import KeyShare
    from crypto.elgamal import decode_ciphertexts
    from crypto.threshold import decryption_share, encode_decryption_share

    g = group(group_name)
    share = KeyShare.from_bytes(g, key_share)
    cts = decode_ciphertexts(g, ciphertexts, width)
    return encode_decryption_share(g, decryption_share(g, share, cts, context))


def describe_error(exc: BaseException) -> str:
    """One line for a failed job or frame (the node adapter's error mapping)."""
    if isinstance(exc, MixvoteError):
        return f"{type(exc).__name__}: {exc}"
    return f"internal error: {type(exc).__name__}: {exc}"


__all__: Sequence[str] = [
    "Job",
    "NodeProtocol",
    "Note",
    "Refuse",
    "SaveFingerprint",
    "SaveKeyShare",
    "SaveReceipt",
    "Send",
    "decrypt_job",
    "encode_hop",
    "mix_job",
    "open_hop",
]
