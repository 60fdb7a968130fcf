"""The node websocket before and after authentication, in process (issue 13).

A real :func:`mixserver.app.make_app` with shrunken :class:`mixserver.app.NodeLimits` and a small
recording coordinator, driven by tornado's websocket client on loopback: the pre-authentication
time-out, the small-frame limit, no chunked transfer before authentication, the issue's
small-order-key forgery, and reassembly after authentication only up to the size the job allows.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, ClassVar

from tornado.testing import AsyncHTTPTestCase, gen_test
from tornado.websocket import WebSocketClientConnection, websocket_connect

from crypto.protocol.wire import (
    SERVER_KINDS,
    Message,
    Reassembler,
    decode_frame,
    encode_body,
    encode_frame,
    sign_message,
    split_frame,
)
from crypto.transport import NodeIdentity
from mixserver.app import POSTAUTH_MESSAGE, PREAUTH_FRAME, NodeLimits, make_app
from mixserver.services import ElectionServices


class Recorder:
    """The coordinator's node-facing classmethods, recording what the socket hands over."""

    links: ClassVar[dict[int, Any]] = {}
    messages: ClassVar[list[str]] = []

    @classmethod
    def register(cls, eid: str, position: int, link: Any) -> None:
        cls.links[position] = link

    @classmethod
    def unregister(cls, eid: str, position: int, link: Any) -> None:
        cls.links.pop(position, None)

    @classmethod
    def on_node_message(cls, eid: str, position: int, signed: Any) -> str:
        cls.messages.append(signed.message.kind)
        return "recorded"


#: the fields a node message for the record ends with (the fake coordinator checks none of them)
BOUND = {"fingerprint": bytes(32), "seen_size": 0, "seen_head": bytes(32)}


class NodeSocketCase(AsyncHTTPTestCase):
    def get_app(self) -> Any:
        self._tmp = tempfile.TemporaryDirectory()
        self.services = ElectionServices(Path(self._tmp.name) / "data")
        made = self.services.create_election(title="T", question="Q", choices=["a", "b"], n=2,
                                             t=1)
        self.eid = made["id"]
        self.identity = NodeIdentity.generate()
        self.services.enrol_node(self.eid, self.identity.public_bytes().hex(), 1)
        self.token = self.services.enrol_node(self.eid, None, 2)["token"]
        Recorder.links.clear()
        Recorder.messages.clear()
        limits = NodeLimits(preauth_timeout=0.5, preauth_cap=4)
        return make_app(self.services, Recorder, with_webui=False, node_limits=limits)  # type: ignore[arg-type]

    def tearDown(self) -> None:
        super().tearDown()
        self.services.db.close()
        self._tmp.cleanup()

    async def connect(self) -> tuple[WebSocketClientConnection, bytes]:
        ws = await websocket_connect(self.get_url("/ws/node").replace("http", "ws"))
        frame = await ws.read_message()
        assert isinstance(frame, bytes)
        challenge = decode_frame(frame, SERVER_KINDS).message
        return ws, challenge["nonce"]

    async def reply(self, ws: WebSocketClientConnection) -> Message:
        reassembler = Reassembler()
        while True:
            frame = await ws.read_message()
            assert isinstance(frame, bytes), f"closed: {ws.close_code} {ws.close_reason}"
            whole = reassembler.feed(frame)
            if whole is not None:
                return decode_frame(whole, SERVER_KINDS).message

    def frame(self, kind: str, fields: dict[str, Any], nonce: bytes, seq: int) -> bytes:
        msg = Message(kind, self.eid, fields, nonce, seq)
        return sign_message(msg, self.identity.sign, self.identity.public.signing_key)[1]

    async def authenticate(self) -> tuple[WebSocketClientConnection, bytes]:
        ws, nonce = await self.connect()
        auth = {"public_key": self.identity.public_bytes(), "token": "", "nonce": nonce}
        await ws.write_message(self.frame("auth", auth, nonce, 1), binary=True)
        # auth itself is not acknowledged; a message only an authenticated node may send is
        failed = {"job": "none", "reason": "probe", **BOUND}
        await ws.write_message(self.frame("job.failed", failed, nonce, 2), binary=True)
        reply = await self.reply(ws)
        assert reply.kind == "ack" and Recorder.messages == ["job.failed"], reply
        Recorder.messages.clear()
        return ws, nonce

    @gen_test(timeout=10)
    async def test_idle_unauthenticated_connection_is_closed_after_the_timeout(self) -> None:
        ws, _ = await self.connect()
        assert await ws.read_message() is None  # closed by the server
        assert ws.close_code == 4001 and "time-out" in (ws.close_reason or "")

    @gen_test(timeout=10)
    async def test_authenticated_connection_outlives_the_timeout(self) -> None:
        ws, nonce = await self.authenticate()
        await self.io_loop.run_in_executor(None, __import__("time").sleep, 0.8)
        progress = {"job": "j", "stage": "s", "done": 0, "total": 1}
        await ws.write_message(self.frame("progress", progress, nonce, 3), binary=True)
        failed = {"job": "none", "reason": "still here", **BOUND}
        await ws.write_message(self.frame("job.failed", failed, nonce, 4), binary=True)
        reply = await self.reply(ws)
        assert reply.kind == "ack" and Recorder.messages == ["progress", "job.failed"]
        ws.close()

    @gen_test(timeout=10)
    async def test_a_large_frame_before_authentication_closes_the_socket(self) -> None:
        ws, _ = await self.connect()
        await ws.write_message(b"\x00" * (PREAUTH_FRAME + 1), binary=True)
        assert await ws.read_message() is None
        assert ws.close_code == 1009

    @gen_test(timeout=10)
    async def test_no_chunked_transfer_before_authentication(self) -> None:
        ws, nonce = await self.connect()
        big = self.frame("auth", {"public_key": b"\x00" * 64, "token": "x" * 200,
                                  "nonce": nonce}, nonce, 1)
        first = split_frame(big, chunk_size=64)[0]
        await ws.write_message(first, binary=True)
        assert await ws.read_message() is None
        assert ws.close_code == 1008

    @gen_test(timeout=10)
    async def test_small_order_key_forgery_does_not_authenticate(self) -> None:
        ws, nonce = await self.connect()
        identity = b"\x01" + bytes(31)
        msg = Message("auth", self.eid, {"public_key": identity + bytes(32), "token": self.token,
                                         "nonce": nonce}, nonce, 1)
        await ws.write_message(encode_frame(encode_body(msg), identity, b"\x01" + bytes(63)),
                               binary=True)
        reply = await self.reply(ws)
        assert reply.kind == "error" and "small-order" in reply["reason"], reply
        done = Message("dkg.done", self.eid, {"public_key": b"\x02" * 33}, nonce, 2)
        await ws.write_message(encode_frame(encode_body(done), identity, b"\x01" + bytes(63)),
                               binary=True)
        reply = await self.reply(ws)
        assert reply.kind == "error" and Recorder.messages == [] and Recorder.links == {}
        assert self.services.db.nodes(self.eid)[1][1] is None  # the token's key is not bound

    @gen_test(timeout=20)
    async def test_reassembly_after_authentication_is_bounded_by_the_job(self) -> None:
        ws, nonce = await self.authenticate()
        size = POSTAUTH_MESSAGE + (1 << 20)
        result = {"job": "j1", "input_digest": bytes(32), "outputs": bytes(size), "proof": [],
                  **BOUND}
        parts = split_frame(self.frame("mix.result", result, nonce, 3))
        for part in parts:
            await ws.write_message(part, binary=True)
        for _ in parts:  # every chunk of the transfer is refused, each with its error
            reply = await self.reply(ws)
            assert reply.kind == "error" and "at most" in reply["reason"], reply
        assert Recorder.messages == []
        # the coordinator hands the node a job: the reply it may send grows accordingly
        link = Recorder.links[1]
        link.send_message(Message("mix.request", self.eid, {
            "job": "j1", "sid": "s", "group": "secp256k1", "public_key": b"\x02" * 33,
            "width": 1, "count": 1, "ciphertexts": bytes(size // 6),
            "fingerprint": bytes(32)}))
        request = await self.reply(ws)
        assert request.kind == "mix.request", request
        for part in split_frame(self.frame("mix.result", result, nonce, 4)):
            await ws.write_message(part, binary=True)
        reply = await self.reply(ws)
        assert reply.kind == "ack" and Recorder.messages == ["mix.result"], reply
        ws.close()
