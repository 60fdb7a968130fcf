"""Site-wide helpers for the pages: the favicon, the standalone audit page, the ballot finder and
the template filters and helpers that every page uses.

- ``/favicon.ico`` answers with the project's SVG icon (browsers ask for it on every fresh visit).
- ``/elections/<eid>/audit`` is the audit page: a voter pastes an audited ballot (the JSON the
  booth offers after an audit, with its randomness) and ``static/js/audit.js`` checks, in its own
  page code and with this election's public key, which choice it encrypts. It can run on another
  device than the one that made the ballot (as Helios and Belenios allow).
- ``/elections/<eid>/find?tracker=`` finds a ballot on the board by its tracker and sends the
  voter to the board page that holds it, with the row highlighted.

The **ballot tracker** the voter sees is the hex SHA-256 of the ballot's ciphertext bytes: the
booth computes it as soon as the ballot is sealed (before the voter chooses to cast or to audit),
and the receipt page, the board and this finder show and accept the same value. The board entry
hash (what the server's receipt calls ``tracker``) is shown next to it as the entry's hash; the
finder accepts either.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, send_file, url_for
from werkzeug.wrappers import Response as WResponse

from webui.assets import import_map, npm_available
from webui.public import check_eid
from webui.security import services

bp = Blueprint("site", __name__)

STATIC = Path(__file__).resolve().parent / "static"
HEX64 = re.compile(r"^[0-9a-f]{64}$")
BOARD_PAGE = 50  # entries per board page (as in public.board)
SCAN_PAGE = 1000  # entries read at a time when a tracker is searched for

# What each kind of board entry is, in one plain line (shown on the board).
ENTRY_KINDS: dict[str, str] = {
    "election.params": "The election's settings: question, choices, mix nodes, threshold.",
    "voters.registered": "The list of voter credentials allowed to vote (public ids, no secrets).",
    "node.enrolled": "A mix node was enrolled with its identity key.",
    "dkg.deal": "Key generation: a mix node shares pieces of its part of the election key.",
    "dkg.complaint": (
        "Key generation: a node lists any piece it could not check. An empty list is normal: "
        "every node sends one, and it means all was well."
    ),
    "dkg.response": "Key generation: a node answers complaints (usually there are none).",
    "dkg.result": "The election key is ready: ballots are encrypted for it.",
    "voting.opened": "Voting opened.",
    "ballot": "An encrypted ballot, with the proof that its voter made it.",
    "voting.closed": "Voting closed: the list of ballots that count (one per voter) is fixed.",
    "mix.request": "The server hands the ballot list to a mix node to shuffle.",
    "mix.result": "A mix node shuffled the ballots and proved it did so honestly.",
    "hop.verdict": "The server checked a mix node's shuffle proof: accepted or not, and why.",
    "job.failed": "A mix node reported that its job failed; the cascade went on without it.",
    "decrypt.request": "The server asks the mix nodes to decrypt the shuffled ballots.",
    "decrypt.share": "A mix node's part of the decryption, with a proof that it is correct.",
    "decrypt.verdict": "The server checked a decryption share.",
    "tally": "The result: the decrypted ballots counted.",
}


def ballot_tracker(entry: Mapping[str, Any] | None) -> str | None:
    """The voter-facing tracker of a board ballot: hex SHA-256 of its ciphertext bytes, or None
    when the entry carries no ciphertext in full (the board abbreviates very large fields)."""
    if not entry:
        return None
    ct = entry.get("ciphertext")
    if not isinstance(ct, str) or len(ct) % 2 or not re.fullmatch(r"[0-9a-fA-F]*", ct):
        return None
    return hashlib.sha256(bytes.fromhex(ct)).hexdigest()


def short_hash(value: Any, keep: int = 10) -> str:
    """``abcdef0123…`` for display; the full value stays in a title and the copy button."""
    text = str(value or "")
    return text if len(text) <= keep + 1 else text[:keep] + "…"


def election_state(e: Mapping[str, Any]) -> str:
    """The group an election is listed under on the home page: ``voting``, ``upcoming``,
    ``counting``, ``results`` or ``setup`` (not listed publicly)."""
    phase = e.get("phase")
    if phase == "voting":
        return "voting"
    if phase == "keygen":
        return "upcoming"
    if phase in ("closed", "mixing", "decrypting"):
        return "counting"
    if phase == "tallied":
        return "results"
    return "setup"


PHASE_WORDS = {
    "setup": "Being set up",
    "keygen": "Opening soon",
    "voting": "Voting open",
    "closed": "Voting closed",
    "mixing": "Counting: shuffling the ballots",
    "decrypting": "Counting: decrypting",
    "tallied": "Results published",
}


@bp.app_template_filter("ballot_tracker")
def _ballot_tracker_filter(entry: Mapping[str, Any] | None) -> str | None:
    return ballot_tracker(entry)


@bp.app_template_filter("short_hash")
def _short_hash_filter(value: Any, keep: int = 10) -> str:
    return short_hash(value, keep)


@bp.record_once
def _globals(state: Any) -> None:
    # Jinja globals (not a context processor) so that imported macros see them too.
    state.app.jinja_env.globals.update(
        ENTRY_KINDS=ENTRY_KINDS, PHASE_WORDS=PHASE_WORDS, election_state=election_state
    )


@bp.get("/favicon.ico")
def favicon() -> Response:
    response = send_file(STATIC / "favicon.svg", mimetype="image/svg+xml", max_age=86400)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/elections/<eid>/audit")
def audit(eid: str) -> str:
    """The standalone audit page for one election."""
    e = services().get_election(check_eid(eid))
    params = {
        "group": e["group"],
        "publicKey": e.get("public_key"),
        "width": e.get("width", 1),
        "electionId": e["id"],
        "choices": e.get("choices", []),
    }
    return render_template(
        "audit.html", e=e, params=params, import_map=import_map(), npm_ok=npm_available()
    )


def _find(svc: Any, eid: str, tracker: str) -> dict[str, Any] | None:
    """The board ballot whose ballot tracker or entry hash is ``tracker`` (lower-case hex)."""
    found: dict[str, Any] | None = svc.find_receipt(eid, tracker)
    if found is not None:
        return found
    offset = 0
    while True:
        page = svc.board(eid, offset=offset, limit=SCAN_PAGE)
        entries = page.get("entries") or []
        for entry in entries:
            if entry.get("kind") == "ballot" and ballot_tracker(entry) == tracker:
                return svc.find_receipt(eid, entry["hash"]) or entry
        offset += len(entries)
        if not entries or offset >= int(page.get("total") or 0):
            return None


@bp.get("/elections/<eid>/find")
def find(eid: str) -> WResponse:
    """Send the voter to the board page that holds the ballot with this tracker."""
    svc = services()
    check_eid(eid)
    svc.get_election(eid)
    tracker = request.args.get("tracker", "").strip().lower()
    if not HEX64.match(tracker):
        return redirect(url_for("public.board", eid=eid, receipt=tracker[:80]))
    found = _find(svc, eid, tracker)
    if found is None:
        return redirect(url_for("public.board", eid=eid, receipt=tracker))
    index = int(found["index"])
    offset = index - index % BOARD_PAGE
    return redirect(
        url_for(
            "public.board", eid=eid, offset=offset, receipt=found["hash"], _anchor=f"entry-{index}"
        )
    )
