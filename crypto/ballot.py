"""Ballots: the payload format, its encoding into group elements, the non-malleable ballot proof.

This text is the specification the browser implementation (JavaScript, @noble/curves and
@noble/hashes) follows; the known-answer vectors in ``tests/vectors/data/kat_ballot.json`` pin it.

1. Payload (``encode_choice`` / ``decode_choice``). The first byte is the kind:

   * ``0x01 || u16(i)``: a single choice, index ``0 <= i < 65536``;
   * ``0x02 || u16(i_1) || ... || u16(i_n)``: a ranking, ``n >= 1`` distinct indexes, most
     preferred first;
   * ``0x03 || utf8(text)``: a write-in, non-empty, strict UTF-8.

   ``u16`` is 2 bytes big-endian. Anything else (unknown kind, odd ranking length, repeated index,
   empty write-in, invalid UTF-8) is rejected with MalformedInput.

2. Encoding a payload into a row of ``w`` elements (``encode_ballot``). With ``c =
   group.embed_capacity``, the payload (at most ``w·c`` bytes, so ``ballot_capacity = w·c``: no
   framing is needed because ``group.embed`` records the length of what it carries) is cut greedily:
   chunk ``k`` (``k = 0..w-1``) is ``payload[k·c : (k+1)·c]`` (possibly short or empty), and element
   ``k`` is ``group.embed(chunk_k)``. ``decode_ballot`` extracts each element and accepts only this
   canonical cut: every chunk before a short one is full and every chunk after a short one is empty.

3. The ballot proof (``prove_ballot`` / ``verify_ballot``): a Schnorr proof of knowledge
   (C. P. Schnorr, "Efficient signature generation by smart cards", J. Cryptology 4(3), 1991) of the
   encryption exponent ``r_k`` of every position, ``alpha_k = r_k·g``, made non-interactive by
   Fiat–Shamir (Fiat & Shamir, CRYPTO '86) over the whole statement *and* the election id and the
   voter's credential id. Binding the challenge to those ids is what makes a ballot non-malleable
   and non-transferable (the "Helios replay" attack of Cortier & Smyth, CSF 2011, is prevented the
   same way in Belenios): a ciphertext copied from another voter, or replayed in another election,
   comes with a proof whose challenge does not match and is rejected; the copier cannot make a new
   proof without knowing ``r_k``. Exactly:

   * prover: for ``k = 1..w`` pick ``a_k`` uniform in ``[1, q)`` and set ``A_k = a_k·g``;
     ``c = hash_to_scalar(group, "ballot-pok", utf8(election_id), utf8(voter_id), encode(y),
     encode_ciphertext(ct), encode(A_1) || ... || encode(A_w))``;
     ``z_k = a_k + c·r_k mod q``. The proof is ``(c, z_1..z_w)``.
     (``hash_to_scalar`` is ``crypto.hashing``: SHAKE-256 over ``lp("mixvote/v1/ballot-pok")``,
     the 4-byte big-endian part count ``5``, then each part as ``lp(part)`` = 4-byte big-endian
     length || bytes; the output is ``ceil((bitlen(q) + 128) / 8)`` bytes, read big-endian,
     reduced mod q.)
   * verifier: ``y`` and every ``alpha_k`` valid non-identity elements, ``0 <= c, z_k < q``,
     ``len(z) = w``; ``A_k = z_k·g − c·alpha_k``; recompute ``c`` from the same five parts;
     accept iff equal.
   * wire encoding: ``encode_scalar(c) || encode_scalar(z_1) || ... || encode_scalar(z_w)``,
     ``(w + 1)·scalar_size`` bytes, each scalar big-endian and below q (non-canonical is rejected).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crypto.elgamal import Ciphertext, PublicKey, encode_ciphertext
from crypto.errors import InvalidElement, InvalidProof, MalformedInput
from crypto.groups.base import RNG, Element, Group
from crypto.hashing import hash_to_scalar

KIND_CHOICE = 0x01
KIND_RANKING = 0x02
KIND_WRITE_IN = 0x03
MAX_INDEX = 0xFFFF

BALLOT_POK_DST = "ballot-pok"


# --- payloads ------------------------------------------------------------------------------------
def _check_index(value: object, where: str) -> int:
    """A choice index as an int in [0, 65536)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"encode_choice: {where} must be an int, got {type(value).__name__}")
    if not 0 <= value <= MAX_INDEX:
        raise ValueError(f"encode_choice: {where} = {value} is outside [0, {MAX_INDEX}]")
    return value


def encode_choice(choice: int | Sequence[int] | str) -> bytes:
    """The payload of a single choice (int), a ranking (sequence of distinct ints, most preferred
    first) or a write-in (non-empty str); see the module docstring for the format."""
    if isinstance(choice, str):
        if not choice:
            raise ValueError("encode_choice: a write-in must not be empty")
        return bytes([KIND_WRITE_IN]) + choice.encode("utf-8")
    if isinstance(choice, int) and not isinstance(choice, bool):
        return bytes([KIND_CHOICE]) + _check_index(choice, "choice").to_bytes(2, "big")
    if isinstance(choice, Sequence) and not isinstance(choice, (bytes, bytearray)):
        ranking = [_check_index(v, f"ranking[{i}]") for i, v in enumerate(choice)]
        if not ranking:
            raise ValueError("encode_choice: a ranking must hold at least one index")
        if len(set(ranking)) != len(ranking):
            raise ValueError("encode_choice: a ranking must not repeat an index")
        return bytes([KIND_RANKING]) + b"".join(i.to_bytes(2, "big") for i in ranking)
    raise TypeError(
        f"encode_choice: choice must be an int, a sequence of ints or a str, "
        f"got {type(choice).__name__}"
    )


def decode_choice(payload: bytes) -> int | tuple[int, ...] | str:
    """Inverse of :func:`encode_choice`: an int, a tuple of ints or a str; else MalformedInput."""
    if not payload:
        raise MalformedInput("ballot payload: empty")
    kind, body = payload[0], bytes(payload[1:])
    if kind == KIND_CHOICE:
        if len(body) != 2:
            raise MalformedInput(f"ballot payload: a choice has 2 index bytes, got {len(body)}")
        return int.from_bytes(body, "big")
    if kind == KIND_RANKING:
        if not body or len(body) % 2:
            raise MalformedInput(
                f"ballot payload: a ranking needs a positive even number of bytes, got {len(body)}"
            )
        ranking = tuple(int.from_bytes(body[i : i + 2], "big") for i in range(0, len(body), 2))
        if len(set(ranking)) != len(ranking):
            raise MalformedInput("ballot payload: the ranking repeats an index")
        return ranking
    if kind == KIND_WRITE_IN:
        if not body:
            raise MalformedInput("ballot payload: empty write-in")
        try:
            return body.decode("utf-8", errors="strict")
        except UnicodeDecodeError as exc:
            raise MalformedInput(
                f"ballot payload: write-in is not valid UTF-8 ({exc.reason})"
            ) from None
    raise MalformedInput(f"ballot payload: unknown kind byte 0x{kind:02x}")


# --- payload <-> elements ------------------------------------------------------------------------
def ballot_capacity(group: Group, width: int) -> int:
    """Bytes of payload a width-``width`` ballot carries: ``width · group.embed_capacity``."""
    if width < 1:
        raise ValueError(f"ballot_capacity: width must be at least 1, got {width}")
    return width * group.embed_capacity


def encode_ballot(group: Group, payload: bytes, width: int) -> tuple[Element, ...]:
    """The ``width`` elements that carry ``payload`` (greedy cut, see module docstring).
    Raises ValueError when the payload exceeds :func:`ballot_capacity`."""
    capacity = ballot_capacity(group, width)
    if len(payload) > capacity:
        raise ValueError(
            f"encode_ballot: payload of {len(payload)} bytes exceeds the capacity {capacity} "
            f"of a width-{width} ballot in {group.name}"
        )
    c = group.embed_capacity
    return tuple(group.embed(bytes(payload[k * c : (k + 1) * c])) for k in range(width))


def decode_ballot(group: Group, elements: Sequence[Element]) -> bytes:
    """Inverse of :func:`encode_ballot`; MalformedInput (or InvalidElement) for anything else."""
    if not elements:
        raise MalformedInput("ballot: no elements")
    c = group.embed_capacity
    chunks: list[bytes] = []
    for k, element in enumerate(elements):
        try:
            chunks.append(group.extract(element))
        except InvalidElement as exc:
            raise InvalidElement(f"ballot element {k}: {exc}") from None
    short_seen = False
    for k, chunk in enumerate(chunks):
        if short_seen and chunk:
            raise MalformedInput(f"ballot element {k}: data after a short element (non-canonical)")
        if len(chunk) < c:
            short_seen = True
    return b"".join(chunks)


# --- the ballot proof ---------------------------------------------------------------------------
#: Which ballot of a credential counts: the last one (a voter may vote again, e.g. to escape a
#: coercer) or the first one (the server refuses any later ballot of the credential).
LAST_BALLOT_COUNTS = "last-ballot-counts"
FIRST_BALLOT_COUNTS = "first-ballot-counts"
BALLOT_POLICIES = (LAST_BALLOT_COUNTS, FIRST_BALLOT_COUNTS)


@dataclass(frozen=True)
class Tally:
    """The count of decrypted ballots: ``plaintexts[k]`` is row k's payload (``b""`` when the row
    is no ballot encoding); a row counts for ``choices[i]`` only if its payload is the single
    choice i, and as ``invalid`` otherwise."""

    counts: dict[str, int]
    invalid: int
    plaintexts: tuple[bytes, ...]


def tally(group: Group, rows: Sequence[Sequence[Element]], choices: Sequence[str]) -> Tally:
    """Decode every decrypted row and count the single-choice ballots (the server publishes this
    and the standalone verifier recomputes it with this same function)."""
    counts = {c: 0 for c in choices}
    invalid = 0
    plaintexts: list[bytes] = []
    for row in rows:
        try:
            payload = decode_ballot(group, row)
        except MalformedInput:
            plaintexts.append(b"")
            invalid += 1
            continue
        plaintexts.append(payload)
        try:
            choice = decode_choice(payload)
        except MalformedInput:
            choice = -1
        if isinstance(choice, int) and 0 <= choice < len(choices):
            counts[choices[choice]] += 1
        else:
            invalid += 1
    return Tally(counts, invalid, tuple(plaintexts))


@dataclass(frozen=True)
class BallotProof:
    """Schnorr proof of knowledge of every position's encryption exponent: ``(c, z_1..z_w)``."""

    c: int
    z: tuple[int, ...]


def _challenge(
    pk: PublicKey, ct: Ciphertext, commitments: Sequence[Element], election_id: str, voter_id: str
) -> int:
    """The Fiat–Shamir challenge of the ballot proof (module docstring, item 3)."""
    group = pk.group
    return hash_to_scalar(
        group,
        BALLOT_POK_DST,
        election_id.encode("utf-8"),
        voter_id.encode("utf-8"),
        group.encode(pk.y),
        encode_ciphertext(group, ct),
        b"".join(group.batch_encode(list(commitments))),
    )


def _check_ids(election_id: object, voter_id: object, where: str) -> None:
    """Both ids must be str."""
    for name, value in (("election_id", election_id), ("voter_id", voter_id)):
        if not isinstance(value, str):
            raise TypeError(f"{where}: {name} must be a str, got {type(value).__name__}")


def prove_ballot_with(
    pk: PublicKey,
    ct: Ciphertext,
    randomness: Sequence[int],
    nonces: Sequence[int],
    election_id: str,
    voter_id: str,
) -> BallotProof:
    """Deterministic :func:`prove_ballot` with the given nonces ``a_1..a_w`` (for known-answer
    tests shared with the browser implementation; never reuse nonces)."""
    group = pk.group
    _check_ids(election_id, voter_id, "prove_ballot")
    w = ct.width
    if len(randomness) != w or len(nonces) != w:
        raise ValueError(
            f"prove_ballot: width {w} needs {w} randomness values and nonces, "
            f"got {len(randomness)} and {len(nonces)}"
        )
    rs = [r % group.order for r in randomness]
    if group.first_unequal(list(ct.alpha), group.batch_base_mul(rs)) != -1:
        raise ValueError(
            "prove_ballot: randomness does not match the ciphertext (alpha_k != r_k·g)"
        )
    a = [n % group.order for n in nonces]
    if any(ak == 0 for ak in a):
        raise ValueError("prove_ballot: nonces must be non-zero mod q")
    commitments = group.batch_base_mul(a)
    c = _challenge(pk, ct, commitments, election_id, voter_id)
    q = group.order
    return BallotProof(c, tuple((ak + c * rk) % q for ak, rk in zip(a, rs, strict=True)))


def prove_ballot(
    pk: PublicKey,
    ct: Ciphertext,
    randomness: Sequence[int],
    election_id: str,
    voter_id: str,
    rng: RNG | None = None,
) -> BallotProof:
    """Prove knowledge of ``randomness`` (``r_k`` with ``alpha_k = r_k·g``) for the ballot ``ct`` of
    voter ``voter_id`` in election ``election_id`` (module docstring, item 3)."""
    nonces = [pk.group.random_scalar(rng) for _ in range(ct.width)]
    return prove_ballot_with(pk, ct, randomness, nonces, election_id, voter_id)


def verify_ballot(
    pk: PublicKey, ct: Ciphertext, proof: BallotProof, election_id: str, voter_id: str
) -> None:
    """Check a ballot proof; returns None or raises InvalidProof (or InvalidElement for an identity
    public key or alpha) naming what failed."""
    group = pk.group
    q = group.order
    _check_ids(election_id, voter_id, "verify_ballot")
    if group.is_identity(pk.y):
        raise InvalidElement("ballot proof: the public key is the identity")
    for k, alpha_k in enumerate(ct.alpha):
        if group.is_identity(alpha_k):
            raise InvalidElement(f"ballot proof: ciphertext alpha[{k}] is the identity")
    if len(proof.z) != ct.width:
        raise InvalidProof(
            f"ballot proof: {len(proof.z)} responses for a width-{ct.width} ciphertext"
        )
    if not 0 <= proof.c < q:
        raise InvalidProof("ballot proof: challenge c is not a canonical scalar")
    for k, zk in enumerate(proof.z):
        if not 0 <= zk < q:
            raise InvalidProof(f"ballot proof: response z[{k}] is not a canonical scalar")
    # A_k = z_k·g − c·alpha_k
    zg = group.batch_base_mul(list(proof.z))
    c_alpha = group.batch_mul(list(ct.alpha), [(-proof.c) % q] * ct.width)
    commitments = group.batch_add(zg, c_alpha)
    if _challenge(pk, ct, commitments, election_id, voter_id) != proof.c:
        raise InvalidProof(
            f"ballot proof: challenge mismatch for voter {voter_id!r} in election {election_id!r} "
            "(tampered proof, or a ballot copied from another voter, election or ciphertext)"
        )


def encode_ballot_proof(group: Group, proof: BallotProof) -> bytes:
    """``c || z_1 || ... || z_w``, each ``scalar_size`` bytes big-endian."""
    for what, value in [("c", proof.c), *((f"z[{k}]", zk) for k, zk in enumerate(proof.z))]:
        if not 0 <= value < group.order:
            raise ValueError(f"encode_ballot_proof: {what} is not reduced mod the group order")
    return b"".join(group.encode_scalar(v) for v in (proof.c, *proof.z))


def decode_ballot_proof(group: Group, data: bytes, width: int) -> BallotProof:
    """Inverse of :func:`encode_ballot_proof`; rejects a wrong length or a scalar ``>= q``."""
    if width < 1:
        raise ValueError(f"decode_ballot_proof: width must be at least 1, got {width}")
    size = group.scalar_size
    expected = (width + 1) * size
    if not isinstance(data, (bytes, bytearray)) or len(data) != expected:
        got = len(data) if isinstance(data, (bytes, bytearray)) else type(data).__name__
        raise MalformedInput(f"ballot proof: expected {expected} bytes (width {width}), got {got}")
    data = bytes(data)
    c = group.decode_scalar(data[:size], "ballot proof c")
    z = tuple(
        group.decode_scalar(data[(k + 1) * size : (k + 2) * size], f"ballot proof z[{k}]")
        for k in range(width)
    )
    return BallotProof(c, z)
