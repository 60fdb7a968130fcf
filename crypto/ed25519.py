"""Strict Ed25519 (RFC 8032) verification, the one used for every signature mixvote checks.

``cryptography``'s Ed25519 (OpenSSL) accepts small-order and mixed-order public keys, for which a
signature ``R = identity, S = 0`` verifies for every message, and it does not reject every
non-canonical ``R``. Here keys and ``R`` must be canonical points of the prime-order subgroup, not
of small order (libsodium's ``crypto_core_ed25519_is_valid_point``), and ``S < ℓ`` (no
malleability) before the RFC 8032 equation is checked. Node identities, the server's key, the
credential authority's key and voter credentials all go through :func:`verify_ed25519`.
"""

from __future__ import annotations

import ctypes

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from crypto.errors import InvalidElement, InvalidProof, MalformedInput

KEY_SIZE = 32
SIGNATURE_SIZE = 64
#: The prime order of the Ed25519 base point (RFC 8032, section 5.1).
ED25519_L = 2**252 + 27742317777372353535851937790883648493


def _is_valid_point(encoding: bytes) -> bool:
    """libsodium's ``crypto_core_ed25519_is_valid_point``: a canonical encoding of a point on
    edwards25519, in the prime-order subgroup, not of small order."""
    import pysodium  # the binding the ristretto255 backend already uses

    buf = ctypes.create_string_buffer(bytes(encoding), KEY_SIZE)
    return bool(pysodium.sodium.crypto_core_ed25519_is_valid_point(buf))


def check_ed25519_public_key(key: bytes, where: str = "public key") -> None:
    """Reject an Ed25519 public key that is not 32 bytes, not canonical, not on the curve, of
    small order or outside the prime-order subgroup (raise InvalidElement naming ``where``).

    ``cryptography``'s Ed25519 (OpenSSL) accepts small-order keys, for which a signature
    ``R = identity, S = 0`` verifies for every message; this check comes first everywhere.
    """
    if not isinstance(key, (bytes, bytearray)) or len(key) != KEY_SIZE:
        raise MalformedInput(f"{where}: an Ed25519 key is {KEY_SIZE} bytes")
    if not _is_valid_point(bytes(key)):
        raise InvalidElement(
            f"{where}: Ed25519 key {bytes(key).hex()[:16]}… is not a canonical point of the "
            "prime-order subgroup (small-order, non-canonical or off-curve)"
        )


def check_ed25519_signature_encoding(signature: bytes, where: str = "signature") -> None:
    """Strict RFC 8032 checks on a signature's encoding: S < ℓ (no malleability) and R a
    canonical point of the prime-order subgroup, not of small order."""
    if not isinstance(signature, (bytes, bytearray)) or len(signature) != SIGNATURE_SIZE:
        raise MalformedInput(f"{where}: an Ed25519 signature is {SIGNATURE_SIZE} bytes")
    if int.from_bytes(signature[32:], "little") >= ED25519_L:
        raise InvalidProof(f"{where}: signature scalar S is not below the group order (S ≥ ℓ)")
    if not _is_valid_point(bytes(signature[:32])):
        raise InvalidProof(
            f"{where}: signature point R is small-order, non-canonical or off-curve"
        )


def verify_ed25519(
    key: bytes,
    message: bytes,
    signature: bytes,
    where: str = "signature",
    key_checked: bool = False,
) -> None:
    """Strict Ed25519 verification: the key and signature checks above, then RFC 8032
    verification (``cryptography``). Returns None or raises naming ``where``.

    ``key_checked=True`` skips the key check (a third of the time) and is only for a key that
    :func:`check_ed25519_public_key` has already accepted (e.g. one from a verified list)."""
    if key_checked:
        if not isinstance(key, (bytes, bytearray)) or len(key) != KEY_SIZE:
            raise MalformedInput(f"{where}: an Ed25519 key is {KEY_SIZE} bytes")
    else:
        check_ed25519_public_key(key, f"{where}: author key")
    check_ed25519_signature_encoding(signature, where)
    try:
        Ed25519PublicKey.from_public_bytes(bytes(key)).verify(bytes(signature), bytes(message))
    except (InvalidSignature, ValueError):
        raise InvalidProof(
            f"{where}: Ed25519 signature of author {bytes(key).hex()[:16]}… is invalid"
        ) from None
