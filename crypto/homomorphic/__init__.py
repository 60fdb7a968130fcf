"""Homomorphic tallying: exponential-ElGamal ballots with disjunctive (CDS) proofs, aggregation,
threshold decryption of the aggregates only, and counts by bounded baby-step giant-step.

The normative specification (encodings, hash inputs, verification equations, the search bound) is
``docs/homomorphic.md``; the browser side is ``webui/static/js/homomorphic.js``, held byte-identical
by ``tests/vectors/test_js_homomorphic.py``.

* :mod:`crypto.homomorphic.disjunctive` — the CDS OR-proof that a pair encrypts a value in
  ``[lo, hi]``;
* :mod:`crypto.homomorphic.ballot` — :class:`SelectionRule`, :func:`encrypt_ballot`,
  :func:`verify_ballot`, the byte and JSON codecs;
* :mod:`crypto.homomorphic.tally` — :func:`aggregate`, :func:`decrypt_counts`,
  :func:`verify_tally`.
"""

from crypto.homomorphic.ballot import (
    MAX_CHOICES,
    BallotRandomness,
    HomomorphicBallot,
    SelectionRule,
    ballot_from_json,
    ballot_size,
    ballot_to_json,
    decode_ballot,
    draw_randomness,
    encode_ballot,
    encrypt_ballot,
    encrypt_ballot_with,
    verify_ballot,
)
from crypto.homomorphic.disjunctive import CHOICE_DST, SELECTION_DST, DisjunctiveProof
from crypto.homomorphic.tally import (
    MAX_BOUND,
    CountNotFound,
    aggregate,
    decrypt_counts,
    vartime_discrete_logs,
    verify_aggregate,
    verify_tally,
)

__all__ = [
    "CHOICE_DST",
    "MAX_BOUND",
    "MAX_CHOICES",
    "SELECTION_DST",
    "BallotRandomness",
    "CountNotFound",
    "DisjunctiveProof",
    "HomomorphicBallot",
    "SelectionRule",
    "aggregate",
    "ballot_from_json",
    "ballot_size",
    "ballot_to_json",
    "decode_ballot",
    "decrypt_counts",
    "draw_randomness",
    "encode_ballot",
    "encrypt_ballot",
    "encrypt_ballot_with",
    "vartime_discrete_logs",
    "verify_aggregate",
    "verify_ballot",
    "verify_tally",
]
