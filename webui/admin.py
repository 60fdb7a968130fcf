"""The admin console: sign in with the admin token, create elections (parameters validated, field
errors shown at the field), upload the credential authority's signed public list (or, in a test
election, download the credentials the server made), enrol nodes, watch which are connected, open
and close voting, start mixing, publish, and — in a test election only — cast random test ballots
with credentials that have not voted. Every form carries the session's CSRF token (checked for all
POSTs in :mod:`webui.security`) and every page needs an admin session."""

from __future__ import annotations

import csv
import io
import secrets
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, flash, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response as WResponse

from crypto.errors import MalformedInput, MixvoteError
from webui.public import check_eid
from webui.security import admin_required, services

bp = Blueprint("admin", __name__, url_prefix="/admin")

# Groups the browser booth can encrypt for (webui/static/js/mixvote-crypto.js).
BROWSER_GROUPS = ("secp256k1", "P-256", "ristretto255")

ACTIONS = {
    "open": ("open_voting", "Voting will open."),
    "close": ("close_voting", "Voting will close."),
    "mix": ("start_mixing", "Mixing has been started."),
    "publish": ("publish", "Decryption and publication have been started."),
}


def available_groups() -> list[str]:
    from crypto.groups import GROUPS

    return [g for g in BROWSER_GROUPS if g in GROUPS]


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a same-site relative path, else None (no open redirect).

    Browsers drop tabs and newlines from URLs and read a backslash as a slash, so
    ``/\t/evil.example``, ``/\r/…`` and ``/\\evil`` would all become ``//evil…``: any control
    character, space, backslash, scheme or authority is refused, not cleaned."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> tuple[str, int] | WResponse:
    error = None
    if request.method == "POST":
        svc = services()
        if svc.check_admin_token(request.form.get("token", "")):
            session.clear()
            session["admin_sid"] = svc.open_admin_session()
            target = safe_next(request.args.get("next")) or url_for("admin.dashboard")
            return redirect(target)
        error = "That is not the admin token."
    return render_template("admin_login.html", error=error), (403 if error else 200)


@bp.post("/logout")
def logout() -> WResponse:
    services().close_admin_session(session.pop("admin_sid", None))
    return redirect(url_for("public.index"))


@bp.post("/token/rotate")
@admin_required
def rotate_token() -> tuple[str, int]:
    """Replace the admin token: every admin session ends; this one gets a new session, and the
    new token is shown once, on this page (never in a cookie or a redirect)."""
    svc = services()
    token = svc.rotate_admin_token()
    session["admin_sid"] = svc.open_admin_session()
    return render_template("admin_token.html", token=token), 200


@bp.get("/")
@admin_required
def dashboard() -> str:
    return render_template("admin_dashboard.html", elections=services().list_elections())


def _field_error(exc: MixvoteError) -> str:
    """The error as "field: reason" with the form's field name (``choices[2]`` is the choices
    field), so that the form shows it at that field."""
    field = getattr(exc, "field", None)
    if not field:
        return str(exc)
    text = str(exc)
    name = field.split("[", 1)[0]
    return f"{name}: {text}" if name != field else text


def _int_field(form: Any, name: str, default: int) -> int:
    raw = form.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise MalformedInput(f"{name}: an integer, got {raw[:20]!r}") from None


@bp.route("/elections/new", methods=["GET", "POST"])
@admin_required
def new_election() -> tuple[str, int] | WResponse:
    form = request.form
    error = None
    if request.method == "POST":
        choices = [c.strip() for c in form.get("choices", "").splitlines() if c.strip()]
        test = form.get("test") == "on"
        try:
            created = services().create_election(
                title=form.get("title", "").strip(),
                question=form.get("question", "").strip(),
                choices=choices,
                group=form.get("group", "secp256k1"),
                n=_int_field(form, "n", 3),
                t=_int_field(form, "t", 2),
                voters=_int_field(form, "voters", 10) if test else None,
                width=_int_field(form, "width", 1),
                policy=form.get("policy", "last-ballot-counts"),
                test=test,
            )
        except MixvoteError as exc:
            error = _field_error(exc)
        else:
            if test:
                flash(f"Test election {created['id']} created with {created['voters']} voter "
                      "credentials held by this server.")
            else:
                flash(f"Election {created['id']} created: upload the authority's signed "
                      "credential list next.")
            return redirect(url_for("admin.election", eid=created["id"]))
    return render_template("admin_new.html", form=form, groups=available_groups(),
                           error=error), (400 if error else 200)


@bp.get("/elections/<eid>")
@admin_required
def election(eid: str) -> str:
    svc = services()
    e = svc.get_election(check_eid(eid))
    return render_template("admin_election.html", e=e, connected=svc.connected_nodes(eid),
                           token=session.pop("enrol_token", None))


@bp.get("/elections/<eid>/credentials.csv")
@admin_required
def credentials_csv(eid: str) -> Response:
    creds = services().voter_credentials(check_eid(eid))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["voter_id", "credential"])
    for c in creds:
        writer.writerow([c["voter_id"], c["credential"]])
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{eid}-credentials.csv"',
                             "Cache-Control": "no-store"})


@bp.post("/elections/<eid>/credentials")
@admin_required
def upload_credentials(eid: str) -> WResponse:
    """Load the authority-signed public credential list (``public-credentials.json``)."""
    import json

    upload = request.files.get("list")
    try:
        if upload is None:
            raise MalformedInput("credential list: choose the public-credentials.json file")
        try:
            obj = json.loads(upload.read().decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise MalformedInput("credential list: the file is not JSON") from None
        got = services().upload_credentials(check_eid(eid), obj)
    except MixvoteError as exc:
        flash(f"Credential list refused: {exc}", "error")
    else:
        flash(f"{got['voters']} public credentials loaded.")
    return redirect(url_for("admin.election", eid=eid))


@bp.post("/elections/<eid>/enrol")
@admin_required
def enrol(eid: str) -> WResponse:
    key = request.form.get("public_key", "").strip() or None
    position = _int_field(request.form, "position", 0) or None
    try:
        got = services().enrol_node(check_eid(eid), key, position)
    except MixvoteError as exc:
        flash(f"Enrolment failed: {exc}", "error")
    else:
        if got.get("token"):
            session["enrol_token"] = {"position": got["position"], "token": got["token"]}
        flash(f"Node position {got['position']} enrolled.")
    return redirect(url_for("admin.election", eid=eid))


@bp.post("/elections/<eid>/action/<action>")
@admin_required
def action(eid: str, action: str) -> WResponse:
    if action not in ACTIONS:
        return redirect(url_for("admin.election", eid=check_eid(eid)))
    method, message = ACTIONS[action]
    try:
        getattr(services(), method)(check_eid(eid))
    except MixvoteError as exc:
        flash(f"{action}: {exc}", "error")
    else:
        flash(message)
    return redirect(url_for("admin.election", eid=eid))


@bp.post("/elections/<eid>/test-ballots")
@admin_required
def test_ballots(eid: str) -> WResponse:
    try:
        count = _int_field(request.form, "count", 0)
        svc = services()
        n_choices = len(svc.get_election(check_eid(eid)).get("choices") or [None])
        rng = secrets.SystemRandom()
        got = svc.generate_test_ballots(eid, count, lambda _i: rng.randrange(n_choices))
    except MixvoteError as exc:
        flash(f"Test ballots: {exc}", "error")
    else:
        expected = ", ".join(f"{k}: {v}" for k, v in sorted(got.get("expected", {}).items()))
        flash(f"{got['cast']} random test ballots cast ({expected or 'none'}).")
    return redirect(url_for("admin.election", eid=eid))
