"""The voter- and admin-facing pages of the web UI against the fake services of webui_fake: the
home page by state, the ballot tracker from seal to board (the finder, the board's rows), the
standalone audit page, plain words and the hooks for the election fingerprint and the test-election
flag, the results page (chart, turnout, verifier), the admin console's page and the favicon."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.unit.webui_fake import XSS, FakeServices, admin_client, client_for, csrf_of
from webui.charts import bar_chart
from webui.site import ENTRY_KINDS, ballot_tracker, election_state, short_hash

CT = "02" + "11" * 32 + "03" + "22" * 32  # a ciphertext's hex as the board shows it
TRACKER = hashlib.sha256(bytes.fromhex(CT)).hexdigest()
KINDS = ["election.params", "dkg.deal", "dkg.complaint", "dkg.complaint", "ballot", "ballot"]


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
def client(svc: BoardServices) -> FlaskClient:
    return client_for(svc)


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
