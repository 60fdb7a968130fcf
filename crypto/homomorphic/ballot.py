"""Homomorphic ballots: a row of exponential-ElGamal ciphertexts, one per choice, with a 0/1 proof
per choice and a selection-count proof on the row's sum (normative text: ``docs/homomorphic.md``).

Exponential ElGamal (Cramer, Gennaro, Schoenmakers, EUROCRYPT '97, §2.1), additively: choice ``k``
with selection ``m_k ∈ {0, 1}`` is ``(alpha_k, beta_k) = (r_k·g, r_k·y + m_k·g)``, so the product
(here: sum) of many ciphertexts encrypts the sum of their selections. The row is a
:class:`crypto.elgamal.Ciphertext` of width ``n_choices`` (position ``k`` = choice ``k``), made by
:func:`crypto.elgamal.encrypt_with` with the messages ``m_k·g``.

Proofs (:mod:`crypto.homomorphic.disjunctive`), each bound by Fiat–Shamir to the caller's
``context`` (the election fingerprint and the voter's credential), the public key and the whole row:

* choice ``k``: ``(alpha_k, beta_k)`` encrypts a value in ``{0, 1}`` (tag
  ``homomorphic-choice-proof``, index ``k``, range ``0..1``);
* the row: ``(Σ alpha_k, Σ beta_k)`` encrypts a value in ``{min … max}`` (tag
  ``homomorphic-selection-proof``, index ``n_choices``, range ``min..max``), witness
  ``(Σ r_k, Σ m_k)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crypto.elgamal import Ciphertext, PublicKey, encode_ciphertext, encrypt_with
from crypto.encoding import encode_uint
from crypto.errors import InvalidElement, MalformedInput
from crypto.groups.base import RNG, Element, Group
from crypto.homomorphic import disjunctive
from crypto.homomorphic.disjunctive import (
    CHOICE_DST,
    SELECTION_DST,
    DisjunctiveProof,
    RangeStatement,
)

MAX_CHOICES = 0xFFFF
_U32 = 4


@dataclass(frozen=True)
class SelectionRule:
    """A question with ``n_choices`` choices on which a voter selects between ``min_selections``
    and ``max_selections`` of them (``1 <= n_choices <= 65535``, ``0 <= min <= max <= n``)."""

    n_choices: int
    min_selections: int
    max_selections: int

    def __post_init__(self) -> None:
        for name in ("n_choices", "min_selections", "max_selections"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"SelectionRule: {name} must be an int, got {type(value).__name__}")
        if not 1 <= self.n_choices <= MAX_CHOICES:
            raise ValueError(f"SelectionRule: n_choices = {self.n_choices} is not in 1..65535")
        if not 0 <= self.min_selections <= self.max_selections <= self.n_choices:
            raise ValueError(
                f"SelectionRule: need 0 <= min_selections ({self.min_selections}) <= "
                f"max_selections ({self.max_selections}) <= n_choices ({self.n_choices})"
            )

    @classmethod
    def single(cls, n_choices: int) -> SelectionRule:
        """Exactly one of ``n_choices``."""
        return cls(n_choices, 1, 1)

    @classmethod
    def approval(cls, n_choices: int, k: int, minimum: int = 0) -> SelectionRule:
        """Approval voting: between ``minimum`` and ``k`` of ``n_choices``."""
        return cls(n_choices, minimum, k)

    def encode(self) -> bytes:
        """``u32(n_choices) || u32(min_selections) || u32(max_selections)`` (for fingerprints)."""
        return b"".join(
            encode_uint(v, _U32) for v in (self.n_choices, self.min_selections, self.max_selections)
        )

    @property
    def selection_branches(self) -> int:
        """Branches of the selection-count proof: ``max − min + 1``."""
        return self.max_selections - self.min_selections + 1


@dataclass(frozen=True)
class HomomorphicBallot:
    """The row (width ``n_choices``), the 0/1 proof of each choice and the selection-count proof."""

    ciphertext: Ciphertext
    choice_proofs: tuple[DisjunctiveProof, ...]
    selection_proof: DisjunctiveProof


@dataclass(frozen=True)
class BallotRandomness:
    """Every random scalar of one ballot: ``r[k]`` encrypts choice ``k``; ``choice_nonces[k]``
    holds the two ``(c', z')`` pairs of choice ``k``'s proof; ``selection_nonces`` the
    ``max − min + 1`` pairs of the selection proof (see :mod:`crypto.homomorphic.disjunctive`)."""

    r: tuple[int, ...]
    choice_nonces: tuple[tuple[tuple[int, int], ...], ...]
    selection_nonces: tuple[tuple[int, int], ...]


def draw_randomness(group: Group, rule: SelectionRule, rng: RNG | None = None) -> BallotRandomness:
    """Fresh randomness, drawn from ``rng`` in this order (each a :meth:`Group.random_scalar`):
    ``r_0 … r_{n−1}``; then per choice ``k``, per branch ``j = 0, 1``: ``c'``, ``z'``; then per
    branch of the selection proof: ``c'``, ``z'``."""
    r = tuple(group.random_scalar(rng) for _ in range(rule.n_choices))
    choice = tuple(
        tuple((group.random_scalar(rng), group.random_scalar(rng)) for _ in range(2))
        for _ in range(rule.n_choices)
    )
    selection = tuple(
        (group.random_scalar(rng), group.random_scalar(rng)) for _ in range(rule.selection_branches)
    )
    return BallotRandomness(r, choice, selection)


def _context(context: object, where: str) -> bytes:
    if not isinstance(context, (bytes, bytearray)):
        raise TypeError(f"{where}: context must be bytes, got {type(context).__name__}")
    return bytes(context)


def _statements(group: Group, rule: SelectionRule, ct: Ciphertext) -> list[RangeStatement]:
    """The ``n`` choice statements, then the selection statement on the row's sum."""
    statements = [
        RangeStatement(CHOICE_DST, k, 0, 1, alpha, beta)
        for k, (alpha, beta) in enumerate(zip(ct.alpha, ct.beta, strict=True))
    ]
    statements.append(
        RangeStatement(
            SELECTION_DST,
            rule.n_choices,
            rule.min_selections,
            rule.max_selections,
            group.sum(list(ct.alpha)),
            group.sum(list(ct.beta)),
        )
    )
    return statements


def _proof_names(rule: SelectionRule) -> list[str]:
    names = [f"choice {k}: 0/1 proof" for k in range(rule.n_choices)]
    names.append(f"selection-count proof ({rule.min_selections}..{rule.max_selections} selections)")
    return names


def _check_selections(selections: Sequence[int], rule: SelectionRule) -> list[int]:
    if len(selections) != rule.n_choices:
        raise ValueError(
            f"encrypt_ballot: {len(selections)} selections for {rule.n_choices} choices"
        )
    out = []
    for k, s in enumerate(selections):
        if not isinstance(s, int) or s not in (0, 1):
            raise ValueError(f"encrypt_ballot: selections[{k}] must be 0 or 1, got {s!r}")
        out.append(int(s))
    count = sum(out)
    if not rule.min_selections <= count <= rule.max_selections:
        raise ValueError(
            f"encrypt_ballot: {count} choices selected, the rule allows "
            f"{rule.min_selections}..{rule.max_selections}"
        )
    return out


def _check_randomness(rule: SelectionRule, randomness: BallotRandomness) -> None:
    n = rule.n_choices
    if len(randomness.r) != n or len(randomness.choice_nonces) != n:
        raise ValueError(f"encrypt_ballot_with: randomness is not shaped for {n} choices")
    if any(len(pairs) != 2 for pairs in randomness.choice_nonces):
        raise ValueError("encrypt_ballot_with: every choice proof needs 2 nonce pairs")
    if len(randomness.selection_nonces) != rule.selection_branches:
        raise ValueError(
            f"encrypt_ballot_with: the selection proof needs {rule.selection_branches} nonce pairs"
        )


def encrypt_ballot_with(
    pk: PublicKey,
    selections: Sequence[int],
    rule: SelectionRule,
    context: bytes,
    randomness: BallotRandomness,
) -> HomomorphicBallot:
    """Deterministic ballot: encrypt ``selections`` (one 0/1 per choice, their count within the
    rule) under ``randomness`` and prove it, bound to ``context``. Misuse raises ValueError."""
    context = _context(context, "encrypt_ballot_with")
    group = pk.group
    bits = _check_selections(selections, rule)
    _check_randomness(rule, randomness)
    messages = [group.generator if bit else group.identity for bit in bits]
    ct = encrypt_with(pk, messages, randomness.r)
    q = group.order
    witnesses = [(r % q, bit) for r, bit in zip(randomness.r, bits, strict=True)]
    witnesses.append((sum(randomness.r) % q, sum(bits)))
    proofs = disjunctive.prove_with(
        group,
        pk.y,
        _statements(group, rule, ct),
        witnesses,
        [*randomness.choice_nonces, randomness.selection_nonces],
        context,
        group.encode(pk.y),
        encode_ciphertext(group, ct),
    )
    return HomomorphicBallot(ct, tuple(proofs[:-1]), proofs[-1])


def encrypt_ballot(
    pk: PublicKey,
    selections: Sequence[int],
    rule: SelectionRule,
    context: bytes,
    rng: RNG | None = None,
) -> HomomorphicBallot:
    """Encrypt and prove ``selections`` with fresh randomness from ``rng`` (the OS CSPRNG by
    default), drawn as :func:`draw_randomness` says."""
    return encrypt_ballot_with(pk, selections, rule, context, draw_randomness(pk.group, rule, rng))


def verify_ballot(
    pk: PublicKey, ballot: HomomorphicBallot, rule: SelectionRule, context: bytes
) -> None:
    """Check a ballot against the election's key, rule and the voter's context. Returns None or
    raises MalformedInput (wrong shape), InvalidElement (an identity alpha or key) or InvalidProof,
    the reason naming the choice index and which proof failed."""
    context = _context(context, "verify_ballot")
    group = pk.group
    ct = ballot.ciphertext
    n = rule.n_choices
    if ct.width != n:
        raise MalformedInput(f"homomorphic ballot: {ct.width} ciphertexts for {n} choices")
    if len(ballot.choice_proofs) != n:
        raise MalformedInput(f"homomorphic ballot: {len(ballot.choice_proofs)} 0/1 proofs for {n}")
    if group.is_identity(pk.y):
        raise InvalidElement("homomorphic ballot: the public key is the identity")
    for k, alpha in enumerate(ct.alpha):
        if group.is_identity(alpha):
            raise InvalidElement(f"choice {k}: alpha is the identity")
    disjunctive.verify(
        group,
        pk.y,
        _statements(group, rule, ct),
        [*ballot.choice_proofs, ballot.selection_proof],
        _proof_names(rule),
        context,
        group.encode(pk.y),
        encode_ciphertext(group, ct),
    )


# --- encodings ------------------------------------------------------------------------------------
def ballot_size(group: Group, rule: SelectionRule) -> int:
    """Bytes of :func:`encode_ballot`: ``2n·element_size + (4n + 2L)·scalar_size``."""
    n = rule.n_choices
    return 2 * n * group.element_size + (4 * n + 2 * rule.selection_branches) * group.scalar_size


def encode_ballot(group: Group, ballot: HomomorphicBallot) -> bytes:
    """``alpha_0..alpha_{n−1} || beta_0..beta_{n−1}`` (:func:`crypto.elgamal.encode_ciphertext`),
    then each choice's proof ``c_0 || z_0 || c_1 || z_1``, then the selection proof
    ``c_0 || z_0 || … || c_{L−1} || z_{L−1}``; no framing (the rule fixes every length)."""
    return b"".join(
        [
            encode_ciphertext(group, ballot.ciphertext),
            *(disjunctive.encode_proof(group, p) for p in ballot.choice_proofs),
            disjunctive.encode_proof(group, ballot.selection_proof),
        ]
    )


def _decode_element(group: Group, data: bytes, name: str, allow_identity: bool) -> Element:
    try:
        return group.decode(data, allow_identity=allow_identity)
    except InvalidElement as exc:
        raise InvalidElement(f"{name}: {exc}") from None


def decode_ballot(group: Group, data: bytes, rule: SelectionRule) -> HomomorphicBallot:
    """Strict inverse of :func:`encode_ballot`: exact length, every element through the group's
    validating decoder (alpha non-identity, beta may be the identity, as in
    :mod:`crypto.elgamal`), every scalar below q; errors name the choice and the field."""
    if not isinstance(data, (bytes, bytearray)):
        raise MalformedInput(f"homomorphic ballot: expected bytes, got {type(data).__name__}")
    data = bytes(data)
    expected = ballot_size(group, rule)
    if len(data) != expected:
        raise MalformedInput(
            f"homomorphic ballot: expected {expected} bytes for {rule.n_choices} choices and "
            f"{rule.selection_branches} selection branches in {group.name}, got {len(data)}"
        )
    n, size = rule.n_choices, group.element_size
    alpha = tuple(
        _decode_element(group, data[k * size : (k + 1) * size], f"choice {k}: alpha", False)
        for k in range(n)
    )
    beta = tuple(
        _decode_element(group, data[(n + k) * size : (n + k + 1) * size], f"choice {k}: beta", True)
        for k in range(n)
    )
    pos = 2 * n * size
    step = 4 * group.scalar_size
    choice_proofs = []
    for k in range(n):
        name = f"choice {k}: 0/1 proof"
        choice_proofs.append(disjunctive.decode_proof(group, data[pos : pos + step], 2, name))
        pos += step
    selection = disjunctive.decode_proof(
        group, data[pos:], rule.selection_branches, "selection-count proof"
    )
    return HomomorphicBallot(Ciphertext(alpha, beta), tuple(choice_proofs), selection)


def _proof_json(group: Group, proof: DisjunctiveProof) -> list[dict[str, str]]:
    return [
        {"c": group.encode_scalar(b.c).hex(), "z": group.encode_scalar(b.z).hex()}
        for b in proof.branches
    ]


def ballot_to_json(group: Group, ballot: HomomorphicBallot) -> dict[str, Any]:
    """The JSON-able form: ``{"ciphertexts": [{"alpha", "beta"}] × n, "choice_proofs":
    [[{"c", "z"}] × 2] × n, "selection_proof": [{"c", "z"}] × L}``, lower-case hex of the
    canonical encodings."""
    ct = ballot.ciphertext
    return {
        "ciphertexts": [
            {"alpha": group.encode(a).hex(), "beta": group.encode(b).hex()}
            for a, b in zip(ct.alpha, ct.beta, strict=True)
        ],
        "choice_proofs": [_proof_json(group, p) for p in ballot.choice_proofs],
        "selection_proof": _proof_json(group, ballot.selection_proof),
    }


_HEX_DIGITS = frozenset("0123456789abcdef")


def _hex_field(obj: Mapping[str, Any], key: str, size: int, where: str) -> bytes:
    value = obj.get(key)
    if not isinstance(value, str) or len(value) != 2 * size or not set(value) <= _HEX_DIGITS:
        raise MalformedInput(f"{where}.{key}: expected {2 * size} lower-case hex digits")
    return bytes.fromhex(value)


def _object(value: object, keys: set[str], where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or set(value) != keys:
        raise MalformedInput(f"{where}: expected an object with exactly the keys {sorted(keys)}")
    return value


def _array(value: object, length: int, where: str) -> list[Any]:
    if not isinstance(value, list) or len(value) != length:
        raise MalformedInput(f"{where}: expected an array of {length} items")
    return value


def _proof_bytes(group: Group, value: object, branches: int, where: str) -> bytes:
    out = []
    for j, item in enumerate(_array(value, branches, where)):
        branch = _object(item, {"c", "z"}, f"{where}[{j}]")
        out.append(_hex_field(branch, "c", group.scalar_size, f"{where}[{j}]"))
        out.append(_hex_field(branch, "z", group.scalar_size, f"{where}[{j}]"))
    return b"".join(out)


def ballot_from_json(group: Group, obj: object, rule: SelectionRule) -> HomomorphicBallot:
    """Strict inverse of :func:`ballot_to_json` (exact keys, array lengths and hex lengths), then
    the validation of :func:`decode_ballot`."""
    top = _object(obj, {"ciphertexts", "choice_proofs", "selection_proof"}, "homomorphic ballot")
    n, size = rule.n_choices, group.element_size
    cts = [
        _object(item, {"alpha", "beta"}, f"ciphertexts[{k}]")
        for k, item in enumerate(_array(top["ciphertexts"], n, "ciphertexts"))
    ]
    alphas = [_hex_field(ct, "alpha", size, f"ciphertexts[{k}]") for k, ct in enumerate(cts)]
    betas = [_hex_field(ct, "beta", size, f"ciphertexts[{k}]") for k, ct in enumerate(cts)]
    proofs = [
        _proof_bytes(group, p, 2, f"choice_proofs[{k}]")
        for k, p in enumerate(_array(top["choice_proofs"], n, "choice_proofs"))
    ]
    selection = _proof_bytes(
        group, top["selection_proof"], rule.selection_branches, "selection_proof"
    )
    return decode_ballot(group, b"".join([*alphas, *betas, *proofs, selection]), rule)


__all__ = [
    "MAX_CHOICES",
    "BallotRandomness",
    "HomomorphicBallot",
    "SelectionRule",
    "ballot_from_json",
    "ballot_size",
    "ballot_to_json",
    "decode_ballot",
    "draw_randomness",
    "encode_ballot",
    "encrypt_ballot",
    "encrypt_ballot_with",
    "verify_ballot",
]
