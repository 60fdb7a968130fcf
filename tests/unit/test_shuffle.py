"""The re-encryption shuffle and its Terelius–Wikström proof (``crypto.shuffle``): round trips for
widths 1–3 and several groups, a known answer, and the table of statements and proofs the verifier
must reject (``verificatum-format.md`` §5)."""

from __future__ import annotations

import dataclasses
import hashlib
import random
from collections.abc import Callable
from typing import Any

import pytest

from crypto import elgamal, verificatum
from crypto.elgamal import Ciphertext, PublicKey
from crypto.errors import InvalidElement, InvalidProof, MalformedInput
from crypto.groups import group
from crypto.protocol.wire import shuffle_sid
from crypto.shuffle import (
    PROOF_FILES,
    ShuffleProof,
    ShuffleSession,
    decode_proof,
    encode_proof,
    prove_shuffle,
    shuffle,
    verify_shuffle,
)

SECP = group("secp256k1")


def make_inputs(
    g: Any, n: int, width: int, seed: int = 1
) -> tuple[int, PublicKey, list[Ciphertext]]:
    """Deterministic key and ciphertexts (no dependency on any rng consumption order)."""
    rng = random.Random(seed)
    x = rng.randrange(1, g.order)
    pk = PublicKey(g, g.base_mul(x))
    cts = [
        elgamal.encrypt_with(
            pk,
            [g.base_mul(1000 * i + k + 1) for k in range(width)],
            [rng.randrange(1, g.order) for _ in range(width)],
        )
        for i in range(n)
    ]
    return x, pk, cts


class Case:
    """A valid shuffle with its proof."""

    def __init__(self, g: Any = SECP, n: int = 6, width: int = 1, sid: str = "mixvoteE1") -> None:
        self.group = g
        self.session = ShuffleSession(g, sid)
        self.x, self.pk, self.inputs = make_inputs(g, n, width)
        self.result = shuffle(self.pk, self.inputs, random.Random(7))
        self.outputs = list(self.result.outputs)
        self.proof = prove_shuffle(
            self.session,
            self.pk,
            self.inputs,
            self.outputs,
            self.result.permutation,
            self.result.randomness,
            random.Random(8),
        )

    def verify(self, **changes: Any) -> None:
        args = {
            "session": self.session,
            "pk": self.pk,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "proof": self.proof,
        }
        args.update(changes)
        verify_shuffle(**args)


@pytest.fixture(scope="module")
def case() -> Case:
    return Case()


# --- correctness ----------------------------------------------------------------------------------
@pytest.mark.parametrize("width", [1, 2, 3])
def test_round_trip_widths(width: int) -> None:
    c = Case(n=5, width=width)
    c.verify()
    files = encode_proof(c.session, c.proof)
    assert decode_proof(c.session, files, 5, width) == c.proof
    for i, out in enumerate(c.outputs):
        source = c.inputs[c.result.permutation[i]]
        assert elgamal.decrypt(c.group, c.x, out) == elgamal.decrypt(c.group, c.x, source)
        assert out != source  # re-encrypted


def test_shuffle_permutation_convention(case: Case) -> None:
    # w'_i = w_{π(i)} · pk^{s_{π(i)}} (Verificatum's convention)
    g = case.group
    for i, out in enumerate(case.outputs):
        j = case.result.permutation[i]
        (s,) = case.result.randomness[j]
        assert out.alpha[0] == g.add(case.inputs[j].alpha[0], g.base_mul(s))
        assert out.beta[0] == g.add(case.inputs[j].beta[0], g.mul(case.pk.y, s))
    assert sorted(case.result.permutation) == list(range(6))


def test_identity_in_an_input_component_is_allowed() -> None:
    g = SECP
    _, pk, cts = make_inputs(g, 4, 2)
    cts[1] = Ciphertext(cts[1].alpha, (cts[1].beta[0], g.identity))
    cts[2] = Ciphertext((g.identity, cts[2].alpha[1]), cts[2].beta)
    session = ShuffleSession(g, "mixvoteE2")
    res = shuffle(pk, cts, random.Random(1))
    proof = prove_shuffle(session, pk, cts, res.outputs, res.permutation, res.randomness)
    verify_shuffle(session, pk, cts, res.outputs, proof)
    data = verificatum.encode_ciphertext_list(g, cts)
    assert verificatum.decode_ciphertext_list(g, data, 2) == cts


def test_single_ciphertext() -> None:
    c = Case(n=1)
    c.verify()


@pytest.mark.parametrize("name", ["ristretto255", "P-256"])
def test_other_groups(name: str) -> None:
    c = Case(group(name), n=3, width=2)
    c.verify()
    files = encode_proof(c.session, c.proof)
    assert decode_proof(c.session, files, 3, 2) == c.proof
    with pytest.raises(InvalidProof):
        c.verify(outputs=[c.outputs[1], c.outputs[0], c.outputs[2]])


def test_parallel_prover_and_verifier_agree_with_serial() -> None:
    g = SECP
    _, pk, cts = make_inputs(g, 130, 1)
    session = ShuffleSession(g, "mixvoteParallel")
    serial = shuffle(pk, cts, random.Random(3), workers=1)
    parallel = shuffle(pk, cts, random.Random(3), workers=2)
    assert serial == parallel
    args = (session, pk, cts, serial.outputs, serial.permutation, serial.randomness)
    proof = prove_shuffle(*args, rng=random.Random(4), workers=2)
    assert proof == prove_shuffle(*args, rng=random.Random(4), workers=1)
    verify_shuffle(session, pk, cts, serial.outputs, proof, workers=2)
    bad = dataclasses.replace(
        proof, k_B=(*proof.k_B[:100], (proof.k_B[100] + 1) % g.order, *proof.k_B[101:])
    )
    with pytest.raises(InvalidProof, match=r"equation \(2\) fails at i=100"):
        verify_shuffle(session, pk, cts, serial.outputs, bad, workers=2)


def test_known_answer() -> None:
    """Fixed rng → exact bytes of the proof files and of the output list."""
    c = Case(n=4, width=2, sid="mixvoteKAT")
    files = encode_proof(c.session, c.proof)
    blob = b"".join(files[k] for k in PROOF_FILES) + verificatum.encode_ciphertext_list(
        SECP, c.outputs
    )
    assert c.result.permutation == KAT_PERMUTATION
    assert hashlib.sha256(blob).hexdigest() == KAT_SHA256


KAT_PERMUTATION = (3, 1, 0, 2)
KAT_SHA256 = "98840ee2e49e15699402d98c20a13bdd28043c801dbb585bd959877834c8f75a"


# --- session ------------------------------------------------------------------------------------
def test_session_identifiers() -> None:
    assert ShuffleSession(SECP, shuffle_sid("e-42")).sid == "mixvotee42"
    for bad in ("", "a-b", "a_b", "a.b", "é", "a b"):
        with pytest.raises(ValueError, match="sid"):
            ShuffleSession(SECP, bad)
        with pytest.raises(ValueError, match="auxsid"):
            ShuffleSession(SECP, "ok", bad)
    with pytest.raises(ValueError, match="hash"):
        ShuffleSession(SECP, "ok", prg="MD5")
    with pytest.raises(ValueError, match="statdist"):
        ShuffleSession(SECP, "ok", statdist=0)
    a, b = ShuffleSession(SECP, "A"), ShuffleSession(SECP, "B")
    assert a.rho != b.rho and a.generators(2) != b.generators(2)


# --- the reject table ---------------------------------------------------------------------
def _bump(x: Any, g: Any) -> Any:
    return g.add(x, g.generator)


def _replace_row(seq: tuple[Any, ...], i: int, value: Any) -> tuple[Any, ...]:
    return (*seq[:i], value, *seq[i + 1 :])


def statement_mutations(c: Case) -> dict[str, tuple[dict[str, Any], type[Exception], str]]:
    g, o, q = c.group, c.outputs, c.group.order
    other_session = ShuffleSession(g, "mixvoteE2")
    _, _, other_inputs = make_inputs(g, len(c.inputs), 1, seed=99)
    reenc_other = elgamal.reencrypt(c.pk, c.inputs[(c.result.permutation[2] + 1) % 6])[0]
    return {
        "tampered output": (
            {"outputs": [o[0], Ciphertext((_bump(o[1].alpha[0], g),), o[1].beta), *o[2:]]},
            InvalidProof,
            r"equation \(",
        ),
        "two outputs swapped": ({"outputs": [o[1], o[0], *o[2:]]}, InvalidProof, r"equation \("),
        "output replaced by a re-encryption of another ballot": (
            {"outputs": [*o[:2], reenc_other, *o[3:]]},
            InvalidProof,
            r"equation \(",
        ),
        "duplicated output": ({"outputs": [o[0], o[0], *o[2:]]}, InvalidProof, r"equation \("),
        "replayed against another input list": (
            {"inputs": other_inputs},
            InvalidProof,
            r"equation \(",
        ),
        "replayed under another election id": (
            {"session": other_session},
            InvalidProof,
            r"equation \(",
        ),
        "other public key": (
            {"pk": PublicKey(g, g.base_mul(5))},
            InvalidProof,
            r"equation \(",
        ),
        "identity public key": (
            {"pk": PublicKey(g, g.identity)},
            InvalidElement,
            "y is the identity",
        ),
        "identity in an output": (
            {"outputs": [Ciphertext(o[0].alpha, (g.identity,)), *o[1:]]},
            InvalidElement,
            "output 0",
        ),
        "one output missing": ({"outputs": o[:-1]}, MalformedInput, "5 outputs for 6 inputs"),
        "one input missing": ({"inputs": c.inputs[:-1]}, MalformedInput, "6 outputs for 5 inputs"),
        "wrong output width": (
            {"outputs": [Ciphertext(o[0].alpha * 2, o[0].beta * 2), *o[1:]]},
            MalformedInput,
            "width",
        ),
        "proof in another group": (
            {"proof": dataclasses.replace(c.proof, group=group("secp256k1-ref"))},
            MalformedInput,
            "different groups",
        ),
        "q as a scalar": (
            {"proof": dataclasses.replace(c.proof, k_A=q)},
            MalformedInput,
            "k_A.*canonical",
        ),
    }


def proof_mutations(
    p: ShuffleProof, g: Any
) -> dict[str, tuple[ShuffleProof, type[Exception], str]]:
    q = g.order
    r = dataclasses.replace
    f = p.F_prime
    return {
        "B_2": (r(p, B=_replace_row(p.B, 2, _bump(p.B[2], g))), InvalidProof, r"equation \("),
        "A'": (r(p, A_prime=_bump(p.A_prime, g)), InvalidProof, r"equation \("),
        "B'_4": (
            r(p, B_prime=_replace_row(p.B_prime, 4, _bump(p.B_prime[4], g))),
            InvalidProof,
            r"equation \(",
        ),
        "C'": (r(p, C_prime=_bump(p.C_prime, g)), InvalidProof, r"equation \("),
        "D'": (r(p, D_prime=_bump(p.D_prime, g)), InvalidProof, r"equation \("),
        "F'": (
            r(p, F_prime=Ciphertext(f.alpha, (_bump(f.beta[0], g),))),
            InvalidProof,
            r"equation \(",
        ),
        "u_1": (r(p, u=_replace_row(p.u, 1, _bump(p.u[1], g))), InvalidProof, r"equation \("),
        # the reply is not hashed, so each reply names its own equation
        "k_A": (r(p, k_A=(p.k_A + 1) % q), InvalidProof, r"equation \(1\)"),
        "k_B_3": (
            r(p, k_B=_replace_row(p.k_B, 3, (p.k_B[3] + 1) % q)),
            InvalidProof,
            r"equation \(2\) fails at i=3",
        ),
        "k_C": (r(p, k_C=(p.k_C + 1) % q), InvalidProof, r"equation \(3\)"),
        "k_D": (r(p, k_D=(p.k_D + 1) % q), InvalidProof, r"equation \(4\)"),
        "k_E_5": (
            r(p, k_E=_replace_row(p.k_E, 5, (p.k_E[5] + 1) % q)),
            InvalidProof,
            r"equation \(1\)",
        ),
        "k_F": (r(p, k_F=((p.k_F[0] + 1) % q,)), InvalidProof, r"equation \(5\)"),
        "identity u_0": (r(p, u=_replace_row(p.u, 0, g.identity)), InvalidElement, r"u\[0\]"),
        "identity B_5": (r(p, B=_replace_row(p.B, 5, g.identity)), InvalidElement, r"B\[5\]"),
        "identity B'_0": (
            r(p, B_prime=_replace_row(p.B_prime, 0, g.identity)),
            InvalidElement,
            r"B'\[0\]",
        ),
        "identity A'": (r(p, A_prime=g.identity), InvalidElement, "A'"),
        "identity C'": (r(p, C_prime=g.identity), InvalidElement, "C'"),
        "identity D'": (r(p, D_prime=g.identity), InvalidElement, "D'"),
        "identity F'": (r(p, F_prime=Ciphertext((g.identity,), f.beta)), InvalidElement, "F'"),
        "short u": (r(p, u=p.u[:-1]), MalformedInput, "u has 5"),
        "short B": (r(p, B=p.B[:-1]), MalformedInput, "B has 5"),
        "long k_E": (r(p, k_E=(*p.k_E, 1)), MalformedInput, "k_E has 7"),
        "wide k_F": (r(p, k_F=(*p.k_F, 1)), MalformedInput, "k_F"),
        "negative k_C": (r(p, k_C=-1), MalformedInput, "k_C"),
        "non-canonical k_B": (
            r(p, k_B=_replace_row(p.k_B, 0, p.k_B[0] + q)),
            MalformedInput,
            r"k_B\[0\]",
        ),
    }


STATEMENT_CASES = [
    "tampered output",
    "two outputs swapped",
    "output replaced by a re-encryption of another ballot",
    "duplicated output",
    "replayed against another input list",
    "replayed under another election id",
    "other public key",
    "identity public key",
    "identity in an output",
    "one output missing",
    "one input missing",
    "wrong output width",
    "proof in another group",
    "q as a scalar",
]
PROOF_CASES = [
    "B_2",
    "A'",
    "B'_4",
    "C'",
    "D'",
    "F'",
    "u_1",
    "k_A",
    "k_B_3",
    "k_C",
    "k_D",
    "k_E_5",
    "k_F",
    "identity u_0",
    "identity B_5",
    "identity B'_0",
    "identity A'",
    "identity C'",
    "identity D'",
    "identity F'",
    "short u",
    "short B",
    "long k_E",
    "wide k_F",
    "negative k_C",
    "non-canonical k_B",
]


@pytest.mark.parametrize("name", STATEMENT_CASES)
def test_rejects_statement(case: Case, name: str) -> None:
    changes, error, reason = statement_mutations(case)[name]
    with pytest.raises(error, match=reason):
        case.verify(**changes)


@pytest.mark.parametrize("name", PROOF_CASES)
def test_rejects_proof(case: Case, name: str) -> None:
    proof, error, reason = proof_mutations(case.proof, case.group)[name]
    with pytest.raises(error, match=reason):
        case.verify(proof=proof)


def test_cases_cover_the_tables(case: Case) -> None:
    assert sorted(STATEMENT_CASES) == sorted(statement_mutations(case))
    assert sorted(PROOF_CASES) == sorted(proof_mutations(case.proof, case.group))


# --- the byte-tree files --------------------------------------------------------------------------
def _tamper(data: bytes, offset: int, value: bytes) -> bytes:
    return data[:offset] + value + data[offset + len(value) :]


SB = 33
POINT = 81
BYTE_CASES: dict[str, tuple[str, Callable[[bytes, int], bytes], type[Exception], str]] = {
    "truncated reply": ("PoSReply", lambda d, q: d[:-1], MalformedInput, "PoSReply"),
    "reply with trailing byte": ("PoSReply", lambda d, q: d + b"\x00", MalformedInput, "trailing"),
    "truncated commitment": ("PoSCommitment", lambda d, q: d[:-7], MalformedInput, "PoSCommitment"),
    "commitment with trailing bytes": (
        "PoSCommitment",
        lambda d, q: d + b"\x01\x00\x00\x00\x00",
        MalformedInput,
        "trailing",
    ),
    "empty permutation commitment": (
        "PermutationCommitment",
        lambda d, q: b"",
        MalformedInput,
        "truncated",
    ),
    "non-canonical k_A": (
        "PoSReply",
        lambda d, q: _tamper(d, 10, q.to_bytes(SB, "big")),
        MalformedInput,
        "k_A.*non-canonical",
    ),
    "short k_A leaf": (
        "PoSReply",
        lambda d, q: d[:5] + b"\x01\x00\x00\x00\x20" + d[11:],
        MalformedInput,
        "k_A: leaf must be 33 bytes",
    ),
    "k_E count": ("PoSReply", lambda d, q: d, MalformedInput, "k_E"),  # checked with n + 1 below
    "u_0 off curve": (
        "PermutationCommitment",
        lambda d, q: _tamper(d, 5 + 5 + 5 + 32, bytes([d[5 + 5 + 5 + 32] ^ 1])),
        InvalidElement,
        r"PermutationCommitment\[0\]",
    ),
    "u_2 at infinity": (
        "PermutationCommitment",
        lambda d, q: _tamper(
            d, 5 + 2 * POINT + 10, b"\xff" * 33 + b"\x01\x00\x00\x00\x21" + b"\xff" * 33
        ),
        InvalidElement,
        "infinity",
    ),
    "A' is a leaf": (
        "PoSCommitment",
        # same length: node(2) of 81 bytes -> leaf of 76 bytes
        lambda d, q: _tamper(d, 10 + 6 * POINT, b"\x01\x00\x00\x00\x4c"),
        MalformedInput,
        "A': expected a node",
    ),
}


@pytest.mark.parametrize("name", sorted(BYTE_CASES))
def test_decode_proof_rejects(case: Case, name: str) -> None:
    key, mutate, error, reason = BYTE_CASES[name]
    files = encode_proof(case.session, case.proof)
    n = 7 if name == "k_E count" else 6
    if name == "k_E count":
        files = {
            **files,
            "PoSCommitment": encode_proof(case.session, Case(n=7).proof)["PoSCommitment"],
        }
        reason = "B'?|u"
    files = {**files, key: mutate(files[key], case.group.order)}
    with pytest.raises(error, match=reason):
        decode_proof(case.session, files, n, 1)


def test_decode_proof_file_set(case: Case) -> None:
    files = encode_proof(case.session, case.proof)
    with pytest.raises(MalformedInput, match="missing"):
        decode_proof(case.session, {k: v for k, v in files.items() if k != "PoSReply"}, 6, 1)
    with pytest.raises(MalformedInput, match="unknown"):
        decode_proof(case.session, {**files, "Extra": b""}, 6, 1)
    with pytest.raises(MalformedInput, match="5 children, got 6"):
        decode_proof(case.session, files, 5, 1)
    with pytest.raises(MalformedInput):
        decode_proof(case.session, files, 6, 2)


def test_misuse_raises_value_errors(case: Case) -> None:
    res = case.result
    with pytest.raises(ValueError, match="permutation"):
        prove_shuffle(case.session, case.pk, case.inputs, case.outputs, [0] * 6, res.randomness)
    with pytest.raises(ValueError, match="randomness"):
        prove_shuffle(
            case.session, case.pk, case.inputs, case.outputs, res.permutation, res.randomness[:-1]
        )
    with pytest.raises(ValueError, match="empty"):
        shuffle(case.pk, [])
    with pytest.raises(ValueError, match="workers"):
        shuffle(case.pk, case.inputs, workers=0)
    with pytest.raises(ValueError, match="group"):
        encode_proof(ShuffleSession(group("ristretto255"), "x"), case.proof)
