"""Stage 8 of the record verifier: the mix cascade. Every hop in cascade order: an accepted
hop's Terelius–Wikström proof of a shuffle (:func:`crypto.shuffle.verify_shuffle`) against the
list it was given; a rejected hop's result really fails; a skipped hop changes nothing. Then
``verificatum/`` must be exactly the export of the accepted hops
(:func:`crypto.protocol.export.verificatum_files`)."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from crypto.elgamal import decode_ciphertexts, decode_public_key
from crypto.errors import InvalidProof, MalformedInput, MixvoteError, ProtocolViolation
from crypto.executor import Mapper, outcome, starmap
from crypto.groups import group
from crypto.protocol.export import verificatum_files
from crypto.protocol.wire import (
    ABANDONED,
    ACCEPTED,
    REJECTED,
    SKIPPED,
    Message,
    decode_proof_files,
    digest,
    shuffle_sid,
)
from crypto.shuffle import PROOF_FILES, ShuffleSession, decode_proof, verify_shuffle
from crypto.verify.state import Run

#: The names of a mix result's proof files, in the one order allowed (ascending).
PROOF_FILE_NAMES = [name.encode() for name in PROOF_FILES]

#: ``(group name, election id, public key, width, inputs, outputs, proof items)`` of one hop.
HopTask = tuple[str, str, bytes, int, bytes, bytes, list[bytes]]


def check_hop(
    group_name: str, election_id: str, public_key: bytes, width: int, inputs: bytes,
    outputs: bytes, proof_items: Sequence[bytes], workers: int = 1, mapper: Mapper = map,
) -> None:
    """Verify one hop's shuffle proof: returns None, or raises the :class:`MixvoteError` that
    says why (a ValueError of a decoder on the hop's bytes is raised as MalformedInput). The
    server checks each hop with this same function before accepting it (``mixserver.jobs``)."""
    try:
        g = group(group_name)
        pk = decode_public_key(g, public_key)
        ins = decode_ciphertexts(g, inputs, width)
        try:
            outs = decode_ciphertexts(g, outputs, width)
        except MalformedInput as exc:
            raise type(exc)(f"output list: {exc}") from None
        if len(outs) != len(ins):
            raise MalformedInput(f"output list has {len(outs)} ballots, the input {len(ins)}")
        session = ShuffleSession(g, shuffle_sid(election_id))
        names = [bytes(item) for item in proof_items[0::2]]
        if names != PROOF_FILE_NAMES:
            raise MalformedInput(f"proof files {[n.decode(errors='replace') for n in names]}: "
                                 "expected exactly PermutationCommitment, PoSCommitment, "
                                 "PoSReply, in this order")
        proof = decode_proof(session, decode_proof_files(proof_items), len(ins), width)
        verify_shuffle(session, pk, ins, outs, proof, workers=workers, mapper=mapper)
    except MixvoteError:
        raise
    except ValueError as exc:
        raise MalformedInput(str(exc)) from exc


def check_hops(run: Run, current: bytes) -> tuple[bytes, list[int]]:
    """Returns the final list and the positions excluded (rejected hops)."""
    n, width = run.params["n"], run.params["width"]
    row = 2 * width * run.group.element_size
    count = len(current) // row
    results = {i: m for i, m in run.of_kind("mix.result")}
    used = run.check_abandoned("hop.verdict", "result_entry", results)
    verdicts = [(i, v) for i, v in run.of_kind("hop.verdict") if v["status"] != ABANDONED]
    excluded: list[int] = []
    accepted = 0
    pending: list[tuple[str, str, int, int, HopTask | None]] = []
    prev_verdict = -1
    for k, (i, v) in enumerate(verdicts):
        hop, position, status = v["hop"], v["position"], v["status"]
        where = f"hop {hop} (node {position}, {run.where(i)})"
        if hop != k + 1 or position != k + 1:
            run.fail("hop order", where, f"verdict {k + 1} of the cascade is for hop {hop}, "
                     f"node {position}; the cascade is nodes 1..{n} in order",
                     ProtocolViolation)
        if status == SKIPPED:
            if v["result_entry"] != 0 or v["output_digest"] != b"":
                run.fail("hop", where, "a skipped hop names a result", ProtocolViolation)
            else:
                evidence = skip_evidence(run, v, prev_verdict, i, count)
                if evidence.startswith("no evidence"):
                    run.fail("hop skip evidence", where, evidence, ProtocolViolation)
                else:
                    run.ok("hop", where, f"skipped ({v['reason']}; {evidence}); the list "
                           "passes on unchanged")
            prev_verdict = i
            continue
        if v["evidence_entry"] or v["requested_ms"] or v["gave_up_ms"] or v["timeout_ms"]:
            run.fail("hop", where, "a hop that was not skipped gives skip evidence",
                     MalformedInput)
        if status not in (ACCEPTED, REJECTED):
            run.fail("hop", where, f"unknown status {status!r}", MalformedInput)
            prev_verdict = i
            continue
        r = v["result_entry"]
        result = results.get(r)
        if result is None or r in used or not prev_verdict < r < i:
            run.fail("hop", where, f"result entry {r} is not a mix.result between the "
                     "previous verdict and this one", ProtocolViolation)
            if status == REJECTED:
                excluded.append(position)
            prev_verdict = i
            continue
        used.add(r)
        rwhere = f"hop {hop} (node {position}, {run.where(r)})"
        if run.author_position(r) != position:
            run.fail("hop", rwhere, f"the result is signed by node "
                     f"{run.author_position(r)}, not node {position}", ProtocolViolation)
        if v["output_digest"] != digest(result["outputs"]):
            run.fail("hop", where, "the verdict's output digest is not that of the result",
                     InvalidProof)
        task = None
        if result["input_digest"] == digest(current) and count:
            task = (run.group.name, run.eid, run.public_key, width, current,
                    bytes(result["outputs"]), list(result["proof"]))
        pending.append((status, rwhere, position, count, task))
        if status == ACCEPTED:
            current = bytes(result["outputs"])  # the list the next hop was given
            run.accepted_hops.append((position, current, list(result["proof"])))
        else:
            excluded.append(position)
        prev_verdict = i
    outcomes = iter(verify_hops(run, [p[4] for p in pending if p[4] is not None], count))
    for status, rwhere, _position, rows, task in pending:
        error: MixvoteError | None = (
            next(outcomes) if task is not None
            else InvalidProof("the result is not for the list this node was given")
        )
        if status == ACCEPTED:
            if error:
                run.fail("hop shuffle proof", rwhere, error)
            else:
                run.ok("hop shuffle proof", rwhere, f"{rows} rows re-encrypted and "
                       "permuted; the proof of a shuffle verifies")
                accepted += 1
        elif error:
            run.ok("hop", rwhere, f"rejected as recorded: {error}")
        else:
            run.fail("hop", rwhere, "recorded as rejected, but its proof verifies",
                     ProtocolViolation)
    positions = [v["position"] for _i, v in verdicts]
    if sorted(positions) != list(range(1, n + 1)):
        run.fail("hop order", "hop.verdict", f"verdicts for nodes {positions}; the cascade "
                 f"is nodes 1..{n}, one verdict each", ProtocolViolation)
    for r in sorted(set(results) - used):
        run.fail("hop", run.where(r), "a mix result no verdict refers to",
                 ProtocolViolation)
    if count and not accepted:
        run.fail("hop", "cascade", "no hop was accepted: the ballots were never mixed")
    run.summary["hops_accepted"] = accepted
    return current, excluded


def skip_evidence(run: Run, v: Message, prev_verdict: int, i: int, count: int) -> str:
    """Why a skipped hop was skipped, as the record shows it: an empty ballot list (nothing to
    shuffle), the node's own signed ``job.failed`` (between the previous verdict and this one),
    or a time-out whose recorded times span at least the recorded time-out. Returns a
    description, or one starting with "no evidence" saying what is missing."""
    position, e = v["position"], v["evidence_entry"]
    if count == 0 and not (e or v["requested_ms"] or v["gave_up_ms"] or v["timeout_ms"]):
        return "the closed list is empty: nothing to shuffle"
    if e:
        msg = run.messages[e] if 0 <= e < len(run.messages) else None
        if msg is None or msg.kind != "job.failed" or not prev_verdict < e < i:
            return (f"no evidence: entry {e} is not a job.failed between the previous verdict "
                    "and this one")
        if run.author_position(e) != position:
            return (f"no evidence: the job.failed at entry {e} is signed by node "
                    f"{run.author_position(e)}, not node {position}")
        return f"node {position} signed its own failure at entry {e}: {msg['reason'][:200]}"
    requested, gave_up, timeout = v["requested_ms"], v["gave_up_ms"], v["timeout_ms"]
    if not (requested and timeout and gave_up - requested >= timeout):
        return ("no evidence: neither the node's job.failed nor a time-out whose recorded "
                f"times span it (requested {requested} ms, gave up {gave_up} ms, time-out "
                f"{timeout} ms)")
    return (f"time-out: no result {(gave_up - requested) / 1000:.1f} s after the request "
            f"(time-out {timeout / 1000:.1f} s; times as the server recorded them)")


def verify_hops(run: Run, tasks: list[HopTask], rows: int) -> list[MixvoteError | None]:
    """Verify the hops' shuffle proofs; returns None or the error per task.

    Every hop's input and output lists are on the record, so hops are independent: with
    ``workers > 1`` they run in waves of ``workers`` hops at once (one process each, no
    serial part left), and a last lone hop uses all workers inside the shuffle verifier."""
    total = rows * len(tasks)
    run.summary["shuffle_rows"] = 0
    run.progress("shuffle", 0, total)
    out: list[MixvoteError | None] = []
    k = 0
    while k < len(tasks):
        remaining = len(tasks) - k
        if run.workers == 1 or remaining == 1:
            out.append(outcome(check_hop, *tasks[k], run.workers, run.mapper))
            k += 1
        else:
            wave = [(*t, 1) for t in tasks[k : k + run.workers]]
            out.extend(starmap(run.mapper, functools.partial(outcome, check_hop), wave))
            k += len(wave)
        run.summary["shuffle_rows"] = rows * k
        run.progress("shuffle", rows * k, total)
    return out


def check_verificatum(run: Run, closed: bytes) -> None:
    """``verificatum/`` (protInfo.xml and the proof directory of the accepted hops, for
    Verificatum's ``vmnv``) must be exactly what the entries give (``docs/record.md``)."""
    prefix = "verificatum/"
    present = {p[len(prefix):]: d for p, d in run.files.items() if p.startswith(prefix)}
    try:
        expected = verificatum_files(run.group, run.eid, run.public_key, run.params["width"],
                                     closed, run.accepted_hops)
    except MixvoteError as exc:
        if present:
            run.fail("verificatum", prefix, f"cannot be derived from the entries: {exc}")
        return
    bad = 0
    for rel in sorted(set(present) | set(expected)):
        if rel not in expected:
            run.fail("verificatum", prefix + rel, "a file the entries do not give",
                     MalformedInput)
        elif rel not in present:
            run.fail("verificatum", prefix + rel, "file missing", MalformedInput)
        elif present[rel] != expected[rel]:
            run.fail("verificatum", prefix + rel, "differs from what the entries give")
        else:
            continue
        bad += 1
    if present and not bad:
        run.ok("verificatum", prefix, f"{len(present)} files, exactly as derived from the "
               "closed list and the accepted hops")
