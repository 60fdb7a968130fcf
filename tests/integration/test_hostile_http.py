"""Hostile HTTP input gets a precise 4xx, never a 500 (issue 13), in process.

A real :func:`mixserver.app.make_app` (JSON API and the Flask UI behind it) over a fresh data
directory, driven through tornado's ``AsyncHTTPTestCase`` on loopback. One table holds every case
the issue lists; each row is (method, path, headers, body, expected status, expected error code,
a phrase the message must contain). A Hypothesis fuzz then throws arbitrary bodies, query strings
and path segments at every API route and asserts that no status is 500 or above.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tornado.httpclient import HTTPResponse
from tornado.simple_httpclient import HTTPStreamClosedError
from tornado.tcpclient import TCPClient
from tornado.testing import AsyncHTTPTestCase, gen_test

from mixserver.api import ADMIN_BODY_LIMIT
from mixserver.app import make_app
from mixserver.services import ElectionServices

JSON = {"Content-Type": "application/json"}
SMALL_ORDER_IDENTITY = "01" + "00" * 31 + "22" * 32


class Server(AsyncHTTPTestCase):
    """A fresh app over a fresh data directory with one election (``self.eid``)."""

    def get_app(self) -> Any:
        self._tmp = tempfile.TemporaryDirectory()
        self.services = ElectionServices(Path(self._tmp.name) / "data")
        created = self.services.create_election(
            title="T", question="Q?", choices=["a", "b"], n=3, t=2, voters=2, test=True
        )
        self.eid = created["id"]
        # a voter's ballot carries no Authorization; a stray one is ignored, never trusted
        self.secret = self.services.voter_credentials(self.eid)[0]["credential"]
        self.admin = {"Authorization": f"Bearer {self.services.admin_token}"}
        return make_app(self.services)

    def tearDown(self) -> None:
        super().tearDown()
        self.services.db.close()
        self._tmp.cleanup()

    def req(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: bytes | str | None = None,
    ) -> HTTPResponse:
        if isinstance(body, str):
            body = body.encode()
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = b""
        return self.fetch(
            path.replace("{eid}", self.eid),
            method=method,
            headers=headers or {},
            body=body,
            follow_redirects=False,
            allow_nonstandard_methods=True,
            raise_error=False,
        )


def _admin(extra: dict[str, str] | None = None) -> str:
    return "admin" if extra is None else "admin+json"


DEEP = "[" * 100_000 + "]" * 100_000
# (method, path, auth: None/"admin"/"voter", content type, body, status, code, phrase)
CASES: list[tuple[str, str, str | None, str | None, str | None, int, str, str]] = [
    # ballots: strict numbers, depth, content type
    ("POST", "/api/elections/{eid}/ballots", "voter", "application/json",
     '{"ciphertext": "00", "proof": "00", "width": 1.0}', 400, "malformed", "integers"),
    ("POST", "/api/elections/{eid}/ballots", "voter", "application/json",
     '{"ciphertext": "00", "proof": "00", "width": 1e0}', 400, "malformed", "integers"),
    ("POST", "/api/elections/{eid}/ballots", "voter", "application/json", DEEP, 413,
     "payload-too-large", "at most"),
    ("POST", "/api/elections/{eid}/ballots", "voter", "application/json",
     "[" * 40 + "]" * 40, 400, "malformed", "nested deeper"),
    ("POST", "/api/elections/{eid}/ballots", "voter", "application/json; charset=utf-16",
     '{"width": 1}', 415, "unsupported-media-type", "application/json"),
    ("POST", "/api/elections/{eid}/ballots", "voter", "text/plain", '{"width": 1}', 415,
     "unsupported-media-type", "application/json"),
    ("POST", "/api/elections/{eid}/ballots", None, "application/json", "{}", 409,
     "protocol-violation", "voting is not open"),
    ("POST", "/api/elections/{eid}/ballots", "voter", "application/json",
     '{"a": 1, "a": 2}', 400, "malformed", "twice"),
    ("POST", "/api/elections/nosuch/ballots", "voter", "application/json", "{}", 404,
     "unknown-election", "unknown election"),
    # election creation
    ("POST", "/api/elections", "admin", "application/json", DEEP, 413, "payload-too-large",
     "at most"),
    ("POST", "/api/elections", "admin", "application/json", "[" * 33 + "]" * 33, 400,
     "malformed", "nested deeper"),
    ("POST", "/api/elections", "admin", "application/json",
     '{"question": "Q", "choices": ["a"]}', 400, "malformed", "missing fields ['title']"),
    ("POST", "/api/elections", "admin", "application/json",
     '{"title": "T", "question": "Q", "choices": ["a"], "width": 1.0}', 400, "malformed",
     "integers"),
    ("POST", "/api/elections", "admin", "application/json", "NaN", 400, "malformed",
     "not allowed"),
    ("POST", "/api/elections", "admin", None, '{"title": "T"}', 415,
     "unsupported-media-type", "application/json"),
    ("POST", "/api/elections", None, "application/json", "{}", 401, "unauthorized",
     "admin token"),
    ("POST", "/api/elections", "admin", "application/json", '"x"', 400, "malformed",
     "JSON object"),
    # actions
    ("POST", "/api/elections/{eid}/enrol", "admin", "application/json", "[]", 400,
     "malformed", "JSON object"),
    ("POST", "/api/elections/{eid}/enrol", "admin", "application/json", '"x"', 400,
     "malformed", "JSON object"),
    ("POST", "/api/elections/{eid}/enrol", "admin", "application/json",
     json.dumps({"public_key": SMALL_ORDER_IDENTITY}), 400, "invalid-element", "prime-order"),
    ("POST", "/api/elections/{eid}/enrol", "admin", "application/json",
     '{"public_key": 5}', 400, "malformed", "hex string"),
    ("POST", "/api/elections/{eid}/enrol", "admin", "application/json",
     '{"position": true}', 400, "malformed", "non-negative integer"),
    ("POST", "/api/elections/{eid}/test-ballots", "admin", "application/json", "[1]", 400,
     "malformed", "JSON object"),
    ("POST", "/api/elections/{eid}/test-ballots", "admin", "application/json",
     '{"count": 1.5}', 400, "malformed", "integers"),
    ("POST", "/api/elections/{eid}/open", "admin", "application/json", '{"x": 1}', 400,
     "malformed", "unknown fields"),
    ("POST", "/api/elections/{eid}/open", None, None, None, 401, "unauthorized",
     "admin token"),
    # board query
    ("GET", "/api/elections/{eid}/board?offset=abc", None, None, None, 400, "malformed",
     "offset"),
    ("GET", "/api/elections/{eid}/board?limit=abc", None, None, None, 400, "malformed",
     "limit"),
    ("GET", "/api/elections/{eid}/board?offset=" + "9" * 30, None, None, None, 400,
     "malformed", "at most 9 digits"),
    ("GET", "/api/elections/{eid}/board?offset=-1", None, None, None, 400, "malformed",
     "offset"),
    # methods and unknown paths
    ("DELETE", "/api/elections", "admin", None, None, 405, "method-not-allowed",
     "Method Not Allowed"),
    ("PUT", "/api/elections/{eid}/board", None, None, None, 405, "method-not-allowed",
     "Method Not Allowed"),
    ("POST", "/api/nothing/here", None, "application/json", "{}", 404, "not-found",
     "unknown API path"),
    ("GET", "/api/elections/{eid}/nope", None, None, None, 404, "not-found",
     "unknown API path"),
    ("GET", "/api", None, None, None, 404, "not-found", "unknown API path"),
    # a GET carries no body
    ("GET", "/api/elections", None, "application/json", "{}", 413, "payload-too-large",
     "at most 0 bytes"),
]


class TestNormalElectionHasNoServerSideCasting(Server):
    """In a normal election the server holds no private credential: every path that would cast
    a ballot on the server is refused with the reason, and nothing reaches the board."""

    def test_every_server_side_casting_path_is_refused(self) -> None:
        normal = self.services.create_election(
            title="N", question="Q?", choices=["a", "b"], n=3, t=2)["id"]
        from mixserver.harness import authority_credentials

        _creds, public = authority_credentials(normal, 3)
        got = self.req("POST", f"/api/elections/{normal}/credentials",
                       {**self.admin, "Content-Type": "application/json"},
                       json.dumps(public))
        assert got.code == 200 and json.loads(got.body)["voters"] == 3
        self.services.db.set_phase(normal, "voting", public_key="00")
        before = self.services.db.count_entries(normal)
        for method, path, body in (
            ("POST", f"/api/elections/{normal}/test-ballots", '{"count": 1}'),
            ("GET", f"/api/elections/{normal}/credentials", None),
            ("POST", f"/api/elections/{normal}/credentials", json.dumps(public)),
        ):
            headers = {**self.admin, "Content-Type": "application/json"}
            got = self.req(method, path, headers, body)
            answer = json.loads(got.body)
            assert got.code == 409 and answer["code"] == "protocol-violation", (path, answer)
        assert "only in a test election" in json.loads(self.req(
            "POST", f"/api/elections/{normal}/test-ballots",
            {**self.admin, "Content-Type": "application/json"}, '{"count": 1}').body)["error"]
        assert self.services.db.count_entries(normal) == before


class TestHostileTable(Server):
    def _headers(self, auth: str | None, ctype: str | None) -> dict[str, str]:
        headers: dict[str, str] = {}
        if auth == "admin":
            headers.update(self.admin)
        elif auth == "voter":
            headers["Authorization"] = f"Voter {self.secret}"
        if ctype:
            headers["Content-Type"] = ctype
        return headers

    def test_every_case(self) -> None:
        for method, path, auth, ctype, body, status, code, phrase in CASES:
            got = self.req(method, path, self._headers(auth, ctype), body)
            where = f"{method} {path[:60]} body {str(body)[:40]!r}"
            assert got.code == status, f"{where}: {got.code} {got.body[:200]!r}"
            answer = json.loads(got.body)
            assert answer["code"] == code, f"{where}: {answer}"
            assert phrase in answer["error"], f"{where}: {answer}"

    def test_an_honest_request_still_works(self) -> None:
        got = self.req("GET", "/api/elections/{eid}/board?offset=0&limit=5")
        assert got.code == 200 and json.loads(got.body)["offset"] == 0
        made = self.req("POST", "/api/elections", {**self.admin, **JSON},
                        '{"title": "T2", "question": "Q", "choices": ["x", "y"]}')
        assert made.code == 201, made.body
        enrol = self.req("POST", "/api/elections/{eid}/enrol",
                         {**self.admin, "Content-Type": "application/json; charset=UTF-8"},
                         "{}")
        assert enrol.code == 200 and json.loads(enrol.body)["token"]

    def test_body_limit_refused_before_the_body_is_read(self) -> None:
        # A Content-Length far beyond the route's limit is answered from the headers alone.
        big = b"{" + b" " * (ADMIN_BODY_LIMIT + 10) + b"}"
        got = self.req("POST", "/api/elections", {**self.admin, **JSON}, big)
        assert got.code == 413
        unauth = self.req("POST", "/api/elections", JSON, big)
        assert unauth.code == 401  # the token is checked before the body, too

    def test_a_chunked_body_is_cut_at_the_route_limit(self) -> None:
        sent = []

        async def produce(write: Any) -> None:
            # valid JSON that would create an election if it were read whole: 4 MiB of
            # whitespace in 64 KiB pieces, far over the 64 KiB admin limit
            await write(b'{"title": "Big", "question": "Q", "choices": ["a"]')
            for _ in range(64):
                sent.append(1)
                await write(b" " * (64 << 10))
            await write(b"}")

        before = len(self.services.list_elections())
        try:
            code = self.fetch("/api/elections", method="POST", body_producer=produce,
                              headers={**self.admin, **JSON}, raise_error=False).code
        except HTTPStreamClosedError:
            code = 599  # closed while the client was still writing
        # tornado answers 400 and closes once the body passes the limit
        assert code in (400, 599), code
        assert len(self.services.list_elections()) == before  # nothing was created
        assert self.services.list_elections()[-1]["title"] == "T"  # nothing was created


class TestDefaultBodyLimit(Server):
    @gen_test(timeout=10)
    async def test_a_websocket_upgrade_with_a_huge_body_is_refused_from_its_headers(self) -> None:
        for path in (b"/ws/node", b"/ws/status/x"):
            stream = await TCPClient().connect("127.0.0.1", self.get_http_port())
            await stream.write(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                               b"Connection: Upgrade\r\nContent-Length: 209715200\r\n\r\n")
            line = await stream.read_until(b"\r\n")
            assert line.startswith(b"HTTP/1.1 400"), line
            stream.close()


WEB_CASES: list[tuple[str, str, int, str]] = [
    ("GET", "/assets/npm/@noble/curves/%00.js", 404, ""),
    ("GET", "/assets/npm/@noble/curves/a%00b.js", 404, ""),
    ("GET", "/elections/{eid}/board?offset=abc", 400, "offset"),
    ("GET", "/elections/{eid}/board?offset=" + "9" * 30, 400, "offset"),
    ("GET", "/admin/login?next=/%0d/evil.example", 200, ""),
]


class TestHostileWebUi(Server):
    def test_web_cases(self) -> None:
        for method, path, status, phrase in WEB_CASES:
            got = self.req(method, path)
            assert got.code == status, f"{method} {path}: {got.code} {got.body[:300]!r}"
            assert phrase.encode() in got.body

    def test_web_body_limit(self) -> None:
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        got = self.req("POST", "/admin/login", form, b"token=" + b"a" * (200 << 10))
        assert got.code == 413


API_ROUTES = [
    ("GET", "/api/elections"),
    ("POST", "/api/elections"),
    ("GET", "/api/elections/{eid}"),
    ("POST", "/api/elections/{eid}/ballots"),
    ("GET", "/api/elections/{eid}/credentials"),
    ("GET", "/api/elections/{eid}/board"),
    ("GET", "/api/elections/{eid}/receipts/{x}"),
    ("GET", "/api/elections/{eid}/results"),
    ("GET", "/api/elections/{eid}/status"),
    *[("POST", f"/api/elections/{{eid}}/{a}") for a in
      ("open", "close", "mix", "publish", "enrol", "credentials", "test-ballots")],
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["title", "question", "choices", "width", "n", "t", "count",
                         "public_key", "position", "ciphertext", "proof", "x"])
        | st.text(max_size=5),
        inner, max_size=5),
    max_leaves=20,
)
bodies = json_values.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=200)


class TestFuzzEveryRoute(Server):
    @settings(max_examples=300, deadline=None, derandomize=bool(os.environ.get("CI")),
              suppress_health_check=list(HealthCheck))
    @given(
        route=st.sampled_from(API_ROUTES),
        body=bodies,
        auth=st.sampled_from([None, "admin", "voter", "junk"]),
        ctype=st.sampled_from([None, "application/json", "application/json; charset=utf-16",
                               "text/plain"]),
        segment=st.text(alphabet="abcdef0123456789%-_", min_size=1, max_size=12),
        query=st.text(max_size=12),
    )
    def test_no_route_answers_5xx(self, route: tuple[str, str], body: bytes, auth: str | None,
                                  ctype: str | None, segment: str, query: str) -> None:
        method, path = route
        path = path.replace("{x}", segment)
        if auth == "junk":
            headers = {"Authorization": "Bearer " + segment}
        elif auth == "admin":
            headers = dict(self.admin)
        elif auth == "voter":
            headers = {"Authorization": f"Voter {self.secret}"}
        else:
            headers = {}
        if ctype:
            headers["Content-Type"] = ctype
        from urllib.parse import quote

        full = f"{path}?offset={quote(query)}&limit={quote(query)}"
        got = self.req(method, full, headers, body if method == "POST" else None)
        assert got.code < 500, f"{method} {full} {body[:80]!r}: {got.code} {got.body[:300]!r}"
        assert got.headers.get("Content-Type", "").startswith("application/json")


@pytest.mark.parametrize("value", ["application/json", "application/json; charset=utf-8",
                                   "Application/JSON; Charset=UTF-8"])
def test_json_content_types_accepted(value: str) -> None:
    from webui.strictjson import is_json_content_type

    assert is_json_content_type(value)


@pytest.mark.parametrize("value", [None, "", "text/json", "application/json; charset=utf-16",
                                   "application/json; boundary=x", "application/jsonx"])
def test_other_content_types_refused(value: str | None) -> None:
    from webui.strictjson import is_json_content_type

    assert not is_json_content_type(value)


WEB_GET_ROUTES = [
    "/", "/healthz", "/elections/{e}", "/elections/{e}/board?offset={x}&receipt={x}",
    "/elections/{e}/results", "/elections/{e}/record.zip", "/elections/{e}/{x}.csv",
    "/vote/{e}", "/vote/{e}/booth", "/vote/{e}/receipt/{x}", "/admin/login?next={x}",
    "/admin/", "/admin/elections/{e}", "/assets/npm/@noble/{x}/{x}.js", "/{x}",
]


class TestFuzzWebUi(Server):
    @settings(max_examples=200, deadline=None, derandomize=bool(os.environ.get("CI")),
              suppress_health_check=list(HealthCheck))
    @given(
        route=st.sampled_from(WEB_GET_ROUTES),
        use_real=st.booleans(),
        segment=st.text(alphabet=st.characters(codec="utf-8"), max_size=16),
    )
    def test_no_page_answers_5xx(self, route: str, use_real: bool, segment: str) -> None:
        from urllib.parse import quote

        x = quote(segment, safe="")
        path = route.replace("{e}", self.eid if use_real else x or "e").replace("{x}", x)
        got = self.req("GET", path)
        assert got.code < 500, f"GET {path}: {got.code} {got.body[:300]!r}"
