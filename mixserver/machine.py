"""The coordinator's decisions as sans-io state machines: events in, effects out. This module holds
what both machines share (phases, effects, board entries, time-outs); the machines themselves are
:class:`mixserver.mixing.MixMachine` and :class:`mixserver.decryption.DecryptMachine`.

Pure: no tornado, sqlite3, asyncio, threading or os, and no clock of its own (every event carries
``now``, the adapter's monotonic clock). The adapter (:mod:`mixserver.coordinator`) feeds it node
messages, the outcome of verifications it ran in a process pool, node (dis)connections and periodic
ticks, and carries out the effects it returns, in order: messages to send, proofs to verify, board
writes, progress to show.

Their state is a function of the board. :meth:`~mixserver.mixing.MixMachine.from_board` and
:meth:`~mixserver.decryption.DecryptMachine.from_board` rebuild it from the record entries alone;
anything in flight at a crash (a dispatched job, a result being verified) is simply redone. A node
result reaches the board only together with its verdict (:class:`CommitHop`, :class:`CommitShare`:
one transaction). A result that a record written otherwise (an older server) holds without a verdict
gets an explicit ``abandoned`` verdict when the machine starts (:class:`AbandonHop`,
:class:`AbandonShare`), and the job is redone.

The phases and which admin action each allows are here too (:func:`check_action`), so that the
web front end refuses an impossible action synchronously and the coordinator applies the same rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crypto.errors import ProtocolViolation
from crypto.protocol.wire import (
    Message,
    SignedMessage,
)

RESTARTED = "server restarted before the verdict; the job is redone"

PHASES = ("setup", "keygen", "voting", "closed", "mixing", "decrypting", "tallied")

#: admin action -> the phases it is allowed in
ACTIONS: Mapping[str, tuple[str, ...]] = {
    "open": ("keygen",),
    "close": ("voting",),
    "mix": ("closed",),
    "publish": ("mixing", "decrypting"),
}


def check_action(action: str, phase: str, state: Mapping[str, Any], busy: bool = False) -> None:
    """Raise ProtocolViolation with the reason if admin ``action`` cannot happen now (the election
    is in ``phase`` with ``state``; ``busy``: the same action is already under way)."""
    allowed = ACTIONS.get(action)
    if allowed is None:
        raise ValueError(f"check_action: unknown action {action!r}")
    if phase not in allowed:
        raise ProtocolViolation(
            f"{action}: not allowed in phase {phase} (needs {'/'.join(allowed)})"
        )
    if action == "open" and not state.get("public_key"):
        raise ProtocolViolation("open: key generation has not finished")
    if action == "publish" and state.get("publish_requested"):
        raise ProtocolViolation("publish: already requested")
    if busy:
        raise ProtocolViolation(f"{action}: already under way")


def resume_stage(phase: str, state: Mapping[str, Any]) -> str | None:
    """Which machine to rebuild for an election found in ``phase`` with ``state`` at start-up:
    ``"mix"``, ``"decrypt"`` or None."""
    if phase == "mixing" and not state.get("mixed"):
        return "mix"
    if phase == "decrypting" or (phase == "mixing" and state.get("publish_requested")):
        return "decrypt"
    return None


# --- effects ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    """Send ``message`` to the node at ``position`` (if it is connected)."""

    position: int
    message: Message


@dataclass(frozen=True)
class VerifyHop:
    """Check ``result`` (a mix.result of ``job``) against ``inputs``; answer with
    :meth:`MixMachine.verified`."""

    job: str
    position: int
    inputs: bytes
    result: SignedMessage


@dataclass(frozen=True)
class CommitHop:
    """Append (in one transaction) the node's ``result`` (None for a skipped hop) and the
    server's hop.verdict that refers to it."""

    hop: int
    position: int
    status: str
    reason: str
    result: SignedMessage | None
    seconds: float
    #: a skipped hop's evidence: the node's own signed job.failed (recorded with the verdict)
    evidence: SignedMessage | None = None
    #: a skip by time-out: the time-out applied (seconds; ``seconds`` spans at least it)
    timeout: float = 0.0


@dataclass(frozen=True)
class AbandonHop:
    """Append an ``abandoned`` hop.verdict for the verdict-less mix.result at ``result_entry``."""

    hop: int
    position: int
    result_entry: int
    output_digest: bytes


@dataclass(frozen=True)
class MixFinished:
    """Every node had its turn: ``ok`` when the list was mixed (or empty)."""

    ok: bool
    reason: str


@dataclass(frozen=True)
class VerifyShare:
    """Check ``share`` (a decrypt.share) from ``position``; answer with
    :meth:`DecryptMachine.verified`."""

    position: int
    share: SignedMessage


@dataclass(frozen=True)
class CommitShare:
    """Append (in one transaction) the node's ``share`` and the decrypt.verdict on it."""

    position: int
    status: str
    reason: str
    share: SignedMessage


@dataclass(frozen=True)
class AbandonShare:
    """Append an ``abandoned`` decrypt.verdict for the verdict-less share at ``share_entry``."""

    position: int
    share_entry: int


@dataclass(frozen=True)
class Combine:
    """Combine these ``t`` verified shares (position -> share bytes), tally and publish."""

    shares: Mapping[int, bytes]


@dataclass(frozen=True)
class DecryptFailed:
    reason: str


@dataclass(frozen=True)
class Progress:
    """Live progress for the status page (``replace``: start a fresh progress dict)."""

    fields: Mapping[str, Any]
    replace: bool = False


#: The effects that write to the board (:func:`mixserver.boardio.write_effect`).
BoardWrite = CommitHop | AbandonHop | CommitShare | AbandonShare

Effect = (
    Send | VerifyHop | MixFinished | VerifyShare | Combine | DecryptFailed | Progress | BoardWrite
)


@dataclass(frozen=True)
class Timeouts:
    hop: float = 600.0
    connect_grace: float = 30.0
    decrypt: float = 600.0


@dataclass(frozen=True)
class BoardEntry:
    """What the machines read of a record entry: its index, kind and decoded message."""

    index: int
    kind: str
    message: Message
    #: the position of the node that signed it (None for the server's entries)
    author: int | None = None




def entry_author(e: BoardEntry) -> int:
    if e.author is None:
        raise ProtocolViolation(f"entry {e.index} ({e.kind}): not signed by a node")
    return e.author
