"""Admin sessions, the admin token, ``next=`` and file modes (issue 13), with the real services.

The web UI (Flask test client) over a real :class:`mixserver.services.ElectionServices` on a
temporary data directory: a sign-in opens a server-side session; logout revokes it so the same
cookie fails afterwards, also after a restart (a new services object and app on the same
directory); sessions expire; rotating the token (web UI action or ``rotate_admin_token()``) ends
every session and the old token; ``next=`` only follows same-site relative paths. Then the modes
of the data directory, the board (and its -wal/-shm) and every key file, from creation.
"""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from crypto.io.files import write_private
from mixserver.adminauth import AdminAuth
from mixserver.board import Board
from mixserver.services import ElectionServices
from webui import create_app
from webui.admin import safe_next

SECRET_KEY = "fixed-for-the-restart-test"


def make_client(data: Path) -> tuple[ElectionServices, FlaskClient]:
    svc = ElectionServices(data)
    app = create_app({"TESTING": True, "SECRET_KEY": SECRET_KEY}, services=svc)
    return svc, app.test_client()


def csrf(client: FlaskClient, path: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert m, path
    return m.group(1)


def sign_in(client: FlaskClient, token: str, next_: str | None = None) -> str:
    url = "/admin/login" + (f"?next={next_}" if next_ is not None else "")
    r = client.post(url, data={"token": token, "csrf_token": csrf(client, "/admin/login")})
    assert r.status_code == 302, r.data
    return r.headers["Location"]


def cookie(client: FlaskClient) -> str:
    got = client.get_cookie("session")
    assert got is not None
    return got.value


@pytest.fixture()
def data(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "data"


def test_logout_revokes_the_session_also_after_a_restart(data: Path) -> None:
    svc, client = make_client(data)
    sign_in(client, svc.admin_token)
    assert client.get("/admin/").status_code == 200
    stolen = cookie(client)
    r = client.post("/admin/logout", data={"csrf_token": csrf(client, "/admin/")})
    assert r.status_code == 302
    client.set_cookie("session", stolen)  # replay the cookie from before the logout
    assert client.get("/admin/").status_code == 302
    svc.db.close()
    svc2, client2 = make_client(data)  # a restart on the same data directory
    client2.set_cookie("session", stolen)
    r = client2.get("/admin/")
    assert r.status_code == 302 and "/admin/login" in r.headers["Location"]
    svc2.db.close()


def test_a_live_session_survives_a_restart_and_expires(data: Path) -> None:
    svc, client = make_client(data)
    sign_in(client, svc.admin_token)
    kept = cookie(client)
    svc.db.close()
    svc2, client2 = make_client(data)
    client2.set_cookie("session", kept)
    assert client2.get("/admin/").status_code == 200
    svc2.admin.session_ttl = 0.2
    sign_in(client2, svc2.admin_token)
    assert client2.get("/admin/").status_code == 200
    time.sleep(0.3)
    assert client2.get("/admin/").status_code == 302  # expired
    svc2.db.close()


def test_token_rotation_from_the_web_ui(data: Path) -> None:
    svc, client = make_client(data)
    old = svc.admin_token
    _svc_b, other = make_client(data)
    sign_in(other, old)
    sign_in(client, old)
    r = client.post("/admin/token/rotate", data={"csrf_token": csrf(client, "/admin/")})
    assert r.status_code == 200
    new = re.search(r'<code id="new-token">([^<]+)</code>', r.get_data(as_text=True))
    assert new and new.group(1) == svc.admin_token != old
    assert (data / "admin_token").read_text() == new.group(1)
    assert client.get("/admin/").status_code == 200  # the rotating admin stays signed in
    assert other.get("/admin/").status_code == 302  # every other session ended
    assert not svc.check_admin_token(old) and svc.check_admin_token(new.group(1))
    assert not _svc_b.check_admin_token(old)  # another process sees the rotation too
    r = client.post("/admin/login", data={"token": old, "csrf_token": csrf(client, "/admin/login")})
    assert r.status_code == 403


def test_rotate_admin_token_service_function(data: Path) -> None:
    svc = ElectionServices(data)
    assert svc.admin.created  # first start: the token may be printed now, and only now
    old = svc.admin_token
    sid = svc.open_admin_session()
    new = svc.rotate_admin_token()
    assert new != old and len(new) >= 40
    assert not svc.check_admin_session(sid)
    assert not svc.check_admin_token(old) and svc.check_admin_token(new)
    svc.db.close()
    again = ElectionServices(data)
    assert not again.admin.created and again.admin_token == new
    assert not again.check_admin_token("") and not again.check_admin_token(None)
    again.db.close()


@pytest.mark.parametrize(
    "target",
    [
        "/%09/evil.example", "/%0d/evil.example", "/%0a/evil.example", "//evil.example",
        "/\\evil.example", "\\\\evil.example", "https://evil.example/", "http:/evil.example",
        "javascript:alert(1)", "evil.example", "/%20/evil.example", "/%7f/x",
    ],
)
def test_next_refuses_everything_but_same_site_paths(data: Path, target: str) -> None:
    svc, client = make_client(data)
    location = sign_in(client, svc.admin_token, target)
    assert location == "/admin/", (target, location)
    svc.db.close()


@pytest.mark.parametrize("target", ["/admin/elections/new", "/elections/e1/board?offset=5"])
def test_next_follows_same_site_paths(data: Path, target: str) -> None:
    svc, client = make_client(data)
    assert safe_next(target) == target
    assert sign_in(client, svc.admin_token, target.replace("?", "%3F")) == target
    svc.db.close()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_are_private_from_creation(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask, under which default modes are 0755 / 0644
    try:
        data = tmp_path / "fresh" / "data"
        svc = ElectionServices(data)
        svc.create_election(title="T", question="Q", choices=["a", "b"], voters=3, test=True)
        svc.open_admin_session()
        assert _mode(data) == 0o700
        for name in ("board.sqlite3", "board.sqlite3-wal", "board.sqlite3-shm", "server_key",
                     "admin_token", "authority_key"):  # a test election's authority key too
            assert (data / name).exists(), name
            assert _mode(data / name) == 0o600, (name, oct(_mode(data / name)))
        svc.db.close()
    finally:
        os.umask(old)


def test_write_private_never_widens_and_never_chmods(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                     ) -> None:
    def no_chmod(*_a: object, **_k: object) -> None:
        raise AssertionError("chmod called")

    monkeypatch.setattr(os, "chmod", no_chmod)
    monkeypatch.setattr(os, "fchmod", no_chmod)
    target = tmp_path / "key"
    write_private(target, b"secret one")
    assert _mode(target) == 0o600 and target.read_bytes() == b"secret one"
    write_private(target, b"secret two")  # replaced by a new 0600 file, atomically
    assert _mode(target) == 0o600 and target.read_bytes() == b"secret two"
    assert [p.name for p in tmp_path.iterdir()] == ["key"]  # no temporary file left behind
    board = Board(tmp_path / "d")
    assert _mode(tmp_path / "d") == 0o700 and _mode(tmp_path / "d" / "board.sqlite3") == 0o600
    AdminAuth(tmp_path / "d", board)
    assert _mode(tmp_path / "d" / "admin_token") == 0o600
    board.close()
