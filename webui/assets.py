"""Serve the browser's ES modules from npm without a bundler and without a CDN.

``npm ci`` (run by ``./dev install``) puts @noble/curves and @noble/hashes in ``node_modules``; this
blueprint serves their ``.js`` files under ``/assets/npm/<package>/<file>`` and the page's import
map maps the bare specifiers (``@noble/curves/secp256k1.js``) there, so the browser loads exactly
the modules that node resolves in the JS/Python agreement tests. Only the listed packages and only
``.js`` files are served; paths are resolved and must stay inside the package directory.
"""

from __future__ import annotations

import json
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, send_file, url_for

bp = Blueprint("assets", __name__)

NPM_PACKAGES = ("@noble/curves", "@noble/hashes")


def _package_dir(package: str) -> Path:
    return Path(current_app.config["NODE_MODULES"]).resolve() / package


@bp.get("/assets/npm/@noble/<name>/<path:filename>")
def npm_module(name: str, filename: str) -> Response:
    """One ES module file of an allowed npm package."""
    package = f"@noble/{name}"
    if package not in NPM_PACKAGES or not filename.endswith(".js") or "\x00" in filename:
        abort(404)  # a NUL byte cannot name a file (and would make Path.resolve raise)
    root = _package_dir(package)
    path = (root / filename).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        abort(404)
    response = send_file(path, mimetype="text/javascript", max_age=3600)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def import_map() -> str:
    """The JSON import map for the pages (rendered into a nonce'd ``<script type=importmap>``)."""
    imports = {
        f"{package}/": url_for("assets.npm_module", name=package.split("/")[1], filename="x.js")[
            : -len("x.js")
        ]
        for package in NPM_PACKAGES
    }
    # "</" cannot appear in JSON we build from fixed paths, but escape it anyway for the <script>.
    return json.dumps({"imports": imports}, sort_keys=True).replace("</", "<\\/")


def npm_available() -> bool:
    """Whether ``npm ci`` has populated the modules the booth needs."""
    return all((_package_dir(p) / "package.json").is_file() for p in NPM_PACKAGES)
