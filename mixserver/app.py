"""The Tornado application: node and status websockets, the HTTP JSON API, the Flask UI.

One process, one port. :func:`make_app` is the app factory; handlers get their dependencies (the
services object, the coordinator class) through ``initialize()``. The Flask app from ``webui``
runs inside ``tornado.wsgi.WSGIContainer`` with a thread-pool executor (so a Flask view never
blocks the IOLoop) behind a catch-all ``FallbackHandler``. Errors from the project hierarchy are
mapped to the medium once per adapter: :meth:`NodeSocket.reply_error` (websocket error message)
and :meth:`ApiHandler.write_error` (JSON + HTTP status).
"""

from __future__ import annotations

import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import tornado.web
import tornado.websocket
from tornado.ioloop import IOLoop
from tornado.wsgi import WSGIContainer

from crypto.errors import (
    InvalidElement,
    InvalidProof,
    MalformedInput,
    MixvoteError,
    ProtocolViolation,
)
from crypto.protocol.sessions import Enrolment, NodeSession
from crypto.protocol.wire import (
    MAX_FRAME,
    NODE_KINDS,
    Message,
    Reassembler,
    decode_frame,
    sign_message,
    split_frame,
)
from mixserver.coordinator import Coordinator, error_code

log = logging.getLogger("mixserver.app")


class NodeSocket(tornado.websocket.WebSocketHandler):
    """``/ws/node``: a mix node's connection. Thin adapter over
    :class:`crypto.protocol.sessions.NodeSession`."""

    def initialize(self, services: Any, coordinator: type[Coordinator]) -> None:
        self.services = services
        self.coordinator = coordinator
        self.session = NodeSession(os.urandom(32))
        self.reassembler = Reassembler()
        self.seq = 0
        self.position: int | None = None
        self.eid: str | None = None
        self.errors = 0

    def check_origin(self, origin: str) -> bool:
        # Nodes are not browsers; they authenticate by signature, so any origin may connect.
        return True

    def open(self, *args: str) -> None:
        self.send_message(
            Message(
                "challenge",
                "",
                {"nonce": self.session.nonce, "server_key": self.services.db.server_public},
            )
        )

    def send_message(self, msg: Message) -> None:
        """Sign with the server key and send, in chunks if large."""
        db = self.services.db
        self.seq += 1
        stamped = Message(msg.kind, msg.election_id, msg.fields, self.session.nonce, self.seq)
        _body, frame = sign_message(stamped, db.server_key.sign, db.server_public)
        try:
            for part in split_frame(frame):
                self.write_message(part, binary=True)
        except tornado.websocket.WebSocketClosedError:
            pass

    def close_link(self, reason: str) -> None:
        self.close(4000, reason[:120])

    def reply_error(self, exc: BaseException, ref: int = 0) -> None:
        """The one place where errors become websocket messages; nothing was stored."""
        self.errors += 1
        reason = str(exc) if isinstance(exc, MixvoteError) else "internal error"
        if not isinstance(exc, MixvoteError):
            log.exception("node message handling failed", exc_info=exc)
        self.send_message(
            Message(
                "error",
                self.eid or "",
                {"code": error_code(exc), "reason": reason[:4000], "ref": ref},
            )
        )
        if self.errors > 50:
            self.close(4002, "too many errors")

    def on_message(self, message: str | bytes) -> None:
        if isinstance(message, str):
            self.reply_error(MalformedInput("frame: text frames are not accepted, send binary"))
            return
        try:
            frame = self.reassembler.feed(message)
            if frame is None:
                return
            signed = decode_frame(frame, NODE_KINDS)
        except MixvoteError as exc:
            self.reply_error(exc)
            return
        ref = signed.message.seq
        try:
            if not self.session.authenticated:
                self.authenticate(signed)
                return
            msg = self.session.accept(signed)
            assert self.eid is not None and self.position is not None
            note = self.coordinator.on_node_message(self.eid, self.position, signed)
            if msg.kind != "progress":
                self.send_message(Message("ack", self.eid, {"ref": ref, "note": note}))
        except Exception as exc:
            self.reply_error(exc, ref)

    def authenticate(self, signed: Any) -> None:
        msg = signed.message
        if msg.kind != "auth":
            raise ProtocolViolation(f"{msg.kind}: not authenticated (send auth first)")
        db = self.services.db
        eids = [msg.election_id] if msg.election_id else list(reversed(db.election_ids()))
        enrolments = []
        for eid in eids:
            got = db.election(eid)
            if got is None or got[1] == "tallied":
                continue
            for position, key, token in db.nodes(eid):
                if key == msg["public_key"] or (key is None and token and token == msg["token"]):
                    enrolments.append(Enrolment(msg.election_id, position, key, token))
                    break
            if enrolments:
                self.eid = eid
                break
        if not enrolments:
            raise ProtocolViolation("auth: this key is not enrolled in any open election")
        match = self.session.authenticate(signed, enrolments)
        self.session.election_id = self.eid
        assert self.eid is not None
        if match.token is None and enrolments[0].public_key is None:
            self.services.record_node_key(self.eid, match.position, match.public_key)
        self.position = match.position
        self.coordinator.register(self.eid, match.position, self)

    def on_close(self) -> None:
        if self.eid is not None and self.position is not None:
            self.coordinator.unregister(self.eid, self.position, self)


class StatusSocket(tornado.websocket.WebSocketHandler):
    """``/ws/status/<eid>``: pushes the election's live status as JSON to browsers."""

    def initialize(self, services: Any, coordinator: type[Coordinator]) -> None:
        self.services = services
        self.coordinator = coordinator
        self.eid = ""

    def check_origin(self, origin: str) -> bool:
        # Read-only public information, the same as the public board: any origin may watch.
        return True

    def open(self, eid: str) -> None:
        self.eid = eid
        try:
            self.push(self.services.status(eid))
        except MixvoteError as exc:
            self.write_message(json.dumps({"error": str(exc)}))
            self.close(4004, "unknown election")
            return
        self.coordinator.add_listener(eid, self.push)

    def push(self, status: dict[str, Any]) -> None:
        self.write_message(json.dumps(status))

    def on_message(self, message: str | bytes) -> None:
        pass  # browsers only listen

    def on_close(self) -> None:
        self.coordinator.remove_listener(self.eid, self.push)


class ApiHandler(tornado.web.RequestHandler):
    """Base of the JSON API: maps the error hierarchy to HTTP statuses in one place."""

    executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="api")

    def initialize(self, services: Any) -> None:
        self.services = services

    def check_xsrf_cookie(self) -> None:
        pass  # token-authenticated JSON API, no cookies

    def json_body(self) -> Any:
        try:
            return json.loads(self.request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise MalformedInput("request body is not valid JSON") from None

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
        exc = kwargs.get("exc_info", (None, None))[1]
        message = self._reason
        if isinstance(exc, MixvoteError):
            message = str(exc)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": message, "code": error_code(exc) if exc else "http"}))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, MixvoteError):
            return
        super().log_exception(typ, value, tb)

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, MixvoteError):
            status = 403 if isinstance(e, ProtocolViolation) else 400
            if isinstance(e, (InvalidProof, InvalidElement)):
                status = 422
            if isinstance(e, ProtocolViolation) and str(e).startswith("unknown election"):
                status = 404
            self.send_error(status, exc_info=(type(e), e, e.__traceback__))
            return
        super()._handle_request_exception(e)


class ElectionsApi(ApiHandler):
    async def get(self) -> None:
        await self.call(self.services.list_elections)

    async def post(self) -> None:
        self.require_admin()
        body = self.json_body()
        if not isinstance(body, dict):
            raise MalformedInput("expected a JSON object")
        allowed = {"title", "question", "choices", "group", "n", "t", "voters", "width", "policy"}
        if set(body) - allowed:
            raise MalformedInput(f"unknown fields {sorted(set(body) - allowed)}")
        result = await IOLoop.current().run_in_executor(
            self.executor, lambda: self.services.create_election(**body)
        )
        self.write_json(result, 201)


class ElectionApi(ApiHandler):
    async def get(self, eid: str) -> None:
        await self.call(self.services.get_election, eid)


class ActionApi(ApiHandler):
    ACTIONS: ClassVar[dict[str, str]] = {
        "open": "open_voting",
        "close": "close_voting",
        "mix": "start_mixing",
        "publish": "publish",
        "enrol": "enrol_node",
        "credentials": "voter_credentials",
        "test-ballots": "generate_test_ballots",
    }

    async def post(self, eid: str, action: str) -> None:
        self.require_admin()
        if action not in self.ACTIONS:
            raise tornado.web.HTTPError(404, reason=f"unknown action {action}")
        fn = getattr(self.services, self.ACTIONS[action])
        body = self.json_body() if self.request.body else {}
        if action == "enrol":
            await self.call(fn, eid, body.get("public_key"), body.get("position"))
        elif action == "test-ballots":
            await self.call(fn, eid, body.get("count", 0))
        else:
            await self.call(fn, eid)


class BallotsApi(ApiHandler):
    async def post(self, eid: str) -> None:
        header = self.request.headers.get("Authorization", "")
        if not header.startswith("Voter "):
            raise ProtocolViolation("credential: send 'Authorization: Voter <secret>'")
        body = self.json_body()
        result = await IOLoop.current().run_in_executor(
            self.executor, self.services.cast_ballot, eid, header[6:].strip(), body
        )
        self.write_json(result, 201)


class VoterApi(ApiHandler):
    async def get(self, eid: str) -> None:
        header = self.request.headers.get("Authorization", "")
        await self.call(
            self.services.voter_session,
            eid,
            header[6:].strip() if header.startswith("Voter ") else None,
        )


class BoardApi(ApiHandler):
    async def get(self, eid: str) -> None:
        offset = int(self.get_argument("offset", "0") or 0)
        limit = int(self.get_argument("limit", "100") or 100)
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


def build_flask(services: Any) -> Any:
    """The web UI (``webui``), with its session key kept in the data directory."""
    from mixserver.services import load_or_create_secret
    from webui import create_app

    secret = load_or_create_secret(services.data_dir, "webui_secret")
    return create_app(config={"SECRET_KEY": secret}, services=services)


def make_app(
    services: Any, coordinator: type[Coordinator] = Coordinator, with_webui: bool = True
) -> tornado.web.Application:
    """The app factory: websocket endpoints, the JSON API, then the Flask UI as fallback."""
    deps = {"services": services, "coordinator": coordinator}
    api = {"services": services}
    eid = r"([A-Za-z0-9_-]{1,64})"
    handlers: list[Any] = [
        (r"/ws/node", NodeSocket, deps),
        (rf"/ws/status/{eid}", StatusSocket, deps),
        (r"/api/elections", ElectionsApi, api),
        (rf"/api/elections/{eid}", ElectionApi, api),
        (rf"/api/elections/{eid}/ballots", BallotsApi, api),
        (rf"/api/elections/{eid}/voter", VoterApi, api),
        (rf"/api/elections/{eid}/board", BoardApi, api),
        (rf"/api/elections/{eid}/receipts/([0-9a-fA-F]{{1,64}})", ReceiptApi, api),
        (rf"/api/elections/{eid}/results", ResultsApi, api),
        (rf"/api/elections/{eid}/status", StatusApi, api),
        (
            rf"/api/elections/{eid}/(open|close|mix|publish|enrol|credentials|test-ballots)",
            ActionApi,
            api,
        ),
    ]
    if with_webui:
        flask_app = build_flask(services)
        container = WSGIContainer(
            flask_app, executor=ThreadPoolExecutor(max_workers=4, thread_name_prefix="wsgi")
        )
        handlers.append((r".*", tornado.web.FallbackHandler, {"fallback": container}))
    return tornado.web.Application(
        handlers,
        websocket_max_message_size=MAX_FRAME,
        websocket_ping_interval=20,
        websocket_ping_timeout=60,
    )
