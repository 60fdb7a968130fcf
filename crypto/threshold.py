"""Threshold ElGamal decryption: decryption shares with one batched Chaum–Pedersen proof, and
their combination by Lagrange interpolation in the exponent.

References: Y. Desmedt and Y. Frankel, "Threshold cryptosystems", CRYPTO '89; T. P. Pedersen,
"A threshold cryptosystem without a trusted party", EUROCRYPT '91, §4 (decryption with shares of
a DKG key, see :mod:`crypto.dkg`); D. Chaum and T. P. Pedersen, "Wallet databases with observers",
CRYPTO '92 (the proof, :mod:`crypto.proofs`); A. Shamir, "How to share a secret", CACM 1979
(Lagrange interpolation).

Node ``j`` holds ``x_j`` with public verification key ``Y_j = x_j·g``; the election key is
``y = x·g`` where ``x = Σ_{j∈S} λ_{S,j}·x_j`` for any set ``S`` of ``t`` indices and the Lagrange
coefficients at zero ``λ_{S,j} = Π_{m∈S, m≠j} m / (m − j) mod q``. Nobody knows ``x``.

* Share: for every ciphertext ``m`` of the list and width position ``k``, the factor
  ``D_{j,m,k} = x_j·alpha_{m,k}``, with one batched DLEQ proof (``base1 = g``, ``pub1 = Y_j``,
  ``bases2`` = every ``alpha`` in list order, ``pubs2`` = the factors in the same order) that all
  factors use the same ``x_j`` as ``Y_j``. The proof's context is
  ``lp("mixvote/v1/decryption-share") || lp(context) || index:u32``, where ``context`` is the
  caller's (election id, phase…), so a share cannot be replayed in another election or by
  another node.
* Combination: ``m_{m,k} = beta_{m,k} − Σ_{j∈S} λ_{S,j}·D_{j,m,k}``.

Wire encoding of a share (:func:`encode_decryption_share`): ``index:u32 || count:u32 ||
width:u32 || D (count·width elements, ciphertext by ciphertext, position by position) ||
c || z`` (the DLEQ proof, :func:`crypto.proofs.encode_dleq`). Every factor must be a valid
non-identity element (``alpha`` is never the identity and ``x_j ≠ 0``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from crypto.dkg import KeyShare
from crypto.elgamal import Ciphertext
from crypto.encoding import Reader, encode_uint, lp
from crypto.errors import InvalidElement, InvalidProof, MalformedInput, ProtocolViolation
from crypto.groups.base import RNG, Element, Group
from crypto.proofs import DleqProof, decode_dleq, encode_dleq, prove_dleq_batch, verify_dleq_batch

_CONTEXT_TAG = b"mixvote/v1/decryption-share"
_U32 = 4


@dataclass(frozen=True)
class DecryptionShare:
    """Node ``index``'s decryption factors ``x_j·alpha_{m,k}`` (per ciphertext, per width
    position) and the batched proof that they match its verification key."""

    index: int
    factors: tuple[tuple[Element, ...], ...]
    proof: DleqProof


def _proof_context(context: bytes, index: int) -> bytes:
    if not isinstance(context, (bytes, bytearray)):
        raise TypeError(f"decryption share: context must be bytes, got {type(context).__name__}")
    return lp(_CONTEXT_TAG) + lp(bytes(context)) + encode_uint(index, _U32)


def _flat_alphas(ciphertexts: Sequence[Ciphertext]) -> list[Element]:
    flat: list[Element] = []
    for ct in ciphertexts:
        flat.extend(ct.alpha)
    return flat


def _flat_factors(
    ciphertexts: Sequence[Ciphertext], share: DecryptionShare, where: str
) -> list[Element]:
    """The factors in list order, after checking that their shape matches the ciphertexts."""
    if len(share.factors) != len(ciphertexts):
        raise MalformedInput(
            f"{where}: {len(share.factors)} factor rows for {len(ciphertexts)} ciphertexts"
        )
    flat: list[Element] = []
    for m, (row, ct) in enumerate(zip(share.factors, ciphertexts, strict=True)):
        if len(row) != ct.width:
            raise MalformedInput(
                f"{where}: ciphertext {m} has width {ct.width}, factors {len(row)}"
            )
        flat.extend(row)
    return flat


def _rows(flat: Sequence[Element], ciphertexts: Sequence[Ciphertext]) -> list[tuple[Element, ...]]:
    out, pos = [], 0
    for ct in ciphertexts:
        out.append(tuple(flat[pos : pos + ct.width]))
        pos += ct.width
    return out


def decryption_share(
    group: Group,
    key_share: KeyShare,
    ciphertexts: Sequence[Ciphertext],
    context: bytes,
    rng: RNG | None = None,
) -> DecryptionShare:
    """Node ``key_share.index``'s decryption share of ``ciphertexts`` with one batched DLEQ proof
    (``L`` fixed-scalar multiplications for ``L`` alphas, plus the proof's two multi-mults)."""
    if not ciphertexts:
        raise ValueError("decryption_share: the ciphertext list is empty")
    alphas = _flat_alphas(ciphertexts)
    x_j = key_share.x_j % group.order
    factors = group.batch_mul(alphas, [x_j] * len(alphas))
    y_j = key_share.verification_keys[key_share.index]
    proof = prove_dleq_batch(
        group,
        x_j,
        group.generator,
        y_j,
        alphas,
        factors,
        _proof_context(context, key_share.index),
        rng,
    )
    return DecryptionShare(key_share.index, tuple(_rows(factors, ciphertexts)), proof)


def verify_decryption_share(
    group: Group,
    verification_key: Element,
    ciphertexts: Sequence[Ciphertext],
    share: DecryptionShare,
    context: bytes,
) -> None:
    """Check ``share`` against node ``share.index``'s verification key ``Y_j`` and the list it
    claims to decrypt. Returns None or raises InvalidProof / MalformedInput / InvalidElement, with
    the node index in the reason."""
    where = f"decryption share of node {share.index}"
    if not ciphertexts:
        raise MalformedInput(f"{where}: the ciphertext list is empty")
    flat = _flat_factors(ciphertexts, share, where)
    try:
        verify_dleq_batch(
            group,
            group.generator,
            verification_key,
            _flat_alphas(ciphertexts),
            flat,
            share.proof,
            _proof_context(context, share.index),
        )
    except InvalidProof as exc:
        raise InvalidProof(f"{where}: {exc}") from None
    except InvalidElement as exc:
        raise InvalidElement(f"{where}: {exc}") from None


def lagrange_at_zero(indices: Sequence[int], j: int, order: int) -> int:
    """``λ_{S,j} = Π_{m∈S, m≠j} m / (m − j) mod order`` for distinct non-zero indices S."""
    num, den = 1, 1
    for m in indices:
        if m != j:
            num = num * m % order
            den = den * (m - j) % order
    return num * pow(den, -1, order) % order


def combine(
    group: Group,
    ciphertexts: Sequence[Ciphertext],
    shares: Mapping[int, DecryptionShare],
    t: int,
) -> list[tuple[Element, ...]]:
    """The plaintext rows from ``t`` shares (the ``t`` lowest indices of ``shares`` are used).

    **Assumes every share was verified** with :func:`verify_decryption_share` (combining does no
    proof checking, so that the verifier can be run once, in parallel, and the invalid shares
    recorded and dropped before combining). Raises ValueError for fewer than ``t`` shares and
    MalformedInput / ProtocolViolation for shares of the wrong shape or filed under another index.
    """
    if t < 1:
        raise ValueError(f"combine: t must be at least 1, got {t}")
    if len(shares) < t:
        raise ValueError(f"combine: {len(shares)} decryption shares, need t={t}")
    for key, share in shares.items():
        if share.index != key:
            raise ProtocolViolation(
                f"combine: share filed under node {key} is from node {share.index}"
            )
        if not 1 <= key < group.order:
            raise MalformedInput(f"combine: share index {key} out of range")
    chosen = sorted(shares)[:t]
    betas: list[Element] = []
    for ct in ciphertexts:
        betas.extend(ct.beta)
    acc = betas
    for j in chosen:
        flat = _flat_factors(ciphertexts, shares[j], f"decryption share of node {j}")
        neg_lambda = -lagrange_at_zero(chosen, j, group.order) % group.order
        acc = group.batch_add(acc, group.batch_mul(flat, [neg_lambda] * len(flat)))
    return _rows(acc, ciphertexts)


def encode_decryption_share(group: Group, share: DecryptionShare) -> bytes:
    """Canonical encoding (module docstring)."""
    count = len(share.factors)
    width = len(share.factors[0]) if count else 0
    flat: list[Element] = []
    for m, row in enumerate(share.factors):
        if len(row) != width:
            raise ValueError(f"encode_decryption_share: row {m} has width {len(row)}, not {width}")
        flat.extend(row)
    return b"".join(
        [
            encode_uint(share.index, _U32),
            encode_uint(count, _U32),
            encode_uint(width, _U32),
            *group.batch_encode(flat),
            encode_dleq(group, share.proof),
        ]
    )


def decode_decryption_share(
    group: Group, data: bytes, count: int | None = None, width: int | None = None
) -> DecryptionShare:
    """Strict decoding: exact length, index ≥ 1, count and width ≥ 1 (and equal to ``count`` /
    ``width`` when given), every factor a valid non-identity element, canonical proof scalars."""
    what = "decryption share"
    if not isinstance(data, (bytes, bytearray)):
        raise MalformedInput(f"{what}: expected bytes, got {type(data).__name__}")
    data = bytes(data)
    reader = Reader(data, what)
    index, n_cts, w = reader.uint(_U32), reader.uint(_U32), reader.uint(_U32)
    if index < 1:
        raise MalformedInput(f"{what}: node index must be at least 1")
    if n_cts < 1 or w < 1:
        raise MalformedInput(f"{what} of node {index}: empty ({n_cts} ciphertexts, width {w})")
    if count is not None and n_cts != count:
        raise MalformedInput(f"{what} of node {index}: {n_cts} ciphertexts, expected {count}")
    if width is not None and w != width:
        raise MalformedInput(f"{what} of node {index}: width {w}, expected {width}")
    size = group.element_size
    expected = 3 * _U32 + n_cts * w * size + 2 * group.scalar_size
    if len(data) != expected:
        raise MalformedInput(f"{what} of node {index}: expected {expected} bytes, got {len(data)}")
    body = reader.take(n_cts * w * size)
    chunks = [body[p : p + size] for p in range(0, len(body), size)]
    try:
        flat = group.batch_decode(chunks)
    except InvalidElement:
        for p, chunk in enumerate(chunks):
            try:
                group.decode(chunk)
            except InvalidElement as exc:
                raise InvalidElement(
                    f"{what} of node {index}: ciphertext {p // w}, factor {p % w}: {exc}"
                ) from None
        raise
    proof = decode_dleq(group, reader.take(2 * group.scalar_size))
    reader.done()
    rows = tuple(tuple(flat[m * w : (m + 1) * w]) for m in range(n_cts))
    return DecryptionShare(index, rows, proof)


__all__ = [
    "DecryptionShare",
    "combine",
    "decode_decryption_share",
    "decryption_share",
    "encode_decryption_share",
    "lagrange_at_zero",
    "verify_decryption_share",
]
