"""The scans a clinician has confirmed, as evidence: for calibrating again from the history, and for measuring
each month how the screening did (what `edge-scan stats` compares with the calibration's promise).

Only scans with a confirmed pneumonia or no pneumonia count ("not known" says nothing
about the screening); only those of one model, as scores of another model are not
comparable; and each X-ray once, whichever scan of it came first.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from edge_app.contract import LABELS
from edge_app.record import OK
from edge_app.site import calibration, metrics
from edge_app.site.findings import Finding
from edge_app.site.promise import Promise
from edge_app.site.site_profile import CalibrationImage, SiteProfile

LABEL_OF = {"no_pneumonia": LABELS[0], "pneumonia": LABELS[1]}
FEW_CONFIRMED = 0.2
"""Under this share of a month's scans confirmed, its measured figures describe the few children someone chose to
follow up, and the lack of bad news means little: say so."""
MIN_CONFIRMED_PNEUMONIA = 10
"""Fewer confirmed pneumonias than this in a month: its sensitivity interval is too wide to warn on anything."""
MISSED_MORE_THAN_PROMISED = "missed_more_than_promised"
"""Warning code: a month's sensitivity is shown to be under the promise (facts: `month`, `pneumonia`)."""
FEW_OUTCOMES = "few_outcomes"
"""Warning code: too few of a month's scans confirmed (facts: `month`, `confirmed`, `scanned`, `pneumonia`)."""


def confirmed_scans(
    records: list[dict], outcomes: dict[int, dict], model_sha256: str | None = None
) -> list[tuple[dict, str]]:
    """(scan, NORMAL or PNEUMONIA) for each scanned, confirmed image (of this model, when one is named), each X-ray
    once."""
    seen: set[str] = set()
    found = []
    for record in records:
        outcome = outcomes.get(record.get("id"))
        if record["status"] != OK or model_sha256 not in (None, record["model_sha256"]) or outcome is None:
            continue
        if outcome["outcome"] not in LABEL_OF or record["sha256"] in seen:
            continue
        seen.add(record["sha256"])
        found.append((record, LABEL_OF[outcome["outcome"]]))
    return found


def calibration_images(confirmed: list[tuple[dict, str]]) -> list[CalibrationImage]:
    """Calibration images from confirmed scans: the score the model gave, the child the scan names."""
    return [
        CalibrationImage(record["sha256"], label, record["probability"], record["patient_id"] or None)
        for record, label in confirmed
    ]


def history_profile(
    records: list[dict],
    outcomes: dict[int, dict],
    model: calibration.ScannedWith,
    settings: tuple[Promise, str | None],
    since: str | None = None,
) -> SiteProfile:
    """The site profile from the confirmed scans of `model` in the history (from `since`, as typed), by the same
    rules as a labelled folder. `settings`: the promise, and who calibrates."""
    promise, operator = settings
    images = calibration_images(confirmed_scans(records, outcomes, model.sha256))
    source = f"confirmed scans in the history{'' if since is None else f' since {since}'}"
    return calibration.build_profile(images, [], model, promise, operator, source)


def _rate(successes: int, trials: int) -> dict:
    if not trials:
        return {"value": None, "ci95": None, "n": 0}
    low, high = metrics.clopper_pearson_interval(successes, trials)
    return {"value": successes / trials, "ci95": [low, high], "n": trials}


def monthly(records: list[dict], confirmed: list[tuple[dict, str]]) -> list[dict]:
    """Per month (local time): scans, confirmed scans, and the measured sensitivity and specificity of the result
    each scan gave (PNEUMONIA suspected or not, at the threshold it used), with exact 95% intervals."""
    months: dict[str, dict] = defaultdict(lambda: {"scanned": 0, "tp": 0, "fn": 0, "tn": 0, "fp": 0})
    for record in records:
        if record["status"] == OK:
            months[_month(record)]["scanned"] += 1
    for record, label in confirmed:
        called = record["label"] == LABELS[1]
        key = ("tp" if called else "fn") if label == LABELS[1] else ("fp" if called else "tn")
        months[_month(record)][key] += 1
    return [
        {
            "month": month,
            "scanned": counts["scanned"],
            "confirmed": counts["tp"] + counts["fn"] + counts["tn"] + counts["fp"],
            "sensitivity": _rate(counts["tp"], counts["tp"] + counts["fn"]),
            "specificity": _rate(counts["tn"], counts["tn"] + counts["fp"]),
        }
        for month, counts in sorted(months.items())
    ]


def _month(record: dict) -> str:
    return datetime.fromisoformat(record["scanned_at"]).astimezone().strftime("%Y-%m")


def warnings(months: list[dict], target: float | None) -> list[Finding]:
    """Months whose sensitivity is shown to be under the promise (the upper bound under the target), and months
    with too few outcomes recorded for silence to mean success."""
    found = []
    for month in months:
        sensitivity = month["sensitivity"]
        if target is not None and sensitivity["ci95"] is not None and sensitivity["ci95"][1] < target:
            found.append(
                Finding(
                    MISSED_MORE_THAN_PROMISED,
                    f"{month['month']}: the screening missed pneumonia more often than the calibration promised: "
                    f"sensitivity {sensitivity['value']:.2f} on {sensitivity['n']} confirmed pneumonias, at most "
                    f"{sensitivity['ci95'][1]:.2f} (95% confidence), under the target {target:.2f}. Check image "
                    "quality and calibrate again (edge-scan calibrate --from-history).",
                    {"month": month["month"], "pneumonia": sensitivity["n"]},
                )
            )
        if month["scanned"] and (
            month["confirmed"] < FEW_CONFIRMED * month["scanned"] or sensitivity["n"] < MIN_CONFIRMED_PNEUMONIA
        ):
            found.append(
                Finding(
                    FEW_OUTCOMES,
                    f"{month['month']}: only {month['confirmed']} of {month['scanned']} scans have a confirmed "
                    f"outcome ({sensitivity['n']} pneumonia): too few to know how many pneumonias were missed. Record "
                    "outcomes with edge-scan outcome.",
                    {
                        "month": month["month"],
                        "confirmed": month["confirmed"],
                        "scanned": month["scanned"],
                        "pneumonia": sensitivity["n"],
                    },
                )
            )
    return found
