"""The one place where errors become HTTP responses for the web UI.

``crypto.errors`` classes raised by the services map to their HTTP status through the one table,
:func:`crypto.errors.medium_of` (bad input 400, a failed proof 400, an action not allowed now 409,
an unknown election 404); Werkzeug's HTTP exceptions keep theirs. Pages get the error template;
the booth's JSON calls get ``{"error": reason}``.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from crypto.errors import MixvoteError, medium_of


def _wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best == "application/json"


def _respond(status: int, title: str, message: str) -> tuple[Response | str, int]:
    if _wants_json():
        return jsonify({"error": message}), status
    return render_template("error.html", status=status, title=title, message=message), status


def init_app(app: Flask) -> None:
    """Register the error handlers."""

    @app.errorhandler(MixvoteError)
    def project_error(exc: MixvoteError) -> tuple[Response | str, int]:
        return _respond(medium_of(exc).http_status, type(exc).__name__, str(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response | str, int]:
        return _respond(exc.code or 500, exc.name, exc.description or exc.name)
