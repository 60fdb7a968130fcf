"""Stages 6–7 of the record verifier: the ballots (each ciphertext and its Schnorr proof of
knowledge bound to the election and the voter, :func:`crypto.ballot.verify_ballot`; no replayed
ciphertext; registered credentials; the counted ballot of each credential under the election's
policy; the voter's signature over the fingerprint, row and proof, by a credential of the
authority-signed list) and the closed list (exactly the counted ballots, in board order, with
their trackers)."""

from __future__ import annotations

from collections.abc import Sequence

from crypto.ballot import FIRST_BALLOT_COUNTS, decode_ballot_proof, verify_ballot
from crypto.credentials import verify_ballot_signature
from crypto.elgamal import decode_ciphertext, decode_public_key
from crypto.errors import InvalidProof, MalformedInput, MixvoteError, ProtocolViolation
from crypto.executor import chunked, starmap
from crypto.groups import group
from crypto.verify.state import BALLOT_CHUNK, VOTER_ID, Ballot, Run


def verify_ballot_chunk(
    group_name: str, public_key: bytes, election_id: str, width: int, ballots: Sequence[Ballot],
    fingerprint: bytes = b"", listed: frozenset[bytes] = frozenset(),
) -> list[tuple[int, MixvoteError]]:
    """Check a chunk of ballots (module level, so that it pickles); returns the failures as
    ``(ballot number, error)``: the ciphertext and its proof bound to (election, voter id), and
    the voter's signature over (``fingerprint``, row, proof) — strict Ed25519; a key in
    ``listed`` (the verified credential list) skips the key check. Only a
    :class:`MixvoteError` is a failure: anything else is a bug and propagates."""
    g = group(group_name)
    pk = decode_public_key(g, public_key)
    bad: list[tuple[int, MixvoteError]] = []
    for b in ballots:
        try:
            if not VOTER_ID.match(b.voter_id):
                raise MalformedInput(f"credential of {len(b.credential)} bytes, not 32")
            if b.width != width:
                raise MalformedInput(f"width {b.width}, the election's is {width}")
            ct = decode_ciphertext(g, b.ciphertext, width)
            proof = decode_ballot_proof(g, b.proof, width)
            verify_ballot(pk, ct, proof, election_id, b.voter_id)
            if len(fingerprint) != 32:
                raise InvalidProof("the voter signature is not checkable: no fingerprint")
            verify_ballot_signature(b.credential, fingerprint, b.ciphertext, b.proof,
                                    b.signature, "ballot", key_checked=b.credential in listed)
        except MixvoteError as exc:
            bad.append((b.number, exc))
    return bad


def check_ballots(run: Run) -> list[Ballot]:
    """Every ballot's proof, no replayed ciphertext, registered credentials and the ballot
    policy; returns the counted ballots in board order."""
    width = run.params["width"]
    ballots = run.ballots
    run.summary["ballots_cast"] = len(ballots)
    invalid: set[int] = set()
    if ballots and run.public_key:
        parts = max(run.workers, (len(ballots) + BALLOT_CHUNK - 1) // BALLOT_CHUNK)
        chunks = [ballots[s] for s in chunked(len(ballots), parts)]
        listed = run.credentials or frozenset()
        args = [(run.group.name, run.public_key, run.eid, width, chunk, run.fingerprint, listed)
                for chunk in chunks]
        done = 0
        bad: list[tuple[int, MixvoteError]] = []
        # in waves of `workers` chunks, so that progress advances
        step = max(1, run.workers)
        for k in range(0, len(args), step):
            for part in starmap(run.mapper, verify_ballot_chunk, args[k : k + step]):
                bad.extend(part)
            done += sum(len(a[4]) for a in args[k : k + step])
            run.progress("ballots", done, len(ballots))
        for number, exc in bad:
            invalid.add(number)
            b = ballots[number]
            run.fail("ballot proof", f"ballot {number} ({run.where(b.index)}, voter "
                     f"{b.voter_id[:32]})", exc)
        if not bad:
            run.ok("ballot proof", f"{len(ballots)} ballots", "every ciphertext is valid, "
                   "its proof of knowledge is bound to this election and its voter, and its "
                   "voter signed it (with the election fingerprint)")
    elif ballots:
        run.fail("ballot proof", "ballots", "not checkable: no valid election key")
    seen: dict[bytes, int] = {}
    replays = 0
    for b in ballots:
        if b.ciphertext in seen:
            run.fail("ballot replay", f"ballot {b.number} ({run.where(b.index)})",
                     f"the same ciphertext as ballot {seen[b.ciphertext]}",
                     ProtocolViolation)
            replays += 1
        else:
            seen[b.ciphertext] = b.number
    if not replays:
        run.ok("ballot replay", f"{len(ballots)} ballots", "no ciphertext was cast twice")
    registered = run.credentials
    if registered is None:
        run.fail("registered credential", "credentials.list", "no valid authority-signed "
                 "credential list: ballots cannot be checked against it", MalformedInput)
    else:
        strangers = [b for b in ballots if b.credential not in registered]
        for b in strangers:
            run.fail("registered credential", f"ballot {b.number} ({run.where(b.index)})",
                     f"voter {b.voter_id} is not among the registered credentials (the "
                     "authority-signed list)", ProtocolViolation)
        if not strangers:
            run.ok("registered credential", f"{len(ballots)} ballots",
                   f"every ballot comes from one of the {len(registered)} credentials of the "
                   "authority-signed list")
    first_counts = run.params.get("policy") == FIRST_BALLOT_COUNTS
    latest: dict[str, Ballot] = {}
    for b in ballots:
        if first_counts and b.voter_id in latest:
            run.fail("one ballot per credential", f"ballot {b.number} ({run.where(b.index)})",
                     f"a second ballot of voter {b.voter_id} was accepted although the "
                     "first ballot counts", ProtocolViolation)
            continue
        latest[b.voter_id] = b  # the last (or, with first-ballot-counts, the only) ballot
    counted = sorted(latest.values(), key=lambda b: b.index)
    voters = len(registered) if registered is not None else run.params.get("voters", 0)
    which = "first" if first_counts else "last"
    if len(latest) > voters:
        run.fail("one ballot per credential", "ballots", f"{len(latest)} distinct voters "
                 f"for {voters} credentials", ProtocolViolation)
    else:
        run.ok("one ballot per credential", f"{len(ballots)} ballots",
               f"{len(counted)} counted (the {which} ballot of each of {len(latest)} voters,"
               f" at most {voters} credentials)")
    run.summary["ballots_counted"] = len(counted)
    run.invalid_ballots = invalid
    return counted


def check_closed(run: Run, counted: list[Ballot]) -> bytes | None:
    """Returns the closed list (the first hop's input) if it is well formed."""
    found = run.first("voting.closed")
    if found is None:
        return None
    i, msg = found
    where = run.where(i)
    width = run.params["width"]
    row = 2 * width * run.group.element_size
    cts, trackers, count = msg["ciphertexts"], list(msg["trackers"]), msg["count"]
    bad = 0
    if msg["width"] != width:
        run.fail("closed list", where, f"width {msg['width']}, the election's is {width}",
                 MalformedInput)
        bad += 1
    if len(cts) % row or len(cts) // row != count or len(trackers) != count:
        run.fail("closed list", where, f"count {count}, {len(trackers)} trackers and "
                 f"{len(cts) / row:g} ciphertexts disagree", MalformedInput)
        bad += 1
    by_hash = {b.hash: b for b in counted}
    all_ballots = {b.hash: b for b in run.ballots}
    listed = set()
    for k, tr in enumerate(trackers):
        pos = f"closed list position {k} ({where})"
        ballot = by_hash.get(tr)
        if ballot is None:
            other = all_ballots.get(tr)
            why = (f"ballot {other.number} was superseded by a later ballot of its voter"
                   if other is not None else "no ballot entry has this tracker")
            run.fail("closed list", pos, f"tracker {tr.hex()[:16]}… is not a counted "
                     f"ballot: {why}")
            bad += 1
            continue
        if tr in listed:
            run.fail("closed list", pos, f"ballot {ballot.number} listed twice")
            bad += 1
            continue
        listed.add(tr)
        if k < len(counted) and counted[k].hash != tr:
            run.fail("closed list", pos, f"out of board order: ballot {ballot.number} "
                     f"where ballot {counted[k].number} belongs")
            bad += 1
        if cts[k * row : (k + 1) * row] != ballot.ciphertext:
            run.fail("closed list", pos, f"the ciphertext is not ballot {ballot.number}'s "
                     f"({run.where(ballot.index)})")
            bad += 1
    for b in counted:
        if b.hash not in listed:
            run.fail("closed list", f"ballot {b.number} ({run.where(b.index)})",
                     "a counted ballot is missing from the closed list")
            bad += 1
    for b in counted:
        if b.number in run.invalid_ballots:
            run.fail("closed list", f"ballot {b.number} ({run.where(b.index)})",
                     "an invalid ballot is in the closed list")
            bad += 1
    if not bad:
        run.ok("closed list", where, f"exactly the {count} counted ballots, in board order, "
               "with their trackers")
    if len(cts) % row:
        return None
    return bytes(cts)
