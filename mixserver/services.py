"""The election operations every front end calls: the HTTP JSON API, the Flask web UI, scripts.

:class:`ElectionServices` holds the bulletin board (:class:`mixserver.board.Board`), the IOLoop
captured at start-up and the coordinator class. Its methods are thread-safe (Flask runs them in
the WSGI container's thread pool). Actions that drive the protocol (open, close, start mixing,
publish) are validated here and then *scheduled* on the IOLoop with ``loop.add_callback`` — the only
IOLoop method that is safe from another thread — as ``Coordinator.<classmethod>(eid)``.

Errors are raised from the project hierarchy (``crypto.errors``): ``MalformedInput`` for bad
input, ``InvalidProof`` for a ballot proof that fails, ``ProtocolViolation`` for an action not
allowed now (wrong phase, bad credential, replay), its subclass ``UnknownElection`` for an
election that does not exist. Each adapter maps them once.

Voter credentials are random secrets (32 hex characters) issued at election creation. The public
voter id bound into a ballot proof is ``hex(SHA-256(b"mixvote-voter-id" || utf8(secret))[:16])``
(:func:`crypto.protocol.wire.voter_id_from_secret`). A ballot's tracker (receipt) is the hex SHA-256
of its canonical board entry (:meth:`crypto.record.Entry.tracker`)."""

from __future__ import annotations

import concurrent.futures
import hmac
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crypto import GROUPS, group
from crypto.ballot import BALLOT_POLICIES, FIRST_BALLOT_COUNTS, LAST_BALLOT_COUNTS
from crypto.errors import MalformedInput, ProtocolViolation, UnknownElection
from crypto.io.files import write_private
from crypto.protocol.wire import Message, canonical_json, decode_body, voter_id_from_secret
from mixserver.adminauth import AdminAuth
from mixserver.board import Board
from mixserver.machine import check_action

PHASES = ("setup", "keygen", "voting", "closed", "mixing", "decrypting", "tallied")
MAX_VOTERS = 1_000_000
MAX_NODES = 64
MAX_BALLOT_HEX = 1 << 16


def load_or_create_secret(data_dir: Path, name: str) -> str:
    """A random secret kept in ``data_dir/name`` (mode 0600), made on first use: the admin token,
    the web UI's session-signing key. Kept on disk so a restart does not log everyone out."""
    path = data_dir / name
    if path.exists():
        return path.read_text().strip()
    token = secrets.token_urlsafe(32)
    write_private(path, token.encode())
    return token


def _hex(value: Any, what: str, limit: int = MAX_BALLOT_HEX) -> bytes:
    if not isinstance(value, str) or len(value) > limit:
        raise MalformedInput(f"{what}: expected a hex string of at most {limit} characters")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise MalformedInput(f"{what}: not valid hex") from None


class ElectionServices:
    """Thread-safe election operations over one data directory.

    ``loop`` is the Tornado IOLoop captured at start-up (None in tests that drive no protocol);
    ``coordinator`` is the class whose classmethods run the protocol on that loop.
    """

    def __init__(
        self,
        data_dir: str | Path,
        loop: Any = None,
        coordinator: Any = None,
        db: Board | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.db = db or Board(self.data_dir)
        self.loop = loop
        self.coordinator = coordinator
        self.admin = AdminAuth(self.data_dir, self.db)
        #: seconds a web thread waits for the coordinator to carry out an admin action
        self.action_timeout = 60.0

    # --- helpers ----------------------------------------------------------------------------
    def _election(self, eid: str) -> tuple[dict[str, Any], str, dict[str, Any]]:
        if not isinstance(eid, str):
            raise MalformedInput("election id must be a string")
        got = self.db.election(eid)
        if got is None:
            raise UnknownElection(f"unknown election {eid[:40]!r}")
        return got

    def _schedule(self, action: str, eid: str) -> dict[str, Any]:
        """Run ``Coordinator.<action>(eid, done)`` on the IOLoop (scheduled with
        ``add_callback``) and wait for its outcome: an action that cannot happen now raises
        ProtocolViolation here, in the caller's thread, instead of being dropped on the loop."""
        if self.loop is None or self.coordinator is None:
            raise ProtocolViolation(f"{action}: no coordinator is running in this process")
        done: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.loop.add_callback(getattr(self.coordinator, action), eid, done)
        try:
            done.result(timeout=self.action_timeout)
        except concurrent.futures.TimeoutError:
            raise ProtocolViolation(
                f"{action}: the server did not finish it within {self.action_timeout:.0f} s; "
                "check the election's phase before trying again"
            ) from None
        return {"election": eid, "done": action}

    # --- admin authentication (mixserver.adminauth) ------------------------------------------
    @property
    def admin_token(self) -> str:
        return self.admin.token

    def check_admin_token(self, token: str | None) -> bool:
        """True iff ``token`` is the admin token (constant-time comparison)."""
        return self.admin.check_token(token)

    def rotate_admin_token(self) -> str:
        """A fresh admin token (the old one stops working, every admin session ends)."""
        return self.admin.rotate_token()

    def open_admin_session(self) -> str:
        return self.admin.open_session()

    def check_admin_session(self, session_id: str | None) -> bool:
        return self.admin.check_session(session_id)

    def close_admin_session(self, session_id: str | None) -> None:
        self.admin.close_session(session_id)

    # --- elections --------------------------------------------------------------------------
    def list_elections(self) -> list[dict[str, Any]]:
        """Every election as :meth:`get_election` describes it, oldest first."""
        return [self.get_election(eid) for eid in self.db.election_ids()]

    def get_election(self, eid: str) -> dict[str, Any]:
        """``{id, title, question, choices, group, n, t, voters, width, phase, public_key (hex or
        None), ballots_cast, ballots_counted, nodes: [{position, public_key, enrolled, connected}],
        progress: {...live status...}}``."""
        params, phase, state = self._election(eid)
        cast, counted = self.db.ballot_count(eid)
        connected = set(self.connected_nodes(eid))
        nodes = [
            {
                "position": pos,
                "public_key": key.hex() if key else None,
                "enrolled": key is not None or bool(token),
                "connected": pos in connected,
            }
            for pos, key, token in self.db.nodes(eid)
        ]
        return {
            **params,
            "phase": phase,
            "public_key": state.get("public_key"),
            "ballots_cast": cast,
            "ballots_counted": counted,
            "nodes": nodes,
            "timings": state.get("timings", {}),
            "progress": self._live_progress(eid, state),
        }

    def create_election(
        self,
        title: str,
        question: str,
        choices: list[str],
        group: str = "secp256k1",
        n: int = 3,
        t: int = 2,
        voters: int = 10,
        width: int = 1,
        policy: str = LAST_BALLOT_COUNTS,
    ) -> dict[str, Any]:
        """Create an election in phase ``setup``; returns :meth:`get_election` plus
        ``credentials: [{voter_id, secret}]`` (the only time they are handed out in bulk).
        ``policy`` is one of :data:`crypto.ballot.BALLOT_POLICIES`."""
        if not isinstance(title, str) or not title.strip() or len(title) > 200:
            raise MalformedInput("title: a non-empty string of at most 200 characters")
        if not isinstance(question, str) or len(question) > 1000:
            raise MalformedInput("question: a string of at most 1000 characters")
        if (
            not isinstance(choices, list)
            or not 1 <= len(choices) <= 1000
            or not all(isinstance(c, str) and c.strip() for c in choices)
        ):
            raise MalformedInput("choices: a list of 1 to 1000 non-empty strings")
        if group not in GROUPS:
            raise MalformedInput(f"group: one of {', '.join(GROUPS)}")
        if policy not in BALLOT_POLICIES:
            raise MalformedInput(f"policy: one of {', '.join(BALLOT_POLICIES)}")
        for name, value, low, high in (
            ("n", n, 1, MAX_NODES),
            ("t", t, 1, n if isinstance(n, int) else 1),
            ("voters", voters, 0, MAX_VOTERS),
            ("width", width, 1, 64),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise MalformedInput(f"{name}: an integer from {low} to {high}")
        eid = "e" + secrets.token_hex(6)
        params = {
            "id": eid,
            "title": title,
            "question": question,
            "choices": list(choices),
            "group": group,
            "n": n,
            "t": t,
            "voters": voters,
            "width": width,
            "policy": policy,
            "created": int(time.time()),
        }
        self.db.create_election(eid, params, "setup")
        creds = [
            (voter_id_from_secret(s), s) for s in (secrets.token_hex(16) for _ in range(voters))
        ]
        self.db.add_credentials(eid, creds)
        for position in range(1, n + 1):
            self.db.set_node(eid, position, None, None)
        self.db.append_server(
            eid,
            Message(
                "election.params",
                eid,
                {"params": canonical_json(params), "server_key": self.db.server_public},
            ),
        )
        # The public list of credentials (their voter ids, not the secrets), so that anyone can
        # check that every ballot comes from an issued credential (no ballot stuffing).
        registered = b"".join(sorted(bytes.fromhex(v) for v, _s in creds))
        self.db.append_server(eid, Message("voters.registered", eid, {"voter_ids": registered}))
        return {
            **self.get_election(eid),
            "credentials": [{"voter_id": v, "secret": s} for v, s in creds],
        }

    def voter_credentials(self, eid: str) -> list[dict[str, str]]:
        """``[{voter_id, secret}]`` of an election (admin only)."""
        self._election(eid)
        return [{"voter_id": v, "secret": s} for v, s in self.db.credentials(eid)]

    # --- nodes --------------------------------------------------------------------------------
    def enrol_node(
        self, eid: str, public_key_hex: str | None = None, position: int | None = None
    ) -> dict[str, Any]:
        """Enrol a node at ``position`` (default: the first free one) by its 64-byte public identity
        (hex), or hand out a one-time token the node presents on its first connection. Returns
        ``{election, position, public_key (hex or None), token (or None)}``."""
        _params, phase, _state = self._election(eid)
        if phase != "setup":
            raise ProtocolViolation(f"enrol: nodes can only be enrolled in setup, not {phase}")
        from crypto.transport import PublicIdentity

        key = None
        if public_key_hex:
            key = PublicIdentity.from_bytes(_hex(public_key_hex, "public key", 128)).to_bytes()
        slots = self.db.nodes(eid)
        if any(key is not None and k == key for _p, k, _t in slots):
            raise ProtocolViolation("enrol: this node key is already enrolled in the election")
        free = [p for p, k, tok in slots if k is None and not tok]
        if position is None:
            if not free:
                raise ProtocolViolation("enrol: every node position is already taken")
            position = free[0]
        elif position not in free:
            raise ProtocolViolation(f"enrol: position {position} is not free")
        token = None if key is not None else secrets.token_urlsafe(18)
        self.db.set_node(eid, position, key, token)
        if key is not None:
            self.record_node_key(eid, position, key)
        return {
            "election": eid,
            "position": position,
            "public_key": key.hex() if key else None,
            "token": token,
        }

    def record_node_key(self, eid: str, position: int, key: bytes) -> None:
        """Bind a node key to its position (on enrolment, or on first use of a token)."""
        self.db.set_node(eid, position, key, None)
        self.db.append_server(
            eid, Message("node.enrolled", eid, {"position": position, "public_key": key})
        )

    def _live_progress(self, eid: str, state: dict[str, Any]) -> dict[str, Any]:
        live = self.coordinator.live_progress(eid) if self.coordinator is not None else None
        return dict(live) if live is not None else state.get("progress", {})

    def connected_nodes(self, eid: str) -> list[int]:
        """Positions of the nodes currently connected and authenticated for ``eid``."""
        if self.coordinator is None:
            return []
        return sorted(self.coordinator.connected_positions(eid))

    # --- actions scheduled on the IOLoop ----------------------------------------------------------
    def _require(self, eid: str, action: str) -> None:
        """Refuse at once (from a snapshot of the board) what the coordinator would refuse."""
        _params, phase, state = self._election(eid)
        check_action(action, phase, state)

    def open_voting(self, eid: str) -> dict[str, Any]:
        """Open voting (needs a completed key generation); raises ProtocolViolation if it
        cannot happen now."""
        self._require(eid, "open")
        return self._schedule("open_voting", eid)

    def close_voting(self, eid: str) -> dict[str, Any]:
        """Close voting: the counted ballots become the closed list."""
        self._require(eid, "close")
        return self._schedule("close_voting", eid)

    def start_mixing(self, eid: str) -> dict[str, Any]:
        """Start the mixing cascade (it runs on after this returns)."""
        self._require(eid, "mix")
        return self._schedule("start_mixing", eid)

    def publish(self, eid: str) -> dict[str, Any]:
        """Ask for decryption and the tally (now, or as soon as mixing finishes)."""
        self._require(eid, "publish")
        return self._schedule("publish", eid)

    # --- voters -------------------------------------------------------------------------------
    def voter_session(self, eid: str, credential_secret: str) -> dict[str, Any]:
        """``{voter_id, election: {...public params...}, public_key (hex or None), phase}``."""
        params, phase, state = self._election(eid)
        voter_id = self._voter(eid, credential_secret)
        return {
            "voter_id": voter_id,
            "election": params,
            "public_key": state.get("public_key"),
            "phase": phase,
        }

    def _voter(self, eid: str, secret: str | None) -> str:
        if not isinstance(secret, str) or not 1 <= len(secret) <= 256:
            raise ProtocolViolation("credential: missing or malformed voter credential")
        voter_id = voter_id_from_secret(secret)
        stored = self.db.credential_secret(eid, voter_id)
        if stored is None or not hmac.compare_digest(stored.encode(), secret.encode()):
            raise ProtocolViolation("credential: not a voter credential of this election")
        return voter_id

    def cast_ballot(
        self, eid: str, credential_secret: str, ballot: dict[str, Any]
    ) -> dict[str, Any]:
        """Validate and record a ballot ``{"ciphertext": hex, "proof": hex, "width": w}``.

        Checks the credential, the phase (voting), the ciphertext row (every element decoded and
        validated), the proof of knowledge bound to (election, voter id), and rejects a replayed
        ciphertext. Returns the receipt ``{tracker, index, voter_id}``."""
        from crypto.ballot import decode_ballot_proof, verify_ballot
        from crypto.elgamal import decode_ciphertext, decode_public_key

        params, phase, state = self._election(eid)
        voter_id = self._voter(eid, credential_secret)
        if phase != "voting":
            raise ProtocolViolation(f"ballot: voting is not open (phase {phase})")
        if not isinstance(ballot, dict) or set(ballot) - {"ciphertext", "proof", "width"}:
            raise MalformedInput("ballot: expected an object with ciphertext, proof and width")
        width = ballot.get("width", params["width"])
        if width != params["width"] or isinstance(width, bool):
            raise MalformedInput(f"ballot: width must be {params['width']}")
        g = group(params["group"])
        ct_bytes = _hex(ballot.get("ciphertext"), "ballot ciphertext")
        proof_bytes = _hex(ballot.get("proof"), "ballot proof")
        ct = decode_ciphertext(g, ct_bytes, width)
        proof = decode_ballot_proof(g, proof_bytes, width)
        pk = decode_public_key(g, bytes.fromhex(state["public_key"]))
        verify_ballot(pk, ct, proof, eid, voter_id)
        stored = self.db.append_ballot(
            eid,
            voter_id,
            width,
            ct_bytes,
            proof_bytes,
            once=params.get("policy") == FIRST_BALLOT_COUNTS,
        )
        return {
            "tracker": stored.entry.tracker(),
            "index": stored.entry.index,
            "voter_id": voter_id,
        }

    # --- the public board ----------------------------------------------------------------------
    def _describe(self, stored: Any, with_data: bool = False) -> dict[str, Any]:
        entry = stored.entry
        out: dict[str, Any] = {
            "index": entry.index,
            "kind": stored.kind,
            "author": entry.author.hex(),
            "hash": stored.hash.hex(),
            "prev": entry.prev.hex(),
            "created": stored.created,
            "size": len(entry.body),
        }
        msg = decode_body(entry.body)
        for name, value in msg.fields.items():
            if isinstance(value, (bytes, bytearray)):
                if with_data or len(value) <= 256:
                    out[name] = value.hex()
                else:
                    out[name] = f"<{len(value)} bytes>"
            elif isinstance(value, list):
                out[name] = f"<{len(value)} items>"
            else:
                out[name] = value
        if stored.kind == "election.params":
            import json

            out["params"] = json.loads(msg["params"])
        return out

    def board(self, eid: str, offset: int = 0, limit: int = 100) -> dict[str, Any]:
        """``{election, total, offset, entries: [{index, kind, author, hash, prev, created, size,
        ...fields (hex, or "<N bytes>" when large)}]}``."""
        self._election(eid)
        offset, limit = max(0, int(offset)), max(1, min(int(limit), 1000))
        return {
            "election": eid,
            "total": self.db.count_entries(eid),
            "offset": offset,
            "entries": [self._describe(s) for s in self.db.entries(eid, offset, limit)],
        }

    def find_receipt(self, eid: str, tracker: str) -> dict[str, Any] | None:
        """The ballot entry with a tracker: ``{index, kind, voter_id, hash, counted}`` or None."""
        self._election(eid)
        try:
            digest = bytes.fromhex(tracker) if isinstance(tracker, str) else b""
        except ValueError:
            return None
        stored = self.db.entry_by_hash(eid, digest) if len(digest) == 32 else None
        if stored is None or stored.kind != "ballot":
            return None
        out = self._describe(stored)
        latest = self.db.latest_ballot_index(eid, out["voter_id"])
        out["counted"] = latest == stored.entry.index
        return out

    def results(self, eid: str) -> dict[str, Any] | None:
        """``{election, counts: {choice: n}, invalid, ballots, timings}`` once tallied, or None."""
        _params, phase, state = self._election(eid)
        if phase != "tallied":
            return None
        return {"election": eid, **state.get("result", {}), "timings": state.get("timings", {})}

    def status(self, eid: str) -> dict[str, Any]:
        """Live status for the websocket: ``{election, phase, progress, timings, hops, nodes,
        ballots_cast}``."""
        snapshot = self.coordinator.status_snapshot(eid) if self.coordinator else None
        if snapshot is not None:  # a machine drives it: no wait for the board
            phase, state, cast = snapshot
        else:
            _params, phase, state = self._election(eid)
            cast, _ = self.db.ballot_count(eid)
        return {
            "election": eid,
            "phase": phase,
            "progress": self._live_progress(eid, state),
            "timings": state.get("timings", {}),
            "hops": state.get("hops", []),
            "nodes": self.connected_nodes(eid),
            "ballots_cast": cast,
        }

    def ciphertext_lists(self, eid: str) -> dict[str, bytes]:
        """The mix's input (``inputs``: the closed list) and output (``mixed``: the output of the
        last accepted hop) as concatenated ciphertext encodings, read from the board; a key is
        absent until that list exists."""
        self._election(eid)
        out: dict[str, bytes] = {}
        closed = self.db.entries_of_kind(eid, "voting.closed")
        if closed:
            out["inputs"] = decode_body(closed[-1].entry.body)["ciphertexts"]
        for stored in reversed(self.db.entries_of_kind(eid, "hop.verdict")):
            verdict = decode_body(stored.entry.body)
            if verdict["status"] == "accepted":
                result = self.db.entry(eid, verdict["result_entry"])
                if result is not None:
                    out["mixed"] = decode_body(result.entry.body)["outputs"]
                break
        return out

    def export_record(self, eid: str, dest_dir: str | Path) -> dict[str, Any]:
        """Write the whole election record into a new or empty directory (layout in
        ``docs/record.md``); a non-empty one is refused; returns ``{path, entries, head}``."""
        from mixserver.export import export_record

        self._election(eid)
        return export_record(self.db, eid, Path(dest_dir))

    def record_zip(self, eid: str) -> dict[str, Any]:
        """The record as a zip, built once per chain head: ``{path, head, size}``."""
        from mixserver.export import record_zip

        self._election(eid)
        return record_zip(self.db, eid, self.data_dir / "exports")

    def generate_test_ballots(
        self, eid: str, count: int, choose: Callable[[int], int] | None = None
    ) -> dict[str, Any]:
        """Cast ``count`` ballots with the first ``count`` credentials (choice ``choose(i)``,
        default round-robin) through :meth:`cast_ballot`.
        Returns ``{cast, expected: {choice: n}}``."""
        from crypto.ballot import encode_ballot, encode_ballot_proof, encode_choice, prove_ballot
        from crypto.elgamal import decode_public_key, encode_ciphertext, encrypt

        params, phase, state = self._election(eid)
        if phase != "voting":
            raise ProtocolViolation(f"test ballots: voting is not open (phase {phase})")
        creds = self.db.credentials(eid)
        if not isinstance(count, int) or not 0 <= count <= len(creds):
            raise MalformedInput(f"count: an integer from 0 to {len(creds)}")
        g = group(params["group"])
        pk = decode_public_key(g, bytes.fromhex(state["public_key"]))
        expected: dict[str, int] = {}
        for i, (voter_id, secret) in enumerate(creds[:count]):
            choice = (choose or (lambda j: j % len(params["choices"])))(i)
            ct, r = encrypt(pk, encode_ballot(g, encode_choice(choice), params["width"]))
            proof = prove_ballot(pk, ct, r, eid, voter_id)
            ballot = {
                "ciphertext": encode_ciphertext(g, ct).hex(),
                "proof": encode_ballot_proof(g, proof).hex(),
                "width": params["width"],
            }
            self.cast_ballot(eid, secret, ballot)
            name = params["choices"][choice]
            expected[name] = expected.get(name, 0) + 1
        return {"cast": count, "expected": expected}
