"""Stages 9–10 of the record verifier: every decryption share's batched Chaum–Pedersen proof
against the node's verification key and the final list
(:func:`crypto.threshold.verify_decryption_share`), then the tally: the combination of ``t``
accepted shares, the decoded plaintexts and the counts."""

from __future__ import annotations

import functools
import json

from crypto.ballot import tally
from crypto.elgamal import decode_ciphertexts
from crypto.errors import InvalidProof, MalformedInput, MixvoteError, ProtocolViolation
from crypto.executor import outcome, starmap
from crypto.groups import group
from crypto.protocol.wire import (
    ABANDONED,
    ACCEPTED,
    REJECTED,
    Message,
    canonical_json,
    decryption_context,
    digest,
)
from crypto.threshold import combine, decode_decryption_share, verify_decryption_share
from crypto.verify.state import Run


def check_share(
    group_name: str, verification_key: bytes, width: int, ciphertexts: bytes, share: bytes,
    context: bytes, position: int,
) -> None:
    """Verify node ``position``'s decryption share: returns None, or raises the
    :class:`MixvoteError` that says why (a ValueError of a decoder is raised as
    MalformedInput). The server checks each share with this same function."""
    try:
        g = group(group_name)
        cts = decode_ciphertexts(g, ciphertexts, width)
        decoded = decode_decryption_share(g, share, len(cts), width)
        if decoded.index != position:
            raise ProtocolViolation(f"the share claims node {decoded.index}")
        verify_decryption_share(g, g.decode(verification_key), cts, decoded, context)
    except MixvoteError:
        raise
    except ValueError as exc:
        raise MalformedInput(str(exc)) from exc


def check_decryption(run: Run, final: bytes, excluded: list[int]) -> dict[int, bytes]:
    """Returns the accepted, verified shares by position."""
    t, width = run.params["t"], run.params["width"]
    context = decryption_context(run.eid, final)
    shares = {i: m for i, m in run.of_kind("decrypt.share")}
    eligible = set(run.qualified) - set(excluded)
    used = run.check_abandoned("decrypt.verdict", "share_entry", shares)
    verdicts = [(i, v) for i, v in run.of_kind("decrypt.verdict") if v["status"] != ABANDONED]
    seen: set[int] = set()
    jobs: list[tuple[int, int, str, Message, str]] = []
    prev_verdict = max((i for i, _m in run.of_kind("hop.verdict")), default=-1)
    for i, v in verdicts:
        position, status, s = v["position"], v["status"], v["share_entry"]
        where = f"node {position} ({run.where(i)})"
        if position in seen:
            run.fail("decryption share", where, f"a second verdict for node {position}",
                     ProtocolViolation)
            continue
        seen.add(position)
        if position not in eligible:
            run.fail("decryption share", where, f"node {position} may not decrypt (qualified "
                     f"{sorted(run.qualified)}, excluded {sorted(excluded)})",
                     ProtocolViolation)
        if status not in (ACCEPTED, REJECTED):
            run.fail("decryption share", where, f"unknown status {status!r}",
                     MalformedInput)
            continue
        share = shares.get(s)
        if share is None or s in used or not prev_verdict < s < i:
            run.fail("decryption share", where, f"share entry {s} is not a decrypt.share "
                     "before this verdict", ProtocolViolation)
            continue
        used.add(s)
        swhere = f"node {position} ({run.where(s)})"
        if run.author_position(s) != position:
            run.fail("decryption share", swhere, f"signed by node {run.author_position(s)}",
                     ProtocolViolation)
            continue
        jobs.append((position, s, status, share, swhere))
    for s in sorted(set(shares) - used):
        run.fail("decryption share", run.where(s), "a share no verdict refers to",
                 ProtocolViolation)
    args = []
    for position, _s, _status, share, _w in jobs:
        vk = run.verification_keys[position - 1] if position - 1 < len(
            run.verification_keys) else b""
        args.append((run.group.name, vk, width, final, share["share"], context, position))
    run.progress("decryption", 0, len(jobs))
    outcomes = starmap(run.mapper, functools.partial(outcome, check_share), args)
    valid: dict[int, bytes] = {}
    for (position, _s, status, share, swhere), error in zip(jobs, outcomes, strict=True):
        if share["input_digest"] != digest(final):
            error = InvalidProof("the share is not for the final list")
        if status == ACCEPTED:
            if error:
                run.fail("decryption share", swhere, error)
            else:
                run.ok("decryption share", swhere, "the Chaum–Pedersen proof verifies "
                       "against the node's verification key and the final list")
                if position in eligible:
                    valid[position] = share["share"]
        elif error:
            run.ok("decryption share", swhere, f"rejected as recorded: {error}")
        else:
            run.fail("decryption share", swhere, "recorded as rejected, but it verifies",
                     ProtocolViolation)
    run.progress("decryption", len(jobs), len(jobs))
    if len(valid) < t:
        run.fail("decryption share", "decryption", f"{len(valid)} valid shares, "
                 f"t={t} are needed")
    return valid


def check_tally(run: Run, final: bytes, valid: dict[int, bytes]) -> None:
    found = run.first("tally")
    if found is None:
        return
    i, msg = found
    where = run.where(i)
    g, t, choices = run.group, run.params["t"], run.params["choices"]
    try:
        result = json.loads(msg["result"].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        run.fail("tally", where, "the result is not JSON", MalformedInput)
        return
    if canonical_json(result) != msg["result"]:
        run.fail("tally", where, "the result is not in canonical JSON form",
                 MalformedInput)
    if final:
        if len(valid) < t:
            run.fail("tally", where, "not checkable: fewer than t valid decryption shares")
            return
        cts = decode_ciphertexts(g, final, run.params["width"])
        decoded = {j: decode_decryption_share(g, valid[j], len(cts), run.params["width"])
                   for j in sorted(valid)[:t]}
        rows = combine(g, cts, decoded, t)
    else:
        rows = []
    counted = tally(g, rows, choices)
    counts, invalid, plaintexts = counted.counts, counted.invalid, counted.plaintexts
    recorded = list(msg["plaintexts"])
    bad = 0
    if len(recorded) != len(plaintexts):
        run.fail("tally plaintexts", where, f"{len(recorded)} plaintexts recorded, "
                 f"{len(plaintexts)} decrypted")
        bad += 1
    for k, (a, b) in enumerate(zip(recorded, plaintexts, strict=False)):
        if a != b:
            run.fail("tally plaintexts", f"plaintext {k} ({where})",
                     f"recorded {a.hex()[:32]!r}, the shares decrypt to {b.hex()[:32]!r}")
            bad += 1
    if not bad:
        run.ok("tally plaintexts", where, f"{len(plaintexts)} plaintexts are the "
               f"combination of {min(t, len(valid)) if final else 0} verified shares")
    want = {"counts": counts, "invalid": invalid, "ballots": len(rows)}
    diffs = [f"{k}: recorded {result.get(k)!r}, recomputed {v!r}" for k, v in want.items()
             if not isinstance(result, dict) or result.get(k) != v]
    extra = sorted(set(result) - set(want)) if isinstance(result, dict) else []
    if extra:
        diffs.append(f"unexpected result fields {extra}")
    for d in diffs:
        run.fail("tally", where, d)
    if not diffs:
        run.ok("tally", where, f"{json.dumps(counts, ensure_ascii=False)}, {invalid} "
               f"invalid, {len(rows)} ballots")
    run.summary["tally"] = want
