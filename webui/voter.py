"""The voter's pages: sign in with a credential, the booth (encryption and the proof are made in
the browser by static/js/booth.js; the plaintext never leaves it), cast-or-audit, the receipt.

The booth posts only ``{"ciphertext", "proof", "width"}`` (hex) to ``/vote/<eid>/cast`` with the
session's CSRF token in a header; the view hands it to ``services.cast_ballot`` with the credential
this session signed in with, and returns the receipt (tracker) as JSON.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as WResponse

from webui import strictjson
from webui.assets import import_map, npm_available
from webui.public import check_eid
from webui.security import forget_voter, remember_voter, services, voter_entry, voter_secret
from webui.strictjson import is_json_content_type

bp = Blueprint("voter", __name__, url_prefix="/vote")


@bp.route("/<eid>", methods=["GET", "POST"])
def login(eid: str) -> str | WResponse:
    """Sign in to one election with a voter credential."""
    svc = services()
    e = svc.get_election(check_eid(eid))
    error = None
    if request.method == "POST":
        secret = request.form.get("credential", "").strip()
        if not secret:
            error = "Enter the voter credential you were given."
        else:
            try:
                session_info = svc.voter_session(eid, secret)
            except Exception as exc:  # the services say why; shown to the voter, not raised
                from crypto.errors import MixvoteError

                if not isinstance(exc, MixvoteError):
                    raise
                error = str(exc)
            else:
                remember_voter(eid, secret, session_info["voter_id"])
                return redirect(url_for("voter.booth", eid=eid))
    elif voter_entry(eid):
        return redirect(url_for("voter.booth", eid=eid))
    return render_template("vote_login.html", e=e, error=error), (400 if error else 200)  # type: ignore[return-value]


@bp.post("/<eid>/logout")
def logout(eid: str) -> WResponse:
    forget_voter(check_eid(eid))
    flash("Signed out.")
    return redirect(url_for("public.election", eid=eid))


@bp.get("/<eid>/booth")
def booth(eid: str) -> str | WResponse:
    """The ballot page; the election parameters go to the JS as a JSON data block."""
    check_eid(eid)
    secret = voter_secret(eid)
    if secret is None:
        return redirect(url_for("voter.login", eid=eid))
    info = services().voter_session(eid, secret)
    election: dict[str, Any] = info["election"]
    params = {
        "group": election["group"],
        "publicKey": info.get("public_key"),
        "width": election.get("width", 1),
        "electionId": eid,
        "voterId": info["voter_id"],
        "choices": election.get("choices", []),
        "castUrl": url_for("voter.cast", eid=eid),
        "boardUrl": url_for("public.board", eid=eid),
    }
    return render_template("booth.html", e=election, info=info, params=params,
                           import_map=import_map(), npm_ok=npm_available())


@bp.post("/<eid>/cast")
def cast(eid: str) -> tuple[Response, int]:
    """Record an encrypted ballot made in the browser; JSON in, JSON receipt out."""
    check_eid(eid)
    secret = voter_secret(eid)
    if secret is None:
        return jsonify({"error": "sign in with your voter credential first"}), 401
    if not is_json_content_type(request.headers.get("Content-Type")):
        abort(415, description="send the ballot as Content-Type: application/json; charset=utf-8")
    body = strictjson.loads(request.get_data(cache=False))
    if not isinstance(body, dict):
        abort(400, description="expected a JSON object {ciphertext, proof, width}")
    ballot = {k: body[k] for k in ("ciphertext", "proof", "width") if k in body}
    if set(body) - set(ballot):
        abort(400, description="unexpected fields in the ballot: only ciphertext, proof, width")
    receipt = services().cast_ballot(eid, secret, ballot)
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
