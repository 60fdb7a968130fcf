"""The Flask web UI against the real services (:class:`mixserver.services.ElectionServices`) on a
temporary data directory: every page and form, admin authentication, CSRF rejection, escaping of
user text, the security headers, the booth's JSON cast endpoint, the downloads, the npm module
route and the upload of an authority-signed credential list.

Elections are *test* elections (the server is the credential authority and holds the private
credentials) unless a test is about a normal one, whose list is made with
:mod:`crypto.credentials` and uploaded as the authority's would be. Three real node identities
are enrolled so that the election fingerprint is fixed as in production. Phases the UI cannot
reach without mix nodes (key generation, mixing, the tally) are set on the board directly;
actions that the coordinator runs are scheduled on a loop that records them."""

from __future__ import annotations

import csv
import io
import json
import random
import re
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from crypto.ballot import encode_ballot, encode_ballot_proof, encode_choice, prove_ballot
from crypto.credentials import (
    credential_from_private,
    encode_credential_list,
    generate_credential,
    parse_credential,
    sign_ballot,
    sign_credential_list,
)
from crypto.elgamal import decode_public_key, encode_ciphertext, encode_public_key, encrypt, keygen
from crypto.groups import group
from crypto.protocol.wire import Message
from crypto.transport import NodeIdentity
from mixserver.coordinator import Coordinator
from mixserver.services import ElectionServices
from tests.unit.webui_fake import XSS, client_for, csrf_of
from webui import create_app

G = group("secp256k1")
TIMINGS = {"keygen": 0.5, "mixing": {"hop 1": 1.25}}


class RecordingLoop:
    """Stands in for the server's IOLoop: the services schedule coordinator actions on it
    (``Coordinator.<action>(eid, done)``, and ``maybe_start_dkg(eid)`` once the fingerprint is
    fixed); it records each and reports an action done."""

    def __init__(self) -> None:
        self.scheduled: list[tuple[str, tuple[Any, ...]]] = []

    def add_callback(self, fn: Callable[..., Any], eid: str, done: Future[Any] | None = None
                     ) -> None:
        self.scheduled.append((fn.__name__, (eid,)))
        if done is not None:
            done.set_result(None)


@pytest.fixture()
def svc(tmp_path: Path) -> Iterator[ElectionServices]:
    services = ElectionServices(tmp_path / "data", loop=RecordingLoop(), coordinator=Coordinator)
    yield services
    services.db.close()


def enrol_nodes(svc: ElectionServices, eid: str) -> None:
    """Enrol three real node identities (the fingerprint is fixed once the list is loaded too)."""
    for _ in range(3):
        svc.enrol_node(eid, NodeIdentity.generate().public_bytes().hex())


def new_election(svc: ElectionServices, title: str = "Board vote " + XSS,
                 phase: str = "voting", test: bool = True, enrol: bool = True) -> str:
    """An election with user text that needs escaping (a test election with 6 credentials, or
    a normal one waiting for its list), its nodes enrolled, in ``phase`` with a locally made key
    (the UI's part of the protocol needs no mix nodes)."""
    e = svc.create_election(title, "Who? " + XSS, ["Ann", "Bob " + XSS], "secp256k1", 3, 2,
                            6 if test else None, test=test)
    eid = str(e["id"])
    if enrol:
        enrol_nodes(svc, eid)
    if phase != "setup":
        _x, pk = keygen(G, random.Random(5))
        svc.db.set_phase(eid, phase, public_key=encode_public_key(pk).hex(), timings=TIMINGS)
    svc.loop.scheduled.clear()
    return eid


@pytest.fixture()
def eid(svc: ElectionServices) -> str:
    return new_election(svc)


@pytest.fixture()
def printed(svc: ElectionServices, eid: str) -> str:
    """The first voter's printed (private) credential."""
    return svc.voter_credentials(eid)[0]["credential"]


@pytest.fixture()
def private(printed: str) -> bytes:
    return parse_credential(printed)


@pytest.fixture()
def client(svc: ElectionServices) -> FlaskClient:
    return client_for(svc)


def make_ballot(svc: ElectionServices, eid: str, private: bytes, choice: int = 0,
                voter: str | None = None) -> dict[str, Any]:
    """A real ballot signed by ``private``'s voter, as the booth makes it in the browser (its
    proof bound to ``voter`` if given instead of the signer's voter id)."""
    e = svc.get_election(eid)
    pk = decode_public_key(G, bytes.fromhex(e["public_key"]))
    cred = credential_from_private(private)
    ct, r = encrypt(pk, encode_ballot(G, encode_choice(choice), 1))
    row_bytes = encode_ciphertext(G, ct)
    proof = encode_ballot_proof(G, prove_ballot(pk, ct, r, eid, voter or cred.voter_id))
    signature = sign_ballot(private, bytes.fromhex(e["fingerprint"]), row_bytes, proof)
    return {"credential": cred.public.hex(), "width": 1, "ciphertext": row_bytes.hex(),
            "proof": proof.hex(), "signature": signature.hex()}


def row(k: int) -> bytes:
    return b"".join(G.encode(G.base_mul(k + j)) for j in (1, 2))


def tally(svc: ElectionServices, eid: str) -> None:
    """Put the mix's lists on the board and mark the election tallied, as the coordinator does
    (the entries are those a one-hop cascade leaves; the proof is not the point here)."""
    svc.db.append_server(eid, Message("voting.closed", eid, {
        "count": 3, "width": 1, "ciphertexts": b"".join(row(k) for k in range(3)),
        "trackers": [bytes(32)] * 3}))
    result = svc.db.append_server(eid, Message("mix.result", eid, {
        "job": "j", "input_digest": bytes(32), "outputs": b"".join(row(k) for k in (10, 11, 12)),
        "proof": [], "fingerprint": bytes(32), "seen_size": 0, "seen_head": bytes(32)}))
    svc.db.append_server(eid, Message("hop.verdict", eid, {
        "hop": 1, "position": 1, "status": "accepted", "reason": "ok",
        "result_entry": result.entry.index, "output_digest": bytes(32), "evidence_entry": 0,
        "requested_ms": 0, "gave_up_ms": 0, "timeout_ms": 0}))
    svc.db.set_phase(eid, "tallied", result={"counts": {"Ann": 3, "Bob " + XSS: 1},
                                             "invalid": 0, "ballots": 4})


def admin_client(client: FlaskClient, svc: ElectionServices) -> FlaskClient:
    token = csrf_of(client, "/admin/login")
    r = client.post("/admin/login", data={"token": svc.admin_token, "csrf_token": token})
    assert r.status_code == 302
    return client


def voter_client(client: FlaskClient, eid: str) -> str:
    """The booth's CSRF token (signing in happens in the browser, not on the server)."""
    return csrf_of(client, f"/vote/{eid}")


def snapshot(svc: ElectionServices) -> tuple[Any, ...]:
    """Everything an admin or voter request could change: elections, phases, board, schedule."""
    elections = [(e["id"], e["phase"], e["ballots_cast"], e["voters"],
                  tuple(map(str, e["nodes"]))) for e in svc.list_elections()]
    sizes = [svc.db.count_entries(e[0]) for e in elections]
    return elections, sizes, tuple(svc.loop.scheduled)


# --- the app factory and headers ----------------------------------------------------------------
def test_factory_makes_independent_apps(svc: ElectionServices) -> None:
    a, b = create_app(services=svc), create_app(services=svc)
    assert a is not b and a.config["SECRET_KEY"] != b.config["SECRET_KEY"]
    assert {"public", "voter", "admin", "assets"} <= set(a.blueprints)


def test_csp_and_security_headers_on_every_page(client: FlaskClient, eid: str) -> None:
    for path in ("/", f"/elections/{eid}", "/admin/login", f"/vote/{eid}", "/nope"):
        r = client.get(path)
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src 'self' 'nonce-" in csp
        assert "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"


def test_the_import_map_carries_this_requests_nonce(client: FlaskClient, eid: str) -> None:
    r = client.get(f"/vote/{eid}")
    nonce = re.search(r"'nonce-([^']+)'", r.headers["Content-Security-Policy"]).group(1)
    html = r.get_data(as_text=True)
    assert f'<script type="importmap" nonce="{nonce}">' in html
    assert '"@noble/curves/": "/assets/npm/@noble/curves/"' in html
    # No other inline script may execute: every other <script> is external or a data block.
    for tag in re.findall(r"<script[^>]*>", html):
        assert 'nonce="' in tag or "src=" in tag or 'type="application/json"' in tag, tag
    other = client.get(f"/vote/{eid}").headers["Content-Security-Policy"]
    assert nonce not in other  # a fresh nonce per response


# --- public pages ----------------------------------------------------------------------------
def test_user_text_is_escaped_everywhere(client: FlaskClient, svc: ElectionServices,
                                         eid: str) -> None:
    tally(svc, eid)
    pages = ["/", f"/elections/{eid}", f"/elections/{eid}/board", f"/elections/{eid}/results"]
    for path in pages:
        html = client.get(path).get_data(as_text=True)
        assert XSS not in html, path
        assert "&lt;script&gt;" in html, path


def test_election_list_and_page_show_the_phase(client: FlaskClient, svc: ElectionServices,
                                               eid: str) -> None:
    e2 = new_election(svc, "Second", phase="mixing")
    html = client.get("/").get_data(as_text=True)
    assert f'href="/elections/{e2}"' in html and 'data-phase="mixing"' in html
    page = client.get(f"/elections/{e2}").get_data(as_text=True)
    assert f'data-ws-path="/ws/status/{e2}"' in page and 'data-phase="mixing"' in page
    assert "hop 1" in page and "1.250" in page  # nested timings are flattened


def test_unknown_or_malformed_election_is_404(client: FlaskClient) -> None:
    assert client.get("/elections/nope").status_code == 404
    assert client.get("/elections/bad%20id!").status_code == 404
    assert client.get("/vote/nope").status_code == 404
    r = client.get("/elections/nope", headers={"Accept": "application/json"})
    assert r.status_code == 404 and "unknown election" in r.get_json()["error"]


def test_board_receipt_lookup(client: FlaskClient, svc: ElectionServices, eid: str,
                              private: bytes) -> None:
    tracker = svc.cast_ballot(eid, make_ballot(svc, eid, private))["tracker"]
    html = client.get(f"/elections/{eid}/board?receipt={tracker}").get_data(as_text=True)
    assert "Found:" in html and "it is the one that counts" in html
    svc.cast_ballot(eid, make_ballot(svc, eid, private, 1))  # the voter votes again
    html = client.get(f"/elections/{eid}/board?receipt={tracker}").get_data(as_text=True)
    assert "Found:" in html and "it is the one that counts" not in html
    html = client.get(f"/elections/{eid}/board?receipt=" + "cd" * 32).get_data(as_text=True)
    assert "No ballot with this receipt" in html
    html = client.get(f"/elections/{eid}/board?receipt=<b>").get_data(as_text=True)
    assert "64 hexadecimal characters" in html and "<b>" not in html.split("receipt-result")[1]
    html = client.get(f"/elections/{eid}/board?offset=0").get_data(as_text=True)
    assert f"{svc.db.count_entries(eid)} entries" in html
    for bad in ("x", "-1", "9" * 30, "１"):
        r = client.get(f"/elections/{eid}/board?offset={bad}")
        assert r.status_code == 400 and "offset" in r.get_data(as_text=True), bad


def test_results_page_tally_chart_lists_and_verifier(
    client: FlaskClient, svc: ElectionServices, eid: str
) -> None:
    assert "No result yet" in client.get(f"/elections/{eid}/results").get_data(as_text=True)
    tally(svc, eid)
    html = client.get(f"/elections/{eid}/results").get_data(as_text=True)
    counts = dict(re.findall(r"<tr><td>([^<]*)</td><td class=\"count\">(\d+)</td></tr>", html))
    assert counts == {"Ann": "3", "Bob &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;": "1"}
    widths = [float(w) for w in re.findall(r'class="bar-rect"[^>]*width="([\d.]+)%"', html)]
    assert widths[:2] == [100.0, 33.33]  # 3 : 1, scaled to the largest
    assert 'id="timing-chart"' in html
    assert f"mixverify {eid}" in html
    assert html.count("<li><code>") == 6  # 3 input rows + 3 mixed rows
    assert row(0).hex() in html and row(10).hex() in html


def test_list_downloads_and_record_zip(client: FlaskClient, svc: ElectionServices,
                                       eid: str, private: bytes) -> None:
    svc.cast_ballot(eid, make_ballot(svc, eid, private))
    z = client.get(f"/elections/{eid}/record.zip")
    assert z.status_code == 200 and z.mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(z.data)).namelist()
    entries = [n for n in names if n.startswith(f"{eid}/entries/")]
    assert all(n.startswith(f"{eid}/") for n in names) and f"{eid}/election.json" in names
    kinds = [stored.kind for stored in svc.db.entries(eid)]
    assert kinds[-1] == "ballot"
    assert entries == [f"{eid}/entries/{i:06d}-{kind}.bin" for i, kind in enumerate(kinds)]
    assert client.get(f"/elections/{eid}/mixed.csv").status_code == 404  # not mixed yet
    tally(svc, eid)
    r = client.get(f"/elections/{eid}/mixed.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert rows[0] == ["row", "ciphertext"] and len(rows) == 4 and rows[1][1] == row(10).hex()
    assert len(rows[1][1]) == 132
    assert client.get(f"/elections/{eid}/other.csv").status_code == 404


# --- CSRF and admin authentication --------------------------------------------------------------
def admin_posts(eid: str) -> list[str]:
    return [
        "/admin/elections/new",
        f"/admin/elections/{eid}/enrol",
        f"/admin/elections/{eid}/action/close",
        f"/admin/elections/{eid}/test-ballots",
    ]


def test_admin_pages_need_the_admin_session(client: FlaskClient, svc: ElectionServices,
                                            eid: str) -> None:
    before = snapshot(svc)
    for path in (
        "/admin/",
        "/admin/elections/new",
        f"/admin/elections/{eid}",
        f"/admin/elections/{eid}/credentials.csv",
    ):
        r = client.get(path)
        assert r.status_code == 302 and "/admin/login" in r.headers["Location"], path
    token = csrf_of(client, "/admin/login")
    for path in admin_posts(eid):
        r = client.post(path, data={"csrf_token": token, "title": "x", "count": "1"})
        assert r.status_code == 302 and "/admin/login" in r.headers["Location"], path
    assert snapshot(svc) == before


def test_wrong_admin_token_is_refused(client: FlaskClient) -> None:
    token = csrf_of(client, "/admin/login")
    r = client.post("/admin/login", data={"token": "wrong", "csrf_token": token})
    assert r.status_code == 403 and "not the admin token" in r.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_posts_without_or_with_a_wrong_csrf_token_are_rejected(
    client: FlaskClient, svc: ElectionServices, eid: str, private: bytes
) -> None:
    before = snapshot(svc)
    r = client.post("/admin/login", data={"token": svc.admin_token})
    assert r.status_code == 400 and "CSRF" in r.get_data(as_text=True)
    admin_client(client, svc)
    for path in admin_posts(eid):
        for data in ({}, {"csrf_token": "forged"}):
            r = client.post(path, data={**data, "title": "T", "choices": "a", "count": "1"})
            assert r.status_code == 400, path
    r = client.post(f"/vote/{eid}/cast", json=make_ballot(svc, eid, private))
    assert r.status_code == 400 and "CSRF" in r.get_json()["error"]
    assert snapshot(svc) == before


def test_login_redirect_is_never_off_site(client: FlaskClient, svc: ElectionServices) -> None:
    for target, expected in (
        ("/admin/elections/e1", "/admin/elections/e1"),
        ("//evil.example/x", "/admin/"),
        ("https://evil.example", "/admin/"),
    ):
        c = client.application.test_client()
        token = csrf_of(c, "/admin/login")
        r = c.post(
            "/admin/login",
            query_string={"next": target},
            data={"token": svc.admin_token, "csrf_token": token},
        )
        assert r.headers["Location"] == expected


def test_create_election_form(client: FlaskClient, svc: ElectionServices) -> None:
    admin_client(client, svc)
    html = client.get("/admin/elections/new").get_data(as_text=True)
    for field in ("title", "question", "choices", "group", "n", "t", "voters", "width", "policy"):
        assert f'<label for="{field}">' in html and f'id="{field}"' in html
    token = csrf_of(client, "/admin/elections/new")
    r = client.post(
        "/admin/elections/new",
        data={
            "csrf_token": token,
            "title": "New",
            "question": "Q?",
            "choices": "A\n\n B \nC",
            "group": "P-256",
            "n": "4",
            "t": "3",
            "voters": "5",
            "width": "2",
            "policy": "first-ballot-counts",
            "test": "on",
        },
    )
    [made] = svc.list_elections()
    assert r.status_code == 302 and r.headers["Location"] == f"/admin/elections/{made['id']}"
    assert {k: made[k] for k in ("title", "question", "choices", "group", "n", "t", "voters",
                                 "width", "policy", "phase", "test_election")} == {
        "title": "New", "question": "Q?", "choices": ["A", "B", "C"], "group": "P-256", "n": 4,
        "t": 3, "voters": 5, "width": 2, "policy": "first-ballot-counts", "phase": "setup",
        "test_election": True}
    assert len(svc.voter_credentials(made["id"])) == 5  # the server made them, as the authority
    # a normal election: no voter count (the authority's list decides), test off
    r = client.post("/admin/elections/new", data={"csrf_token": token, "title": "N",
                                                  "choices": "A\nB", "voters": "7"})
    [normal] = [e for e in svc.list_elections() if e["id"] != made["id"]]
    assert r.status_code == 302 and r.headers["Location"] == f"/admin/elections/{normal['id']}"
    assert (normal["voters"], normal["width"], normal["policy"], normal["test_election"],
            normal["credentials_loaded"]) == (0, 1, "last-ballot-counts", False, False)
    # Bad input comes back to the form with the reason, keeping what was typed.
    r = client.post("/admin/elections/new", data={"csrf_token": token, "title": "", "choices": "A"})
    assert r.status_code == 400 and re.search(
        r'id="title-error" role="alert">1 to 200 characters, got 0', r.get_data(as_text=True))
    r = client.post(
        "/admin/elections/new",
        data={"csrf_token": token, "title": "T", "choices": "A", "n": "three"},
    )
    html = r.get_data(as_text=True)
    # the server's reason is shown at the field it is about
    assert r.status_code == 400 and re.search(r'id="n-error" role="alert">an integer', html)
    assert re.search(r'id="n"[^>]*aria-invalid="true"', html)
    assert len(svc.list_elections()) == 2  # nothing made from bad input


def test_admin_election_page_actions_enrol_and_test_ballots(
    client: FlaskClient, svc: ElectionServices, eid: str
) -> None:
    admin_client(client, svc)
    html = client.get(f"/admin/elections/{eid}").get_data(as_text=True)
    assert re.search(r'id="action-close"\s*>', html) and re.search(
        r'id="action-open" disabled', html
    )
    token = csrf_of(client, f"/admin/elections/{eid}")
    r = client.post(f"/admin/elections/{eid}/action/close", data={"csrf_token": token})
    assert r.status_code == 302 and svc.loop.scheduled == [("close_voting", (eid,))]
    assert "Voting will close." in client.get(f"/admin/elections/{eid}").get_data(as_text=True)
    client.post(f"/admin/elections/{eid}/action/mix", data={"csrf_token": token})
    assert "mix: not allowed in phase voting" in client.get(
        f"/admin/elections/{eid}"
    ).get_data(as_text=True)
    assert len(svc.loop.scheduled) == 1  # the refused action was not scheduled
    client.post(f"/admin/elections/{eid}/test-ballots", data={"csrf_token": token, "count": "5"})
    assert svc.db.ballot_count(eid)[0] == 5 and len(svc.db.latest_ballots(eid)) == 5
    assert "5 random test ballots cast" in client.get(
        f"/admin/elections/{eid}").get_data(as_text=True)
    e9 = new_election(svc, "Setup " + XSS, phase="setup", enrol=False)
    client.post(f"/admin/elections/{e9}/enrol", data={"csrf_token": token, "public_key": ""})
    html = client.get(f"/admin/elections/{e9}").get_data(as_text=True)
    [(position, key, issued)] = [n for n in svc.db.nodes(e9) if n[2]]
    assert (position, key) == (1, None) and issued
    # the operator is shown a command line that runs as it is
    assert (
        f"mixnode run --server http://localhost --key node-1.key --data ./node-1-data"
        f" --election {e9} --token {issued}" in html
    )
    assert XSS not in html and "&lt;script&gt;" in html


def test_credentials_csv(client: FlaskClient, svc: ElectionServices, eid: str,
                         printed: str) -> None:
    admin_client(client, svc)
    r = client.get(f"/admin/elections/{eid}/credentials.csv")
    assert r.mimetype == "text/csv" and "attachment" in r.headers["Content-Disposition"]
    assert r.headers["Cache-Control"] == "no-store"
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert rows == [["voter_id", "credential"]] + [
        [c["voter_id"], c["credential"]] for c in svc.voter_credentials(eid)]
    assert len(rows) == 7 and rows[1][1] == printed
    assert parse_credential(rows[1][1])  # a printed credential that parses


# --- the voter ----------------------------------------------------------------------------------
def test_voter_booth_signs_in_in_the_browser_and_casts(
    client: FlaskClient, svc: ElectionServices, eid: str, printed: str, private: bytes
) -> None:
    assert client.get(f"/vote/{eid}/booth").headers["Location"].endswith(f"/vote/{eid}")
    assert client.post(f"/vote/{eid}", data={"credential": printed}).status_code in (400, 405)
    booth_token = voter_client(client, eid)
    html = client.get(f"/vote/{eid}").get_data(as_text=True)
    assert '<label for="choice-0">Ann</label>' in html and "<legend>" in html
    # the credential field has no name: a browser never submits it to the server
    field = re.search(r'<input id="credential"[^>]*>', html).group(0)
    assert "name=" not in field and 'type="password"' in field
    params = re.search(
        r'<script type="application/json" id="election-params">(.*?)</script>', html, re.S
    )
    assert params and "\\u003cscript\\u003e" in params.group(1)  # tojson escapes '<'
    fingerprint = svc.get_election(eid)["fingerprint"]
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint)
    assert json.loads(params.group(1))["fingerprint"] == fingerprint
    cookie = client.get_cookie("session")
    assert cookie is None or printed not in cookie.value
    ballot = make_ballot(svc, eid, private)
    r = client.post(f"/vote/{eid}/cast", json=ballot, headers={"X-CSRF-Token": booth_token})
    tracker = r.get_json()["tracker"]
    assert r.status_code == 200 and r.get_json()["receipt_url"] == f"/vote/{eid}/receipt/{tracker}"
    [stored] = svc.db.latest_ballots(eid)
    assert stored.entry.tracker() == tracker
    assert svc.find_receipt(eid, tracker)["voter_id"] == credential_from_private(private).voter_id
    receipt = client.get(r.get_json()["receipt_url"]).get_data(as_text=True)
    assert tracker in receipt and "the one that counts" in receipt
    assert client.get(f"/vote/{eid}/receipt/" + "cd" * 32).status_code == 404


def test_cast_rejections_are_json_with_the_reason(client: FlaskClient, svc: ElectionServices,
                                                  eid: str, private: bytes) -> None:
    r = client.post(f"/vote/{eid}/cast", json={})
    assert r.status_code == 400  # no CSRF token
    token = voter_client(client, eid)
    h = {"X-CSRF-Token": token}
    # a real ballot whose proof is bound to another voter: the services' InvalidProof, as 400
    stolen = make_ballot(svc, eid, private, voter="0" * 32)
    r = client.post(f"/vote/{eid}/cast", json=stolen, headers=h)
    assert r.status_code == 400 and r.get_json()["error"].startswith("ballot proof")
    # a ballot signed by a key that is not in the authority's list: ProtocolViolation, as 409
    outsider = make_ballot(svc, eid, generate_credential().private)
    r = client.post(f"/vote/{eid}/cast", json=outsider, headers=h)
    assert r.status_code == 409 and "not a voter credential" in r.get_json()["error"]
    # a voter's ballot with another voter's signature: refused
    other = parse_credential(svc.voter_credentials(eid)[1]["credential"])
    forged = {**make_ballot(svc, eid, private),
              "signature": make_ballot(svc, eid, other)["signature"]}
    r = client.post(f"/vote/{eid}/cast", json=forged, headers=h)
    assert 400 <= r.status_code < 500 and "signature" in r.get_json()["error"]
    r = client.post(f"/vote/{eid}/cast", json={"ciphertext": "00", "extra": 1}, headers=h)
    assert r.status_code == 400 and "unexpected fields" in r.get_json()["error"]
    r = client.post(
        f"/vote/{eid}/cast", data="not json", headers={**h, "Content-Type": "application/json"}
    )
    assert r.status_code == 400
    # issue 13: strict JSON in the booth's cast too (UTF-16, depth, floats, content type)
    text = '{"ciphertext": "00", "proof": "00", "width": 1}'
    for data, ctype, status, phrase in (
        (text.encode("utf-16"), "application/json", 400, "not UTF-8"),
        (text.encode(), "application/json; charset=utf-16", 415, "application/json"),
        (text.encode(), "text/plain", 415, "application/json"),
        (b"[" * 3000 + b"]" * 3000, "application/json", 400, "nested deeper"),
        (text.replace("1}", "1.0}").encode(), "application/json", 400, "integers"),
    ):
        r = client.post(f"/vote/{eid}/cast", data=data, headers={
            **h, "Content-Type": ctype, "Accept": "application/json"})
        assert r.status_code == status and phrase in r.get_json()["error"], (data[:30], r.data)
    # a valid ballot once voting has closed: the services' ProtocolViolation, as 409
    svc.db.set_phase(eid, "closed")
    r = client.post(f"/vote/{eid}/cast", json=make_ballot(svc, eid, private), headers=h)
    assert r.status_code == 409 and "voting is not open" in r.get_json()["error"]
    html = client.get(f"/vote/{eid}").get_data(as_text=True)
    assert "Voting is closed" in html and "election-params" not in html
    assert svc.db.ballot_count(eid)[0] == 0


# --- assets ----------------------------------------------------------------------------------
def test_npm_modules_are_served_from_node_modules_only(tmp_path: Path,
                                                       svc: ElectionServices) -> None:
    pkg = tmp_path / "@noble" / "curves"
    (pkg / "abstract").mkdir(parents=True)
    (pkg / "secp256k1.js").write_text("export const x = 1;")
    (pkg / "abstract" / "curve.js").write_text("export const y = 2;")
    (pkg / "package.json").write_text("{}")
    (tmp_path / "secret.js").write_text("nope")
    c = create_app({"NODE_MODULES": str(tmp_path)}, services=svc).test_client()
    r = c.get("/assets/npm/@noble/curves/secp256k1.js")
    assert r.status_code == 200 and r.mimetype == "text/javascript" and b"x = 1" in r.data
    assert c.get("/assets/npm/@noble/curves/abstract/curve.js").status_code == 200
    assert c.get("/assets/npm/@noble/curves/package.json").status_code == 404
    assert c.get("/assets/npm/@noble/curves/../../secret.js").status_code == 404
    assert c.get("/assets/npm/@noble/curves/%2e%2e/%2e%2e/secret.js").status_code == 404
    assert c.get("/assets/npm/@noble/evil/x.js").status_code == 404
    assert c.get("/assets/npm/@noble/hashes/sha3.js").status_code == 404


def test_booth_says_so_when_npm_ci_has_not_run(tmp_path: Path, svc: ElectionServices,
                                               eid: str) -> None:
    c = create_app({"NODE_MODULES": str(tmp_path / "none")}, services=svc).test_client()
    assert "crypto library is not installed" in c.get(f"/vote/{eid}").get_data(as_text=True)


def authority_list(eid: str, voters: int = 3, test: bool = False) -> dict[str, Any]:
    """The public list a credential authority makes for ``eid`` (``mixvote-credentials
    generate``'s public-credentials.json)."""
    authority = generate_credential().private
    publics = [generate_credential().public for _ in range(voters)]
    return encode_credential_list(sign_credential_list(authority, eid, publics, test=test))


def upload(client: FlaskClient, eid: str, token: str, body: bytes) -> None:
    r = client.post(f"/admin/elections/{eid}/credentials", data={
        "csrf_token": token, "list": (io.BytesIO(body), "p.json")},
        content_type="multipart/form-data")
    assert r.status_code == 302


def test_admin_uploads_the_signed_list_of_a_normal_election(
    client: FlaskClient, svc: ElectionServices, eid: str
) -> None:
    e5 = new_election(svc, "Real one", phase="setup", test=False)
    admin_client(client, svc)
    html = client.get(f"/admin/elections/{e5}").get_data(as_text=True)
    assert 'id="credentials-form"' in html and 'enctype="multipart/form-data"' in html
    assert "credentials.csv" not in html and 'id="test-ballots"' not in html
    assert f"mixvote-credentials generate --authority authority.key --election {e5}" in html
    token = csrf_of(client, f"/admin/elections/{e5}")
    # refused lists leave the election as it was: not JSON, another election's, a test list
    for body, reason in (
        (b"not json", "credential list: the file is not JSON"),
        (json.dumps(authority_list(eid)).encode(), f"the list is for election {eid!r}"),
        (json.dumps(authority_list(e5, test=True)).encode(), "a test list"),
    ):
        upload(client, e5, token, body)
        page = client.get(f"/admin/elections/{e5}").get_data(as_text=True)
        assert "Credential list refused: " in page, reason
        assert reason.replace("'", "&#39;") in page, reason
        assert svc.get_election(e5)["voters"] == 0 and svc.credential_list(e5) is None
    body = authority_list(e5, voters=3)
    upload(client, e5, token, json.dumps(body).encode())
    assert "3 public credentials loaded" in client.get(f"/admin/elections/{e5}").get_data(
        as_text=True)
    loaded = svc.get_election(e5)
    assert loaded["voters"] == 3 and loaded["credentials_loaded"]
    assert encode_credential_list(svc.credential_list(e5)) == body
    # with every node enrolled, the loaded list fixes the election fingerprint
    assert loaded["fingerprint"] and ("maybe_start_dkg", (e5,)) in svc.loop.scheduled
    # a test election shows its download and the test-ballot form instead
    html = client.get(f"/admin/elections/{eid}").get_data(as_text=True)
    assert "credentials.csv" in html and 'id="test-ballots"' in html
    assert 'id="credentials-form"' not in html
