"""The voter's pages: the booth, which signs in with the printed credential *in the browser*
(static/js/booth.js derives the signing key from it; the credential is never sent to the server,
kept in a cookie or stored), encrypts the choice and makes the proof there, signs the ballot with
the credential over the election fingerprint, and offers cast-or-audit; then the receipt.

The booth posts ``{"credential", "width", "ciphertext", "proof", "signature"}`` (hex; the
*public* credential) to ``/vote/<eid>/cast`` with the page's CSRF token in a header; the view hands
it to ``services.cast_ballot``, which checks the credential against the authority-signed list, the
voter's signature, the proof, replays and the policy, and returns the tracker with the server's
signed receipt as JSON.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WResponse

from webui import strictjson
from webui.assets import import_map, npm_available
from webui.public import check_eid
from webui.security import services
from webui.strictjson import is_json_content_type

bp = Blueprint("voter", __name__, url_prefix="/vote")

#: The fields of a ballot the booth sends (the services check each one).
BALLOT_FIELDS = ("credential", "width", "ciphertext", "proof", "signature")


@bp.get("/<eid>")
def login(eid: str) -> str:
    """The booth: sign in with the printed credential (in the browser), choose, seal, cast."""
    e = services().get_election(check_eid(eid))
    params: dict[str, Any] = {
        "group": e["group"],
        "publicKey": e.get("public_key"),
        "width": e.get("width", 1),
        "electionId": eid,
        "fingerprint": e.get("fingerprint"),
        "choices": e.get("choices", []),
        "castUrl": url_for("voter.cast", eid=eid),
        "boardUrl": url_for("public.board", eid=eid),
    }
    return render_template("booth.html", e=e, params=params, import_map=import_map(),
                           npm_ok=npm_available())


@bp.get("/<eid>/booth")
def booth(eid: str) -> WResponse:
    """The booth's old address: the booth is ``/vote/<eid>``."""
    return redirect(url_for("voter.login", eid=check_eid(eid)))


@bp.post("/<eid>/cast")
def cast(eid: str) -> tuple[Response, int]:
    """Record a ballot made and signed in the browser; JSON in, JSON receipt out."""
    check_eid(eid)
    if not is_json_content_type(request.headers.get("Content-Type")):
        abort(415, description="send the ballot as Content-Type: application/json; charset=utf-8")
    body = strictjson.loads(request.get_data(cache=False))
    if not isinstance(body, dict):
        abort(400, description="expected a JSON object {" + ", ".join(BALLOT_FIELDS) + "}")
    if set(body) - set(BALLOT_FIELDS):
        abort(400, description="unexpected fields in the ballot: only "
              + ", ".join(BALLOT_FIELDS))
    receipt = services().cast_ballot(eid, body)
    receipt_url = url_for("voter.receipt", eid=eid, tracker=receipt["tracker"])
    return jsonify({**receipt, "receipt_url": receipt_url}), 200


@bp.get("/<eid>/receipt/<tracker>")
def receipt(eid: str, tracker: str) -> str:
    """The receipt page: the tracker, and whether the board holds that ballot."""
    svc = services()
    e = svc.get_election(check_eid(eid))
    found = svc.find_receipt(eid, tracker) if len(tracker) == 64 else None
    if found is None:
        abort(404, description="No ballot with this receipt is on the board.")
    return render_template("receipt.html", e=e, tracker=tracker, found=found)
