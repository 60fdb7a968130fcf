"""Group registry: ``group(name)`` returns a (cached) group; ``GROUPS`` lists the names.

A group name may have two backends: ``"native"`` (the Rust core ``mixvote_native``, built from
``native/`` by ``./dev install`` where cargo exists) and ``"reference"`` (libsecp256k1 through
coincurve, libsodium, python-ecdsa). ``group(name)`` picks the native one when the extension
imports and the reference otherwise; ``group(name, backend="reference")`` asks for one explicitly.
Both give the same bytes for the same inputs (the test suite cross-checks them).
"""

from __future__ import annotations

import importlib
from functools import cache

from crypto.groups.base import RNG, SYSTEM_RNG, Element, Group

# name -> (backend, module, class), in order of preference. Modules are imported on first use, so
# a missing optional backend only fails for the group that needs it.
_BACKENDS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "secp256k1": (
        ("native", "crypto.groups.native", "Secp256k1Native"),
        ("reference", "crypto.groups.secp256k1", "Secp256k1"),
    ),
    "ristretto255": (
        ("native", "crypto.groups.native", "Ristretto255Native"),
        ("reference", "crypto.groups.ristretto255", "Ristretto255"),
    ),
    "P-256": (
        ("native", "crypto.groups.native", "P256Native"),
        ("reference", "crypto.groups.ecdsa_ref", "P256"),
    ),
    "P-384": (
        ("native", "crypto.groups.native", "P384Native"),
        ("reference", "crypto.groups.ecdsa_ref", "P384"),
    ),
    "secp256k1-ref": (("reference", "crypto.groups.ecdsa_ref", "Secp256k1Ref"),),
    "brainpoolP256r1": (("reference", "crypto.groups.ecdsa_ref", "BrainpoolP256r1"),),
    "M-221": (("reference", "crypto.groups.ecdsa_ref", "M221"),),
    "E-521": (("reference", "crypto.groups.ecdsa_ref", "E521"),),
}

GROUPS: tuple[str, ...] = tuple(_BACKENDS)
BACKENDS: tuple[str, ...] = ("native", "reference")
NATIVE_GROUPS: tuple[str, ...] = tuple(
    n for n, entries in _BACKENDS.items() if any(b == "native" for b, _, _ in entries)
)


def native_available() -> bool:
    """Whether the native core (the ``mixvote_native`` extension) imports."""
    from crypto.groups import native

    return native.AVAILABLE


def backend_description() -> str:
    """One line saying which backend ``group(name)`` uses by default, for CLIs to print once:
    ``native (mixvote_native 0.1.0, rust: ...)`` or ``reference (... not importable: ...)``."""
    from crypto.groups import native

    return native.describe()


def _resolve(name: str, backend: str | None) -> tuple[str, str, str]:
    try:
        entries = _BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown group {name!r}; known groups: {', '.join(GROUPS)}") from None
    if backend is None:
        for entry in entries:
            if entry[0] != "native" or native_available():
                return entry
    for entry in entries:
        if entry[0] == backend:
            return entry
    have = ", ".join(b for b, _, _ in entries)
    raise ValueError(f"group {name!r} has no backend {backend!r}; it has: {have}")


def group(name: str, backend: str | None = None) -> Group:
    """The group called ``name`` (one of ``GROUPS``); ``backend`` is None (the fastest available),
    "native" or "reference"."""
    return _instance(name, _resolve(name, backend)[0])


@cache
def _instance(name: str, backend: str) -> Group:
    _, module_name, class_name = _resolve(name, backend)
    cls = getattr(importlib.import_module(module_name), class_name)
    instance: Group = cls()
    return instance


__all__ = [
    "BACKENDS",
    "GROUPS",
    "NATIVE_GROUPS",
    "RNG",
    "SYSTEM_RNG",
    "Element",
    "Group",
    "backend_description",
    "group",
    "native_available",
]
