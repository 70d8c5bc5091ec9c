"""A read-only data folder (a USB stick, a locked-down device): reading commands read, writing ones say why not.

Nothing may end in a traceback or a hang, and nothing in the folder may change.
Root ignores permission bits, so as root the folder is made immutable
(chattr +i) instead, which refuses writes to root too.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge_app.cli.main import main as edge_scan
from edge_app.storage import history
from edge_app.storage.paths import HOME_ENV
from tests.device.test_calibrate import make_site
from tests.device.test_scan import GOOD_IMAGES
from tests.device.test_update_signing import no_hang as _no_hang

no_hang = _no_hang  # a read that never returns fails the test instead of stopping the suite


def run(*args) -> object:
    return CliRunner().invoke(edge_scan, [str(arg) for arg in args])


def _everything(folder: Path) -> list[Path]:
    return [folder, *sorted(folder.rglob("*"))]


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """`folder` and everything in it cannot be written, created in or removed, by anyone, until the block ends."""
    paths = _everything(folder)
    if os.geteuid() != 0:
        modes = {path: path.stat().st_mode for path in paths}
        for path in paths:
            path.chmod(stat.S_IMODE(modes[path]) & ~0o222)
        try:
            yield
        finally:
            for path in paths:
                path.chmod(stat.S_IMODE(modes[path]))
        return
    made = subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True, text=True, check=False)
    if made.returncode != 0:
        subprocess.run(["chattr", "-i", *map(str, paths)], capture_output=True, check=False)
        pytest.skip(f"running as root where chattr +i is not available: {made.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *map(str, paths)], check=True)


def fingerprint(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A data folder with two saved scans, written by edge-scan itself."""
    folder = tmp_path / "home"
    monkeypatch.setenv(HOME_ENV, str(folder))
    assert run("scan", *GOOD_IMAGES[:2], "--patient-id", "P-1").exit_code == 0
    return folder


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (("history",), "P-1"),
        (("history", "--format", "json"), '"patient_id": "P-1"'),
        (("history", "--format", "csv"), "P-1"),
        (("history", "--patient-id", "P-1"), "P-1"),
        (("stats",), ""),
        (("stats", "--format", "json"), '"scans"'),
    ],
)
def test_history_and_stats_read_a_read_only_home(command, expected, home):
    before = fingerprint(home)
    with read_only(home):
        result = run(*command)
    assert result.exit_code == 0 and result.exception is None, result.output
    assert expected in result.output
    assert fingerprint(home) == before


def test_scans_a_killed_scanner_left_in_the_write_ahead_log_are_shown(home, tmp_path, monkeypatch):
    writer = history.connect(Path(home) / "history.sqlite3")
    rows = history.query(writer)
    copy = tmp_path / "copy"
    copy.mkdir()
    writer.execute("UPDATE scans SET patient_id = 'P-WAL' WHERE id = ?", (rows[-1]["id"],))
    for path in home.glob("history.sqlite3*"):  # as a killed scanner leaves them: -wal and -shm beside the file
        shutil.copyfile(path, copy / path.name)
    writer.close()
    assert (copy / "history.sqlite3-wal").stat().st_size > 0
    monkeypatch.setenv(HOME_ENV, str(copy))
    with read_only(copy):
        result = run("history", "--format", "json")
    assert result.exit_code == 0, result.output
    assert [row["patient_id"] for row in _json_lines(result.output)] == ["P-1", "P-WAL"]


def test_a_history_from_an_older_version_is_read_without_migrating_it(tmp_path, monkeypatch):
    folder = tmp_path / "old"
    folder.mkdir()
    db = sqlite3.connect(folder / "history.sqlite3")
    for migration in history.MIGRATIONS[:2]:
        migration(db)
    db.execute(
        "INSERT INTO scans (scanned_at, path, status, label, probability, score, threshold, uncertain, refer, "
        "model_sha256, model_version, runtime, patient_id) VALUES ('2026-01-02T03:04:05.000+00:00', 'a.jpeg', 'ok', "
        "'PNEUMONIA', 0.9, 90, 0.5, 0, 1, 'abc', 'v1', 'litert', 'P-OLD')"
    )
    db.commit()
    db.close()
    monkeypatch.setenv(HOME_ENV, str(folder))
    before = fingerprint(folder)
    with read_only(folder):
        shown = run("history", "--format", "json")
        stats = run("stats")
    assert shown.exit_code == 0, shown.output
    [row] = _json_lines(shown.output)
    assert row["patient_id"] == "P-OLD" and row["threshold_source"] is None
    assert stats.exit_code == 0, stats.output
    assert fingerprint(folder) == before


@pytest.mark.parametrize("content", [b"not a database", b"SQLite format 3\x00" + bytes(200)], ids=["text", "torn"])
def test_a_damaged_history_on_a_read_only_home_is_named(content, tmp_path, monkeypatch):
    folder = tmp_path / "damaged"
    folder.mkdir()
    (folder / "history.sqlite3").write_bytes(content)
    monkeypatch.setenv(HOME_ENV, str(folder))
    with read_only(folder):
        result = run("history")
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert "history.sqlite3" in result.output


def test_calibrate_on_a_read_only_home_stops_before_scanning(home, tmp_path):
    site = make_site(tmp_path / "site", {"NORMAL": ("original",), "PNEUMONIA": ("original",)}, per_class=3)
    with read_only(home):
        result = run("calibrate", site)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert "Cannot save a site profile" in result.output and "Nothing was scanned" in result.output
    assert result.output.startswith("Error: Cannot save")  # no table printed before the error


def test_calibrate_reset_on_a_read_only_home_says_why(home):
    (home / "site_profile.json").write_text("{}")
    with read_only(home):
        result = run("calibrate", "--reset")
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert "could not be reset" in result.output


@pytest.mark.parametrize(
    "command",
    [("scan", GOOD_IMAGES[0]), ("model", "rollback"), ("model", "revoke", "0123456789abcdef")],
    ids=["scan", "model rollback", "model revoke"],
)
def test_commands_that_must_write_end_with_a_reason(command, home):
    with read_only(home):
        result = run(*command)
    assert result.exit_code in (1, 2) and isinstance(result.exception, SystemExit), result.output


@pytest.mark.parametrize(
    "command", [("history",), ("stats",), ("scan", GOOD_IMAGES[0])], ids=["history", "stats", "scan"]
)
def test_a_pipe_in_the_place_of_the_history_is_named_without_hanging(command, tmp_path, monkeypatch, no_hang):
    monkeypatch.setenv(HOME_ENV, str(tmp_path))
    os.mkfifo(tmp_path / "history.sqlite3")
    result = run(*command)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert "not a file" in result.output
