"""ElGamal encryption over a prime-order group, in the Verificatum conventions.

ElGamal (T. ElGamal, "A public key cryptosystem and a signature scheme based on discrete
logarithms", IEEE Trans. IT 31(4), 1985), written additively: with secret key ``x`` and public key
``y = x·g``, a message element ``m`` is encrypted under randomness ``r`` as

    (alpha, beta) = (r·g, r·y + m)          (multiplicatively: (g^r, y^r·m)).

A ballot of width ``w`` is a row of ``w`` such pairs with one *independent* exponent ``r_k`` per
position, exactly as the Verificatum Mix-Net does for its product-group ciphertexts (Wikström,
"User Manual for the Verificatum Mix-Net", §"width"): ``Ciphertext.alpha`` holds
``alpha_1..alpha_w`` and ``Ciphertext.beta`` holds ``beta_1..beta_w``. Re-encryption adds an
encryption of the identity (``alpha += r'·g``, ``beta += r'·y``); decryption computes
``m = beta − x·alpha``.

Wire encoding of one ciphertext (``encode_ciphertext``): the canonical encodings of
``alpha_1 .. alpha_w`` then ``beta_1 .. beta_w``, each ``group.element_size`` bytes, no framing (the
width is known from the election parameters). A list of ciphertexts is the concatenation.

Validation at the trust boundary (``decode_ciphertext``): every element is decoded by the group's
one decoder (length, canonical form, curve and subgroup membership). **alpha_k may not be the
identity**: ``alpha = r·g`` is the identity only for ``r ≡ 0``, i.e. an "encryption" that carries
its plaintext in the clear, which an honest voter or mix node produces with probability about
``1/q``.
**beta_k may be the identity**: ``beta = r·y + m`` is uniformly distributed for honest ``r``, every
value of it is a legitimate ciphertext component, and forbidding one value would only make
correctly re-encrypted lists fail (with negligible probability) for no security gain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crypto.errors import InvalidElement, MalformedInput
from crypto.groups.base import RNG, Element, Group


@dataclass(frozen=True)
class PublicKey:
    """An ElGamal public key ``y = x·g`` in ``group``."""

    group: Group
    y: Element


@dataclass(frozen=True)
class Ciphertext:
    """A row of ``width`` ElGamal pairs: ``(alpha_k, beta_k) = (r_k·g, r_k·y + m_k)``."""

    alpha: tuple[Element, ...]
    beta: tuple[Element, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.alpha, tuple) or not isinstance(self.beta, tuple):
            raise TypeError("Ciphertext: alpha and beta must be tuples of elements")
        if len(self.alpha) != len(self.beta):
            raise ValueError(
                f"Ciphertext: alpha has {len(self.alpha)} positions but beta has {len(self.beta)}"
            )
        if not self.alpha:
            raise ValueError("Ciphertext: width must be at least 1")

    @property
    def width(self) -> int:
        """Number of ElGamal pairs in the row."""
        return len(self.alpha)


def _rng_scalars(group: Group, count: int, rng: RNG | None) -> tuple[int, ...]:
    """``count`` uniform non-zero scalars."""
    return tuple(group.random_scalar(rng) for _ in range(count))


def _check_randomness(group: Group, randomness: Sequence[int], width: int, what: str) -> list[int]:
    """Reduce and length-check a randomness vector."""
    if len(randomness) != width:
        raise ValueError(f"{what}: randomness has {len(randomness)} values, the width is {width}")
    out = []
    for k, r in enumerate(randomness):
        if not isinstance(r, int) or isinstance(r, bool):
            raise TypeError(f"{what}: randomness[{k}] must be an int, got {type(r).__name__}")
        out.append(r % group.order)
    return out


def keygen(group: Group, rng: RNG | None = None) -> tuple[int, PublicKey]:
    """A fresh key pair ``(x, PublicKey(group, x·g))`` with ``x`` uniform in ``[1, q)``."""
    x = group.random_scalar(rng)
    return x, PublicKey(group, group.base_mul(x))


def public_key(group: Group, x: int) -> PublicKey:
    """The public key of the secret scalar ``x`` (which must be non-zero mod the order)."""
    if x % group.order == 0:
        raise ValueError("public_key: the secret key x must be non-zero mod the group order")
    return PublicKey(group, group.base_mul(x))


def encrypt_with(
    pk: PublicKey, messages: Sequence[Element], randomness: Sequence[int]
) -> Ciphertext:
    """Deterministic encryption of ``messages`` (one element per position) under ``randomness``.

    ``randomness[k]`` must be non-zero mod q: ``r = 0`` would give ``alpha = identity`` and put the
    message in the clear (and :func:`decode_ciphertext` rejects such ciphertexts)."""
    group = pk.group
    if not messages:
        raise ValueError("encrypt_with: messages must hold at least one element")
    rs = _check_randomness(group, randomness, len(messages), "encrypt_with")
    for k, r in enumerate(rs):
        if r == 0:
            raise ValueError(f"encrypt_with: randomness[{k}] is 0 mod q (would reveal the message)")
    alpha = group.batch_base_mul(rs)
    beta = group.batch_add(group.batch_mul_fixed(pk.y, rs), list(messages))
    return Ciphertext(tuple(alpha), tuple(beta))


def encrypt(
    pk: PublicKey, messages: Sequence[Element], rng: RNG | None = None
) -> tuple[Ciphertext, tuple[int, ...]]:
    """Encrypt ``messages`` with fresh randomness; returns ``(ciphertext, r_1..r_w)``."""
    rs = _rng_scalars(pk.group, len(messages), rng)
    return encrypt_with(pk, messages, rs), rs


def reencrypt_with(pk: PublicKey, ct: Ciphertext, randomness: Sequence[int]) -> Ciphertext:
    """Deterministic re-encryption: ``(alpha_k + r_k·g, beta_k + r_k·y)``."""
    return batch_reencrypt(pk, [ct], [randomness])[0]


def reencrypt(
    pk: PublicKey, ct: Ciphertext, rng: RNG | None = None
) -> tuple[Ciphertext, tuple[int, ...]]:
    """Re-encrypt with fresh randomness; returns ``(ciphertext, r'_1..r'_w)``."""
    rs = _rng_scalars(pk.group, ct.width, rng)
    return reencrypt_with(pk, ct, rs), rs


def batch_reencrypt(
    pk: PublicKey, cts: Sequence[Ciphertext], randomness: Sequence[Sequence[int]]
) -> list[Ciphertext]:
    """Re-encrypt many ciphertexts (the mix node's hot path), with the group's batch operations:
    one fixed-base batch for all ``r·g``, one fixed-point batch for all ``r·y``, two batch adds."""
    group = pk.group
    if len(cts) != len(randomness):
        raise ValueError(
            f"batch_reencrypt: {len(cts)} ciphertexts but {len(randomness)} randomness vectors"
        )
    flat_r: list[int] = []
    flat_alpha: list[Element] = []
    flat_beta: list[Element] = []
    for i, (ct, rs) in enumerate(zip(cts, randomness, strict=True)):
        flat_r.extend(_check_randomness(group, rs, ct.width, f"batch_reencrypt[{i}]"))
        flat_alpha.extend(ct.alpha)
        flat_beta.extend(ct.beta)
    new_alpha = group.batch_add(flat_alpha, group.batch_base_mul(flat_r))
    new_beta = group.batch_add(flat_beta, group.batch_mul_fixed(pk.y, flat_r))
    out: list[Ciphertext] = []
    pos = 0
    for ct in cts:
        w = ct.width
        out.append(Ciphertext(tuple(new_alpha[pos : pos + w]), tuple(new_beta[pos : pos + w])))
        pos += w
    return out


def decrypt(group: Group, x: int, ct: Ciphertext) -> tuple[Element, ...]:
    """The plaintext row ``m_k = beta_k − x·alpha_k``."""
    shared = group.batch_mul(list(ct.alpha), [x] * ct.width)
    return tuple(group.batch_add(list(ct.beta), [group.neg(s) for s in shared]))


def encode_ciphertext(group: Group, ct: Ciphertext) -> bytes:
    """``alpha_1..alpha_w || beta_1..beta_w``, canonical encodings, ``2·w·element_size`` bytes."""
    return b"".join(group.batch_encode(list(ct.alpha) + list(ct.beta)))


def encode_ciphertexts(group: Group, cts: Sequence[Ciphertext]) -> bytes:
    """Concatenation of :func:`encode_ciphertext` of each (one batch encode for the whole list)."""
    flat: list[Element] = []
    for ct in cts:
        flat.extend(ct.alpha)
        flat.extend(ct.beta)
    return b"".join(group.batch_encode(flat))


def _locate_bad_element(
    group: Group, chunks: Sequence[bytes], width: int, allow_identity: bool, part: str
) -> InvalidElement:
    """After a batch decode failed: the error for the first bad element, with its position."""
    for j, chunk in enumerate(chunks):
        try:
            group.decode(chunk, allow_identity=allow_identity)
        except InvalidElement as exc:
            return InvalidElement(f"ciphertext {j // width}, {part}[{j % width}]: {exc}")
    return InvalidElement(f"ciphertext list: invalid {part} element")  # batch and single disagree


def decode_ciphertexts(group: Group, data: bytes, width: int) -> list[Ciphertext]:
    """Decode and validate a concatenation of width-``width`` ciphertexts (see module docstring:
    alpha must not be the identity, beta may). Raises MalformedInput/InvalidElement naming the
    ciphertext and position that failed."""
    if width < 1:
        raise ValueError(f"decode_ciphertexts: width must be at least 1, got {width}")
    if not isinstance(data, (bytes, bytearray)):
        raise MalformedInput(f"ciphertext list: expected bytes, got {type(data).__name__}")
    size = group.element_size
    ct_size = 2 * width * size
    if len(data) % ct_size:
        raise MalformedInput(
            f"ciphertext list: length {len(data)} is not a multiple of {ct_size} "
            f"(width {width}, {size}-byte elements)"
        )
    data = bytes(data)
    n = len(data) // ct_size
    alpha_chunks: list[bytes] = []
    beta_chunks: list[bytes] = []
    for i in range(n):
        base = i * ct_size
        for k in range(width):
            alpha_chunks.append(data[base + k * size : base + (k + 1) * size])
            off = base + (width + k) * size
            beta_chunks.append(data[off : off + size])
    try:
        alphas = group.batch_decode(alpha_chunks, allow_identity=False)
    except InvalidElement:
        raise _locate_bad_element(group, alpha_chunks, width, False, "alpha") from None
    try:
        betas = group.batch_decode(beta_chunks, allow_identity=True)
    except InvalidElement:
        raise _locate_bad_element(group, beta_chunks, width, True, "beta") from None
    return [
        Ciphertext(
            tuple(alphas[i * width : (i + 1) * width]), tuple(betas[i * width : (i + 1) * width])
        )
        for i in range(n)
    ]


def decode_ciphertext(group: Group, data: bytes, width: int) -> Ciphertext:
    """Decode and validate exactly one width-``width`` ciphertext (rejects any other length)."""
    expected = 2 * width * group.element_size
    if not isinstance(data, (bytes, bytearray)) or len(data) != expected:
        got = len(data) if isinstance(data, (bytes, bytearray)) else type(data).__name__
        raise MalformedInput(f"ciphertext: expected {expected} bytes (width {width}), got {got}")
    return decode_ciphertexts(group, data, width)[0]


def encode_public_key(pk: PublicKey) -> bytes:
    """The canonical encoding of ``y``."""
    return pk.group.encode(pk.y)


def decode_public_key(group: Group, data: bytes) -> PublicKey:
    """A validated public key from outside (the identity is rejected)."""
    return PublicKey(group, group.decode(data, allow_identity=False))
