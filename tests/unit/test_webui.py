"""The Flask web UI against a small fake services object: every page and form, admin
authentication, CSRF rejection, escaping of user text, the security headers, the booth's JSON cast
endpoint, the downloads, and the npm module route."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask.testing import FlaskClient

from crypto.credentials import credential_from_private, format_credential
from crypto.errors import InvalidProof, MalformedInput, ProtocolViolation, UnknownElection
from crypto.groups import group
from crypto.protocol.wire import Message, encode_body
from crypto.record import GENESIS, make_entry
from webui import create_app

ADMIN_TOKEN = "admin-token-123"
SEED = bytes(range(32))
SECRET = format_credential(SEED)  # a printed voter credential
VOTER = credential_from_private(SEED).public.hex()  # its public credential
XSS = '<script>alert("x")</script>'


class FakeServices:
    """In-memory stand-in for mixserver.services.ElectionServices (the methods the UI calls)."""

    def __init__(self) -> None:
        self.sessions: set[str] = set()
        self.zips: dict[str, dict[str, Any]] = {}
        self.elections: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[Any, ...]] = []
        self.ballots: list[dict[str, Any]] = []
        g = group("secp256k1")
        self.public_key = g.encode(g.base_mul(12345)).hex()
        self.add("e1", "Board vote " + XSS, phase="voting")

    def add(self, eid: str, title: str, phase: str = "setup") -> None:
        self.elections[eid] = {
            "id": eid,
            "title": title,
            "question": "Who? " + XSS,
            "choices": ["Ann", "Bob " + XSS],
            "group": "secp256k1",
            "n": 3,
            "t": 2,
            "voters": 2,
            "width": 1,
            "test_election": False,
            "fingerprint": None,
            "phase": phase,
            "public_key": self.public_key if phase != "setup" else None,
            "ballots_cast": 0,
            "ballots_counted": 0,
            "timings": {"keygen": 0.5, "mixing": {"hop 1": 1.25}},
            "progress": {},
            "nodes": [
                {"position": p, "public_key": None, "enrolled": p == 1, "connected": p == 1}
                for p in (1, 2, 3)
            ],
        }

    def _get(self, eid: str) -> dict[str, Any]:
        if eid not in self.elections:
            raise UnknownElection(f"unknown election {eid!r}")
        return self.elections[eid]

    def check_admin_token(self, token: str | None) -> bool:
        return token == self.admin_token

    # server-side admin sessions, as mixserver.adminauth keeps them
    admin_token = ADMIN_TOKEN

    def open_admin_session(self) -> str:
        sid = f"session-{len(self.sessions)}-0123456789abcdef"
        self.sessions.add(sid)
        return sid

    def check_admin_session(self, sid: str | None) -> bool:
        return sid in self.sessions

    def close_admin_session(self, sid: str | None) -> None:
        self.sessions.discard(sid)  # type: ignore[arg-type]

    def rotate_admin_token(self) -> str:
        self.admin_token = "rotated-" + str(len(self.sessions))
        self.sessions.clear()
        return self.admin_token

    def list_elections(self) -> list[dict[str, Any]]:
        return list(self.elections.values())

    def get_election(self, eid: str) -> dict[str, Any]:
        return self._get(eid)

    def create_election(
        self,
        title: str,
        question: str,
        choices: list[str],
        group: str = "secp256k1",
        n: int = 3,
        t: int = 2,
        voters: int | None = None,
        width: int = 1,
        policy: str = "last-ballot-counts",
        test: bool = False,
    ) -> dict[str, Any]:
        self.calls.append(
            ("create", title, question, tuple(choices), group, n, t, voters, width, policy, test)
        )
        if not title:
            raise MalformedInput("title: a non-empty string of at most 200 characters")
        eid = f"e{len(self.elections) + 1}"
        self.add(eid, title)
        return {**self.elections[eid], "credentials": []}

    def voter_credentials(self, eid: str) -> list[dict[str, str]]:
        self._get(eid)
        return [
            {"voter_id": "0" * 32, "credential": SECRET},
            {"voter_id": "1" * 32, "credential": "b" * 32},
        ]

    def enrol_node(
        self, eid: str, public_key_hex: str | None = None, position: int | None = None
    ) -> dict[str, Any]:
        self.calls.append(("enrol", eid, public_key_hex, position))
        if self._get(eid)["phase"] != "setup":
            raise ProtocolViolation("enrol: nodes can only be enrolled in setup")
        return {
            "election": eid,
            "position": position or 2,
            "public_key": public_key_hex,
            "token": None if public_key_hex else "tok-" + XSS,
        }

    def connected_nodes(self, eid: str) -> list[int]:
        return [1]

    def _action(self, name: str, eid: str, needs: str) -> dict[str, Any]:
        self.calls.append((name, eid))
        if self._get(eid)["phase"] != needs:
            raise ProtocolViolation(f"{name}: not allowed in phase {self._get(eid)['phase']}")
        return {"election": eid, "scheduled": name}

    def open_voting(self, eid: str) -> dict[str, Any]:
        return self._action("open_voting", eid, "keygen")

    def close_voting(self, eid: str) -> dict[str, Any]:
        return self._action("close_voting", eid, "voting")

    def start_mixing(self, eid: str) -> dict[str, Any]:
        return self._action("start_mixing", eid, "closed")

    def publish(self, eid: str) -> dict[str, Any]:
        return self._action("publish", eid, "mixing")

    def upload_credentials(self, eid: str, obj: Any) -> dict[str, Any]:
        self.calls.append(("upload", eid, obj))
        if not isinstance(obj, dict) or "signature" not in obj:
            raise MalformedInput("credential list: fields missing ['signature']")
        return {**self._get(eid), "voters": len(obj.get("credentials", []))}

    def cast_ballot(self, eid: str, ballot: dict[str, Any]) -> dict[str, Any]:
        self._get(eid)
        if ballot.get("credential") != VOTER:
            raise ProtocolViolation("credential: not a voter credential of this election")
        if ballot.get("proof") == "bad":
            raise InvalidProof("ballot proof: challenge mismatch")
        self.ballots.append(ballot)
        return {"tracker": "ab" * 32, "index": 7, "voter_id": "0" * 32}

    def board(self, eid: str, offset: int = 0, limit: int = 100) -> dict[str, Any]:
        self._get(eid)
        entries = [
            {
                "index": i,
                "kind": "ballot",
                "author": "cd" * 32,
                "hash": f"{i:064x}",
                "prev": "00" * 32,
                "created": 0.0,
                "size": 10,
                "voter_id": "0" * 32,
            }
            for i in range(offset, min(offset + limit, 3))
        ]
        return {"election": eid, "total": 3, "offset": offset, "entries": entries}

    def find_receipt(self, eid: str, tracker: str) -> dict[str, Any] | None:
        self._get(eid)
        if tracker != "ab" * 32:
            return None
        return {
            "index": 7,
            "kind": "ballot",
            "voter_id": "0" * 32,
            "hash": tracker,
            "counted": True,
        }

    def results(self, eid: str) -> dict[str, Any] | None:
        e = self._get(eid)
        if e["phase"] != "tallied":
            return None
        return {
            "election": eid,
            "counts": {"Ann": 3, "Bob " + XSS: 1},
            "invalid": 0,
            "ballots": 4,
            "timings": {"keygen": 0.5, "mixing": 2.0},
        }

    def record_zip(self, eid: str) -> dict[str, Any]:
        """The zip of :meth:`export_record`, built once (as the real services cache it)."""
        if eid not in self.zips:
            import tempfile
            import zipfile

            work = Path(tempfile.mkdtemp(prefix="fake-zip-"))
            out = self.export_record(eid, work / eid)
            path = work / "record.zip"
            with zipfile.ZipFile(path, "w") as zf:
                for file in sorted((work / eid).rglob("*")):
                    if file.is_file():
                        zf.write(file, f"{eid}/{file.relative_to(work / eid)}")
            self.zips[eid] = {"path": str(path), "head": out["head"],
                              "size": path.stat().st_size}
        return self.zips[eid]

    def export_record(self, eid: str, dest_dir: str | Path) -> dict[str, Any]:
        """A small but real record: voting.closed, one node's mix.result and its verdict."""
        self._get(eid)
        g = group("secp256k1")
        row = lambda k: b"".join(g.encode(g.base_mul(k + j)) for j in (1, 2))  # noqa: E731
        server, node = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
        msgs = [
            (
                server,
                Message(
                    "voting.closed",
                    eid,
                    {
                        "count": 3,
                        "width": 1,
                        "ciphertexts": b"".join(row(k) for k in range(3)),
                        "trackers": [bytes(32)] * 3,
                    },
                ),
            ),
            (
                node,
                Message(
                    "mix.result",
                    eid,
                    {
                        "job": "j",
                        "input_digest": bytes(32),
                        "outputs": b"".join(row(k) for k in (10, 11, 12)),
                        "proof": [],
                        "fingerprint": bytes(32),
                        "seen_size": 0,
                        "seen_head": bytes(32),
                    },
                ),
            ),
            (
                server,
                Message(
                    "hop.verdict",
                    eid,
                    {
                        "hop": 1,
                        "position": 1,
                        "status": "accepted",
                        "reason": "ok",
                        "result_entry": 1,
                        "output_digest": bytes(32),
                        "evidence_entry": 0,
                        "requested_ms": 0,
                        "gave_up_ms": 0,
                        "timeout_ms": 0,
                    },
                ),
            ),
        ]
        dest = Path(dest_dir) / "entries"
        dest.mkdir(parents=True)
        prev = GENESIS
        for i, (key, msg) in enumerate(msgs):
            entry = make_entry(eid, i, prev, key, encode_body(msg))
            (dest / f"{i:08d}.bin").write_bytes(entry.encode())
            prev = entry.hash()
        return {"path": str(dest_dir), "entries": len(msgs), "head": prev.hex()}

    def ciphertext_lists(self, eid: str) -> dict[str, bytes]:
        self._get(eid)
        g = group("secp256k1")
        row = lambda k: b"".join(g.encode(g.base_mul(k + j)) for j in (1, 2))  # noqa: E731
        return {
            "inputs": b"".join(row(k) for k in range(3)),
            "mixed": b"".join(row(k) for k in (10, 11, 12)),
        }

    def generate_test_ballots(self, eid: str, count: int, choose: Any = None) -> dict[str, Any]:
        self.calls.append(("test_ballots", eid, count, [choose(i) for i in range(count)]))
        return {"cast": count, "expected": {"Ann": count}}


@pytest.fixture()
def svc() -> FakeServices:
    return FakeServices()


@pytest.fixture()
def app(svc: FakeServices) -> Flask:
    return create_app({"TESTING": True, "SECRET_KEY": "test"}, services=svc)


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def csrf_of(client: FlaskClient, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    m = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(
        r'data-csrf="([^"]+)"', html
    )
    assert m, f"no CSRF token on {path}"
    return m.group(1)


def admin_client(client: FlaskClient) -> FlaskClient:
    token = csrf_of(client, "/admin/login")
    r = client.post("/admin/login", data={"token": ADMIN_TOKEN, "csrf_token": token})
    assert r.status_code == 302
    return client


def voter_client(client: FlaskClient, eid: str = "e1") -> str:
    """The booth's CSRF token (signing in happens in the browser, not on the server)."""
    return csrf_of(client, f"/vote/{eid}")


# --- the app factory and headers ----------------------------------------------------------------
def test_factory_makes_independent_apps(svc: FakeServices) -> None:
    a, b = create_app(services=svc), create_app(services=svc)
    assert a is not b and a.config["SECRET_KEY"] != b.config["SECRET_KEY"]
    assert {"public", "voter", "admin", "assets"} <= set(a.blueprints)


def test_csp_and_security_headers_on_every_page(client: FlaskClient) -> None:
    for path in ("/", "/elections/e1", "/admin/login", "/vote/e1", "/nope"):
        r = client.get(path)
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src 'self' 'nonce-" in csp
        assert "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"


def test_the_import_map_carries_this_requests_nonce(client: FlaskClient) -> None:
    r = client.get("/vote/e1")
    nonce = re.search(r"'nonce-([^']+)'", r.headers["Content-Security-Policy"]).group(1)
    html = r.get_data(as_text=True)
    assert f'<script type="importmap" nonce="{nonce}">' in html
    assert '"@noble/curves/": "/assets/npm/@noble/curves/"' in html
    # No other inline script may execute: every other <script> is external or a data block.
    for tag in re.findall(r"<script[^>]*>", html):
        assert 'nonce="' in tag or "src=" in tag or 'type="application/json"' in tag, tag
    other = client.get("/vote/e1").headers["Content-Security-Policy"]
    assert nonce not in other  # a fresh nonce per response


# --- public pages ----------------------------------------------------------------------------
def test_user_text_is_escaped_everywhere(client: FlaskClient, svc: FakeServices) -> None:
    svc.elections["e1"]["phase"] = "tallied"
    pages = ["/", "/elections/e1", "/elections/e1/board", "/elections/e1/results"]
    for path in pages:
        html = client.get(path).get_data(as_text=True)
        assert XSS not in html, path
        assert "&lt;script&gt;" in html, path


def test_election_list_and_page_show_the_phase(client: FlaskClient, svc: FakeServices) -> None:
    svc.add("e2", "Second", phase="mixing")
    html = client.get("/").get_data(as_text=True)
    assert 'href="/elections/e2"' in html and 'data-phase="mixing"' in html
    page = client.get("/elections/e2").get_data(as_text=True)
    assert 'data-ws-path="/ws/status/e2"' in page and 'data-phase="mixing"' in page
    assert "hop 1" in page and "1.250" in page  # nested timings are flattened


def test_unknown_or_malformed_election_is_404(client: FlaskClient) -> None:
    assert client.get("/elections/nope").status_code == 404
    assert client.get("/elections/bad%20id!").status_code == 404
    assert client.get("/vote/nope").status_code == 404
    r = client.get("/elections/nope", headers={"Accept": "application/json"})
    assert r.status_code == 404 and "unknown election" in r.get_json()["error"]


def test_board_receipt_lookup(client: FlaskClient) -> None:
    html = client.get("/elections/e1/board?receipt=" + "ab" * 32).get_data(as_text=True)
    assert "Found:" in html and "it is the one that counts" in html
    html = client.get("/elections/e1/board?receipt=" + "cd" * 32).get_data(as_text=True)
    assert "No ballot with this receipt" in html
    html = client.get("/elections/e1/board?receipt=<b>").get_data(as_text=True)
    assert "64 hexadecimal characters" in html and "<b>" not in html.split("receipt-result")[1]
    html = client.get("/elections/e1/board?offset=0").get_data(as_text=True)
    assert "3 entries" in html
    for bad in ("x", "-1", "9" * 30, "１"):
        r = client.get(f"/elections/e1/board?offset={bad}")
        assert r.status_code == 400 and "offset" in r.get_data(as_text=True), bad


def test_results_page_tally_chart_lists_and_verifier(
    client: FlaskClient, svc: FakeServices
) -> None:
    assert "No result yet" in client.get("/elections/e1/results").get_data(as_text=True)
    svc.elections["e1"]["phase"] = "tallied"
    html = client.get("/elections/e1/results").get_data(as_text=True)
    tally = dict(re.findall(r"<tr><td>([^<]*)</td><td class=\"count\">(\d+)</td></tr>", html))
    assert tally == {"Ann": "3", "Bob &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;": "1"}
    widths = [float(w) for w in re.findall(r'class="bar-rect"[^>]*width="([\d.]+)%"', html)]
    assert widths[:2] == [100.0, 33.33]  # 3 : 1, scaled to the largest
    assert 'id="timing-chart"' in html
    assert "mixverify e1" in html
    assert html.count("<li><code>") == 6  # 3 input rows + 3 mixed rows
    g = group("secp256k1")
    first_input = (g.encode(g.base_mul(1)) + g.encode(g.base_mul(2))).hex()
    first_mixed = (g.encode(g.base_mul(11)) + g.encode(g.base_mul(12))).hex()
    assert first_input in html and first_mixed in html


def test_list_downloads_and_record_zip(client: FlaskClient) -> None:
    r = client.get("/elections/e1/mixed.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert rows[0] == ["row", "ciphertext"] and len(rows) == 4 and len(rows[1][1]) == 132
    assert client.get("/elections/e1/other.csv").status_code == 404
    z = client.get("/elections/e1/record.zip")
    assert z.status_code == 200 and z.mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(z.data)).namelist()
    assert names == [
        "e1/entries/00000000.bin",
        "e1/entries/00000001.bin",
        "e1/entries/00000002.bin",
    ]


# --- CSRF and admin authentication --------------------------------------------------------------
ADMIN_POSTS = [
    "/admin/elections/new",
    "/admin/elections/e1/enrol",
    "/admin/elections/e1/action/close",
    "/admin/elections/e1/test-ballots",
]


def test_admin_pages_need_the_admin_session(client: FlaskClient, svc: FakeServices) -> None:
    for path in (
        "/admin/",
        "/admin/elections/new",
        "/admin/elections/e1",
        "/admin/elections/e1/credentials.csv",
    ):
        r = client.get(path)
        assert r.status_code == 302 and "/admin/login" in r.headers["Location"], path
    token = csrf_of(client, "/admin/login")
    for path in ADMIN_POSTS:
        r = client.post(path, data={"csrf_token": token, "title": "x", "count": "1"})
        assert r.status_code == 302 and "/admin/login" in r.headers["Location"], path
    assert svc.calls == []


def test_wrong_admin_token_is_refused(client: FlaskClient) -> None:
    token = csrf_of(client, "/admin/login")
    r = client.post("/admin/login", data={"token": "wrong", "csrf_token": token})
    assert r.status_code == 403 and "not the admin token" in r.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_posts_without_or_with_a_wrong_csrf_token_are_rejected(
    client: FlaskClient, svc: FakeServices
) -> None:
    r = client.post("/admin/login", data={"token": ADMIN_TOKEN})
    assert r.status_code == 400 and "CSRF" in r.get_data(as_text=True)
    admin_client(client)
    for path in ADMIN_POSTS:
        for data in ({}, {"csrf_token": "forged"}):
            r = client.post(path, data={**data, "title": "T", "choices": "a", "count": "1"})
            assert r.status_code == 400, path
    r = client.post("/vote/e1/cast", json={"ciphertext": "00", "proof": "00", "width": 1})
    assert r.status_code == 400 and "CSRF" in r.get_json()["error"]
    assert svc.calls == [] and svc.ballots == []


def test_login_redirect_is_never_off_site(client: FlaskClient) -> None:
    for target, expected in (
        ("/admin/elections/e1", "/admin/elections/e1"),
        ("//evil.example/x", "/admin/"),
        ("https://evil.example", "/admin/"),
    ):
        c = client.application.test_client()
        token = csrf_of(c, "/admin/login")
        r = c.post(
            "/admin/login",
            query_string={"next": target},
            data={"token": ADMIN_TOKEN, "csrf_token": token},
        )
        assert r.headers["Location"] == expected


def test_create_election_form(client: FlaskClient, svc: FakeServices) -> None:
    admin_client(client)
    html = client.get("/admin/elections/new").get_data(as_text=True)
    for field in ("title", "question", "choices", "group", "n", "t", "voters", "width", "policy"):
        assert f'<label for="{field}">' in html and f'id="{field}"' in html
    token = csrf_of(client, "/admin/elections/new")
    r = client.post(
        "/admin/elections/new",
        data={
            "csrf_token": token,
            "title": "New",
            "question": "Q?",
            "choices": "A\n\n B \nC",
            "group": "P-256",
            "n": "4",
            "t": "3",
            "voters": "5",
            "width": "2",
            "policy": "first-ballot-counts",
            "test": "on",
        },
    )
    assert r.status_code == 302 and r.headers["Location"] == "/admin/elections/e2"
    assert svc.calls[-1] == (
        "create", "New", "Q?", ("A", "B", "C"), "P-256", 4, 3, 5, 2, "first-ballot-counts", True
    )
    # a normal election: no voter count (the authority's list decides), test off
    client.post("/admin/elections/new", data={"csrf_token": token, "title": "N",
                                              "choices": "A\nB", "voters": "7"})
    assert svc.calls[-1][7:] == (None, 1, "last-ballot-counts", False)
    # Bad input comes back to the form with the reason, keeping what was typed.
    r = client.post("/admin/elections/new", data={"csrf_token": token, "title": "", "choices": "A"})
    assert r.status_code == 400 and "non-empty string" in r.get_data(as_text=True)
    r = client.post(
        "/admin/elections/new",
        data={"csrf_token": token, "title": "T", "choices": "A", "n": "three"},
    )
    html = r.get_data(as_text=True)
    # the server's reason is shown at the field it is about
    assert r.status_code == 400 and re.search(r'id="n-error" role="alert">an integer', html)
    assert re.search(r'id="n"[^>]*aria-invalid="true"', html)


def test_admin_election_page_actions_enrol_and_test_ballots(
    client: FlaskClient, svc: FakeServices
) -> None:
    admin_client(client)
    html = client.get("/admin/elections/e1").get_data(as_text=True)
    assert re.search(r'id="action-close"\s*>', html) and re.search(
        r'id="action-open" disabled', html
    )
    token = csrf_of(client, "/admin/elections/e1")
    r = client.post("/admin/elections/e1/action/close", data={"csrf_token": token})
    assert r.status_code == 302 and svc.calls[-1] == ("close_voting", "e1")
    assert "Voting will close." in client.get("/admin/elections/e1").get_data(as_text=True)
    client.post("/admin/elections/e1/action/mix", data={"csrf_token": token})
    assert "start_mixing: not allowed in phase voting" in client.get(
        "/admin/elections/e1"
    ).get_data(as_text=True)
    client.post("/admin/elections/e1/test-ballots", data={"csrf_token": token, "count": "5"})
    name, eid, count, choices = svc.calls[-1]
    assert (name, eid, count) == ("test_ballots", "e1", 5) and all(c in (0, 1) for c in choices)
    assert "5 random test ballots cast" in client.get("/admin/elections/e1").get_data(as_text=True)
    svc.add("e9", "Setup one")
    client.post("/admin/elections/e9/enrol", data={"csrf_token": token, "public_key": ""})
    html = client.get("/admin/elections/e9").get_data(as_text=True)
    assert svc.calls[-1] == ("enrol", "e9", None, None)
    assert "tok-&lt;script&gt;" in html and XSS not in html
    # the operator is shown a command line that runs as it is
    assert (
        "mixnode run --server http://localhost --key node-2.key --data ./node-2-data"
        " --election e9 --token" in html
    )


def test_credentials_csv(client: FlaskClient) -> None:
    admin_client(client)
    r = client.get("/admin/elections/e1/credentials.csv")
    assert r.mimetype == "text/csv" and "attachment" in r.headers["Content-Disposition"]
    assert r.headers["Cache-Control"] == "no-store"
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert rows == [["voter_id", "credential"], ["0" * 32, SECRET], ["1" * 32, "b" * 32]]


# --- the voter ----------------------------------------------------------------------------------
def test_voter_booth_signs_in_in_the_browser_and_casts(
    client: FlaskClient, svc: FakeServices
) -> None:
    svc.elections["e1"]["fingerprint"] = "0f" * 32
    assert client.get("/vote/e1/booth").headers["Location"].endswith("/vote/e1")
    assert client.post("/vote/e1", data={"credential": SECRET}).status_code in (400, 405)
    booth_token = voter_client(client)
    html = client.get("/vote/e1").get_data(as_text=True)
    assert '<label for="choice-0">Ann</label>' in html and "<legend>" in html
    # the credential field has no name: a browser never submits it to the server
    field = re.search(r'<input id="credential"[^>]*>', html).group(0)
    assert "name=" not in field and 'type="password"' in field
    params = re.search(
        r'<script type="application/json" id="election-params">(.*?)</script>', html, re.S
    )
    assert params and "\\u003cscript\\u003e" in params.group(1)  # tojson escapes '<'
    assert json.loads(params.group(1))["fingerprint"] == "0f" * 32
    assert client.get_cookie("session") is None or SECRET not in client.get_cookie(
        "session").value
    ballot = {"credential": VOTER, "width": 1, "ciphertext": "02" * 66,
              "proof": "11" * 64, "signature": "22" * 64}
    r = client.post("/vote/e1/cast", json=ballot, headers={"X-CSRF-Token": booth_token})
    assert r.status_code == 200 and r.get_json()["tracker"] == "ab" * 32
    assert r.get_json()["receipt_url"] == "/vote/e1/receipt/" + "ab" * 32
    assert svc.ballots == [ballot]
    receipt = client.get(r.get_json()["receipt_url"]).get_data(as_text=True)
    assert "ab" * 32 in receipt and "the one that counts" in receipt
    assert client.get("/vote/e1/receipt/" + "cd" * 32).status_code == 404


def test_cast_rejections_are_json_with_the_reason(client: FlaskClient, svc: FakeServices) -> None:
    r = client.post("/vote/e1/cast", json={})
    assert r.status_code == 400  # no CSRF token
    token = voter_client(client)
    h = {"X-CSRF-Token": token}
    ballot = {"credential": VOTER, "width": 1, "ciphertext": "00", "proof": "bad",
              "signature": "00" * 64}
    r = client.post("/vote/e1/cast", json=ballot, headers=h)
    assert r.status_code == 400 and r.get_json() == {"error": "ballot proof: challenge mismatch"}
    r = client.post("/vote/e1/cast", json={**ballot, "credential": "dd" * 32}, headers=h)
    assert r.status_code == 409 and "not a voter credential" in r.get_json()["error"]
    r = client.post("/vote/e1/cast", json={"ciphertext": "00", "extra": 1}, headers=h)
    assert r.status_code == 400 and "unexpected fields" in r.get_json()["error"]
    r = client.post(
        "/vote/e1/cast", data="not json", headers={**h, "Content-Type": "application/json"}
    )
    assert r.status_code == 400
    # issue 13: strict JSON in the booth's cast too (UTF-16, depth, floats, content type)
    text = '{"ciphertext": "00", "proof": "00", "width": 1}'
    for data, ctype, status, phrase in (
        (text.encode("utf-16"), "application/json", 400, "not UTF-8"),
        (text.encode(), "application/json; charset=utf-16", 415, "application/json"),
        (text.encode(), "text/plain", 415, "application/json"),
        (b"[" * 3000 + b"]" * 3000, "application/json", 400, "nested deeper"),
        (text.replace("1}", "1.0}").encode(), "application/json", 400, "integers"),
    ):
        r = client.post("/vote/e1/cast", data=data, headers={**h, "Content-Type": ctype,
                                                             "Accept": "application/json"})
        assert r.status_code == status and phrase in r.get_json()["error"], (data[:30], r.data)
    svc.elections["e1"]["phase"] = "closed"
    html = client.get("/vote/e1").get_data(as_text=True)
    assert "Voting is closed" in html and "election-params" not in html
    assert svc.ballots == []


# --- assets ----------------------------------------------------------------------------------
def test_npm_modules_are_served_from_node_modules_only(tmp_path: Path, svc: FakeServices) -> None:
    pkg = tmp_path / "@noble" / "curves"
    (pkg / "abstract").mkdir(parents=True)
    (pkg / "secp256k1.js").write_text("export const x = 1;")
    (pkg / "abstract" / "curve.js").write_text("export const y = 2;")
    (pkg / "package.json").write_text("{}")
    (tmp_path / "secret.js").write_text("nope")
    c = create_app({"NODE_MODULES": str(tmp_path)}, services=svc).test_client()
    r = c.get("/assets/npm/@noble/curves/secp256k1.js")
    assert r.status_code == 200 and r.mimetype == "text/javascript" and b"x = 1" in r.data
    assert c.get("/assets/npm/@noble/curves/abstract/curve.js").status_code == 200
    assert c.get("/assets/npm/@noble/curves/package.json").status_code == 404
    assert c.get("/assets/npm/@noble/curves/../../secret.js").status_code == 404
    assert c.get("/assets/npm/@noble/curves/%2e%2e/%2e%2e/secret.js").status_code == 404
    assert c.get("/assets/npm/@noble/evil/x.js").status_code == 404
    assert c.get("/assets/npm/@noble/hashes/sha3.js").status_code == 404


def test_booth_says_so_when_npm_ci_has_not_run(tmp_path: Path, svc: FakeServices) -> None:
    c = create_app({"NODE_MODULES": str(tmp_path)}, services=svc).test_client()
    assert "crypto library is not installed" in c.get("/vote/e1").get_data(as_text=True)


def test_admin_uploads_the_signed_list_of_a_normal_election(
    client: FlaskClient, svc: FakeServices
) -> None:
    svc.add("e5", "Real one")
    svc.elections["e5"].update(test_election=False, fingerprint=None)
    admin_client(client)
    html = client.get("/admin/elections/e5").get_data(as_text=True)
    assert 'id="credentials-form"' in html and 'enctype="multipart/form-data"' in html
    assert "credentials.csv" not in html and 'id="test-ballots"' not in html
    assert "mixvote-credentials generate --authority authority.key --election e5" in html
    token = csrf_of(client, "/admin/elections/e5")
    body = {"format": "mixvote-public-credentials/1", "credentials": ["ab"], "signature": "00"}
    r = client.post("/admin/elections/e5/credentials", data={
        "csrf_token": token, "list": (io.BytesIO(json.dumps(body).encode()), "p.json")},
        content_type="multipart/form-data")
    assert r.status_code == 302 and svc.calls[-1] == ("upload", "e5", body)
    assert "1 public credentials loaded" in client.get("/admin/elections/e5").get_data(
        as_text=True)
    r = client.post("/admin/elections/e5/credentials", data={
        "csrf_token": token, "list": (io.BytesIO(b"not json"), "p.json")},
        content_type="multipart/form-data")
    assert "Credential list refused: credential list: the file is not JSON" in client.get(
        "/admin/elections/e5").get_data(as_text=True)
    # a test election shows its download and the test-ballot form instead
    svc.elections["e1"]["test_election"] = True
    html = client.get("/admin/elections/e1").get_data(as_text=True)
    assert "credentials.csv" in html and 'id="test-ballots"' in html
    assert 'id="credentials-form"' not in html
