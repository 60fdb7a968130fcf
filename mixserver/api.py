"""The HTTP JSON API under ``/api/``: one handler class per resource over the services object.

:class:`ApiHandler` is the adapter's one place where errors become HTTP responses: an error of
the project hierarchy gets the status and code of :func:`crypto.errors.medium_of`; a refusal of
the HTTP layer itself (no credential, body too large or of the wrong type, no route) gets its
status and the code of :data:`HTTP_CODES`. Bodies are refused by their headers before a byte is
read (:func:`check_body_headers`). Routes are in :func:`mixserver.app.make_app`; the protocol is
in ``docs/protocol.md``.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import tornado.httputil
import tornado.web
from tornado.ioloop import IOLoop

from crypto.errors import MalformedInput, MixvoteError, UnknownElection, medium_of
from webui import strictjson

#: Body limit of every request unless its handler raises it (websocket upgrades, unknown routes).
DEFAULT_BODY_LIMIT = 64 << 10
#: Body limits per route (bytes): admin JSON is small; a ballot is a few KiB per column.
ADMIN_BODY_LIMIT = 64 << 10
BALLOT_BODY_BASE = 2 << 10
BALLOT_BODY_PER_COLUMN = 4 << 10
FORM_BODY_LIMIT = 64 << 10

#: The wire code of a refusal by the HTTP layer itself (no route, wrong method, no credential,
#: body too large or of the wrong type), which is not an error of the project: those map through
#: :func:`crypto.errors.medium_of` alone.
HTTP_CODES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    411: "length-required",
    413: "payload-too-large",
    415: "unsupported-media-type",
}


#: An uploaded credential list: about 70 bytes of JSON per credential, up to 1,000,000.
CREDENTIALS_BODY_LIMIT = 80 << 20


def ballot_body_limit(width: int) -> int:
    """Body limit of a ballot POST for an election of ``width`` columns."""
    return BALLOT_BODY_BASE + BALLOT_BODY_PER_COLUMN * max(1, min(int(width), 64))


@tornado.web.stream_request_body
class ApiHandler(tornado.web.RequestHandler):
    """Base of the JSON API: maps the error hierarchy to HTTP statuses in one place.

    Bodies are streamed, so that :meth:`prepare` can refuse a request by its headers before a
    byte of its body is read: the admin token (401), the route's body limit (413, by
    Content-Length; a chunked body is cut by tornado at the same limit) and the content type of
    JSON bodies (415).
    """

    executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="api")
    #: Methods that need the admin token.
    admin_methods: ClassVar[frozenset[str]] = frozenset()
    #: Methods whose body is JSON (any other method takes no body).
    json_methods: ClassVar[frozenset[str]] = frozenset()

    def initialize(self, services: Any) -> None:
        self.services = services
        self._chunks: list[bytes] = []

    def check_xsrf_cookie(self) -> None:
        pass  # token-authenticated JSON API, no cookies

    def body_limit(self) -> int:
        """The largest body this request may have (bytes); routes with a body override it."""
        return ADMIN_BODY_LIMIT if self.request.method in self.json_methods else 0

    def prepare(self) -> None:
        if self.request.method in self.admin_methods:
            self.require_admin()
        limit = self.body_limit()
        check_body_headers(self.request, limit)
        has_body = _declared_length(self.request) != 0
        if has_body and self.request.method in self.json_methods:
            ctype = self.request.headers.get("Content-Type")
            if not strictjson.is_json_content_type(ctype):
                raise tornado.web.HTTPError(
                    415, reason="send the body as Content-Type: application/json; charset=utf-8"
                )

    def data_received(self, chunk: bytes) -> None:
        self._chunks.append(chunk)

    def json_body(self, default: Any = None) -> Any:
        """The body parsed strictly (:mod:`webui.strictjson`); ``default`` when it is empty."""
        body = b"".join(self._chunks)
        if not body:
            return {} if default is None else default
        return strictjson.loads(body)

    def json_object(
        self, allowed: set[str], required: frozenset[str] | set[str] = frozenset()
    ) -> dict[str, Any]:
        """The body as a JSON object with only ``allowed`` keys and all ``required`` ones."""
        body = self.json_body()
        if not isinstance(body, dict):
            raise MalformedInput(f"expected a JSON object, got {type(body).__name__}")
        if set(body) - allowed:
            raise MalformedInput(f"unknown fields {sorted(set(body) - allowed)[:10]}")
        if required - set(body):
            raise MalformedInput(f"missing fields {sorted(required - set(body))}")
        return body

    def require_admin(self) -> None:
        header = self.request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or not self.services.check_admin_token(header[7:]):
            raise tornado.web.HTTPError(401, reason="admin token required")

    async def call(self, fn: Any, *args: Any) -> None:
        result = await IOLoop.current().run_in_executor(self.executor, fn, *args)
        self.write_json(result)

    def write_json(self, value: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(value))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, MixvoteError):
            message, code = str(exc), medium_of(exc).ws_code
        else:
            # tornado puts a reason with characters outside the status-line grammar aside
            # ("Unknown"); the JSON body carries it whole.
            message = getattr(exc, "reason", None) or self._reason
            code = HTTP_CODES.get(status_code, "internal-error" if status_code >= 500 else "http")
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": message, "code": code}))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, MixvoteError):
            return
        super().log_exception(typ, value, tb)

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, MixvoteError):
            status = medium_of(e).http_status
            self.send_error(status, exc_info=(type(e), e, e.__traceback__))
            return
        super()._handle_request_exception(e)


def _declared_length(request: tornado.httputil.HTTPServerRequest) -> int | None:
    """The Content-Length (0 if absent), or None for a chunked body of unknown length."""
    if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        return None
    raw = request.headers.get("Content-Length", "0").strip() or "0"
    return int(raw) if raw.isdigit() else 0  # tornado refused a malformed one already


def check_body_headers(request: tornado.httputil.HTTPServerRequest, limit: int) -> None:
    """Refuse a body larger than ``limit`` by its Content-Length (413) before reading it, and cap
    the connection at ``limit`` so that a chunked body is cut there too."""
    length = _declared_length(request)
    if length is not None and length > limit:
        raise tornado.web.HTTPError(
            413, reason=f"request body too large: at most {limit} bytes on this route"
        )
    connection = request.connection
    if connection is not None and hasattr(connection, "set_max_body_size"):
        connection.set_max_body_size(limit)


_DIGITS = re.compile(r"[0-9]{1,9}")


def _int_field(body: dict[str, Any], name: str, default: int | None) -> int | None:
    value = body.get(name, default)
    if value is None or value is default:
        return value
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MalformedInput(f"{name}: a non-negative integer")
    return value


class ElectionsApi(ApiHandler):
    admin_methods = frozenset({"POST"})
    json_methods = frozenset({"POST"})
    FIELDS: ClassVar[set[str]] = {
        "title", "question", "choices", "group", "n", "t", "voters", "width", "policy", "test",
        "tally",
    }

    async def get(self) -> None:
        await self.call(self.services.list_elections)

    async def post(self) -> None:
        body = self.json_object(self.FIELDS, {"title", "question", "choices"})
        result = await IOLoop.current().run_in_executor(
            self.executor, lambda: self.services.create_election(**body)
        )
        self.write_json(result, 201)


class ElectionApi(ApiHandler):
    async def get(self, eid: str) -> None:
        await self.call(self.services.get_election, eid)


class ActionApi(ApiHandler):
    admin_methods = frozenset({"POST"})
    json_methods = frozenset({"POST"})
    ACTIONS: ClassVar[dict[str, str]] = {
        "open": "open_voting",
        "close": "close_voting",
        "mix": "start_mixing",
        "publish": "publish",
        "enrol": "enrol_node",
        "test-ballots": "generate_test_ballots",
    }

    def body_limit(self) -> int:
        return 4 << 10

    async def post(self, eid: str, action: str) -> None:
        if action not in self.ACTIONS:
            raise tornado.web.HTTPError(404, reason=f"unknown action {action}")
        fn = getattr(self.services, self.ACTIONS[action])
        if action == "enrol":
            body = self.json_object({"public_key", "position"})
            key = body.get("public_key")
            if key is not None and not isinstance(key, str):
                raise MalformedInput("public_key: a hex string")
            await self.call(fn, eid, key, _int_field(body, "position", None))
        elif action == "test-ballots":
            body = self.json_object({"count"})
            await self.call(fn, eid, _int_field(body, "count", 0))
        else:
            self.json_object(set())
            await self.call(fn, eid)


class CredentialsApi(ApiHandler):
    """``POST``: upload the authority-signed public credential list of a normal election (the
    body is ``public-credentials.json``); ``GET``: a test election's credentials (the server is
    its authority). Both admin only."""

    admin_methods = frozenset({"GET", "POST"})
    json_methods = frozenset({"POST"})

    def body_limit(self) -> int:
        return CREDENTIALS_BODY_LIMIT if self.request.method == "POST" else 0

    async def get(self, eid: str) -> None:
        creds = await IOLoop.current().run_in_executor(
            self.executor, self.services.voter_credentials, eid
        )
        self.write_json({"election": eid, "credentials": creds})

    async def post(self, eid: str) -> None:
        body = self.json_body()
        await self.call(self.services.upload_credentials, eid, body)


class BallotsApi(ApiHandler):
    """A voter-signed ballot; no Authorization header (the signature is the authorisation)."""

    json_methods = frozenset({"POST"})

    def body_limit(self) -> int:
        eid = self.path_args[0] if self.path_args else ""
        got = self.services.db.election(eid)
        if got is None:
            raise UnknownElection(f"unknown election {eid[:40]!r}")
        return ballot_body_limit(got[0].get("width", 1))

    async def post(self, eid: str) -> None:
        body = self.json_body()
        result = await IOLoop.current().run_in_executor(
            self.executor, self.services.cast_ballot, eid, body
        )
        self.write_json(result, 201)


class BoardApi(ApiHandler):
    def _query_int(self, name: str, default: int) -> int:
        raw = self.get_argument(name, "")
        if raw == "":
            return default
        if not _DIGITS.fullmatch(raw):
            raise MalformedInput(
                f"{name}: a non-negative integer of at most 9 digits, got {raw[:20]!r}"
            )
        return int(raw)

    async def get(self, eid: str) -> None:
        offset = self._query_int("offset", 0)
        limit = self._query_int("limit", 100)
        await self.call(self.services.board, eid, offset, limit)


class ReceiptApi(ApiHandler):
    async def get(self, eid: str, tracker: str) -> None:
        found = await IOLoop.current().run_in_executor(
            self.executor, self.services.find_receipt, eid, tracker
        )
        if found is None:
            raise tornado.web.HTTPError(404, reason="no ballot with this tracker")
        self.write_json(found)


class ResultsApi(ApiHandler):
    async def get(self, eid: str) -> None:
        found = await IOLoop.current().run_in_executor(self.executor, self.services.results, eid)
        if found is None:
            raise tornado.web.HTTPError(404, reason="not tallied yet")
        self.write_json(found)


class StatusApi(ApiHandler):
    async def get(self, eid: str) -> None:
        await self.call(self.services.status, eid)


class ApiNotFound(ApiHandler):
    """Any other path under ``/api/``: a JSON 404 whatever the method (not the web UI's CSRF
    check, which would answer a POST first)."""

    def prepare(self) -> None:
        raise tornado.web.HTTPError(404, reason=f"unknown API path {self.request.path[:80]}")

