"""CPU-heavy server work, run in a process pool (never on the IOLoop thread).

Each function takes and returns plain bytes/ints/strings so that it pickles cheaply, and reports a
failed check as ``(False, reason)`` rather than raising across the process boundary.
"""

from __future__ import annotations

from collections.abc import Sequence

from crypto import group
from crypto.errors import MixvoteError
from crypto.wire import decode_proof_files, shuffle_sid


def verify_hop(
    group_name: str,
    election_id: str,
    public_key: bytes,
    width: int,
    inputs: bytes,
    outputs: bytes,
    proof_items: Sequence[bytes],
    workers: int = 1,
) -> tuple[bool, str]:
    """Check one hop: the output list decodes (every element validated) and the shuffle proof
    verifies against (inputs, outputs). Returns (True, "") or (False, reason)."""
    from crypto.elgamal import decode_ciphertexts, decode_public_key
    from crypto.shuffle import ShuffleSession, decode_proof, verify_shuffle

    try:
        g = group(group_name)
        pk = decode_public_key(g, public_key)
        ins = decode_ciphertexts(g, inputs, width)
        outs = decode_ciphertexts(g, outputs, width)
        if len(outs) != len(ins):
            return False, f"output list has {len(outs)} ballots, input has {len(ins)}"
        session = ShuffleSession(g, shuffle_sid(election_id))
        proof = decode_proof(session, decode_proof_files(proof_items), len(ins), width)
        verify_shuffle(session, pk, ins, outs, proof, workers=workers)
    except MixvoteError as exc:
        return False, f"{type(exc).__name__}: {exc}"
    except (ValueError, TypeError) as exc:
        return False, f"malformed hop result: {exc}"
    return True, ""


def verify_share(
    group_name: str,
    verification_key: bytes,
    width: int,
    ciphertexts: bytes,
    share: bytes,
    context: bytes,
    position: int,
) -> tuple[bool, str]:
    """Check a node's decryption share (its index must be the node's position)."""
    from crypto.elgamal import decode_ciphertexts
    from crypto.threshold import decode_decryption_share, verify_decryption_share

    try:
        g = group(group_name)
        cts = decode_ciphertexts(g, ciphertexts, width)
        decoded = decode_decryption_share(g, share, len(cts), width)
        if decoded.index != position:
            return False, f"share claims index {decoded.index}, sent by node {position}"
        verify_decryption_share(g, g.decode(verification_key), cts, decoded, context)
    except MixvoteError as exc:
        return False, f"{type(exc).__name__}: {exc}"
    except (ValueError, TypeError) as exc:
        return False, f"malformed share: {exc}"
    return True, ""


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
    from crypto.ballot import decode_ballot, decode_choice
    from crypto.elgamal import decode_ciphertexts
    from crypto.threshold import combine, decode_decryption_share

    g = group(group_name)
    cts = decode_ciphertexts(g, ciphertexts, width)
    decoded = {j: decode_decryption_share(g, s, len(cts), width) for j, s in shares.items()}
    rows = combine(g, cts, decoded, t)
    counts = {c: 0 for c in choices}
    invalid = 0
    plaintexts: list[bytes] = []
    for row in rows:
        try:
            payload = decode_ballot(g, row)
            plaintexts.append(payload)
            choice = decode_choice(payload)
        except MixvoteError:
            plaintexts.append(b"")
            invalid += 1
            continue
        if isinstance(choice, int) and 0 <= choice < len(choices):
            counts[choices[choice]] += 1
        else:
            invalid += 1
    return {"counts": counts, "invalid": invalid, "ballots": len(rows), "plaintexts": plaintexts}
