"""Reference short-Weierstrass groups on python-ecdsa (with gmpy2): slow, simple, independent.

Curves: NIST P-256 and P-384 (FIPS 186-4 / SP 800-186 §3.2.1), secp256k1 (SEC 2 v2 §2.4.1; the
cross-check of the libsecp256k1 backend: the same scalars give the same bytes),
brainpoolP256r1 (RFC 5639 §3.4), and the two research curves of Aranha, Barreto, Pereira and
Ricardini, "A note on high-security general-purpose elliptic curves" (ePrint 2013/647), with the
parameters and base points listed on SafeCurves (https://safecurves.cr.yp.to/base.html):

* M-221: Montgomery B·v² = u³ + A·u² + u, A = 117050, B = 1, p = 2**221 - 3, cofactor 8, base point
  u = 4 (v as on SafeCurves).
* E-521: Edwards x² + y² = 1 + d·x²y², d = -376014, p = 2**521 - 1, cofactor 4, base point
  (x, 12) as on SafeCurves.

python-ecdsa only does short-Weierstrass arithmetic, so both are carried over birationally
(Bernstein, Birkner, Joye, Lange, Peters, "Twisted Edwards curves", AFRICACRYPT 2008, Thm 3.2, and
Okeya–Kurumatani–Sakurai 2000 for Montgomery → Weierstrass):

* Edwards → Montgomery: u = (1 + y)/(1 - y), v = u/x, with A = 2(1 + d)/(1 - d), B = 4/(1 - d).
* Montgomery → Weierstrass: X = u/B + A/(3B), Y = v/B, giving Y² = X³ + a·X + b with
  a = (3 - A²)/(3B²), b = (2A³ - 9A)/(27B³).

The maps are group isomorphisms (the neutral elements (0, 1) and the point at infinity
correspond), so the group, its order and the discrete logs are those of the published curve; only
the coordinates, and hence the wire encoding, are Weierstrass ones.

Elements: ``x || y`` as fixed-width big-endian coordinates, and ``b""`` for the identity
(python-ecdsa cannot serialise it). Wire encoding: SEC1 compressed (``02``/``03`` || x), fixed
length; the identity is all zero bytes of that length. ``decode`` checks the prefix, x < p, that
x lies on the curve and — for M-221 and E-521 — that the point lies in the prime-order subgroup
(ℓ·P = O), so points of small order and points with a small-order component are rejected.
python-ecdsa's own decoders are not used: they accept off-curve uncompressed points and
coordinates ≥ p.

Embedding: on the cofactor-1 curves, exactly the layout of :mod:`crypto.groups.weierstrass`
(``len || payload || padding || 1-byte counter`` as x, even y). On M-221 and E-521, where a random
x lands in the prime-order subgroup only one time in ``cofactor``, x is the (field_bytes - 1)-byte
string ``len || payload || padding || 2-byte counter`` (top byte zero, so x < p), the even y is
taken, and the first counter whose point lies in the prime-order subgroup is used. ``extract``
accepts exactly the points ``embed`` makes (even y, zero padding, the first counter that works).
``hash_to_element`` is the try-and-increment of :func:`crypto.groups.weierstrass.hash_to_x` under
the curve's own name (so secp256k1-ref and secp256k1 agree), followed by multiplication by the
cofactor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ecdsa import curves as ecdsa_curves
from ecdsa.ellipticcurve import INFINITY, CurveFp, PointJacobi

from crypto.errors import InvalidElement
from crypto.groups.base import Element, Group
from crypto.groups.weierstrass import embed_x, extract_x, hash_to_x, sqrt_mod

_IDENTITY = Element(b"")  # the point at infinity

#: batch_mul_fixed switches to python-ecdsa's precomputed table at this many scalars (measured:
#: the table costs about as much as two plain multiplications and makes each one ~2x faster).
PRECOMPUTE_THRESHOLD = 8


@dataclass(frozen=True)
class CurveParams:
    """Short-Weierstrass domain parameters y² = x³ + a·x + b over F_p with a base point of prime
    order ``order`` and the given cofactor."""

    name: str
    curve_name: str
    p: int
    a: int
    b: int
    order: int
    cofactor: int
    gx: int
    gy: int
    verificatum_name: str | None

    def apply_to(self, g: Any) -> None:
        """Set the attributes a short-Weierstrass group (reference or native) takes from these
        parameters: name, order, field and curve constants, the SEC1 compressed sizes."""
        g.name, g.order, g.field_prime, g.a, g.b = self.name, self.order, self.p, self.a, self.b
        g.cofactor, g.verificatum_name = self.cofactor, self.verificatum_name
        g._fb = (self.p.bit_length() + 7) // 8
        g.element_size = 1 + g._fb
        g.scalar_size = (self.order.bit_length() + 7) // 8


@dataclass
class _CurveView:
    # What the helpers of crypto.groups.weierstrass read (their ``Curve`` protocol, whose
    # attributes are declared settable, hence not frozen).
    name: str
    field_prime: int
    a: int
    b: int
    embed_capacity: int


def _from_ecdsa(
    name: str, curve: Any, verificatum_name: str | None, curve_name: str
) -> CurveParams:
    """Parameters of one of python-ecdsa's named curves."""
    c, g = curve.curve, curve.generator
    return CurveParams(
        name=name,
        curve_name=curve_name,
        p=int(c.p()),
        a=int(c.a()) % int(c.p()),
        b=int(c.b()),
        order=int(curve.order),
        cofactor=int(c.cofactor() or 1),
        gx=int(g.x()),
        gy=int(g.y()),
        verificatum_name=verificatum_name,
    )


def _montgomery_to_weierstrass(
    p: int, mont_a: int, mont_b: int, u: int, v: int
) -> tuple[int, int, int, int]:
    """(a, b, X, Y): the short-Weierstrass curve and point for B·v² = u³ + A·u² + u at (u, v)."""
    inv3, inv_b = pow(3, -1, p), pow(mont_b, -1, p)
    a = (3 - mont_a * mont_a) * pow(3 * mont_b * mont_b, -1, p) % p
    b = (2 * mont_a**3 - 9 * mont_a) * pow(27 * mont_b**3, -1, p) % p
    x = (u * inv_b + mont_a * inv3 * inv_b) % p
    y = v * inv_b % p
    return a, b, x, y


def _m221() -> CurveParams:
    p = 2**221 - 3
    gy = 0x0F7ACDD2A4939571D1CEF14ECA37C228E61DBFF10707DC6C08C5056D
    a, b, x, y = _montgomery_to_weierstrass(p, 117050, 1, 4, gy)
    order = 0x40000000000000000000000000015A08ED730E8A2F77F005042605B
    return CurveParams("M-221", "M-221", p, a, b, order, 8, x, y, None)


def _e521() -> CurveParams:
    p = 2**521 - 1
    d = -376014 % p
    ex = int(
        "752CB45C48648B189DF90CB2296B2878A3BFD9F42FC6C818EC8BF3C9C0C6203913F6ECC5CCC72434B1AE"
        "949D568FC99C6059D0FB13364838AA302A940A2F19BA6C",
        16,
    )
    ey = 12
    mont_a = 2 * (1 + d) * pow(1 - d, -1, p) % p
    mont_b = 4 * pow(1 - d, -1, p) % p
    u = (1 + ey) * pow(1 - ey, -1, p) % p
    v = u * pow(ex, -1, p) % p
    a, b, x, y = _montgomery_to_weierstrass(p, mont_a, mont_b, u, v)
    order = int(
        "7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFD15B6C64746FC85F736B8AF"
        "5E7EC53F04FBD8C4569A8F1F4540EA2435F5180D6B",
        16,
    )
    return CurveParams("E-521", "E-521", p, a, b, order, 4, x, y, None)


class WeierstrassAttributes:
    """The attributes :meth:`CurveParams.apply_to` sets (declared once for both backends)."""

    field_prime: int
    a: int
    b: int
    cofactor: int
    verificatum_name: str | None
    _fb: int


class ReferenceWeierstrass(Group, WeierstrassAttributes):
    """A prime-order subgroup of a short-Weierstrass curve, on python-ecdsa's Jacobian points."""

    params: CurveParams

    def __init__(self) -> None:
        prm = self.params
        prm.apply_to(self)
        # cofactor 1: crypto.groups.weierstrass layout (len, payload, 1-byte counter, full width);
        # otherwise len, payload, 2-byte counter in field_bytes - 1 bytes.
        self.embed_capacity = self._fb - 2 if prm.cofactor == 1 else self._fb - 4
        self.identity = _IDENTITY
        self._zero = bytes(self.element_size)
        self._curve = CurveFp(prm.p, prm.a, prm.b, prm.cofactor)
        self._view = _CurveView(prm.curve_name, prm.p, prm.a, prm.b, self.embed_capacity)
        self._gen = PointJacobi(self._curve, prm.gx, prm.gy, 1, prm.order, generator=True)
        self.generator = self._pack(prm.gx, prm.gy)

    # --- conversions --------------------------------------------------------------------------
    def _pack(self, x: int, y: int) -> Element:
        return Element(int(x).to_bytes(self._fb, "big") + int(y).to_bytes(self._fb, "big"))

    def _jac(self, e: Element) -> Any:
        fb = self._fb
        return PointJacobi(
            self._curve,
            int.from_bytes(e[:fb], "big"),
            int.from_bytes(e[fb:], "big"),
            1,
            self.order,
        )

    def _from_jac(self, point: Any) -> Element:
        if point is INFINITY:  # python-ecdsa returns its affine INFINITY for O
            return _IDENTITY
        aff = point.to_affine()
        if aff is INFINITY:
            return _IDENTITY
        return self._pack(aff.x(), aff.y())

    def _rhs(self, x: int) -> int:
        return (x * x * x + self.a * x + self.b) % self.field_prime

    def _in_subgroup(self, x: int, y: int) -> bool:
        if self.cofactor == 1:
            return True
        # No order given to PointJacobi, so python-ecdsa does not reduce the scalar.
        return bool(PointJacobi(self._curve, x, y, 1) * self.order == INFINITY)

    def _point_even_y(self, x: int) -> tuple[int, int] | None:
        y = sqrt_mod(self._rhs(x), self.field_prime)
        if y is None:
            return None
        return x, (self.field_prime - y if y & 1 else y)

    # --- primitives ---------------------------------------------------------------------------
    def add(self, a: Element, b: Element) -> Element:
        if not a:
            return b
        if not b:
            return a
        return self._from_jac(self._jac(a) + self._jac(b))

    def neg(self, a: Element) -> Element:
        if not a:
            return a
        fb = self._fb
        y = int.from_bytes(a[fb:], "big")
        return Element(a[:fb] + (self.field_prime - y).to_bytes(fb, "big"))

    def mul(self, a: Element, k: int) -> Element:
        """k·a (variable time: python-ecdsa is a reference, not a side-channel-safe backend)."""
        k %= self.order
        if not k or not a:
            return _IDENTITY
        return self._from_jac(self._jac(a) * k)

    def base_mul(self, k: int) -> Element:
        k %= self.order
        if not k:
            return _IDENTITY
        return self._from_jac(self._gen * k)

    def equal(self, a: Element, b: Element) -> bool:
        return a == b  # the internal form (affine X || Y, or b"" at infinity) is canonical

    def encode(self, a: Element) -> bytes:
        if not a:
            return self._zero
        fb = self._fb
        return bytes([2 | (a[-1] & 1)]) + a[:fb]

    def _decode(self, data: bytes) -> Element:
        if data == self._zero:
            return _IDENTITY
        name, p = self.name, self.field_prime
        if data[0] not in (2, 3):
            raise InvalidElement(f"{name}: not a compressed point (prefix must be 02 or 03)")
        x = int.from_bytes(data[1:], "big")
        if x >= p:
            raise InvalidElement(f"{name}: x is not below p (non-canonical)")
        y = sqrt_mod(self._rhs(x), p)
        if y is None:
            raise InvalidElement(f"{name}: x is not the x-coordinate of a curve point")
        if y == 0:
            raise InvalidElement(f"{name}: point of order 2 (small subgroup)")
        if (y & 1) != (data[0] & 1):
            y = p - y
        if not self._in_subgroup(x, y):
            raise InvalidElement(f"{name}: point is not in the prime-order subgroup")
        return self._pack(x, y)

    def hash_to_element(self, dst: str, data: bytes) -> Element:
        point = self._point_even_y(hash_to_x(self._view, dst, data))
        assert point is not None  # hash_to_x only returns x-coordinates of curve points
        element = self._pack(*point)
        if self.cofactor != 1:
            element = self._from_jac(
                PointJacobi(self._curve, point[0], point[1], 1) * self.cofactor
            )
            if not element:
                raise ValueError(f"{self.name}: hashed to a small-order point")  # ~2**-200
        return element

    def embed(self, payload: bytes) -> Element:
        if self.cofactor == 1:
            point = self._point_even_y(embed_x(self._view, payload))
            assert point is not None  # embed_x only returns x-coordinates of curve points
            return self._pack(*point)
        cap = self.embed_capacity
        if len(payload) > cap:
            raise ValueError(f"{self.name}: payload of {len(payload)} bytes exceeds capacity {cap}")
        body = bytes([len(payload)]) + bytes(payload) + bytes(cap - len(payload))
        for counter in range(1 << 16):
            x = int.from_bytes(body + counter.to_bytes(2, "big"), "big")
            point = self._point_even_y(x)
            if point is not None and point[1] != 0 and self._in_subgroup(*point):
                return self._pack(*point)
        raise ValueError(f"{self.name}: no embedding found for this payload")  # ~2**-900

    def extract(self, a: Element) -> bytes:
        if not a or a[-1] & 1:
            raise InvalidElement(f"{self.name}: element is not an embedding (odd y or identity)")
        x = int.from_bytes(a[: self._fb], "big")
        if self.cofactor == 1:
            return extract_x(self._view, x)
        cap = self.embed_capacity
        raw = x.to_bytes(self._fb, "big")
        n = raw[1]
        if raw[0] or n > cap or any(raw[2 + n : 2 + cap]):
            raise InvalidElement(f"{self.name}: element is not an embedding")
        payload = raw[2 : 2 + n]
        if self.embed(payload) != a:
            raise InvalidElement(f"{self.name}: not an embedding (a later counter)")
        return payload

    # --- affine coordinates (for the Verificatum byte-tree encoding) ------------------------------
    def to_affine(self, a: Element) -> tuple[int, int] | None:
        """(x, y), or None for the identity."""
        if not a:
            return None
        fb = self._fb
        return int.from_bytes(a[:fb], "big"), int.from_bytes(a[fb:], "big")

    def from_affine(self, x: int, y: int) -> Element:
        """Validated element from affine coordinates (raises InvalidElement)."""
        p = self.field_prime
        if not (0 <= x < p and 0 <= y < p):
            raise InvalidElement(f"{self.name}: coordinate not below p")
        if (y * y - self._rhs(x)) % p:
            raise InvalidElement(f"{self.name}: point is not on the curve")
        if y == 0 or not self._in_subgroup(x, y):
            raise InvalidElement(f"{self.name}: point is not in the prime-order subgroup")
        return self._pack(x, y)

    # --- batch operations ---------------------------------------------------------------------
    def batch_mul_fixed(self, element: Element, scalars: Sequence[int]) -> list[Element]:
        if len(scalars) < PRECOMPUTE_THRESHOLD or not element:
            return [self.mul(element, k) for k in scalars]
        fb, order = self._fb, self.order
        table = PointJacobi(
            self._curve,
            int.from_bytes(element[:fb], "big"),
            int.from_bytes(element[fb:], "big"),
            1,
            order,
            generator=True,
        )
        out: list[Element] = []
        for k in scalars:
            k %= order
            out.append(Element(self._from_jac(table * k)) if k else _IDENTITY)
        return out

    def sum(self, elements: Sequence[Element]) -> Element:
        acc: Any = INFINITY
        for e in elements:
            if e:
                acc = acc + self._jac(e)
        return _IDENTITY if acc is INFINITY else self._from_jac(acc)

    def multi_mul(self, elements: Sequence[Element], scalars: Sequence[int]) -> Element:
        if len(elements) != len(scalars):
            raise ValueError("multi_mul: elements and scalars differ in length")
        acc: Any = INFINITY
        order = self.order
        for e, k in zip(elements, scalars, strict=True):
            k %= order
            if e and k:
                acc = acc + self._jac(e) * k
        return _IDENTITY if acc is INFINITY else self._from_jac(acc)


class P256(ReferenceWeierstrass):
    """NIST P-256 (secp256r1)."""

    params = _from_ecdsa("P-256", ecdsa_curves.NIST256p, "P-256", "P-256")


class P384(ReferenceWeierstrass):
    """NIST P-384 (secp384r1)."""

    params = _from_ecdsa("P-384", ecdsa_curves.NIST384p, "P-384", "P-384")


class Secp256k1Ref(ReferenceWeierstrass):
    """secp256k1 on python-ecdsa: the cross-check of the libsecp256k1 backend."""

    params = _from_ecdsa("secp256k1-ref", ecdsa_curves.SECP256k1, "secp256k1", "secp256k1")


class BrainpoolP256r1(ReferenceWeierstrass):
    """brainpoolP256r1 (RFC 5639)."""

    params = _from_ecdsa(
        "brainpoolP256r1", ecdsa_curves.BRAINPOOLP256r1, "brainpoolp256r1", "brainpoolP256r1"
    )


class M221(ReferenceWeierstrass):
    """M-221 (ePrint 2013/647), in short-Weierstrass form; cofactor 8."""

    params = _m221()


class E521(ReferenceWeierstrass):
    """E-521 (ePrint 2013/647), in short-Weierstrass form; cofactor 4."""

    params = _e521()
