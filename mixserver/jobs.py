"""CPU-heavy server work, run in a process pool (never on the IOLoop thread).

Each function takes and returns plain bytes/ints/strings so that it pickles cheaply; a failed
check raises its :class:`crypto.errors.MixvoteError`, which pickles back to the caller.
"""

from __future__ import annotations

from collections.abc import Sequence

from crypto import group
from crypto.verify import check_hop, check_share


def verify_hop(
    group_name: str,
    election_id: str,
    public_key: bytes,
    width: int,
    inputs: bytes,
    outputs: bytes,
    proof_items: Sequence[bytes],
    workers: int = 1,
) -> None:
    """Check one hop exactly as the standalone verifier will (:func:`crypto.verify.check_hop`):
    the output list decodes (every element validated) and the shuffle proof verifies against
    (inputs, outputs). Returns None or raises the error that says why."""
    check_hop(group_name, election_id, public_key, width, inputs, outputs, proof_items, workers)


def verify_share(
    group_name: str,
    verification_key: bytes,
    width: int,
    ciphertexts: bytes,
    share: bytes,
    context: bytes,
    position: int,
) -> None:
    """Check node ``position``'s decryption share as the verifier will
    (:func:`crypto.verify.check_share`); returns None or raises the error that says why."""
    check_share(group_name, verification_key, width, ciphertexts, share, context, position)


def combine_and_tally(
    group_name: str,
    width: int,
    ciphertexts: bytes,
    shares: dict[int, bytes],
    t: int,
    choices: Sequence[str],
) -> dict[str, object]:
    """Combine ``t`` verified shares, decode every ballot and count the choices. Returns
    ``{counts: {choice: n}, invalid: n, ballots: n, plaintexts: [payload bytes...]}``."""
    from crypto.ballot import tally
    from crypto.elgamal import decode_ciphertexts
    from crypto.threshold import combine, decode_decryption_share

    g = group(group_name)
    cts = decode_ciphertexts(g, ciphertexts, width)
    decoded = {j: decode_decryption_share(g, s, len(cts), width) for j, s in shares.items()}
    counted = tally(g, combine(g, cts, decoded, t), choices)
    return {
        "counts": counted.counts,
        "invalid": counted.invalid,
        "ballots": len(cts),
        "plaintexts": list(counted.plaintexts),
    }
