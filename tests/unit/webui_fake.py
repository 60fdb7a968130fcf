"""A fake of the services object the web UI calls, for the page-level tests that pin template
hooks (tests/unit/test_webui_site.py, tests/browser/test_webui_pages.py). The UI's behaviour is
tested against the real services in tests/unit/test_webui.py; this fake keeps only what those
page tests need and follows the trust model (printed Ed25519 credentials, voter-signed ballots).
"""


from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask.testing import FlaskClient

from crypto.credentials import credential_from_private, format_credential
from crypto.errors import InvalidProof, MalformedInput, ProtocolViolation, UnknownElection
from crypto.groups import group
from crypto.protocol.wire import Message, encode_body
from crypto.record import GENESIS, make_entry
from webui import create_app

ADMIN_TOKEN = "admin-token-123"
SEED = bytes(range(32))
SECRET = format_credential(SEED)  # a printed voter credential
VOTER = credential_from_private(SEED).public.hex()  # its public credential
XSS = '<script>alert("x")</script>'


class FakeServices:
    """In-memory stand-in for mixserver.services.ElectionServices (the methods the UI calls)."""

    def __init__(self) -> None:
        self.sessions: set[str] = set()
        self.zips: dict[str, dict[str, Any]] = {}
        self.elections: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[Any, ...]] = []
        self.ballots: list[dict[str, Any]] = []
        g = group("secp256k1")
        self.public_key = g.encode(g.base_mul(12345)).hex()
        self.add("e1", "Board vote " + XSS, phase="voting")

    def add(self, eid: str, title: str, phase: str = "setup") -> None:
        self.elections[eid] = {
            "id": eid,
            "title": title,
            "question": "Who? " + XSS,
            "choices": ["Ann", "Bob " + XSS],
            "group": "secp256k1",
            "n": 3,
            "t": 2,
            "voters": 2,
            "width": 1,
            "test_election": False,
            "fingerprint": None,
            "phase": phase,
            "public_key": self.public_key if phase != "setup" else None,
            "ballots_cast": 0,
            "ballots_counted": 0,
            "timings": {"keygen": 0.5, "mixing": {"hop 1": 1.25}},
            "progress": {},
            "nodes": [
                {"position": p, "public_key": None, "enrolled": p == 1, "connected": p == 1}
                for p in (1, 2, 3)
            ],
        }

    def _get(self, eid: str) -> dict[str, Any]:
        if eid not in self.elections:
            raise UnknownElection(f"unknown election {eid!r}")
        return self.elections[eid]

    def check_admin_token(self, token: str | None) -> bool:
        return token == self.admin_token

    # server-side admin sessions, as mixserver.adminauth keeps them
    admin_token = ADMIN_TOKEN

    def open_admin_session(self) -> str:
        sid = f"session-{len(self.sessions)}-0123456789abcdef"
        self.sessions.add(sid)
        return sid

    def check_admin_session(self, sid: str | None) -> bool:
        return sid in self.sessions

    def close_admin_session(self, sid: str | None) -> None:
        self.sessions.discard(sid)  # type: ignore[arg-type]

    def rotate_admin_token(self) -> str:
        self.admin_token = "rotated-" + str(len(self.sessions))
        self.sessions.clear()
        return self.admin_token

    def list_elections(self) -> list[dict[str, Any]]:
        return list(self.elections.values())

    def get_election(self, eid: str) -> dict[str, Any]:
        return self._get(eid)

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
        policy: str = "last-ballot-counts",
        test: bool = False,
    ) -> dict[str, Any]:
        self.calls.append(
            ("create", title, question, tuple(choices), group, n, t, voters, width, policy, test)
        )
        if not title:
            raise MalformedInput("title: a non-empty string of at most 200 characters")
        eid = f"e{len(self.elections) + 1}"
        self.add(eid, title)
        return {**self.elections[eid], "credentials": []}

    def voter_credentials(self, eid: str) -> list[dict[str, str]]:
        self._get(eid)
        return [
            {"voter_id": "0" * 32, "credential": SECRET},
            {"voter_id": "1" * 32, "credential": "b" * 32},
        ]

    def enrol_node(
        self, eid: str, public_key_hex: str | None = None, position: int | None = None
    ) -> dict[str, Any]:
        self.calls.append(("enrol", eid, public_key_hex, position))
        if self._get(eid)["phase"] != "setup":
            raise ProtocolViolation("enrol: nodes can only be enrolled in setup")
        return {
            "election": eid,
            "position": position or 2,
            "public_key": public_key_hex,
            "token": None if public_key_hex else "tok-" + XSS,
        }

    def connected_nodes(self, eid: str) -> list[int]:
        return [1]

    def _action(self, name: str, eid: str, needs: str) -> dict[str, Any]:
        self.calls.append((name, eid))
        if self._get(eid)["phase"] != needs:
            raise ProtocolViolation(f"{name}: not allowed in phase {self._get(eid)['phase']}")
        return {"election": eid, "scheduled": name}

    def open_voting(self, eid: str) -> dict[str, Any]:
        return self._action("open_voting", eid, "keygen")

    def close_voting(self, eid: str) -> dict[str, Any]:
        return self._action("close_voting", eid, "voting")

    def start_mixing(self, eid: str) -> dict[str, Any]:
        return self._action("start_mixing", eid, "closed")

    def publish(self, eid: str) -> dict[str, Any]:
        return self._action("publish", eid, "mixing")

    def upload_credentials(self, eid: str, obj: Any) -> dict[str, Any]:
        self.calls.append(("upload", eid, obj))
        if not isinstance(obj, dict) or "signature" not in obj:
            raise MalformedInput("credential list: fields missing ['signature']")
        return {**self._get(eid), "voters": len(obj.get("credentials", []))}

    def cast_ballot(self, eid: str, ballot: dict[str, Any]) -> dict[str, Any]:
        self._get(eid)
        if ballot.get("credential") != VOTER:
            raise ProtocolViolation("credential: not a voter credential of this election")
        if ballot.get("proof") == "bad":
            raise InvalidProof("ballot proof: challenge mismatch")
        self.ballots.append(ballot)
        return {"tracker": "ab" * 32, "index": 7, "voter_id": "0" * 32}

    def board(self, eid: str, offset: int = 0, limit: int = 100) -> dict[str, Any]:
        self._get(eid)
        entries = [
            {
                "index": i,
                "kind": "ballot",
                "author": "cd" * 32,
                "hash": f"{i:064x}",
                "prev": "00" * 32,
                "created": 0.0,
                "size": 10,
                "voter_id": "0" * 32,
            }
            for i in range(offset, min(offset + limit, 3))
        ]
        return {"election": eid, "total": 3, "offset": offset, "entries": entries}

    def find_receipt(self, eid: str, tracker: str) -> dict[str, Any] | None:
        self._get(eid)
        if tracker != "ab" * 32:
            return None
        return {
            "index": 7,
            "kind": "ballot",
            "voter_id": "0" * 32,
            "hash": tracker,
            "counted": True,
        }

    def results(self, eid: str) -> dict[str, Any] | None:
        e = self._get(eid)
        if e["phase"] != "tallied":
            return None
        return {
            "election": eid,
            "counts": {"Ann": 3, "Bob " + XSS: 1},
            "invalid": 0,
            "ballots": 4,
            "timings": {"keygen": 0.5, "mixing": 2.0},
        }

    def record_zip(self, eid: str) -> dict[str, Any]:
        """The zip of :meth:`export_record`, built once (as the real services cache it)."""
        if eid not in self.zips:
            import tempfile
            import zipfile

            work = Path(tempfile.mkdtemp(prefix="fake-zip-"))
            out = self.export_record(eid, work / eid)
            path = work / "record.zip"
            with zipfile.ZipFile(path, "w") as zf:
                for file in sorted((work / eid).rglob("*")):
                    if file.is_file():
                        zf.write(file, f"{eid}/{file.relative_to(work / eid)}")
            self.zips[eid] = {"path": str(path), "head": out["head"],
                              "size": path.stat().st_size}
        return self.zips[eid]

    def export_record(self, eid: str, dest_dir: str | Path) -> dict[str, Any]:
        """A small but real record: voting.closed, one node's mix.result and its verdict."""
        self._get(eid)
        g = group("secp256k1")
        row = lambda k: b"".join(g.encode(g.base_mul(k + j)) for j in (1, 2))  # noqa: E731
        server, node = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
        msgs = [
            (
                server,
                Message(
                    "voting.closed",
                    eid,
                    {
                        "count": 3,
                        "width": 1,
                        "ciphertexts": b"".join(row(k) for k in range(3)),
                        "trackers": [bytes(32)] * 3,
                    },
                ),
            ),
            (
                node,
                Message(
                    "mix.result",
                    eid,
                    {
                        "job": "j",
                        "input_digest": bytes(32),
                        "outputs": b"".join(row(k) for k in (10, 11, 12)),
                        "proof": [],
                        "fingerprint": bytes(32),
                        "seen_size": 0,
                        "seen_head": bytes(32),
                    },
                ),
            ),
            (
                server,
                Message(
                    "hop.verdict",
                    eid,
                    {
                        "hop": 1,
                        "position": 1,
                        "status": "accepted",
                        "reason": "ok",
                        "result_entry": 1,
                        "output_digest": bytes(32),
                        "evidence_entry": 0,
                        "requested_ms": 0,
                        "gave_up_ms": 0,
                        "timeout_ms": 0,
                    },
                ),
            ),
        ]
        dest = Path(dest_dir) / "entries"
        dest.mkdir(parents=True)
        prev = GENESIS
        for i, (key, msg) in enumerate(msgs):
            entry = make_entry(eid, i, prev, key, encode_body(msg))
            (dest / f"{i:08d}.bin").write_bytes(entry.encode())
            prev = entry.hash()
        return {"path": str(dest_dir), "entries": len(msgs), "head": prev.hex()}

    def ciphertext_lists(self, eid: str) -> dict[str, bytes]:
        self._get(eid)
        g = group("secp256k1")
        row = lambda k: b"".join(g.encode(g.base_mul(k + j)) for j in (1, 2))  # noqa: E731
        return {
            "inputs": b"".join(row(k) for k in range(3)),
            "mixed": b"".join(row(k) for k in (10, 11, 12)),
        }

    def generate_test_ballots(self, eid: str, count: int, choose: Any = None) -> dict[str, Any]:
        self.calls.append(("test_ballots", eid, count, [choose(i) for i in range(count)]))
        return {"cast": count, "expected": {"Ann": count}}


def client_for(services: Any) -> FlaskClient:
    """A test client of the web UI over ``services`` (TESTING, a fixed secret key)."""
    return create_app({"TESTING": True, "SECRET_KEY": "test"}, services=services).test_client()


def csrf_of(client: FlaskClient, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    m = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(
        r'data-csrf="([^"]+)"', html
    )
    assert m, f"no CSRF token on {path}"
    return m.group(1)


def admin_client(client: FlaskClient) -> FlaskClient:
    token = csrf_of(client, "/admin/login")
    r = client.post("/admin/login", data={"token": ADMIN_TOKEN, "csrf_token": token})
    assert r.status_code == 302
    return client


def voter_client(client: FlaskClient, eid: str = "e1") -> str:
    """The booth's CSRF token (signing in happens in the browser, not on the server)."""
    return csrf_of(client, f"/vote/{eid}")


# --- the app factory and headers ----------------------------------------------------------------
