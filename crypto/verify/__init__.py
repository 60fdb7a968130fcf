"""The universal verifier: re-check a whole election from its exported record, with no server.

Input is the record directory as an in-memory file map (``{"election.json": ..., "index.json":
..., "entries/000000-election.params.bin": ...}``, see ``docs/record.md``); this module does no
I/O (:mod:`crypto.io` reads the directory). :func:`verify_record` runs every check and returns
a :class:`crypto.report.Report` listing each check made and *every* failure with its location
(entry, ballot, hop, node) — it does not stop at the first one, in the manner of the independent
verifiers of the Swiss Post e-voting system and of ElectionGuard.

The checks, in order (``docs/record.md`` gives the exact computation of each):

1. **layout** — the files present, ``election.json`` and ``index.json`` against the entries;
2. **chain** — each entry decodes, sits at its index, links to the hash of its predecessor
   (Haber–Stornetta linked time-stamping) and carries a valid Ed25519 signature (RFC 8032) of
   the right author: the server for its own entries, the enrolled node for a node's;
3. **order** — the kinds of entries follow the election's phases;
4. **parameters** — the election parameters and the group;
5. **nodes** and **DKG** — the enrolled node identities, and the joint key, verification keys and
   qualified set recomputed from the DKG transcript (Pedersen/Feldman joint VSS,
   :func:`crypto.dkg.dkg_result`);
6. **ballots** — every ballot's ciphertext and Schnorr proof of knowledge bound to (election,
   voter) (:func:`crypto.ballot.verify_ballot`), no replayed ciphertext, and the counted ballot of
   each credential (the election's policy: the *last* ballot counts, or the *first* and a second
   ballot of the credential on the record is a failure);
7. **closed list** — exactly the counted ballots, in board order, with their trackers;
8. **hops** — every hop in cascade order: an accepted hop's Terelius–Wikström proof of a shuffle
   (:func:`crypto.shuffle.verify_shuffle`) against the list it was given; a rejected hop's result
   really fails; a skipped hop changes nothing;
9. **decryption** — every decryption share's batched Chaum–Pedersen proof against the node's
   verification key and the final list (:func:`crypto.threshold.verify_decryption_share`);
10. **tally** — the combination of ``t`` accepted shares, the decoded plaintexts and the counts.

One module per stage: :mod:`.chain` (1–3), :mod:`.election` (4–5), :mod:`.ballots` (6–7),
:mod:`.mixing` (8), :mod:`.decryption` (9–10); :mod:`.state` holds what they share and
:mod:`.driver` runs them. Heavy work (ballot proofs, shuffle proofs, decryption shares) is cut
into ``workers`` chunks run by the injected ``mapper`` (:mod:`crypto.executor`; the pooled one
is :func:`crypto.io.pool.process_map`). ``progress(stage, done, total)`` is called as work
advances so a caller can draw a progress bar or time the stages; this package itself reads no
clock.

Only a :class:`crypto.errors.MixvoteError` raised by a check becomes a finding. Any other
exception (a KeyError or TypeError from a bug) ends the run with
:class:`crypto.errors.InternalError` ("this is a bug in mixvote"), never with a "rejected"
verdict that would blame the record.
"""

from crypto.report import Check, Report
from crypto.verify.decryption import check_share
from crypto.verify.driver import verify_record
from crypto.verify.mixing import check_hop
from crypto.verify.state import PHASE_RANK, RECORD_FORMAT

__all__ = [
    "PHASE_RANK",
    "RECORD_FORMAT",
    "Check",
    "Report",
    "check_hop",
    "check_share",
    "verify_record",
]
