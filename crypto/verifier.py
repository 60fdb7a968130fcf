"""The universal verifier: re-check a whole election from its exported record, with no server.

Input is the record directory as an in-memory file map (``{"election.json": ..., "index.json":
..., "entries/000000-election.params.bin": ...}``, see ``docs/record.md``); this module does no
I/O (``crypto/verifier_cli.py`` reads the directory). :func:`verify_record` runs every check and
returns a :class:`RecordReport` listing each check made and *every* failure with its location
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

Heavy work (ballot proofs, shuffle proofs, decryption shares) runs over ``workers`` processes
(:mod:`crypto.parallel`, and the shuffle verifier's own pool). ``progress(stage, done, total)``
is called as work advances so a caller can draw a progress bar or time the stages; this module
itself reads no clock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from crypto.ballot import BALLOT_POLICIES, FIRST_BALLOT_COUNTS
from crypto.errors import (
    InvalidElement,
    InvalidProof,
    MalformedInput,
    MixvoteError,
    ProtocolViolation,
)
from crypto.groups import GROUPS, Group, group
from crypto.record import GENESIS, Entry, decode_entry, verify_body_signature
from crypto.wire import (
    ACCEPTED,
    REJECTED,
    SKIPPED,
    Message,
    canonical_json,
    decode_body,
    decode_proof_files,
    decryption_context,
    digest,
    shuffle_sid,
)

RECORD_FORMAT = "mixvote-record/1"
ENTRY_FILE = re.compile(r"^entries/(\d{6})-([a-z.]+)\.bin$")
VOTER_ID = re.compile(r"^[0-9a-f]{32}$")

#: The phase rank of each kind of record entry; kinds must appear in non-decreasing rank.
PHASE_RANK: dict[str, int] = {
    "election.params": 0,
    "voters.registered": 0,
    "node.enrolled": 1,
    "dkg.deal": 2,
    "dkg.complaint": 3,
    "dkg.response": 4,
    "dkg.result": 5,
    "voting.opened": 6,
    "ballot": 7,
    "voting.closed": 8,
    "mix.result": 9,
    "hop.verdict": 9,
    "decrypt.share": 10,
    "decrypt.verdict": 10,
    "tally": 11,
}
#: Kinds that occur exactly once in a complete record.
ONCE = (
    "election.params",
    "voters.registered",
    "dkg.result",
    "voting.opened",
    "voting.closed",
    "tally",
)
#: Record kinds written (and signed) by a node; every other record kind is the server's.
RECORD_NODE_KINDS = frozenset({"dkg.deal", "dkg.complaint", "dkg.response", "mix.result",
                               "decrypt.share"})
#: The status of a verdict that closes, unjudged, a result the server received before it
#: restarted (docs/record.md): the result is ignored and the job is redone.
ABANDONED = "abandoned"
#: Ballots verified per task when spread over worker processes.
BALLOT_CHUNK = 500

Progress = Callable[[str, int, int], None]

_ERROR_NAMES = ("InvalidElement", "MalformedInput", "InvalidProof", "ProtocolViolation")


# --- report ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Check:
    """One check: its name, where it applies (entry, ballot, hop, node), the outcome and why."""

    name: str
    ok: bool
    where: str = ""
    detail: str = ""
    error: str = ""  # the error class name when not ok

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"check": self.name, "ok": self.ok, "where": self.where,
                               "detail": self.detail}
        if not self.ok:
            out["error"] = self.error
        return out

    def __str__(self) -> str:
        where = f" [{self.where}]" if self.where else ""
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.name}{where}{detail}"


@dataclass(frozen=True)
class RecordReport:
    """Every check made on a record, in order; ``ok`` only if there was at least one and all
    passed. ``summary`` holds the figures of the election (ballots, rows shuffled, tally)."""

    election_id: str
    checks: tuple[Check, ...]
    summary: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok)

    def as_dict(self) -> dict[str, Any]:
        return {"election": self.election_id, "verdict": "accepted" if self.ok else "rejected",
                "checks": [c.as_dict() for c in self.checks],
                "failures": len(self.failures), "summary": dict(self.summary)}

    def raise_for_failure(self) -> None:
        """Return None if every check passed, else raise the first failure's error class."""
        errors: dict[str, type[MixvoteError]] = {
            "InvalidElement": InvalidElement, "MalformedInput": MalformedInput,
            "InvalidProof": InvalidProof, "ProtocolViolation": ProtocolViolation}
        for check in self.checks:
            if not check.ok:
                raise errors.get(check.error, InvalidProof)(str(check))
        if not self.checks:
            raise MalformedInput("record: nothing was checked")


class _Abort(Exception):
    """A failure that leaves nothing further to check."""


def _error_name(exc: BaseException) -> str:
    for name, cls in (("InvalidElement", InvalidElement), ("MalformedInput", MalformedInput),
                      ("InvalidProof", InvalidProof), ("ProtocolViolation", ProtocolViolation)):
        if isinstance(exc, cls):
            return name
    return "MalformedInput"


# --- workers (module level so that they pickle) ------------------------------------------------
def _verify_ballot_chunk(
    group_name: str, public_key: bytes, election_id: str, width: int,
    items: Sequence[tuple[int, int, str, int, bytes, bytes]],
) -> list[tuple[int, int, str, str]]:
    """Check ballots ``(ballot number, entry index, voter id, width, ciphertext, proof)``;
    returns the failures as ``(ballot number, entry index, error class, reason)``."""
    from crypto.ballot import decode_ballot_proof, verify_ballot
    from crypto.elgamal import decode_ciphertext, decode_public_key

    g = group(group_name)
    pk = decode_public_key(g, public_key)
    bad: list[tuple[int, int, str, str]] = []
    for number, index, voter_id, w, ct_bytes, proof_bytes in items:
        try:
            if not VOTER_ID.match(voter_id):
                raise MalformedInput(f"voter id {voter_id[:40]!r} is not 32 hex digits")
            if w != width:
                raise MalformedInput(f"width {w}, the election's is {width}")
            ct = decode_ciphertext(g, ct_bytes, width)
            proof = decode_ballot_proof(g, proof_bytes, width)
            verify_ballot(pk, ct, proof, election_id, voter_id)
        except (MixvoteError, ValueError) as exc:
            bad.append((number, index, _error_name(exc), str(exc)))
    return bad


def check_hop(
    group_name: str, election_id: str, public_key: bytes, width: int, inputs: bytes,
    outputs: bytes, proof_items: Sequence[bytes], workers: int,
) -> tuple[str, str]:
    """Verify one hop's shuffle proof; returns ``("", "")`` or ``(error class, reason)``. The
    server checks each hop with this same function before accepting it (``mixserver.jobs``)."""
    from crypto.elgamal import decode_ciphertexts, decode_public_key
    from crypto.shuffle import ShuffleSession, decode_proof, verify_shuffle

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
        proof = decode_proof(session, decode_proof_files(proof_items), len(ins), width)
        verify_shuffle(session, pk, ins, outs, proof, workers=workers)
    except (MixvoteError, ValueError) as exc:
        return _error_name(exc), str(exc)
    return "", ""


def check_share(
    group_name: str, verification_key: bytes, width: int, ciphertexts: bytes, share: bytes,
    context: bytes, position: int,
) -> tuple[str, str]:
    """Verify node ``position``'s decryption share; returns ``("", "")`` or (class, reason)."""
    from crypto.elgamal import decode_ciphertexts
    from crypto.threshold import decode_decryption_share, verify_decryption_share

    try:
        g = group(group_name)
        cts = decode_ciphertexts(g, ciphertexts, width)
        decoded = decode_decryption_share(g, share, len(cts), width)
        if decoded.index != position:
            raise ProtocolViolation(f"the share claims node {decoded.index}")
        verify_decryption_share(g, g.decode(verification_key), cts, decoded, context)
    except (MixvoteError, ValueError) as exc:
        return _error_name(exc), str(exc)
    return "", ""


# --- the verifier ------------------------------------------------------------------------------
@dataclass
class _Ballot:
    number: int  # 0-based among the ballot entries
    index: int  # entry index
    voter_id: str
    width: int
    ciphertext: bytes
    proof: bytes
    hash: bytes


class _Verifier:
    """One verification run (see :func:`verify_record`)."""

    def __init__(self, files: Mapping[str, bytes], workers: int, server_key: bytes | None,
                 progress: Progress | None) -> None:
        self.files = files
        self.workers = workers
        self.expected_server_key = server_key
        self.progress = progress or (lambda stage, done, total: None)
        self.checks: list[Check] = []
        self.summary: dict[str, Any] = {}
        self.eid = ""
        self.meta: dict[str, Any] = {}
        self.entries: list[Entry | None] = []
        self.hashes: list[bytes | None] = []
        self.messages: list[Message | None] = []
        self.kinds: list[str] = []  # from the file names
        self.server_key = b""
        self.params: dict[str, Any] = {}
        self.g: Group | None = None
        self.node_keys: dict[int, bytes] = {}  # position -> 64-byte public identity
        self.public_key = b""
        self.verification_keys: list[bytes] = []
        self.qualified: list[int] = []
        self.paths: list[str] = []
        self.index_json: list[Any] = []
        self.invalid_ballots: set[int] = set()
        self.accepted_hops: list[tuple[int, bytes, list[bytes]]] = []

    # --- recording ---------------------------------------------------------------------------
    def ok(self, name: str, where: str = "", detail: str = "") -> None:
        self.checks.append(Check(name, True, where, detail))

    def fail(self, name: str, where: str, reason: BaseException | str, error: str = "") -> None:
        if isinstance(reason, BaseException):
            error, reason = error or _error_name(reason), str(reason)
        self.checks.append(Check(name, False, where, reason, error or "InvalidProof"))

    def where(self, i: int) -> str:
        kind = self.kinds[i] if i < len(self.kinds) else "?"
        return f"entry {i} ({kind})"

    def of_kind(self, kind: str) -> list[tuple[int, Message]]:
        return [(i, m) for i, m in enumerate(self.messages) if m is not None and m.kind == kind]

    # --- 1. layout ---------------------------------------------------------------------------
    def check_layout(self) -> None:
        name = "layout"
        numbered: dict[int, tuple[str, str]] = {}
        for path in sorted(self.files):
            if path in ("election.json", "index.json") or path.startswith("verificatum/"):
                continue  # verificatum/ is derived from the entries: see check_verificatum
            m = ENTRY_FILE.match(path)
            if m is None:
                self.fail(name, path, "unexpected file in the record directory", "MalformedInput")
                continue
            number = int(m.group(1))
            if number in numbered:
                self.fail(name, path, f"a second file for entry {number} "
                          f"(also {numbered[number][0]})", "MalformedInput")
                continue
            numbered[number] = (path, m.group(2))
        if not numbered:
            self.fail(name, "entries/", "the record has no entry files", "MalformedInput")
            raise _Abort
        count = max(numbered) + 1
        missing = [i for i in range(count) if i not in numbered]
        for i in missing:
            self.fail(name, f"entry {i}", "entry file missing (an entry was removed)",
                      "MalformedInput")
        self.paths = [numbered.get(i, ("", "?"))[0] for i in range(count)]
        self.kinds = [numbered.get(i, ("", "?"))[1] for i in range(count)]
        if not missing:
            self.ok(name, "entries/", f"{count} entry files numbered 0..{count - 1}")
        self.meta = self.load_json("election.json", dict)
        self.index_json = self.load_json("index.json", list)

    def load_json(self, path: str, kind: type) -> Any:
        raw = self.files.get(path)
        if raw is None:
            self.fail("layout", path, "file missing", "MalformedInput")
            return kind()
        try:
            value = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            self.fail("layout", path, f"not valid JSON ({exc})", "MalformedInput")
            return kind()
        if not isinstance(value, kind):
            self.fail("layout", path, f"expected a JSON {kind.__name__}", "MalformedInput")
            return kind()
        return value

    # --- 2. chain ------------------------------------------------------------------------------
    def check_chain(self) -> None:
        total = len(self.kinds)
        eid: str | None = None  # the first readable entry's; election.json is cross-checked
        prev: bytes | None = GENESIS
        bad_before = len(self.failures_so_far())
        for i in range(total):
            where = self.where(i)
            raw = self.files.get(self.paths[i]) if self.paths[i] else None
            entry: Entry | None = None
            if raw is not None:
                try:
                    entry = decode_entry(raw, where)
                except MalformedInput as exc:
                    self.fail("entry encoding", where, exc)
            self.entries.append(entry)
            self.hashes.append(entry.hash() if entry is not None else None)
            if entry is None:
                self.messages.append(None)
                prev = None
                continue
            if eid is None:
                eid = entry.election_id
            if entry.election_id != eid:
                self.fail("chain", where, f"belongs to election {entry.election_id!r}, not {eid!r}")
            if entry.index != i:
                self.fail("chain", where, f"index field says {entry.index} (entries removed, "
                          "added or reordered)")
            if prev is None:
                self.fail("chain", where, "hash link not checkable: the previous entry is "
                          "missing or unreadable", "MalformedInput")
            elif entry.prev != prev:
                self.fail("chain", where, f"hash link does not match the hash of entry {i - 1}"
                          if i else "the first entry does not link to the genesis hash (zeros)")
            try:
                verify_body_signature(entry.author, entry.body, entry.signature, where)
            except MixvoteError as exc:
                self.fail("signature", where, exc)
            msg: Message | None = None
            try:
                msg = decode_body(entry.body)
            except MixvoteError as exc:
                self.fail("entry body", where, exc)
            if msg is not None:
                if msg.kind != self.kinds[i]:
                    self.fail("entry body", where, f"the body is a {msg.kind!r} message, the "
                              f"file name says {self.kinds[i]!r}", "MalformedInput")
                if msg.election_id != entry.election_id:
                    self.fail("entry body", where,
                              f"the message is for election {msg.election_id!r}")
                if msg.kind not in PHASE_RANK:
                    self.fail("entry body", where, f"a {msg.kind!r} message is not a record entry",
                              "ProtocolViolation")
                    msg = None
            self.messages.append(msg)
            prev = self.hashes[-1]
            self.progress("chain", i + 1, total)
        self.eid = eid or ""
        if len(self.failures_so_far()) == bad_before:
            self.ok("chain", f"entries 0..{total - 1}",
                    "every entry decodes, is in place, links to its predecessor and is signed")
        head = self.hashes[-1] if self.hashes else None
        self.summary["entries"] = total
        self.summary["head"] = head.hex() if head else None
        self.check_meta(head)

    def failures_so_far(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def check_meta(self, head: bytes | None) -> None:
        """``election.json`` and ``index.json`` must agree with the entries."""
        meta, bad = self.meta, []
        expect = {"format": RECORD_FORMAT, "election": self.eid, "entries": len(self.entries),
                  "head": head.hex() if head else None}
        for key, value in expect.items():
            if meta.get(key) != value:
                bad.append(f"{key} is {meta.get(key)!r}, the entries say {value!r}")
        for msg_fail in bad:
            self.fail("election.json", "election.json", msg_fail, "MalformedInput")
        index = self.index_json
        bad_index = 0
        if len(index) != len(self.entries):
            self.fail("index.json", "index.json",
                      f"{len(index)} rows for {len(self.entries)} entries", "MalformedInput")
            bad_index += 1
        for i, row in enumerate(index[: len(self.entries)]):
            entry, h = self.entries[i], self.hashes[i]
            if entry is None or h is None:
                continue
            want = {"index": i, "kind": self.kinds[i], "author": entry.author.hex(),
                    "hash": h.hex(), "file": self.paths[i]}
            if not isinstance(row, dict) or any(row.get(k) != v for k, v in want.items()):
                diff = [k for k, v in want.items() if not isinstance(row, dict) or row.get(k) != v]
                self.fail("index.json", f"row {i}", f"{', '.join(diff)} disagree with entry {i}",
                          "MalformedInput")
                bad_index += 1
        if not bad:
            self.ok("election.json", "election.json", "format, election id, entry count and "
                    "head hash match the entries")
        if not bad_index:
            self.ok("index.json", "index.json", "every row matches its entry")

    # --- 3. order ------------------------------------------------------------------------------
    def check_order(self) -> None:
        rank, bad = -1, 0
        for i, msg in enumerate(self.messages):
            if msg is None:
                continue
            r = PHASE_RANK[msg.kind]
            if r < rank:
                self.fail("phase order", self.where(i), f"a {msg.kind} entry after the "
                          f"{_kind_of_rank(rank)} phase", "ProtocolViolation")
                bad += 1
            rank = max(rank, r)
        for kind in ONCE:
            found = [i for i, _m in self.of_kind(kind)]
            if len(found) != 1:
                text = "missing" if not found else f"appears {len(found)} times (entries {found})"
                self.fail("phase order", kind, f"the record's {kind} entry is {text}",
                          "ProtocolViolation")
                bad += 1
        first = self.messages[0] if self.messages else None
        if first is None or first.kind != "election.params":
            self.fail("phase order", "entry 0", "the record must start with election.params",
                      "ProtocolViolation")
            bad += 1
        last = self.messages[-1] if self.messages else None
        if last is None or last.kind != "tally":
            self.fail("phase order", f"entry {len(self.messages) - 1}",
                      "the record must end with the tally", "ProtocolViolation")
            bad += 1
        if not bad:
            self.ok("phase order", "", "parameters, nodes, DKG, voting, mixing, decryption, "
                    "tally — each in its place")

    # --- 4. parameters and authorship ------------------------------------------------------------
    def check_params(self) -> None:
        found = self.of_kind("election.params")
        if not found:
            self.fail("parameters", "election.params", "no parameters entry: nothing else can "
                      "be checked", "MalformedInput")
            raise _Abort
        i, msg = found[0]
        where = self.where(i)
        entry = self.entries[i]
        assert entry is not None
        raw = msg["params"]
        try:
            params = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            self.fail("parameters", where, "the parameters are not JSON", "MalformedInput")
            raise _Abort from None
        if not isinstance(params, dict):
            self.fail("parameters", where, "the parameters are not a JSON object", "MalformedInput")
            raise _Abort
        bad: list[str] = []
        if canonical_json(params) != raw:
            bad.append("not in canonical JSON form")
        if params.get("id") != self.eid:
            bad.append(f"id {params.get('id')!r} is not the election id {self.eid!r}")
        if params.get("group") not in GROUPS:
            bad.append(f"unknown group {params.get('group')!r}")
        for key, low, high in (("n", 1, 64), ("t", 1, 64), ("width", 1, 64),
                               ("voters", 0, 1_000_000)):
            value = params.get(key)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                bad.append(f"{key} must be an integer in {low}..{high}, got {value!r}")
        if not bad and params["t"] > params["n"]:
            bad.append(f"t={params['t']} exceeds n={params['n']}")
        choices = params.get("choices")
        if not isinstance(choices, list) or not choices or not all(
            isinstance(c, str) for c in choices
        ):
            bad.append("choices must be a non-empty list of strings")
        if params.get("policy") not in BALLOT_POLICIES:
            bad.append(f"policy {params.get('policy')!r} is not one of {BALLOT_POLICIES}")
        server_key = msg["server_key"]
        if server_key != entry.author:
            bad.append("the server key in the parameters is not the key that signed them")
        if self.meta.get("server_key") != server_key.hex():
            bad.append("election.json names another server key")
        if self.meta.get("params") != params:
            bad.append("election.json has other parameters than the signed entry")
        if self.expected_server_key is not None and server_key != self.expected_server_key:
            bad.append(f"the record's server key {server_key.hex()[:16]}… is not the expected "
                       f"{self.expected_server_key.hex()[:16]}…")
        for text in bad:
            self.fail("parameters", where, text, "MalformedInput")
        if any(k.startswith(("unknown group", "n ", "t ", "width", "choices")) for k in bad):
            raise _Abort
        self.params, self.server_key = params, server_key
        self.g = group(params["group"])
        if not bad:
            self.ok("parameters", where, f"group {params['group']}, n={params['n']}, "
                    f"t={params['t']}, width {params['width']}, {len(params['choices'])} choices")

    def check_nodes(self) -> None:
        from crypto.transport import PublicIdentity

        n, bad = self.params["n"], 0
        for i, msg in self.of_kind("node.enrolled"):
            where, position, key = self.where(i), msg["position"], msg["public_key"]
            try:
                PublicIdentity.from_bytes(key)
            except MixvoteError as exc:
                self.fail("nodes", where, exc)
                bad += 1
                continue
            if not 1 <= position <= n:
                self.fail("nodes", where, f"position {position} is not in 1..{n}",
                          "ProtocolViolation")
            elif position in self.node_keys:
                self.fail("nodes", where, f"node {position} enrolled twice", "ProtocolViolation")
            elif key in self.node_keys.values():
                self.fail("nodes", where, f"node {position}'s key is already enrolled",
                          "ProtocolViolation")
            else:
                self.node_keys[position] = key
                continue
            bad += 1
        missing = [p for p in range(1, n + 1) if p not in self.node_keys]
        if missing:
            self.fail("nodes", "node.enrolled", f"nodes {missing} were never enrolled",
                      "ProtocolViolation")
        elif not bad:
            self.ok("nodes", "node.enrolled", f"{n} distinct node identities at positions 1..{n}")

    def check_authors(self) -> None:
        """Server kinds signed by the server key, node kinds by an enrolled node's key."""
        node_signers = {key[:32]: pos for pos, key in self.node_keys.items()}
        bad = 0
        for i, msg in enumerate(self.messages):
            entry = self.entries[i]
            if msg is None or entry is None:
                continue
            if msg.kind in RECORD_NODE_KINDS:
                if entry.author not in node_signers:
                    self.fail("author", self.where(i), "signed by a key that is not an enrolled "
                              f"node's ({entry.author.hex()[:16]}…)", "ProtocolViolation")
                    bad += 1
            elif entry.author != self.server_key:
                self.fail("author", self.where(i), "a server entry signed by a key that is not "
                          f"the server's ({entry.author.hex()[:16]}…)", "ProtocolViolation")
                bad += 1
        if not bad:
            self.ok("author", "", "server entries signed by the server key, node entries by "
                    "enrolled nodes")

    def author_position(self, i: int) -> int | None:
        entry = self.entries[i]
        if entry is None:
            return None
        for pos, key in self.node_keys.items():
            if key[:32] == entry.author:
                return pos
        return None

    # --- 5. DKG ------------------------------------------------------------------------------
    def check_dkg(self) -> None:
        from crypto.dkg import ComplaintMsg, Deal, DkgParams, ResponseMsg, dkg_result
        from crypto.elgamal import encode_public_key

        g, n, t = self.g, self.params["n"], self.params["t"]
        assert g is not None
        if len(self.node_keys) != n:
            self.fail("DKG", "dkg", "not checkable: the node identities are incomplete",
                      "ProtocolViolation")
            return
        params = DkgParams(g, self.eid, n, t, tuple(self.node_keys[p] for p in range(1, n + 1)))
        maps: dict[str, dict[int, Any]] = {}
        bad = 0
        for kind, parser, attr in (("dkg.deal", Deal, "dealer"),
                                   ("dkg.complaint", ComplaintMsg, "sender"),
                                   ("dkg.response", ResponseMsg, "dealer")):
            mapping: dict[int, Any] = {}
            for i, msg in self.of_kind(kind):
                where = self.where(i)
                try:
                    parsed = parser.from_bytes(params, msg["data"])
                except MixvoteError as exc:
                    self.fail("DKG", where, exc)
                    bad += 1
                    continue
                sender = getattr(parsed, attr)
                if self.author_position(i) != sender:
                    self.fail("DKG", where, f"message of node {sender} signed by node "
                              f"{self.author_position(i)}", "ProtocolViolation")
                    bad += 1
                elif sender in mapping:
                    self.fail("DKG", where, f"node {sender} sent a second {kind}",
                              "ProtocolViolation")
                    bad += 1
                else:
                    mapping[sender] = parsed
            maps[kind] = mapping
        found = self.of_kind("dkg.result")
        if not found:
            return
        i, msg = found[0]
        where = self.where(i)
        try:
            result = dkg_result(params, maps["dkg.deal"], maps["dkg.complaint"],
                                maps["dkg.response"])
        except MixvoteError as exc:
            self.fail("DKG", where, f"the transcript gives no key: {exc}")
            return
        pk = encode_public_key(result.public_key)
        vkeys = [g.encode(result.verification_keys[j]) for j in range(1, n + 1)]
        qualified = [str(j).encode() for j in result.qualified]
        if msg["public_key"] != pk:
            self.fail("DKG", where, "the joint public key is not the one the transcript gives")
            bad += 1
        if list(msg["verification_keys"]) != vkeys:
            wrong = [j + 1 for j, v in enumerate(vkeys)
                     if j >= len(msg["verification_keys"]) or msg["verification_keys"][j] != v]
            self.fail("DKG", where, f"verification keys of nodes {wrong} differ from the "
                      "transcript's")
            bad += 1
        if list(msg["qualified"]) != qualified:
            recorded = [q.decode(errors="replace") for q in msg["qualified"]]
            self.fail("DKG", where, f"qualified set {recorded} is not the transcript's "
                      f"{list(result.qualified)}")
            bad += 1
        self.public_key, self.verification_keys = pk, vkeys
        self.qualified = list(result.qualified)
        for j, reason in sorted(result.disqualified.items()):
            self.ok("DKG disqualification", f"node {j}", reason)
        opened = self.of_kind("voting.opened")
        if opened and opened[0][1]["public_key"] != pk:
            self.fail("DKG", self.where(opened[0][0]), "voting opened with another public key "
                      "than the DKG's")
            bad += 1
        if not bad:
            self.ok("DKG", where, f"joint key {pk.hex()[:16]}…, {n} verification keys and "
                    f"qualified set {self.qualified} recomputed from the transcript")

    # --- 6. ballots ----------------------------------------------------------------------------
    def check_ballots(self) -> list[_Ballot]:
        from crypto.parallel import chunked, pmap

        width = self.params["width"]
        ballots = []
        for number, (i, msg) in enumerate(self.of_kind("ballot")):
            h = self.hashes[i]
            assert h is not None
            ballots.append(_Ballot(number, i, msg["voter_id"], msg["width"], msg["ciphertext"],
                                   msg["proof"], h))
        self.summary["ballots_cast"] = len(ballots)
        invalid: set[int] = set()
        if ballots and self.public_key:
            assert self.g is not None
            items = [(b.number, b.index, b.voter_id, b.width, b.ciphertext, b.proof)
                     for b in ballots]
            parts = max(self.workers, (len(items) + BALLOT_CHUNK - 1) // BALLOT_CHUNK)
            chunks = [items[s] for s in chunked(len(items), parts)]
            args = [(self.g.name, self.public_key, self.eid, width, chunk) for chunk in chunks]
            done = 0
            bad: list[tuple[int, int, str, str]] = []
            # in waves of `workers` chunks, so that progress advances
            step = max(1, self.workers)
            for k in range(0, len(args), step):
                for part in pmap(_verify_ballot_chunk, args[k : k + step], self.workers):
                    bad.extend(part)
                done += sum(len(a[4]) for a in args[k : k + step])
                self.progress("ballots", done, len(items))
            for number, index, error, reason in bad:
                invalid.add(number)
                voter = ballots[number].voter_id[:32]
                self.fail("ballot proof", f"ballot {number} ({self.where(index)}, voter {voter})",
                          reason, error)
            if not bad:
                self.ok("ballot proof", f"{len(ballots)} ballots", "every ciphertext is valid and "
                        "its proof of knowledge is bound to this election and its voter")
        elif ballots:
            self.fail("ballot proof", "ballots", "not checkable: no valid election key")
        seen: dict[bytes, int] = {}
        replays = 0
        for b in ballots:
            if b.ciphertext in seen:
                self.fail("ballot replay", f"ballot {b.number} ({self.where(b.index)})",
                          f"the same ciphertext as ballot {seen[b.ciphertext]}",
                          "ProtocolViolation")
                replays += 1
            else:
                seen[b.ciphertext] = b.number
        if not replays:
            self.ok("ballot replay", f"{len(ballots)} ballots", "no ciphertext was cast twice")
        registered = self.registered_voters()
        if registered is not None:
            strangers = [b for b in ballots if b.voter_id not in registered]
            for b in strangers:
                self.fail("registered credential", f"ballot {b.number} ({self.where(b.index)})",
                          f"voter {b.voter_id} is not among the registered credentials",
                          "ProtocolViolation")
            if not strangers:
                self.ok("registered credential", f"{len(ballots)} ballots",
                        f"every ballot comes from one of the {len(registered)} registered "
                        "credentials")
        first_counts = self.params.get("policy") == FIRST_BALLOT_COUNTS
        latest: dict[str, _Ballot] = {}
        for b in ballots:
            if first_counts and b.voter_id in latest:
                self.fail("one ballot per credential", f"ballot {b.number} ({self.where(b.index)})",
                          f"a second ballot of voter {b.voter_id} was accepted although the "
                          "first ballot counts", "ProtocolViolation")
                continue
            latest[b.voter_id] = b  # the last (or, with first-ballot-counts, the only) ballot
        counted = sorted(latest.values(), key=lambda b: b.index)
        voters = self.params.get("voters", 0)
        which = "first" if first_counts else "last"
        if len(latest) > voters:
            self.fail("one ballot per credential", "ballots", f"{len(latest)} distinct voters "
                      f"for {voters} credentials", "ProtocolViolation")
        else:
            self.ok("one ballot per credential", f"{len(ballots)} ballots",
                    f"{len(counted)} counted (the {which} ballot of each of {len(latest)} voters,"
                    f" at most {voters} credentials)")
        self.summary["ballots_counted"] = len(counted)
        self.invalid_ballots = invalid
        return counted

    def registered_voters(self) -> set[str] | None:
        """The voter ids of the issued credentials, from the ``voters.registered`` entry (None,
        with a failure, when it is missing or malformed)."""
        found = self.of_kind("voters.registered")
        if not found:
            self.fail("registered credential", "voters.registered", "no list of registered "
                      "credentials: ballots cannot be checked against it", "MalformedInput")
            return None
        i, msg = found[0]
        raw = msg["voter_ids"]
        ids = [raw[k : k + 16] for k in range(0, len(raw), 16)]
        problems = []
        if len(raw) % 16:
            problems.append(f"{len(raw)} bytes is not a whole number of 16-byte voter ids")
        if len(ids) != self.params.get("voters"):
            problems.append(f"{len(ids)} voter ids for {self.params.get('voters')} credentials")
        if ids != sorted(set(ids)):
            problems.append("the voter ids are not sorted and distinct")
        for text in problems:
            self.fail("registered credential", self.where(i), text, "MalformedInput")
        return None if problems else {v.hex() for v in ids}

    # --- 7. closed list ------------------------------------------------------------------------
    def check_closed(self, counted: list[_Ballot]) -> bytes | None:
        """Returns the closed list (the first hop's input) if it is well formed."""
        found = self.of_kind("voting.closed")
        if not found:
            return None
        i, msg = found[0]
        where = self.where(i)
        width = self.params["width"]
        assert self.g is not None
        row = 2 * width * self.g.element_size
        cts, trackers, count = msg["ciphertexts"], list(msg["trackers"]), msg["count"]
        bad = 0
        if msg["width"] != width:
            self.fail("closed list", where, f"width {msg['width']}, the election's is {width}",
                      "MalformedInput")
            bad += 1
        if len(cts) % row or len(cts) // row != count or len(trackers) != count:
            self.fail("closed list", where, f"count {count}, {len(trackers)} trackers and "
                      f"{len(cts) / row:g} ciphertexts disagree", "MalformedInput")
            bad += 1
        by_hash = {b.hash: b for b in counted}
        all_ballots = {b.hash: b for b in self._all_ballots()}
        listed = set()
        for k, tr in enumerate(trackers):
            pos = f"closed list position {k} ({where})"
            ballot = by_hash.get(tr)
            if ballot is None:
                other = all_ballots.get(tr)
                why = (f"ballot {other.number} was superseded by a later ballot of its voter"
                       if other is not None else "no ballot entry has this tracker")
                self.fail("closed list", pos, f"tracker {tr.hex()[:16]}… is not a counted "
                          f"ballot: {why}")
                bad += 1
                continue
            if tr in listed:
                self.fail("closed list", pos, f"ballot {ballot.number} listed twice")
                bad += 1
                continue
            listed.add(tr)
            if k < len(counted) and counted[k].hash != tr:
                self.fail("closed list", pos, f"out of board order: ballot {ballot.number} "
                          f"where ballot {counted[k].number} belongs")
                bad += 1
            if cts[k * row : (k + 1) * row] != ballot.ciphertext:
                self.fail("closed list", pos, f"the ciphertext is not ballot {ballot.number}'s "
                          f"({self.where(ballot.index)})")
                bad += 1
        for b in counted:
            if b.hash not in listed:
                self.fail("closed list", f"ballot {b.number} ({self.where(b.index)})",
                          "a counted ballot is missing from the closed list")
                bad += 1
        for b in counted:
            if b.number in self.invalid_ballots:
                self.fail("closed list", f"ballot {b.number} ({self.where(b.index)})",
                          "an invalid ballot is in the closed list")
                bad += 1
        if not bad:
            self.ok("closed list", where, f"exactly the {count} counted ballots, in board order, "
                    "with their trackers")
        if len(cts) % row:
            return None
        return bytes(cts)

    def _all_ballots(self) -> list[_Ballot]:
        out = []
        for number, (i, msg) in enumerate(self.of_kind("ballot")):
            h = self.hashes[i]
            assert h is not None
            out.append(_Ballot(number, i, msg["voter_id"], msg["width"], msg["ciphertext"],
                               msg["proof"], h))
        return out

    # --- 8. hops -------------------------------------------------------------------------------
    def check_hops(self, current: bytes) -> tuple[bytes, list[int]]:
        """Returns the final list and the positions excluded (rejected hops)."""
        assert self.g is not None
        n, width = self.params["n"], self.params["width"]
        row = 2 * width * self.g.element_size
        count = len(current) // row
        results = {i: m for i, m in self.of_kind("mix.result")}
        used = self.check_abandoned("hop.verdict", "result_entry", results)
        verdicts = [(i, v) for i, v in self.of_kind("hop.verdict") if v["status"] != ABANDONED]
        excluded: list[int] = []
        accepted = 0
        pending: list[tuple[str, str, int, int, tuple[Any, ...] | None]] = []
        prev_verdict = -1
        for k, (i, v) in enumerate(verdicts):
            hop, position, status = v["hop"], v["position"], v["status"]
            where = f"hop {hop} (node {position}, {self.where(i)})"
            if hop != k + 1 or position != k + 1:
                self.fail("hop order", where, f"verdict {k + 1} of the cascade is for hop {hop}, "
                          f"node {position}; the cascade is nodes 1..{n} in order",
                          "ProtocolViolation")
            if status == SKIPPED:
                if v["result_entry"] != 0 or v["output_digest"] != b"":
                    self.fail("hop", where, "a skipped hop names a result", "ProtocolViolation")
                else:
                    self.ok("hop", where, f"skipped ({v['reason']}); the list passes on unchanged")
                prev_verdict = i
                continue
            if status not in (ACCEPTED, REJECTED):
                self.fail("hop", where, f"unknown status {status!r}", "MalformedInput")
                prev_verdict = i
                continue
            r = v["result_entry"]
            result = results.get(r)
            if result is None or r in used or not prev_verdict < r < i:
                self.fail("hop", where, f"result entry {r} is not a mix.result between the "
                          "previous verdict and this one", "ProtocolViolation")
                if status == REJECTED:
                    excluded.append(position)
                prev_verdict = i
                continue
            used.add(r)
            rwhere = f"hop {hop} (node {position}, {self.where(r)})"
            if self.author_position(r) != position:
                self.fail("hop", rwhere, f"the result is signed by node "
                          f"{self.author_position(r)}, not node {position}", "ProtocolViolation")
            if v["output_digest"] != digest(result["outputs"]):
                self.fail("hop", where, "the verdict's output digest is not that of the result",
                          "InvalidProof")
            task = None
            if result["input_digest"] == digest(current) and count:
                task = (self.g.name, self.eid, self.public_key, width, current,
                        bytes(result["outputs"]), list(result["proof"]))
            pending.append((status, rwhere, position, count, task))
            if status == ACCEPTED:
                current = bytes(result["outputs"])  # the list the next hop was given
                self.accepted_hops.append((position, current, list(result["proof"])))
            else:
                excluded.append(position)
            prev_verdict = i
        outcomes = iter(self.verify_hops([p[4] for p in pending if p[4] is not None], count))
        for status, rwhere, _position, rows, task in pending:
            if task is None:
                error, reason = "InvalidProof", "the result is not for the list this node was given"
            else:
                error, reason = next(outcomes)
            if status == ACCEPTED:
                if error:
                    self.fail("hop shuffle proof", rwhere, reason, error)
                else:
                    self.ok("hop shuffle proof", rwhere, f"{rows} rows re-encrypted and "
                            "permuted; the proof of a shuffle verifies")
                    accepted += 1
            elif error:
                self.ok("hop", rwhere, f"rejected as recorded: {reason}")
            else:
                self.fail("hop", rwhere, "recorded as rejected, but its proof verifies",
                          "ProtocolViolation")
        positions = [v["position"] for _i, v in verdicts]
        if sorted(positions) != list(range(1, n + 1)):
            self.fail("hop order", "hop.verdict", f"verdicts for nodes {positions}; the cascade "
                      f"is nodes 1..{n}, one verdict each", "ProtocolViolation")
        for r in sorted(set(results) - used):
            self.fail("hop", self.where(r), "a mix result no verdict refers to",
                      "ProtocolViolation")
        if count and not accepted:
            self.fail("hop", "cascade", "no hop was accepted: the ballots were never mixed")
        self.summary["hops_accepted"] = accepted
        return current, excluded

    def check_abandoned(self, kind: str, field: str, results: dict[int, Message]) -> set[int]:
        """Verdicts with status ``abandoned`` (the server restarted before judging a result):
        each closes one earlier result of its node that no other verdict uses; the result is
        not checked and counts for nothing. Returns the indices of the results they close."""
        closed: set[int] = set()
        for i, v in self.of_kind(kind):
            if v["status"] != ABANDONED:
                continue
            r, position = v[field], v["position"]
            where = f"node {position} ({self.where(i)})"
            if r not in results or r in closed or not r < i:
                self.fail("abandoned", where, f"entry {r} is not an earlier result that this "
                          "verdict alone closes", "ProtocolViolation")
            elif self.author_position(r) != position:
                self.fail("abandoned", where, f"entry {r} is signed by node "
                          f"{self.author_position(r)}, not node {position}", "ProtocolViolation")
            elif "output_digest" in v.fields and v["output_digest"] != digest(
                    results[r]["outputs"]):
                self.fail("abandoned", where, "the verdict's output digest is not that of the "
                          "result", "InvalidProof")
            else:
                self.ok("abandoned", where, f"result entry {r} left unjudged when the server "
                        "restarted; the job was redone")
            closed.add(r)
        return closed

    def verify_hops(self, tasks: list[tuple[Any, ...]], rows: int) -> list[tuple[str, str]]:
        """Verify the hops' shuffle proofs; returns ``(error class, reason)`` per task.

        Every hop's input and output lists are on the record, so hops are independent: with
        ``workers > 1`` they run in waves of ``workers`` hops at once (one process each, no
        serial part left), and a last lone hop uses all workers inside the shuffle verifier."""
        from crypto.parallel import pmap

        total = rows * len(tasks)
        self.summary["shuffle_rows"] = 0
        self.progress("shuffle", 0, total)
        out: list[tuple[str, str]] = []
        k = 0
        while k < len(tasks):
            remaining = len(tasks) - k
            if self.workers == 1 or remaining == 1:
                wave = [(*tasks[k], self.workers)]
                out.append(check_hop(*wave[0]))
            else:
                wave = [(*t, 1) for t in tasks[k : k + self.workers]]
                out.extend(pmap(check_hop, wave, self.workers))
            k += len(wave)
            self.summary["shuffle_rows"] = rows * k
            self.progress("shuffle", rows * k, total)
        return out

    def check_verificatum(self, closed: bytes) -> None:
        """``verificatum/`` (protInfo.xml and the proof directory of the accepted hops, for
        Verificatum's ``vmnv``) must be exactly what the entries give (``docs/record.md``)."""
        from crypto.elgamal import decode_ciphertexts, decode_public_key
        from crypto.shuffle import ShuffleSession, decode_proof
        from crypto.verificatum import verificatum_name
        from crypto.vmn_dir import export_shuffle_directory

        prefix = "verificatum/"
        present = {p[len(prefix):]: d for p, d in self.files.items() if p.startswith(prefix)}
        g, width = self.g, self.params["width"]
        assert g is not None
        expected: dict[str, bytes] = {}
        try:
            if verificatum_name(g) and closed and self.accepted_hops:
                session = ShuffleSession(g, shuffle_sid(self.eid))
                inputs = decode_ciphertexts(g, closed, width)
                hops = [(decode_ciphertexts(g, out, width),
                         decode_proof(session, decode_proof_files(items), len(inputs), width))
                        for _pos, out, items in self.accepted_hops]
                names = [f"node{pos}" for pos, _o, _i in self.accepted_hops]
                expected = dict(export_shuffle_directory(
                    session, decode_public_key(g, self.public_key), inputs, hops, names,
                    name=f"mixvote {self.eid}"))
        except (MixvoteError, ValueError) as exc:
            if present:
                self.fail("verificatum", prefix, f"cannot be derived from the entries: {exc}")
            return
        bad = 0
        for rel in sorted(set(present) | set(expected)):
            if rel not in expected:
                self.fail("verificatum", prefix + rel, "a file the entries do not give",
                          "MalformedInput")
            elif rel not in present:
                self.fail("verificatum", prefix + rel, "file missing", "MalformedInput")
            elif present[rel] != expected[rel]:
                self.fail("verificatum", prefix + rel, "differs from what the entries give")
            else:
                continue
            bad += 1
        if present and not bad:
            self.ok("verificatum", prefix, f"{len(present)} files, exactly as derived from the "
                    "closed list and the accepted hops")

    # --- 9. decryption -------------------------------------------------------------------------
    def check_decryption(self, final: bytes, excluded: list[int]) -> dict[int, bytes]:
        """Returns the accepted, verified shares by position."""
        from crypto.parallel import pmap

        assert self.g is not None
        t, width = self.params["t"], self.params["width"]
        context = decryption_context(self.eid, final)
        shares = {i: m for i, m in self.of_kind("decrypt.share")}
        eligible = set(self.qualified) - set(excluded)
        used = self.check_abandoned("decrypt.verdict", "share_entry", shares)
        verdicts = [(i, v) for i, v in self.of_kind("decrypt.verdict")
                    if v["status"] != ABANDONED]
        seen: set[int] = set()
        jobs: list[tuple[int, int, str, Message, str]] = []
        prev_verdict = max((i for i, _m in self.of_kind("hop.verdict")), default=-1)
        for i, v in verdicts:
            position, status, s = v["position"], v["status"], v["share_entry"]
            where = f"node {position} ({self.where(i)})"
            if position in seen:
                self.fail("decryption share", where, f"a second verdict for node {position}",
                          "ProtocolViolation")
                continue
            seen.add(position)
            if position not in eligible:
                self.fail("decryption share", where, f"node {position} may not decrypt (qualified "
                          f"{sorted(self.qualified)}, excluded {sorted(excluded)})",
                          "ProtocolViolation")
            if status not in (ACCEPTED, REJECTED):
                self.fail("decryption share", where, f"unknown status {status!r}",
                          "MalformedInput")
                continue
            share = shares.get(s)
            if share is None or s in used or not prev_verdict < s < i:
                self.fail("decryption share", where, f"share entry {s} is not a decrypt.share "
                          "before this verdict", "ProtocolViolation")
                continue
            used.add(s)
            swhere = f"node {position} ({self.where(s)})"
            if self.author_position(s) != position:
                self.fail("decryption share", swhere, f"signed by node {self.author_position(s)}",
                          "ProtocolViolation")
                continue
            jobs.append((position, s, status, share, swhere))
        for s in sorted(set(shares) - used):
            self.fail("decryption share", self.where(s), "a share no verdict refers to",
                      "ProtocolViolation")
        args = []
        for position, _s, _status, share, _w in jobs:
            vk = self.verification_keys[position - 1] if position - 1 < len(
                self.verification_keys) else b""
            args.append((self.g.name, vk, width, final, share["share"], context, position))
        self.progress("decryption", 0, len(jobs))
        outcomes = pmap(check_share, args, self.workers) if args else []
        valid: dict[int, bytes] = {}
        for (position, _s, status, share, swhere), (error, reason) in zip(jobs, outcomes,
                                                                           strict=True):
            if share["input_digest"] != digest(final):
                error, reason = "InvalidProof", "the share is not for the final list"
            if status == ACCEPTED:
                if error:
                    self.fail("decryption share", swhere, reason, error)
                else:
                    self.ok("decryption share", swhere, "the Chaum–Pedersen proof verifies "
                            "against the node's verification key and the final list")
                    if position in eligible:
                        valid[position] = share["share"]
            elif error:
                self.ok("decryption share", swhere, f"rejected as recorded: {reason}")
            else:
                self.fail("decryption share", swhere, "recorded as rejected, but it verifies",
                          "ProtocolViolation")
        self.progress("decryption", len(jobs), len(jobs))
        if len(valid) < t:
            self.fail("decryption share", "decryption", f"{len(valid)} valid shares, "
                      f"t={t} are needed")
        return valid

    # --- 10. tally -------------------------------------------------------------------------------
    def check_tally(self, final: bytes, valid: dict[int, bytes]) -> None:
        from crypto.ballot import tally
        from crypto.elgamal import decode_ciphertexts
        from crypto.threshold import combine, decode_decryption_share

        found = self.of_kind("tally")
        if not found:
            return
        i, msg = found[0]
        where = self.where(i)
        g, t, choices = self.g, self.params["t"], self.params["choices"]
        assert g is not None
        try:
            result = json.loads(msg["result"].decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            self.fail("tally", where, "the result is not JSON", "MalformedInput")
            return
        if canonical_json(result) != msg["result"]:
            self.fail("tally", where, "the result is not in canonical JSON form",
                      "MalformedInput")
        if final:
            if len(valid) < t:
                self.fail("tally", where, "not checkable: fewer than t valid decryption shares")
                return
            cts = decode_ciphertexts(g, final, self.params["width"])
            decoded = {j: decode_decryption_share(g, valid[j], len(cts), self.params["width"])
                       for j in sorted(valid)[:t]}
            rows = combine(g, cts, decoded, t)
        else:
            rows = []
        counted = tally(g, rows, choices)
        counts, invalid, plaintexts = counted.counts, counted.invalid, counted.plaintexts
        recorded = list(msg["plaintexts"])
        bad = 0
        if len(recorded) != len(plaintexts):
            self.fail("tally plaintexts", where, f"{len(recorded)} plaintexts recorded, "
                      f"{len(plaintexts)} decrypted")
            bad += 1
        for k, (a, b) in enumerate(zip(recorded, plaintexts, strict=False)):
            if a != b:
                self.fail("tally plaintexts", f"plaintext {k} ({where})",
                          f"recorded {a.hex()[:32]!r}, the shares decrypt to {b.hex()[:32]!r}")
                bad += 1
        if not bad:
            self.ok("tally plaintexts", where, f"{len(plaintexts)} plaintexts are the "
                    f"combination of {min(t, len(valid)) if final else 0} verified shares")
        want = {"counts": counts, "invalid": invalid, "ballots": len(rows)}
        diffs = [f"{k}: recorded {result.get(k)!r}, recomputed {v!r}" for k, v in want.items()
                 if not isinstance(result, dict) or result.get(k) != v]
        extra = sorted(set(result) - set(want)) if isinstance(result, dict) else []
        if extra:
            diffs.append(f"unexpected result fields {extra}")
        for d in diffs:
            self.fail("tally", where, d)
        if not diffs:
            self.ok("tally", where, f"{json.dumps(counts, ensure_ascii=False)}, {invalid} "
                    f"invalid, {len(rows)} ballots")
        self.summary["tally"] = want

    # --- driver ----------------------------------------------------------------------------------
    def run(self) -> None:
        self.check_layout()
        self.check_chain()
        if not self.eid:
            raise _Abort
        self.check_order()
        self.check_params()
        self.check_nodes()
        self.check_authors()
        self.check_dkg()
        counted = self.check_ballots()
        closed = self.check_closed(counted)
        if closed is None:
            self.fail("hop", "cascade", "not checkable: no well-formed closed list",
                      "MalformedInput")
            return
        if not self.public_key:
            self.fail("hop", "cascade", "not checkable: no valid election key", "InvalidProof")
            return
        final, excluded = self.check_hops(closed)
        self.check_verificatum(closed)
        valid = self.check_decryption(final, excluded) if final else {}
        self.check_tally(final, valid)


def _kind_of_rank(rank: int) -> str:
    return "/".join(k for k, r in PHASE_RANK.items() if r == rank)


def verify_record(
    files: Mapping[str, bytes],
    *,
    workers: int = 1,
    server_key: bytes | None = None,
    progress: Progress | None = None,
) -> RecordReport:
    """Check an exported election record (``docs/record.md``) held as a file map.

    ``server_key`` (32 bytes), if given, is the server's Ed25519 key as published out of band;
    the record must be signed by it. ``workers`` processes share the heavy proofs.
    ``progress(stage, done, total)`` is called with stages ``chain``, ``ballots``, ``shuffle``,
    ``decryption``. Never raises for a bad record: every problem is a failed :class:`Check`.
    """
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"verify_record: workers must be a positive integer, got {workers!r}")
    if server_key is not None and len(server_key) != 32:
        raise ValueError("verify_record: server_key must be 32 bytes")
    v = _Verifier(files, workers, server_key, progress)
    try:
        v.run()
    except _Abort:
        pass
    except (MixvoteError, ValueError, KeyError, TypeError) as exc:
        # A record malformed in a way no specific check anticipated still fails, with its reason.
        v.fail("record", "", f"verification stopped: {type(exc).__name__}: {exc}",
               _error_name(exc))
    return RecordReport(v.eid, tuple(v.checks), v.summary)


__all__ = ["PHASE_RANK", "RECORD_FORMAT", "Check", "RecordReport", "verify_record"]
