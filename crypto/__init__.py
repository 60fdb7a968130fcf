"""mixvote's pure cryptographic core: groups, ElGamal, proofs, the shuffle, threshold keys.

No I/O happens here and nothing here imports a network, web, database or plotting library
(``tests/unit/test_rings.py`` enforces it).
"""

from crypto.errors import (
    InvalidElement,
    InvalidProof,
    MalformedInput,
    MixvoteError,
    ProtocolViolation,
)
from crypto.groups import GROUPS, Group, group

__all__ = [
    "GROUPS",
    "Group",
    "InvalidElement",
    "InvalidProof",
    "MalformedInput",
    "MixvoteError",
    "ProtocolViolation",
    "group",
]
