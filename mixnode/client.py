"""The websocket-client adapter around :class:`mixnode.protocol.NodeProtocol`.

Connects to the server's ``/ws/node``, feeds frames to the protocol, carries out its actions
(send frames, run heavy jobs in a process pool, save key shares with mode 0600), and reconnects
with exponential back-off after a network loss. A new connection gets a fresh protocol session;
key shares persist in the data directory.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import os
import sys
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import websocket
from tqdm import tqdm

from crypto.errors import MixvoteError
from crypto.io.pool import exit_with_parent
from crypto.transport import NodeIdentity
from mixnode.protocol import Job, NodeProtocol, Note, SaveKeyShare, Send, describe_error


def websocket_url(server: str) -> str:
    """``http://host:port`` (or ``ws://…``) → ``ws://host:port/ws/node``."""
    url = server.rstrip("/")
    for http, ws in (("https://", "wss://"), ("http://", "ws://")):
        if url.startswith(http):
            url = ws + url[len(http) :]
    if not url.startswith(("ws://", "wss://")):
        url = "ws://" + url
    if not url.endswith("/ws/node"):
        url += "/ws/node"
    return url


def write_private(path: Path, data: bytes) -> None:
    """Write a secret file with mode 0600 from creation."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)


class NodeClient:
    """Runs one node until stopped: connect, authenticate, serve, reconnect."""

    def __init__(
        self,
        server: str,
        identity: NodeIdentity,
        data_dir: Path,
        workers: int = 1,
        token: str = "",
        election_id: str = "",
        cheat: str | None = None,
        quiet: bool = False,
    ) -> None:
        self.url = websocket_url(server)
        self.identity = identity
        self.data_dir = data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)
        self.workers = workers
        self.token = token
        self.election_id = election_id
        self.cheat = cheat
        self.quiet = quiet
        self.stopping = threading.Event()
        self.lock = threading.RLock()
        self.ws: websocket.WebSocketApp | None = None
        self.protocol: NodeProtocol | None = None
        # workers >= 2: the crypto code spreads the work over its own process pool from a
        # thread; otherwise the whole job runs in a one-process pool. Either way the websocket
        # thread stays free to answer pings.
        self.executor = self._new_executor()

    def _new_executor(self) -> concurrent.futures.Executor:
        if self.workers >= 2:
            return concurrent.futures.ThreadPoolExecutor(1)
        return concurrent.futures.ProcessPoolExecutor(
            1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=exit_with_parent,
            initargs=(os.getpid(),),
        )

    def note(self, text: str) -> None:
        if not self.quiet:
            print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)

    def key_shares(self) -> dict[str, bytes]:
        return {
            p.name[len("keyshare-") : -len(".bin")]: p.read_bytes()
            for p in self.data_dir.glob("keyshare-*.bin")
        }

    # --- actions -----------------------------------------------------------------------------
    def perform(self, ws: Any, protocol: NodeProtocol, actions: list[Any]) -> None:
        for action in actions:
            if isinstance(action, Send):
                with self.lock:
                    if protocol is not self.protocol:
                        return  # the connection this reply belongs to is gone
                    for frame in action.frames:
                        ws.send(frame, opcode=websocket.ABNF.OPCODE_BINARY)
            elif isinstance(action, Job):
                future = self.executor.submit(action.fn, *action.args)
                future.add_done_callback(
                    lambda f, tag=action.tag: self.finished(ws, protocol, tag, f)
                )
                self.show_running(action.tag, future)
            elif isinstance(action, SaveKeyShare):
                name = "".join(c for c in action.election_id if c.isalnum())
                write_private(self.data_dir / f"keyshare-{name}.bin", action.data)
                self.note(f"key share saved in {self.data_dir}/keyshare-{name}.bin")
            elif isinstance(action, Note):
                self.note(action.text)

    def show_running(self, tag: str, future: concurrent.futures.Future[Any]) -> None:
        """On a terminal, a live line with the running job's elapsed time (a shuffle of 100,000
        ballots takes a while); the job itself reports no finer progress."""
        if self.quiet or not sys.stderr.isatty():
            return
        what = "shuffling and proving" if tag.startswith("mix") else "decrypting"

        def tick() -> None:
            with tqdm(
                desc=f"{what} ({tag})", bar_format="{desc}: {elapsed}", file=sys.stderr, leave=False
            ) as bar:
                while not future.done() and not self.stopping.is_set():
                    time.sleep(0.5)
                    bar.refresh()

        threading.Thread(target=tick, name=f"progress-{tag}", daemon=True).start()

    def finished(self, ws: Any, protocol: NodeProtocol, tag: str, future: Any) -> None:
        if future.cancelled():
            return
        exc = future.exception()
        if isinstance(exc, BrokenProcessPool):
            self.executor = self._new_executor()  # the worker died: later jobs get a fresh one
        with self.lock:
            try:
                if exc is not None:
                    actions = protocol.job_failed(tag, describe_error(exc))
                else:
                    actions = protocol.job_done(tag, future.result())
            except MixvoteError as exc2:
                self.note(f"job {tag}: {describe_error(exc2)}")
                return
        try:
            self.perform(ws, protocol, actions)
        except websocket.WebSocketException as exc:
            self.note(f"could not send the result of {tag}: {exc}")

    # --- websocket callbacks ------------------------------------------------------------------
    def on_open(self, ws: Any) -> None:
        self.note(f"connected to {self.url}")
        self.connected_once = True

    def on_message(self, ws: Any, message: Any) -> None:
        protocol = self.protocol
        if protocol is None:
            return
        if isinstance(message, str):
            message = message.encode()
        try:
            with self.lock:
                actions = protocol.receive(message)
        except MixvoteError as exc:
            self.note(f"bad message from the server: {describe_error(exc)}")
            return
        self.perform(ws, protocol, actions)

    def on_error(self, ws: Any, error: Any) -> None:
        if not isinstance(error, (KeyboardInterrupt, SystemExit)):
            self.note(f"connection error: {error}")

    def on_close(self, ws: Any, code: Any, reason: Any) -> None:
        self.note(f"disconnected ({code} {reason or ''})".rstrip())

    # --- main loop ------------------------------------------------------------------------------
    def run(self, max_backoff: float = 10.0) -> int:
        backoff = 0.5
        try:
            while not self.stopping.is_set():
                self.connected_once = False
                with self.lock:
                    self.protocol = NodeProtocol(
                        self.identity,
                        token=self.token,
                        election_id=self.election_id,
                        workers=self.workers,
                        cheat=self.cheat,
                        key_shares=self.key_shares(),
                    )
                self.ws = websocket.WebSocketApp(
                    self.url,
                    on_open=self.on_open,
                    on_message=self.on_message,
                    on_error=self.on_error,
                    on_close=self.on_close,
                )
                self.ws.run_forever(ping_interval=20, ping_timeout=15, skip_utf8_validation=True)
                with self.lock:
                    self.protocol = None
                if self.stopping.is_set():
                    break
                if self.connected_once:
                    backoff = 0.5
                self.note(f"reconnecting in {backoff:.1f} s")
                if self.stopping.wait(backoff):
                    break
                backoff = min(max_backoff, backoff * 2)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
        return 0

    def request_stop(self) -> None:
        """Ask the main loop to end (safe from a signal handler)."""
        self.stopping.set()
        ws = self.ws
        if ws is not None:
            ws.keep_running = False
            try:
                if ws.sock is not None:
                    ws.sock.shutdown()
            except Exception:
                pass

    def stop(self) -> None:
        self.stopping.set()
        if self.ws is not None:
            with contextlib.suppress(Exception):
                self.ws.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
        # A job still running (a long shuffle, a stalled test job) would keep this process alive
        # at exit, since the pool joins its workers: end them. ProcessPoolExecutor has no public
        # way to do this before Python 3.14 (terminate_workers), hence the private attribute.
        for worker in list((getattr(self.executor, "_processes", None) or {}).values()):
            with contextlib.suppress(Exception):
                worker.terminate()
        self.note("stopped")
        sys.stdout.flush()
