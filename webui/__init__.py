"""The mixvote web UI: a Flask app factory mounted by the Tornado server.

``create_app(config=None, services=None)`` builds a fresh Flask application; nothing is created at
import time (the Flask tutorial's ``flaskr/__init__.py``). The server hands it a services object
(``mixserver.services.ElectionServices`` in production, a small fake in the unit tests) whose
methods the views call; this package never imports ``mixserver``, so the arrows point one way.

Areas, one blueprint each: ``public`` (election list, election page with the live mixing view,
bulletin board, results and downloads), ``voter`` (credential sign-in, the ballot booth that
encrypts in the browser, cast-or-audit, receipts) and ``admin`` (admin-token sign-in and the
CSRF-protected election management forms, with the live console); ``site`` holds the favicon,
the standalone audit page, the ballot finder and the template helpers. ``assets`` serves the npm
ES modules the browser needs (@noble/curves, @noble/hashes) from the ``node_modules`` that
``npm ci`` populated; nothing
third-party is committed or fetched from a CDN. The HTTP API for scripts is the server's, not
Flask's. Security headers (a nonce-based content security policy and friends) are set on every
response in :mod:`webui.security`; errors are mapped to pages in one place, :mod:`webui.errors`.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

DEFAULT_NODE_MODULES = Path(__file__).resolve().parent.parent / "node_modules"


def create_app(config: Mapping[str, Any] | None = None, services: Any = None) -> Flask:
    """Build the Flask app.

    ``config`` overrides the defaults (``SECRET_KEY``, ``NODE_MODULES``, ``STATUS_WS_URL`` — the
    path template of the live-status websocket —, ``PREVIEW_ROWS``...). ``services`` implements the
    election operations the views call (see docs/webui.md for the methods used).
    """
    app = Flask(__name__)
    app.config.from_mapping(
        SECRET_KEY=secrets.token_hex(32),
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        NODE_MODULES=str(DEFAULT_NODE_MODULES),
        STATUS_WS_PATH="/ws/status/{eid}",
        PREVIEW_ROWS=10,
        MAX_TEST_BALLOTS=10_000,
        MAX_CREDENTIALS=100_000,
    )
    if config:
        app.config.from_mapping(config)
    app.extensions["mixvote_services"] = services

    from webui import admin, assets, errors, public, security, site, voter

    security.init_app(app)
    errors.init_app(app)
    app.register_blueprint(assets.bp)
    app.register_blueprint(public.bp)
    app.register_blueprint(voter.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(site.bp)
    return app
