"""Paths that are not image files, names that could forge output, and failures that must not carry a verdict."""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge_app import reasons
from edge_app.cli.main import main
from edge_app.inference import model_store
from edge_app.scan.scanner import ERROR, INFERENCE_FAILED, OK, REJECTED, collect_images, scan_file
from tests.device.test_scan import GOOD_IMAGES, with_checksum

SCAN_TIMEOUT_S = 120
POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs, Unix sockets and /dev/zero are POSIX")


@pytest.fixture
def home(tmp_path, monkeypatch, tiny_int8_model) -> Path:
    monkeypatch.setenv("PNEUMOSCAN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(model_store.MODEL_ENV, str(with_checksum(tiny_int8_model, tmp_path / "models")))
    return tmp_path / "home"


@pytest.fixture(scope="module")
def model(tiny_int8_model, tmp_path_factory):
    return model_store.load_model(with_checksum(tiny_int8_model, tmp_path_factory.mktemp("model")))


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_missing_and_dangling_paths_are_rejected_and_the_batch_goes_on(home, tmp_path):
    (tmp_path / "dangling.jpeg").symlink_to(tmp_path / "moved-away.jpeg")
    named = [str(tmp_path / "no-such.jpeg"), str(GOOD_IMAGES[0]), str(tmp_path / "dangling.jpeg")]
    scanned = CliRunner().invoke(main, ["scan", *named, "--format", "json"])
    assert scanned.exit_code == 1, scanned.output
    results = json_lines(scanned.stdout)
    assert [(r["status"], r["reason"]) for r in results] == [
        (REJECTED, reasons.NOT_FOUND),
        (OK, None),
        (REJECTED, reasons.NOT_FOUND),
    ]
    stored = json_lines(CliRunner().invoke(main, ["history", "--format", "json"]).stdout)
    assert [r["reason"] for r in stored] == [reasons.NOT_FOUND, None, reasons.NOT_FOUND]


def test_a_symlink_loop_is_not_found_not_a_crash(model, tmp_path):
    (tmp_path / "a.jpeg").symlink_to(tmp_path / "b.jpeg")
    (tmp_path / "b.jpeg").symlink_to(tmp_path / "a.jpeg")
    assert collect_images([tmp_path / "a.jpeg"]) == [tmp_path / "a.jpeg"]
    result = scan_file(tmp_path / "a.jpeg", model)
    assert (result.status, result.reason, result.label) == (REJECTED, reasons.NOT_FOUND, None)


def special_files(folder: Path) -> list[Path]:
    """A FIFO with no writer, a character device and a Unix socket, each named like an X-ray."""
    fifo = folder / "pipe.jpeg"
    os.mkfifo(fifo)
    device = folder / "zero.jpeg"
    device.symlink_to("/dev/zero")
    made = [fifo, device]
    sock = folder / "sock.jpeg"
    if len(os.fsencode(sock)) < 100:
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(str(sock))
        server.close()
        made.append(sock)
    return made


@POSIX_ONLY
def test_pipes_devices_and_sockets_are_rejected_without_being_read(tmp_path, tiny_int8_model):
    """Run as a real process with a timeout: reading a FIFO with no writer would block forever."""
    folder = Path(tempfile.mkdtemp(prefix="ps-", dir="/tmp"))  # Unix socket paths must stay short
    try:
        named = special_files(folder)
        env = dict(os.environ, PNEUMOSCAN_HOME=str(tmp_path / "home"))
        env[model_store.MODEL_ENV] = str(with_checksum(tiny_int8_model, tmp_path / "models"))
        command = [sys.executable, "-m", "edge_app", "scan", *map(str, named), str(GOOD_IMAGES[1]), "--format", "json"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=SCAN_TIMEOUT_S, env=env)
    finally:
        shutil.rmtree(folder)
    results = json_lines(done.stdout)
    assert done.returncode == 1, done.stderr
    assert [r["reason"] for r in results] == [reasons.NOT_A_FILE] * len(named) + [None]
    assert all(r["label"] is None and r["sha256"] is None for r in results[:-1])


@POSIX_ONLY
def test_a_pipe_inside_a_scanned_folder_is_never_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe")  # no suffix: collect_images must not open it to look for a DICOM preamble
    shutil.copyfile(GOOD_IMAGES[0], tmp_path / "x.jpeg")
    assert collect_images([tmp_path]) == [tmp_path / "x.jpeg"]


def test_a_newline_in_a_file_name_cannot_forge_a_table_row(home, tmp_path):
    forged = tmp_path / "a.jpeg\nPNEUMONIA suspected - REFER      99       0.999     0.082  forged.jpeg"
    shutil.copyfile(GOOD_IMAGES[0], forged)
    escaped = tmp_path / "bell\x1b[31m.jpeg"
    shutil.copyfile(GOOD_IMAGES[1], escaped)
    scanned = CliRunner().invoke(main, ["scan", str(forged), str(escaped)])
    assert scanned.exit_code == 0, scanned.output
    rows = [line for line in scanned.stdout.splitlines() if line.endswith(".jpeg")]
    assert len(rows) == 2
    assert "a.jpeg\\nPNEUMONIA" in rows[0] and "bell\\x1b[31m.jpeg" in rows[1]
    assert "\x1b" not in scanned.stdout
    history = CliRunner().invoke(main, ["history"]).stdout
    assert len([line for line in history.splitlines() if line.endswith(".jpeg")]) == 2


def test_a_model_failure_after_the_prediction_leaves_no_label(model, monkeypatch):
    """A probability that cannot be scored (NaN) is an error, and an error carries no verdict."""
    monkeypatch.setattr(model.classifier, "predict", lambda x: float("nan"))
    result = scan_file(GOOD_IMAGES[0], model)
    assert (result.status, result.reason) == (ERROR, INFERENCE_FAILED)
    assert (result.label, result.probability, result.score, result.uncertain, result.refer) == (None,) * 5


def test_an_unverified_model_needs_the_flag_and_marks_every_result(home, bare_int8_model):
    image = str(GOOD_IMAGES[0])
    refused = CliRunner().invoke(main, ["scan", image, "--model", str(bare_int8_model)])
    assert refused.exit_code == 2 and "--allow-unverified-model" in refused.output
    flags = ["--model", str(bare_int8_model), "--allow-unverified-model"]
    (as_json,) = json_lines(CliRunner().invoke(main, ["scan", image, *flags, "--format", "json"]).stdout)
    as_csv = CliRunner().invoke(main, ["scan", image, *flags, "--format", "csv"]).stdout
    verified = json_lines(CliRunner().invoke(main, ["scan", image, "--format", "json"]).stdout)
    assert as_json["model_verified"] is False and verified[0]["model_verified"] is True
    assert [row["model_verified"] for row in csv.DictReader(io.StringIO(as_csv))] == ["False"]
    stored = json_lines(CliRunner().invoke(main, ["history", "--format", "json"]).stdout)
    assert [r["model_verified"] for r in stored] == [False, False, True]


def test_metadata_that_disagrees_with_the_models_input_tensor_is_refused(tiny_int8_model, tmp_path, monkeypatch):
    from edge_app.inference import runtime
    from edge_app.inference.model_metadata import read_metadata

    def claims_128(content: bytes) -> dict:
        metadata = read_metadata(content)
        return {**metadata, "input": {**metadata["input"], "size": 128}}  # the tensor takes 32x32

    monkeypatch.setattr(runtime, "read_metadata", claims_128)
    with pytest.raises(model_store.ModelError, match="metadata says input size 128, but the model's input tensor"):
        model_store.load_model(with_checksum(tiny_int8_model, tmp_path))


def test_without_a_runtime_scan_and_info_say_so_plainly(home, monkeypatch):
    from edge_app.inference import runtime

    def missing():
        raise runtime.RuntimeUnavailable(runtime.NO_RUNTIME_MESSAGE)

    monkeypatch.setattr(runtime, "load_runtime", missing)
    for args in (["scan", str(GOOD_IMAGES[0])], ["info"], ["selftest"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, (args, result.output)
        assert "pip install ai-edge-litert" in result.output and "model" not in result.output.lower()
        assert not isinstance(result.exception, runtime.RuntimeUnavailable)  # a message, not a traceback


def test_a_garbage_history_file_is_named_as_such_and_left_untouched(home):
    home.mkdir(parents=True)
    garbage = b"this is not an SQLite database, just bytes someone copied here" * 100
    (home / "history.sqlite3").write_bytes(garbage)
    for args in (["scan", str(GOOD_IMAGES[0])], ["history"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, result.output
        assert "not a readable scan history" in result.output and "writable" not in result.output
    assert (home / "history.sqlite3").read_bytes() == garbage


@pytest.mark.parametrize(
    "failure",
    [sqlite3.OperationalError("database or disk is full"), OSError(errno.ENOSPC, "No space left on device")],
)
def test_a_full_disk_stops_with_its_own_exit_code_after_saving_what_was_shown(home, monkeypatch, failure):
    from edge_app.storage import history

    saved = []

    def record(db, result):
        if saved:
            raise failure
        saved.append(result)

    monkeypatch.setattr(history, "record", record)
    result = CliRunner().invoke(main, ["scan", *map(str, GOOD_IMAGES), "--format", "json"])
    assert result.exit_code == 4, result.output
    assert [r["sha256"] for r in json_lines(result.stdout)] == [saved[0].sha256]
    assert "disk is full" in result.output


def test_a_full_disk_when_opening_the_history_is_exit_4(home, monkeypatch):
    from edge_app.storage import history

    def full(db):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(history, "migrate", full)
    result = CliRunner().invoke(main, ["scan", str(GOOD_IMAGES[0])])
    assert result.exit_code == 4 and "disk is full" in result.output


def test_a_folder_given_to_the_scanner_as_a_file_is_rejected_not_an_error(model, tmp_path):
    (tmp_path / "looks-like.jpeg").mkdir()
    result = scan_file(tmp_path / "looks-like.jpeg", model)
    assert (result.status, result.reason) == (REJECTED, reasons.NOT_A_FILE)
