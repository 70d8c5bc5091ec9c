"""The same numbers on every device: a runtime that does not reproduce the build's outputs is named and flagged."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from edge_app.cli.main import main
from edge_app.inference import model_store
from edge_app.inference.model_metadata import read_metadata
from edge_app.inference.reference_outputs import check_reference_outputs, fixed_input, record_reference_outputs
from edge_app.inference.runtime import OP_RESOLVER_ENV, TFLiteClassifier
from edge_app.package_data import DEFAULT_MODEL
from edge_app.storage import history
from edge_app.storage.paths import HOME_ENV
from lab.tflite_metadata import embed_metadata
from tests.device.test_history import history_before, result

WITHOUT_XNNPACK = "BUILTIN_WITHOUT_DEFAULT_DELEGATES"


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    monkeypatch.delenv(model_store.MODEL_ENV, raising=False)
    monkeypatch.delenv(OP_RESOLVER_ENV, raising=False)
    return tmp_path / "home"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_selftest_passes_on_xnnpack_and_fails_naming_the_path_without_it(home, monkeypatch):
    passed = run("selftest")
    assert passed.exit_code == 0, passed.output
    assert "[PASS] same numbers as the model's build" in passed.output and "XNNPACK delegate" in passed.output

    monkeypatch.setenv(OP_RESOLVER_ENV, WITHOUT_XNNPACK)
    failed = run("selftest")
    assert failed.exit_code == 1 and "Self-test FAILED" in failed.output
    assert "[FAIL] same numbers as the model's build" in failed.output
    assert f"built-in kernels without XNNPACK (op resolver {WITHOUT_XNNPACK})" in failed.output
    assert "does not reproduce the numbers the model was built and validated with" in failed.output


@pytest.mark.parametrize("resolver", ["BUILTIN_REF", WITHOUT_XNNPACK])
def test_every_scan_on_another_kernel_path_is_flagged_in_its_result_and_history(resolver, home, monkeypatch):
    on_xnnpack = run("scan", "--samples", "--format", "json")
    assert {json.loads(line)["runtime_verified"] for line in on_xnnpack.stdout.splitlines()} == {True}

    monkeypatch.setenv(OP_RESOLVER_ENV, resolver)
    elsewhere = run("scan", "--samples", "--format", "csv")
    assert elsewhere.exit_code == 0 and "Every result is marked runtime_verified: false" in elsewhere.output
    header, *rows = elsewhere.stdout.splitlines()
    column = header.split(",").index("runtime_verified")
    assert rows and {row.split(",")[column] for row in rows} == {"False"}
    db = sqlite3.connect(home / "history.sqlite3")
    stored = [row[0] for row in db.execute("SELECT runtime_verified FROM scans ORDER BY id")]
    assert stored == [1] * (len(stored) - len(rows)) + [0] * len(rows)


def test_an_unknown_op_resolver_is_refused_in_words(home, monkeypatch):
    monkeypatch.setenv(OP_RESOLVER_ENV, "fastest")
    refused = run("selftest")
    assert refused.exit_code == 2 and "PNEUMOSCAN_OP_RESOLVER=FASTEST is not an op resolver" in refused.output


def test_changed_or_missing_reference_outputs_fail_the_check():
    content = DEFAULT_MODEL.read_bytes()
    metadata = read_metadata(content)
    classifier = TFLiteClassifier(content)
    assert check_reference_outputs(classifier, metadata).verified is True
    changed = json.loads(json.dumps(metadata))
    changed["reference_outputs"]["inputs"][-1]["output"][0] += 1
    failed = check_reference_outputs(classifier, changed)
    assert failed.verified is False and "1 of 6 fixed inputs differ" in failed.detail
    missing = check_reference_outputs(classifier, {k: v for k, v in metadata.items() if k != "reference_outputs"})
    assert missing.verified is None and "records no reference outputs" in missing.detail


def test_a_model_without_reference_outputs_fails_selftest_but_still_scans(home, tmp_path, monkeypatch):
    metadata = read_metadata(DEFAULT_MODEL.read_bytes())
    del metadata["reference_outputs"]
    older = tmp_path / "older.tflite"
    older.write_bytes(embed_metadata(DEFAULT_MODEL.read_bytes(), metadata))
    checked = run("selftest", "--model", str(older), "--allow-unverified-model")
    assert "[FAIL] same numbers as the model's build: the model records no reference outputs" in checked.output
    scanned = run("scan", "--samples", "--model", str(older), "--allow-unverified-model", "--format", "json")
    assert {json.loads(line)["runtime_verified"] for line in scanned.stdout.splitlines()} == {None}


def test_the_recorded_inputs_include_some_scoring_near_the_threshold():
    content = DEFAULT_MODEL.read_bytes()
    metadata = read_metadata(content)
    classifier = TFLiteClassifier(content)
    recorded = record_reference_outputs(classifier, metadata["threshold"])
    assert recorded == metadata["reference_outputs"]  # this machine's XNNPACK reproduces the build
    shape = classifier.input_shape
    near = [
        item
        for item in recorded["inputs"]
        if abs(classifier.predict(fixed_input(item["seed"], item["percent"], shape)) - metadata["threshold"]) <= 4 / 256
    ]
    assert len(near) >= 4


def test_an_old_history_gains_the_runtime_verified_column_and_keeps_its_rows(tmp_path, monkeypatch):
    path = tmp_path / "h.sqlite3"
    history_before(path, monkeypatch, "m006_add_runtime_verified")
    db = history.connect(path)
    history.record(db, result(runtime_verified=False))
    assert [(r["path"], r["runtime_verified"]) for r in history.query(db)] == [
        ("old.jpeg", None),
        ("/images/a.jpeg", False),
    ]


def test_info_names_the_kernel_path_and_whether_it_reproduces_the_build(home, monkeypatch):
    described = json.loads(run("info", "--format", "json").stdout)
    assert described["runtime_verified"] is True and "XNNPACK delegate" in described["kernels"]
    monkeypatch.setenv(OP_RESOLVER_ENV, WITHOUT_XNNPACK)
    text = run("info").stdout
    assert "built-in kernels without XNNPACK" in text and "Same numbers: NO" in text
