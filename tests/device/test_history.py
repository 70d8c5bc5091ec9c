"""The scan history: migrations, durability, queries, and surviving a SIGKILL mid-batch."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from edge_app.record import SCAN_FIELDS, ScanResult
from edge_app.storage import history
from tests.conftest import FIXTURE_DATA

ROOT = Path(__file__).resolve().parents[2]


def result(**overrides) -> ScanResult:
    base = ScanResult(
        path="/images/a.jpeg",
        status="ok",
        label="PNEUMONIA",
        probability=0.83,
        score=83,
        threshold=0.4,
        uncertain=False,
        refer=True,
        reason=None,
        message=None,
        sha256="ab" * 32,
        model_sha256="cd" * 32,
        model_version="v1",
        runtime="ai-edge-litert 2.3.0",
        scanned_at="2025-03-01T10:00:00.000+00:00",
        elapsed_ms=12.5,
        patient_id="P-1",
        operator="Amina",
    )
    return replace(base, **overrides)


def test_a_new_database_is_migrated_in_wal_mode_with_a_schema_version(tmp_path):
    db = history.connect(tmp_path / "deep" / "folder" / "h.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == history.schema_version() == len(history.MIGRATIONS)
    applied = [row[0] for row in db.execute("SELECT name FROM _migrations")]
    assert applied == [fn.__name__ for fn in history.MIGRATIONS]
    assert history.migrate(db) == []  # idempotent


def test_an_old_database_gets_only_the_missing_migrations(tmp_path, monkeypatch):
    path = tmp_path / "h.sqlite3"
    history.connect(path).close()

    def m002_add_site(db):
        db.execute("ALTER TABLE scans ADD COLUMN site TEXT")

    monkeypatch.setattr(history, "MIGRATIONS", [*history.MIGRATIONS, m002_add_site])
    db = history.connect(path)
    assert "site" in [row[1] for row in db.execute("PRAGMA table_info(scans)")]
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(history.MIGRATIONS)


def history_before(path: Path, monkeypatch, migration_name: str) -> None:
    """A history made before migration `migration_name` existed, holding one scan (old.jpeg)."""
    names = [fn.__name__ for fn in history.MIGRATIONS]
    with monkeypatch.context() as before:
        before.setattr(history, "MIGRATIONS", history.MIGRATIONS[: names.index(migration_name)])
        old = history.connect(path)
        old.execute(
            "INSERT INTO scans (scanned_at, path, status, threshold, model_sha256, model_version, runtime) "
            "VALUES ('2026-01-01T00:00:00.000+00:00', 'old.jpeg', 'ok', 0.5, 'abc', 'v0', 'litert')"
        )
        old.close()


def test_a_database_from_before_dicom_support_gains_the_study_uid_column_and_keeps_its_rows(tmp_path, monkeypatch):
    path = tmp_path / "h.sqlite3"
    history_before(path, monkeypatch, "m002_add_study_uid")
    db = history.connect(path)
    history.record(db, result(study_uid="1.2.840.1"))
    assert [(r["path"], r["study_uid"]) for r in history.query(db)] == [
        ("old.jpeg", None),
        ("/images/a.jpeg", "1.2.840.1"),
    ]


def test_the_history_table_has_one_column_per_scan_record_field(tmp_path):
    db = history.connect(tmp_path / "h.sqlite3")
    assert sorted(row[1] for row in db.execute("PRAGMA table_info(scans)")) == sorted(["id", *SCAN_FIELDS])


def test_every_field_round_trips(tmp_path):
    db = history.connect(tmp_path / "h.sqlite3")
    stored = [
        result(),
        result(
            status="rejected",
            label=None,
            probability=None,
            score=None,
            uncertain=None,
            refer=None,
            reason="too_small",
            message="The image is too small.",
        ),
    ]
    for item in stored:
        history.record(db, item)
    rows = history.query(db)
    assert [{k: v for k, v in row.items() if k != "id"} for row in rows] == [item.as_dict() for item in stored]
    assert rows[0]["refer"] is True and rows[1]["refer"] is None


def test_a_result_is_committed_as_soon_as_it_is_recorded(tmp_path):
    path = tmp_path / "h.sqlite3"
    writer = history.connect(path)
    history.record(writer, result())
    reader = sqlite3.connect(path)  # another connection sees it with no commit or close by the writer
    assert reader.execute("SELECT count(*) FROM scans").fetchone()[0] == 1


def test_query_by_time_and_patient(tmp_path):
    db = history.connect(tmp_path / "h.sqlite3")
    history.record(db, result(scanned_at="2025-03-01T10:00:00.000+00:00", patient_id="P-1"))
    history.record(db, result(scanned_at="2025-03-05T10:00:00.000+00:00", patient_id="P-2"))
    history.record(db, result(scanned_at="2025-03-09T10:00:00.000+00:00", patient_id="P-1"))
    assert len(history.query(db)) == 3
    assert [r["patient_id"] for r in history.query(db, since="2025-03-04T00:00:00.000+00:00")] == ["P-2", "P-1"]
    assert [r["scanned_at"][:10] for r in history.query(db, patient_id="P-1")] == ["2025-03-01", "2025-03-09"]


def test_parse_since_reads_local_dates_and_times(monkeypatch):
    monkeypatch.setenv("TZ", "Africa/Nairobi")  # UTC+3, no daylight saving
    import time

    time.tzset()
    try:
        assert history.parse_since("2025-03-05") == "2025-03-04T21:00:00.000+00:00"
        assert history.parse_since("2025-03-05T08:30") == "2025-03-05T05:30:00.000+00:00"
        assert history.parse_since("2025-03-05T08:30+00:00") == "2025-03-05T08:30:00.000+00:00"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_sigkill_mid_batch_loses_nothing_that_was_printed(tiny_int8_model, tmp_path):
    """kill -9 during a batch: every printed result is then in a clean database."""
    folder = tmp_path / "batch"
    folder.mkdir()
    images = sorted(FIXTURE_DATA.rglob("*.jpeg"))
    for i in range(1500):  # hard links: many files, no disk cost
        os.link(images[i % len(images)], folder / f"{i:05d}_{images[i % len(images)].name}")
    home = tmp_path / "home"
    env = {**os.environ, "PNEUMOSCAN_HOME": str(home), "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable,
        "-m",
        "edge_app",
        "scan",
        str(folder),
        "--model",
        str(tiny_int8_model),
        "--allow-unverified-model",
        "--format",
        "json",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    printed = [json.loads(process.stdout.readline()) for _ in range(25)]
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL  # it was still scanning: the kill really was mid-batch

    db = sqlite3.connect(home / "history.sqlite3")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = set(db.execute("SELECT path, sha256 FROM scans").fetchall())
    assert all(r["status"] == "ok" for r in printed)
    assert {(r["path"], r["sha256"]) for r in printed} <= stored
    assert len(stored) < 1500
    db.close()
    history.connect(home / "history.sqlite3").close()  # and the app itself reopens it cleanly
