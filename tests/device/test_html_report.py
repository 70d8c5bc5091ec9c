"""edge-scan scan --report: a self-contained page, checked as text and rendered in headless Chromium.

Chromium (Debian's `chromium`) and poppler-utils (`pdftotext`) are installed by .ci/run.
Chromium itself asks Google's update and time services in the background; those
requests are told apart from the page's own, and a probe page proves that a page
request would be seen in the net-log.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from edge_app.cli.main import main
from edge_app.inference.model_store import load_model
from edge_app.outputs.output import DISCLAIMER
from edge_app.package_data import SAMPLES_DIR
from edge_app.updates.selftest import bundled_samples
from tests.chromium_flags import QUIET_CHROMIUM_FLAGS
from tests.dicom_factory import clinic_batch, cr_dataset, write_dicom

CHROMIUM_FLAGS = ["--headless", *QUIET_CHROMIUM_FLAGS, "--host-resolver-rules=MAP * ~NOTFOUND"]
BROWSER_SERVICE_HOSTS = ("google.com", "googleapis.com", "gvt1.com", "gstatic.com")
"""Chromium's own update and network-time services, which it contacts whatever page it shows."""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "headless Chromium is needed: apt-get install chromium (.ci/run does this)"
    return found


def render(page: Path, out: Path, *extra: str) -> Path:
    """Run headless Chromium on a local page with a fresh profile and a net-log; returns the net-log path."""
    net_log = out / f"{page.stem}-net.json"
    command = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={out / 'profile'}", f"--log-net-log={net_log}", *extra]
    subprocess.run([*command, page.as_uri()], check=True, capture_output=True, timeout=180)
    return net_log


def page_request_hosts(net_log: Path) -> set[str]:
    hosts = set(re.findall(r'"url":"https?://([^/":?]+)', net_log.read_text(errors="replace")))
    return {host for host in hosts if not host.endswith(BROWSER_SERVICE_HOSTS)}


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    """A report of the sample X-rays (three NORMAL, three PNEUMONIA), a broken file and a CT, for P-0042."""
    root = tmp_path_factory.mktemp("report")
    batch = clinic_batch(root / "batch", SAMPLES_DIR)
    page = root / "report.html"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PNEUMOSCAN_HOME", str(root / "home"))
        result = CliRunner().invoke(
            main,
            ["scan", str(batch), "--patient-id", "P-0042", "--operator", "Amina <b>&", "--format", "json"]
            + ["--report", str(page)],
        )
    assert result.exit_code == 1, result.output  # two files rejected, the rest scanned
    records = [json.loads(line) for line in result.stdout.splitlines()]
    return {"page": page, "html": page.read_text(encoding="utf-8"), "root": root, "records": records}


def test_the_page_is_self_contained_with_no_external_reference(report):
    html = report["html"]
    assert not re.search(r"https?://", html)
    assert "<script" not in html and "<link" not in html and "@import" not in html and "@font-face" not in html
    sources = re.findall(r'src="([^"]*)"', html)
    assert sources and all(src.startswith("data:image/png;base64,") for src in sources)
    assert not [u for u in re.findall(r"url\(([^)]*)\)", html) if not u.strip("'\"").startswith("data:")]


def test_the_page_holds_every_result_and_the_facts_a_clinician_needs(report):
    html = report["html"]
    assert DISCLAIMER in html
    scanned = [r for r in report["records"] if r["status"] == "ok"]
    positive = sum(r["label"] == "PNEUMONIA" for r in scanned)
    uncertain_normal = sum(r["label"] == "NORMAL" and r["uncertain"] for r in scanned)
    samples = bundled_samples()
    known_positive = sum(label == "PNEUMONIA" for label in samples.values())
    assert len(scanned) == len(samples) and positive == known_positive  # edge-scan selftest checks these labels
    assert html.count("PNEUMONIA suspected: refer the child") == positive
    assert html.count("Uncertain: the score is close to the threshold") == uncertain_normal
    assert (
        html.count("NORMAL: the screening found no sign of pneumonia")
        == len(samples) - known_positive - uncertain_normal
    )
    assert all(f"Score <b>{r['score']}</b> of 100" in html for r in scanned)
    assert html.count('alt="heatmap"') == len(samples) and html.count('alt="X-ray"') == len(samples)
    assert html.count('class="bar"') == len(samples)
    model = load_model()
    assert f"{model.threshold:.3f} (the model&#x27;s own threshold)" in html
    assert f"version {model.version}" in html
    for rejected, reason in (("notes.jpeg", "not_an_image"), ("ct.dcm", "wrong_modality")):
        assert rejected in html and reason in html
    assert "P-0042" in html and "Amina &lt;b&gt;&amp;" in html  # operator text escaped, not markup
    assert f"class='hash'>{model.sha256}<" in html
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", html)


def test_chromium_renders_the_page_to_png_and_a4_pdf_without_a_page_request(report, tmp_path):
    shot, pdf = tmp_path / "report.png", tmp_path / "report.pdf"
    net_log = render(report["page"], tmp_path, "--window-size=900,2400", f"--screenshot={shot}")
    assert page_request_hosts(net_log) == set()
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert pixels.shape[:2] == (2400, 900)
    red_text = (pixels[..., 0] > 150) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
    assert red_text.sum() > 2000  # the red verdicts and score bars drew
    render(report["page"], tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    assert re.search(rb"/MediaBox \[0 0 59[45](\.\d+)? 84[12](\.\d+)?\]", data)  # A4: 595 x 842 pt
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "screening aid, NOT a diagnosis" in text and "P-0042" in text


def test_the_net_log_check_sees_a_page_request_when_there_is_one(tmp_path):
    probe = tmp_path / "probe.html"
    probe.write_text('<!DOCTYPE html><img src="http://report-probe.invalid/x.png">')
    net_log = render(probe, tmp_path, f"--screenshot={tmp_path / 'probe.png'}")
    assert page_request_hosts(net_log) == {"report-probe.invalid"}


def test_each_child_starts_a_new_printed_page(tmp_path, monkeypatch):
    """Without --patient-id, each DICOM's PatientID groups its images: one child per page."""
    monkeypatch.setenv("PNEUMOSCAN_HOME", str(tmp_path / "home"))
    batch = tmp_path / "batch"
    batch.mkdir()
    jpegs = sorted(SAMPLES_DIR.glob("*.jpeg"))
    write_dicom(cr_dataset(jpegs[0], patient_id="CHILD-A"), batch / "a.dcm")
    write_dicom(cr_dataset(jpegs[3], patient_id="CHILD-B"), batch / "b.dcm")
    page, pdf = tmp_path / "slips.html", tmp_path / "slips.pdf"
    result = CliRunner().invoke(main, ["scan", str(batch), "--report", str(page), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert page.read_text().count('<section class="child">') == 2
    render(page, tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}")
    pages = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    pages = pages.split("\f")
    first = next(i for i, text in enumerate(pages) if "CHILD-A" in text)
    second = next(i for i, text in enumerate(pages) if "CHILD-B" in text)
    assert second > first and "CHILD-B" not in pages[first] and "CHILD-A" not in pages[second]
