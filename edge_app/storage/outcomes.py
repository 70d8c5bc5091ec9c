"""Confirmed outcomes in the scan history: what a clinician later found for the child of a scan.

A confirmation is never edited: each is a new row, and a correction names the row it
supersedes, so an audit sees what was believed when. The outcome in force for a scan
is its newest row. Rows for many scans are written in one transaction, so a file of
outcomes is recorded whole or not at all.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from edge_app.record import now_utc

OUTCOMES = ("pneumonia", "no_pneumonia", "not_known")
METHODS = ("xray_read", "clinical", "follow_up")
"""A chest X-ray read by a clinician, a clinical diagnosis, or the child's follow-up."""


@dataclass(frozen=True)
class Outcome:
    scan_id: int
    outcome: str
    confirmed_by: str
    confirmed_on: str
    """The local date (YYYY-MM-DD) the clinician confirmed it."""
    method: str


def record_all(db: sqlite3.Connection, outcomes: list[Outcome]) -> list[int]:
    """Add every outcome in one transaction (each superseding the scan's earlier one); returns the new row ids."""
    ids = []
    db.execute("BEGIN IMMEDIATE")
    try:
        for item in outcomes:
            earlier = db.execute("SELECT max(id) FROM outcomes WHERE scan_id = ?", (item.scan_id,)).fetchone()[0]
            cursor = db.execute(
                "INSERT INTO outcomes (scan_id, outcome, confirmed_by, confirmed_on, method, recorded_at, supersedes) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (item.scan_id, item.outcome, item.confirmed_by, item.confirmed_on, item.method, now_utc(), earlier),
            )
            ids.append(int(cursor.lastrowid))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return ids


def current(db: sqlite3.Connection) -> dict[int, dict]:
    """The outcome in force for each scan that has one (its newest row), by scan id; empty for a history
    made before outcomes were kept."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'outcomes'").fetchone():
        return {}
    rows = db.execute(
        "SELECT o.* FROM outcomes o JOIN (SELECT scan_id, max(id) AS newest FROM outcomes GROUP BY scan_id) n "
        "ON o.id = n.newest"
    ).fetchall()
    return {row["scan_id"]: dict(row) for row in rows}


def all_rows(db: sqlite3.Connection, scan_id: int) -> list[dict]:
    """Every confirmation recorded for one scan, oldest first (superseded ones included)."""
    return [dict(row) for row in db.execute("SELECT * FROM outcomes WHERE scan_id = ? ORDER BY id", (scan_id,))]


OUTCOME_FIELDS = ("confirmed_outcome", "confirmed_by", "confirmed_on", "confirmation_method")
"""The outcome in force, as the history export carries it beside each scan (empty when none is recorded)."""


def attach(records: list[dict], current_outcomes: dict[int, dict]) -> list[dict]:
    """Each history record with the outcome in force for it (OUTCOME_FIELDS, None when none is recorded)."""
    attached = []
    for record in records:
        found = current_outcomes.get(record.get("id"))
        values = (
            (None,) * 4
            if found is None
            else (found["outcome"], found["confirmed_by"], found["confirmed_on"], found["method"])
        )
        attached.append(record | dict(zip(OUTCOME_FIELDS, values, strict=True)))
    return attached
