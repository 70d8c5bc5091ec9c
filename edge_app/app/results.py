"""History rows as the app shows them: result cards, and the referral slip (the edge-scan HTML report)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from edge_app.app.i18n import current_language, gettext, number
from edge_app.app.screenings import DISK_FULL, FAILED, Screenings
from edge_app.app.security import SLIP_SECURITY_POLICY
from edge_app.language import N_
from edge_app.record import OK, ScanResult
from edge_app.scoring import UNCERTAIN_MARGIN

__all__ = ["SLIP_SECURITY_POLICY", "card", "records", "slip_html", "stop_reason", "utc_text", "with_history"]
T = TypeVar("T")


def with_history(read: Callable[[sqlite3.Connection, object], T], default: T, *, writing: bool = False) -> T:
    """Run `read(db, history_module)` on the history; `default` when there is no history yet.

    Pages only read, so they open the history as `edge-scan history` does, without migrating or
    switching it; only a page that records something asks for `writing`."""
    from edge_app.storage import history
    from edge_app.storage.paths import history_path

    path = history_path()
    if not path.exists():
        return default
    db = history.connect(path) if writing else history.open_for_reading(path)
    try:
        return read(db, history)
    finally:
        db.close()


def records(ids: list[int]) -> list[dict]:
    if not ids:
        return []
    return with_history(lambda db, history: history.query(db, ids=ids), default=[])


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def stop_reason(exc: BaseException) -> str:
    from edge_app.storage.history import is_disk_full

    return DISK_FULL if is_disk_full(exc) else FAILED


def card(record: dict, screenings: Screenings | None) -> dict:
    """What one result card shows; the words come from the same functions as the CLI and the report."""
    from edge_app.inference.heatmap import describe_strength
    from edge_app.outputs.html_report import verdict_words
    from edge_app.outputs.output import verdict
    from edge_app.reasons import explain, what_to_do
    from edge_app.scan.scanner import describe_correction

    result = ScanResult.from_dict(record)
    ok = record["status"] == OK
    strength = screenings.heatmap_strength(record["id"]) if screenings is not None and ok else None
    reason = record["reason"] or ""
    return {
        "id": record["id"],
        "record": record,
        "ok": ok,
        "verdict": verdict(record, gettext),
        "next_step": verdict_words(result, gettext)[0] if ok else None,
        "tone": ("refer" if record["refer"] else "normal") if ok else "rejected",
        "scanned_at": datetime.fromisoformat(record["scanned_at"]).astimezone(),
        "band": (50 - UNCERTAIN_MARGIN, 50 + UNCERTAIN_MARGIN),
        "explanation": explain(reason, gettext) if reason else "",
        "what_to_do": what_to_do(reason, gettext) if reason else "",
        "note": describe_correction(record["correction"], gettext) if ok else None,
        "heatmap": strength is not None,
        "strength": None if strength is None else describe_strength(strength, gettext, lambda x: number(x, 1)),
        "detail": record["message"] if ok or current_language() == "en" else None,
    }


@dataclass(frozen=True)
class RecordedModel:
    """The model facts a slip prints, as the history recorded them when the scan was made
    (not the model installed today, which may have been updated since)."""

    threshold: float
    threshold_source: str | None
    version: str
    runtime: str
    sha256: str
    integrity: str

    def describe_integrity(self, gettext: Callable[[str], str] = str) -> str:
        return gettext(self.integrity)


def _recorded_model(record: dict) -> RecordedModel:
    verified = {True: N_("verified"), False: N_("NOT verified"), None: N_("not recorded")}[record["model_verified"]]
    return RecordedModel(
        record["threshold"],
        record["threshold_source"],
        record["model_version"],
        record["runtime"],
        record["model_sha256"],
        verified,
    )


def slip_html(rows: list[dict], operator: str | None, screenings: Screenings) -> str:
    from edge_app.inference.heatmap import Explanation
    from edge_app.outputs.clinic_outputs import ExplainedResult
    from edge_app.outputs.html_report import render_report, report_date

    items = []
    for row in rows:
        strength = screenings.heatmap_strength(row["id"])
        explanation = None
        if strength is not None:
            try:
                xray = screenings.heatmap(row["id"], "xray").read_bytes()
                overlay = screenings.heatmap(row["id"], "overlay").read_bytes()
                explanation = Explanation(xray, overlay, strength)
            except OSError:
                explanation = None
        items.append(ExplainedResult(ScanResult.from_dict(row), explanation))
    language = current_language()
    return render_report(items, _recorded_model(rows[0]), operator, report_date(language), language)
