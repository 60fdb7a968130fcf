"""The small group interface every backend implements.

A group is a prime-order group written additively here (``add``, ``mul``); the Verificatum module
and the papers write it multiplicatively. Elements are :data:`Element`, a distinct type over
immutable ``bytes`` in a backend-internal representation: hashable, comparable with ``==`` (one
value per element), cheap to pickle to worker processes. Only the group produces them — its
operations and :meth:`Group.decode`, the one way in from outside, which checks length, canonical
form, curve and subgroup membership and the identity; raw wire bytes stay ``bytes`` and mypy
refuses them where an element is expected. They are never sent anywhere as they are: ``encode``
gives the canonical wire encoding (fixed length, ``element_size`` bytes).

Scalars are Python ints reduced mod ``order``. Randomised helpers take an ``rng`` (anything with
``randrange``), defaulting to the OS CSPRNG.
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import NewType, Protocol

from crypto.errors import InvalidElement

Element = NewType("Element", bytes)
"""A validated group element in the backend's internal form (opaque; ``encode`` for the wire).
Made only by a backend's operations and its validating decoder."""


class RNG(Protocol):
    """What randomised functions need: ``random.Random`` (tests) or ``secrets.SystemRandom``."""

    def randrange(self, start: int, stop: int | None = ..., step: int = ...) -> int: ...


SYSTEM_RNG: RNG = secrets.SystemRandom()


class Group(ABC):
    """A prime-order group. Subclasses provide the primitive operations; batch operations have
    plain-loop defaults that fast backends override."""

    name: str
    order: int
    element_size: int
    identity: Element
    generator: Element
    #: Bytes of a canonical scalar encoding.
    scalar_size: int
    #: Bytes of a plaintext that ``encode_bytes``/``embed`` can carry in one element.
    embed_capacity: int
    #: Which implementation this is: "native" (the Rust core) or "reference" (everything else).
    backend: str = "reference"

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        # Groups travel to worker processes by name and backend and are rebuilt from the registry
        # there, so a worker uses the same internal element form as its parent.
        from crypto.groups import group

        return (group, (self.name, self.backend))

    def __repr__(self) -> str:
        return f"<Group {self.name}>"

    # --- primitives ---------------------------------------------------------------------------
    @abstractmethod
    def add(self, a: Element, b: Element) -> Element:
        """a + b."""

    @abstractmethod
    def neg(self, a: Element) -> Element:
        """-a."""

    @abstractmethod
    def mul(self, a: Element, k: int) -> Element:
        """k·a (constant time in the fast backends)."""

    @abstractmethod
    def base_mul(self, k: int) -> Element:
        """k·g for the standard generator g."""

    @abstractmethod
    def encode(self, a: Element) -> bytes:
        """Canonical fixed-length encoding (``element_size`` bytes); the identity has one too."""

    @abstractmethod
    def _decode(self, data: bytes) -> Element:
        """Decode and validate a canonical encoding, identity included; raise InvalidElement."""

    @abstractmethod
    def hash_to_element(self, dst: str, data: bytes) -> Element:
        """Deterministic element with no known discrete log, domain-separated by ``dst``."""

    @abstractmethod
    def embed(self, payload: bytes) -> Element:
        """Reversibly map at most ``embed_capacity`` bytes into a group element."""

    @abstractmethod
    def extract(self, a: Element) -> bytes:
        """Inverse of :meth:`embed`; raises InvalidElement when ``a`` is no embedding."""

    # --- derived operations -------------------------------------------------------------------
    def decode(self, data: bytes, *, allow_identity: bool = False) -> Element:
        """The one trust-boundary decoder: bytes from outside become an element here or raise."""
        self._check_encoding(data)
        element = self._decode(bytes(data))
        if element == self.identity and not allow_identity:
            raise InvalidElement(f"{self.name}: the identity element is not allowed here")
        return element

    def _check_encoding(self, data: object) -> None:
        """Raise InvalidElement unless ``data`` is bytes of one element's encoded length."""
        if not isinstance(data, (bytes, bytearray)):
            raise InvalidElement(f"{self.name}: element must be bytes, got {type(data).__name__}")
        if len(data) != self.element_size:
            raise InvalidElement(
                f"{self.name}: element encoding must be {self.element_size} bytes, got {len(data)}"
            )

    def _check_column(self, data: object) -> None:
        """Raise InvalidElement unless ``data`` is bytes of a whole number of encodings."""
        if not isinstance(data, (bytes, bytearray)):
            raise InvalidElement(f"{self.name}: column must be bytes, got {type(data).__name__}")
        if len(data) % self.element_size:
            raise InvalidElement(
                f"{self.name}: a column of {len(data)} bytes is not a whole number of "
                f"{self.element_size}-byte elements"
            )

    def sub(self, a: Element, b: Element) -> Element:
        """a - b."""
        return self.add(a, self.neg(b))

    def is_identity(self, a: Element) -> bool:
        return a == self.identity

    def equal(self, a: Element, b: Element) -> bool:
        """Whether ``a`` and ``b`` are the same element, compared by canonical encoding: a
        backend's internal form need not be canonical (libsecp256k1 documents its public-key
        struct as opaque). A backend whose internal form *is* canonical may compare directly."""
        return self.encode(a) == self.encode(b)

    def first_unequal(self, xs: Sequence[Element], ys: Sequence[Element]) -> int:
        """The first index where two equally long lists differ (by canonical encoding), or -1."""
        if len(xs) != len(ys):
            raise ValueError("first_unequal: the lists differ in length")
        for i, (x, y) in enumerate(zip(self.batch_encode(xs), self.batch_encode(ys), strict=True)):
            if x != y:
                return i
        return -1

    def random_scalar(self, rng: RNG | None = None) -> int:
        """Uniform non-zero scalar."""
        return (rng or SYSTEM_RNG).randrange(1, self.order)

    def encode_scalar(self, k: int) -> bytes:
        """Fixed-width big-endian scalar (``scalar_size`` bytes), reduced mod the order."""
        return (k % self.order).to_bytes(self.scalar_size, "big")

    def decode_scalar(self, data: bytes, what: str = "scalar") -> int:
        """Canonical scalar from outside: exactly ``scalar_size`` bytes, value below the order."""
        from crypto.encoding import decode_uint

        return decode_uint(bytes(data), self.scalar_size, self.order, f"{self.name} {what}")

    def sum(self, elements: Sequence[Element]) -> Element:
        """Sum of many elements."""
        acc = self.identity
        for e in elements:
            acc = self.add(acc, e)
        return acc

    def batch_add(self, a: Sequence[Element], b: Sequence[Element]) -> list[Element]:
        """Element-wise sums."""
        if len(a) != len(b):
            raise ValueError("batch_add: sequences differ in length")
        return [self.add(x, y) for x, y in zip(a, b, strict=True)]

    def batch_mul(self, elements: Sequence[Element], scalars: Sequence[int]) -> list[Element]:
        """[k_i·P_i]."""
        if len(elements) != len(scalars):
            raise ValueError("batch_mul: elements and scalars differ in length")
        return [self.mul(p, k) for p, k in zip(elements, scalars, strict=True)]

    def batch_mul_fixed(self, element: Element, scalars: Sequence[int]) -> list[Element]:
        """[k_i·P] for one fixed P (backends may precompute for P)."""
        return [self.mul(element, k) for k in scalars]

    def batch_base_mul(self, scalars: Sequence[int]) -> list[Element]:
        """[k_i·g]."""
        return [self.base_mul(k) for k in scalars]

    def multi_mul(self, elements: Sequence[Element], scalars: Sequence[int]) -> Element:
        """Σ k_i·P_i."""
        return self.sum(self.batch_mul(elements, scalars))

    def batch_encode(self, elements: Sequence[Element]) -> list[bytes]:
        return [self.encode(e) for e in elements]

    def encode_many(self, elements: Sequence[Element]) -> bytes:
        """The concatenated wire encodings of a column of elements."""
        return b"".join(self.batch_encode(elements))

    def decode_many(self, data: bytes, *, allow_identity: bool = False) -> list[Element]:
        """Decode a column of concatenated wire encodings (``element_size`` bytes each) with the
        checks of :meth:`decode`; the error names the index of the first invalid element."""
        self._check_column(data)
        size = self.element_size
        out: list[Element] = []
        for i in range(len(data) // size):
            chunk = bytes(data[i * size : (i + 1) * size])
            try:
                out.append(self.decode(chunk, allow_identity=allow_identity))
            except InvalidElement as exc:
                raise InvalidElement(f"{self.name}: element {i}: {exc}") from None
        return out

    def vartime_msm(self, elements: Sequence[Element], scalars: Sequence[int]) -> Element:
        """Σ k_i·P_i for public points and scalars. Fast backends use a variable-time
        multi-scalar multiplication (Pippenger/Straus); the default is :meth:`multi_mul`."""
        if len(elements) != len(scalars):
            raise ValueError("vartime_msm: elements and scalars differ in length")
        return self.multi_mul(elements, scalars)

    def reencrypt_many(
        self,
        y: Element,
        alphas: Sequence[Element],
        betas: Sequence[Element],
        rs: Sequence[int],
    ) -> tuple[list[Element], list[Element]]:
        """ElGamal re-encryption of a column: ([alpha_i + r_i·g], [beta_i + r_i·y]); the r_i are
        secret (constant-time multiplication in the fast backends)."""
        if not len(alphas) == len(betas) == len(rs):
            raise ValueError("reencrypt_many: alphas, betas and rs differ in length")
        return (
            self.batch_add(alphas, self.batch_base_mul(rs)),
            self.batch_add(betas, self.batch_mul_fixed(y, rs)),
        )

    def batch_decode(
        self, encodings: Sequence[bytes], *, allow_identity: bool = False
    ) -> list[Element]:
        return [self.decode(d, allow_identity=allow_identity) for d in encodings]
