"""A real browser (the system Chromium, driven by Playwright) walks the health worker's screening flow
against `edge-scan app` running as its own process, and Chromium's net log shows every request it made
stayed on the app's origin."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.chromium_flags import QUIET_CHROMIUM_FLAGS

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    *QUIET_CHROMIUM_FLAGS,
    "--disable-extensions",
    "--disable-features=AutofillServerCommunication,OptimizationHints,Translate,MediaRouter",
    "--disable-domain-reliability",
    "--no-pings",
]
"""The kiosk's flags (docs/deployment): Chromium's own background services stay quiet."""
FIXTURE_XRAY = sorted((Path(__file__).parents[1] / "fixtures" / "chest_xray").rglob("*.jpeg"))[0]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Chromium (.ci/run installs it)")


@pytest.fixture
def running_app():
    """`edge-scan app --port 0` as a separate process; yields its address once it listens."""
    process = subprocess.Popen(
        [sys.executable, "-m", "edge_app", "app", "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        line = process.stderr.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert found, f"edge-scan app did not announce its address: {line!r}"
        yield found.group()
    finally:
        process.terminate()
        process.wait(timeout=10)


def requests_in_net_log(path: Path) -> list[dict]:
    """Every URL request Chromium's net log recorded: its URL, and the site it was made for
    (the network isolation key; "null" or another site for Chromium's own update and sign-in services)."""
    log = json.loads(path.read_text(encoding="utf-8"))
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    events = [event for event in log["events"] if event["type"] == start_job]
    return [event["params"] for event in events if "url" in event.get("params", {})]


def made_for_the_app(request: dict, origin: str) -> bool:
    """A request on behalf of the app's pages: its network isolation key or its initiator is the app's site."""
    site = f"http://{urlsplit(origin).hostname}"
    return request.get("network_isolation_key", "").startswith(site) or request.get("initiator", "").startswith(site)


def test_a_health_worker_screens_a_child_in_the_browser(running_app, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    damaged = tmp_path / "damaged.jpeg"
    damaged.write_bytes(FIXTURE_XRAY.read_bytes()[:500])
    net_log = tmp_path / "net-log.json"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_FLAGS, f"--log-net-log={net_log}"]
        )
        page = browser.new_page(viewport={"width": 360, "height": 740}, locale="en-US")
        page.goto(running_app)
        page.get_by_label("Operator", exact=True).fill("Amina")
        page.get_by_label("Patient ID", exact=True).fill("P-0042")
        page.get_by_label("X-ray images", exact=True).set_input_files([FIXTURE_XRAY, damaged])
        page.get_by_role("button", name="Scan", exact=True).click()

        verdicts = re.compile(r"^(NORMAL|PNEUMONIA suspected - REFER|NORMAL\? uncertain)")
        verdict = page.get_by_role("heading", name=verdicts)
        expect(verdict).to_be_visible(timeout=60_000)
        expect(page.get_by_role("heading", name="NOT SCANNED")).to_be_visible()
        expect(page.get_by_text("damaged.jpeg")).to_be_visible()
        result_url = page.url

        page.get_by_role("link", name="Print referral slip").click()
        expect(page.get_by_role("heading", name="PneumoScan screening report").first).to_be_visible()
        expect(page.get_by_text("P-0042").first).to_be_visible()

        page.goto(result_url)
        page.get_by_label("Language").select_option("fr")
        page.get_by_role("button", name="Change").click()
        expect(page.locator("html")).to_have_attribute("lang", "fr")
        expect(page.get_by_role("navigation").get_by_role("link", name="Nouveau dépistage")).to_be_visible()
        expect(page.get_by_role("heading", name="NON ANALYSÉE")).to_be_visible()
        expect(page.get_by_role("link", name="Imprimer la fiche de référence")).to_be_visible()
        browser.close()

    history = subprocess.run(
        [sys.executable, "-m", "edge_app", "history", "--patient-id", "P-0042", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [json.loads(line) for line in history.stdout.splitlines()]
    assert [(row["path"], row["status"], row["operator"]) for row in rows] == [
        (FIXTURE_XRAY.name, "ok", "Amina"),
        ("damaged.jpeg", "rejected", "Amina"),
    ]

    origin = urlsplit(running_app).netloc
    for_the_app = [r["url"] for r in requests_in_net_log(net_log) if made_for_the_app(r, running_app)]
    assert f"{running_app}static/app.css" in for_the_app, "the net log recorded none of the app's requests"
    assert sorted(url for url in for_the_app if urlsplit(url).netloc != origin) == []


def test_a_screening_can_be_done_by_keyboard_alone(running_app):
    from playwright.sync_api import expect, sync_playwright

    def tab_to(page, element_id: str) -> None:
        for _ in range(20):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == element_id:
                return
        raise AssertionError(f"Tab never reached #{element_id}")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 360, "height": 740}, locale="en-US")
        page.goto(running_app)
        tab_to(page, "operator")
        page.keyboard.type("Fatou")
        tab_to(page, "patient_id")
        page.keyboard.type("P-0077")
        tab_to(page, "images")
        page.locator(":focus").set_input_files([FIXTURE_XRAY])  # the file dialog itself is the system's
        tab_to(page, "heatmaps")
        page.keyboard.press("Space")  # untick: faster
        page.keyboard.press("Tab")
        expect(page.locator(":focus")).to_have_text("Scan")
        page.keyboard.press("Enter")
        expect(page.get_by_role("link", name="Print referral slip")).to_be_visible(timeout=60_000)
        expect(page.get_by_text("Patient ID: P-0077 · Operator: Fatou").first).to_be_visible()
        browser.close()


def test_a_french_health_worker_reads_a_refused_calibration_in_french_in_the_browser(running_app):
    """The refusal and what to do are visible in French; the engineer's English report is folded away until
    opened."""
    from playwright.sync_api import expect, sync_playwright

    folder = FIXTURE_XRAY.parents[1]  # the fixture's NORMAL/ and PNEUMONIA/: far too few to calibrate on
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 360, "height": 740}, locale="fr-FR")
        page.goto(running_app + "site")
        page.get_by_label("Radiographies NORMALES", exact=True).set_input_files(sorted((folder / "NORMAL").iterdir()))
        page.get_by_label("Radiographies avec PNEUMONIE", exact=True).set_input_files(
            sorted((folder / "PNEUMONIA").iterdir())
        )
        page.get_by_role("button", name="Étalonner", exact=True).click()
        expect(page.get_by_text("Étalonnage refusé : rien n'a été modifié.")).to_be_visible(timeout=60_000)
        expect(page.get_by_text(re.compile(r"cette promesse en demande au moins 64\."))).to_be_visible()
        english = page.get_by_text("Calibration REFUSED", exact=False)
        expect(english).to_be_hidden()
        page.get_by_text("Détails pour l'ingénieur du programme").click()
        expect(english).to_be_visible()
        browser.close()
