"""The mixvote web UI: a Flask app factory mounted by the Tornado server.

``create_app(config=None, services=None)`` builds a fresh Flask application (nothing is created at
import time, as in the Flask tutorial's ``flaskr/__init__.py``). The server hands it a services
object (``mixserver.services.ElectionServices`` in production, a fake in the tests); this package
never imports ``mixserver`` so that the arrows point one way.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from flask import Flask


def create_app(config: Mapping[str, Any] | None = None, services: Any = None) -> Flask:
    """Build the Flask app; ``services`` implements the election operations the views call."""
    app = Flask(__name__, instance_relative_config=False)
    app.config.from_mapping(
        SECRET_KEY=secrets.token_hex(32),
        MAX_CONTENT_LENGTH=4 * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    if config:
        app.config.from_mapping(config)
    app.extensions["mixvote_services"] = services

    from webui import views

    views.register(app)
    return app
