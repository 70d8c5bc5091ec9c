"""The scan history: every result, ok or not, in a local SQLite database.

Nothing a health worker scanned may be lost, so each result is its own
committed transaction, written before the result is shown; WAL journaling with
synchronous=FULL means neither a killed process nor a power cut loses a result
that was already printed, and a reader never blocks the scanner.

The schema changes through an ordered list of small migration functions (as
in simonw/llm's migrations.py). Each one applied is recorded in the
`_migrations` table, and `PRAGMA user_version` holds how many have run, so an
old database upgrades itself the first time a newer PneumoScan opens it.
"""

from __future__ import annotations

import errno
import sqlite3
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from edge_app.record import SCAN_FIELDS, ScanResult, now_utc

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_create_scans(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE scans (
            id INTEGER PRIMARY KEY,
            scanned_at TEXT NOT NULL,
            path TEXT NOT NULL,
            sha256 TEXT,
            status TEXT NOT NULL CHECK (status IN ('ok', 'rejected', 'error')),
            label TEXT,
            probability REAL,
            score INTEGER,
            threshold REAL NOT NULL,
            uncertain INTEGER,
            refer INTEGER,
            reason TEXT,
            message TEXT,
            model_sha256 TEXT NOT NULL,
            model_version TEXT NOT NULL,
            runtime TEXT NOT NULL,
            elapsed_ms REAL,
            patient_id TEXT,
            operator TEXT
        )
        """
    )
    db.execute("CREATE INDEX scans_scanned_at ON scans (scanned_at)")
    db.execute("CREATE INDEX scans_patient_id ON scans (patient_id)")
    db.execute("CREATE INDEX scans_sha256 ON scans (sha256)")


@migration
def m002_add_study_uid(db: sqlite3.Connection) -> None:
    """The DICOM StudyInstanceUID, so a result can be matched to the hospital's study."""
    db.execute("ALTER TABLE scans ADD COLUMN study_uid TEXT")


@migration
def m003_add_model_verified(db: sqlite3.Connection) -> None:
    """Whether the model's bytes matched its recorded SHA-256; 0 for a model used with --allow-unverified-model.
    Scans saved before this column existed leave it empty."""
    db.execute("ALTER TABLE scans ADD COLUMN model_verified INTEGER")


@migration
def m004_add_correction(db: sqlite3.Connection) -> None:
    """What the gate did to right a turned, inverted or mirrored X-ray (e.g. rotate_180); empty if nothing."""
    db.execute("ALTER TABLE scans ADD COLUMN correction TEXT")


@migration
def m005_add_threshold_source(db: sqlite3.Connection) -> None:
    """Where each scan's threshold came from (model, site or command_line), so an audit can tell a site
    calibration from a threshold typed once. Scans saved before this column existed leave it empty."""
    db.execute("ALTER TABLE scans ADD COLUMN threshold_source TEXT")


@migration
def m006_add_runtime_verified(db: sqlite3.Connection) -> None:
    """Whether the device's runtime reproduced the model's reference outputs (0: another kernel path, whose scores
    near the threshold may differ). Scans saved before this column existed leave it empty."""
    db.execute("ALTER TABLE scans ADD COLUMN runtime_verified INTEGER")


@migration
def m007_create_outcomes(db: sqlite3.Connection) -> None:
    """What a clinician later confirmed for a scan (see `edge_app.storage.outcomes`). Rows are only ever added:
    a correction is a new row naming the one it supersedes, so both stay on record. Old scans are untouched."""
    db.execute(
        """
        CREATE TABLE outcomes (
            id INTEGER PRIMARY KEY,
            scan_id INTEGER NOT NULL REFERENCES scans (id),
            outcome TEXT NOT NULL CHECK (outcome IN ('pneumonia', 'no_pneumonia', 'not_known')),
            confirmed_by TEXT NOT NULL,
            confirmed_on TEXT NOT NULL,
            method TEXT NOT NULL CHECK (method IN ('xray_read', 'clinical', 'follow_up')),
            recorded_at TEXT NOT NULL,
            supersedes INTEGER REFERENCES outcomes (id)
        )
        """
    )
    db.execute("CREATE INDEX outcomes_scan_id ON outcomes (scan_id)")


_COLUMNS = SCAN_FIELDS
_BOOLEAN_COLUMNS = ("uncertain", "refer", "model_verified", "runtime_verified")


def schema_version() -> int:
    """How many migrations a fully upgraded database has had; counted when asked, so it
    includes every migration wherever in this module it is defined."""
    return len(MIGRATIONS)


class HistoryError(Exception):
    """The history database cannot be opened or written; the message says why."""


class DiskFull(HistoryError):
    """The disk holding the history is full: nothing more can be saved until space is freed."""


def is_disk_full(exc: BaseException) -> bool:
    """SQLite's "database or disk is full", or the operating system's "no space left on device"."""
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(exc)
    return isinstance(exc, OSError) and exc.errno == errno.ENOSPC


def _is_not_a_history(exc: BaseException) -> bool:
    """The file exists but is not an SQLite database, or its pages are damaged."""
    codes = (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT)
    return isinstance(exc, sqlite3.DatabaseError) and getattr(exc, "sqlite_errorcode", None) in codes


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating and migrating as needed) the history database at `path`."""
    path = Path(path)
    _refuse_if_not_a_file(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None, timeout=10.0)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        migrate(db)
    except (OSError, sqlite3.Error) as exc:
        if is_disk_full(exc):
            raise DiskFull(f"{path}: the disk is full, so no scan can be saved. Free some disk space first.") from exc
        if _is_not_a_history(exc):
            raise _not_a_history(path) from exc
        raise HistoryError(
            f"{path}: cannot open the scan history ({exc}). Check the folder is writable, "
            "or set PNEUMOSCAN_HOME to another folder."
        ) from exc
    return db


def open_for_reading(path: Path) -> sqlite3.Connection:
    """Open an existing history only to read it: nothing is created, migrated or switched, so `history` and
    `stats` work on a read-only folder (a USB stick, a locked-down device), whatever schema version it has.

    A WAL database read-only still needs its -shm file; when the folder cannot be
    written and there is none, the file is opened as immutable instead, which is
    exact because a history whose last writer closed cleanly has no WAL content.
    """
    _refuse_if_not_a_file(Path(path))
    uri = Path(path).resolve().as_uri()
    try:
        return _open_uri(f"{uri}?mode=ro")
    except sqlite3.DatabaseError as exc:
        if _is_not_a_history(exc):
            raise _not_a_history(path) from exc
    try:
        return _open_uri(f"{uri}?immutable=1")
    except sqlite3.DatabaseError as exc:
        if _is_not_a_history(exc):
            raise _not_a_history(path) from exc
        raise HistoryError(f"{path}: cannot read the scan history ({exc}).") from exc


def _refuse_if_not_a_file(path: Path) -> None:
    """A pipe, socket or folder in the history's place: SQLite would wait on a pipe forever."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise HistoryError(f"{path}: cannot open the scan history ({exc}).") from exc
    if not stat.S_ISREG(mode):
        raise HistoryError(
            f"{path}: this is not a file (a folder, pipe, socket or device), so it cannot be the scan history; "
            "nothing was read. Move it away; the next scan starts a new history."
        )


def _open_uri(uri: str) -> sqlite3.Connection:
    db = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=10.0)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opening is lazy: read once to know
    except sqlite3.Error:
        db.close()
        raise
    db.row_factory = sqlite3.Row
    return db


def _not_a_history(path: Path) -> HistoryError:
    return HistoryError(
        f"{path}: this file is not a readable scan history (it is damaged, or another kind of file); "
        "nothing was changed. Rename it (for example to history.damaged.sqlite3) and keep it for whoever "
        "can recover it; the next scan starts a new history."
    )


def migrate(db: sqlite3.Connection) -> list[str]:
    """Apply the migrations this database has not had yet; returns their names."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    applied = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    newly_applied = []
    for fn in MIGRATIONS:
        if fn.__name__ in applied:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            fn(db)
            db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (fn.__name__, now_utc()))
            db.execute(f"PRAGMA user_version = {len(applied) + len(newly_applied) + 1}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        newly_applied.append(fn.__name__)
    return newly_applied


def record(db: sqlite3.Connection, result: ScanResult) -> int:
    """Store one result, committed before returning; returns its row id."""
    placeholders = ", ".join("?" for _ in _COLUMNS)
    values = [getattr(result, column) for column in _COLUMNS]
    cursor = db.execute(f"INSERT INTO scans ({', '.join(_COLUMNS)}) VALUES ({placeholders})", values)
    return int(cursor.lastrowid)


def parse_since(text: str) -> str:
    """A local date or date-time typed by a person -> the UTC ISO text stored in `scanned_at`."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"'{text}' is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM.") from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # a naive time is the device's local time
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def query(
    db: sqlite3.Connection,
    since: str | None = None,
    patient_id: str | None = None,
    until: str | None = None,
    ids: list[int] | None = None,
) -> list[dict]:
    """Stored results, oldest first, optionally from a UTC ISO time on (and before `until`), for one patient,
    or with the given row ids. A history not yet migrated (opened read-only) lacks newer columns: they read as
    empty, like those of rows saved before the columns existed."""
    conditions, parameters = [], []
    for condition, value in (("scanned_at >= ?", since), ("scanned_at < ?", until), ("patient_id = ?", patient_id)):
        if value is not None:
            conditions.append(condition)
            parameters.append(value)
    if ids is not None:
        conditions.append(f"id IN ({', '.join('?' for _ in ids)})")
        parameters.extend(int(row_id) for row_id in ids)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    present = {row[1] for row in db.execute("PRAGMA table_info(scans)")}
    if not present:
        return []  # a database no scan was ever saved in
    columns = ", ".join(column for column in _COLUMNS if column in present)
    rows = db.execute(f"SELECT id, {columns} FROM scans {where} ORDER BY id", parameters).fetchall()
    records = []
    for row in rows:
        item = dict.fromkeys(_COLUMNS) | dict(row)
        for column in _BOOLEAN_COLUMNS:
            item[column] = None if item[column] is None else bool(item[column])
        records.append(item)
    return records


def operators(db: sqlite3.Connection) -> list[str]:
    """The names that have scanned on this device, most recent first: the app offers them to pick from."""
    rows = db.execute(
        "SELECT operator FROM scans WHERE operator IS NOT NULL AND operator != '' "
        "GROUP BY operator ORDER BY MAX(id) DESC LIMIT 50"
    ).fetchall()
    return [row[0] for row in rows]
