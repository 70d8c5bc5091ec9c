"""Print scan and history records as a table for people, or JSON Lines / CSV for programs.

Records are printed one at a time as they are produced, and stdout is flushed
after each, so whatever appears on screen (or in a pipe) is already saved in
the history. Only data goes to stdout; progress and warnings go to stderr.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import TextIO

from edge_app.contract import POSITIVE_LABEL
from edge_app.language import N_
from edge_app.outputs.fhir_export import FhirBundleWriter
from edge_app.record import OK, REJECTED, SCAN_FIELDS
from edge_app.scoring import UNCERTAIN_MARGIN
from edge_app.storage.outcomes import OUTCOME_FIELDS

HISTORY_FIELDS = ("id", *SCAN_FIELDS, *OUTCOME_FIELDS)

DISCLAIMER = N_(
    "PneumoScan is a screening aid, NOT a diagnosis. "
    "A trained clinician must confirm every result. When in doubt, refer the child."
)


class JsonLinesWriter:
    """One JSON object per record per line."""

    def __init__(self, stream: TextIO, fields: tuple[str, ...]) -> None:
        self.stream, self.fields = stream, fields

    def start(self) -> None:
        pass

    def write(self, record: dict) -> None:
        self.stream.write(json.dumps({field: record.get(field) for field in self.fields}) + "\n")
        self.stream.flush()

    def finish(self) -> None:
        pass


class CsvWriter:
    """A header line, then one row per record (empty cell for null), every text cell made safe by `csv_cell`:
    the history export, `scan --format csv` and the app's download all open in spreadsheets."""

    def __init__(self, stream: TextIO, fields: tuple[str, ...]) -> None:
        self.stream, self.fields = stream, fields
        self.writer = csv.DictWriter(stream, fieldnames=fields, extrasaction="ignore", lineterminator="\n")

    def start(self) -> None:
        self.writer.writeheader()
        self.stream.flush()

    def write(self, record: dict) -> None:
        self.writer.writerow({field: csv_cell(record.get(field)) for field in self.fields})
        self.stream.flush()

    def finish(self) -> None:
        pass


_FORMULA_STARTS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
"""What makes a spreadsheet read a cell as a formula (OWASP's list, with the full-width forms some read too)."""


def csv_cell(value: object) -> object:
    """A value for a CSV cell a spreadsheet will not run: text that a spreadsheet would read as a
    formula (a patient ID "=HYPERLINK(...)", a file name "+cmd|...") gets a leading single quote, OWASP's
    rule, and control characters are shown as escapes, as in the table. Numbers and null pass unchanged."""
    if not isinstance(value, str):
        return value
    stripped = value.lstrip(" \n\x0b\x0c")
    formula = value[:1] in _FORMULA_STARTS or stripped[:1] in _FORMULA_STARTS
    return ("'" if formula else "") + printable(value)


def verdict(record: dict, gettext: Callable[[str], str] = str) -> str:
    """The plain-words result of one record; `gettext` translates it (English, the CLI's words, when left out)."""
    if record["status"] == REJECTED:
        # Translators: a result's headline; REFER means send the child to a clinician (PCIME/AIDI: référer, referir).
        return gettext("NOT SCANNED")
    if record["status"] != OK:
        return gettext("ERROR")
    if record["label"] == POSITIVE_LABEL:
        if record["uncertain"]:
            return gettext("PNEUMONIA suspected - REFER (uncertain)")
        return gettext("PNEUMONIA suspected - REFER")
    label = gettext(record["label"])
    # Translators: {label} is the translated NORMAL; the score is close to the threshold, so refer anyway.
    return gettext("{label}? uncertain - REFER").format(label=label) if record["uncertain"] else label


def _number(value: float | int | None, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""Control characters (newline, escape) and the bidirectional overrides that reorder what is shown."""


def printable(text: str | None) -> str | None:
    """Text for one table cell: control characters shown as escapes (\\n, \\x1b, \\u202e), so a
    file named "x\\nPNEUMONIA ..." cannot print a forged row or recolour the terminal."""
    if text is None:
        return None
    return _UNPRINTABLE.sub(lambda found: found.group().encode("unicode_escape").decode("ascii"), text)


def local_time(iso_utc: str) -> str:
    return datetime.fromisoformat(iso_utc).astimezone().strftime("%Y-%m-%d %H:%M")


class ScanTableWriter:
    """Plain sentences and one row per image, for the health worker."""

    _ROW = "{result:<40} {score:>5} {probability:>11} {threshold:>9}  {path}"

    def __init__(self, stream: TextIO, threshold: float) -> None:
        self.stream, self.threshold = stream, threshold
        self.counts = {"ok": 0, "refer": 0, "not_scanned": 0}

    def _line(self, text: str = "") -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def start(self) -> None:
        self._line(DISCLAIMER)
        self._line()
        self._line(
            self._ROW.format(
                result="RESULT", score="SCORE", probability="PROBABILITY", threshold="THRESHOLD", path="FILE"
            )
        )

    def write(self, record: dict) -> None:
        self._line(
            self._ROW.format(
                result=verdict(record),
                score=_number(record["score"], "{}"),
                probability=_number(record["probability"], "{:.3f}"),
                threshold=_number(record["threshold"], "{:.3f}"),
                path=printable(record["path"]),
            )
        )
        if record["status"] != OK or record.get("correction"):
            self._line(f"    {printable(record['message'])}")
        if record["status"] != OK:
            self.counts["not_scanned"] += 1
        else:
            self.counts["ok"] += 1
            self.counts["refer"] += bool(record["refer"])

    def finish(self) -> None:
        ok, refer, bad = self.counts["ok"], self.counts["refer"], self.counts["not_scanned"]
        self._line()
        self._line(f"Scanned {ok} image(s): {refer} to refer, {ok - refer} NORMAL.")
        if bad:
            self._line(f"{bad} image(s) NOT scanned: see the reason under each one, then fix or retake them.")
        self._line(
            f"Score 50 or more means PNEUMONIA suspected (probability {self.threshold:.3f} or more); "
            f"scores between {50 - UNCERTAIN_MARGIN} and {50 + UNCERTAIN_MARGIN} are uncertain and should be referred."
        )


class HistoryTableWriter:
    """Past scans, one row each, newest last."""

    _ROW = "{time:<16}  {patient:<12} {operator:<12} {result:<40} {score:>5}  {path}"

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.rows = 0

    def start(self) -> None:
        self.stream.write(
            self._ROW.format(
                time="TIME", patient="PATIENT", operator="OPERATOR", result="RESULT", score="SCORE", path="FILE"
            )
            + "\n"
        )

    def write(self, record: dict) -> None:
        self.rows += 1
        self.stream.write(
            self._ROW.format(
                time=local_time(record["scanned_at"]),
                patient=printable(record["patient_id"]) or "-",
                operator=printable(record["operator"]) or "-",
                result=verdict(record) if record["status"] == OK else f"{verdict(record)} ({record['reason']})",
                score=_number(record["score"], "{}"),
                path=printable(record["path"]),
            )
            + "\n"
        )

    def finish(self) -> None:
        self.stream.write(f"{self.rows} scan(s).\n")


def scan_writer(fmt: str, stream: TextIO, threshold: float):
    if fmt == "table":
        return ScanTableWriter(stream, threshold)
    return JsonLinesWriter(stream, SCAN_FIELDS) if fmt == "json" else CsvWriter(stream, SCAN_FIELDS)


def history_writer(fmt: str, stream: TextIO):
    if fmt == "table":
        return HistoryTableWriter(stream)
    if fmt == "fhir":
        return FhirBundleWriter(stream)
    return JsonLinesWriter(stream, HISTORY_FIELDS) if fmt == "json" else CsvWriter(stream, HISTORY_FIELDS)
