"""The admin token and the admin's web sessions, kept on the server.

The admin token (``DATA/admin_token``, mode 0600) authenticates the JSON API (``Authorization:
Bearer``) and the web UI's sign-in. It is made on first start (:attr:`AdminAuth.created` tells the
caller to print it then, and only then) and can be rotated (:meth:`AdminAuth.rotate_token`), which
also ends every admin session. A web sign-in opens a server-side session: a random id (the only
thing in the browser's signed cookie) whose SHA-256 is stored on the board with an expiry, so
that logging out, rotating the token or the expiry ends it for good, also across restarts.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from pathlib import Path

from crypto.io.files import write_private
from mixserver.board import Board

ADMIN_TOKEN_FILE = "admin_token"
#: Lifetime of an admin web session (seconds).
ADMIN_SESSION_TTL = 8 * 3600.0


def _digest(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


class AdminAuth:
    """Thread-safe admin authentication over one data directory and its board."""

    def __init__(
        self, data_dir: Path, board: Board, session_ttl: float = ADMIN_SESSION_TTL
    ) -> None:
        self.path = Path(data_dir) / ADMIN_TOKEN_FILE
        self.board = board
        self.session_ttl = session_ttl
        self._lock = threading.Lock()
        #: True iff this process made the token (first start): the one time it is printed.
        self.created = not self.path.exists()
        if self.created:
            write_private(self.path, secrets.token_urlsafe(32).encode())
        self._token, self._mtime = self._read()

    def _read(self) -> tuple[str, int]:
        return self.path.read_text().strip(), self.path.stat().st_mtime_ns

    @property
    def token(self) -> str:
        """The current admin token (re-read if another process rotated it)."""
        with self._lock:
            try:
                mtime = self.path.stat().st_mtime_ns
            except FileNotFoundError:
                return self._token
            if mtime != self._mtime:
                self._token, self._mtime = self._read()
            return self._token

    def check_token(self, token: object) -> bool:
        """True iff ``token`` is the admin token (constant-time comparison)."""
        current = self.token
        return (
            isinstance(token, str)
            and bool(current)
            and hmac.compare_digest(token.encode(), current.encode())
        )

    def rotate_token(self) -> str:
        """Replace the admin token with a fresh one and end every admin session; returns it."""
        with self._lock:
            token = secrets.token_urlsafe(32)
            write_private(self.path, token.encode())
            self._token, self._mtime = self._read()
        self.board.delete_admin_sessions()
        return token

    def open_session(self) -> str:
        """A new admin session id (to keep in the browser's cookie)."""
        session_id = secrets.token_urlsafe(32)
        self.board.add_admin_session(_digest(session_id), time.time() + self.session_ttl)
        return session_id

    def check_session(self, session_id: object) -> bool:
        """True iff ``session_id`` is a live (not expired, not revoked) admin session."""
        if not isinstance(session_id, str) or not 20 <= len(session_id) <= 100:
            return False
        expires = self.board.admin_session_expiry(_digest(session_id))
        return expires is not None and expires > time.time()

    def close_session(self, session_id: object) -> None:
        """Revoke one admin session (logout)."""
        if isinstance(session_id, str):
            self.board.delete_admin_sessions(_digest(session_id))
