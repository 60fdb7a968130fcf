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

Voter credentials are Ed25519 keys issued by a credential authority that is not the server
(``docs/trust.md``): in a normal election the admin uploads the authority-signed *public* list
(:meth:`ElectionServices.upload_credentials`), recorded as ``credentials.list``; the server never
sees a private credential and has no way to cast a ballot. Only a *test* election
(``"test": true`` in the parameters, in the fingerprint, shown everywhere) has the server act as
the authority (its own key, ``authority_key`` in the data directory, 0600), keep the credentials
and cast test ballots — with credentials that have not voted. Every ballot is signed by its
credential over (election fingerprint, ciphertext row, proof). The fingerprint
(:func:`crypto.fingerprint.election_fingerprint`) is fixed once the list is loaded and all nodes
are enrolled; key generation starts only then. Every append is answered with a server-signed
receipt (:mod:`crypto.receipts`). A ballot's tracker is the hex SHA-256 of its canonical board
entry (:meth:`crypto.record.Entry.tracker`)."""

from __future__ import annotations

import concurrent.futures
import secrets
import time
from pathlib import Path
from typing import Any

from crypto import group
from crypto.ballot import FIRST_BALLOT_COUNTS, LAST_BALLOT_COUNTS
from crypto.credentials import (
    generate_credential,
    sign_credential_list,
    verify_ballot_signature,
)
from crypto.credentials import voter_id as credential_voter_id
from crypto.errors import MalformedInput, ProtocolViolation, UnknownElection
from crypto.fingerprint import (
    DEFAULT_TALLY,
    format_fingerprint,
    short_fingerprint,
    validate_parameters,
)
from crypto.io.files import write_private
from crypto.protocol.wire import Message, canonical_json, decode_body
from crypto.receipts import encode_receipt
from mixserver.adminauth import AdminAuth
from mixserver.board import Board
from mixserver.credentials import CredentialServices
from mixserver.machine import check_action

PHASES = ("setup", "keygen", "voting", "closed", "mixing", "decrypting", "tallied")
MAX_BALLOT_HEX = 1 << 16
#: Tally modes this server runs (``homomorphic`` arrives with issue 17).
SUPPORTED_TALLIES = ("mixnet",)


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


class ElectionServices(CredentialServices):
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
        fp = state.get("fingerprint")
        return {
            **params,
            "test_election": params.get("test") is True,
            "tally": params.get("tally", DEFAULT_TALLY),
            "voters": self.db.voter_count(eid),
            "credentials_loaded": bool(state.get("authority")),
            "authority": state.get("authority"),
            "fingerprint": fp,
            "fingerprint_display": format_fingerprint(bytes.fromhex(fp)) if fp else None,
            "fingerprint_short": short_fingerprint(bytes.fromhex(fp)) if fp else None,
            "width": params["width"],
            "group": params["group"],
            "policy": params["policy"],
            "choices": params["choices"],
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
        voters: int | None = None,
        width: int = 1,
        policy: str = LAST_BALLOT_COUNTS,
        test: bool = False,
        tally: str = DEFAULT_TALLY,
    ) -> dict[str, Any]:
        """Create an election in phase ``setup``, its parameters validated by
        :func:`crypto.fingerprint.validate_parameters` (a :class:`ParameterError` names the
        field). A normal election (``test`` false) then waits for the authority's signed
        credential list (:meth:`upload_credentials`; ``voters`` is not given: the list decides).
        A test election has the server act as the authority: it makes ``voters`` credentials
        (default 10), keeps them, and records their signed public list at once."""
        if tally not in SUPPORTED_TALLIES:
            raise MalformedInput(f"tally: this server runs {', '.join(SUPPORTED_TALLIES)} only")
        if not isinstance(test, bool):
            raise MalformedInput("test: true or false")
        if test and voters is None:
            voters = 10
        if not test and voters is not None:
            raise MalformedInput("voters: the credential authority's list decides the voters of "
                                 "a normal election (give voters only with test: true)")
        eid = "e" + secrets.token_hex(6)
        raw: dict[str, Any] = {
            "id": eid,
            "title": title,
            "question": question,
            "choices": list(choices) if isinstance(choices, list) else choices,
            "group": group,
            "n": n,
            "t": t,
            "width": width,
            "policy": policy,
            "test": test,
            "tally": tally,
            "created": int(time.time()),
        }
        if test:
            raw["voters"] = voters
        params = validate_parameters(raw)
        if test and params["voters"] < 1:
            raise MalformedInput("voters: a test election needs at least 1 credential")
        self.db.create_election(eid, params, "setup")
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
        if test:
            authority = self.test_authority()
            creds = [generate_credential() for _ in range(params["voters"])]
            self.db.add_test_credentials(eid, [(c.voter_id, c.private) for c in creds])
            clist = sign_credential_list(authority, eid, [c.public for c in creds], test=True)
            self._record_credentials(eid, clist)
        return self.get_election(eid)

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
        self._fix_fingerprint(eid)

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
    def cast_ballot(
        self, eid: str, ballot: dict[str, Any], *, test: bool = False
    ) -> dict[str, Any]:
        """Validate and record a voter-signed ballot ``{"credential", "width", "ciphertext",
        "proof", "signature"}`` (hex; ``credential`` is the 32-byte *public* credential).

        Checks the phase (voting), that the credential is in the authority-signed list, the
        ciphertext row (every element decoded and validated), the proof of knowledge bound to
        (election, voter id), the voter's strict Ed25519 signature over (fingerprint, row,
        proof), replay, and the policy. Returns ``{tracker, index, voter_id, receipt}``, the
        receipt signed by the server (:mod:`crypto.receipts`). ``test`` (a test ballot) also
        refuses a credential that has voted."""
        from crypto.ballot import decode_ballot_proof, verify_ballot
        from crypto.elgamal import decode_ciphertext, decode_public_key

        params, phase, state = self._election(eid)
        if phase != "voting":
            raise ProtocolViolation(f"ballot: voting is not open (phase {phase})")
        fields = {"credential", "width", "ciphertext", "proof", "signature"}
        if not isinstance(ballot, dict) or set(ballot) != fields:
            raise MalformedInput("ballot: expected an object with exactly "
                                 + ", ".join(sorted(fields)))
        width = ballot["width"]
        if width != params["width"] or isinstance(width, bool):
            raise MalformedInput(f"ballot: width must be {params['width']}")
        credential = _hex(ballot["credential"], "ballot credential", 64)
        if len(credential) != 32:
            raise MalformedInput("ballot credential: 64 hex digits (a public credential)")
        if not self.db.is_voter(eid, credential):
            raise ProtocolViolation("credential: not a voter credential of this election (not "
                                    "in the authority-signed list)")
        voter_id = credential_voter_id(credential)
        g = group(params["group"])
        ct_bytes = _hex(ballot["ciphertext"], "ballot ciphertext")
        proof_bytes = _hex(ballot["proof"], "ballot proof")
        signature = _hex(ballot["signature"], "ballot signature", 128)
        ct = decode_ciphertext(g, ct_bytes, width)
        proof = decode_ballot_proof(g, proof_bytes, width)
        pk = decode_public_key(g, bytes.fromhex(state["public_key"]))
        verify_ballot(pk, ct, proof, eid, voter_id)
        verify_ballot_signature(credential, bytes.fromhex(state["fingerprint"]), ct_bytes,
                                proof_bytes, signature, "ballot", key_checked=True)
        stored = self.db.append_ballot(
            eid,
            credential,
            width,
            ct_bytes,
            proof_bytes,
            signature,
            once=params.get("policy") == FIRST_BALLOT_COUNTS,
            unvoted=test,
        )
        return {
            "tracker": stored.entry.tracker(),
            "index": stored.entry.index,
            "voter_id": voter_id,
            "receipt": encode_receipt(self.db.receipt(stored)),
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
        if stored.kind == "ballot" and len(msg["credential"]) == 32:
            out["voter_id"] = credential_voter_id(msg["credential"])
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
