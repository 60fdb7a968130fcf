"""ElGamal: round trips, re-encryption, the batch path, the validated wire codec (all groups)."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crypto
from crypto import elgamal
from crypto.elgamal import Ciphertext, PublicKey
from crypto.errors import InvalidElement, MalformedInput
from crypto.groups.base import Group


@pytest.fixture(params=crypto.GROUPS)
def grp(request: pytest.FixtureRequest) -> Group:
    return crypto.group(request.param)


def random_elements(grp: Group, rng: random.Random, n: int) -> list[bytes]:
    return grp.batch_base_mul([rng.randrange(1, grp.order) for _ in range(n)])


def off_group_encoding(grp: Group, valid: bytes) -> bytes:
    """A right-length encoding that the group's decoder rejects (a variant of ``valid``)."""
    for last in range(256):
        candidate = valid[:-1] + bytes([last])
        try:
            grp.decode(candidate, allow_identity=True)
        except InvalidElement:
            return candidate
    raise AssertionError("no invalid variant found")  # pragma: no cover


@pytest.mark.parametrize("width", [1, 2, 3])
def test_encrypt_decrypt_round_trip(grp: Group, width: int) -> None:
    rng = random.Random(width)
    x, pk = elgamal.keygen(grp, rng)
    messages = random_elements(grp, rng, width)
    ct, rs = elgamal.encrypt(pk, messages, rng)
    assert ct.width == width and len(rs) == width
    assert elgamal.decrypt(grp, x, ct) == tuple(messages)
    # The wrong key does not decrypt.
    assert elgamal.decrypt(grp, x + 1, ct) != tuple(messages)


def test_encrypt_with_matches_the_formula(grp: Group) -> None:
    rng = random.Random(7)
    x, pk = elgamal.keygen(grp, rng)
    assert pk.y == grp.base_mul(x)
    messages = random_elements(grp, rng, 2)
    rs = [rng.randrange(1, grp.order) for _ in range(2)]
    ct = elgamal.encrypt_with(pk, messages, rs)
    for k in range(2):
        assert ct.alpha[k] == grp.base_mul(rs[k])
        assert ct.beta[k] == grp.add(grp.mul(pk.y, rs[k]), messages[k])
    # One independent exponent per position: equal messages give unrelated pairs.
    same = elgamal.encrypt(pk, [messages[0], messages[0]], rng)[0]
    assert same.alpha[0] != same.alpha[1]


def test_encrypt_with_rejects_bad_randomness(grp: Group) -> None:
    _, pk = elgamal.keygen(grp, random.Random(1))
    m = [grp.generator, grp.generator]
    with pytest.raises(ValueError, match=r"randomness\[1\] is 0"):
        elgamal.encrypt_with(pk, m, [5, grp.order])
    with pytest.raises(ValueError, match="randomness has 1 values"):
        elgamal.encrypt_with(pk, m, [5])
    with pytest.raises(TypeError, match=r"randomness\[0\]"):
        elgamal.encrypt_with(pk, m, [1.5, 2])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="at least one"):
        elgamal.encrypt_with(pk, [], [])


def test_ciphertext_shape_is_checked() -> None:
    with pytest.raises(ValueError, match="alpha has 2 positions but beta has 1"):
        Ciphertext((b"a", b"b"), (b"c",))
    with pytest.raises(ValueError, match="at least 1"):
        Ciphertext((), ())
    with pytest.raises(TypeError):
        Ciphertext([b"a"], [b"b"])  # type: ignore[arg-type]


@pytest.mark.parametrize("width", [1, 3])
def test_reencrypt_decrypts_to_the_same(grp: Group, width: int) -> None:
    rng = random.Random(100 + width)
    x, pk = elgamal.keygen(grp, rng)
    messages = tuple(random_elements(grp, rng, width))
    ct, _ = elgamal.encrypt(pk, messages, rng)
    ct2, rs2 = elgamal.reencrypt(pk, ct, rng)
    assert len(rs2) == width
    assert all(a != b for a, b in zip(ct.alpha, ct2.alpha, strict=True))
    assert all(a != b for a, b in zip(ct.beta, ct2.beta, strict=True))
    assert elgamal.decrypt(grp, x, ct2) == messages
    assert elgamal.reencrypt_with(pk, ct, rs2) == ct2
    # Re-encrypting with 0 is the identity map.
    assert elgamal.reencrypt_with(pk, ct, [0] * width) == ct


def test_batch_reencrypt_equals_one_by_one(grp: Group) -> None:
    rng = random.Random(5)
    x, pk = elgamal.keygen(grp, rng)
    width = 2
    cts = [elgamal.encrypt(pk, random_elements(grp, rng, width), rng)[0] for _ in range(4)]
    rss = [[rng.randrange(1, grp.order) for _ in range(width)] for _ in cts]
    batch = elgamal.batch_reencrypt(pk, cts, rss)
    assert batch == [elgamal.reencrypt_with(pk, c, r) for c, r in zip(cts, rss, strict=True)]
    assert [elgamal.decrypt(grp, x, c) for c in batch] == [elgamal.decrypt(grp, x, c) for c in cts]
    assert elgamal.batch_reencrypt(pk, [], []) == []
    with pytest.raises(ValueError, match="2 ciphertexts but 1 randomness"):
        elgamal.batch_reencrypt(pk, cts[:2], rss[:1])
    with pytest.raises(ValueError, match=r"batch_reencrypt\[1\]"):
        elgamal.batch_reencrypt(pk, cts[:2], [rss[0], rss[1][:1]])


@pytest.mark.parametrize("width", [1, 2, 3])
def test_ciphertext_codec_round_trip(grp: Group, width: int) -> None:
    rng = random.Random(width)
    _, pk = elgamal.keygen(grp, rng)
    cts = [elgamal.encrypt(pk, random_elements(grp, rng, width), rng)[0] for _ in range(3)]
    one = elgamal.encode_ciphertext(grp, cts[0])
    assert len(one) == 2 * width * grp.element_size
    # Layout: alpha_1..alpha_w then beta_1..beta_w.
    assert one[: grp.element_size] == grp.encode(cts[0].alpha[0])
    assert one[width * grp.element_size : (width + 1) * grp.element_size] == grp.encode(
        cts[0].beta[0]
    )
    assert elgamal.decode_ciphertext(grp, one, width) == cts[0]
    many = elgamal.encode_ciphertexts(grp, cts)
    assert many == b"".join(elgamal.encode_ciphertext(grp, c) for c in cts)
    assert elgamal.decode_ciphertexts(grp, many, width) == cts
    assert elgamal.decode_ciphertexts(grp, b"", width) == []
    assert elgamal.encode_ciphertexts(grp, []) == b""


def test_beta_may_be_the_identity(grp: Group) -> None:
    # beta = r·y + m is the identity for m = -r·y: a legitimate ciphertext that must round-trip.
    rng = random.Random(3)
    x, pk = elgamal.keygen(grp, rng)
    r = rng.randrange(1, grp.order)
    ct = elgamal.encrypt_with(pk, [grp.neg(grp.mul(pk.y, r))], [r])
    assert grp.is_identity(ct.beta[0])
    data = elgamal.encode_ciphertext(grp, ct)
    assert elgamal.decode_ciphertext(grp, data, 1) == ct
    assert elgamal.decrypt(grp, x, ct) == (grp.neg(grp.mul(pk.y, r)),)


def _wire_list(grp: Group, width: int, n: int) -> tuple[list[bytes], PublicKey]:
    """``n`` ciphertexts as lists of element encodings (alpha_1..alpha_w, beta_1..beta_w)."""
    rng = random.Random(11)
    _, pk = elgamal.keygen(grp, rng)
    out = []
    for _ in range(n):
        ct = elgamal.encrypt(pk, random_elements(grp, rng, width), rng)[0]
        out.append(grp.batch_encode([*ct.alpha, *ct.beta]))
    return [b"".join(parts) for parts in out], pk


@pytest.mark.parametrize(
    ("case", "slot", "error", "where"),
    [
        ("identity", "alpha", InvalidElement, r"ciphertext 2, alpha\[1\]"),
        ("off-group", "alpha", InvalidElement, r"ciphertext 2, alpha\[1\]"),
        ("off-group", "beta", InvalidElement, r"ciphertext 2, beta\[1\]"),
    ],
)
def test_decode_ciphertexts_rejects_bad_elements_and_names_them(
    grp: Group, case: str, slot: str, error: type[Exception], where: str
) -> None:
    width, size = 2, grp.element_size
    encoded, _ = _wire_list(grp, width, 3)
    target = bytearray(encoded[2])
    offset = (1 if slot == "alpha" else width + 1) * size
    valid = bytes(target[offset : offset + size])
    bad = grp.encode(grp.identity) if case == "identity" else off_group_encoding(grp, valid)
    target[offset : offset + size] = bad
    data = b"".join([encoded[0], encoded[1], bytes(target)])
    with pytest.raises(error, match=where):
        elgamal.decode_ciphertexts(grp, data, width)
    with pytest.raises(error, match=r"ciphertext 0, " + slot):
        elgamal.decode_ciphertext(grp, bytes(target), width)


def test_decode_ciphertext_rejects_wrong_lengths(grp: Group) -> None:
    encoded, _ = _wire_list(grp, 2, 2)
    data = b"".join(encoded)
    for bad in (data[:-1], data + b"\x00", data[: grp.element_size]):
        with pytest.raises(MalformedInput, match="not a multiple"):
            elgamal.decode_ciphertexts(grp, bad, 2)
    with pytest.raises(MalformedInput, match="expected"):
        elgamal.decode_ciphertext(grp, data, 2)  # two ciphertexts where one is expected
    with pytest.raises(MalformedInput, match="expected"):
        elgamal.decode_ciphertext(grp, encoded[0], 1)  # right bytes, wrong width
    with pytest.raises(MalformedInput, match="expected bytes"):
        elgamal.decode_ciphertexts(grp, "text", 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="width must be at least 1"):
        elgamal.decode_ciphertexts(grp, b"", 0)


def test_public_key_codec(grp: Group) -> None:
    x, pk = elgamal.keygen(grp, random.Random(2))
    assert elgamal.decode_public_key(grp, elgamal.encode_public_key(pk)) == pk
    assert elgamal.public_key(grp, x) == pk
    with pytest.raises(InvalidElement, match="identity"):
        elgamal.decode_public_key(grp, grp.encode(grp.identity))
    with pytest.raises(InvalidElement):
        elgamal.decode_public_key(grp, elgamal.encode_public_key(pk)[:-1])
    with pytest.raises(ValueError, match="non-zero"):
        elgamal.public_key(grp, grp.order)


@pytest.mark.parametrize("name", crypto.GROUPS)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), width=st.integers(1, 3))
def test_property_round_trips(name: str, data: st.DataObject, width: int) -> None:
    grp = crypto.group(name)
    scalars = st.integers(1, grp.order - 1)
    x = data.draw(scalars, "x")
    pk = elgamal.public_key(grp, x)
    messages = grp.batch_base_mul(data.draw(st.lists(scalars, min_size=width, max_size=width)))
    rs = data.draw(st.lists(scalars, min_size=width, max_size=width))
    ct = elgamal.encrypt_with(pk, messages, rs)
    assert elgamal.decrypt(grp, x, ct) == tuple(messages)
    wire = elgamal.encode_ciphertext(grp, ct)
    assert elgamal.decode_ciphertext(grp, wire, width) == ct
    rs2 = data.draw(st.lists(st.integers(0, grp.order - 1), min_size=width, max_size=width))
    assert elgamal.decrypt(grp, x, elgamal.reencrypt_with(pk, ct, rs2)) == tuple(messages)
