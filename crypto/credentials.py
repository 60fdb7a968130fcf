"""Voter credentials as Ed25519 signing keys, the authority-signed public credential list, and
voter-signed ballots (Belenios's trust model: Cortier–Gaudry–Glondu, "Belenios: a simple private
and verifiable electronic voting system", 2019, §3; the normative description is ``docs/trust.md``).

A *private credential* is a 32-byte Ed25519 seed (RFC 8032 §5.1.5); the *public credential* is its
32-byte public key and the *voter id* the hex of a 16-byte hash of that key. The credential
authority (``mixvote-credentials``, :mod:`crypto.io.authority`) makes one key pair per voter and
signs the sorted list of public credentials with its own Ed25519 key; only that signed list reaches
the server. Every ballot is signed by its credential over (election fingerprint, ciphertext row,
ballot proof), so whoever runs the server can neither vote for a voter nor alter a ballot.

Ed25519 rather than Schnorr on the election group: the credential must work unchanged whatever
group (or tally mode) an election uses, be made by a command that knows nothing of the group, and
be handled on both sides by maintained libraries (pyca ``cryptography`` here, ``@noble/curves`` in
the browser) with deterministic signatures, so JS and Python produce the same bytes.

Verification is *strict* (:func:`verify_signature_strict`): the public key must be a canonical
encoding of a point of the prime-order subgroup that is not of small order (libsodium's
``crypto_core_ed25519_is_valid_point``), and S must be below the group order ℓ; a signature is then
strongly unforgeable, so a signed ballot cannot be re-signed into a different valid one.
No I/O here; randomness comes from an injected ``rng``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pysodium
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from crypto.ed25519 import ED25519_L, verify_ed25519
from crypto.encoding import decode_hex, encode_str, encode_uint, lp
from crypto.errors import InvalidElement, InvalidProof, MalformedInput
from crypto.groups.base import RNG, SYSTEM_RNG
from crypto.hashing import hash_bytes

PRIVATE_SIZE = 32
PUBLIC_SIZE = 32
SIGNATURE_SIZE = 64
VOTER_ID_SIZE = 16
CHECK_SIZE = 3
#: The order ℓ of the Ed25519 prime-order subgroup (RFC 8032 §5.1).
ED25519_ORDER = ED25519_L
#: Upper bound on the number of credentials in one list (as the verifier's voter bound).
MAX_CREDENTIALS = 1_000_000

CREDENTIAL_LIST_DOMAIN = b"mixvote/credential-list/v1\x00"
BALLOT_SIGNATURE_DOMAIN = b"mixvote/ballot-signature/v1\x00"
CREDENTIAL_LIST_FORMAT = "mixvote-public-credentials/1"
VOTER_ID_DST = "voter-id"
CREDENTIAL_CHECK_DST = "credential-check"
CREDENTIAL_LIST_DIGEST_DST = "credential-list"

_SODIUM = pysodium.sodium


# --- keys --------------------------------------------------------------------------------------
def _public_from_seed(seed: bytes) -> bytes:
    key = Ed25519PrivateKey.from_private_bytes(seed)
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _check_seed(seed: bytes, what: str) -> None:
    if not isinstance(seed, bytes) or len(seed) != PRIVATE_SIZE:
        raise ValueError(f"{what}: a private credential is {PRIVATE_SIZE} bytes")


@dataclass(frozen=True)
class Credential:
    """A voter's key pair. ``private`` is the Ed25519 seed (never shown by ``repr``)."""

    private: bytes = field(repr=False)
    public: bytes

    @property
    def voter_id(self) -> str:
        return voter_id(self.public)

    @property
    def printed(self) -> str:
        """The private credential as printed on the voter's card (:func:`format_credential`)."""
        return format_credential(self.private)


def generate_credential(rng: RNG | None = None) -> Credential:
    """A fresh key pair: 32 uniform seed bytes from ``rng`` (default: the OS CSPRNG)."""
    seed = (rng or SYSTEM_RNG).randrange(0, 2 ** (8 * PRIVATE_SIZE)).to_bytes(PRIVATE_SIZE, "big")
    return credential_from_private(seed)


def credential_from_private(private: bytes) -> Credential:
    """The key pair of a 32-byte private credential (RFC 8032 key derivation)."""
    _check_seed(private, "credential_from_private")
    return Credential(private, _public_from_seed(private))


def voter_id(public: bytes) -> str:
    """The voter id of a public credential: hex of SHAKE-256("voter-id", key), 16 bytes."""
    if len(public) != PUBLIC_SIZE:
        raise ValueError(f"voter_id: a public credential is {PUBLIC_SIZE} bytes")
    return hash_bytes(VOTER_ID_DST, public, size=VOTER_ID_SIZE).hex()


# --- the printed form --------------------------------------------------------------------------
def format_credential(private: bytes) -> str:
    """Printed form: RFC 4648 base32 of seed || 3 check bytes (56 letters/digits, no padding), in
    groups of 4 joined by ``-``. The check bytes catch a mistyped credential before it signs."""
    _check_seed(private, "format_credential")
    check = hash_bytes(CREDENTIAL_CHECK_DST, private, size=CHECK_SIZE)
    text = base64.b32encode(private + check).decode("ascii")
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def parse_credential(text: str) -> bytes:
    """Inverse of :func:`format_credential`: ignores case, spaces and hyphens; rejects anything
    else, a wrong length and a wrong check value (MalformedInput)."""
    if not isinstance(text, str):
        raise MalformedInput("credential: not text")
    compact = "".join(text.split()).replace("-", "").upper()
    expected = (PRIVATE_SIZE + CHECK_SIZE) * 8 // 5
    if len(compact) != expected:
        raise MalformedInput(f"credential: expected {expected} characters, got {len(compact)}")
    try:
        raw = base64.b32decode(compact)
    except (binascii.Error, ValueError):
        raise MalformedInput("credential: not base32 (letters A-Z and digits 2-7)") from None
    seed, check = raw[:PRIVATE_SIZE], raw[PRIVATE_SIZE:]
    if hash_bytes(CREDENTIAL_CHECK_DST, seed, size=CHECK_SIZE) != check:
        raise MalformedInput("credential: check value does not match (mistyped credential?)")
    return seed


# --- strict Ed25519 ----------------------------------------------------------------------------
def decode_public_credential(data: bytes, where: str = "public credential") -> bytes:
    """Validate a public key: 32 bytes, canonical, on the curve, in the prime-order subgroup and
    not of small order; raise InvalidElement naming ``where``."""
    if not isinstance(data, bytes) or len(data) != PUBLIC_SIZE:
        size = len(data) if isinstance(data, bytes) else type(data).__name__
        raise InvalidElement(f"{where}: expected {PUBLIC_SIZE} bytes, got {size}")
    if _SODIUM.crypto_core_ed25519_is_valid_point(data) != 1:
        raise InvalidElement(
            f"{where}: not a canonical Ed25519 point of prime order (small-order, "
            "non-canonical or off-curve key)"
        )
    return data


def verify_signature_strict(
    public: bytes,
    message: bytes,
    signature: bytes,
    where: str = "signature",
    key_checked: bool = False,
) -> None:
    """Strict RFC 8032 verification (:func:`crypto.ed25519.verify_ed25519`): a valid key, a
    64-byte signature with S < ℓ and a prime-order R, and the Ed25519 equation. Raises
    MalformedInput / InvalidElement / InvalidProof. ``key_checked=True`` skips the key check and
    is only for a key taken from a list that :func:`verify_credential_list` has accepted."""
    verify_ed25519(public, message, signature, where, key_checked=key_checked)


def sign_message(private: bytes, message: bytes) -> bytes:
    """Deterministic Ed25519 signature (RFC 8032) of ``message`` with a 32-byte seed."""
    _check_seed(private, "sign_message")
    return Ed25519PrivateKey.from_private_bytes(private).sign(message)


# --- ballots -----------------------------------------------------------------------------------
def ballot_signing_input(fingerprint: bytes, row_bytes: bytes, proof_bytes: bytes) -> bytes:
    """The exact bytes a voter signs: domain || lp(fingerprint) || lp(row) || lp(proof)."""
    if len(fingerprint) != 32:
        raise ValueError("ballot_signing_input: the fingerprint is 32 bytes")
    return BALLOT_SIGNATURE_DOMAIN + lp(fingerprint) + lp(row_bytes) + lp(proof_bytes)


def sign_ballot(private: bytes, fingerprint: bytes, row_bytes: bytes, proof_bytes: bytes) -> bytes:
    """The voter's signature on a ballot (its encoded ciphertext row and ballot proof)."""
    return sign_message(private, ballot_signing_input(fingerprint, row_bytes, proof_bytes))


def verify_ballot_signature(
    public: bytes,
    fingerprint: bytes,
    row_bytes: bytes,
    proof_bytes: bytes,
    signature: bytes,
    where: str = "ballot",
    key_checked: bool = False,
) -> None:
    """Check a ballot's voter signature strictly; raise naming ``where`` and the voter id.
    ``key_checked`` as in :func:`verify_signature_strict` (a key from a verified list)."""
    if len(fingerprint) != 32:
        raise MalformedInput(f"{where}: the fingerprint is 32 bytes")
    label = f"{where} (voter {voter_id(public)})" if len(public) == PUBLIC_SIZE else where
    verify_signature_strict(
        public, ballot_signing_input(fingerprint, row_bytes, proof_bytes), signature,
        f"{label}: voter signature", key_checked,
    )


# --- the public credential list ----------------------------------------------------------------
@dataclass(frozen=True)
class CredentialList:
    """The authority-signed list of public credentials of one election (sorted, no repeats)."""

    election_id: str
    test: bool
    authority: bytes
    credentials: tuple[bytes, ...]
    signature: bytes

    def voter_ids(self) -> list[str]:
        return [voter_id(c) for c in self.credentials]


def credential_list_message(election_id: str, test: bool, credentials: Iterable[bytes]) -> bytes:
    """What the authority signs: domain || lp(election id) || test byte || uint32 count ||
    lp(key) for each key in the given order."""
    keys = list(credentials)
    return b"".join(
        (
            CREDENTIAL_LIST_DOMAIN,
            encode_str(election_id),
            b"\x01" if test else b"\x00",
            encode_uint(len(keys), 4),
            *(lp(k) for k in keys),
        )
    )


def check_election_id(election_id: str, where: str) -> None:
    if (
        not isinstance(election_id, str)
        or not 1 <= len(election_id) <= 64
        or not election_id.isascii()
        or not election_id.isprintable()
        or " " in election_id
    ):
        raise MalformedInput(
            f"{where}: election id must be 1 to 64 printable ASCII characters, no spaces"
        )


def sign_credential_list(
    authority_private: bytes, election_id: str, credentials: Iterable[bytes], test: bool = False
) -> CredentialList:
    """Sort ``credentials`` and sign them for ``election_id`` with the authority's seed."""
    check_election_id(election_id, "credential list")
    keys = sorted(credentials)
    for i, key in enumerate(keys):
        decode_public_credential(key, f"credential {i}")
        if i and keys[i - 1] == key:
            raise ValueError(f"sign_credential_list: credential {i} is repeated")
    if not 1 <= len(keys) <= MAX_CREDENTIALS:
        raise ValueError(f"sign_credential_list: 1 to {MAX_CREDENTIALS} credentials")
    signature = sign_message(authority_private, credential_list_message(election_id, test, keys))
    return CredentialList(
        election_id, test, _public_from_seed(authority_private), tuple(keys), signature
    )


def verify_credential_list(
    clist: CredentialList, expected_authority: bytes | None = None, where: str = "credential list"
) -> None:
    """Check the list: election id form, 1..MAX keys, strictly increasing (sorted, no repeat),
    every key a valid public credential, distinct voter ids, the authority's strict signature,
    and (if given) that the authority is ``expected_authority``. Raises naming what failed."""
    check_election_id(clist.election_id, where)
    keys = clist.credentials
    if not 1 <= len(keys) <= MAX_CREDENTIALS:
        raise MalformedInput(f"{where}: {len(keys)} credentials, expected 1 to {MAX_CREDENTIALS}")
    seen: set[str] = set()
    for i, key in enumerate(keys):
        decode_public_credential(key, f"{where}: credential {i}")
        if i and keys[i - 1] >= key:
            raise MalformedInput(
                f"{where}: credential {i} is not greater than credential {i - 1} "
                "(the list must be sorted, without repeats)"
            )
        vid = voter_id(key)
        if vid in seen:
            raise MalformedInput(f"{where}: credential {i} repeats voter id {vid}")
        seen.add(vid)
    if expected_authority is not None and clist.authority != expected_authority:
        raise InvalidProof(
            f"{where}: signed by authority {clist.authority.hex()[:16]}…, expected "
            f"{expected_authority.hex()[:16]}…"
        )
    verify_signature_strict(
        clist.authority,
        credential_list_message(clist.election_id, clist.test, keys),
        clist.signature,
        f"{where}: authority signature",
    )


def credential_list_digest(clist: CredentialList) -> bytes:
    """32-byte digest of the signed content and the authority key (goes into the fingerprint)."""
    return hash_bytes(
        CREDENTIAL_LIST_DIGEST_DST,
        credential_list_message(clist.election_id, clist.test, clist.credentials),
        clist.authority,
    )


def encode_credential_list(clist: CredentialList) -> dict[str, Any]:
    """The JSON-able form written to ``public-credentials.json``."""
    return {
        "format": CREDENTIAL_LIST_FORMAT,
        "election": clist.election_id,
        "test": clist.test,
        "authority": clist.authority.hex(),
        "count": len(clist.credentials),
        "credentials": [c.hex() for c in clist.credentials],
        "signature": clist.signature.hex(),
    }


def decode_credential_list(obj: object, where: str = "credential list") -> CredentialList:
    """Parse the JSON-able form (types, key set, hex lengths, count); no signature check —
    call :func:`verify_credential_list` next."""
    if not isinstance(obj, Mapping):
        raise MalformedInput(f"{where}: not a JSON object")
    expected = {"format", "election", "test", "authority", "count", "credentials", "signature"}
    if set(obj) != expected:
        missing, extra = sorted(expected - set(obj)), sorted(set(obj) - expected)
        raise MalformedInput(f"{where}: fields missing {missing}, unexpected {extra}")
    if obj["format"] != CREDENTIAL_LIST_FORMAT:
        raise MalformedInput(f"{where}: format is not {CREDENTIAL_LIST_FORMAT!r}")
    election_id = obj["election"]
    if not isinstance(election_id, str):
        raise MalformedInput(f"{where}: election must be a string")
    check_election_id(election_id, where)
    if not isinstance(obj["test"], bool):
        raise MalformedInput(f"{where}: test must be true or false")
    creds = obj["credentials"]
    if not isinstance(creds, list) or not 1 <= len(creds) <= MAX_CREDENTIALS:
        raise MalformedInput(f"{where}: credentials must be a list of 1 to {MAX_CREDENTIALS}")
    count = obj["count"]
    if not isinstance(count, int) or isinstance(count, bool) or count != len(creds):
        raise MalformedInput(f"{where}: count {count!r} is not the number of credentials")
    return CredentialList(
        election_id,
        obj["test"],
        decode_hex(obj["authority"], PUBLIC_SIZE, f"{where}: authority"),
        tuple(decode_hex(c, PUBLIC_SIZE, f"{where}: credential {i}") for i, c in enumerate(creds)),
        decode_hex(obj["signature"], SIGNATURE_SIZE, f"{where}: signature"),
    )
