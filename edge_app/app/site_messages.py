"""What the Site and History screens say when a calibration is refused or fails, monitoring warns, or an outcome
cannot be recorded, in the page's language.

The rules, and the English sentences the command line prints, stay in edge_app.site; each problem
they find carries a stable code and its figures, and this module looks the code up: a health worker
reads what was wrong and what to do, and the English detail stays for the programme engineer.
"""

from __future__ import annotations

from edge_app.app.i18n import gettext, number, percent, reason_words
from edge_app.language import N_
from edge_app.site import calibration, confirmed, outcome_input, refusals, stats
from edge_app.site.findings import Finding
from edge_app.site.promise import Promise

REFUSALS = {
    refusals.TOO_FEW_IMAGES: N_(
        "Only %(found)s %(label)s X-rays could be used: at least %(needed)s are needed. "
        "Add %(missing)s more %(label)s X-rays, then calibrate again."
    ),
    refusals.NO_PNEUMONIA_IMAGES: N_(
        "None of the PNEUMONIA X-rays could be used, so no threshold can be chosen. "
        "Choose PNEUMONIA X-rays that scan, then calibrate again."
    ),
    refusals.FOLDERS_SWAPPED: N_(
        "The PNEUMONIA X-rays look healthier than the NORMAL X-rays: the two were probably swapped. "
        "Put the X-rays of children with pneumonia under PNEUMONIA and the others under NORMAL, then calibrate again."
    ),
    refusals.TOO_FEW_CHILDREN_FOR_PROMISE: N_(
        "Only %(children)s children with pneumonia: this promise needs at least %(needed)s. "
        "Add X-rays of %(missing)s more children with pneumonia, or choose a lower share to catch."
    ),
    refusals.SAME_XRAY_BOTH_LABELS: N_(
        "Some X-rays are both under NORMAL and under PNEUMONIA (%(xrays)s). "
        "Check their diagnosis, keep each under one label only, then calibrate again."
    ),
    refusals.TOO_FEW_CHILDREN: N_(
        "The %(label)s X-rays show only %(found)s different children: at least %(needed)s are needed. "
        "Copies of one X-ray and X-rays of the same child count once. Add X-rays of other children."
    ),
}
NO_CHILDREN_ENOUGH = N_("No number of children with pneumonia can back this promise. Choose a lower share to catch.")
"""TOO_FEW_CHILDREN_FOR_PROMISE when no site could have enough children (its facts name no `needed`)."""

CALIBRATION_ERRORS = {
    calibration.UNREADABLE_LABELS: N_("The chosen X-rays could not be read for calibration. Nothing was changed."),
    calibration.NO_USABLE_THRESHOLD: N_(
        "The model gives these X-rays no score that can be used as a threshold. Nothing was changed. "
        "Ask the programme engineer."
    ),
}

OUTCOME_ERRORS = {
    outcome_input.SCAN_NOT_NAMED: N_("Give the scan number."),
    outcome_input.SCAN_DATE_NEEDED: N_("Give the date of the scan."),
    outcome_input.SCAN_ID_NOT_A_NUMBER: N_("The scan number must be a number."),
    outcome_input.CONFIRMED_BY_MISSING: N_("Write who confirmed the outcome."),
    outcome_input.NOT_A_DATE: N_("Type the date as year-month-day, for example 2025-03-01."),
    outcome_input.DATE_IN_FUTURE: N_("The date of confirmation is in the future."),
    outcome_input.NOT_A_CHOICE: N_("Choose the outcome and how it was confirmed from the lists."),
    outcome_input.CSV_COLUMNS_MISSING: N_("The file does not have the right columns."),
    outcome_input.CSV_EMPTY: N_("The file has no outcomes."),
    outcome_input.CSV_UNREADABLE: N_("The file cannot be read."),
    outcome_input.UNKNOWN_SCAN: N_("There is no scan %(scan)s on this device. Check the scan number."),
    outcome_input.NO_SCAN_OF_PATIENT: N_("No scan of this patient on that day. Check the patient ID and the date."),
    outcome_input.SCAN_NOT_READ: N_(
        "Scan %(scan)s has no result: the image was not scanned. "
        "Record the outcome for the scan of the same child that has a result."
    ),
    outcome_input.CONFLICTING_OUTCOMES: N_("Scan %(scan)s is given two different outcomes. Keep one of them."),
    outcome_input.NO_HISTORY: N_("There is no scan history on this device yet."),
}


WARNINGS = {
    stats.REFERRALS_CHANGED: N_(
        "Referrals have changed: %(referred)s of %(scanned)s children scanned in the last %(days)s days were "
        "referred, where the calibration expects %(low)s to %(high)s. The X-ray machine, the model or the children "
        "may have changed: check image quality, then calibrate the site again."
    ),
    stats.REJECTIONS_CLIMB: N_(
        "More images not scanned because %(reason)s: %(count)s of %(scanned)s in the last %(days)s days, against "
        "%(before)s of %(scanned_before)s before. Check the X-ray machine and how images are taken."
    ),
    confirmed.MISSED_MORE_THAN_PROMISED: N_(
        "%(month)s: the screening missed pneumonia more often than the calibration promised (%(pneumonia)s "
        "confirmed pneumonias). Check image quality, then calibrate again from confirmed scans."
    ),
    confirmed.FEW_OUTCOMES: N_(
        "%(month)s: only %(confirmed)s of %(scanned)s scans have a confirmed outcome (%(pneumonia)s with "
        "pneumonia): too few to know how many pneumonias were missed. Record outcomes on the History page."
    ),
}


def _words(message: str, facts: dict) -> str:
    """The message with its figures as the language writes numbers, and a label (NORMAL, PNEUMONIA) as the
    verdicts are translated."""
    shown = {key: number(value) if isinstance(value, int) else value for key, value in facts.items()}
    if "label" in shown:
        shown["label"] = gettext(shown["label"])
    if "reason" in shown:
        shown["reason"] = reason_words(shown["reason"])
    return gettext(message, **shown)


def refusal_words(refusal: Finding) -> str:
    """Why a calibration was refused and what to do, in the page's language."""
    if refusal.code == refusals.TOO_FEW_CHILDREN_FOR_PROMISE and "needed" not in refusal.facts:
        return gettext(NO_CHILDREN_ENOUGH)
    return _words(REFUSALS[refusal.code], refusal.facts)


def warning_words(warning: Finding) -> str:
    """A monitoring warning of the Site screen, with what to do, in the page's language."""
    return _words(WARNINGS[warning.code], warning.facts)


def calibration_problem(error: calibration.CalibrationError) -> str:
    return gettext(CALIBRATION_ERRORS[error.code])


def outcome_problem(error: outcome_input.OutcomeError) -> str:
    return _words(OUTCOME_ERRORS[error.code], error.facts)


def target_problem() -> str:
    """A share to catch the device cannot back (`calibration.check_target`), or not a number."""
    return gettext(
        "Type the share to catch as a number above %(floor)s and under 1, for example %(example)s.",
        floor=number(calibration.SENSITIVITY_FLOOR, 2),
        example=number(0.95, 2),
    )


def promise_words(promise: Promise) -> str:
    """The promise a calibration keeps, as a health worker can repeat it."""
    sure = percent(promise.confidence)
    if promise.next_children is None:  # profiles saved before batches were promised
        return gettext(
            "At least %(share)s of new children with pneumonia will be caught, in the long run (%(sure)s sure).",
            share=percent(promise.target),
            sure=sure,
        )
    return gettext(
        "Of the next %(n)s children with pneumonia, at least %(caught)s will be caught (%(sure)s sure).",
        n=number(promise.next_children),
        caught=number(promise.next_children - promise.misses_allowed),
        sure=sure,
    )
