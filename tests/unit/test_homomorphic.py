"""Homomorphic ballots and tally (crypto.homomorphic): honest ballots verify on every group, the
codecs are strict, and every kind of cheating is rejected with its location (the choice index and
the proof, the node, or the aggregate position)."""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Sequence

import pytest

import crypto
from crypto import elgamal
from crypto.dkg import KeyShare
from crypto.elgamal import Ciphertext, PublicKey
from crypto.errors import InvalidElement, InvalidProof, MalformedInput
from crypto.groups.base import Group
from crypto.homomorphic import (
    MAX_BOUND,
    BallotRandomness,
    CountNotFound,
    HomomorphicBallot,
    SelectionRule,
    aggregate,
    ballot_from_json,
    ballot_size,
    ballot_to_json,
    decode_ballot,
    decrypt_counts,
    disjunctive,
    draw_randomness,
    encode_ballot,
    encrypt_ballot,
    encrypt_ballot_with,
    vartime_discrete_logs,
    verify_aggregate,
    verify_ballot,
    verify_tally,
)
from crypto.homomorphic.disjunctive import (
    CHOICE_DST,
    DisjunctiveProof,
    RangeStatement,
)
from crypto.proofs import DleqProof
from crypto.threshold import DecryptionShare, decryption_share

FAST = ("secp256k1", "ristretto255")
CTX = b"fingerprint:e1|credential:alice"
OTHER_CTX = b"fingerprint:e1|credential:bob"
DECRYPT_CTX = b"e1/tally"


def dealer_keys(grp: Group, n: int, t: int, seed: int = 0) -> dict[int, KeyShare]:
    """Shamir shares of a random key (a trusted dealer: enough to exercise the decryption)."""
    rng = random.Random(seed)
    q = grp.order
    coeffs = [grp.random_scalar(rng) for _ in range(t)]

    def f(j: int) -> int:
        return sum(c * pow(j, i, q) for i, c in enumerate(coeffs)) % q

    vks = {j: grp.base_mul(f(j)) for j in range(1, n + 1)}
    pk = PublicKey(grp, grp.base_mul(coeffs[0]))
    return {j: KeyShare(j, f(j), pk, vks, tuple(range(1, n + 1))) for j in range(1, n + 1)}


def keypair(name: str, seed: int = 7) -> tuple[Group, int, PublicKey]:
    grp = crypto.group(name)
    x, pk = elgamal.keygen(grp, random.Random(seed))
    return grp, x, pk


def decrypt_counts_with_secret(grp: Group, x: int, ct: Ciphertext, bound: int) -> tuple[int, ...]:
    return vartime_discrete_logs(grp, elgamal.decrypt(grp, x, ct), bound)


# --- honest ballots -------------------------------------------------------------------------------
RULES_AND_SELECTIONS = [
    (SelectionRule.single(1), [1]),
    (SelectionRule.single(3), [0, 1, 0]),
    (SelectionRule.approval(4, 2), [1, 0, 0, 1]),
    (SelectionRule.approval(4, 2), [0, 0, 0, 0]),
    (SelectionRule.approval(5, 5, minimum=1), [1, 1, 1, 1, 1]),
    (SelectionRule(3, 0, 0), [0, 0, 0]),
]


@pytest.mark.parametrize("name", crypto.GROUPS)
def test_honest_ballot_verifies_and_decrypts_on_every_group(name: str) -> None:
    grp, x, pk = keypair(name)
    rule = SelectionRule.approval(3, 2)
    b = encrypt_ballot(pk, [1, 0, 1], rule, CTX, random.Random(1))
    assert verify_ballot(pk, b, rule, CTX) is None
    assert decrypt_counts_with_secret(grp, x, b.ciphertext, 1) == (1, 0, 1)
    data = encode_ballot(grp, b)
    assert len(data) == ballot_size(grp, rule)
    assert decode_ballot(grp, data, rule) == b


@pytest.mark.parametrize("name", FAST)
@pytest.mark.parametrize(("rule", "selections"), RULES_AND_SELECTIONS)
def test_honest_ballots_for_every_rule_shape(
    name: str, rule: SelectionRule, selections: list[int]
) -> None:
    grp, x, pk = keypair(name)
    b = encrypt_ballot(pk, selections, rule, CTX)
    verify_ballot(pk, b, rule, CTX)
    assert len(b.selection_proof.branches) == rule.max_selections - rule.min_selections + 1
    assert decrypt_counts_with_secret(grp, x, b.ciphertext, 1) == tuple(selections)
    assert decode_ballot(grp, encode_ballot(grp, b), rule) == b
    as_json = json.loads(json.dumps(ballot_to_json(grp, b)))
    assert ballot_from_json(grp, as_json, rule) == b


def test_same_randomness_same_bytes_and_fresh_randomness_differs() -> None:
    grp, _, pk = keypair("secp256k1")
    rule = SelectionRule.single(3)
    randomness = draw_randomness(grp, rule, random.Random(5))
    a = encrypt_ballot_with(pk, [0, 0, 1], rule, CTX, randomness)
    b = encrypt_ballot(pk, [0, 0, 1], rule, CTX, random.Random(5))
    assert encode_ballot(grp, a) == encode_ballot(grp, b)
    c = encrypt_ballot(pk, [0, 0, 1], rule, CTX)
    assert encode_ballot(grp, c) != encode_ballot(grp, a)


def test_booleans_are_selections_too() -> None:
    grp, x, pk = keypair("secp256k1")
    rule = SelectionRule.approval(2, 2)
    b = encrypt_ballot(pk, [True, False], rule, CTX)
    verify_ballot(pk, b, rule, CTX)
    assert decrypt_counts_with_secret(grp, x, b.ciphertext, 1) == (1, 0)


# --- misuse --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((0, 0, 0), ValueError),
        ((2, 1, 3), ValueError),
        ((2, 2, 1), ValueError),
        ((2, -1, 1), ValueError),
        ((65536, 1, 1), ValueError),
        ((2, True, 1), TypeError),
        (("2", 1, 1), TypeError),
    ],
)
def test_selection_rule_rejects_nonsense(args: tuple[object, ...], error: type) -> None:
    with pytest.raises(error):
        SelectionRule(*args)  # type: ignore[arg-type]


def test_selection_rule_encoding() -> None:
    assert SelectionRule(3, 1, 2).encode() == bytes.fromhex("000000030000000100000002")
    assert SelectionRule.single(4) == SelectionRule(4, 1, 1)
    assert SelectionRule.approval(4, 3) == SelectionRule(4, 0, 3)


@pytest.mark.parametrize(
    ("selections", "match"),
    [
        ([0, 2, 0], r"selections\[1\] must be 0 or 1"),
        ([0, 1], "2 selections for 3 choices"),
        ([1, 1, 0], "2 choices selected, the rule allows 1..1"),
        ([0, 0, 0], "0 choices selected"),
        ([0, 1, None], r"selections\[2\]"),
    ],
)
def test_encrypt_refuses_invalid_selections(selections: list[object], match: str) -> None:
    _, _, pk = keypair("secp256k1")
    with pytest.raises(ValueError, match=match):
        encrypt_ballot(pk, selections, SelectionRule.single(3), CTX)  # type: ignore[arg-type]


def test_encrypt_refuses_misshapen_randomness_and_non_bytes_context() -> None:
    grp, _, pk = keypair("secp256k1")
    rule = SelectionRule.single(2)
    good = draw_randomness(grp, rule, random.Random(1))
    for bad in (
        dataclasses.replace(good, r=good.r[:1]),
        dataclasses.replace(good, choice_nonces=(good.choice_nonces[0][:1], good.choice_nonces[1])),
        dataclasses.replace(good, selection_nonces=good.selection_nonces * 2),
        dataclasses.replace(good, r=(0, 1)),
    ):
        with pytest.raises(ValueError):
            encrypt_ballot_with(pk, [1, 0], rule, CTX, bad)
    with pytest.raises(TypeError, match="context must be bytes"):
        encrypt_ballot_with(pk, [1, 0], rule, "ctx", good)  # type: ignore[arg-type]


# --- forgeries: each rejected with its location --------------------------------------------------
def assert_rejected(
    pk: PublicKey, ballot: HomomorphicBallot, rule: SelectionRule, match: str, context: bytes = CTX
) -> None:
    """``verify_ballot`` refuses ``ballot`` with an :class:`InvalidProof` matching ``match``."""
    with pytest.raises(InvalidProof, match=match):
        verify_ballot(pk, ballot, rule, context)


def forged_ballot(
    pk: PublicKey,
    values: Sequence[int],
    claimed: Sequence[int],
    claimed_count: int,
    rule: SelectionRule,
    context: bytes,
    seed: int = 11,
) -> HomomorphicBallot:
    """A cheating voter's ballot: encrypts ``values`` (any integers) but runs the prover claiming
    ``claimed`` per choice and ``claimed_count`` for the sum (the best a cheater without a
    witness can do with the honest prover; the proofs of the false claims do not verify)."""
    grp = pk.group
    rng = random.Random(seed)
    rand = draw_randomness(grp, rule, rng)
    messages = [grp.base_mul(v) for v in values]
    ct = elgamal.encrypt_with(pk, messages, rand.r)
    statements = [
        RangeStatement(CHOICE_DST, k, 0, 1, a, b)
        for k, (a, b) in enumerate(zip(ct.alpha, ct.beta, strict=True))
    ]
    statements.append(
        RangeStatement(
            disjunctive.SELECTION_DST,
            rule.n_choices,
            rule.min_selections,
            rule.max_selections,
            grp.sum(list(ct.alpha)),
            grp.sum(list(ct.beta)),
        )
    )
    witnesses = [(r, c) for r, c in zip(rand.r, claimed, strict=True)]
    witnesses.append((sum(rand.r) % grp.order, claimed_count))
    proofs = disjunctive.prove_with(
        grp,
        pk.y,
        statements,
        witnesses,
        [*rand.choice_nonces, rand.selection_nonces],
        context,
        grp.encode(pk.y),
        elgamal.encode_ciphertext(grp, ct),
    )
    return HomomorphicBallot(ct, tuple(proofs[:-1]), proofs[-1])


@pytest.mark.parametrize("name", FAST)
def test_forger_helper_makes_valid_ballots_when_honest(name: str) -> None:
    # The negative tests below are meaningful: the same helper with true claims verifies.
    _, _, pk = keypair(name)
    rule = SelectionRule.approval(3, 2)
    verify_ballot(pk, forged_ballot(pk, [1, 0, 1], [1, 0, 1], 2, rule, CTX), rule, CTX)


@pytest.mark.parametrize("name", FAST)
def test_a_ciphertext_encrypting_2_is_rejected_at_its_choice(name: str) -> None:
    _, _, pk = keypair(name)
    rule = SelectionRule.approval(3, 3)
    # Choice 1 encrypts 2; the cheater claims 1 for it, and 3 for the sum (which is true!).
    bad = forged_ballot(pk, [0, 2, 1], [0, 1, 1], 3, rule, CTX)
    assert_rejected(pk, bad, rule, r"^choice 1: 0/1 proof: the branch challenges")
    # Claiming 0 for it fails as well.
    bad = forged_ballot(pk, [0, 2, 1], [0, 0, 1], 3, rule, CTX)
    assert_rejected(pk, bad, rule, r"^choice 1: 0/1 proof")


@pytest.mark.parametrize("name", FAST)
def test_a_1000_vote_ballot_is_rejected(name: str) -> None:
    _, _, pk = keypair(name)
    rule = SelectionRule.single(2)
    bad = forged_ballot(pk, [1000, 0], [1, 0], 1, rule, CTX)
    assert_rejected(pk, bad, rule, r"^choice 0: 0/1 proof")


@pytest.mark.parametrize("name", FAST)
@pytest.mark.parametrize(
    ("rule", "values", "claimed_count"),
    [
        (SelectionRule.single(3), [1, 1, 0], 1),  # two selections on a single-choice question
        (SelectionRule.single(3), [0, 0, 0], 1),  # a blank on a question that needs one
        (SelectionRule.approval(4, 2), [1, 1, 1, 0], 2),  # three where at most two
        (SelectionRule.approval(4, 2, minimum=1), [0, 0, 0, 0], 1),
    ],
)
def test_a_selection_count_out_of_range_is_rejected_by_the_selection_proof(
    name: str, rule: SelectionRule, values: list[int], claimed_count: int
) -> None:
    _, _, pk = keypair(name)
    bad = forged_ballot(pk, values, values, claimed_count, rule, CTX)
    assert_rejected(pk, bad, rule, r"^selection-count proof \(\d\.\.\d selections\)")


def simulated_proof(
    grp: Group,
    y: bytes,
    statement: RangeStatement,
    context: bytes,
    row: bytes,
    rng: random.Random,
) -> DisjunctiveProof:
    """Simulate every branch without a witness, hash, then force the challenges to sum to c by
    changing the last branch's challenge (the wrong split: its commitment no longer matches)."""
    pairs = [(grp.random_scalar(rng), grp.random_scalar(rng)) for _ in range(statement.branches)]
    [commits] = disjunctive.commitments(grp, y, [statement], [pairs])
    c = disjunctive.challenge(grp, statement, context, grp.encode(y), row, commits)
    q = grp.order
    last = (c - sum(cj for cj, _ in pairs[:-1])) % q
    pairs[-1] = (last, pairs[-1][1])
    return DisjunctiveProof(tuple(DleqProof(cj, zj) for cj, zj in pairs))


@pytest.mark.parametrize("name", FAST)
def test_a_forged_disjunctive_proof_for_an_encryption_of_5_is_rejected(name: str) -> None:
    grp, _, pk = keypair(name)
    rule = SelectionRule.approval(3, 3)
    rng = random.Random(3)
    # Choices 0 and 1 honest (their proofs made for this very row); choice 2 encrypts 5 and
    # carries a simulated proof whose challenges sum to the Fiat–Shamir challenge.
    base = forged_ballot(pk, [0, 1, 5], [0, 1, 1], 2, rule, CTX)
    ct = base.ciphertext
    statement = RangeStatement(CHOICE_DST, 2, 0, 1, ct.alpha[2], ct.beta[2])
    row = elgamal.encode_ciphertext(grp, ct)
    forged = simulated_proof(grp, pk.y, statement, CTX, row, rng)
    bad = dataclasses.replace(base, choice_proofs=(*base.choice_proofs[:2], forged))
    assert_rejected(pk, bad, rule, r"^choice 2: 0/1 proof: the branch challenges")
    # A simulation left unbalanced (no branch adjusted after hashing) fails the same way.
    pairs = [(grp.random_scalar(rng), grp.random_scalar(rng)) for _ in range(2)]
    unbalanced = DisjunctiveProof(tuple(DleqProof(c, z) for c, z in pairs))
    bad = dataclasses.replace(base, choice_proofs=(*base.choice_proofs[:2], unbalanced))
    assert_rejected(pk, bad, rule, r"^choice 2: 0/1 proof: the branch challenges")


@pytest.mark.parametrize("name", FAST)
def test_forged_proof_with_wrong_split_on_an_otherwise_valid_ballot(name: str) -> None:
    grp, _, pk = keypair(name)
    rule = SelectionRule.approval(3, 3)
    rng = random.Random(4)
    honest = encrypt_ballot(pk, [1, 0, 1], rule, CTX, rng)
    row = elgamal.encode_ciphertext(grp, honest.ciphertext)
    statement = RangeStatement(
        CHOICE_DST, 1, 0, 1, honest.ciphertext.alpha[1], honest.ciphertext.beta[1]
    )
    forged = simulated_proof(grp, pk.y, statement, CTX, row, rng)
    bad = dataclasses.replace(
        honest, choice_proofs=(honest.choice_proofs[0], forged, honest.choice_proofs[2])
    )
    assert_rejected(pk, bad, rule, r"^choice 1: 0/1 proof: the branch challenges")


@pytest.mark.parametrize("name", FAST)
def test_a_ballot_replayed_under_another_credential_is_rejected(name: str) -> None:
    _, _, pk = keypair(name)
    rule = SelectionRule.single(3)
    b = encrypt_ballot(pk, [0, 0, 1], rule, CTX)
    assert_rejected(pk, b, rule, r"^choice 0: 0/1 proof", OTHER_CTX)
    # Also under another key, another rule with the same shape, or with swapped choices.
    _, _, other_pk = keypair(name, seed=8)
    with pytest.raises(InvalidProof, match=r"^choice 0: 0/1 proof"):
        verify_ballot(other_pk, b, rule, CTX)
    with pytest.raises(InvalidProof, match=r"^selection-count proof \(0\.\.0"):
        verify_ballot(pk, b, SelectionRule(3, 0, 0), CTX)
    ct = b.ciphertext
    swapped = HomomorphicBallot(
        Ciphertext((ct.alpha[1], ct.alpha[0], ct.alpha[2]), (ct.beta[1], ct.beta[0], ct.beta[2])),
        (b.choice_proofs[1], b.choice_proofs[0], b.choice_proofs[2]),
        b.selection_proof,
    )
    assert_rejected(pk, swapped, rule, r"^choice 0: 0/1 proof")


def test_proof_of_one_ballot_does_not_verify_with_another_ballots_ciphertext() -> None:
    _, _, pk = keypair("secp256k1")
    rule = SelectionRule.single(2)
    a = encrypt_ballot(pk, [1, 0], rule, CTX)
    b = encrypt_ballot(pk, [1, 0], rule, CTX)
    mixed = dataclasses.replace(a, choice_proofs=b.choice_proofs)
    assert_rejected(pk, mixed, rule, r"^choice 0: 0/1 proof")


def test_shape_and_element_checks_of_verify() -> None:
    grp, _, pk = keypair("secp256k1")
    rule = SelectionRule.single(2)
    b = encrypt_ballot(pk, [1, 0], rule, CTX)
    with pytest.raises(MalformedInput, match="2 ciphertexts for 3 choices"):
        verify_ballot(pk, b, SelectionRule.single(3), CTX)
    with pytest.raises(MalformedInput, match="1 0/1 proofs for 2"):
        verify_ballot(pk, dataclasses.replace(b, choice_proofs=b.choice_proofs[:1]), rule, CTX)
    one_branch = DisjunctiveProof(b.choice_proofs[1].branches[:1])
    with pytest.raises(MalformedInput, match=r"^choice 1: 0/1 proof: 1 branches"):
        verify_ballot(
            pk, dataclasses.replace(b, choice_proofs=(b.choice_proofs[0], one_branch)), rule, CTX
        )
    big = DleqProof(grp.order, 1)
    bad_scalar = DisjunctiveProof((big, b.choice_proofs[0].branches[1]))
    with pytest.raises(InvalidProof, match=r"^choice 0: 0/1 proof: branch 0: c or z is not"):
        verify_ballot(
            pk, dataclasses.replace(b, choice_proofs=(bad_scalar, b.choice_proofs[1])), rule, CTX
        )
    ct = b.ciphertext
    zero_alpha = Ciphertext((ct.alpha[0], grp.identity), ct.beta)
    with pytest.raises(InvalidElement, match=r"^choice 1: alpha is the identity"):
        verify_ballot(pk, dataclasses.replace(b, ciphertext=zero_alpha), rule, CTX)
    with pytest.raises(InvalidElement, match="public key is the identity"):
        verify_ballot(PublicKey(grp, grp.identity), b, rule, CTX)
    with pytest.raises(TypeError, match="context must be bytes"):
        verify_ballot(pk, b, rule, "ctx")  # type: ignore[arg-type]


# --- codecs: invalid elements and malformed input, with locations ---------------------------------
def off_curve(grp: Group) -> bytes:
    """An encoding of the right length that the group's decoder rejects."""
    if grp.name == "ristretto255":
        return b"\xff" * 32
    size = grp.element_size
    x = 5
    while True:
        candidate = b"\x02" + x.to_bytes(size - 1, "big")
        try:
            grp.decode(candidate)
        except InvalidElement:
            return candidate
        x += 1


@pytest.mark.parametrize("name", crypto.GROUPS)
def test_decode_rejects_invalid_elements_naming_the_choice(name: str) -> None:
    grp, _, pk = keypair(name)
    rule = SelectionRule.single(3)
    b = encrypt_ballot(pk, [0, 1, 0], rule, CTX, random.Random(2))
    data = bytearray(encode_ballot(grp, b))
    size = grp.element_size
    cases = [
        (2 * size, off_curve(grp), r"^choice 2: alpha: "),
        (2 * size, grp.encode(grp.identity), r"^choice 2: alpha: .*identity"),
        ((3 + 1) * size, off_curve(grp), r"^choice 1: beta: "),
    ]
    for offset, replacement, match in cases:
        bad = bytearray(data)
        bad[offset : offset + size] = replacement
        with pytest.raises(InvalidElement, match=match):
            decode_ballot(grp, bytes(bad), rule)
    # beta may be the identity (see crypto.elgamal): it decodes, and then the proof fails.
    bad = bytearray(data)
    bad[3 * size : 4 * size] = grp.encode(grp.identity)
    decoded = decode_ballot(grp, bytes(bad), rule)
    with pytest.raises(InvalidProof):
        verify_ballot(pk, decoded, rule, CTX)


def test_decode_rejects_malformed_bytes_naming_the_field() -> None:
    grp, _, pk = keypair("secp256k1")
    rule = SelectionRule.approval(2, 2)
    b = encrypt_ballot(pk, [1, 1], rule, CTX)
    data = encode_ballot(grp, b)
    with pytest.raises(MalformedInput, match="expected 580 bytes"):
        decode_ballot(grp, data[:-1], rule)
    with pytest.raises(MalformedInput, match="expected 580 bytes"):
        decode_ballot(grp, data + b"\x00", rule)
    with pytest.raises(MalformedInput, match="expected bytes"):
        decode_ballot(grp, data.hex(), rule)  # type: ignore[arg-type]
    s = grp.scalar_size
    proofs_at = 4 * grp.element_size
    # choice 1, branch 1, z set to the order (non-canonical)
    bad = bytearray(data)
    off = proofs_at + 4 * s + 3 * s
    bad[off : off + s] = grp.order.to_bytes(s, "big")
    with pytest.raises(MalformedInput, match=r"^choice 1: 0/1 proof: branch 1: .*z"):
        decode_ballot(grp, bytes(bad), rule)
    # selection proof, branch 2, c
    bad = bytearray(data)
    off = proofs_at + 8 * s + 4 * s
    bad[off : off + s] = b"\xff" * s
    with pytest.raises(MalformedInput, match=r"^selection-count proof: branch 2: .*c"):
        decode_ballot(grp, bytes(bad), rule)


def test_every_single_byte_change_is_rejected() -> None:
    grp, _, pk = keypair("secp256k1")
    rule = SelectionRule.approval(2, 1)
    data = encode_ballot(grp, encrypt_ballot(pk, [0, 1], rule, CTX))
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0x01
        with pytest.raises((MalformedInput, InvalidProof)):
            verify_ballot(pk, decode_ballot(grp, bytes(bad), rule), rule, CTX)


def test_json_codec_is_strict() -> None:
    grp, _, pk = keypair("secp256k1")
    rule = SelectionRule.single(2)
    good = ballot_to_json(grp, encrypt_ballot(pk, [0, 1], rule, CTX))
    assert ballot_from_json(grp, good, rule) is not None

    def mutate(path: list[object], value: object) -> dict[str, object]:
        doc = json.loads(json.dumps(good))
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return doc  # type: ignore[no-any-return]

    alpha = good["ciphertexts"][1]["alpha"]
    cases = [
        (mutate(["extra"], 1), "exactly the keys"),
        (mutate(["ciphertexts"], good["ciphertexts"][:1]), "ciphertexts: expected an array of 2"),
        (mutate(["ciphertexts", 0, "alpha"], alpha.upper()), r"ciphertexts\[0\]\.alpha"),
        (mutate(["ciphertexts", 0, "alpha"], alpha[:-2]), r"ciphertexts\[0\]\.alpha"),
        (mutate(["ciphertexts", 1, "beta"], 5), r"ciphertexts\[1\]\.beta"),
        (mutate(["choice_proofs", 1], []), r"choice_proofs\[1\]: expected an array of 2"),
        (mutate(["choice_proofs", 0, 1, "z"], "zz" * 32), r"choice_proofs\[0\]\[1\]\.z"),
        (mutate(["selection_proof", 0], {"c": "00" * 32}), r"selection_proof\[0\]: expected"),
        (mutate(["selection_proof"], "x"), "selection_proof: expected an array of 1"),
    ]
    for doc, match in cases:
        with pytest.raises(MalformedInput, match=match):
            ballot_from_json(grp, doc, rule)
    with pytest.raises(MalformedInput):
        ballot_from_json(grp, [good], rule)
    with pytest.raises(InvalidElement, match=r"^choice 0: alpha"):
        ballot_from_json(grp, mutate(["ciphertexts", 0, "alpha"], off_curve(grp).hex()), rule)


# --- tally ----------------------------------------------------------------------------------------
def election(
    name: str, selections: list[list[int]], rule: SelectionRule, n: int = 3, t: int = 2
) -> tuple[Group, dict[int, KeyShare], list[HomomorphicBallot]]:
    grp = crypto.group(name)
    keys = dealer_keys(grp, n, t)
    pk = keys[1].public_key
    rng = random.Random(21)
    ballots = [encrypt_ballot(pk, s, rule, b"voter-%d" % i, rng) for i, s in enumerate(selections)]
    for i, b in enumerate(ballots):
        verify_ballot(pk, b, rule, b"voter-%d" % i)
    return grp, keys, ballots


def all_shares(
    grp: Group, keys: dict[int, KeyShare], agg: Ciphertext
) -> dict[int, DecryptionShare]:
    return {
        j: decryption_share(grp, k, [agg], DECRYPT_CTX, random.Random(j)) for j, k in keys.items()
    }


SELECTIONS = [[1, 0, 1, 0], [0, 0, 1, 1], [1, 1, 1, 0], [0, 0, 0, 0], [0, 0, 1, 0]]


@pytest.mark.parametrize("name", crypto.GROUPS)
def test_tally_end_to_end(name: str) -> None:
    rule = SelectionRule.approval(4, 3)
    grp, keys, ballots = election(name, SELECTIONS, rule)
    rows = [b.ciphertext for b in ballots]
    agg = aggregate(grp, rows)
    verify_aggregate(grp, rows, agg)
    shares = all_shares(grp, keys, agg)
    expected = tuple(sum(col) for col in zip(*SELECTIONS, strict=True))
    assert expected == (2, 1, 4, 1)
    for subset in ((1, 2), (2, 3), (1, 3)):
        chosen = {j: shares[j] for j in subset}
        assert decrypt_counts(grp, agg, chosen, 2, len(ballots)) == expected
    vks = keys[1].verification_keys
    assert verify_tally(grp, rows, agg, shares, vks, 2, expected, DECRYPT_CTX) is None


@pytest.fixture(scope="module")
def tallied() -> tuple[Group, dict[int, KeyShare], list[Ciphertext], Ciphertext, dict]:
    grp, keys, ballots = election("secp256k1", SELECTIONS, SelectionRule.approval(4, 3))
    rows = [b.ciphertext for b in ballots]
    agg = aggregate(grp, rows)
    return grp, keys, rows, agg, all_shares(grp, keys, agg)


def test_a_tampered_aggregate_is_rejected_at_its_choice(tallied: tuple) -> None:
    grp, keys, rows, agg, _ = tallied
    vks = keys[1].verification_keys
    # One more vote for choice 2 slipped into the aggregate.
    beta = list(agg.beta)
    beta[2] = grp.add(beta[2], grp.generator)
    tampered = Ciphertext(agg.alpha, tuple(beta))
    with pytest.raises(InvalidProof, match=r"^aggregate: choice 2: beta is not the sum"):
        verify_aggregate(grp, rows, tampered)
    # Even with shares made honestly for the tampered aggregate, verify_tally rejects it.
    shares = all_shares(grp, keys, tampered)
    assert decrypt_counts(grp, tampered, shares, 2, len(rows)) == (2, 1, 5, 1)
    with pytest.raises(InvalidProof, match=r"^aggregate: choice 2"):
        verify_tally(grp, rows, tampered, shares, vks, 2, (2, 1, 5, 1), DECRYPT_CTX)
    alpha = list(agg.alpha)
    alpha[0] = grp.add(alpha[0], grp.generator)
    with pytest.raises(InvalidProof, match=r"^aggregate: choice 0: alpha"):
        verify_aggregate(grp, rows, Ciphertext(tuple(alpha), agg.beta))
    with pytest.raises(MalformedInput, match="3 choices, the ballots have 4"):
        verify_aggregate(grp, rows, Ciphertext(agg.alpha[:3], agg.beta[:3]))
    # A dropped ballot changes the aggregate too.
    with pytest.raises(InvalidProof, match=r"^aggregate: choice 0"):
        verify_aggregate(grp, rows[1:], agg)


def test_a_tampered_decryption_share_is_rejected_naming_the_node(tallied: tuple) -> None:
    grp, keys, rows, agg, shares = tallied
    vks = keys[1].verification_keys
    factors = list(shares[2].factors[0])
    factors[1] = grp.add(factors[1], grp.base_mul(123456789))
    bad = dataclasses.replace(shares[2], factors=(tuple(factors),))
    with pytest.raises(InvalidProof, match=r"^decryption share of node 2"):
        verify_tally(grp, rows, agg, {**shares, 2: bad}, vks, 2, (2, 1, 4, 1), DECRYPT_CTX)
    # A share for another tally context (replayed) is rejected the same way.
    other = decryption_share(grp, keys[3], [agg], b"another election", random.Random(0))
    with pytest.raises(InvalidProof, match=r"^decryption share of node 3"):
        verify_tally(grp, rows, agg, {**shares, 3: other}, vks, 2, (2, 1, 4, 1), DECRYPT_CTX)
    # Used unverified, the tampered share gives a point that is no count within the bound.
    with pytest.raises(CountNotFound, match=r"^choice 1: "):
        decrypt_counts(grp, agg, {1: shares[1], 2: bad}, 2, len(rows))
    # A share shifted by exactly g moves a count by one and stays within the bound: only the
    # share's proof catches it, which is why decrypt_counts takes verified shares only.
    factors = list(shares[2].factors[0])
    factors[1] = grp.add(factors[1], grp.generator)
    shifted = dataclasses.replace(shares[2], factors=(tuple(factors),))
    assert decrypt_counts(grp, agg, {1: shares[1], 2: shifted}, 2, len(rows)) == (2, 2, 4, 1)
    with pytest.raises(InvalidProof, match=r"^decryption share of node 2"):
        verify_tally(grp, rows, agg, {1: shares[1], 2: shifted}, vks, 2, (2, 2, 4, 1), DECRYPT_CTX)


def test_a_wrong_published_count_is_rejected(tallied: tuple) -> None:
    grp, keys, rows, agg, shares = tallied
    vks = keys[1].verification_keys
    with pytest.raises(InvalidProof, match=r"^choice 3: the published count 2 is not"):
        verify_tally(grp, rows, agg, shares, vks, 2, (2, 1, 4, 2), DECRYPT_CTX)
    with pytest.raises(InvalidProof, match=r"^choice 0: count 6 is outside \[0, 5\]"):
        verify_tally(grp, rows, agg, shares, vks, 2, (6, 1, 4, 1), DECRYPT_CTX)
    with pytest.raises(MalformedInput, match="3 counts published for 4 choices"):
        verify_tally(grp, rows, agg, shares, vks, 2, (2, 1, 4), DECRYPT_CTX)
    with pytest.raises(InvalidProof, match="1 valid decryption shares, need t=2"):
        verify_tally(grp, rows, agg, {1: shares[1]}, vks, 2, (2, 1, 4, 1), DECRYPT_CTX)
    with pytest.raises(MalformedInput, match="filed under node 1 is from 2"):
        verify_tally(grp, rows, agg, {1: shares[2]}, vks, 2, (2, 1, 4, 1), DECRYPT_CTX)
    with pytest.raises(MalformedInput, match="node 3: no such node"):
        verify_tally(grp, rows, agg, shares, {1: vks[1], 2: vks[2]}, 2, (2, 1, 4, 1), DECRYPT_CTX)


def test_aggregate_refuses_empty_and_mixed_widths() -> None:
    grp = crypto.group("secp256k1")
    with pytest.raises(ValueError, match="no ballots"):
        aggregate(grp, [])
    _, _, pk = keypair("secp256k1")
    a = encrypt_ballot(pk, [1], SelectionRule.single(1), CTX).ciphertext
    b = encrypt_ballot(pk, [1, 0], SelectionRule.single(2), CTX).ciphertext
    with pytest.raises(MalformedInput, match="ballot 1 has 2 choices, ballot 0 1"):
        aggregate(grp, [a, b])


# --- the bounded discrete-log search --------------------------------------------------------------
@pytest.mark.parametrize("name", FAST)
def test_bsgs_finds_every_count_up_to_the_bound_and_nothing_beyond(name: str) -> None:
    grp = crypto.group(name)
    for bound in (0, 1, 2, 3, 4, 15, 16, 17, 99):
        targets = [grp.base_mul(m) for m in range(bound + 1)]
        assert vartime_discrete_logs(grp, targets, bound) == tuple(range(bound + 1))
        # bound + 1 is outside the bound even when the table would reach it
        with pytest.raises(CountNotFound, match=rf"^choice 0: .*\[0, {bound}\]"):
            vartime_discrete_logs(grp, [grp.base_mul(bound + 1)], bound)
    big = 10**6
    assert vartime_discrete_logs(grp, [grp.base_mul(big), grp.identity], big) == (big, 0)
    with pytest.raises(CountNotFound, match=r"^choice 1: "):
        vartime_discrete_logs(grp, [grp.identity, grp.base_mul(grp.order - 1)], big)


def test_bsgs_bound_is_validated() -> None:
    grp = crypto.group("secp256k1")
    for bad in (-1, MAX_BOUND + 1, True, 1.5):
        with pytest.raises(ValueError, match="bound must be an int"):
            vartime_discrete_logs(grp, [grp.identity], bad)  # type: ignore[arg-type]


def test_ballot_randomness_is_drawn_in_the_documented_order() -> None:
    grp = crypto.group("secp256k1")
    rule = SelectionRule(2, 0, 2)
    rng = random.Random(9)
    drawn = [grp.random_scalar(rng) for _ in range(2 + 2 * 2 * 2 + 3 * 2)]
    expected = BallotRandomness(
        (drawn[0], drawn[1]),
        (
            ((drawn[2], drawn[3]), (drawn[4], drawn[5])),
            ((drawn[6], drawn[7]), (drawn[8], drawn[9])),
        ),
        ((drawn[10], drawn[11]), (drawn[12], drawn[13]), (drawn[14], drawn[15])),
    )
    assert draw_randomness(grp, rule, random.Random(9)) == expected
