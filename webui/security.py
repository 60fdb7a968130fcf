"""Security plumbing shared by the blueprints: CSP with a per-request nonce, CSRF tokens, and the
admin session guard.

- Content security policy (W3C CSP Level 3): scripts only from this origin or carrying the
  per-request nonce (the inline import map needs it), no inline styles, no plugins, no framing,
  forms post only here, websockets only to this host.
- CSRF (OWASP "synchronizer token"): a random token per session, in a hidden field of every form
  and in the ``X-CSRF-Token`` header of the booth's fetch; every state-changing request must carry
  it, compared in constant time.
- The admin signs in with the admin token (checked by ``services.check_admin_token``); the cookie
  then holds only a random admin session id that the server keeps with an expiry
  (``services.check_admin_session``) and revokes at logout or token rotation, so an old cookie
  fails afterwards, also after a restart. A voter signs in only in the browser: the credential is
  never sent to the server nor kept in a cookie (``webui/voter.py``).
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Flask, Response, abort, current_app, g, redirect, request, session, url_for

F = TypeVar("F", bound=Callable[..., Any])

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def services() -> Any:
    """The services object the app was built with."""
    svc = current_app.extensions.get("mixvote_services")
    if svc is None:
        raise RuntimeError("webui: create_app was given no services object")
    return svc


def csp_nonce() -> str:
    """This request's script nonce (made on first use)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return cast(str, g.csp_nonce)


def csrf_token() -> str:
    """The session's CSRF token (made on first use)."""
    token = session.get(CSRF_FIELD)
    if not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return cast(str, token)


def _check_csrf() -> None:
    if request.method in SAFE_METHODS:
        return
    expected = session.get(CSRF_FIELD)
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD)
    if not expected or not sent or not hmac.compare_digest(str(sent), str(expected)):
        abort(
            400,
            description="The form's CSRF token is missing or wrong; reload the page and try again.",
        )


def _security_headers(response: Response) -> Response:
    ws_host = request.host
    response.headers["Content-Security-Policy"] = "; ".join(
        [
            "default-src 'none'",
            f"script-src 'self' 'nonce-{csp_nonce()}'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src 'self' ws://{ws_host} wss://{ws_host}",
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ]
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if request.endpoint and not request.endpoint.startswith(("assets.", "static")):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def admin_required(view: F) -> F:
    """Redirect to the admin sign-in page unless this session signed in with the admin token."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not services().check_admin_session(session.get("admin_sid")):
            session.pop("admin_sid", None)
            return redirect(url_for("admin.login", next=request.path))
        return view(*args, **kwargs)

    return cast(F, wrapped)


def init_app(app: Flask) -> None:
    """Install the CSRF check, the security headers and the template helpers."""
    app.before_request(_check_csrf)
    app.after_request(_security_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.jinja_env.globals["CSRF_FIELD"] = CSRF_FIELD
