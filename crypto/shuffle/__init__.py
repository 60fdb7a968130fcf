"""The re-encryption shuffle and its Terelius–Wikström proof, in Verificatum's format.

:mod:`.session` (the statement: ρ, generators, Fiat–Shamir), :mod:`.prove` (shuffle and prove),
:mod:`.verify` (check), :mod:`.codec` (the proof files). So on the curves Verificatum knows,
``vmnv`` accepts our proofs and :func:`verify_shuffle` accepts Verificatum's.
"""

from crypto.shuffle.codec import (
    PROOF_FILES,
    ShuffleProof,
    decode_ciphertext_list,
    decode_proof,
    encode_ciphertext_list,
    encode_proof,
)
from crypto.shuffle.prove import ShuffleResult, prove_shuffle, shuffle
from crypto.shuffle.session import ShuffleSession
from crypto.shuffle.verify import verify_shuffle, verify_shuffle_per_equation

__all__ = [
    "PROOF_FILES",
    "ShuffleProof",
    "ShuffleResult",
    "ShuffleSession",
    "decode_ciphertext_list",
    "decode_proof",
    "encode_ciphertext_list",
    "encode_proof",
    "prove_shuffle",
    "shuffle",
    "verify_shuffle",
    "verify_shuffle_per_equation",
]
