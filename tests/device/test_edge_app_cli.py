"""edge-scan as the health worker and the programs around it use it (Click's CliRunner)."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge_app import package_data
from edge_app.cli.main import main
from edge_app.cli.progress import Progress
from edge_app.inference import model_store
from edge_app.updates import selftest
from tests.device.test_scan import GOOD_IMAGES, make_mixed_batch, with_checksum

JSON_KEYS = {"path", "status", "label", "probability", "threshold", "reason", "sha256", "model_sha256"}


@pytest.fixture
def home(tmp_path, monkeypatch, tiny_int8_model) -> Path:
    """A fresh data folder, and the tiny model installed as the default model (with its checksum)."""
    monkeypatch.setenv("PNEUMOSCAN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(model_store.MODEL_ENV, str(with_checksum(tiny_int8_model, tmp_path / "models")))
    return tmp_path / "home"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_a_mixed_batch_of_good_and_bad_files_end_to_end(home, tmp_path):
    expected = make_mixed_batch(tmp_path / "batch")
    scanned = run("scan", str(tmp_path / "batch"), "--format", "json", "--patient-id", "P-9", "--operator", "Juma")
    assert scanned.exit_code == 1  # some images were rejected
    results = {Path(r["path"]).name: r for r in json_lines(scanned.stdout)}
    assert {name: r["reason"] for name, r in results.items()} == expected
    for r in results.values():
        assert JSON_KEYS <= set(r)
        good = r["reason"] is None
        assert r["status"] == ("ok" if good else "rejected")
        assert (r["label"] in ("NORMAL", "PNEUMONIA")) if good else r["label"] is None
        assert isinstance(r["probability"], float) if good else r["probability"] is None
        assert 0 <= r["score"] <= 100 if good else r["score"] is None
    stored = json_lines(run("history", "--format", "json").stdout)
    assert sorted((r["path"], r["sha256"], r["status"]) for r in stored) == sorted(
        (r["path"], r["sha256"], r["status"]) for r in results.values()
    )
    assert {(r["patient_id"], r["operator"]) for r in stored} == {("P-9", "Juma")}


def test_all_good_images_exit_0_with_a_plain_table(home):
    scanned = run("scan", *map(str, GOOD_IMAGES))
    assert scanned.exit_code == 0, scanned.output
    assert "screening aid, NOT a diagnosis" in scanned.stdout
    assert "Scanned 3 image(s)" in scanned.stdout
    assert all(image.name in scanned.stdout for image in GOOD_IMAGES)
    assert "Saved in the scan history" in scanned.stderr


def test_csv_output(home, tmp_path):
    make_mixed_batch(tmp_path / "batch")
    scanned = run("scan", str(tmp_path / "batch"), "--format", "csv", "--no-history")
    rows = list(csv.DictReader(io.StringIO(scanned.stdout)))
    assert len(rows) == 8 and JSON_KEYS <= set(rows[0])
    assert sorted(r["status"] for r in rows) == ["ok"] * 3 + ["rejected"] * 5
    assert not (home / "history.sqlite3").exists()  # --no-history


def test_the_bundled_samples_scan(home):
    scanned = run("scan", "--samples", "--format", "json")
    assert scanned.exit_code == 0
    assert len(json_lines(scanned.stdout)) == len(selftest.bundled_samples()) == 10


def test_threshold_flag_is_used_and_validated(home):
    scanned = run("scan", str(GOOD_IMAGES[0]), "--format", "json", "--threshold", "0.01")
    (result,) = json_lines(scanned.stdout)
    assert result["threshold"] == 0.01 and result["label"] == "PNEUMONIA"
    assert run("scan", str(GOOD_IMAGES[0]), "--threshold", "1.5").exit_code == 2


@pytest.mark.parametrize(
    "args",
    [
        ("scan",),
        ("scan", "--format", "xml", str(GOOD_IMAGES[0])),
        ("history", "--since", "last tuesday"),
    ],
)
def test_usage_errors_exit_2(home, args):
    assert run(*args).exit_code == 2


def test_an_empty_folder_is_a_usage_error(home, tmp_path):
    (tmp_path / "empty").mkdir()
    scanned = run("scan", str(tmp_path / "empty"))
    assert scanned.exit_code == 2 and "No JPEG or PNG images found" in scanned.output


def test_no_default_model_is_said_plainly(tmp_path, monkeypatch):
    monkeypatch.setenv("PNEUMOSCAN_HOME", str(tmp_path))
    monkeypatch.setenv(model_store.MODEL_ENV, str(tmp_path / "models" / "pneumoscan.tflite"))
    scanned = run("scan", str(GOOD_IMAGES[0]))
    assert scanned.exit_code == 2 and "No model found" in scanned.output
    described = run("info")  # still says which runtime this device has
    assert described.exit_code == 2 and "Runtime:      ai-edge-litert" in described.stderr


def test_a_tampered_model_is_refused_before_any_scan(home, tmp_path):
    model = Path(model_store.default_model_path())
    model.write_bytes(model.read_bytes() + b"\0")
    scanned = run("scan", str(GOOD_IMAGES[0]))
    assert scanned.exit_code == 2 and "does not match its recorded SHA-256" in scanned.output
    assert not (home / "history.sqlite3").exists()


def test_history_filters(home):
    run("scan", str(GOOD_IMAGES[0]), "--patient-id", "A")
    run("scan", str(GOOD_IMAGES[1]), "--patient-id", "B")
    assert [r["patient_id"] for r in json_lines(run("history", "--format", "json").stdout)] == ["A", "B"]
    assert len(json_lines(run("history", "--patient-id", "B", "--format", "json").stdout)) == 1
    assert json_lines(run("history", "--since", "2999-01-01", "--format", "json").stdout) == []
    table = run("history").stdout
    assert "PATIENT" in table and "2 scan(s)." in table


def test_info(home):
    described = run("info", "--format", "json")
    assert described.exit_code == 0
    info = json.loads(described.stdout)
    assert info["input_shape"] == [1, 32, 32, 1] and info["labels"] == ["NORMAL", "PNEUMONIA"]
    assert info["runtime"] == "ai-edge-litert" and info["integrity"].startswith("verified")
    assert (
        info["model_sha256"]
        == json_lines(run("scan", str(GOOD_IMAGES[0]), "--format", "json").stdout)[0]["model_sha256"]
    )
    assert info["metadata"]["variant"] == "pruned_int8" and info["threshold"] == info["metadata"]["threshold"]
    text = run("info").stdout
    assert "Intended use" in text and "--format json" in text and '"data_splits"' not in text


def test_info_shows_how_the_shipped_model_did_on_its_hospitals_later_collection(tmp_path, monkeypatch):
    monkeypatch.setenv("PNEUMOSCAN_HOME", str(tmp_path))
    external = json.loads(run("info", "--format", "json").stdout)["metadata"]["metrics"]["external"]
    text = run("info").stdout
    assert f"never trained or tuned on; not another hospital) (n={external['n']}):" in text
    assert f"  specificity: {external['specificity']:.3f}" in text


def test_info_for_a_model_without_metadata(home, bare_int8_model, tmp_path, monkeypatch):
    monkeypatch.setenv(model_store.MODEL_ENV, str(with_checksum(bare_int8_model, tmp_path / "bare")))
    info = json.loads(run("info", "--format", "json").stdout)
    assert info["metadata"] is None and info["threshold"] == 0.5
    assert "none in this model" in run("info").stdout


def test_selftest_passes_only_when_every_sample_gets_its_label(home, tmp_path, monkeypatch):
    samples = tmp_path / "samples"
    shutil.copytree(package_data.SAMPLES_DIR, samples)
    monkeypatch.setattr(package_data, "SAMPLES_DIR", samples)
    model_label = {
        Path(r["path"]).name: r["label"] for r in json_lines(run("scan", "--samples", "--format", "json").stdout)
    }

    (samples / "labels.csv").write_text("file,label\n" + "".join(f"{n},{lab}\n" for n, lab in model_label.items()))
    passed = run("selftest")
    assert passed.exit_code == 0 and "Self-test passed" in passed.stdout
    # integrity, the same numbers as the model's build, every sample, repeatability
    assert passed.stdout.count("[PASS]") == len(model_label) + 3

    wrong = {"NORMAL": "PNEUMONIA", "PNEUMONIA": "NORMAL"}
    (samples / "labels.csv").write_text(
        "file,label\n" + "".join(f"{n},{wrong[lab]}\n" for n, lab in model_label.items())
    )
    failed = run("selftest")
    assert failed.exit_code == 1 and "FAILED" in failed.stdout


def test_selftest_fails_for_an_unverifiable_model(home, bare_int8_model):
    refused = run("selftest", "--model", str(bare_int8_model))
    assert refused.exit_code == 2 and "--allow-unverified-model" in refused.output
    checked = run("selftest", "--model", str(bare_int8_model), "--allow-unverified-model")
    assert checked.exit_code == 1 and "[FAIL] model integrity" in checked.stdout


def test_progress_shows_on_a_terminal_only():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    progress = Progress(4, stream=terminal)
    progress.advance()
    progress.clear()
    assert "1/4" in terminal.getvalue() and terminal.getvalue().endswith("\r\x1b[K")
    pipe = io.StringIO()
    Progress(4, stream=pipe).advance()
    assert pipe.getvalue() == ""


def test_a_history_that_cannot_be_written_stops_the_batch_with_a_message(home, monkeypatch):
    import sqlite3

    from edge_app.storage import history

    def read_only(db, result):
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(history, "record", read_only)
    scanned = run("scan", *map(str, GOOD_IMAGES), "--format", "json")
    assert scanned.exit_code == 1 and "could not be saved" in scanned.output
    assert scanned.stdout == ""  # nothing shown that was not saved


@pytest.mark.parametrize(
    ("record", "words"),
    [
        ({"status": "ok", "label": "NORMAL", "uncertain": False}, "NORMAL"),
        ({"status": "ok", "label": "NORMAL", "uncertain": True}, "NORMAL? uncertain - REFER"),
        ({"status": "ok", "label": "PNEUMONIA", "uncertain": False}, "PNEUMONIA suspected - REFER"),
        ({"status": "ok", "label": "PNEUMONIA", "uncertain": True}, "PNEUMONIA suspected - REFER (uncertain)"),
        ({"status": "rejected", "label": None, "uncertain": None}, "NOT SCANNED"),
        ({"status": "error", "label": None, "uncertain": None}, "ERROR"),
    ],
)
def test_table_words_for_the_health_worker(record, words):
    from edge_app.outputs.output import verdict

    assert verdict(record) == words
