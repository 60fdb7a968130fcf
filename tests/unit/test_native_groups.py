"""The native core (``mixvote_native``) against the reference backends, byte for byte.

Same scalars give the same bytes; decoding accepts and rejects the same inputs (wrong length,
bad prefix, x ≥ p, x of a twist point, non-canonical and negative ristretto255 encodings, the
identity under both policies); the multi-scalar multiplication equals the naive sum; the registry
prefers the native backend, keeps the reference reachable, and falls back when the extension is
missing. Under CI the extension must be there: these tests fail rather than skip.
"""

from __future__ import annotations

import os
import pickle
import random
import subprocess
import sys
import textwrap
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypto.errors import InvalidElement
from crypto.groups import NATIVE_GROUPS, backend_description, group, native
from crypto.groups.base import Group
from crypto.groups.weierstrass import sqrt_mod

HOW_TO_BUILD = (
    "the native core (mixvote_native) is not installed: run ./dev install (needs cargo) "
    "or .venv/bin/pip install ./native"
)
if not native.AVAILABLE:
    if os.environ.get("CI"):
        pytest.fail(f"{HOW_TO_BUILD} ({native.IMPORT_ERROR})", pytrace=False)
    pytest.skip(HOW_TO_BUILD, allow_module_level=True)

WEIERSTRASS = ("secp256k1", "P-256", "P-384")


@pytest.fixture(params=NATIVE_GROUPS)
def pair(request: pytest.FixtureRequest) -> tuple[Group, Group]:
    return group(request.param, "native"), group(request.param, "reference")


def outcome(g: Group, data: bytes, allow_identity: bool) -> tuple[str, bytes]:
    """("ok", wire bytes) or ("rejected", b"") for one decode."""
    try:
        return "ok", g.encode(g.decode(data, allow_identity=allow_identity))
    except InvalidElement:
        return "rejected", b""


def twist_xs(g: Group, count: int) -> list[int]:
    """x-coordinates whose x³ + ax + b is not a square: points of the quadratic twist."""
    p, a, b = g.field_prime, g.a, g.b  # type: ignore[attr-defined]
    out, x = [], 1
    while len(out) < count:
        if sqrt_mod(x * x * x + a * x + b, p) is None:
            out.append(x)
        x += 1
    return out


def weierstrass_inputs(g: Group, rng: random.Random) -> list[bytes]:
    fb, p = g.element_size - 1, g.field_prime  # type: ignore[attr-defined]
    valid = [g.encode(g.base_mul(rng.randrange(1, g.order))) for _ in range(6)]
    x0 = valid[0][1:]
    out = [*valid, bytes(fb + 1), g.encode(g.generator)]
    out += [bytes([prefix]) + x0 for prefix in (0, 1, 4, 5, 6, 7, 0xFF)]
    out += [bytes([prefix]) + (p + d).to_bytes(fb, "big") for prefix in (2, 3) for d in (0, 1, 7)]
    out += [bytes([prefix]) + bytes([0xFF] * fb) for prefix in (2, 3)]
    out += [bytes([prefix]) + bytes(fb) for prefix in (2, 3)]  # x = 0
    out += [bytes([2 + (i & 1)]) + x.to_bytes(fb, "big") for i, x in enumerate(twist_xs(g, 6))]
    out += [bytes([2 + rng.randrange(2)]) + rng.randbytes(fb) for _ in range(20)]
    out += [b"\x00" * fb + b"\x01", b"\x01" + bytes(fb)]  # almost the identity
    for v in valid[:3]:
        i = rng.randrange(1, fb + 1)
        out.append(v[:i] + bytes([v[i] ^ (1 << rng.randrange(8))]) + v[i + 1 :])
    return out


def ristretto_inputs(g: Group, rng: random.Random) -> list[bytes]:
    p = 2**255 - 19
    valid = [g.encode(g.base_mul(rng.randrange(1, g.order))) for _ in range(6)]
    out = [*valid, bytes(32), g.encode(g.generator)]
    out += [v[:31] + bytes([v[31] | 0x80]) for v in valid[:3]]  # top bit set
    out += [bytes([v[0] ^ 1]) + v[1:] for v in valid[:3]]  # negative s
    out += [(p + d).to_bytes(32, "little") for d in (0, 1, 2, 4)]  # s ≥ p, non-canonical
    out += [bytes(31) + b"\x80", b"\x01" + bytes(31), bytes([0xFF] * 32)]
    out += [rng.randbytes(32) for _ in range(20)]
    out += [bytes([2 * rng.randrange(128)]) + rng.randbytes(30) + b"\x00" for _ in range(20)]
    return out


# --- byte-for-byte agreement -----------------------------------------------------------------
def test_same_scalars_give_the_same_bytes(pair: tuple[Group, Group]) -> None:
    nat, ref = pair
    rng = random.Random(f"scalars-{nat.name}")
    q = nat.order
    ks = [0, 1, 2, q - 1, q, q + 1, -1, -q - 5, 2 * q + 3] + [rng.randrange(q) for _ in range(24)]
    assert nat.encode(nat.generator) == ref.encode(ref.generator)
    assert nat.batch_encode(nat.batch_base_mul(ks)) == ref.batch_encode(ref.batch_base_mul(ks))
    assert [nat.encode(nat.base_mul(k)) for k in ks] == ref.batch_encode(ref.batch_base_mul(ks))
    points_n = [*nat.batch_base_mul([rng.randrange(q) for _ in ks[:-1]]), nat.identity]
    points_r = ref.batch_decode(nat.batch_encode(points_n), allow_identity=True)
    same = ref.batch_encode
    assert nat.batch_encode(nat.batch_mul(points_n, ks)) == same(ref.batch_mul(points_r, ks))
    assert [nat.encode(nat.mul(a, k)) for a, k in zip(points_n, ks, strict=True)] == same(
        ref.batch_mul(points_r, ks)
    )
    for a_n, a_r in ((points_n[3], points_r[3]), (nat.identity, ref.identity)):
        assert nat.batch_encode(nat.batch_mul_fixed(a_n, ks)) == same(ref.batch_mul_fixed(a_r, ks))
    rev_n, rev_r = points_n[::-1], points_r[::-1]
    assert nat.batch_encode(nat.batch_add(points_n, rev_n)) == same(ref.batch_add(points_r, rev_r))
    assert nat.encode(nat.add(points_n[1], nat.neg(points_n[1]))) == bytes(nat.element_size)
    assert [nat.encode(nat.neg(a)) for a in points_n] == [ref.encode(ref.neg(a)) for a in points_r]
    assert [nat.encode(nat.sub(a, b)) for a, b in zip(points_n, rev_n, strict=True)] == [
        ref.encode(ref.sub(a, b)) for a, b in zip(points_r, rev_r, strict=True)
    ]
    assert nat.encode(nat.sum(points_n)) == ref.encode(ref.sum(points_r))
    assert nat.encode(nat.sum([])) == ref.encode(ref.sum([]))
    assert nat.encode(nat.multi_mul(points_n, ks)) == ref.encode(ref.multi_mul(points_r, ks))
    assert nat.encode(nat.vartime_msm(points_n, ks)) == ref.encode(ref.multi_mul(points_r, ks))


def test_reencrypt_many_matches_the_reference(pair: tuple[Group, Group]) -> None:
    nat, ref = pair
    rng = random.Random(f"reenc-{nat.name}")
    q = nat.order
    y = nat.base_mul(rng.randrange(1, q))
    alphas = nat.batch_base_mul([rng.randrange(1, q) for _ in range(9)])
    betas = [*nat.batch_base_mul([rng.randrange(q) for _ in range(8)]), nat.identity]
    rs = [rng.randrange(q) for _ in range(8)] + [0]
    a_n, b_n = nat.reencrypt_many(y, alphas, betas, rs)
    dec = ref.batch_decode
    a_r, b_r = ref.reencrypt_many(
        ref.decode(nat.encode(y)),
        dec(nat.batch_encode(alphas), allow_identity=True),
        dec(nat.batch_encode(betas), allow_identity=True),
        rs,
    )
    assert (nat.batch_encode(a_n), nat.batch_encode(b_n)) == (
        ref.batch_encode(a_r),
        ref.batch_encode(b_r),
    )
    assert nat.batch_encode(a_n) == nat.batch_encode(nat.batch_add(alphas, nat.batch_base_mul(rs)))
    with pytest.raises(ValueError, match="differ in length"):
        nat.reencrypt_many(y, alphas, betas[:-1], rs)


def test_hashing_and_embedding_match_the_reference(pair: tuple[Group, Group]) -> None:
    nat, ref = pair
    for dst, data in (("gens", b""), ("gens", b"\x00\x01"), ("other", b"x" * 100)):
        h = nat.hash_to_element(dst, data)
        assert nat.encode(h) == ref.encode(ref.hash_to_element(dst, data))
    assert nat.embed_capacity == ref.embed_capacity
    for payload in (b"", b"\x00", b"ab", bytes(range(nat.embed_capacity))):
        e = nat.embed(payload)
        assert nat.encode(e) == ref.encode(ref.embed(payload))
        assert nat.extract(e) == payload
    with pytest.raises(ValueError, match="exceeds capacity"):
        nat.embed(bytes(nat.embed_capacity + 1))
    rng = random.Random(f"extract-{nat.name}")
    for enc in [nat.encode(nat.base_mul(rng.randrange(1, nat.order))) for _ in range(12)]:
        results = []
        for g in (nat, ref):
            try:
                results.append(g.extract(g.decode(enc)))
            except InvalidElement:
                results.append(None)
        assert results[0] == results[1]
    with pytest.raises(InvalidElement):
        nat.extract(nat.identity)


@pytest.mark.parametrize("allow_identity", [False, True])
def test_decode_accepts_and_rejects_exactly_what_the_reference_does(
    pair: tuple[Group, Group], allow_identity: bool
) -> None:
    nat, ref = pair
    rng = random.Random(f"decode-{nat.name}")
    make: Callable[[Group, random.Random], list[bytes]] = (
        ristretto_inputs if nat.name == "ristretto255" else weierstrass_inputs
    )
    inputs = make(nat, rng)
    size = nat.element_size
    inputs += [b"", bytes(size - 1), bytes(size + 1), inputs[0] + b"\x00", inputs[0][:-1]]
    results = [(outcome(nat, d, allow_identity), outcome(ref, d, allow_identity)) for d in inputs]
    for d, (n, r) in zip(inputs, results, strict=True):
        assert n == r, d.hex()
    # both outcomes occur, so the comparison above is not vacuous
    kinds = {n[0] for n, _ in results}
    assert kinds == {"ok", "rejected"}


def test_decode_many_names_the_first_bad_index(pair: tuple[Group, Group]) -> None:
    nat, ref = pair
    rng = random.Random(f"column-{nat.name}")
    good = [nat.encode(nat.base_mul(rng.randrange(1, nat.order))) for _ in range(600)]
    column = b"".join(good)
    decoded = nat.decode_many(column)
    assert nat.batch_encode(decoded) == good
    assert nat.encode_many(decoded) == column
    assert ref.encode_many(ref.decode_many(column)) == column
    bad = bytes([0xFF]) * nat.element_size
    for index in (0, 5, 300, 599):
        broken = [*good[:index], bad, *good[index + 1 :]]
        for g in (nat, ref):
            with pytest.raises(InvalidElement, match=rf"element {index}\b"):
                g.decode_many(b"".join(broken))
        # two bad ones: the lower index is reported
        twice = broken[:]
        twice[-1] = bad
        with pytest.raises(InvalidElement, match=rf"element {index}\b"):
            nat.decode_many(b"".join(twice))
    identity_column = column[: nat.element_size * 2] + bytes(nat.element_size)
    with pytest.raises(InvalidElement, match="element 2: the identity"):
        nat.decode_many(identity_column)
    assert nat.decode_many(identity_column, allow_identity=True)[2] == nat.identity
    with pytest.raises(InvalidElement, match="whole number"):
        nat.decode_many(column + b"\x02")
    with pytest.raises(InvalidElement, match="element 1 must be"):
        nat.batch_decode([good[0], good[1][:-1]])


@pytest.mark.parametrize("name", WEIERSTRASS)
def test_affine_coordinates_match_and_are_validated(name: str) -> None:
    nat, ref = group(name, "native"), group(name, "reference")
    point = nat.base_mul(123456789)
    xy = nat.to_affine(point)  # type: ignore[attr-defined]
    assert xy == ref.to_affine(ref.decode(nat.encode(point)))  # type: ignore[attr-defined]
    assert nat.to_affine(nat.identity) is None  # type: ignore[attr-defined]
    assert nat.from_affine(*xy) == point  # type: ignore[attr-defined]
    x, y = xy
    p = nat.field_prime  # type: ignore[attr-defined]
    twist_x = twist_xs(nat, 1)[0]
    for bad in ((x, (y + 1) % p), (x, p - y + 1), (p, y), (x, p), (-1, y), (twist_x, y)):
        with pytest.raises(InvalidElement):
            nat.from_affine(*bad)  # type: ignore[attr-defined]
        with pytest.raises(InvalidElement):
            ref.from_affine(*bad)  # type: ignore[attr-defined]


# --- multi-scalar multiplication -------------------------------------------------------------
@pytest.mark.parametrize("threads", [1, 2])
def test_vartime_msm_equals_the_naive_sum(pair: tuple[Group, Group], threads: int) -> None:
    nat, _ = pair
    rng = random.Random(f"msm-{nat.name}")
    q = nat.order
    n = 700
    points = nat.batch_base_mul([rng.randrange(q) for _ in range(n)])
    points[10] = nat.identity
    scalars = [rng.randrange(q) for _ in range(n)]
    scalars[20] = 0
    scalars[30] = q - 1
    naive = nat.sum([nat.mul(p, k) for p, k in zip(points, scalars, strict=True)])
    previous = native.get_threads()
    native.set_threads(threads)
    try:
        assert nat.vartime_msm(points, scalars) == naive
        assert nat.multi_mul(points, scalars) == naive
        assert nat.batch_mul(points, scalars) == [
            nat.mul(p, k) for p, k in zip(points, scalars, strict=True)
        ]
    finally:
        native.set_threads(previous)
    assert nat.vartime_msm([], []) == nat.identity
    assert nat.vartime_msm(points[:3], [0, 0, 0]) == nat.identity
    # P + (q-1)·P = O: a result at infinity comes back as the identity
    assert nat.vartime_msm([points[0], points[0]], [1, q - 1]) == nat.identity
    with pytest.raises(ValueError, match="differ in length"):
        nat.vartime_msm(points[:2], scalars[:3])


@pytest.mark.parametrize("name", NATIVE_GROUPS)
def test_msm_property(name: str) -> None:
    nat, ref = group(name, "native"), group(name, "reference")
    q = nat.order
    scalar = st.one_of(st.sampled_from([0, 1, q - 1]), st.integers(0, q - 1))

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(st.tuples(scalar, scalar), max_size=12))
    def check(terms: list[tuple[int, int]]) -> None:
        points = nat.batch_base_mul([a for a, _ in terms])
        scalars = [k for _, k in terms]
        expected = sum((a * k for a, k in terms), 0) % q
        assert nat.vartime_msm(points, scalars) == nat.base_mul(expected)
        ref_points = ref.batch_decode(nat.batch_encode(points), allow_identity=True)
        assert nat.encode(nat.vartime_msm(points, scalars)) == ref.encode(
            ref.multi_mul(ref_points, scalars)
        )

    check()


@pytest.mark.parametrize("name", NATIVE_GROUPS)
def test_mul_property(name: str) -> None:
    nat, ref = group(name, "native"), group(name, "reference")
    q = nat.order
    scalar = st.one_of(st.sampled_from([0, 1, 2, q - 1]), st.integers(-2 * q, 2 * q))

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(scalar, scalar)
    def check(a: int, k: int) -> None:
        point = nat.base_mul(a)
        assert nat.encode(nat.mul(point, k)) == ref.encode(ref.base_mul(a * k))
        assert nat.mul(point, k) == nat.base_mul(a * k)
        assert nat.decode(nat.encode(point), allow_identity=True) == point

    check()


# --- registry, threads, misuse ---------------------------------------------------------------
def test_registry_prefers_native_and_keeps_the_reference(pair: tuple[Group, Group]) -> None:
    nat, ref = pair
    assert group(nat.name) is nat
    assert nat.backend == "native" and ref.backend == "reference"
    assert type(ref).__module__ != "crypto.groups.native"
    assert pickle.loads(pickle.dumps(nat)) is nat
    assert pickle.loads(pickle.dumps(ref)) is ref
    assert backend_description().startswith("native (mixvote_native ")
    with pytest.raises(ValueError, match="has no backend 'gpu'"):
        group(nat.name, "gpu")
    with pytest.raises(ValueError, match="has no backend 'native'"):
        group("brainpoolP256r1", "native")


def test_elements_of_another_backend_are_refused() -> None:
    nat = group("secp256k1", "native")
    ref = group("secp256k1", "reference")
    with pytest.raises(ValueError, match="internal form"):
        nat.batch_mul([ref.generator + b"\x00"], [3])
    with pytest.raises(ValueError, match="not a curve point"):
        nat.add(bytes([1]) * 64, nat.generator)


def test_set_threads_validates() -> None:
    for bad in (0, -1, 1025, 1.5, True):
        with pytest.raises(ValueError, match="set_threads"):
            native.set_threads(bad)  # type: ignore[arg-type]
    assert native.get_threads() == 1


def test_without_the_extension_the_reference_backends_serve() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["mixvote_native"] = None  # import fails as on a machine without cargo
        from crypto.groups import backend_description, group, native_available
        assert not native_available()
        assert backend_description().startswith("reference (mixvote_native not importable")
        for name in ("secp256k1", "ristretto255", "P-256", "P-384"):
            g = group(name)
            assert g.backend == "reference", name
            assert g.decode(g.encode(g.base_mul(7))) == g.base_mul(7)
        try:
            group("P-256", "native")
        except ImportError as exc:
            assert "./dev install" in str(exc)
        else:
            raise AssertionError("the native backend was built without its extension")
        print("reference ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "reference ok"
