"""End to end in a real browser: Debian's chromium driven by Playwright against the real server
(``mixserver``) and three real mix nodes (``mixnode``).

One election is run from creation to results, as its admin and its voters would:
- the admin creates it in the web UI (a first try with duplicate choices and t > n is refused at
  the fields), enrols three nodes and watches the live console, **without reloading**, show the
  nodes connect, "Key ready" and the Open button become enabled;
- a voter finds it on the home page (an election still in set-up is not listed), signs in,
  chooses, checks, seals, **audits** the sealed ballot and checks that audit on the audit page in a
  **second browser context** (another device), then seals a fresh ballot and casts it: the
  tracker shown when sealed is the one on the receipt and on the board, where the voter's row is
  highlighted; a return visit says when they voted; signed out in another tab, the sealed ballot is
  kept and "sign in" is a link;
- the admin confirms Close, Start mixing and Publish in dialogs; the console follows each hop;
- the results page shows the tally with long and hostile choice names intact in table and chart.
Every page is also opened at 390×844 (a phone): no horizontal overflow, touch targets ≥ 44 px.
No page may log a console error or a failed request (the favicon included).
Screenshots go to ``test-artifacts/screenshots/`` (not committed).
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mixserver.harness import node_key, start_node, start_server

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "test-artifacts" / "screenshots"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
HOSTILE = "Bob <script>alert(2)</script>"
LONG = "Carol-Anne Featherstonehaugh-Worthington of the Extraordinarily Long Party Name"
CHOICES = ["Ann", HOSTILE, LONG]

# Locally the test is skipped when the browser or the npm packages are missing; under CI
# (`./dev test` installs both) a missing prerequisite is a failure, never a silent skip.
REQUIRED = bool(os.environ.get("CI"))
playwright_sync = (
    importlib.import_module("playwright.sync_api")
    if REQUIRED
    else pytest.importorskip("playwright.sync_api")
)
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not REQUIRED and not CHROMIUM.exists(), reason="needs Debian chromium (/usr/bin/chromium)"
    ),
    pytest.mark.skipif(
        not REQUIRED and not (ROOT / "node_modules/@noble/curves/package.json").exists(),
        reason="needs `npm ci` (./dev install)",
    ),
]
if REQUIRED:
    assert CHROMIUM.exists(), "CI needs Debian chromium at /usr/bin/chromium"
    assert (ROOT / "node_modules/@noble/curves/package.json").exists(), "CI needs `npm ci`"


@pytest.fixture()
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


def wait_until(check: Callable[[], Any], what: str, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


class Watch:
    """Console errors, uncaught exceptions and failed requests of every page, and screenshots."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def page(self, context: Any) -> Any:
        page = context.new_page()
        page.on("pageerror", lambda e: self.errors.append(f"pageerror {page.url}: {e}"))
        page.on(
            "console",
            lambda m: (
                self.errors.append(f"console {page.url}: {m.text}") if m.type == "error" else None
            ),
        )
        page.on(
            "response",
            lambda r: self.errors.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None,
        )
        # A load cut short by the page navigating away (ERR_ABORTED) is not an error.
        page.on(
            "requestfailed",
            lambda r: (
                self.errors.append(f"failed {r.url}: {r.failure}")
                if "ERR_ABORTED" not in (r.failure or "")
                else None
            ),
        )
        return page

    @staticmethod
    def shot(page: Any, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def focused(page: Any, element_id: str) -> None:
    """Keyboard focus is on the element (read from the page: a page in the background reports
    no focus to Playwright's own check)."""
    wait_until(
        lambda: page.evaluate("document.activeElement && document.activeElement.id") == element_id,
        f"focus on #{element_id}",
        5,
    )


def no_overflow(page: Any, where: str) -> None:
    """Nothing on the page is wider than the viewport (no sideways scrolling on a phone)."""
    width = page.viewport_size["width"]
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{where}: page is {scroll} px wide at a {width} px viewport"


def touch_targets(
    page: Any,
    where: str,
    selector: str = "button:visible, .button:visible, "
    "input[type=radio]:visible + label, summary:visible",
) -> None:
    """Every visible button, button-like link, radio label and disclosure is ≥ 44 px tall."""
    for loc in page.locator(selector).all():
        box = loc.bounding_box()
        if box is None:
            continue
        assert box["height"] >= 43.5, f"{where}: {loc.inner_text()!r} is {box['height']} px tall"


def test_election_in_chromium(tmp_path: Path, processes: list[subprocess.Popen[bytes]]) -> None:
    server, base, admin_token = start_server(
        tmp_path / "server", extra=["--connect-grace", "20", "--hop-timeout", "60"]
    )
    processes.append(server)
    expect = playwright_sync.expect
    watch = Watch()
    shot = watch.shot
    with playwright_sync.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        mobile = watch.page(phone)

        def on_phone(path: str, name: str) -> None:
            mobile.goto(f"{base}{path}")
            no_overflow(mobile, path)
            shot(mobile, f"phone-{name}")

        # --- the admin creates the election; the form's errors are at their fields ---
        admin_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        admin_ctx.grant_permissions(["clipboard-read", "clipboard-write"])
        admin = watch.page(admin_ctx)
        admin.goto(f"{base}/admin/")
        admin.get_by_label("Admin token").fill(admin_token)
        admin.get_by_role("button", name="Sign in").click()
        phone.add_cookies(admin_ctx.cookies())  # the phone sees the admin pages too
        admin.get_by_role("link", name="Create an election").click()
        admin.get_by_label("Title").fill("Browser test <b>election</b>")
        admin.get_by_label("Question").fill("Who should chair the committee?")
        admin.get_by_label("Choices (one per line)").fill("Ann\nAnn")
        admin.get_by_label("Mix nodes (n)").fill("3")
        admin.get_by_label("Decryption threshold (t)").fill("4")
        admin.get_by_role("button", name="Create").click()
        expect(admin.locator("#choices-error")).to_contain_text("must be different")
        expect(admin.locator("#t-error")).to_contain_text("cannot be more than the number")
        focused(admin, "choices")
        assert admin.locator("#choices").get_attribute("aria-invalid") == "true"
        assert admin.url.endswith("/admin/elections/new")  # nothing was sent
        shot(admin, "01-admin-form-errors")
        admin.get_by_label("Choices (one per line)").fill("\n".join(CHOICES))
        admin.get_by_label("Decryption threshold (t)").fill("2")
        admin.get_by_label("Test election", exact=True).check()  # the server holds them
        admin.get_by_label("Voter credentials").fill("3")
        admin.get_by_role("button", name="Create").click()
        eid = admin.locator("#election-id").inner_text()
        expect(admin.locator("#test-election-banner")).to_be_visible()
        assert "Browser test <b>election</b>" in admin.locator("h1").inner_text()  # escaped text
        on_phone("/admin/elections/new", "admin-new")

        # An election left in set-up is not listed publicly.
        admin.goto(f"{base}/admin/elections/new")
        admin.get_by_label("Title").fill("Still being set up")
        admin.get_by_label("Choices (one per line)").fill("Yes\nNo")
        admin.get_by_role("button", name="Create").click()
        hidden_eid = admin.locator("#election-id").inner_text()
        # a normal election: the credential list comes from the authority, as an upload
        expect(admin.locator("#credentials-form")).to_be_visible()
        assert admin.locator("#test-ballots").count() == 0

        # --- three nodes enrolled; the console follows them live, without a reload ---
        admin.goto(f"{base}/admin/elections/{eid}")
        commands = admin.locator("#enrol-setup details pre")
        for i in range(3):  # each node its own key file and data directory
            assert f"--key node-{i + 1}.key --data ./node-{i + 1}-data" in commands.nth(
                i
            ).text_content()
        keys = []
        for i in range(1, 4):
            key = tmp_path / f"node{i}.key"
            admin.get_by_label("Node identity key", exact=False).fill(node_key(key))
            admin.get_by_role("button", name="Enrol a node").click()
            keys.append(key)
        expect(admin.locator("#console-connection")).to_have_text(re.compile(r"^Live"))
        assert admin.locator("#console-nodes-online").inner_text() == "0"
        assert admin.locator("#action-open").is_disabled()
        assert "any 2 can decrypt (threshold)" in admin.locator("#console").inner_text()
        loads: list[str] = []
        admin.on("framenavigated", lambda f: loads.append(f.url) if f == admin.main_frame else None)
        for i, key in enumerate(keys, 1):
            processes.append(start_node(base, key, tmp_path / f"node{i}"))
        expect(admin.locator("#console-nodes-online")).to_have_text("3", timeout=60_000)
        expect(admin.locator("#node-2 .node-connected-text")).to_have_text("yes")
        expect(admin.locator("#console-key")).to_have_text("Key ready", timeout=180_000)
        expect(admin.locator("#action-open")).to_be_enabled()
        assert loads == [], f"the console reloaded: {loads}"
        shot(admin, "02-admin-console-key-ready")
        on_phone(f"/admin/elections/{eid}", "admin-console")
        admin.locator("#action-open").click()  # opening needs no confirmation
        expect(admin.locator("#phase .phase")).to_have_text("Voting open", timeout=30_000)
        creds_csv = admin.context.request.get(
            f"{base}/admin/elections/{eid}/credentials.csv"
        ).text()
        creds = list(csv.DictReader(io.StringIO(creds_csv)))
        assert len(creds) == 3

        # --- the voter: home page, sign in, choose, check, seal, audit ---
        voter_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        voter_ctx.grant_permissions(["clipboard-read", "clipboard-write"])
        voter = watch.page(voter_ctx)
        voter.goto(f"{base}/")
        assert voter.locator(f'[data-election="{hidden_eid}"]').count() == 0
        card = voter.locator(f'#elections-voting [data-election="{eid}"]')
        expect(card).to_be_visible()
        shot(voter, "03-home")
        on_phone("/", "home")
        card.get_by_role("link", name=re.compile("^Vote")).click()
        expect(voter.locator("#election-fingerprint")).to_be_visible()
        voter.get_by_label("Your voter credential").fill("AAAA-" + creds[0]["credential"][5:])
        voter.get_by_role("button", name="Sign in").click()
        expect(voter.locator("#credential-error")).to_contain_text("typing mistake")
        voter.get_by_label("Your voter credential").fill(creds[0]["credential"])
        voter.get_by_role("button", name="Sign in").click()
        expect(voter.get_by_role("button", name="Continue")).to_be_enabled()
        assert voter.locator("#credential").input_value() == ""  # not kept in the field
        assert all(creds[0]["credential"] not in c["value"] for c in voter_ctx.cookies())
        voter.get_by_role("button", name="Continue").click()
        expect(voter.locator("#choose-error")).to_have_text("Choose one option first.")
        voter.get_by_label(HOSTILE).check()
        voter.get_by_role("button", name="Continue").click()
        focused(voter, "review-title")
        assert voter.locator("#review-choice").inner_text() == HOSTILE
        assert voter.locator("#ballot-form").is_hidden()
        voter.get_by_role("button", name="Seal (encrypt) my ballot").click()
        focused(voter, "sealed-title")
        first_tracker = voter.locator("#sealed-tracker").inner_text()
        assert re.fullmatch(r"[0-9a-f]{64}", first_tracker)
        shot(voter, "04-booth-sealed")
        voter.get_by_role("button", name="Audit this ballot instead").click()
        focused(voter, "audit-title")
        assert voter.locator("#audit-choice").inner_text() == HOSTILE
        assert voter.locator("#audit-result").get_attribute("data-ok") == "true"
        assert voter.locator("#audit-checks li.bad").count() == 0
        assert voter.locator("#audit-checks li.ok").count() == 5
        assert voter.locator("#sealed").is_hidden()  # the audited ballot is gone
        audit_json = voter.locator("#audit-json").text_content()
        assert json.loads(audit_json)["tracker"] == first_tracker
        shot(voter, "05-booth-audit")

        # --- the audit is checked on another device (a second browser context) ---
        other = watch.page(browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True))
        other.goto(f"{base}/elections/{eid}/audit")
        other.get_by_label("The audit", exact=False).fill("not json")
        other.get_by_role("button", name="Check this ballot").click()
        expect(other.locator("#audit-input-error")).to_contain_text("not an audit")
        tampered = json.loads(audit_json)
        tampered["randomness"][0] = str(int(tampered["randomness"][0]) + 1)
        other.get_by_label("The audit", exact=False).fill(json.dumps(tampered))
        other.get_by_role("button", name="Check this ballot").click()
        expect(other.locator("#audit-outcome")).to_have_attribute("data-ok", "false")
        other.get_by_label("The audit", exact=False).fill(audit_json)
        other.get_by_role("button", name="Check this ballot").click()
        expect(other.locator("#audit-outcome")).to_have_attribute("data-ok", "true")
        focused(other, "audit-outcome-title")
        assert other.locator("#audit-outcome-text").inner_text() == (
            f"This ballot encrypts the choice “{HOSTILE}” under this election's key. "
            "Every check passed."
        )
        assert other.locator("#audit-tracker").inner_text() == first_tracker
        no_overflow(other, "audit page")
        shot(other, "phone-audit-checked")

        # --- a fresh ballot is cast: the sealed tracker is the receipt's and the board's ---
        voter.get_by_role("button", name="Make a new ballot").click()
        voter.get_by_label("Ann", exact=True).check()
        voter.get_by_role("button", name="Continue").click()
        voter.get_by_role("button", name="Seal (encrypt) my ballot").click()
        tracker = voter.locator("#sealed-tracker").inner_text()
        assert tracker != first_tracker  # fresh randomness
        voter.get_by_role("button", name="Cast this ballot").click()
        focused(voter, "cast-title")
        expect(voter.locator("#cast-title")).to_have_text("You have voted")
        assert voter.locator("#tracker").inner_text() == tracker
        assert voter.locator("#ballot-form").is_hidden() and voter.locator("#sealed").is_hidden()
        assert voter.locator("input[name=choice]:checked").count() == 0
        assert re.match(
            r"^data:application/json", voter.locator("#receipt-download").get_attribute("href")
        )
        shot(voter, "06-booth-voted")
        voter.locator("#receipt-link").click()
        assert voter.locator("#receipt-tracker").inner_text() == tracker
        receipt_path = voter.url.removeprefix(base)
        voter.get_by_role("link", name="See it on the bulletin board").click()
        expect(voter.locator("#receipt-result")).to_contain_text(tracker)
        mine = voter.locator("tr.mine")
        expect(mine).to_have_count(1)
        assert mine.get_attribute("data-tracker") == tracker
        expect(voter.locator(f"#{mine.get_attribute('id')} .mine-label")).to_be_visible()
        complaint = voter.locator("tr.kind-dkg\\.complaint .kind-help").first
        assert "normal" in complaint.inner_text()
        shot(voter, "07-board-mine")

        # --- a return visit says so, once signed in again (the credential is kept nowhere) ---
        voter.goto(f"{base}/vote/{eid}/booth")
        expect(voter.get_by_label("Your voter credential")).to_be_visible()
        voter.get_by_label("Your voter credential").fill(creds[0]["credential"])
        voter.get_by_role("button", name="Sign in").click()
        expect(voter.locator("#previous-vote")).to_be_visible()
        assert re.search(
            r"You voted at \d\d:\d\d\. .*replaces",
            voter.locator("#previous-vote-text").inner_text(),
        )
        voter.get_by_label("Ann", exact=True).check()
        voter.get_by_role("button", name="Continue").click()
        voter.get_by_role("button", name="Seal (encrypt) my ballot").click()
        sealed_again = voter.locator("#sealed-tracker").inner_text()
        voter.get_by_role("button", name="Cast this ballot").click()
        expect(voter.locator("#cast-result")).to_be_visible()
        expect(voter.locator("#tracker")).to_have_text(sealed_again)

        # --- on a phone: the booth's targets are large enough and nothing overflows ---
        voter_phone = watch.page(
            browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        )
        voter_phone.goto(f"{base}/vote/{eid}")
        voter_phone.get_by_label("Your voter credential").fill(creds[1]["credential"])
        voter_phone.get_by_role("button", name="Sign in").click()
        expect(voter_phone.get_by_role("button", name="Continue")).to_be_enabled()
        no_overflow(voter_phone, "booth")
        touch_targets(voter_phone, "booth")
        shot(voter_phone, "phone-booth")
        voter_phone.get_by_label(LONG).check()
        voter_phone.get_by_role("button", name="Continue").click()
        voter_phone.get_by_role("button", name="Seal (encrypt) my ballot").click()
        no_overflow(voter_phone, "booth sealed")
        touch_targets(voter_phone, "booth sealed")
        cast_box = voter_phone.get_by_role("button", name="Cast this ballot").bounding_box()
        audit_box = voter_phone.get_by_role(
            "button", name="Audit this ballot instead"
        ).bounding_box()
        gap_x = audit_box["x"] - (cast_box["x"] + cast_box["width"])
        gap_y = audit_box["y"] - (cast_box["y"] + cast_box["height"])
        assert max(gap_x, gap_y) >= 8, "the Cast and Audit buttons touch"
        shot(voter_phone, "phone-booth-sealed")
        voter_phone.get_by_role("button", name="Cast this ballot").click()
        expect(voter_phone.locator("#cast-result")).to_be_visible()
        no_overflow(voter_phone, "booth voted")
        shot(voter_phone, "phone-booth-voted")
        on_phone(f"/elections/{eid}", "election")
        on_phone(f"/elections/{eid}/board", "board")
        on_phone(receipt_path, "receipt")

        # --- the public page follows the phase; Close, Start mixing, Publish are confirmed ---
        live = watch.page(browser.new_context())
        live.goto(f"{base}/elections/{eid}")
        expect(live.locator("#live-connection")).to_have_text(re.compile(r"^Live"))
        expect(live.locator("#vote-button")).to_be_visible()
        admin.goto(f"{base}/admin/elections/{eid}")
        expect(admin.locator("#console-connection")).to_have_text(re.compile(r"^Live"))
        expect(admin.locator("#console-ballots")).to_have_text("3")
        admin.locator("#action-close").click()
        expect(admin.locator("#confirm-dialog")).to_be_visible()
        assert "No more ballots" in admin.locator("#confirm-text").inner_text()
        shot(admin, "09-admin-confirm-close")
        admin.locator("#confirm-no").click()
        expect(admin.locator("#confirm-dialog")).to_be_hidden()
        assert admin.locator("#phase .phase").inner_text() == "Voting open"  # nothing happened
        admin.locator("#action-close").click()
        with admin.expect_navigation():
            admin.locator("#confirm-yes").click()
        expect(admin.locator("#action-mix")).to_be_enabled(timeout=30_000)
        expect(live.locator("#vote-button")).to_be_hidden()  # without a reload
        expect(live.locator("#phase-note")).to_contain_text("Voting is closed")
        loads.clear()
        admin.locator("#action-mix").click()
        expect(admin.locator("#confirm-dialog")).to_be_visible()
        with admin.expect_navigation():
            admin.locator("#confirm-yes").click()
        loads.clear()
        expect(admin.locator("#console-hops tbody tr.hop-accepted")).to_have_count(
            3, timeout=180_000
        )
        expect(admin.locator("#action-publish")).to_be_enabled()
        assert loads == [], f"the console reloaded during mixing: {loads}"
        shot(admin, "10-admin-console-mixed")
        admin.locator("#action-publish").click()
        expect(admin.locator("#confirm-dialog")).to_be_visible()
        admin.locator("#confirm-yes").click()
        expect(admin.locator("#console-decrypt")).to_have_text(
            "Done: the result is published.", timeout=180_000
        )
        expect(live.locator("#live-phase")).to_have_attribute(
            "data-phase", "tallied", timeout=60_000
        )
        expect(live.locator("#results-button")).to_be_visible()
        expect(live.locator("#live-hops tr.hop-accepted")).to_have_count(3)
        assert live.locator("#live-hops tr.hop-rejected").count() == 0
        shot(live, "11-live-tallied")
        shot(admin, "12-admin-console-tallied")

        # --- results: the tally, the chart's labels intact, turnout, the verifier ---
        results = watch.page(browser.new_context(viewport={"width": 1280, "height": 900}))
        results.goto(f"{base}/elections/{eid}/results")
        tally = {
            row.locator("td").nth(0).inner_text(): int(row.locator("td").nth(1).inner_text())
            for row in results.locator("#tally tbody tr").all()
        }
        assert tally == {"Ann": 1, HOSTILE: 0, LONG: 1}  # the HOSTILE ballot was audited
        for page in (results, mobile):
            if page is mobile:
                mobile.goto(f"{base}/elections/{eid}/results")
                no_overflow(mobile, "results")
            labels = page.locator("#tally-chart .bar-label")
            assert [labels.nth(i).inner_text() for i in range(3)] == CHOICES
            width = page.viewport_size["width"]
            for i in range(3):
                box = labels.nth(i).bounding_box()
                assert box["x"] >= 0 and box["x"] + box["width"] <= width, CHOICES[i]
                clipped = labels.nth(i).evaluate("e => e.scrollWidth > e.clientWidth")
                assert not clipped, CHOICES[i]
            bars = page.locator("#tally-chart .bar-track")
            assert bars.first.bounding_box()["width"] >= 120  # readable, not shrunk to nothing
        assert results.locator("#turnout-cast").inner_text() == "3"  # one voter voted twice
        assert results.locator("#turnout-counted").inner_text() == "2"
        assert (
            "Install the verifier"
            in results.locator("#record-title + p + .actions + ol").inner_text()
        )
        assert results.locator("#verify-command").inner_text() == f"mixverify {eid}"
        assert results.context.request.get(f"{base}/elections/{eid}/record.zip").ok
        assert results.context.request.get(f"{base}/elections/{eid}/mixed.csv").ok
        shot(results, "13-results")
        shot(mobile, "phone-results")
        for path, name in (
            ("/", "home-tallied"),
            (f"/elections/{eid}", "election-tallied"),
            (f"/elections/{eid}/board?offset=0", "board-first-page"),
            (f"/elections/{eid}/audit", "audit"),
            (f"/vote/{eid}", "vote-login-closed"),
            ("/admin/", "admin-dashboard"),
            ("/admin/login", "admin-login"),
        ):
            on_phone(path, name)

        # --- the favicon is served (no 404 logged by any page) ---
        icon = results.context.request.get(f"{base}/favicon.ico")
        assert icon.ok and icon.headers["content-type"].startswith("image/svg+xml")
        browser.close()
    assert watch.errors == [], "\n".join(watch.errors)
