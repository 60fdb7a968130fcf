"""The bulletin board and the server's state: SQLite in WAL mode under the data directory.

The ``entries`` table is the append-only, hash-chained record of each election (see
:mod:`crypto.record`): rows are only ever inserted, each with the hash of its predecessor, in one
transaction together with whatever derived state the entry implies (the latest ballot of a voter,
the election phase), so that a crash leaves either both or neither. Everything else (elections,
public credentials, enrolments) is the server's working state; the record alone is what a
verifier reads. Private credentials exist here only for a *test* election, in which the server is
the credential authority (``test_credentials``); a normal election's are never seen.

Every append can be answered with a server-signed receipt (:meth:`Board.receipt`,
:mod:`crypto.receipts`).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from crypto.credentials import voter_id as credential_voter_id
from crypto.errors import ProtocolViolation
from crypto.io.files import write_private
from crypto.protocol.wire import Message, encode_body
from crypto.receipts import Receipt, make_receipt
from crypto.record import GENESIS, Entry, make_entry, public_key_bytes

SCHEMA = """
CREATE TABLE IF NOT EXISTS elections (
    eid TEXT PRIMARY KEY, params TEXT NOT NULL, phase TEXT NOT NULL, created REAL NOT NULL,
    state TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS entries (
    eid TEXT NOT NULL, idx INTEGER NOT NULL, kind TEXT NOT NULL, author BLOB NOT NULL,
    signature BLOB NOT NULL, body BLOB NOT NULL, prev BLOB NOT NULL, hash BLOB NOT NULL,
    created REAL NOT NULL, PRIMARY KEY (eid, idx)
);
CREATE INDEX IF NOT EXISTS entries_kind ON entries (eid, kind);
CREATE INDEX IF NOT EXISTS entries_hash ON entries (eid, hash);
CREATE TABLE IF NOT EXISTS voters (
    eid TEXT NOT NULL, credential BLOB NOT NULL, voter_id TEXT NOT NULL,
    PRIMARY KEY (eid, credential)
);
CREATE TABLE IF NOT EXISTS test_credentials (
    eid TEXT NOT NULL, voter_id TEXT NOT NULL, private BLOB NOT NULL,
    PRIMARY KEY (eid, voter_id)
);
CREATE TABLE IF NOT EXISTS ballots (
    eid TEXT NOT NULL, voter_id TEXT NOT NULL, idx INTEGER NOT NULL,
    PRIMARY KEY (eid, voter_id)
);
CREATE TABLE IF NOT EXISTS seen (
    eid TEXT NOT NULL, digest BLOB NOT NULL, PRIMARY KEY (eid, digest)
);
CREATE TABLE IF NOT EXISTS nodes (
    eid TEXT NOT NULL, position INTEGER NOT NULL, public_key BLOB, token TEXT,
    PRIMARY KEY (eid, position)
);
CREATE TABLE IF NOT EXISTS admin_sessions (
    digest BLOB PRIMARY KEY, expires REAL NOT NULL
);
"""

BOARD_FILE = "board.sqlite3"


def make_private_dir(path: Path) -> None:
    """Create the data directory with mode 0700 (its parents with the default mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.mkdir(mode=0o700, exist_ok=True)


def _create_private_file(path: Path) -> None:
    """Create an empty file with mode 0600 unless it exists (SQLite gives its -wal and -shm files
    the database file's mode, so they are 0600 from creation too)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def load_or_create_server_key(data_dir: Path) -> Ed25519PrivateKey:
    """The server's Ed25519 signing key, kept in ``data_dir/server_key`` (mode 0600)."""
    path = data_dir / "server_key"
    if path.exists():
        return Ed25519PrivateKey.from_private_bytes(path.read_bytes())
    key = Ed25519PrivateKey.generate()
    write_private(path, key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))
    return key


@dataclass(frozen=True)
class StoredEntry:
    """An entry as read back from the board, with its kind and hash."""

    entry: Entry
    kind: str
    hash: bytes
    created: float


class Board:
    """Thread-safe access to the SQLite database (one connection, one lock; WAL mode)."""

    def __init__(self, data_dir: str | Path) -> None:
        self.data_dir = Path(data_dir)
        make_private_dir(self.data_dir)
        self.server_key = load_or_create_server_key(self.data_dir)
        self.server_public = public_key_bytes(self.server_key)
        self.server_seed = self.server_key.private_bytes(
            Encoding.Raw, PrivateFormat.Raw, NoEncryption()
        )
        self._lock = threading.RLock()
        _create_private_file(self.data_dir / BOARD_FILE)
        self._db = sqlite3.connect(
            self.data_dir / BOARD_FILE, check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- admin sessions (only SHA-256 digests of the session ids are stored) -----------------
    def add_admin_session(self, digest: bytes, expires: float) -> None:
        with self._lock:
            self._db.execute("DELETE FROM admin_sessions WHERE expires < ?", (time.time(),))
            self._db.execute("INSERT INTO admin_sessions VALUES (?, ?)", (digest, expires))

    def admin_session_expiry(self, digest: bytes) -> float | None:
        row = self._one("SELECT expires FROM admin_sessions WHERE digest = ?", (digest,))
        return float(row[0]) if row else None

    def delete_admin_sessions(self, digest: bytes | None = None) -> None:
        """Revoke one admin session, or all of them (``digest`` None)."""
        with self._lock:
            if digest is None:
                self._db.execute("DELETE FROM admin_sessions")
            else:
                self._db.execute("DELETE FROM admin_sessions WHERE digest = ?", (digest,))

    # --- transactions ---------------------------------------------------------------------
    def _tx(self) -> _Tx:
        return _Tx(self)

    def _one(self, sql: str, params: tuple[Any, ...]) -> Any:
        """The first row of a read-only query (None when there is none)."""
        with self._lock:
            return self._db.execute(sql, params).fetchone()

    def transaction(self) -> _Tx:
        """``with board.transaction():`` — every append and phase change inside is committed
        together, or (on an exception, or a crash) none is: a node's result and the server's
        verdict on it, a closed list and the phase change."""
        return _Tx(self)

    # --- elections ------------------------------------------------------------------------
    def create_election(self, eid: str, params: dict[str, Any], phase: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO elections (eid, params, phase, created) VALUES (?, ?, ?, ?)",
                (eid, json.dumps(params), phase, time.time()),
            )

    def election_ids(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT eid FROM elections ORDER BY created")]

    def election(self, eid: str) -> tuple[dict[str, Any], str, dict[str, Any]] | None:
        """(params, phase, state) of an election, or None."""
        row = self._one("SELECT params, phase, state FROM elections WHERE eid = ?", (eid,))
        if row is None:
            return None
        return json.loads(row[0]), row[1], json.loads(row[2])

    def set_phase(self, eid: str, phase: str, **state: Any) -> None:
        """Change an election's phase and merge ``state`` into its state dict."""
        with self._tx() as db:
            self._set_phase(db, eid, phase, state)

    def _set_phase(
        self, db: sqlite3.Connection, eid: str, phase: str, state: dict[str, Any]
    ) -> None:
        row = db.execute("SELECT state FROM elections WHERE eid = ?", (eid,)).fetchone()
        merged = json.loads(row[0]) if row else {}
        merged.update(state)
        db.execute(
            "UPDATE elections SET phase = ?, state = ? WHERE eid = ?",
            (phase, json.dumps(merged), eid),
        )

    # --- credentials and nodes -------------------------------------------------------------
    def add_voters(self, eid: str, credentials: list[bytes], voter_ids: list[str]) -> None:
        """The public credentials of the election's (verified, authority-signed) list."""
        with self._tx() as db:
            db.executemany(
                "INSERT INTO voters (eid, credential, voter_id) VALUES (?, ?, ?)",
                [(eid, c, v) for c, v in zip(credentials, voter_ids, strict=True)],
            )

    def is_voter(self, eid: str, credential: bytes) -> bool:
        with self._lock:
            return (
                self._db.execute(
                    "SELECT 1 FROM voters WHERE eid = ? AND credential = ?", (eid, credential)
                ).fetchone()
                is not None
            )

    def voter_count(self, eid: str) -> int:
        with self._lock:
            return int(
                self._db.execute("SELECT COUNT(*) FROM voters WHERE eid = ?", (eid,)).fetchone()[0]
            )

    def add_test_credentials(self, eid: str, pairs: list[tuple[str, bytes]]) -> None:
        """(voter id, private credential) of a *test* election, where the server is the
        authority; never called for a normal election."""
        with self._tx() as db:
            db.executemany(
                "INSERT INTO test_credentials (eid, voter_id, private) VALUES (?, ?, ?)",
                [(eid, vid, private) for vid, private in pairs],
            )

    def test_credentials(self, eid: str, unvoted: bool = False) -> list[tuple[str, bytes]]:
        """(voter id, private credential) of a test election, in issue order; with ``unvoted``
        only those with no ballot on the board yet."""
        query = "SELECT voter_id, private FROM test_credentials t WHERE eid = ?"
        if unvoted:
            query += (" AND NOT EXISTS (SELECT 1 FROM ballots b WHERE b.eid = t.eid AND "
                      "b.voter_id = t.voter_id)")
        with self._lock:
            rows = self._db.execute(query + " ORDER BY rowid", (eid,)).fetchall()
        return [(r[0], bytes(r[1])) for r in rows]

    def set_node(
        self, eid: str, position: int, public_key: bytes | None, token: str | None
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO nodes (eid, position, public_key, token) VALUES (?,?,?,?)",
                (eid, position, public_key, token),
            )

    def nodes(self, eid: str) -> list[tuple[int, bytes | None, str | None]]:
        with self._lock:
            return [
                (r[0], bytes(r[1]) if r[1] is not None else None, r[2])
                for r in self._db.execute(
                    "SELECT position, public_key, token FROM nodes WHERE eid = ? ORDER BY position",
                    (eid,),
                )
            ]

    # --- the record -------------------------------------------------------------------------
    def append(
        self,
        eid: str,
        kind: str,
        body: bytes,
        author: bytes | None = None,
        signature: bytes | None = None,
        *,
        ballot_voter: str | None = None,
        phase: str | None = None,
        state: dict[str, Any] | None = None,
    ) -> StoredEntry:
        """Append a signed body (the server signs when ``author`` is None) as the next entry, in
        one transaction with the voter's latest-ballot pointer and a phase change if given."""
        with self._tx() as db:
            row = db.execute(
                "SELECT idx, hash FROM entries WHERE eid = ? ORDER BY idx DESC LIMIT 1", (eid,)
            ).fetchone()
            index, prev = (row[0] + 1, bytes(row[1])) if row else (0, GENESIS)
            if author is None:
                entry = make_entry(eid, index, prev, self.server_key, body)
            else:
                assert signature is not None
                entry = Entry(eid, index, prev, author, signature, body)
            digest = entry.hash()
            now = time.time()
            db.execute(
                "INSERT INTO entries (eid, idx, kind, author, signature, body, prev, hash, created)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (eid, index, kind, entry.author, entry.signature, body, prev, digest, now),
            )
            if ballot_voter is not None:
                db.execute(
                    "INSERT OR REPLACE INTO ballots (eid, voter_id, idx) VALUES (?, ?, ?)",
                    (eid, ballot_voter, index),
                )
            if phase is not None:
                self._set_phase(db, eid, phase, state or {})
            return StoredEntry(entry, kind, digest, now)

    def append_ballot(
        self,
        eid: str,
        credential: bytes,
        width: int,
        ciphertext: bytes,
        proof: bytes,
        signature: bytes,
        once: bool = False,
        unvoted: bool = False,
    ) -> StoredEntry:
        """Append a verified, voter-signed ballot, atomically checking that voting is open, that
        the same ciphertext was never cast before (a replay) and, with ``once`` (or ``unvoted``,
        for a test ballot), that the credential has no ballot yet; it becomes the credential's
        counted ballot."""
        voter_id = credential_voter_id(credential)
        body = encode_body(
            Message(
                "ballot",
                eid,
                {
                    "credential": credential,
                    "width": width,
                    "ciphertext": ciphertext,
                    "proof": proof,
                    "signature": signature,
                },
            )
        )
        seen = hashlib.sha256(ciphertext).digest()
        with self._tx() as db:
            row = db.execute("SELECT phase FROM elections WHERE eid = ?", (eid,)).fetchone()
            if row is None or row[0] != "voting":
                raise ProtocolViolation(f"ballot: voting is not open (phase {row and row[0]})")
            if db.execute(
                "SELECT 1 FROM seen WHERE eid = ? AND digest = ?", (eid, seen)
            ).fetchone():
                raise ProtocolViolation("ballot: this ciphertext was already cast (replay)")
            if (once or unvoted) and db.execute(
                "SELECT 1 FROM ballots WHERE eid = ? AND voter_id = ?", (eid, voter_id)
            ).fetchone():
                raise ProtocolViolation(
                    "ballot: this credential has already voted"
                    + (" (a test ballot never replaces a voter's)" if unvoted
                       else " (the first ballot counts)")
                )
            db.execute("INSERT INTO seen (eid, digest) VALUES (?, ?)", (eid, seen))
            return self.append(eid, "ballot", body, ballot_voter=voter_id)

    def latest_ballot_index(self, eid: str, voter_id: str) -> int | None:
        row = self._one("SELECT idx FROM ballots WHERE eid = ? AND voter_id = ?", (eid, voter_id))
        return int(row[0]) if row else None

    def receipt(self, stored: StoredEntry) -> Receipt:
        """The server-signed receipt of an appended entry (the chain's head was that entry)."""
        e = stored.entry
        return make_receipt(self.server_seed, e.election_id, e.index, stored.hash,
                            e.index + 1, stored.hash)

    def head_receipt(self, eid: str) -> Receipt | None:
        """A receipt for the board's current head (its last entry), or None when empty."""
        row = self._one(
            f"SELECT {self._COLS} FROM entries WHERE eid = ? ORDER BY idx DESC LIMIT 1",
            (eid,),
        )
        return self.receipt(self._row(eid, row)) if row else None

    def append_server(self, eid: str, msg: Message, **kwargs: Any) -> StoredEntry:
        """Encode a server-authored message and append it signed by the server."""
        return self.append(eid, msg.kind, encode_body(msg), **kwargs)

    def _row(self, eid: str, row: tuple[Any, ...]) -> StoredEntry:
        idx, kind, author, signature, body, prev, digest, created = row
        entry = Entry(eid, idx, bytes(prev), bytes(author), bytes(signature), bytes(body))
        return StoredEntry(entry, kind, bytes(digest), created)

    _COLS = "idx, kind, author, signature, body, prev, hash, created"

    def entries(self, eid: str, offset: int = 0, limit: int | None = None) -> list[StoredEntry]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._COLS} FROM entries WHERE eid = ? AND idx >= ? ORDER BY idx LIMIT ?",
                (eid, offset, -1 if limit is None else limit),
            ).fetchall()
        return [self._row(eid, r) for r in rows]

    def iter_entries(self, eid: str, batch: int = 2000) -> Iterator[StoredEntry]:
        offset = 0
        while True:
            chunk = self.entries(eid, offset, batch)
            if not chunk:
                return
            yield from chunk
            offset = chunk[-1].entry.index + 1

    def entries_of_kind(self, eid: str, kind: str) -> list[StoredEntry]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._COLS} FROM entries WHERE eid = ? AND kind = ? ORDER BY idx",
                (eid, kind),
            ).fetchall()
        return [self._row(eid, r) for r in rows]

    def entry(self, eid: str, index: int) -> StoredEntry | None:
        got = self.entries(eid, index, 1)
        return got[0] if got and got[0].entry.index == index else None

    def entries_by_author(self, eid: str, author: bytes, start: int = 0) -> list[StoredEntry]:
        """The entries signed by ``author`` (a node's key) from index ``start`` on."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._COLS} FROM entries WHERE eid = ? AND author = ? AND idx >= ? "
                "ORDER BY idx",
                (eid, author, start),
            ).fetchall()
        return [self._row(eid, r) for r in rows]

    def hash_at(self, eid: str, index: int) -> bytes | None:
        """The hash of entry ``index`` (None when there is none); reads no body."""
        row = self._one("SELECT hash FROM entries WHERE eid = ? AND idx = ?", (eid, index))
        return bytes(row[0]) if row else None

    def entry_by_hash(self, eid: str, digest: bytes) -> StoredEntry | None:
        row = self._one(
            f"SELECT {self._COLS} FROM entries WHERE eid = ? AND hash = ?", (eid, digest)
        )
        return self._row(eid, row) if row else None

    def count_entries(self, eid: str) -> int:
        with self._lock:
            return int(
                self._db.execute("SELECT COUNT(*) FROM entries WHERE eid = ?", (eid,)).fetchone()[0]
            )

    def latest_ballots(self, eid: str) -> list[StoredEntry]:
        """The counted ballot entries (the latest per voter), in board order."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join('e.' + c for c in self._COLS.split(', '))} FROM ballots b "
                "JOIN entries e ON e.eid = b.eid AND e.idx = b.idx WHERE b.eid = ? ORDER BY e.idx",
                (eid,),
            ).fetchall()
        return [self._row(eid, r) for r in rows]

    def ballot_count(self, eid: str) -> tuple[int, int]:
        """(ballots cast, voters counted)."""
        with self._lock:
            cast = self._db.execute(
                "SELECT COUNT(*) FROM entries WHERE eid = ? AND kind = 'ballot'", (eid,)
            ).fetchone()[0]
            counted = self._db.execute(
                "SELECT COUNT(*) FROM ballots WHERE eid = ?", (eid,)
            ).fetchone()[0]
        return int(cast), int(counted)


class _Tx:
    """``with board._tx() as db:`` — the lock plus BEGIN IMMEDIATE / COMMIT or ROLLBACK."""

    def __init__(self, board: Board) -> None:
        self.board = board

    def __enter__(self) -> sqlite3.Connection:
        self.board._lock.acquire()
        self.outer = not self.board._db.in_transaction
        if self.outer:
            self.board._db.execute("BEGIN IMMEDIATE")
        return self.board._db

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if self.outer:
                self.board._db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.board._lock.release()
