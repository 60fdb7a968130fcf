"""The pages in chromium against the Flask app alone, with the fake services of the unit tests
(no server process, no mix nodes): what the election run of test_webui_e2e cannot reach.

- Under first-ballot-counts, a return visit to the booth says the voter has voted and cannot
  vote again, and offers no ballot form.
- A test election is labelled on every page, and the election fingerprint (when the election
  carries one) is shown, at 390 px without overflow.
- Extreme names (a 300-character word, markup) and a 120-entry board fit a phone.
Screenshots go to ``test-artifacts/screenshots/pages-*.png``. The Flask app alone has no status
websocket, so the live views' failed connection attempts are the only errors allowed here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.browser.test_webui_e2e import (
    ARGS,
    CHROMIUM,
    PHONE,
    REQUIRED,
    Watch,
    no_overflow,
    playwright_sync,
    touch_targets,
)
from tests.browser.test_webui_e2e import pytestmark as e2e_marks
from tests.unit.test_webui_site import BoardServices
from tests.unit.webui_fake import ADMIN_TOKEN, SECRET, XSS
from webui import create_app

pytestmark = e2e_marks
WORD = "Supercalifragilistic" * 15  # 300 characters without a space


@pytest.fixture()
def site() -> Iterator[tuple[str, BoardServices]]:
    svc = BoardServices()
    app = create_app({"TESTING": False, "SECRET_KEY": "pages-test"}, services=svc)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", svc
    finally:
        server.shutdown()
        thread.join(10)


def real_errors(watch: Watch) -> list[str]:
    """The errors except the live views' websocket attempts (no websocket without Tornado)."""
    return [e for e in watch.errors if "/ws/status/" not in e and "WebSocket" not in e]


def test_first_ballot_counts_and_test_election_labels_on_a_phone(
    site: tuple[str, BoardServices],
) -> None:
    base, svc = site
    e = svc.elections["e1"]
    e.update(
        policy="first-ballot-counts",
        test_election=True,
        fingerprint="9f" * 32,
        choices=["Ann", "Bob " + XSS, WORD],
    )
    assert REQUIRED or CHROMIUM.exists()
    expect = playwright_sync.expect
    watch = Watch()
    with playwright_sync.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        ctx = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        page = watch.page(ctx)

        # --- the voter casts; a return visit under first-ballot-counts refuses a new ballot ---
        page.goto(f"{base}/vote/e1")
        expect(page.locator("#test-election-banner")).to_be_visible()
        page.get_by_label("Your voter credential").fill(SECRET)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#election-fingerprint")).to_contain_text("9f" * 32)
        page.get_by_label("Ann", exact=True).check()
        page.get_by_role("button", name="Continue").click()
        page.get_by_role("button", name="Seal (encrypt) my ballot").click()
        page.get_by_role("button", name="Cast this ballot").click()
        expect(page.locator("#cast-result")).to_be_visible()
        assert "your first ballot: it is final" in page.locator("#cast-policy").inner_text()
        assert page.locator("#vote-again").is_hidden()
        no_overflow(page, "booth voted")
        Watch.shot(page, "pages-booth-first-ballot-voted")
        page.goto(f"{base}/vote/e1/booth")  # the credential is kept nowhere: sign in again
        page.get_by_label("Your voter credential").fill(SECRET)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#previous-vote")).to_be_visible()
        assert "cannot vote again" in page.locator("#previous-vote-text").inner_text()
        assert page.locator("#ballot-form").is_hidden()
        assert len(svc.ballots) == 1
        Watch.shot(page, "pages-booth-first-ballot-return")

        # --- every page of a test election says so, fits the phone, and shows the fingerprint ---
        page.goto(f"{base}/admin/login")
        page.get_by_label("Admin token").fill(ADMIN_TOKEN)
        page.get_by_role("button", name="Sign in").click()
        e["phase"] = "tallied"
        paths = {
            "election": "/elections/e1",
            "board": "/elections/e1/board?offset=50",
            "audit": "/elections/e1/audit",
            "results": "/elections/e1/results",
            "receipt": f"/vote/e1/receipt/{103:064x}",
            "admin-election": "/admin/elections/e1",
        }
        for name, path in paths.items():
            page.goto(f"{base}{path}")
            expect(page.locator("#test-election-banner")).to_be_visible()
            no_overflow(page, path)
            touch_targets(page, path)
            Watch.shot(page, f"pages-{name}")
        for path in ("/elections/e1", "/elections/e1/results", "/elections/e1/audit"):
            page.goto(f"{base}{path}")
            expect(page.locator("#election-fingerprint")).to_be_visible()
        page.goto(f"{base}/elections/e1/results")
        labels = page.locator("#tally-chart .bar-label")
        assert labels.nth(1).inner_text() == "Bob " + XSS
        box = labels.nth(2).bounding_box()
        assert box is not None and box["x"] + box["width"] <= PHONE["width"]
        page.goto(f"{base}/")
        assert "test election" in page.locator('[data-election="e1"]').inner_text()
        no_overflow(page, "home")
        browser.close()
    assert real_errors(watch) == [], "\n".join(real_errors(watch))


def test_test_election_hooks_are_absent_for_a_normal_election(
    site: tuple[str, BoardServices],
) -> None:
    base, _svc = site
    with playwright_sync.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        page: Any = browser.new_context(viewport=PHONE).new_page()
        for path in ("/", "/elections/e1", "/elections/e1/board", "/vote/e1"):
            page.goto(f"{base}{path}")
            assert page.locator("#test-election-banner").count() == 0, path
            assert page.locator("#election-fingerprint").count() == 0, path
            no_overflow(page, path)
        browser.close()
