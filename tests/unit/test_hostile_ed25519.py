"""Strict Ed25519 everywhere: small-order and non-canonical keys, S ≥ ℓ, bad R (issue 13).

The vectors live in ``tests/vectors/data/ed25519_strict.json``. Provenance: the eight torsion
points of edwards25519 and their non-canonical encodings, as catalogued by Chalkias, Garillot and
Nikolaenko, "Taming the many EdDSAs" (SSR 2020, https://eprint.iacr.org/2020/1244, the
ed25519-speccheck cases) and by libsodium's small-order blocklist (``ed25519_ref10.c``,
``has_small_order``), are *computed* here from the curve equation of RFC 8032 §5.1 — starting from
the order-8 point ``ORDER8_Y``
(checked to have order exactly 8), its multiples give all eight points — together with
Wycheproof-style signature cases (``valid`` / ``invalid`` with a reason) built on the RFC 8032 §7.1
TEST 1 key. Regenerate with ``python -m tests.unit.test_hostile_ed25519 --regen``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crypto.ed25519 import (
    ED25519_L,
    check_ed25519_public_key,
    check_ed25519_signature_encoding,
    verify_ed25519,
)
from crypto.errors import InvalidElement, InvalidProof, MalformedInput, MixvoteError
from crypto.protocol.sessions import NodeSession
from crypto.protocol.wire import Message, decode_frame, encode_body, encode_frame
from crypto.record import verify_body_signature
from crypto.transport import PublicIdentity

DATA = Path(__file__).resolve().parent.parent / "vectors" / "data" / "ed25519_strict.json"

# --- a tiny reference edwards25519 (only to generate the vectors; not used by the code) ---------
P = 2**255 - 19
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
ORDER8_Y = 2707385501144840649318225287225658788936804267575313519463743609750303402022
RFC8032_TEST1_SECRET = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
MESSAGE = b"mixvote strict ed25519 vectors"

Point = tuple[int, int]


def _add(a: Point, b: Point) -> Point:
    (x1, y1), (x2, y2) = a, b
    t = D * x1 * x2 * y1 * y2 % P
    x3 = (x1 * y2 + x2 * y1) * pow(1 + t, P - 2, P) % P
    y3 = (y1 * y2 + x1 * x2) * pow(1 - t, P - 2, P) % P
    return x3, y3


def _mul(k: int, a: Point) -> Point:
    out: Point = (0, 1)
    while k:
        if k & 1:
            out = _add(out, a)
        a, k = _add(a, a), k >> 1
    return out


def _decode(y: int, sign: int) -> Point:
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    if v * x * x % P == (-u) % P:
        x = x * SQRT_M1 % P
    assert v * x * x % P == u % P, "not on the curve"
    return (P - x) % P if (x & 1) != sign else x, y


def _encode(pt: Point, y_offset: int = 0, flip_sign: bool = False) -> str:
    x, y = pt
    sign = (x & 1) ^ int(flip_sign)
    return ((y + y_offset) | (sign << 255)).to_bytes(32, "little").hex()


def generate() -> dict[str, Any]:
    t8 = _decode(ORDER8_Y, 0)
    assert _mul(8, t8) == (0, 1) and _mul(4, t8) != (0, 1), "the generator point has order 8"
    torsion = [_mul(k, t8) for k in range(8)]
    small = sorted({_encode(p) for p in torsion})
    noncanonical: set[str] = set()
    for pt in torsion:
        x, y = pt
        if x == 0:
            noncanonical.add(_encode(pt, flip_sign=True))  # "negative zero" x
        if y + P < 2**255:
            noncanonical.add(_encode(pt, y_offset=P))
            if x == 0:
                noncanonical.add(_encode(pt, y_offset=P, flip_sign=True))
    noncanonical -= set(small)
    secret = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(RFC8032_TEST1_SECRET))
    pub = secret.public_key().public_bytes_raw()
    sig = secret.sign(MESSAGE)
    a = _decode(int.from_bytes(pub, "little") & (2**255 - 1), pub[31] >> 7)
    mixed = _encode(_add(a, t8))
    s_int = int.from_bytes(sig[32:], "little")
    cases: list[dict[str, Any]] = [
        {"comment": "RFC 8032 TEST 1 key, honest signature", "key": pub.hex(),
         "sig": sig.hex(), "result": "valid"},
        {"comment": "message changed", "key": pub.hex(), "sig": sig.hex(),
         "msg": (MESSAGE + b"!").hex(), "result": "invalid", "reason": "invalid"},
        {"comment": "S + ℓ (malleated scalar)", "key": pub.hex(),
         "sig": (sig[:32] + (s_int + ED25519_L).to_bytes(32, "little")).hex(),
         "result": "invalid", "reason": "S ≥ ℓ"},
        {"comment": "S = 2^256 - 1", "key": pub.hex(), "sig": (sig[:32] + b"\xff" * 32).hex(),
         "result": "invalid", "reason": "S ≥ ℓ"},
        {"comment": "issue 13's forgery: identity key, R = identity, S = 0",
         "key": "01" + "00" * 31, "sig": "01" + "00" * 63, "result": "invalid",
         "reason": "small-order"},
        {"comment": "A + T8: a valid key moved off the prime-order subgroup", "key": mixed,
         "sig": sig.hex(), "result": "invalid", "reason": "small-order"},
    ]
    for enc in small:
        cases.append({"comment": "small-order public key", "key": enc, "sig": "01" + "00" * 63,
                      "result": "invalid", "reason": "small-order"})
        cases.append({"comment": "small-order R", "key": pub.hex(), "sig": enc + sig[32:].hex(),
                      "result": "invalid", "reason": "signature point R"})
    for enc in sorted(noncanonical):
        cases.append({"comment": "non-canonical public key", "key": enc, "sig": sig.hex(),
                      "result": "invalid", "reason": "non-canonical"})
        cases.append({"comment": "non-canonical R", "key": pub.hex(), "sig": enc + sig[32:].hex(),
                      "result": "invalid", "reason": "signature point R"})
    return {
        "description": __doc__,
        "message": MESSAGE.hex(),
        "small_order": small,
        "non_canonical": sorted(noncanonical),
        "cases": cases,
    }


def load() -> dict[str, Any]:
    return json.loads(DATA.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_committed_vectors_match_the_generator() -> None:
    assert load() == json.loads(json.dumps(generate()))


def test_eight_small_order_points_and_their_noncanonical_twins() -> None:
    data = load()
    assert len(data["small_order"]) == 8
    assert "01" + "00" * 31 in data["small_order"]  # the identity
    assert "00" * 32 in data["small_order"]  # y = 0, order 4
    assert "ec" + "ff" * 30 + "7f" in data["small_order"]  # y = -1, order 2
    assert "ed" + "ff" * 30 + "7f" in data["non_canonical"]  # y = p ≡ 0
    assert "ee" + "ff" * 30 + "7f" in data["non_canonical"]  # y = p + 1 ≡ 1
    assert len(data["non_canonical"]) >= 6


@pytest.mark.parametrize("case", load()["cases"], ids=lambda c: c["comment"])
def test_wycheproof_style_case(case: dict[str, Any]) -> None:
    key, sig = bytes.fromhex(case["key"]), bytes.fromhex(case["sig"])
    msg = bytes.fromhex(case.get("msg", load()["message"]))
    if case["result"] == "valid":
        verify_ed25519(key, msg, sig)
        return
    with pytest.raises((InvalidProof, InvalidElement)) as info:
        verify_ed25519(key, msg, sig)
    reason = case["reason"]
    assert reason in str(info.value) or (reason == "invalid" and "is invalid" in str(info.value))


@pytest.mark.parametrize("enc", load()["small_order"] + load()["non_canonical"])
def test_every_bad_key_is_refused_by_every_entry_point(enc: str) -> None:
    key = bytes.fromhex(enc)
    with pytest.raises(InvalidElement, match="prime-order subgroup"):
        check_ed25519_public_key(key)
    with pytest.raises(InvalidElement):
        PublicIdentity.from_bytes(key + bytes(range(32)))
    with pytest.raises((InvalidElement, InvalidProof)):
        verify_body_signature(key, b"body", b"\x01" + bytes(63))
    with pytest.raises((InvalidElement, InvalidProof)):
        verify_ed25519(key, b"m", b"\x01" + bytes(63))


def test_signature_encoding_checks_name_the_defect() -> None:
    with pytest.raises(MalformedInput):
        check_ed25519_signature_encoding(b"\x00" * 63)
    with pytest.raises(InvalidProof, match="S ≥ ℓ"):
        check_ed25519_signature_encoding(bytes(32) + (ED25519_L).to_bytes(32, "little"))
    ok = Ed25519PrivateKey.generate().sign(b"x")
    check_ed25519_signature_encoding(ok)  # an honest signature passes the encoding checks


def test_the_identity_forgery_does_not_authenticate_a_node() -> None:
    """Issue 13: key ``01 00…00`` and signature ``01 00…00 ‖ 00…00`` opened a node session."""
    nonce = bytes(range(32))
    identity = b"\x01" + bytes(31)
    msg = Message(
        "auth", "e1", {"public_key": identity + bytes(32), "token": "tok", "nonce": nonce},
        nonce, 1,
    )
    frame = encode_frame(encode_body(msg), identity, b"\x01" + bytes(63))
    with pytest.raises(MixvoteError, match="small-order"):
        decode_frame(frame)
    assert not NodeSession(nonce).authenticated


if __name__ == "__main__" and "--regen" in sys.argv:
    DATA.write_text(json.dumps(generate(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {DATA}")


def test_the_verifier_refuses_an_entry_by_a_small_order_author() -> None:
    """``mixverify`` checks every entry with :func:`verify_body_signature`: a forged entry by the
    identity key fails the chain, naming the entry."""
    from crypto.record import GENESIS, Entry, make_entry, verify_chain

    server = Ed25519PrivateKey.generate()
    first = make_entry("e1", 0, GENESIS, server, b"params")
    forged = Entry("e1", 1, first.hash(), b"\x01" + bytes(31), b"\x01" + bytes(63), b"dkg.done")
    with pytest.raises(MixvoteError, match=r"entry 1.*small-order"):
        verify_chain([first, forged], "e1")
    verify_chain([first], "e1")  # the honest prefix verifies
