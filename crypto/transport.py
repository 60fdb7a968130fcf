"""Node identities and the encryption of DKG shares to a recipient's key.

Node identity
    Every mix node has a long-term :class:`NodeIdentity`: an Ed25519 signing key (RFC 8032) that
    signs its bulletin-board entries and protocol messages, and an X25519 key (RFC 7748) to which
    other nodes encrypt the secret shares of the key generation. The public half,
    :class:`PublicIdentity`, is what the admin enrols and what ``DkgParams.participants`` lists.

    Encodings (all fixed length, no framing):

    * public identity, 64 bytes: ``ed25519_public (32) || x25519_public (32)``;
    * private identity, 64 bytes: ``ed25519_seed (32) || x25519_private (32)`` (the raw private
      keys of RFC 8032 §5.1.5 and RFC 7748 §5).

Share transport (RFC 9180 HPKE, base mode, single shot)
    The suite is DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM (KEM 0x0020, KDF 0x0001,
    AEAD 0x0002), from the maintained ``pyhpke`` package (on ``cryptography``'s primitives).
    ``cryptography``'s own ``hpke.Suite`` is not used: its single-shot API draws the ephemeral
    key itself (no ``rng`` to inject) and takes no associated data, so neither the house rule on
    randomness nor the RFC's test vectors (which use associated data) could be applied to it.

    ``seal`` derives the ephemeral key pair with the RFC's ``DeriveKeyPair`` from 32 bytes of
    ``rng``, sets up a sender context for ``pk_R`` with ``info = "mixvote/v1/transport"`` and
    seals the plaintext with the caller's associated data (sequence number 0). The sealed message
    is ``enc (32) || ciphertext || tag (16)`` (:data:`SEAL_OVERHEAD` = 48 bytes more than the
    plaintext). The associated data of a DKG share, :func:`share_associated_data`, binds the
    election id, the dealer index and the recipient index, so a share cannot be replayed into
    another election or presented as coming from another dealer or addressed to another node.
    Being standard HPKE, a sealed share opens with any RFC 9180 implementation of the suite.

Nothing here does I/O; ``cryptography`` supplies the primitives.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from pyhpke import AEADId, CipherSuite, KDFId, KEMId, OpenError

from crypto.ed25519 import check_ed25519_public_key
from crypto.encoding import encode_str, encode_uint, lp
from crypto.errors import InvalidElement, InvalidProof, MalformedInput
from crypto.groups.base import RNG, SYSTEM_RNG

KEY_SIZE = 32
PUBLIC_IDENTITY_SIZE = 64
PRIVATE_IDENTITY_SIZE = 64
TAG_SIZE = 16
#: Bytes a sealed message adds to its plaintext: HPKE's ``enc`` (the ephemeral X25519 public key)
#: and the AES-256-GCM tag.
SEAL_OVERHEAD = KEY_SIZE + TAG_SIZE
SIGNATURE_SIZE = 64

#: HPKE ``info`` of every sealed message (binds the application and version).
HPKE_INFO = b"mixvote/v1/transport"
_SHARE_AD = b"mixvote/v1/dkg-share"


def _random_key_bytes(rng: RNG | None) -> bytes:
    """32 uniform bytes from ``rng`` (the OS CSPRNG by default)."""
    return (rng or SYSTEM_RNG).randrange(0, 2**256).to_bytes(KEY_SIZE, "big")


@dataclass(frozen=True)
class PublicIdentity:
    """The public half of a node identity: Ed25519 verification key and X25519 encryption key."""

    signing_key: bytes
    encryption_key: bytes

    def __post_init__(self) -> None:
        for name in ("signing_key", "encryption_key"):
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) != KEY_SIZE:
                raise MalformedInput(f"public identity: {name} must be {KEY_SIZE} bytes")

    def to_bytes(self) -> bytes:
        """``signing_key || encryption_key`` (64 bytes)."""
        return self.signing_key + self.encryption_key

    @classmethod
    def from_bytes(cls, data: bytes) -> PublicIdentity:
        """Strict inverse of :meth:`to_bytes`; both keys must load."""
        if not isinstance(data, (bytes, bytearray)) or len(data) != PUBLIC_IDENTITY_SIZE:
            size = len(data) if isinstance(data, (bytes, bytearray)) else type(data).__name__
            raise MalformedInput(
                f"public identity: expected {PUBLIC_IDENTITY_SIZE} bytes, got {size}"
            )
        data = bytes(data)
        check_ed25519_public_key(data[:KEY_SIZE], "public identity: signing key")
        return cls(data[:KEY_SIZE], data[KEY_SIZE:])


class NodeIdentity:
    """A node's long-term private keys (Ed25519 for signatures, X25519 for share transport).

    Not a dataclass on purpose: it holds private keys, so it has no ``repr`` of them and no
    equality; serialise it explicitly with :meth:`to_bytes`.
    """

    __slots__ = ("_enc", "_public", "_sign")

    def __init__(self, signing_seed: bytes, encryption_private: bytes) -> None:
        if len(signing_seed) != KEY_SIZE or len(encryption_private) != KEY_SIZE:
            raise MalformedInput(f"node identity: each private key must be {KEY_SIZE} bytes")
        self._sign = Ed25519PrivateKey.from_private_bytes(bytes(signing_seed))
        self._enc = X25519PrivateKey.from_private_bytes(bytes(encryption_private))
        self._public = PublicIdentity(
            self._sign.public_key().public_bytes_raw(), self._enc.public_key().public_bytes_raw()
        )

    def __repr__(self) -> str:
        return f"<NodeIdentity {self._public.to_bytes()[:8].hex()}…>"

    @classmethod
    def generate(cls, rng: RNG | None = None) -> NodeIdentity:
        """Fresh identity; both private keys come from ``rng`` (the OS CSPRNG by default)."""
        return cls(_random_key_bytes(rng), _random_key_bytes(rng))

    @property
    def public(self) -> PublicIdentity:
        return self._public

    def public_bytes(self) -> bytes:
        """The 64-byte public identity encoding."""
        return self._public.to_bytes()

    def to_bytes(self) -> bytes:
        """``ed25519_seed || x25519_private`` (64 bytes). Secret: store with mode 0600."""
        return self._sign.private_bytes_raw() + self._enc.private_bytes_raw()

    @classmethod
    def from_bytes(cls, data: bytes) -> NodeIdentity:
        """Strict inverse of :meth:`to_bytes`."""
        if not isinstance(data, (bytes, bytearray)) or len(data) != PRIVATE_IDENTITY_SIZE:
            raise MalformedInput(f"node identity: expected {PRIVATE_IDENTITY_SIZE} bytes")
        return cls(bytes(data[:KEY_SIZE]), bytes(data[KEY_SIZE:]))

    def sign(self, message: bytes) -> bytes:
        """Ed25519 signature (64 bytes) of ``message`` (RFC 8032, pure Ed25519)."""
        return self._sign.sign(bytes(message))

    def open(self, sealed: bytes, associated_data: bytes) -> bytes:
        """Decrypt a message :func:`seal`-ed to this identity; raises InvalidProof if it does not
        authenticate (tampered, wrong recipient or wrong associated data)."""
        return _open(self._enc.private_bytes_raw(), sealed, associated_data)


def _suite() -> CipherSuite:
    return CipherSuite.new(
        KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.AES256_GCM
    )


def seal(
    recipient: PublicIdentity | bytes,
    plaintext: bytes,
    associated_data: bytes,
    rng: RNG | None = None,
) -> bytes:
    """HPKE-encrypt ``plaintext`` to ``recipient`` (a PublicIdentity, or a raw 32-byte X25519
    key) with a fresh ephemeral key from ``rng``; the result is ``enc || ciphertext || tag``
    (SEAL_OVERHEAD bytes more than the plaintext)."""
    if isinstance(recipient, PublicIdentity):
        recipient = recipient.encryption_key
    if not isinstance(recipient, (bytes, bytearray)) or len(recipient) != KEY_SIZE:
        raise MalformedInput(f"seal: recipient key must be {KEY_SIZE} bytes")
    suite = _suite()
    ephemeral = suite.kem.derive_key_pair(_random_key_bytes(rng))
    try:
        enc, context = suite.create_sender_context(
            suite.kem.deserialize_public_key(bytes(recipient)), info=HPKE_INFO, eks=ephemeral
        )
    except ValueError:
        raise InvalidElement("seal: recipient X25519 key is a low-order point") from None
    return bytes(enc) + bytes(context.seal(bytes(plaintext), aad=bytes(associated_data)))


def _open(private: bytes, sealed: bytes, associated_data: bytes) -> bytes:
    if not isinstance(sealed, (bytes, bytearray)) or len(sealed) < SEAL_OVERHEAD:
        raise MalformedInput(f"sealed message: shorter than {SEAL_OVERHEAD} bytes")
    sealed = bytes(sealed)
    suite = _suite()
    try:
        context = suite.create_recipient_context(
            sealed[:KEY_SIZE], suite.kem.deserialize_private_key(private), info=HPKE_INFO
        )
    except ValueError:
        raise InvalidProof("sealed message: ephemeral key is a low-order point") from None
    try:
        return bytes(context.open(sealed[KEY_SIZE:], aad=bytes(associated_data)))
    except OpenError:
        raise InvalidProof(
            "sealed message: authentication failed (tampered, wrong recipient or wrong context)"
        ) from None


def share_associated_data(election_id: str, dealer: int, recipient: int) -> bytes:
    """Associated data of the DKG share from ``dealer`` to ``recipient`` in ``election_id``."""
    return (
        lp(_SHARE_AD) + encode_str(election_id) + encode_uint(dealer, 4) + encode_uint(recipient, 4)
    )


__all__ = [
    "PRIVATE_IDENTITY_SIZE",
    "PUBLIC_IDENTITY_SIZE",
    "SEAL_OVERHEAD",
    "SIGNATURE_SIZE",
    "NodeIdentity",
    "PublicIdentity",
    "seal",
    "share_associated_data",
]
