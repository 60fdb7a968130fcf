"""Group registry: ``group(name)`` returns a (cached) group; ``GROUPS`` lists the names."""

from __future__ import annotations

import importlib
from functools import cache

from crypto.groups.base import RNG, SYSTEM_RNG, Element, Group

# name -> (module, class). Modules are imported on first use, so a missing optional backend only
# fails for the group that needs it.
_BACKENDS: dict[str, tuple[str, str]] = {
    "secp256k1": ("crypto.groups.secp256k1", "Secp256k1"),
    "ristretto255": ("crypto.groups.ristretto255", "Ristretto255"),
    "P-256": ("crypto.groups.ecdsa_ref", "P256"),
    "P-384": ("crypto.groups.ecdsa_ref", "P384"),
    "secp256k1-ref": ("crypto.groups.ecdsa_ref", "Secp256k1Ref"),
    "brainpoolP256r1": ("crypto.groups.ecdsa_ref", "BrainpoolP256r1"),
    "M-221": ("crypto.groups.ecdsa_ref", "M221"),
    "E-521": ("crypto.groups.ecdsa_ref", "E521"),
}

GROUPS: tuple[str, ...] = tuple(_BACKENDS)


@cache
def group(name: str) -> Group:
    """The group called ``name`` (one of ``GROUPS``)."""
    try:
        module_name, class_name = _BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown group {name!r}; known groups: {', '.join(GROUPS)}") from None
    cls = getattr(importlib.import_module(module_name), class_name)
    instance: Group = cls()
    return instance


__all__ = ["GROUPS", "RNG", "SYSTEM_RNG", "Element", "Group", "group"]
