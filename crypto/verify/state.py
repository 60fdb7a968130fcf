"""What the stages of one verification run share: the record's constants, the decoded entries,
what earlier stages established, and the checks made so far (:class:`Run`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from hashlib import sha256
from typing import Any

from crypto.credentials import PUBLIC_SIZE, CredentialList, voter_id
from crypto.errors import InvalidProof, ProtocolViolation
from crypto.executor import Mapper
from crypto.groups import Group
from crypto.protocol.wire import ABANDONED, Message
from crypto.receipts import Receipt
from crypto.record import Entry
from crypto.report import Progress, Recorder

RECORD_FORMAT = "mixvote-record/1"
#: The keys of election.json, all required; any other key is a failure.
META_KEYS = frozenset({"format", "election", "server_key", "entries", "head", "params"})
ENTRY_FILE = re.compile(r"^entries/(\d{6})-([a-z.]+)\.bin$")
VOTER_ID = re.compile(r"^[0-9a-f]{32}$")

#: The phase rank of each kind of record entry; kinds must appear in non-decreasing rank.
PHASE_RANK: dict[str, int] = {
    "election.params": 0,
    "credentials.list": 1,
    "node.enrolled": 1,
    "node.endorse": 2,
    "dkg.deal": 3,
    "dkg.complaint": 4,
    "dkg.response": 5,
    "dkg.result": 6,
    "voting.opened": 7,
    "ballot": 8,
    "voting.closed": 9,
    "mix.result": 10,
    "job.failed": 10,
    "hop.verdict": 10,
    "decrypt.share": 11,
    "decrypt.verdict": 11,
    "tally": 12,
}
#: Kinds that occur exactly once in a complete record.
ONCE = (
    "election.params",
    "credentials.list",
    "dkg.result",
    "voting.opened",
    "voting.closed",
    "tally",
)
#: Record kinds written (and signed) by a node; every other record kind is the server's.
RECORD_NODE_KINDS = frozenset({"node.endorse", "dkg.deal", "dkg.complaint", "dkg.response",
                               "mix.result", "job.failed", "decrypt.share"})
#: Ballots verified per task when spread over worker processes.
BALLOT_CHUNK = 500


class Abort(Exception):
    """A failure that leaves nothing further to check."""


def kind_of_rank(rank: int) -> str:
    return "/".join(k for k, r in PHASE_RANK.items() if r == rank)


@dataclass(frozen=True)
class Ballot:
    """One ballot entry of the record (module level, so that it pickles to a worker)."""

    number: int  # 0-based among the ballot entries
    index: int  # entry index
    credential: bytes  # the voter's public credential (Ed25519 key)
    width: int
    ciphertext: bytes
    proof: bytes
    signature: bytes  # the credential's signature over (fingerprint, row, proof)
    hash: bytes

    @property
    def voter_id(self) -> str:
        """The voter id of the credential (``crypto.credentials.voter_id``), or "" for a key
        of the wrong size (reported by the ballot check)."""
        return voter_id(self.credential) if len(self.credential) == PUBLIC_SIZE else ""


@dataclass
class Run(Recorder):
    """One verification run (see :func:`crypto.verify.verify_record`): the inputs, what the
    stages established so far, and the checks (:class:`crypto.report.Recorder`)."""

    files: Mapping[str, bytes]
    workers: int
    mapper: Mapper
    expected_server_key: bytes | None
    progress: Progress
    expected_authority: bytes | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    eid: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    entries: list[Entry | None] = field(default_factory=list)
    hashes: list[bytes | None] = field(default_factory=list)
    messages: list[Message | None] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)  # from the file names
    server_key: bytes = b""
    params: dict[str, Any] = field(default_factory=dict)
    g: Group | None = None
    node_keys: dict[int, bytes] = field(default_factory=dict)  # position -> public identity
    public_key: bytes = b""
    verification_keys: list[bytes] = field(default_factory=list)
    qualified: list[int] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    index_json: list[Any] = field(default_factory=list)
    invalid_ballots: set[int] = field(default_factory=set)
    accepted_hops: list[tuple[int, bytes, list[bytes]]] = field(default_factory=list)
    clist: CredentialList | None = None
    credentials: frozenset[bytes] | None = None  # the authority-signed list, once checked
    fingerprint: bytes = b""  # recomputed from the record (parameters, list, node keys)
    receipts: list[Receipt] = field(default_factory=list)  # held by a node or a voter
    receipt_server_key: bytes | None = None

    def __post_init__(self) -> None:
        Recorder.__init__(self)

    @property
    def group(self) -> Group:
        """The election's group (set by the parameters stage, which aborts without one)."""
        assert self.g is not None, "the parameters stage sets the group"
        return self.g

    def where(self, i: int) -> str:
        kind = self.kinds[i] if i < len(self.kinds) else "?"
        return f"entry {i} ({kind})"

    def of_kind(self, kind: str) -> list[tuple[int, Message]]:
        return [(i, m) for i, m in enumerate(self.messages) if m is not None and m.kind == kind]

    def first(self, kind: str) -> tuple[int, Message] | None:
        """The first entry of ``kind`` (index and message), or None when there is none; the
        phase-order stage reports a kind that must occur once but does not, or occurs twice."""
        found = self.of_kind(kind)
        return found[0] if found else None

    def check_abandoned(self, kind: str, field: str, results: Mapping[int, Message]) -> set[int]:
        """Verdicts of ``kind`` with status ``abandoned`` (the server restarted before judging a
        result): each closes one earlier result of its node that no other verdict uses; the
        result is not checked and counts for nothing. Returns the indices of the results closed."""
        closed: set[int] = set()
        for i, v in self.of_kind(kind):
            if v["status"] != ABANDONED:
                continue
            r, position = v[field], v["position"]
            where = f"node {position} ({self.where(i)})"
            if r not in results or r in closed or not r < i:
                self.fail("abandoned", where, f"entry {r} is not an earlier result that this "
                          "verdict alone closes", ProtocolViolation)
            elif self.author_position(r) != position:
                self.fail("abandoned", where, f"entry {r} is signed by node "
                          f"{self.author_position(r)}, not node {position}", ProtocolViolation)
            elif "output_digest" in v.fields and v["output_digest"] != sha256(
                    bytes(results[r]["outputs"])).digest():
                self.fail("abandoned", where, "the verdict's output digest is not that of the "
                          "result", InvalidProof)
            else:
                self.ok("abandoned", where, f"result entry {r} left unjudged when the server "
                        "restarted; the job was redone")
            closed.add(r)
        return closed

    def author_position(self, i: int) -> int | None:
        entry = self.entries[i]
        if entry is None:
            return None
        for pos, key in self.node_keys.items():
            if key[:32] == entry.author:
                return pos
        return None

    @cached_property
    def ballots(self) -> list[Ballot]:
        """Every ballot entry, in board order (built once, after the chain stage)."""
        out = []
        for number, (i, msg) in enumerate(self.of_kind("ballot")):
            h = self.hashes[i]
            assert h is not None, "a decoded entry has a hash"
            out.append(Ballot(number, i, msg["credential"], msg["width"], msg["ciphertext"],
                              msg["proof"], msg["signature"], h))
        return out
