"""Confirmed outcomes as a clinician gives them (one on the command line, or many in a CSV file), checked
against the scan history before anything is written.

A row names its scan by id, or by the child's patient id and the day of the scan
(every scanned image of that child that day). Everything is checked first and the
whole set is refused on the first problem, so a file with one bad row changes nothing.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime

from edge_app.record import OK
from edge_app.storage.outcomes import METHODS, OUTCOMES, Outcome

CSV_COLUMNS = ("scan_id", "patient_id", "scan_date", "outcome", "confirmed_by", "confirmed_on", "method")


SCAN_NOT_NAMED = "scan_not_named"
SCAN_DATE_NEEDED = "scan_date_needed"
SCAN_ID_NOT_A_NUMBER = "scan_id_not_a_number"
CONFIRMED_BY_MISSING = "confirmed_by_missing"
NOT_A_DATE = "not_a_date"
DATE_IN_FUTURE = "date_in_future"
NOT_A_CHOICE = "not_a_choice"
CSV_COLUMNS_MISSING = "csv_columns_missing"
CSV_EMPTY = "csv_empty"
CSV_UNREADABLE = "csv_unreadable"
UNKNOWN_SCAN = "unknown_scan"
NO_SCAN_OF_PATIENT = "no_scan_of_patient"
SCAN_NOT_READ = "scan_not_read"
CONFLICTING_OUTCOMES = "conflicting_outcomes"
NO_HISTORY = "no_history"
"""Stable codes of OutcomeError: a screen in another language explains the code instead of the English message."""


class OutcomeError(Exception):
    """An outcome that cannot be recorded; the message names the row and what is wrong, in English for the
    command line; `code` says which kind of problem it is and `facts` the values a translated message names.
    Nothing was written."""

    def __init__(self, message: str, code: str, **facts: int | str) -> None:
        super().__init__(message)
        self.code, self.facts = code, facts


@dataclass(frozen=True)
class OutcomeRequest:
    where: str
    """How to name this request in a message (e.g. "line 3")."""
    scan_id: int | None
    patient_id: str | None
    scan_date: date | None
    outcome: str
    confirmed_by: str
    confirmed_on: date
    method: str


def _choice(value: str, allowed: tuple[str, ...], name: str, where: str) -> str:
    word = value.strip().lower().replace(" ", "_").replace("-", "_")
    if word not in allowed:
        raise OutcomeError(
            f"{where}: {name} {value!r} is not one of {', '.join(allowed)}.", NOT_A_CHOICE, field=name, value=value
        )
    return word


def _date(value: str, name: str, where: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise OutcomeError(f"{where}: {name} {value!r} is not a date (YYYY-MM-DD).", NOT_A_DATE, field=name) from None


def request(where: str, fields: dict[str, str | None]) -> OutcomeRequest:
    """One request from its text fields (a CSV row, or the command line's options)."""
    scan_text, patient = (fields.get("scan_id") or "").strip(), (fields.get("patient_id") or "").strip()
    day = (fields.get("scan_date") or "").strip()
    if bool(scan_text) == bool(patient):
        raise OutcomeError(
            f"{where}: name the scan by its scan id, or by patient id and scan date (not both).", SCAN_NOT_NAMED
        )
    if patient and not day:
        raise OutcomeError(f"{where}: a patient id needs the scan date (YYYY-MM-DD) to name a scan.", SCAN_DATE_NEEDED)
    if scan_text and not scan_text.isdigit():
        raise OutcomeError(f"{where}: scan id {scan_text!r} is not a number.", SCAN_ID_NOT_A_NUMBER)
    confirmed_by = (fields.get("confirmed_by") or "").strip()
    if not confirmed_by or not confirmed_by.isprintable():
        raise OutcomeError(
            f"{where}: say who confirmed the outcome (confirmed_by is blank or not plain text).", CONFIRMED_BY_MISSING
        )
    confirmed_on = _date(fields.get("confirmed_on") or date.today().isoformat(), "confirmed_on", where)
    if confirmed_on > date.today():
        raise OutcomeError(f"{where}: confirmed_on {confirmed_on} is in the future.", DATE_IN_FUTURE)
    return OutcomeRequest(
        where,
        int(scan_text) if scan_text else None,
        patient or None,
        _date(day, "scan_date", where) if patient else None,
        _choice(fields.get("outcome") or "", OUTCOMES, "outcome", where),
        confirmed_by,
        confirmed_on,
        _choice(fields.get("method") or "", METHODS, "method", where),
    )


def requests_from_csv(text: str, name: str) -> list[OutcomeRequest]:
    """Rows of a CSV with the header CSV_COLUMNS (scan_id or patient_id with scan_date)."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [column for column in CSV_COLUMNS if column not in (reader.fieldnames or [])]
    if missing:
        raise OutcomeError(
            f"{name}: the first line must name the columns {','.join(CSV_COLUMNS)} (missing {missing}).",
            CSV_COLUMNS_MISSING,
        )
    found = [
        request(f"{name}, line {reader.line_num}", row)
        for row in reader
        if any((v or "").strip() for v in row.values())
    ]
    if not found:
        raise OutcomeError(f"{name}: holds no outcome rows.", CSV_EMPTY)
    return found


def _local_day(iso_utc: str) -> date:
    return datetime.fromisoformat(iso_utc).astimezone().date()


def _scans_named(wanted: OutcomeRequest, scans: dict[int, dict]) -> list[dict]:
    if wanted.scan_id is not None:
        if wanted.scan_id not in scans:
            raise OutcomeError(
                f"{wanted.where}: there is no scan {wanted.scan_id} in this history.", UNKNOWN_SCAN, scan=wanted.scan_id
            )
        return [scans[wanted.scan_id]]
    found = [
        scan
        for scan in scans.values()
        if scan["patient_id"] == wanted.patient_id and _local_day(scan["scanned_at"]) == wanted.scan_date
    ]
    if not found:
        raise OutcomeError(
            f"{wanted.where}: no scan of patient {wanted.patient_id} on {wanted.scan_date} in this history.",
            NO_SCAN_OF_PATIENT,
        )
    return found


def resolve(requests: list[OutcomeRequest], scans: dict[int, dict]) -> list[Outcome]:
    """The outcome rows to write, one per scan named; OutcomeError for a scan that is not there, was not scanned
    (an outcome says how a screening did, and there was none), or is given two different outcomes."""
    chosen: dict[int, tuple[OutcomeRequest, Outcome]] = {}
    for wanted in requests:
        for scan in _scans_named(wanted, scans):
            if scan["status"] != OK:
                raise OutcomeError(
                    f"{wanted.where}: scan {scan['id']} was not scanned ({scan['status']}: {scan['reason']}), so it "
                    "has no result to confirm. Record the outcome against the scan that was read.",
                    SCAN_NOT_READ,
                    scan=scan["id"],
                )
            outcome = Outcome(
                scan["id"], wanted.outcome, wanted.confirmed_by, wanted.confirmed_on.isoformat(), wanted.method
            )
            earlier = chosen.get(scan["id"])
            if earlier is not None and earlier[1].outcome != outcome.outcome:
                raise OutcomeError(
                    f"{wanted.where}: scan {scan['id']} is given {outcome.outcome}, but {earlier[0].where} gives it "
                    f"{earlier[1].outcome}. Keep one of them (a later correction is recorded on its own).",
                    CONFLICTING_OUTCOMES,
                    scan=scan["id"],
                )
            chosen[scan["id"]] = (wanted, outcome)
    return [outcome for _, outcome in chosen.values()]
