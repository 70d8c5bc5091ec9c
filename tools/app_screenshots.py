"""Screenshots of every screen of `edge-scan app` for docs/app/: English and French (the Site screen in
Portuguese too), 360 px wide and desktop.

Run from the repository root (needs the system Chromium and the test extra's Playwright):
    python tools/app_screenshots.py
It screens the bundled sample X-rays (plus one damaged file) in a throw-away data folder, then photographs
each screen, and the Site screen's calibration card after calibrating on the ten bundled samples (refused:
far too few). PNGs are reduced to a 64-colour palette so the docs stay small.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "app"
SAMPLES = ROOT / "edge_app" / "samples"
SIZES = {"phone": {"width": 360, "height": 780}, "desktop": {"width": 1280, "height": 860}}
SITE_ONLY_LANGUAGES = ("pt",)
"""Photographed on the Site screen only: enough to see a third language's calibration words and figures."""
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def save_small(png: bytes, path: Path) -> None:
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    image.save(path, optimize=True)


def screen_samples(page, base: str, damaged: Path) -> str:
    page.goto(base)
    page.get_by_label("Operator", exact=True).fill("Amina")
    page.get_by_label("Patient ID", exact=True).fill("P-0042")
    files = [SAMPLES / "person122_virus_229.jpeg", SAMPLES / "IM-0230-0001.jpeg", damaged]
    page.get_by_label("X-ray images", exact=True).set_input_files(files)
    page.get_by_role("button", name="Scan", exact=True).click()
    page.get_by_role("link", name="Print referral slip").wait_for(timeout=120_000)
    return page.url


def photograph(browser, base: str, result_url: str) -> None:
    pages = {
        "new-screening": "scan/new",
        "result": result_url,
        "history": "history",
        "site": "site",
        "device": "device",
    }
    for language in ("en", "fr", "pt"):
        for size_name, viewport in SIZES.items():
            context = browser.new_context(viewport=viewport, locale=language)
            page = context.new_page()
            for name, path in pages.items():
                if language in SITE_ONLY_LANGUAGES and name != "site":
                    continue
                page.goto(path if path.startswith("http") else base + path)
                shot = page.screenshot(full_page=name != "history" or size_name == "desktop")
                save_small(shot, OUT / f"{name}-{language}-{size_name}.png")
            photograph_calibration(page, base, OUT / f"site-calibration-{language}-{size_name}.png")
            context.close()


def photograph_calibration(page, base: str, path: Path) -> None:
    """The calibration card after calibrating on the bundled samples: refused, with what to add, in the page's
    language."""
    page.goto(base + "site")
    samples = sorted(SAMPLES.glob("*.jpeg"))
    page.locator("#normal").set_input_files([p for p in samples if not p.name.startswith("person")])
    page.locator("#pneumonia").set_input_files([p for p in samples if p.name.startswith("person")])
    page.locator("form[action$='/site/calibrate'] button").click()
    page.wait_for_load_state()
    save_small(page.locator("section[aria-labelledby=calibration-heading]").screenshot(), path)


def photograph_login(browser, env: dict) -> None:
    """The login screen of network mode (an operator with a PIN exists, the app listens on every network)."""
    command = [sys.executable, "-m", "edge_app"]
    subprocess.run([*command, "operators", "set", "Amina", "--password", "4821"], env=env, check=True)
    server = subprocess.Popen(
        [*command, "app", "--host", "0.0.0.0", "--port", "0"], stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        port = re.search(r":(\d+)/", server.stderr.readline()).group(1)
        for language in ("en", "fr"):
            for size_name, viewport in SIZES.items():
                context = browser.new_context(viewport=viewport, locale=language)
                page = context.new_page()
                page.goto(f"http://127.0.0.1:{port}/")
                save_small(page.screenshot(full_page=True), OUT / f"login-{language}-{size_name}.png")
                context.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as home:
        env = os.environ | {"PNEUMOSCAN_HOME": home}
        server = subprocess.Popen(
            [sys.executable, "-m", "edge_app", "app", "--port", "0"], stderr=subprocess.PIPE, text=True, env=env
        )
        try:
            base = re.search(r"http://\S+/", server.stderr.readline()).group()
            damaged = Path(home) / "damaged-xray.jpeg"
            damaged.write_bytes((SAMPLES / "IM-0230-0001.jpeg").read_bytes()[:2000])
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
                result_url = screen_samples(browser.new_page(), base, damaged)
                photograph(browser, base, result_url)
                server.terminate()
                server.wait(timeout=10)
                photograph_login(browser, env)
                browser.close()
        finally:
            if server.poll() is None:
                server.terminate()
                server.wait(timeout=10)
    for path in sorted(OUT.glob("*.png")):
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
