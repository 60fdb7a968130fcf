"""Generate ``data/invalid_encodings.json``: Wycheproof-style encodings every group decoder must
reject (and a few it must accept), for every group of the registry.

Run ``.venv/bin/python -m tests.vectors.gen_invalid_encodings`` to rewrite the file; the test
``test_invalid_encodings.py`` checks that the stored file is what this script makes, then runs
every case against every backend of every group.

The cases are computed with plain integer arithmetic and python-ecdsa's Jacobian points from the
curves' published domain parameters (SEC 2 for secp256k1, FIPS 186-5 / SP 800-186 for P-256 and
P-384, RFC 5639 for brainpoolP256r1, ePrint 2013/647 for M-221 and E-521, mapped to short
Weierstrass form as ``crypto.groups.ecdsa_ref`` documents), not with the decoders under test:

* ``wrong-length``: empty, one byte short, one byte long;
* ``bad-prefix``: the base point's x under SEC1 prefixes other than 02/03 (00, 01, 04, 05, ff);
* ``identity``: the all-zero encoding, allowed only where the caller allows the identity;
* ``non-canonical``: x = p and x = p + x(G) (the second reduces to the base point mod p);
* ``off-curve``: x whose x³ + ax + b is not a square mod p, i.e. a point of the quadratic twist;
* ``small-subgroup`` (M-221, E-521): points of order 2, 4 and 8, found as ℓ·P for points P of
  the whole curve group (order h·ℓ);
* ``mixed-order`` (M-221, E-521): G + T for a small-order T: on the curve, outside the subgroup.

For ristretto255 the invalid encodings of RFC 9496 Appendix A.2 (``data/rfc9496.json``) are taken
as they are, plus wrong lengths and generated non-canonical field encodings (s ≥ p, the top bit
set, a negative s).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ecdsa.ellipticcurve import INFINITY, CurveFp, PointJacobi

from crypto.groups.ecdsa_ref import (
    E521,
    M221,
    P256,
    P384,
    BrainpoolP256r1,
    CurveParams,
    Secp256k1Ref,
)

DATA = Path(__file__).resolve().parent / "data"
OUT = DATA / "invalid_encodings.json"

#: Registry name -> the parameters its encoding follows (secp256k1's two backends share them).
WEIERSTRASS: dict[str, CurveParams] = {
    "secp256k1": Secp256k1Ref.params,
    "secp256k1-ref": Secp256k1Ref.params,
    "P-256": P256.params,
    "P-384": P384.params,
    "brainpoolP256r1": BrainpoolP256r1.params,
    "M-221": M221.params,
    "E-521": E521.params,
}
RISTRETTO_P = 2**255 - 19


def _sqrt(value: int, p: int) -> int | None:
    """A square root mod p (Tonelli–Shanks), or None for a non-residue."""
    value %= p
    if value == 0:
        return 0
    if pow(value, (p - 1) // 2, p) != 1:
        return None
    q, s = p - 1, 0
    while q % 2 == 0:
        q, s = q // 2, s + 1
    z = next(z for z in range(2, p) if pow(z, (p - 1) // 2, p) == p - 1)
    m, c, t, r = s, pow(z, q, p), pow(value, q, p), pow(value, (q + 1) // 2, p)
    while t != 1:
        i, t2 = 0, t
        while t2 != 1:
            t2, i = t2 * t2 % p, i + 1
        b = pow(c, 1 << (m - i - 1), p)
        m, c, t, r = i, b * b % p, t * b * b % p, r * b % p
    return r


def _compressed(c: CurveParams, x: int, y: int) -> str:
    fb = (c.p.bit_length() + 7) // 8
    return (bytes([2 | (y & 1)]) + x.to_bytes(fb, "big")).hex()


def _affine(point: Any) -> tuple[int, int] | None:
    if point == INFINITY:
        return None
    affine = point.to_affine()
    return int(affine.x()), int(affine.y())


def _small_order(c: CurveParams) -> list[tuple[int, int, int]]:
    """(order, x, y) of one point of each small order dividing the cofactor (order > 1)."""
    curve = CurveFp(c.p, c.a, c.b, c.cofactor)
    found: dict[int, tuple[int, int]] = {}
    x = 1
    while len(found) < max(1, c.cofactor.bit_length() - 1) and x < 10_000:
        x += 1
        y = _sqrt(x**3 + c.a * x + c.b, c.p)
        if y is None:
            continue
        torsion = _affine(PointJacobi(curve, x, y, 1) * c.order)
        if torsion is None:
            continue
        tx, ty = torsion
        order, acc = 1, PointJacobi(curve, tx, ty, 1)
        while acc != INFINITY:
            acc, order = acc + PointJacobi(curve, tx, ty, 1), order + 1
        found.setdefault(order, (tx, ty))
    return [(order, *found[order]) for order in sorted(found)]


def weierstrass_cases(name: str, c: CurveParams) -> dict[str, Any]:
    fb = (c.p.bit_length() + 7) // 8
    size = 1 + fb
    base = _compressed(c, c.gx, c.gy)
    curve = CurveFp(c.p, c.a, c.b, c.cofactor)
    g2 = _affine(PointJacobi(curve, c.gx, c.gy, 1) * 2)
    assert g2 is not None
    valid = [
        {"encoding": base, "comment": "the base point G"},
        {"encoding": _compressed(c, *g2), "comment": "2G"},
    ]
    invalid: list[dict[str, str]] = [
        {"encoding": "", "reason": "wrong-length", "comment": "empty"},
        {"encoding": base[:-2], "reason": "wrong-length", "comment": "G, one byte short"},
        {"encoding": base + "00", "reason": "wrong-length", "comment": "G, one byte long"},
        {"encoding": "04" + c.gx.to_bytes(fb, "big").hex() + c.gy.to_bytes(fb, "big").hex(),
         "reason": "wrong-length", "comment": "G uncompressed (SEC1 04 || x || y)"},
    ]
    for prefix in ("00", "01", "04", "05", "ff"):
        invalid.append({"encoding": prefix + base[2:], "reason": "bad-prefix",
                        "comment": f"x(G) under prefix {prefix}"})
    invalid.append({"encoding": "00" * size, "reason": "identity",
                    "comment": "the identity's all-zero encoding"})
    invalid.append({"encoding": "02" + c.p.to_bytes(fb, "big").hex(), "reason": "non-canonical",
                    "comment": "x = p"})
    if c.p + c.gx < 1 << (8 * fb):
        invalid.append({"encoding": base[:2] + (c.p + c.gx).to_bytes(fb, "big").hex(),
                        "reason": "non-canonical", "comment": "x = p + x(G), G mod p"})
    invalid.append({"encoding": "02" + ((1 << (8 * fb)) - 1).to_bytes(fb, "big").hex(),
                    "reason": "non-canonical", "comment": "x = 2^(8·len) - 1"})
    twist = [x for x in range(1, 200) if _sqrt(x**3 + c.a * x + c.b, c.p) is None][:3]
    for x in twist:
        for prefix in ("02", "03"):
            invalid.append({"encoding": prefix + x.to_bytes(fb, "big").hex(),
                            "reason": "off-curve", "comment": f"x = {x}, on the quadratic twist"})
    if c.cofactor != 1:
        for order, tx, ty in _small_order(c):
            invalid.append({"encoding": _compressed(c, tx, ty), "reason": "small-subgroup",
                            "comment": f"a point of order {order}"})
            mixed = _affine(PointJacobi(curve, c.gx, c.gy, 1) + PointJacobi(curve, tx, ty, 1))
            assert mixed is not None
            invalid.append({"encoding": _compressed(c, *mixed), "reason": "mixed-order",
                            "comment": f"G + a point of order {order}"})
    return {"element_size": size, "curve": c.curve_name, "p": hex(c.p), "cofactor": c.cofactor,
            "valid": valid, "invalid": invalid}


def ristretto_cases() -> dict[str, Any]:
    rfc = json.loads((DATA / "rfc9496.json").read_text())
    base = rfc["multiples"][1]
    le = lambda v: v.to_bytes(32, "little").hex()  # noqa: E731
    invalid = [
        {"encoding": "", "reason": "wrong-length", "comment": "empty"},
        {"encoding": base[:-2], "reason": "wrong-length", "comment": "B, one byte short"},
        {"encoding": base + "00", "reason": "wrong-length", "comment": "B, one byte long"},
        {"encoding": "00" * 32, "reason": "identity", "comment": "the identity"},
        {"encoding": le(RISTRETTO_P), "reason": "non-canonical", "comment": "s = p"},
        {"encoding": le(RISTRETTO_P + 2), "reason": "non-canonical", "comment": "s = p + 2"},
        {"encoding": le(int.from_bytes(bytes.fromhex(base), "little") | 1 << 255),
         "reason": "non-canonical", "comment": "B with the top bit set"},
        {"encoding": le(1), "reason": "non-canonical", "comment": "s = 1, negative (odd)"},
    ]
    invalid += [{"encoding": case["encoding"], "reason": "rfc9496-a2", "comment": case["reason"]}
                for case in rfc["invalid"]]
    valid = [{"encoding": base, "comment": "the generator B (RFC 9496 A.1)"},
             {"encoding": rfc["multiples"][2], "comment": "2B (RFC 9496 A.1)"}]
    return {"element_size": 32, "curve": "ristretto255", "p": hex(RISTRETTO_P), "cofactor": 1,
            "valid": valid, "invalid": invalid}


def generate() -> dict[str, Any]:
    groups = {name: weierstrass_cases(name, c) for name, c in WEIERSTRASS.items()}
    groups["ristretto255"] = ristretto_cases()
    return {
        "provenance": {
            "generator": "tests/vectors/gen_invalid_encodings.py",
            "style": "Wycheproof (https://github.com/C2SP/wycheproof): invalid inputs a decoder "
                     "must reject, each with its reason",
            "sources": {
                "secp256k1": "SEC 2 v2.0 (https://www.secg.org/sec2-v2.pdf), via python-ecdsa",
                "P-256, P-384": "FIPS 186-5 / NIST SP 800-186, via python-ecdsa",
                "brainpoolP256r1": "RFC 5639, via python-ecdsa",
                "M-221, E-521": "Aranha et al., ePrint 2013/647 (short-Weierstrass form as in "
                                "crypto/groups/ecdsa_ref.py)",
                "ristretto255": "RFC 9496 Appendix A.1/A.2 (data/rfc9496.json) and generated "
                                "non-canonical field encodings",
            },
        },
        "groups": groups,
    }


def render() -> str:
    return json.dumps(generate(), indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}")
