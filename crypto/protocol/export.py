"""The Verificatum export of an election: what ``verificatum/`` of a record holds.

One function, used by the server when it exports a record (``mixserver/export.py``) and by the
verifier when it checks that ``verificatum/`` is exactly what the entries give
(:mod:`crypto.verify.mixing`), so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence

from crypto.elgamal import decode_ciphertexts, decode_public_key
from crypto.groups.base import Group
from crypto.protocol.wire import decode_proof_files, shuffle_sid
from crypto.shuffle import ShuffleSession, decode_proof
from crypto.verificatum import verificatum_name
from crypto.verificatum.export import export_shuffle_directory


def verificatum_files(
    g: Group,
    election_id: str,
    public_key: bytes,
    width: int,
    closed: bytes,
    accepted_hops: Sequence[tuple[int, bytes, Sequence[bytes]]],
) -> dict[str, bytes]:
    """Verificatum's files (``protInfo.xml`` and ``nizkp/default/...``, relative paths) for the
    accepted hops of an election, each ``(node position, outputs, proof items)`` in cascade
    order after the closed list ``closed``; ``{}`` when the group is not one of Verificatum's,
    the closed list is empty or no hop was accepted. Raises MalformedInput/InvalidElement when a
    list, key or proof does not decode."""
    if not verificatum_name(g) or not closed or not accepted_hops:
        return {}
    session = ShuffleSession(g, shuffle_sid(election_id))
    inputs = decode_ciphertexts(g, closed, width)
    if not inputs:
        return {}
    hops = [
        (decode_ciphertexts(g, outputs, width),
         decode_proof(session, decode_proof_files(items), len(inputs), width))
        for _position, outputs, items in accepted_hops
    ]
    names = [f"node{position}" for position, _outputs, _items in accepted_hops]
    return export_shuffle_directory(
        session, decode_public_key(g, public_key), inputs, hops, names,
        name=f"mixvote {election_id}",
    )
