"""Signed receipts for bulletin-board appends, and the check of receipts against a record.

The idea is Certificate Transparency's signed certificate timestamp and signed tree head
(RFC 6962 §3.2, §3.5) applied to the hash-chained record of :mod:`crypto.record`: every append is
answered with a receipt signed by the server's Ed25519 key,

    (election id, entry index i, entry hash H_i, chain head after the append: size s, hash H_{s-1})

where H_i is the SHA-256 entry hash of ``crypto.record`` and the head is the size of the chain and
the hash of its last entry (s = i + 1 and H_{s-1} = H_i when nothing else was appended meanwhile).
Since each entry holds the hash of the one before, a receipted head fixes the whole prefix
0..s-1. :func:`check_receipts` takes the receipts a node or voter kept and a record, and reports,
with the receipt as evidence, every entry that is missing or altered and every head that is not a
prefix of the record's chain — server misbehaviour, because the server signed it. Two receipts
that contradict each other (two hashes for one index) prove misbehaviour without any record.

What a receipt cannot prove: that the server appended anything it did not acknowledge, or that
it did not refuse service. No I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from crypto.credentials import (
    PUBLIC_SIZE,
    SIGNATURE_SIZE,
    credential_from_private,
    decode_public_credential,
    sign_message,
    verify_signature_strict,
)
from crypto.encoding import decode_hex, encode_str, encode_uint, lp
from crypto.errors import InvalidProof, MalformedInput

RECEIPT_DOMAIN = b"mixvote/receipt/v1\x00"
RECEIPT_FORMAT = "mixvote-receipt/1"
HASH_SIZE = 32
MAX_INDEX = 2**63 - 1
SERVER_MISBEHAVIOUR = "server misbehaviour"


@dataclass(frozen=True)
class Receipt:
    """A server-signed acknowledgement that entry ``index`` with hash ``entry_hash`` is on the
    board and that the chain then had ``head_size`` entries, the last with hash ``head_hash``."""

    election_id: str
    index: int
    entry_hash: bytes
    head_size: int
    head_hash: bytes
    server: bytes
    signature: bytes

    def describe(self) -> str:
        return (
            f"receipt for entry {self.index} (hash {self.entry_hash.hex()[:16]}…, head "
            f"{self.head_size}/{self.head_hash.hex()[:16]}…) signed by server "
            f"{self.server.hex()[:16]}…"
        )


def _check_fields(election_id: str, index: int, entry_hash: bytes, size: int, head: bytes) -> None:
    if not isinstance(election_id, str) or not 1 <= len(election_id) <= 64:
        raise MalformedInput("receipt: election id must be 1 to 64 characters")
    for name, number in (("index", index), ("head size", size)):
        if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number <= MAX_INDEX:
            raise MalformedInput(f"receipt: {name} must be an integer in 0..2^63-1")
    if size <= index:
        raise MalformedInput(f"receipt: head size {size} does not include entry {index}")
    for name, value in (("entry hash", entry_hash), ("head hash", head)):
        if not isinstance(value, bytes) or len(value) != HASH_SIZE:
            raise MalformedInput(f"receipt: {name} must be {HASH_SIZE} bytes")
    if size == index + 1 and head != entry_hash:
        raise MalformedInput(
            "receipt: the head is the receipted entry itself, but the two hashes differ"
        )


def receipt_message(
    election_id: str, index: int, entry_hash: bytes, head_size: int, head_hash: bytes
) -> bytes:
    """What the server signs: domain || lp(election id) || uint64 index || lp(entry hash) ||
    uint64 head size || lp(head hash)."""
    _check_fields(election_id, index, entry_hash, head_size, head_hash)
    return b"".join(
        (
            RECEIPT_DOMAIN,
            encode_str(election_id),
            encode_uint(index, 8),
            lp(entry_hash),
            encode_uint(head_size, 8),
            lp(head_hash),
        )
    )


def make_receipt(
    server_private: bytes,
    election_id: str,
    index: int,
    entry_hash: bytes,
    head_size: int,
    head_hash: bytes,
) -> Receipt:
    """A receipt signed with the server's 32-byte Ed25519 seed."""
    message = receipt_message(election_id, index, entry_hash, head_size, head_hash)
    server_public = credential_from_private(server_private).public
    signature = sign_message(server_private, message)
    return Receipt(election_id, index, entry_hash, head_size, head_hash, server_public, signature)


def verify_receipt(receipt: Receipt, server_key: bytes | None = None) -> None:
    """Check the receipt's fields and the server's strict Ed25519 signature (and, if given, that
    the signer is ``server_key``). Raises MalformedInput / InvalidProof naming the receipt."""
    decode_public_credential(receipt.server, "receipt: server key")
    if server_key is not None and receipt.server != server_key:
        raise InvalidProof(
            f"{receipt.describe()}: not signed by the expected server {server_key.hex()[:16]}…"
        )
    message = receipt_message(
        receipt.election_id, receipt.index, receipt.entry_hash, receipt.head_size,
        receipt.head_hash,
    )
    verify_signature_strict(receipt.server, message, receipt.signature, receipt.describe())


def encode_receipt(receipt: Receipt) -> dict[str, Any]:
    """The JSON-able form (hex for bytes) a node or voter stores."""
    return {
        "format": RECEIPT_FORMAT,
        "election": receipt.election_id,
        "index": receipt.index,
        "entry_hash": receipt.entry_hash.hex(),
        "head_size": receipt.head_size,
        "head_hash": receipt.head_hash.hex(),
        "server": receipt.server.hex(),
        "signature": receipt.signature.hex(),
    }


def _hex(obj: Mapping[str, Any], key: str, size: int) -> bytes:
    return decode_hex(obj[key], size, f"receipt: {key}")


def decode_receipt(obj: object) -> Receipt:
    """Parse the JSON-able form strictly (exact key set, types, sizes); then
    :func:`verify_receipt` checks the signature."""
    if not isinstance(obj, Mapping):
        raise MalformedInput("receipt: not a JSON object")
    expected = {"format", "election", "index", "entry_hash", "head_size", "head_hash", "server",
                "signature"}
    if set(obj) != expected:
        missing, extra = sorted(expected - set(obj)), sorted(set(obj) - expected)
        raise MalformedInput(f"receipt: fields missing {missing}, unexpected {extra}")
    if obj["format"] != RECEIPT_FORMAT:
        raise MalformedInput(f"receipt: format is not {RECEIPT_FORMAT!r}")
    election_id, index, size = obj["election"], obj["index"], obj["head_size"]
    entry_hash, head_hash = _hex(obj, "entry_hash", HASH_SIZE), _hex(obj, "head_hash", HASH_SIZE)
    _check_fields(election_id, index, entry_hash, size, head_hash)
    return Receipt(
        election_id,
        index,
        entry_hash,
        size,
        head_hash,
        _hex(obj, "server", PUBLIC_SIZE),
        _hex(obj, "signature", SIGNATURE_SIZE),
    )


# --- checking receipts against a record ----------------------------------------------------------
class ChainEntry(Protocol):
    """What :func:`check_receipts` needs of a record entry (``crypto.record.Entry`` has it)."""

    @property
    def prev(self) -> bytes: ...

    def hash(self) -> bytes: ...


@dataclass(frozen=True)
class Finding:
    """One piece of signed evidence of server misbehaviour: ``what`` happened at ``index``, and
    the receipt(s) that prove it."""

    index: int
    what: str
    evidence: tuple[Receipt, ...]
    kind: str = SERVER_MISBEHAVIOUR

    def __str__(self) -> str:
        return f"{self.kind} at entry {self.index}: {self.what} (evidence: " + "; ".join(
            r.describe() for r in self.evidence
        ) + ")"


class ServerMisbehaviour(InvalidProof):
    """Raised by :func:`verify_receipts`; ``findings`` holds every finding with its evidence."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        super().__init__("; ".join(str(f) for f in findings))
        self.findings = tuple(findings)


def check_receipts(
    receipts: Sequence[Receipt],
    record_entries: Sequence[ChainEntry],
    election_id: str,
    server_key: bytes,
) -> list[Finding]:
    """Every finding of server misbehaviour that ``receipts`` prove about ``record_entries`` (the
    record of ``election_id`` in index order); an empty list when the record keeps every promise.

    ``server_key`` is the server key the holder learned when it was handed the receipts (a node
    at connection, a voter from the election page); it is required because a receipt signed by
    any other key is evidence against nobody (anyone can make a key and sign "contradicting"
    receipts). Each receipt's signature is checked first: a receipt that does not verify under
    ``server_key`` is no evidence and raises InvalidProof; a receipt for another election raises
    MalformedInput. The record's own hash links are checked too (a broken link
    means the record itself is invalid: InvalidProof). Findings, in index order:

    * two receipts with different hashes for the same entry or the same head (equivocation);
    * a receipted entry missing from the record (the record is shorter) or with another hash;
    * a receipted head of size s whose hash is not the hash of the record's entry s-1, or a
      record shorter than s (entries dropped or rewritten after the acknowledgement)."""
    if not isinstance(server_key, bytes) or len(server_key) != PUBLIC_SIZE:
        raise ValueError(f"check_receipts: server_key must be {PUBLIC_SIZE} bytes")
    for receipt in receipts:
        if receipt.election_id != election_id:
            raise MalformedInput(
                f"{receipt.describe()}: for election {receipt.election_id!r}, "
                f"not {election_id!r}"
            )
        verify_receipt(receipt, server_key)
    hashes: list[bytes] = []
    prev = bytes(HASH_SIZE)
    for i, entry in enumerate(record_entries):
        if entry.prev != prev:
            raise InvalidProof(
                f"record: entry {i} does not link to entry {i - 1}; check the chain first"
            )
        prev = entry.hash()
        hashes.append(prev)

    findings: list[Finding] = []
    claims: dict[int, tuple[bytes, Receipt]] = {}

    def claim(index: int, digest: bytes, receipt: Receipt, what: str) -> None:
        earlier = claims.get(index)
        if earlier is None:
            claims[index] = (digest, receipt)
        elif earlier[0] != digest:
            findings.append(
                Finding(index, f"two signed receipts give entry {index} different hashes "
                        f"({what})", (earlier[1], receipt))
            )

    for receipt in receipts:
        claim(receipt.index, receipt.entry_hash, receipt, "entry")
        claim(receipt.head_size - 1, receipt.head_hash, receipt, "head")
    for index, (digest, receipt) in sorted(claims.items()):
        if index >= len(hashes):
            findings.append(
                Finding(index, f"the record has {len(hashes)} entries; the acknowledged entry "
                        f"{index} is missing", (receipt,))
            )
        elif hashes[index] != digest:
            findings.append(
                Finding(index, f"entry {index} of the record has hash "
                        f"{hashes[index].hex()[:16]}…, not the acknowledged "
                        f"{digest.hex()[:16]}… (altered, removed or reordered)", (receipt,))
            )
    findings.sort(key=lambda f: f.index)
    return findings


def verify_receipts(
    receipts: Sequence[Receipt],
    record_entries: Sequence[ChainEntry],
    election_id: str,
    server_key: bytes,
) -> None:
    """:func:`check_receipts`, raising :class:`ServerMisbehaviour` when there is any finding."""
    findings = check_receipts(receipts, record_entries, election_id, server_key)
    if findings:
        raise ServerMisbehaviour(findings)
