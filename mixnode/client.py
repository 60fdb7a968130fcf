"""The websocket-client adapter around :class:`mixnode.protocol.NodeProtocol`.

Connects to the server's ``/ws/node``, feeds frames to the protocol, carries out its actions
(send frames, run heavy jobs in a process pool, save key shares with mode 0600). A new connection
gets a fresh protocol session; key shares persist in the data directory.

Reconnection (tenacity): after a lost session the node reconnects at once, then with exponential
back-off and full jitter (``min_backoff`` doubling up to ``max_backoff``) while no session can be
established — the server is unreachable, or refuses the node's authentication (not enrolled yet).
After ``give_up_after`` seconds without a session :meth:`NodeClient.run` gives up and returns
:data:`crypto.io.commands.EXIT_FAILED`.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import json
import multiprocessing
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import tenacity
import websocket
from tqdm import tqdm

from crypto.errors import MixvoteError
from crypto.io.commands import EXIT_FAILED, EXIT_OK
from crypto.io.files import write_private
from crypto.io.pool import exit_with_parent
from crypto.receipts import Receipt, decode_receipt
from crypto.transport import NodeIdentity
from mixnode.protocol import (
    Job,
    NodeProtocol,
    Note,
    Refuse,
    SaveFingerprint,
    SaveKeyShare,
    SaveReceipt,
    Send,
    describe_error,
)


class NoSession(Exception):
    """A connection attempt that ended without an authenticated session (retried)."""


def safe_name(election_id: str) -> str:
    """An election id as a file-name part (its letters and digits)."""
    return "".join(c for c in election_id if c.isalnum())


def append_private(path: Path, text: str) -> None:
    """Append a line to a file created with mode 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def load_receipts(data_dir: Path, election_id: str | None = None) -> dict[str, list[Receipt]]:
    """The receipts kept in a node's data directory, per election (``receipts-<id>.jsonl``);
    a line that is not a receipt is skipped (a torn last line after a crash)."""
    out: dict[str, list[Receipt]] = {}
    for path in sorted(data_dir.glob("receipts-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                receipt = decode_receipt(json.loads(line))
            except (ValueError, MixvoteError):
                continue
            if election_id is None or receipt.election_id == election_id:
                out.setdefault(receipt.election_id, []).append(receipt)
    return out


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
        mix: Callable[..., Any] | None = None,
        decrypt: Callable[..., Any] | None = None,
        quiet: bool = False,
        give_up_after: float | None = None,
        min_backoff: float = 0.5,
        max_backoff: float = 10.0,
        expect_fingerprint: str = "",
    ) -> None:
        self.url = websocket_url(server)
        self.identity = identity
        self.data_dir = data_dir
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)  # an existing directory too: it holds key shares
        self.workers = workers
        self.token = token
        self.election_id = election_id
        self.mix = mix  # the hop function (None: the honest mix_job; see mixnode.faults)
        self.decrypt = decrypt  # the share function (None: the honest decrypt_job)
        self.quiet = quiet
        self.give_up_after = give_up_after
        self.min_backoff, self.max_backoff = min_backoff, max_backoff
        self.expect_fingerprint = expect_fingerprint
        self.refused = ""  # why this node refused to take part (then it exits with EXIT_FAILED)
        self.last_error = ""
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

    def fingerprints(self) -> dict[str, bytes]:
        """The election fingerprints this node signed (``fingerprint-<election>.hex``)."""
        out = {}
        for p in self.data_dir.glob("fingerprint-*.hex"):
            with contextlib.suppress(ValueError):
                out[p.name[len("fingerprint-") : -len(".hex")]] = bytes.fromhex(p.read_text())
        return out

    def heads(self) -> dict[str, tuple[int, bytes]]:
        """The newest receipted chain head per election, from the kept receipts."""
        out: dict[str, tuple[int, bytes]] = {}
        for eid, receipts in load_receipts(self.data_dir).items():
            best = max(receipts, key=lambda r: r.head_size)
            out[eid] = (best.head_size, best.head_hash)
        return out

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
                future.add_done_callback(functools.partial(self.finished, ws, protocol, action.tag))
                self.show_running(action.tag, future)
            elif isinstance(action, SaveKeyShare):
                name = safe_name(action.election_id)
                write_private(self.data_dir / f"keyshare-{name}.bin", action.data)
                self.note(f"key share saved in {self.data_dir}/keyshare-{name}.bin")
            elif isinstance(action, SaveReceipt):
                path = self.data_dir / f"receipts-{safe_name(action.election_id)}.jsonl"
                append_private(path, json.dumps(action.receipt, sort_keys=True) + "\n")
            elif isinstance(action, SaveFingerprint):
                path = self.data_dir / f"fingerprint-{safe_name(action.election_id)}.hex"
                write_private(path, action.fingerprint.hex().encode())
            elif isinstance(action, Refuse):
                self.refused = action.reason
                print(f"mixnode: {action.reason}", file=sys.stderr, flush=True)
                self.request_stop()
                return
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
        if protocol.server_error and not protocol.authenticated:
            # refused (e.g. not enrolled yet): hang up and try again later, with back-off
            self.last_error = f"the server refused the node: {protocol.server_error}"
            ws.close()

    def on_error(self, ws: Any, error: Any) -> None:
        if not isinstance(error, (KeyboardInterrupt, SystemExit)):
            self.last_error = str(error) or type(error).__name__
            self.note(f"connection error: {self.last_error}")

    def on_close(self, ws: Any, code: Any, reason: Any) -> None:
        detail = f" ({code}{' ' + reason if reason else ''})" if code else ""
        self.note(f"disconnected{detail}")

    # --- main loop ------------------------------------------------------------------------------
    def run(self) -> int:
        """Serve until stopped (:data:`EXIT_OK`) or until no session could be established for
        ``give_up_after`` seconds (:data:`EXIT_FAILED`, with the reason on stderr)."""
        stop: tenacity.stop.stop_base = tenacity.stop_when_event_set(self.stopping)
        if self.give_up_after is not None:
            stop = stop | tenacity.stop_after_delay(self.give_up_after)
        backoff = tenacity.wait_random_exponential(
            multiplier=self.min_backoff, max=self.max_backoff
        )

        def wait(state: tenacity.RetryCallState) -> float:
            # never sleep past the give-up time: the last attempt is made at that time
            pause = backoff(state)
            if self.give_up_after is not None and state.seconds_since_start is not None:
                pause = min(pause, max(0.0, self.give_up_after - state.seconds_since_start))
            return pause

        try:
            while not self.stopping.is_set():
                retrying = tenacity.Retrying(
                    stop=stop,
                    wait=wait,
                    retry=tenacity.retry_if_exception_type(NoSession),
                    sleep=self._pause,
                    before_sleep=lambda state: self.note(
                        f"reconnecting in {state.upcoming_sleep:.1f} s"
                    ),
                    reraise=True,
                )
                try:
                    retrying(self.session)  # returns after an authenticated session ended
                except NoSession as exc:
                    if self.stopping.is_set():
                        break
                    print(
                        f"mixnode: giving up after {self.give_up_after:g} s without a session: "
                        f"{exc}",
                        file=sys.stderr,
                        flush=True,
                    )
                    return EXIT_FAILED
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
        return EXIT_FAILED if self.refused else EXIT_OK

    def _pause(self, seconds: float) -> None:
        self.stopping.wait(seconds)  # a stop request cuts the pause short

    def session(self) -> None:
        """One connection: returns once an authenticated session has ended (or on a stop
        request); raises :class:`NoSession` when none could be established."""
        if self.stopping.is_set():
            return
        self.last_error = ""
        protocol = NodeProtocol(
            self.identity,
            token=self.token,
            election_id=self.election_id,
            workers=self.workers,
            mix=self.mix,
            decrypt=self.decrypt,
            key_shares=self.key_shares(),
            fingerprints=self.fingerprints(),
            heads=self.heads(),
            expect_fingerprint=self.expect_fingerprint,
        )
        with self.lock:
            self.protocol = protocol
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
        if self.stopping.is_set() or protocol.authenticated:
            return
        raise NoSession(f"{self.url}: {self.last_error or 'closed before authentication'}")

    def request_stop(self) -> None:
        """Ask the main loop to end (safe from a signal handler)."""
        self.stopping.set()
        ws = self.ws
        if ws is not None:
            ws.keep_running = False
            # shut the TCP socket down (not just close the descriptor): that wakes the
            # dispatcher's select(), which would otherwise sleep out its ping timeout (15 s)
            raw = getattr(ws.sock, "sock", None)
            if raw is not None:
                with contextlib.suppress(OSError):
                    raw.shutdown(socket.SHUT_RDWR)

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
