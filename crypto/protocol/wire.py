"""The sans-io wire protocol between the election server and the mix nodes.

Both ends import this module; it does no I/O (no sockets, no event loop). Layers, bottom up:

* **Messages** (:class:`Message`): a kind, the election id, a session nonce, a sequence number and
  typed fields, with one canonical binary body encoding (:func:`encode_body` /
  :func:`decode_body`) checked against a per-kind schema (:data:`SCHEMAS`): unknown kinds, missing
  or extra bytes, oversized fields and non-UTF-8 text are rejected with ``MalformedInput``.
* **Signed frames** (:func:`encode_frame` / :func:`decode_frame`): a body, its author's Ed25519 key
  and signature (see :mod:`crypto.record`; the same signed body becomes a board entry unchanged).
* **Chunks** (:func:`split_frame` / :class:`Reassembler`): frames larger than
  :data:`CHUNK_SIZE` travel as numbered chunks, so a 100,000-ballot list never needs one huge
  websocket frame; the reassembler bounds the total size and insists on order.
* **State machines** are in :mod:`crypto.protocol.sessions`. The websocket adapters in
  ``mixserver`` and ``mixnode`` only move bytes in and out of these modules.

Randomness (the transfer id of a chunked frame) comes from an injected ``rng``.

The protocol itself is documented in ``docs/protocol.md``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from crypto.credentials import PUBLIC_SIZE
from crypto.encoding import Reader, decode_seq, encode_seq, encode_str, encode_uint, lp
from crypto.errors import MalformedInput, ProtocolViolation
from crypto.groups.base import RNG, SYSTEM_RNG
from crypto.record import KEY_SIZE, SIGNATURE_SIZE, signing_input, verify_body_signature

BODY_MAGIC = b"MXW1"
FRAME_MAGIC = b"MXS1"
CHUNK_MAGIC = b"MXC1"
#: Payload bytes per chunk frame (well below Tornado's default 10 MiB websocket message limit).
CHUNK_SIZE = 1 << 20
#: Largest single websocket frame either side accepts.
MAX_FRAME = CHUNK_SIZE + 4096
#: Largest reassembled message (a hop of 100,000 width-1 ballots with its proof is about 30 MB).
MAX_MESSAGE = 512 << 20
NONCE_SIZE = 32
FINGERPRINT_SIZE = 32
_SMALL = 4096
_BIG = MAX_MESSAGE

# Field types: "b" bytes, "s" UTF-8 text, "i" unsigned 64-bit integer, "l" list of byte strings.
# Each field: (name, type, maximum size in bytes or items).
FieldSpec = tuple[str, str, int]

#: Fields every node message that goes on the record ends with: the election fingerprint the node
#: signed, and the chain head it last saw (size and hash of the last entry; 0 and 32 zero bytes
#: before it has seen any), so that a record from which the server removed an entry the node saw
#: contradicts the node's own later signature (``docs/trust.md``).
BOUND: tuple[FieldSpec, ...] = (
    ("fingerprint", "b", FINGERPRINT_SIZE),
    ("seen_size", "i", 0),
    ("seen_head", "b", 32),
)

SCHEMAS: dict[str, tuple[FieldSpec, ...]] = {
    # server -> node
    "challenge": (("nonce", "b", NONCE_SIZE), ("server_key", "b", KEY_SIZE)),
    "welcome": (
        ("position", "i", 0),
        ("n", "i", 0),
        ("t", "i", 0),
        ("group", "s", 64),
        ("phase", "s", 32),
    ),
    "error": (("code", "s", 64), ("reason", "s", _SMALL), ("ref", "i", 0)),
    "ack": (("ref", "i", 0), ("note", "s", _SMALL)),
    # a server-signed receipt (crypto.receipts, JSON) for an entry just appended, or for the
    # board's head: the node keeps it, and binds the newest head into its next messages
    "receipt": (("receipt", "b", _SMALL),),
    "dkg.start": (
        ("group", "s", 64),
        ("n", "i", 0),
        ("t", "i", 0),
        ("position", "i", 0),
        ("participants", "l", 1024),
        ("fingerprint", "b", FINGERPRINT_SIZE),
    ),
    "dkg.deals": (("items", "l", 1024),),
    "dkg.complaints": (("items", "l", 1024),),
    "dkg.responses": (("items", "l", 1024),),
    "mix.request": (
        ("job", "s", 128),
        ("sid", "s", 128),
        ("group", "s", 64),
        ("public_key", "b", 1024),
        ("width", "i", 0),
        ("count", "i", 0),
        ("ciphertexts", "b", _BIG),
        ("fingerprint", "b", FINGERPRINT_SIZE),
    ),
    "decrypt.request": (
        ("job", "s", 128),
        ("group", "s", 64),
        ("width", "i", 0),
        ("count", "i", 0),
        ("ciphertexts", "b", _BIG),
        ("fingerprint", "b", FINGERPRINT_SIZE),
    ),
    # node -> server
    "auth": (("public_key", "b", 2 * KEY_SIZE), ("token", "s", 256), ("nonce", "b", NONCE_SIZE)),
    # the node's signature on the election fingerprint, before it takes part in key generation
    "node.endorse": BOUND,
    "dkg.deal": (("data", "b", 1 << 22), *BOUND),
    "dkg.complaint": (("data", "b", 1 << 22), *BOUND),
    "dkg.response": (("data", "b", 1 << 22), *BOUND),
    "dkg.done": (("public_key", "b", 1024),),
    "mix.result": (
        ("job", "s", 128),
        ("input_digest", "b", 32),
        ("outputs", "b", _BIG),
        ("proof", "l", 64),
        *BOUND,
    ),
    "decrypt.share": (
        ("job", "s", 128),
        ("input_digest", "b", 32),
        ("share", "b", _BIG),
        *BOUND,
    ),
    "progress": (("job", "s", 128), ("stage", "s", 64), ("done", "i", 0), ("total", "i", 0)),
    "job.failed": (("job", "s", 128), ("reason", "s", _SMALL), *BOUND),
    # server-authored board entries
    "election.params": (("params", "b", 1 << 20), ("server_key", "b", KEY_SIZE)),
    # the authority-signed public credential list (canonical JSON of
    # crypto.credentials.encode_credential_list): who may cast a ballot
    "credentials.list": (("list", "b", _BIG),),
    "node.enrolled": (("position", "i", 0), ("public_key", "b", 2 * KEY_SIZE)),
    "dkg.result": (
        ("public_key", "b", 1024),
        ("verification_keys", "l", 1024),
        ("qualified", "l", 1024),
    ),
    # a voter-signed ballot: the public credential, the row, its proof, and the credential's
    # Ed25519 signature over (fingerprint, row, proof) (crypto.credentials.sign_ballot)
    "ballot": (
        ("credential", "b", PUBLIC_SIZE),
        ("width", "i", 0),
        ("ciphertext", "b", 1 << 16),
        ("proof", "b", 1 << 16),
        ("signature", "b", 64),
    ),
    "voting.opened": (("public_key", "b", 1024),),
    "voting.closed": (
        ("count", "i", 0),
        ("width", "i", 0),
        ("ciphertexts", "b", _BIG),
        ("trackers", "l", 1 << 24),
    ),
    "hop.verdict": (
        ("hop", "i", 0),
        ("position", "i", 0),
        ("status", "s", 16),
        ("reason", "s", _SMALL),
        ("result_entry", "i", 0),
        ("output_digest", "b", 32),
        # a skipped hop's evidence: the node's own job.failed entry (``evidence_entry``), or a
        # time-out: when the request went out and when the server gave up (Unix milliseconds)
        # and the time-out it applied (milliseconds); all 0 when not skipped
        ("evidence_entry", "i", 0),
        ("requested_ms", "i", 0),
        ("gave_up_ms", "i", 0),
        ("timeout_ms", "i", 0),
    ),
    "decrypt.verdict": (
        ("position", "i", 0),
        ("status", "s", 16),
        ("reason", "s", _SMALL),
        ("share_entry", "i", 0),
    ),
    "tally": (("result", "b", 1 << 20), ("plaintexts", "l", 1 << 24)),
}

#: Kinds a node may send, and kinds only the server writes.
NODE_KINDS = frozenset(
    {
        "auth",
        "node.endorse",
        "dkg.deal",
        "dkg.complaint",
        "dkg.response",
        "dkg.done",
        "mix.result",
        "decrypt.share",
        "progress",
        "job.failed",
    }
)
SERVER_KINDS = frozenset(SCHEMAS) - NODE_KINDS
_INT_MAX = 2**64 - 1


@dataclass(frozen=True)
class Message:
    """One protocol message; ``fields`` maps each schema field to bytes, str, int or list."""

    kind: str
    election_id: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    session: bytes = b""
    seq: int = 0

    def __getitem__(self, name: str) -> Any:
        return self.fields[name]


def encode_body(msg: Message) -> bytes:
    """Canonical body: magic, kind, election id, session, seq, then fields in schema order."""
    try:
        schema = SCHEMAS[msg.kind]
    except KeyError:
        raise ValueError(f"encode_body: unknown message kind {msg.kind!r}") from None
    extra = set(msg.fields) - {name for name, _, _ in schema}
    if extra:
        raise ValueError(f"encode_body: {msg.kind} has no field(s) {sorted(extra)}")
    parts = [
        BODY_MAGIC,
        encode_str(msg.kind),
        encode_str(msg.election_id),
        lp(msg.session),
        encode_uint(msg.seq, 8),
    ]
    for name, ftype, _limit in schema:
        if name not in msg.fields:
            raise ValueError(f"encode_body: {msg.kind} is missing field {name!r}")
        value = msg.fields[name]
        if ftype == "b":
            if not isinstance(value, (bytes, bytearray)):
                raise TypeError(f"encode_body: {msg.kind}.{name} must be bytes")
            parts.append(lp(bytes(value)))
        elif ftype == "s":
            if not isinstance(value, str):
                raise TypeError(f"encode_body: {msg.kind}.{name} must be str")
            parts.append(encode_str(value))
        elif ftype == "i":
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _INT_MAX:
                raise TypeError(f"encode_body: {msg.kind}.{name} must be an int in [0, 2**64)")
            parts.append(encode_uint(value, 8))
        else:
            if not isinstance(value, (list, tuple)):
                raise TypeError(f"encode_body: {msg.kind}.{name} must be a list of bytes")
            parts.append(lp(encode_seq(bytes(v) for v in value)))
    return b"".join(parts)


def _text(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedInput(f"{what}: not valid UTF-8") from None


def decode_body(data: bytes, allowed: frozenset[str] | None = None) -> Message:
    """Parse and validate a body against its schema; ``allowed`` restricts the kinds accepted."""
    reader = Reader(data, "message")
    if reader.take(4) != BODY_MAGIC:
        raise MalformedInput("message: bad magic (not a mixvote wire message)")
    kind = _text(reader.lp(), "message kind")
    schema = SCHEMAS.get(kind)
    if schema is None:
        raise MalformedInput(f"message: unknown message type {kind[:40]!r}")
    if allowed is not None and kind not in allowed:
        raise ProtocolViolation(f"message: type {kind!r} may not be sent here")
    election_id = _text(reader.lp(), f"{kind}: election id")
    session = reader.lp()
    if len(session) > NONCE_SIZE:
        raise MalformedInput(f"{kind}: session nonce longer than {NONCE_SIZE} bytes")
    seq = reader.uint(8)
    fields: dict[str, Any] = {}
    for name, ftype, limit in schema:
        what = f"{kind}.{name}"
        if ftype == "i":
            fields[name] = reader.uint(8)
            continue
        raw = reader.lp()
        if ftype == "l":
            fields[name] = decode_seq(raw, what, max_items=limit)
        else:
            if len(raw) > limit:
                raise MalformedInput(f"{what}: {len(raw)} bytes, at most {limit} allowed")
            fields[name] = _text(raw, what) if ftype == "s" else raw
    reader.done()
    return Message(kind, election_id, fields, session, seq)


# --- signed frames ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedMessage:
    """A decoded message with the exact body its author signed."""

    message: Message
    body: bytes
    author: bytes
    signature: bytes


def encode_frame(body: bytes, author: bytes, signature: bytes) -> bytes:
    """A signed frame: magic, author key, signature, body."""
    return FRAME_MAGIC + lp(author) + lp(signature) + lp(body)


def sign_message(
    msg: Message, sign: Callable[[bytes], bytes], author: bytes
) -> tuple[bytes, bytes]:
    """(body, frame) of ``msg``; ``sign`` is the author's raw Ed25519 signing function (e.g.
    ``NodeIdentity.sign`` or ``Ed25519PrivateKey.sign``) and ``author`` its 32-byte public key."""
    body = encode_body(msg)
    return body, encode_frame(body, author, sign(signing_input(body)))


def decode_frame(data: bytes, allowed: frozenset[str] | None = None) -> SignedMessage:
    """Parse a signed frame, check its signature, then parse and validate its body."""
    reader = Reader(data, "frame")
    if reader.take(4) != FRAME_MAGIC:
        raise MalformedInput("frame: bad magic (not a signed mixvote frame)")
    author = reader.lp()
    signature = reader.lp()
    body = reader.lp()
    reader.done()
    if len(author) != KEY_SIZE or len(signature) != SIGNATURE_SIZE:
        raise MalformedInput("frame: author key or signature has the wrong length")
    verify_body_signature(author, body, signature, "frame")
    return SignedMessage(decode_body(body, allowed), body, author, signature)


# --- chunking --------------------------------------------------------------------------------


def split_frame(frame: bytes, chunk_size: int = CHUNK_SIZE, rng: RNG | None = None) -> list[bytes]:
    """The websocket frames that carry ``frame``: itself if small, else numbered chunks under a
    random 8-byte transfer id drawn from ``rng`` (default: the OS CSPRNG)."""
    if len(frame) <= chunk_size:
        return [frame]
    transfer = (rng or SYSTEM_RNG).randrange(0, 1 << 64).to_bytes(8, "big")
    count = (len(frame) + chunk_size - 1) // chunk_size
    return [
        CHUNK_MAGIC
        + transfer
        + encode_uint(i, 4)
        + encode_uint(count, 4)
        + encode_uint(len(frame), 8)
        + frame[i * chunk_size : (i + 1) * chunk_size]
        for i in range(count)
    ]


class Reassembler:
    """Collects chunk frames of one transfer at a time, in order, up to ``max_message`` bytes.

    ``feed(frame)`` returns a complete frame (a small frame passes straight through) or None
    while a transfer is still incomplete; it raises MalformedInput / ProtocolViolation on a
    malformed chunk, a chunk out of order, or an oversized transfer (the partial data is dropped).
    """

    def __init__(self, max_message: int = MAX_MESSAGE, max_frame: int = MAX_FRAME) -> None:
        self.max_message = max_message
        self.max_frame = max_frame
        self._transfer: bytes | None = None
        self._parts: list[bytes] = []
        self._count = 0
        self._total = 0
        self._size = 0

    def reset(self) -> None:
        self._transfer, self._parts, self._count, self._total, self._size = None, [], 0, 0, 0

    def feed(self, frame: bytes) -> bytes | None:
        if len(frame) > self.max_frame:
            self.reset()
            raise MalformedInput(f"frame: {len(frame)} bytes, at most {self.max_frame} allowed")
        if not frame.startswith(CHUNK_MAGIC):
            if self._transfer is not None:
                self.reset()
                raise ProtocolViolation("chunk: a message arrived in the middle of a transfer")
            return frame
        if len(frame) < 28:
            self.reset()
            raise MalformedInput("chunk: header truncated")
        transfer, index = frame[4:12], int.from_bytes(frame[12:16], "big")
        count, total = int.from_bytes(frame[16:20], "big"), int.from_bytes(frame[20:28], "big")
        data = frame[28:]
        if total > self.max_message:
            self.reset()
            raise MalformedInput(f"chunk: message of {total} bytes, at most {self.max_message}")
        if index == 0 and self._transfer is None:
            if count < 2 or not data:
                raise MalformedInput("chunk: a transfer needs at least two non-empty chunks")
            self._transfer, self._count, self._total = transfer, count, total
        elif (
            transfer != self._transfer
            or index != len(self._parts)
            or count != self._count
            or total != self._total
        ):
            self.reset()
            raise ProtocolViolation(f"chunk: chunk {index} out of order or of another transfer")
        self._parts.append(data)
        self._size += len(data)
        if self._size > self._total:
            self.reset()
            raise MalformedInput("chunk: more data than the announced total")
        if len(self._parts) < self._count:
            return None
        if self._size != self._total:
            self.reset()
            raise MalformedInput("chunk: transfer shorter than the announced total")
        out = b"".join(self._parts)
        self.reset()
        return out


#: The fate of a hop or a decryption share.
ACCEPTED, REJECTED, SKIPPED = "accepted", "rejected", "skipped"
#: The status of a verdict that closes, unjudged, a result the server received before it
#: restarted (docs/record.md): the result is ignored and the job is redone.
ABANDONED = "abandoned"


# --- small helpers both ends use --------------------------------------------------------------


def digest(data: bytes) -> bytes:
    """SHA-256 used to bind a result to its exact input."""
    return hashlib.sha256(data).digest()


def encode_proof_files(files: Mapping[str, bytes]) -> list[bytes]:
    """A shuffle proof's named files as a flat list [name, data, name, data, ...] (sorted names)."""
    out: list[bytes] = []
    for name in sorted(files):
        out += [name.encode("utf-8"), bytes(files[name])]
    return out


def decode_proof_files(items: Sequence[bytes]) -> dict[str, bytes]:
    """Inverse of :func:`encode_proof_files`; rejects an odd count or duplicate names."""
    if len(items) % 2:
        raise MalformedInput("proof: odd number of items (names and files must pair)")
    files: dict[str, bytes] = {}
    for i in range(0, len(items), 2):
        name = _text(items[i], "proof file name")
        if name in files:
            raise MalformedInput(f"proof: file {name!r} appears twice")
        files[name] = items[i + 1]
    return files


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON (sorted keys, no spaces) for parameters and results in board entries."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def shuffle_sid(election_id: str) -> str:
    """The shuffle session id of an election: "mixvote" + the alphanumeric characters of its id."""
    return "mixvote" + "".join(ch for ch in election_id if ch.isalnum())


def decryption_context(election_id: str, ciphertexts: bytes) -> bytes:
    """The context bound into decryption-share proofs: the shuffle sid and the list's digest."""
    return shuffle_sid(election_id).encode("ascii") + digest(ciphertexts)
