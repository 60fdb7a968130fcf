"""The voter- and admin-facing pages of the web UI against a fake services object. The real
services now produce every state used here (a fingerprint, the test-election flag, a long board),
so this fake can drift and is still to be replaced by them as in ``test_webui.py``, which runs
the UI against the real services; until then these tests pin the page hooks only: the
home page by state, the ballot tracker from seal to board (the finder, the board's rows), the
standalone audit page, plain words and the hooks for the election fingerprint and the test-election
flag, the results page (chart, turnout, verifier), the admin console's page and the favicon."""

from __future__ import annotations

import hashlib
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask.testing import FlaskClient

from crypto.errors import InvalidProof, MalformedInput, ProtocolViolation, UnknownElection
from crypto.groups import group
from crypto.protocol.wire import Message, encode_body
from crypto.record import GENESIS, make_entry
from tests.unit.test_webui import XSS, csrf_of
from webui import create_app
from webui.charts import bar_chart
from webui.site import ENTRY_KINDS, ballot_tracker, election_state, short_hash

CT = "02" + "11" * 32 + "03" + "22" * 32  # a ciphertext's hex as the board shows it
TRACKER = hashlib.sha256(bytes.fromhex(CT)).hexdigest()
KINDS = ["election.params", "dkg.deal", "dkg.complaint", "dkg.complaint", "ballot", "ballot"]


ADMIN_TOKEN = "admin-token-123"
SECRET = "a" * 32


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

    def create_election(self, title: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("create", title, *args, kwargs))
        if not title:
            raise MalformedInput("title: a non-empty string of at most 200 characters")
        eid = f"e{len(self.elections) + 1}"
        self.add(eid, title)
        return {**self.elections[eid], "credentials": []}

    def voter_credentials(self, eid: str) -> list[dict[str, str]]:
        self._get(eid)
        return [
            {"voter_id": "0" * 32, "secret": SECRET},
            {"voter_id": "1" * 32, "secret": "b" * 32},
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

    def voter_session(self, eid: str, secret: str) -> dict[str, Any]:
        e = self._get(eid)
        if secret != SECRET:
            raise ProtocolViolation("credential: not a voter credential of this election")
        return {
            "voter_id": "0" * 32,
            "election": e,
            "public_key": e["public_key"],
            "phase": e["phase"],
        }

    def cast_ballot(self, eid: str, secret: str, ballot: dict[str, Any]) -> dict[str, Any]:
        self.voter_session(eid, secret)
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


def admin_client(client: FlaskClient) -> FlaskClient:
    token = csrf_of(client, "/admin/login")
    r = client.post("/admin/login", data={"token": ADMIN_TOKEN, "csrf_token": token})
    assert r.status_code == 302
    return client


def voter_client(client: FlaskClient, eid: str = "e1") -> str:
    token = csrf_of(client, f"/vote/{eid}")
    r = client.post(f"/vote/{eid}", data={"credential": SECRET, "csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/vote/{eid}/booth")
    return csrf_of(client, f"/vote/{eid}/booth")


class BoardServices(FakeServices):
    """The fake services with a board of several kinds, two ballots carrying their ciphertext."""

    def board(self, eid: str, offset: int = 0, limit: int = 100) -> dict[str, Any]:
        self._get(eid)
        total = 120  # more than two board pages
        entries = []
        for i in range(offset, min(offset + limit, total)):
            kind = KINDS[i] if i < len(KINDS) else "ballot"
            entry = {
                "index": i,
                "kind": kind,
                "author": "cd" * 32,
                "hash": f"{i:064x}",
                "prev": "00" * 32,
                "created": 0.0,
                "size": 10,
            }
            if kind == "ballot":
                entry["voter_id"] = f"{i:032x}"
                entry["ciphertext"] = CT if i == 103 else f"{i:0132x}"
            entries.append(entry)
        return {"election": eid, "total": total, "offset": offset, "entries": entries}

    def find_receipt(self, eid: str, tracker: str) -> dict[str, Any] | None:
        self._get(eid)
        for entry in self.board(eid, 0, 1000)["entries"]:
            if entry["hash"] == tracker and entry["kind"] == "ballot":
                return {**entry, "counted": True}
        return None


@pytest.fixture()
def svc() -> BoardServices:
    return BoardServices()


@pytest.fixture()
def app(svc: BoardServices) -> Flask:
    return create_app({"TESTING": True, "SECRET_KEY": "test"}, services=svc)


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def test_favicon_is_an_svg_with_the_security_headers(client: FlaskClient) -> None:
    r = client.get("/favicon.ico")
    assert r.status_code == 200 and r.mimetype == "image/svg+xml"
    assert r.data.startswith(b"<svg") and b"<script" not in r.data
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    page = client.get("/").get_data(as_text=True)
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page


def test_home_page_says_what_this_is_and_lists_elections_by_state(
    client: FlaskClient, svc: BoardServices
) -> None:
    svc.add("e2", "Being built", phase="setup")
    svc.add("e3", "Soon", phase="keygen")
    svc.add("e4", "Counting", phase="mixing")
    svc.add("e5", "Done", phase="tallied")
    html = client.get("/").get_data(as_text=True)
    assert "encrypted on your own device" in html and "How to vote" in html
    assert "Being built" not in html and "/elections/e2" not in html  # set-up is not public

    def section(state: str) -> str:
        m = re.search(rf'<section[^>]*id="elections-{state}">(.*?)</section>', html, re.S)
        assert m, state
        return m.group(1)

    assert 'href="/vote/e1"' in section("voting") and ">Vote</a>" in section("voting")
    assert "/elections/e3" in section("upcoming") and "/vote/e3" not in html
    assert "/elections/e4" in section("counting") and "/vote/e4" not in html
    assert 'href="/elections/e5/results"' in section("results")
    assert [election_state({"phase": p}) for p in ("setup", "keygen", "voting", "tallied")] == [
        "setup",
        "upcoming",
        "voting",
        "results",
    ]
    svc.elections = {"e2": svc.elections["e2"]}
    assert "No election is open to the public yet" in client.get("/").get_data(as_text=True)


def test_election_page_in_plain_words_with_the_vote_button_following_the_phase(
    client: FlaskClient, svc: BoardServices
) -> None:
    html = client.get("/elections/e1").get_data(as_text=True)
    assert "Group secp256k1" not in html and "Ballot width" in html.split("<details>")[1]
    assert "any 2 of them together can decrypt" in html
    assert re.search(r'id="vote-button" href="/vote/e1" >Vote', html)
    assert re.search(r'id="results-button"[^>]*hidden', html)
    svc.elections["e1"]["phase"] = "closed"
    html = client.get("/elections/e1").get_data(as_text=True)
    assert re.search(r'id="vote-button"[^>]*hidden', html)
    assert "Voting is closed; the ballots are being counted" in html
    svc.elections["e1"]["phase"] = "tallied"
    html = client.get("/elections/e1").get_data(as_text=True)
    assert re.search(r'id="results-button" href="/elections/e1/results" >', html)


def test_fingerprint_and_test_election_hooks_render_only_when_present(
    client: FlaskClient, svc: BoardServices
) -> None:
    pages = ["/elections/e1", "/elections/e1/results", "/elections/e1/audit"]
    for path in pages:
        html = client.get(path).get_data(as_text=True)
        assert "election-fingerprint" not in html and "test-election-banner" not in html, path
    svc.elections["e1"].update(fingerprint="f1" * 32 + XSS, test_election=True)
    svc.elections["e1"]["phase"] = "tallied"
    for path in pages:
        html = client.get(path).get_data(as_text=True)
        assert 'id="test-election-banner"' in html, path
        assert XSS not in html, path
    assert 'id="election-fingerprint"' in client.get("/elections/e1").get_data(as_text=True)
    assert "test election" in client.get("/").get_data(as_text=True)
    results = client.get("/elections/e1/results").get_data(as_text=True)
    assert 'id="test-election-result"' in results


def test_ballot_tracker_is_the_hash_of_the_ciphertext() -> None:
    assert ballot_tracker({"ciphertext": CT}) == TRACKER
    for bad in ({}, {"ciphertext": "<66 bytes>"}, {"ciphertext": "abc"}, {"ciphertext": 5}, None):
        assert ballot_tracker(bad) is None
    assert short_hash("a" * 64, 10) == "a" * 10 + "…" and short_hash("abc") == "abc"


def test_finder_takes_a_ballot_tracker_or_an_entry_hash_to_the_board_row(
    client: FlaskClient,
) -> None:
    for tracker in (TRACKER, TRACKER.upper(), f"{103:064x}"):
        r = client.get("/elections/e1/find", query_string={"tracker": tracker})
        assert r.status_code == 302
        assert r.headers["Location"] == (
            f"/elections/e1/board?offset=100&receipt={103:064x}#entry-103"
        )
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Found:" in page and TRACKER in page
    assert re.search(
        rf'<tr class="kind-ballot" id="entry-103" data-hash="{103:064x}" '
        rf'data-tracker="{TRACKER}">',
        page,
    )
    assert f'value="{TRACKER}"' in page  # the search box shows the tracker, not the entry hash
    r = client.get("/elections/e1/find", query_string={"tracker": "ab" * 32})
    assert r.headers["Location"] == "/elections/e1/board?receipt=" + "ab" * 32
    assert "No ballot with this receipt" in client.get(r.headers["Location"]).get_data(as_text=True)
    r = client.get("/elections/e1/find", query_string={"tracker": "<b>x"})
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "64 hexadecimal characters" in page and "<b>x" not in page
    assert client.get("/elections/nope/find?tracker=" + TRACKER).status_code == 404
    assert client.get("/elections/bad%20id/find").status_code == 404


def test_board_explains_each_kind_once_and_offers_copy_buttons(client: FlaskClient) -> None:
    html = client.get("/elections/e1/board").get_data(as_text=True)
    complaint = ENTRY_KINDS["dkg.complaint"]
    assert "An empty list is normal" in complaint
    assert html.count(complaint) == 1  # two complaint rows, one explanation
    assert html.count(ENTRY_KINDS["ballot"]) == 1
    assert html.count('data-copy="') == 50  # one per row of the page
    assert f'data-copy="{0:064x}"' in html and f"{0:012x}…" in html
    assert "/static/js/board.js" in html
    assert "120 entries" in html and 'rel="next" href="/elections/e1/board?offset=50"' in html
    last = client.get("/elections/e1/board?offset=100").get_data(as_text=True)
    assert "Next" not in last and 'rel="prev"' in last


def test_audit_page_gets_the_election_key_from_the_server(
    client: FlaskClient, svc: BoardServices
) -> None:
    r = client.get("/elections/e1/audit")
    html = r.get_data(as_text=True)
    nonce = re.search(r"'nonce-([^']+)'", r.headers["Content-Security-Policy"]).group(1)
    assert f'<script type="importmap" nonce="{nonce}">' in html
    params = re.search(r'<script type="application/json" id="audit-params">(.*?)</script>', html)
    assert params and svc.public_key in params.group(1) and '"electionId": "e1"' in params.group(1)
    assert "/static/js/audit.js" in html and "/static/js/booth.js" not in html
    assert "<details>" in html and "The mathematics behind this check" in html
    svc.add("e7", "No key yet", phase="setup")
    assert "no key yet" in client.get("/elections/e7/audit").get_data(as_text=True)
    assert client.get("/elections/nope/audit").status_code == 404


def test_booth_offers_review_seal_cast_and_audit_with_labelled_controls(
    client: FlaskClient, svc: BoardServices
) -> None:
    html = client.get("/vote/e1").get_data(as_text=True)
    for section in ("review", "sealed", "audit-result", "cast-result"):
        assert re.search(rf'<section id="{section}" class="card[^"]*" hidden', html), section
    for heading in ("review-title", "sealed-title", "audit-title", "cast-title"):
        assert f'id="{heading}" tabindex="-1"' in html  # focus moves there after each step
    assert 'data-policy="last-ballot-counts"' in html
    assert 'data-find-url="/elections/e1/find"' in html
    # signing in is the first step, in the page: the ballot form waits for it
    assert re.search(r'<form id="sign-in" class="card"', html)
    assert re.search(r'<form id="ballot-form" class="card" hidden', html)
    svc.elections["e1"]["policy"] = "first-ballot-counts"
    assert 'data-policy="first-ballot-counts"' in client.get("/vote/e1").get_data(
        as_text=True
    )
    svc.elections["e1"]["phase"] = "tallied"
    closed = client.get("/vote/e1").get_data(as_text=True)
    assert 'href="/elections/e1/results"' in closed and "See the results" in closed


def test_receipt_shows_the_same_tracker_as_the_booth(client: FlaskClient) -> None:
    html = client.get(f"/vote/e1/receipt/{103:064x}").get_data(as_text=True)
    assert f'<code class="tracker" id="receipt-tracker">{TRACKER}</code>' in html
    assert f'href="/elections/e1/find?tracker={TRACKER}"' in html


def test_results_page_chart_keeps_hostile_and_long_names_whole(
    client: FlaskClient, svc: BoardServices
) -> None:
    long_name = "Carol-Anne " * 12
    svc.elections["e1"].update(
        phase="tallied", choices=["Ann", "Bob " + XSS, long_name], voters=5, ballots_cast=6
    )
    svc.elections["e1"]["ballots_counted"] = 4
    html = client.get("/elections/e1/results").get_data(as_text=True)
    labels = re.findall(r'<span class="bar-label">(.*?)</span>', html)
    assert labels[:3] == ["Ann", "Bob &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;", long_name]
    assert XSS not in html and "<text" not in html  # HTML labels, no SVG text to clip
    assert re.search(r'id="turnout-cast">6<', html) and re.search(r'id="turnout-counted">4<', html)
    assert (
        "80.0 % turnout" in html and "Only one ballot per voter is <strong>counted</strong>" in html
    )
    assert 'id="install-command">python3 -m pip install .<' in html
    assert 'href="/elections/e1/inputs.csv"' in html and 'href="/elections/e1/record.zip"' in html


def test_bar_chart_scales_to_the_largest_and_keeps_labels() -> None:
    chart = bar_chart([("Bob " + XSS, 3), ("b", 1), ("c", 0)], unit="ballots")
    assert chart.bars[0].label == "Bob " + XSS
    assert [round(b.percent, 2) for b in chart.bars] == [100.0, 33.33, 0.0]
    assert [b.text for b in chart.bars] == [
        "3 ballots (75.0 %)",
        "1 ballot (25.0 %)",
        "0 ballots (0.0 %)",
    ]
    assert bar_chart([("a", 0)]).bars[0].percent == 0.0 and bar_chart([]).bars == ()


def test_admin_console_page(client: FlaskClient, svc: BoardServices) -> None:
    admin_client(client)
    svc.add("e9", "Setup one")
    html = client.get("/admin/elections/e9").get_data(as_text=True)
    assert 'data-ws-path="/ws/status/e9"' in html and "/static/js/console.js" in html
    assert "Mix nodes: 3, any 2 can decrypt (threshold)." in html
    for pos in (2, 3):  # the positions not yet enrolled, each with its own files
        assert f"--key node-{pos}.key --data ./node-{pos}-data --election e9</code>" in html
    assert re.search(r'data-confirm="Close voting now\?', html)
    assert re.search(r'data-confirm="Start mixing\?', html)
    assert re.search(r'data-confirm="Decrypt and publish', html)
    assert re.search(r'action/open"\s*>', html)  # opening asks for no confirmation
    assert re.search(r'id="action-open"\s*disabled', html)  # no key yet
    token = csrf_of(client, "/admin/elections/e9")
    client.post("/admin/elections/e9/enrol", data={"csrf_token": token, "public_key": ""})
    html = client.get("/admin/elections/e9").get_data(as_text=True)
    assert "It is shown only now, and it works once" in html
    svc.elections["e9"].update(phase="keygen", public_key=svc.public_key)
    html = client.get("/admin/elections/e9").get_data(as_text=True)
    assert re.search(r'id="action-open"\s*>', html) and "Key ready" in html


def test_new_election_errors_are_shown_at_their_field(client: FlaskClient) -> None:
    admin_client(client)
    token = csrf_of(client, "/admin/elections/new")
    r = client.post("/admin/elections/new", data={"csrf_token": token, "title": "", "choices": "A"})
    html = r.get_data(as_text=True)
    assert r.status_code == 400
    assert re.search(r'id="title-error" role="alert">a non-empty string', html)
    assert re.search(r'id="title"[^>]*aria-invalid="true"', html)
    assert not re.search(r'id="choices"[^>]*aria-invalid', html)
    assert "/static/js/election-form.js" in html


def test_vote_sign_in_speaks_plainly_and_after_close_links_to_the_results(
    client: FlaskClient, svc: BoardServices
) -> None:
    token = csrf_of(client, "/vote/e1")
    # the credential is never posted to the server: there is no such route
    r = client.post("/vote/e1", data={"credential": "wrong", "csrf_token": token})
    assert r.status_code == 405
    html = client.get("/vote/e1").get_data(as_text=True)
    assert "printed on your card" in html and "never sent to the server" in html
    svc.elections["e1"]["phase"] = "mixing"
    html = client.get("/vote/e1").get_data(as_text=True)
    assert "Voting is closed" in html and 'href="/elections/e1/results"' in html
    assert 'name="credential"' not in html
    svc.elections["e1"]["phase"] = "tallied"
    html = client.get("/vote/e1").get_data(as_text=True)
    assert '<a class="button" href="/elections/e1/results">See the results</a>' in html
