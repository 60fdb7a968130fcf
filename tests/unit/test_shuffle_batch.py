"""The batch verifier of the shuffle proof (small-exponent test, ``crypto.shuffle.verify``)
against the per-equation reference: same verdict and the same error on every input, a table of
proofs with each component perturbed, compensating perturbations that only random weights catch,
and the batch test alone (without the fallback that names the equation) rejecting them all."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from typing import Any

import pytest

from crypto.elgamal import Ciphertext
from crypto.errors import MixvoteError
from crypto.groups import group
from crypto.shuffle import ShuffleProof, verify_shuffle, verify_shuffle_per_equation
from crypto.shuffle import verify as verify_module
from tests.unit.test_shuffle import (
    PROOF_CASES,
    STATEMENT_CASES,
    Case,
    proof_mutations,
    statement_mutations,
)

SECP = group("secp256k1")


def _outcome(fn: Callable[..., None], **args: Any) -> tuple[str, str] | None:
    try:
        fn(**args)
    except MixvoteError as exc:
        return type(exc).__name__, str(exc)
    return None


def _args(c: Case, **changes: Any) -> dict[str, Any]:
    """The verifier's arguments for case ``c``, with ``changes`` applied."""
    return {
        "session": c.session,
        "pk": c.pk,
        "inputs": c.inputs,
        "outputs": c.outputs,
        "proof": c.proof,
        **changes,
    }


def _both(c: Case, **changes: Any) -> tuple[tuple[str, str] | None, tuple[str, str] | None]:
    args = _args(c, **changes)
    batch = _outcome(verify_shuffle, rng=random.Random(11), **args)
    return batch, _outcome(verify_shuffle_per_equation, **args)


def _batch_alone(c: Case, rng: Any = None, **changes: Any) -> bool:
    """The batch test without the per-equation fallback."""
    args = _args(c, **changes)
    st = verify_module._statement(workers=1, mapper=map, **args)
    return verify_module._batch_holds(st, rng or random.Random(12), map)


@pytest.fixture(scope="module")
def case() -> Case:
    return Case(n=7, width=2)


@pytest.fixture(scope="module")
def case1() -> Case:
    return Case()


# --- same verdict, same error ---------------------------------------------------------------------
@pytest.mark.parametrize("name", STATEMENT_CASES)
def test_statement_table_same_error(case1: Case, name: str) -> None:
    changes, error, _ = statement_mutations(case1)[name]
    batch, reference = _both(case1, **changes)
    assert batch is not None and batch[0] == error.__name__
    assert batch == reference


@pytest.mark.parametrize("name", PROOF_CASES)
def test_proof_table_same_error(case1: Case, name: str) -> None:
    proof, error, _ = proof_mutations(case1.proof, case1.group)[name]
    batch, reference = _both(case1, proof=proof)
    assert batch is not None and batch[0] == error.__name__
    assert batch == reference


def _bump(x: Any, g: Any, k: int = 1) -> Any:
    return g.add(x, g.base_mul(k % g.order))


def _row(seq: tuple[Any, ...], i: int, value: Any) -> tuple[Any, ...]:
    return (*seq[:i], value, *seq[i + 1 :])


def perturbations(p: ShuffleProof, g: Any) -> dict[str, tuple[ShuffleProof, str]]:
    """Each component of the proof perturbed (first, middle and last rows; every width position),
    with the equation the reference names for it."""
    q, r, n = g.order, dataclasses.replace, len(p.u)
    f = p.F_prime
    out: dict[str, tuple[ShuffleProof, str]] = {}
    for i in (0, n // 2, n - 1):
        out[f"u_{i}"] = (r(p, u=_row(p.u, i, _bump(p.u[i], g))), r"equation \(")
        out[f"B_{i}"] = (r(p, B=_row(p.B, i, _bump(p.B[i], g))), r"equation \(")
        out[f"B'_{i}"] = (r(p, B_prime=_row(p.B_prime, i, _bump(p.B_prime[i], g))), r"equation \(")
        out[f"k_B_{i}"] = (
            r(p, k_B=_row(p.k_B, i, (p.k_B[i] + 1) % q)),
            rf"equation \(2\) fails at i={i}\b",
        )
        out[f"k_E_{i}"] = (r(p, k_E=_row(p.k_E, i, (p.k_E[i] - 1) % q)), r"equation \(1\)")
    out["A'"] = (r(p, A_prime=_bump(p.A_prime, g, -1)), r"equation \(")
    out["C'"] = (r(p, C_prime=_bump(p.C_prime, g)), r"equation \(")
    out["D'"] = (r(p, D_prime=_bump(p.D_prime, g)), r"equation \(")
    for k in range(f.width):
        alpha = Ciphertext(_row(f.alpha, k, _bump(f.alpha[k], g)), f.beta)
        beta = Ciphertext(f.alpha, _row(f.beta, k, _bump(f.beta[k], g)))
        out[f"F'.u_{k}"] = (r(p, F_prime=alpha), r"equation \(")
        out[f"F'.v_{k}"] = (r(p, F_prime=beta), r"equation \(")
        k_f = _row(p.k_F, k, (p.k_F[k] + 1) % q)
        out[f"k_F_{k}"] = (r(p, k_F=k_f), rf"equation \(5\) fails at width position {k}")
    out["k_A"] = (r(p, k_A=(p.k_A + q - 1) % q), r"equation \(1\)")
    out["k_C"] = (r(p, k_C=(p.k_C + 1) % q), r"equation \(3\)")
    out["k_D"] = (r(p, k_D=(p.k_D + 1) % q), r"equation \(4\)")
    # pairs that cancel in an unweighted sum: only independent weights catch them
    out["B'_1 + g, B'_2 - g"] = (
        r(
            p,
            B_prime=_row(_row(p.B_prime, 1, _bump(p.B_prime[1], g)), 2, _bump(p.B_prime[2], g, -1)),
        ),
        r"equation \(",
    )
    out["k_B_1 + 1, k_B_2 - 1"] = (
        r(p, k_B=_row(_row(p.k_B, 1, (p.k_B[1] + 1) % q), 2, (p.k_B[2] - 1) % q)),
        r"equation \(2\) fails at i=1\b",
    )
    out["k_C + 1, k_D - 1"] = (
        r(p, k_C=(p.k_C + 1) % q, k_D=(p.k_D - 1) % q),
        r"equation \(3\)",
    )
    return out


PERTURBED = sorted(perturbations(Case(n=7, width=2).proof, SECP))


@pytest.mark.parametrize("name", PERTURBED)
def test_each_component_perturbed(case: Case, name: str) -> None:
    proof, reason = perturbations(case.proof, case.group)[name]
    assert not _batch_alone(case, proof=proof)
    batch, reference = _both(case, proof=proof)
    assert batch is not None and batch[0] == "InvalidProof"
    assert batch == reference
    with pytest.raises(MixvoteError, match=reason):
        verify_shuffle(case.session, case.pk, case.inputs, case.outputs, proof)


@pytest.mark.parametrize("name", ["tampered output", "two outputs swapped", "other public key"])
def test_batch_alone_rejects_statements(case1: Case, name: str) -> None:
    changes, _, _ = statement_mutations(case1)[name]
    assert not _batch_alone(case1, **changes)


# --- honest proofs -------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_honest_proof_passes_for_any_weights(case: Case, seed: int) -> None:
    assert _batch_alone(case, rng=random.Random(seed))
    assert _both(case) == (None, None)


def test_default_rng_is_the_os_csprng(case: Case) -> None:
    verify_shuffle(case.session, case.pk, case.inputs, case.outputs, case.proof)


def test_weights_have_128_bits_and_come_from_the_rng() -> None:
    a = verify_module._weights(random.Random(5), 1000)
    assert a == verify_module._weights(random.Random(5), 1000)
    assert a != verify_module._weights(random.Random(6), 1000)
    assert verify_module.WEIGHT_BITS >= 128
    assert all(0 <= x < 1 << verify_module.WEIGHT_BITS for x in a)
    assert max(a).bit_length() == verify_module.WEIGHT_BITS
    assert len(set(a)) == len(a)


@pytest.mark.parametrize(
    "name,n,width", [("ristretto255", 5, 1), ("P-256", 4, 2), ("P-384", 3, 1), ("secp256k1", 1, 3)]
)
def test_groups_and_shapes(name: str, n: int, width: int) -> None:
    c = Case(group(name), n=n, width=width)
    assert _both(c) == (None, None)
    bad = dataclasses.replace(
        c.proof, k_B=_row(c.proof.k_B, n - 1, (c.proof.k_B[-1] + 1) % c.group.order)
    )
    batch, reference = _both(c, proof=bad)
    assert batch is not None and batch == reference
    assert f"equation (2) fails at i={n - 1}" in batch[1]


def test_reference_backend_same_verdicts() -> None:
    """The pure-Python group (its vartime_msm is one multiplication per term) gives the same
    verdicts as the native one."""
    ref = Case(group("secp256k1", backend="reference"), n=5)
    nat = Case(SECP, n=5)
    assert ref.proof.k_A == nat.proof.k_A  # same rng, same proof
    for c in (ref, nat):
        assert _both(c) == (None, None)
        bad = dataclasses.replace(c.proof, k_C=(c.proof.k_C + 1) % c.group.order)
        batch, reference = _both(c, proof=bad)
        assert batch == reference and batch is not None and "equation (3)" in batch[1]


def test_parallel_chunks_agree(case: Case) -> None:
    big = Case(n=140)
    verify_shuffle(big.session, big.pk, big.inputs, big.outputs, big.proof, workers=2)
    bad = dataclasses.replace(
        big.proof, k_B=_row(big.proof.k_B, 70, (big.proof.k_B[70] + 1) % SECP.order)
    )
    for workers in (1, 2, 3):
        with pytest.raises(MixvoteError, match=r"equation \(2\) fails at i=70\b"):
            verify_shuffle(big.session, big.pk, big.inputs, big.outputs, bad, workers=workers)


# --- the native byte-tree encoding ---------------------------------------------------------------
@pytest.mark.parametrize("name", ["secp256k1", "P-256", "P-384", "ristretto255"])
def test_native_trees_equal_the_codec(name: str) -> None:
    from crypto.shuffle.session import _trees
    from crypto.verificatum import codec

    g = group(name)
    rng = random.Random(3)
    elements = [g.base_mul(rng.randrange(1, g.order)) for _ in range(20)] + [g.identity]
    assert _trees(g, elements) == b"".join(codec(g).points(elements))
    ref = group(name, backend="reference")
    enc = g.encode_many(elements)
    ref_elements = ref.decode_many(enc, allow_identity=True)
    assert _trees(g, elements) == b"".join(codec(ref).points(ref_elements))


def test_affine_trees_rejects_misuse() -> None:
    with pytest.raises(ValueError, match="coord_size"):
        SECP.affine_trees([SECP.generator], b"", b"", 10, b"")  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="infinity"):
        SECP.affine_trees([SECP.generator], b"", b"", 33, b"x")  # type: ignore[attr-defined]


# --- the fast proof decoder ---------------------------------------------------------------------
@pytest.mark.parametrize("name", ["secp256k1", "P-256", "P-384"])
def test_fast_proof_decoder_agrees_with_the_strict_one(name: str) -> None:
    from crypto.shuffle import codec as proof_codec
    from crypto.shuffle import decode_proof, encode_proof

    c = Case(group(name), n=5, width=2)
    files = encode_proof(c.session, c.proof)
    fast = proof_codec._decode_proof_columns(c.session, files, 5, 2)
    assert fast == proof_codec._decode_proof_trees(c.session, files, 5, 2) == c.proof
    point = codec_point_size(c)
    com = files["PoSCommitment"]
    # deviations the fast path must hand to the strict parser (which rejects them)
    bad = {
        "off-curve u_0": {
            **files,
            "PermutationCommitment": _flip(files["PermutationCommitment"], 5 + 20),
        },
        "padding byte of B_1": {**files, "PoSCommitment": _flip(com, 10 + point + 10)},
        "off-curve B'_4": {
            **files,
            "PoSCommitment": _flip(com, 10 + 6 * point + 5 + 4 * point + 30),
        },
        "truncated": {**files, "PoSCommitment": com[:-1]},
        "trailing byte": {**files, "PoSCommitment": com + b"\x00"},
    }
    for label, tampered in bad.items():
        assert proof_codec._decode_proof_columns(c.session, tampered, 5, 2) is None, label
        with pytest.raises(MixvoteError):
            decode_proof(c.session, tampered, 5, 2)


def codec_point_size(c: Case) -> int:
    from crypto.verificatum import codec

    return codec(c.group).point_size


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x40]) + data[at + 1 :]


def test_msm_pieces_agree(case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows cut into MSMs of 3 rows (pieces end inside the chain of equation (2))."""
    monkeypatch.setattr(verify_module, "MSM_ROWS", 3)
    assert verify_module._pieces([(0, 7)]) == [(0, 3), (3, 6), (6, 7)]
    assert _batch_alone(case)
    for i in (2, 3, 6):
        k_b = _row(case.proof.k_B, i, (case.proof.k_B[i] + 1) % case.group.order)
        bad = dataclasses.replace(case.proof, k_B=k_b)
        assert not _batch_alone(case, proof=bad)
        b = _row(case.proof.B, i, _bump(case.proof.B[i], case.group))
        assert not _batch_alone(case, proof=dataclasses.replace(case.proof, B=b))


def test_inline_pieces_give_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inline runs cut the rows into pieces of PIECE_ROWS (bounded memory); the outputs and the
    proof do not depend on the cut."""
    from crypto.shuffle import prove_shuffle, shuffle
    from crypto.shuffle import session as session_module

    whole = Case(n=11, width=2)
    monkeypatch.setattr(session_module, "PIECE_ROWS", 4)
    assert session_module._parts(1, 11) == [(0, 4), (4, 8), (8, 11)]
    assert session_module._parts(2, 11) == [(0, 6), (6, 11)]
    cut = Case(n=11, width=2)
    assert cut.outputs == whole.outputs
    assert cut.proof == whole.proof
    res = shuffle(cut.pk, cut.inputs, random.Random(7))
    assert (
        prove_shuffle(
            cut.session,
            cut.pk,
            cut.inputs,
            res.outputs,
            res.permutation,
            res.randomness,
            random.Random(8),
        )
        == whole.proof
    )
    assert _both(cut) == (None, None)
    bad = dataclasses.replace(
        cut.proof, k_B=_row(cut.proof.k_B, 4, (cut.proof.k_B[4] + 1) % SECP.order)
    )
    batch, reference = _both(cut, proof=bad)
    assert batch == reference and batch is not None and "equation (2) fails at i=4" in batch[1]
