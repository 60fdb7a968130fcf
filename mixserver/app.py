"""The Tornado application: node and status websockets, the HTTP JSON API, the Flask UI.

One process, one port. :func:`make_app` is the app factory; handlers get their dependencies (the
services object, the coordinator class) through ``initialize()``. The JSON API's handlers are in
:mod:`mixserver.api`. The Flask app from ``webui`` runs inside ``tornado.wsgi.WSGIContainer``
with a thread-pool executor (so a Flask view never blocks the IOLoop) behind a catch-all
``FallbackHandler``. Errors from the project hierarchy are mapped to the medium once per adapter,
by :func:`crypto.errors.medium_of`: :meth:`NodeSocket.reply_error` (websocket error message),
:meth:`mixserver.api.ApiHandler.write_error` (JSON + HTTP status) and ``webui/errors.py``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import tornado.httputil
import tornado.web
import tornado.websocket
from tornado.ioloop import IOLoop
from tornado.wsgi import WSGIContainer

from crypto.errors import (
    MalformedInput,
    MixvoteError,
    ProtocolViolation,
    medium_of,
)
from crypto.protocol.sessions import Enrolment, NodeSession
from crypto.protocol.wire import (
    CHUNK_MAGIC,
    MAX_FRAME,
    NODE_KINDS,
    Message,
    Reassembler,
    decode_frame,
    sign_message,
    split_frame,
)
from crypto.transport import PublicIdentity
from mixserver.api import (
    DEFAULT_BODY_LIMIT,
    FORM_BODY_LIMIT,
    ActionApi,
    ApiNotFound,
    BallotsApi,
    BoardApi,
    CredentialsApi,
    ElectionApi,
    ElectionsApi,
    ReceiptApi,
    ResultsApi,
    StatusApi,
    ballot_body_limit,
    check_body_headers,
)
from mixserver.coordinator import Coordinator

log = logging.getLogger("mixserver.app")

#: Frames larger than this are decoded and their signature checked in an executor thread, not on
#: the IOLoop (hashing 30 MB for Ed25519 takes tens of milliseconds).
OFFLOOP_FRAME = 256 << 10
#: Largest websocket frame a node may send before it has authenticated (an auth frame is < 1 KiB).
PREAUTH_FRAME = 16 << 10
#: Seconds a node connection may stay unauthenticated before it is closed.
PREAUTH_TIMEOUT = 10.0
#: Unauthenticated node connections held at once; the next one is closed at once.
PREAUTH_CAP = 64
#: Largest reassembled message of an authenticated node with no job: a DKG message (4 MiB of data).
POSTAUTH_MESSAGE = (4 << 20) + (64 << 10)
def reply_size_limit(request: Message) -> int | None:
    """The largest reply a node may send to ``request`` (None if it asks for no large reply).

    A hop's result holds as many ciphertext bytes as its input plus a shuffle proof of about four
    group elements and two scalars per row (a 100,000-row width-1 hop: 6.6 MB in, about 30 MB
    back); a decryption share holds a partial decryption and a Chaum–Pedersen proof per
    ciphertext component. Six times the input plus 4 MiB covers both on every group with a
    margin, and keeps a node from making the server buffer more.
    """
    if request.kind in ("mix.request", "decrypt.request"):
        return 6 * len(request["ciphertexts"]) + (4 << 20)
    return None


@dataclass
class NodeLimits:
    """Resource bounds of the node websocket, with the set of unauthenticated connections
    (touched on the IOLoop thread only)."""

    preauth_frame: int = PREAUTH_FRAME
    preauth_timeout: float = PREAUTH_TIMEOUT
    preauth_cap: int = PREAUTH_CAP
    postauth_message: int = POSTAUTH_MESSAGE
    pending: set[Any] = field(default_factory=set)


class NodeSocket(tornado.websocket.WebSocketHandler):
    """``/ws/node``: a mix node's connection. Thin adapter over
    :class:`crypto.protocol.sessions.NodeSession`."""

    def initialize(
        self, services: Any, coordinator: type[Coordinator], limits: NodeLimits | None = None
    ) -> None:
        self.services = services
        self.coordinator = coordinator
        self.limits = limits or NodeLimits()
        self.session = NodeSession(os.urandom(32))
        # Before authentication nothing is reassembled: every frame must be small and whole.
        self.reassembler = Reassembler(
            max_message=self.limits.preauth_frame, max_frame=self.limits.preauth_frame
        )
        self.seq = 0
        #: the last large send still being signed in an executor: later sends wait for it, so
        #: frames leave in sequence-number order
        self._sending: asyncio.Future[None] | None = None
        self.position: int | None = None
        self.eid: str | None = None
        self.errors = 0
        self._preauth_timer: Any = None

    def check_origin(self, origin: str) -> bool:
        # Nodes are not browsers; they authenticate by signature, so any origin may connect.
        return True

    @property
    def max_message_size(self) -> int:
        # Read by tornado when the connection is made: the pre-authentication frame limit, so a
        # larger frame is refused (close 1009) from its header, before its payload is read.
        return self.limits.preauth_frame

    def open(self, *args: str) -> None:
        pending = self.limits.pending
        if len(pending) >= self.limits.preauth_cap:
            self.close(1013, "too many unauthenticated connections, try again later")
            return
        pending.add(self)
        self._preauth_timer = IOLoop.current().call_later(
            self.limits.preauth_timeout, self._preauth_expired
        )
        self.send_message(
            Message(
                "challenge",
                "",
                {"nonce": self.session.nonce, "server_key": self.services.db.server_public},
            )
        )

    def _preauth_expired(self) -> None:
        self._preauth_timer = None
        if not self.session.authenticated:
            self.close(4001, "authentication time-out")

    def _leave_pending(self) -> None:
        self.limits.pending.discard(self)
        if self._preauth_timer is not None:
            IOLoop.current().remove_timeout(self._preauth_timer)
            self._preauth_timer = None

    def expect_message(self, max_bytes: int) -> None:
        """Let this (authenticated) node send a reassembled message of up to ``max_bytes``: set
        when a job is assigned (:func:`reply_size_limit`); it only grows while jobs overlap."""
        if not self.session.authenticated:
            raise ProtocolViolation("expect_message: the node has not authenticated")
        self.reassembler.max_message = max(self.reassembler.max_message, int(max_bytes))

    def send_message(self, msg: Message) -> None:
        """Sign with the server key and send, in chunks if large. A job request raises the size
        of the reply this node may send (:meth:`expect_message`)."""
        limit = reply_size_limit(msg)
        if limit is not None and self.session.authenticated:
            self.expect_message(limit)
        db = self.services.db
        self.seq += 1
        stamped = Message(msg.kind, msg.election_id, msg.fields, self.session.nonce, self.seq)

        def sign() -> bytes:
            return sign_message(stamped, db.server_key.sign, db.server_public)[1]

        if self._sending is None and len(msg.fields.get("ciphertexts", b"")) <= OFFLOOP_FRAME:
            self._write_frame(sign())
            return
        # a job request carrying a large list: signed in an executor (hashing megabytes), and
        # every send after it queued behind it so the node sees sequence numbers in order
        previous = self._sending

        async def send_in_order() -> None:
            frame = await IOLoop.current().run_in_executor(None, sign)
            if previous is not None:
                await asyncio.wait([previous])  # its own failure is logged by its callback
            self._write_frame(frame)

        task = asyncio.ensure_future(send_in_order())
        self._sending = task

        def done(f: asyncio.Future[None]) -> None:
            if self._sending is task:
                self._sending = None
            if not f.cancelled() and f.exception() is not None:
                log.error("sending %s to a node failed", msg.kind, exc_info=f.exception())

        task.add_done_callback(done)

    def _write_frame(self, frame: bytes) -> None:
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
                {"code": medium_of(exc).ws_code, "reason": reason[:4000], "ref": ref},
            )
        )
        if self.errors > 50:
            self.close(4002, "too many errors")

    async def on_message(self, message: str | bytes) -> None:
        # a coroutine: tornado hands this connection its next message only when it returns, so
        # the session's sequence checks stay in order while a large frame is checked elsewhere
        if isinstance(message, str):
            self.reply_error(MalformedInput("frame: text frames are not accepted, send binary"))
            return
        if not self.session.authenticated and message.startswith(CHUNK_MAGIC):
            self.close(1008, "chunked messages only after authentication")
            return
        try:
            frame = self.reassembler.feed(message)
            if frame is None:
                return
            if len(frame) > OFFLOOP_FRAME:
                # a hop's result (tens of MB): its signature check and parse run off the loop
                signed = await IOLoop.current().run_in_executor(
                    None, decode_frame, frame, NODE_KINDS
                )
            else:
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
        # The key a node authenticates with must be a valid identity (strict Ed25519), checked
        # before the session is marked authenticated.
        PublicIdentity.from_bytes(bytes(msg["public_key"]))
        match = self.session.authenticate(signed, enrolments)
        self.session.election_id = self.eid
        assert self.eid is not None
        if match.token is None and enrolments[0].public_key is None:
            self.services.record_node_key(self.eid, match.position, match.public_key)
        self.position = match.position
        self._leave_pending()
        self.reassembler.max_frame = MAX_FRAME
        self.reassembler.max_message = self.limits.postauth_message
        params = getattr(self.ws_connection, "params", None)
        if params is not None:
            # tornado keeps the limit per connection; now a whole chunk frame may come.
            params.max_message_size = MAX_FRAME
        self.coordinator.register(self.eid, match.position, self)

    def on_close(self) -> None:
        self._leave_pending()
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

    @property
    def max_message_size(self) -> int:
        return 4 << 10  # browsers only listen; a larger frame closes the socket (1009)

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


class RecordZipHandler(tornado.web.RequestHandler):
    """``/elections/<eid>/record.zip``: the record zip, built once per chain head in an executor
    (:func:`mixserver.export.record_zip`) and streamed from its file in 64 KiB pieces, so
    neither the loop nor the WSGI container holds it in memory."""

    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zip")

    def initialize(self, services: Any) -> None:
        self.services = services

    async def get(self, eid: str) -> None:
        try:
            info = await IOLoop.current().run_in_executor(
                self.executor, self.services.record_zip, eid
            )
        except ProtocolViolation as exc:
            raise tornado.web.HTTPError(404, reason=str(exc)[:100]) from None
        etag = f'"{info["head"][:32]}"'
        self.set_header("Content-Type", "application/zip")
        self.set_header("Content-Disposition", f'attachment; filename="{eid}-record.zip"')
        self.set_header("Cache-Control", "no-cache")
        self.set_header("ETag", etag)
        if self.request.headers.get("If-None-Match") == etag:
            self.set_status(304)
            self.finish()
            return
        self.set_header("Content-Length", str(info["size"]))
        with open(info["path"], "rb") as f:
            while chunk := f.read(64 << 10):
                self.write(chunk)
                await self.flush()
        self.finish()


_CAST_PATH = re.compile(r"/vote/([A-Za-z0-9_-]{1,64})/cast")


@tornado.web.stream_request_body
class WebUiHandler(tornado.web.RequestHandler):
    """The catch-all in front of the Flask UI (``WSGIContainer``): like tornado's
    ``FallbackHandler``, but it streams the body under a per-route limit, refused by
    Content-Length before it is read, so the WSGI app never sees a body larger than its route
    allows."""

    def initialize(self, fallback: Any, services: Any) -> None:
        self.fallback = fallback
        self.services = services
        self._chunks: list[bytes] = []

    def check_xsrf_cookie(self) -> None:
        pass  # the Flask app checks its own CSRF token

    def body_limit(self) -> int:
        method, path = self.request.method or "GET", self.request.path
        if method in ("GET", "HEAD", "OPTIONS"):
            return 0
        match = _CAST_PATH.fullmatch(path)
        if match:
            got = self.services.db.election(match.group(1))
            return ballot_body_limit(got[0].get("width", 1) if got else 1)
        if path.startswith("/admin/"):
            return FORM_BODY_LIMIT
        return 4 << 10

    def prepare(self) -> None:
        check_body_headers(self.request, self.body_limit())

    def data_received(self, chunk: bytes) -> None:
        self._chunks.append(chunk)

    def _forward(self, *args: Any) -> None:
        self.request.body = b"".join(self._chunks)
        self.fallback(self.request)
        self._finished = True
        self.on_finish()

    get = post = put = delete = patch = head = options = _forward


class MixApplication(tornado.web.Application):
    """The Application, with a small default body limit on every request: a handler that takes a
    larger body raises it in its ``prepare()`` (see :func:`check_body_headers`), so no route
    reads more than it allows whatever ``max_body_size`` the HTTP server was given."""

    def start_request(
        self, server_conn: object, request_conn: tornado.httputil.HTTPConnection
    ) -> tornado.httputil.HTTPMessageDelegate:
        if hasattr(request_conn, "set_max_body_size"):
            request_conn.set_max_body_size(DEFAULT_BODY_LIMIT)
        return super().start_request(server_conn, request_conn)


def build_flask(services: Any) -> Any:
    """The web UI (``webui``), with its session key kept in the data directory."""
    from mixserver.services import load_or_create_secret
    from webui import create_app

    secret = load_or_create_secret(services.data_dir, "webui_secret")
    return create_app(config={"SECRET_KEY": secret}, services=services)


def make_app(
    services: Any,
    coordinator: type[Coordinator] = Coordinator,
    with_webui: bool = True,
    node_limits: NodeLimits | None = None,
) -> tornado.web.Application:
    """The app factory: websocket endpoints, the JSON API, then the Flask UI as fallback.
    ``node_limits`` bounds what an unauthenticated node connection may hold (tests shrink it)."""
    deps = {"services": services, "coordinator": coordinator}
    node_deps = {**deps, "limits": node_limits or NodeLimits()}
    api = {"services": services}
    eid = r"([A-Za-z0-9_-]{1,64})"
    handlers: list[Any] = [
        (r"/ws/node", NodeSocket, node_deps),
        (rf"/ws/status/{eid}", StatusSocket, deps),
        (r"/api/elections", ElectionsApi, api),
        (rf"/api/elections/{eid}", ElectionApi, api),
        (rf"/api/elections/{eid}/ballots", BallotsApi, api),
        (rf"/api/elections/{eid}/credentials", CredentialsApi, api),
        (rf"/api/elections/{eid}/board", BoardApi, api),
        (rf"/api/elections/{eid}/receipts/([0-9a-fA-F]{{1,64}})", ReceiptApi, api),
        (rf"/api/elections/{eid}/results", ResultsApi, api),
        (rf"/api/elections/{eid}/status", StatusApi, api),
        (
            rf"/api/elections/{eid}/(open|close|mix|publish|enrol|test-ballots)",
            ActionApi,
            api,
        ),
        (r"/api(?:/.*)?", ApiNotFound, api),
    ]
    if with_webui:
        flask_app = build_flask(services)
        container = WSGIContainer(
            flask_app, executor=ThreadPoolExecutor(max_workers=4, thread_name_prefix="wsgi")
        )
        handlers.append((rf"/elections/{eid}/record\.zip", RecordZipHandler, api))
        handlers.append((r".*", WebUiHandler, {"fallback": container, "services": services}))
    return MixApplication(
        handlers,
        websocket_max_message_size=MAX_FRAME,
        websocket_ping_interval=20,
        websocket_ping_timeout=60,
    )
