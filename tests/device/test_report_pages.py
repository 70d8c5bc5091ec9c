"""`edge-scan scan --report` on batches of any size: the report streams to disk and is split into pages.

A card holds the X-ray and its heatmap as data URIs (50-100 KB), so a report kept in memory grows with the
batch (10,000 files took 2 GB and made one 652 MB page no browser opens). What the health worker is told
about the report, and about what was saved, must be true with --no-history too.
"""

from __future__ import annotations

import errno
import shutil
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge_app.cli.main import main
from edge_app.inference import model_store
from edge_app.inference.heatmap import Explanation
from edge_app.outputs import html_report
from edge_app.outputs.clinic_outputs import ExplainedResult
from edge_app.package_data import SAMPLES_DIR
from edge_app.scan.scanner import scan_file
from tests.device.test_scan import with_checksum

SAMPLES = sorted(SAMPLES_DIR.glob("*.jpeg"))


@pytest.fixture
def home(tmp_path, monkeypatch, tiny_int8_model) -> Path:
    monkeypatch.setenv("PNEUMOSCAN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(model_store.MODEL_ENV, str(with_checksum(tiny_int8_model, tmp_path / "models")))
    return tmp_path / "home"


def batch(folder: Path, copies: int) -> Path:
    folder.mkdir()
    for index in range(copies):
        shutil.copyfile(SAMPLES[index % len(SAMPLES)], folder / f"xray{index:03d}.jpeg")
    (folder / "notes.jpeg").write_text("not an image")
    return folder


def test_a_report_over_the_page_size_is_split_into_pages_and_the_screen_says_so(home, tmp_path, monkeypatch):
    monkeypatch.setattr(html_report, "PART_SCANS", 3)
    folder = batch(tmp_path / "xrays", 8)
    done = CliRunner().invoke(main, ["scan", str(folder), "--report", str(tmp_path / "out" / "report.html")])
    assert done.exit_code == 1, done.output  # notes.jpeg is not scanned
    pages = [tmp_path / "out" / name for name in ("report.html", "report-2.html", "report-3.html")]
    assert sorted((tmp_path / "out").iterdir()) == sorted(pages)  # no spool file left behind
    texts = [page.read_text() for page in pages]
    assert [text.count('<div class="scan">') for text in texts] == [3, 3, 2]
    for index in range(8):
        assert sum(f"xray{index:03d}.jpeg" in text for text in texts) == 1
    assert "notes.jpeg" in texts[-1]  # the not-scanned table closes the child's section
    assert all("Page" in text and "of 3" in text for text in texts)
    assert "3 pages of at most 3 X-rays" in done.stderr and "report-3.html" in done.stderr


def test_a_small_batch_still_makes_one_page(home, tmp_path):
    folder = batch(tmp_path / "xrays", 2)
    done = CliRunner().invoke(main, ["scan", str(folder), "--report", str(tmp_path / "report.html")])
    assert done.exit_code == 1
    assert [p.name for p in tmp_path.glob("report*")] == ["report.html"]
    assert "Page" not in (tmp_path / "report.html").read_text()
    assert f"Report written to {tmp_path / 'report.html'}." in done.stderr


def test_the_report_keeps_no_pictures_in_memory_whatever_the_batch_size(tmp_path, tiny_int8_model):
    model = model_store.load_model(tiny_int8_model, allow_unverified=True)
    result = scan_file(SAMPLES[0], model)
    picture = bytes(range(256)) * 2048  # 512 KB, a large X-ray PNG
    explained = ExplainedResult(result, Explanation(picture, picture, 0.5))
    report = html_report.StreamedReport(tmp_path / "report.html", model, "Amina")
    tracemalloc.start()
    for _ in range(300):  # 300 MB of pictures as data URIs
        report.add(explained)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 20 * 2**20
    written = report.write()
    assert len(written) == 2 and written[0].stat().st_size < 220 * 1.4 * len(picture) * 2


def test_a_report_that_cannot_be_written_under_no_history_does_not_say_saved(home, tmp_path, monkeypatch):
    def disk_full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("edge_app.files.os.replace", disk_full)
    folder = batch(tmp_path / "xrays", 1)
    done = CliRunner().invoke(main, ["scan", str(folder), "--no-history", "--report", str(tmp_path / "r.html")])
    assert done.exit_code != 0
    assert "could not be written" in done.stderr
    assert "were not saved" in done.stderr
    assert "are saved" not in done.stderr and "Saved in the scan history" not in done.stderr


@pytest.mark.parametrize("patient_id", ["", "   ", "\t", "P-1\n", "P\x1b[2J"])
def test_a_blank_or_garbled_patient_id_is_refused_before_scanning(patient_id, home, tmp_path):
    done = CliRunner().invoke(main, ["scan", str(SAMPLES[0]), "--patient-id", patient_id])
    assert done.exit_code == 2
    assert "patient ID" in done.output
    assert not (home / "history.sqlite3").exists()


def test_a_patient_id_is_saved_without_surrounding_spaces(home):
    assert CliRunner().invoke(main, ["scan", str(SAMPLES[0]), "--patient-id", "  P-0042 "]).exit_code == 0
    history = CliRunner().invoke(main, ["history", "--format", "json", "--patient-id", "P-0042"])
    assert '"patient_id": "P-0042"' in history.stdout
