"""Blueprints: public pages, voter pages, admin pages (filled in as the services land)."""

from __future__ import annotations

from flask import Blueprint, Flask

public = Blueprint("public", __name__)
voter = Blueprint("voter", __name__, url_prefix="/vote")
admin = Blueprint("admin", __name__, url_prefix="/admin")


@public.get("/healthz")
def healthz() -> tuple[str, int, dict[str, str]]:
    return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8"}


def register(app: Flask) -> None:
    """Attach every blueprint to ``app``."""
    app.register_blueprint(public)
    app.register_blueprint(voter)
    app.register_blueprint(admin)
