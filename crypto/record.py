"""The election record: signed, hash-chained entries of the bulletin board.

Every entry of an election's record is one *signed message*: the canonical body of a
:class:`crypto.protocol.wire.Message` (kind, election id, session, sequence number and typed
fields), the Ed25519 public key of its author and the author's signature over ``SIGN_DOMAIN ||
body`` (RFC 8032, pure Ed25519). The server's own entries (parameters, ballots, the closed list, hop
verdicts, the tally) are signed with the server's key; a node's entries (DKG messages, a hop's
output and shuffle proof, decryption shares) are the very frames the node signed and sent, so they
carry the node's signature and the server cannot alter them.

Entries are chained as in a Haber–Stornetta linked time-stamping log: entry ``i`` holds the hash of
entry ``i-1`` (32 zero bytes for entry 0), and the hash of an entry is SHA-256 of its canonical
encoding (:func:`encode_entry`). A ballot's tracker (the voter's receipt) is the hex hash of its
entry. :func:`verify_chain` re-checks indices, links and signatures and names the first entry that
fails. The directory layout of an exported record is described in ``docs/record.md``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crypto.ed25519 import verify_ed25519
from crypto.encoding import Reader, encode_str, encode_uint, lp
from crypto.errors import InvalidProof, MalformedInput

ENTRY_MAGIC = b"MXR1"
SIGN_DOMAIN = b"mixvote/signed-message/v1\x00"
HASH_SIZE = 32
KEY_SIZE = 32
SIGNATURE_SIZE = 64
GENESIS = bytes(HASH_SIZE)
def signing_input(body: bytes) -> bytes:
    """The exact bytes an author signs for a message body (domain-separated)."""
    return SIGN_DOMAIN + body


def sign_body(private_key: Ed25519PrivateKey, body: bytes) -> bytes:
    """Ed25519 signature over :func:`signing_input` of ``body``."""
    return private_key.sign(signing_input(body))


def public_key_bytes(private_key: Ed25519PrivateKey) -> bytes:
    """Raw 32-byte Ed25519 public key of ``private_key``."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def verify_body_signature(
    author: bytes, body: bytes, signature: bytes, where: str = "message"
) -> None:
    """Check an author's Ed25519 signature over a body, strictly (:func:`verify_ed25519`);
    raise InvalidProof / InvalidElement naming ``where``."""
    if len(author) != KEY_SIZE:
        raise MalformedInput(f"{where}: author key must be {KEY_SIZE} bytes, got {len(author)}")
    if len(signature) != SIGNATURE_SIZE:
        raise MalformedInput(
            f"{where}: signature must be {SIGNATURE_SIZE} bytes, got {len(signature)}"
        )
    verify_ed25519(author, signing_input(body), signature, where)


@dataclass(frozen=True)
class Entry:
    """One bulletin-board entry: a signed message body at ``index`` chained to ``prev``."""

    election_id: str
    index: int
    prev: bytes
    author: bytes
    signature: bytes
    body: bytes

    def encode(self) -> bytes:
        return encode_entry(self)

    def hash(self) -> bytes:
        """SHA-256 of the canonical entry encoding (the next entry's ``prev``)."""
        return hashlib.sha256(encode_entry(self)).digest()

    def tracker(self) -> str:
        """Hex hash of the entry: the receipt a voter gets for a ballot entry."""
        return self.hash().hex()


def encode_entry(entry: Entry) -> bytes:
    """Canonical encoding: magic, election id, index, prev hash, author key, signature, body."""
    if len(entry.prev) != HASH_SIZE:
        raise ValueError("encode_entry: prev must be 32 bytes")
    return b"".join(
        (
            ENTRY_MAGIC,
            encode_str(entry.election_id),
            encode_uint(entry.index, 8),
            entry.prev,
            lp(entry.author),
            lp(entry.signature),
            lp(entry.body),
        )
    )


def decode_entry(data: bytes, where: str = "entry") -> Entry:
    """Inverse of :func:`encode_entry`; rejects a bad magic, truncation and trailing bytes."""
    reader = Reader(data, where)
    if reader.take(4) != ENTRY_MAGIC:
        raise MalformedInput(f"{where}: bad magic (not a mixvote record entry)")
    try:
        election_id = reader.lp().decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedInput(f"{where}: election id is not UTF-8") from None
    index = reader.uint(8)
    prev = reader.take(HASH_SIZE)
    author = reader.lp()
    signature = reader.lp()
    body = reader.lp()
    reader.done()
    return Entry(election_id, index, prev, author, signature, body)


def make_entry(
    election_id: str, index: int, prev: bytes, private_key: Ed25519PrivateKey, body: bytes
) -> Entry:
    """A new entry authored and signed by ``private_key``."""
    return Entry(
        election_id, index, prev, public_key_bytes(private_key), sign_body(private_key, body), body
    )


def verify_entry(entry: Entry, expected_prev: bytes, expected_index: int) -> None:
    """Check one entry's position, link and signature; raise naming the entry index."""
    where = f"entry {expected_index}"
    if entry.index != expected_index:
        raise InvalidProof(f"{where}: index field says {entry.index}")
    if entry.prev != expected_prev:
        raise InvalidProof(
            f"{where}: hash link does not match the hash of entry {expected_index - 1}"
        )
    verify_body_signature(entry.author, entry.body, entry.signature, where)


def verify_chain(
    entries: Iterable[Entry], election_id: str, allowed_authors: Sequence[bytes] | None = None
) -> bytes:
    """Check a whole record in order; return the head hash. ``allowed_authors`` (if given) are the
    only keys that may author an entry."""
    prev = GENESIS
    count = 0
    for i, entry in enumerate(entries):
        if entry.election_id != election_id:
            raise InvalidProof(f"entry {i}: belongs to election {entry.election_id!r}")
        verify_entry(entry, prev, i)
        if allowed_authors is not None and entry.author not in allowed_authors:
            raise InvalidProof(f"entry {i}: author {entry.author.hex()[:16]}… is not allowed")
        prev = entry.hash()
        count += 1
    if count == 0:
        raise MalformedInput("record: no entries")
    return prev
