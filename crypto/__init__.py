"""mixvote's cryptographic core, in four layers; each imports only itself and those before it
(``tests/unit/test_rings.py`` enforces it):

1. the maths — :mod:`.errors` (the one error hierarchy and its table), :mod:`.encoding`,
   :mod:`.hashing`, :mod:`.executor` (the injected ``mapper``), :mod:`.report` (the one report
   type), :mod:`.groups`, :mod:`.elgamal`, :mod:`.ballot`, :mod:`.proofs`, :mod:`.dkg`,
   :mod:`.threshold`, :mod:`.transport`, :mod:`.shuffle`, :mod:`.verificatum`;
2. the protocol — :mod:`.protocol` (messages, frames, state machines, the Verificatum export of
   an election) and :mod:`.record` (entries, chain, signatures);
3. the verifier — :mod:`.verify`;
4. the edge — :mod:`.io`, the only modules here allowed the OS, processes, threads, files and
   progress bars (process pools, reading directories, the ``mixverify`` command).

Layers 1–3 do no I/O and draw randomness only from an injected ``rng``.
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
