"""The site screen: the threshold in use and where it came from, the calibration, and the monitoring figures."""

from __future__ import annotations

import secrets
import shutil

from flask import Blueprint, current_app, render_template, request

from edge_app.app import site_messages
from edge_app.app.i18n import gettext
from edge_app.app.results import with_history
from edge_app.app.screenings import current_model
from edge_app.app.uploads import save_uploads, upload_root
from edge_app.contract import LABELS
from edge_app.storage import outcomes

blueprint = Blueprint("site", __name__)


def _threshold() -> tuple[dict | None, str | None]:
    """(what the next scan will use, why no model can be used)."""
    model, warning, problem = current_model()
    if model is None:
        return None, problem
    facts = {"value": model.threshold, "source": model.threshold_source, "detail": model.threshold_detail}
    return facts | {"warning": warning, "version": model.version}, None


MAX_CALIBRATION_FILES = 2000
"""Calibration needs hundreds of labelled X-rays: more than one screening may send."""


def _scans_and_outcomes(db, history) -> tuple[list[dict], dict[int, dict]]:
    """Every stored scan and the confirmed outcome in force for each, from one opening of the history."""
    return history.query(db), outcomes.current(db)


@blueprint.route("/site")
def site_page(calibration: dict | None = None, status: int = 200):
    from edge_app.outputs.calibration_report import summary
    from edge_app.site import profile_check, site_profile
    from edge_app.site.stats import monitor

    threshold, model_error = _threshold()
    try:
        profile, profile_error = profile_check.trusted_profile(), None
    except site_profile.ProfileError as exc:
        profile, profile_error = None, str(exc)
    records, current = with_history(_scans_and_outcomes, default=([], {}))
    stats, warnings, outcome_warnings = monitor(records, profile, outcomes=current)
    weeks = stats["weeks"][-12:]
    page = render_template(
        "site.html",
        calibration=calibration,
        threshold=threshold,
        model_error=model_error,
        profile=profile,
        profile_result=result_figures(profile) if profile else None,
        profile_summary=summary(profile) if profile else None,
        profile_error=profile_error,
        stats=stats,
        warnings=[site_messages.warning_words(warning) for warning in warnings + outcome_warnings],
        weeks=weeks,
        most_scans=max([w["scans"] for w in weeks] + [1]),
        most_in_band=max([band["count"] for band in stats["score_histogram"]] + [1]),
    )
    return page, status


@blueprint.route("/site/calibrate", methods=["POST"])
def calibrate():
    """Calibrate on labelled X-rays picked in the browser, as edge-scan calibrate does on a folder: the same
    scan, the same refusal rules, the profile saved only when the evidence holds."""
    labelled = {label: [f for f in request.files.getlist(label) if f.filename] for label in LABELS}
    if not all(labelled.values()):
        return site_page({"problem": gettext("Choose X-rays for both NORMAL and PNEUMONIA.")}, 400)
    if sum(map(len, labelled.values())) > MAX_CALIBRATION_FILES:
        return site_page({"problem": gettext("Choose at most %(n)s images.", n=MAX_CALIBRATION_FILES)}, 400)
    try:
        target = _target()
    except ValueError as exc:
        return site_page({"problem": site_messages.target_problem(), "detail": str(exc)}, 400)
    folder = upload_root(current_app.extensions["pneumoscan"].data_folder) / f"calibration-{secrets.token_hex(8)}"
    try:
        folder.mkdir(mode=0o700)
        refused = [
            u.label for label, files in labelled.items() for u in save_uploads(files, folder / label) if u.path is None
        ]
        return site_page(_calibrate_folder(folder, target, request.form.get("operator")) | {"refused": refused})
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _target() -> float:
    from edge_app.site.calibration import check_target

    return check_target(float(request.form.get("target", "0.95").replace(",", ".")))  # 0,95 in French


@blueprint.route("/site/calibrate-from-history", methods=["POST"])
def calibrate_from_history():
    """Calibrate on this model's scans with a confirmed outcome, as edge-scan calibrate --from-history does."""
    from edge_app.inference.model_store import ModelError, load_model
    from edge_app.site import calibration, confirmed
    from edge_app.site.promise import Promise

    try:
        target = _target()
    except ValueError as exc:
        return site_page({"problem": site_messages.target_problem(), "detail": str(exc)}, 400)
    try:
        model = load_model()
    except ModelError as exc:
        return site_page({"problem": str(exc)}, 400)
    records, current = with_history(_scans_and_outcomes, default=([], {}))
    scanned_with = calibration.ScannedWith(model.sha256, model.version, model.threshold)
    settings = (Promise(target), request.form.get("operator") or None)
    try:
        profile = confirmed.history_profile(records, current, scanned_with, settings)
    except calibration.CalibrationError as exc:
        return site_page(_failed(exc), 400)
    return site_page(_conclude(profile, model))


def _calibrate_folder(folder, target: float, operator: str | None) -> dict:
    """What the calibration found, and whether the profile was saved: the keys site.html shows."""
    from edge_app.inference.model_store import ModelError, load_model
    from edge_app.site import calibration
    from edge_app.site.promise import Promise

    try:
        model = load_model()  # its own threshold: the calibration compares the site's with it
        site_scan = calibration.scan_site_images(calibration.images_in_folder(folder), model)
        profile = calibration.calibrate(site_scan, model, Promise(target), operator, "X-rays picked in the app")
    except ModelError as exc:
        return {"problem": str(exc)}
    except calibration.CalibrationError as exc:
        return _failed(exc)
    return _conclude(profile, model) | {"left_out": len(site_scan.rejected)}


def _failed(error) -> dict:
    """A calibration that could not run: what the health worker reads, and the English detail for the engineer."""
    return {"problem": site_messages.calibration_problem(error), "detail": str(error)}


def _conclude(profile, model) -> dict:
    """Show the calibration, and save its profile unless it is refused."""
    from edge_app.outputs import calibration_report
    from edge_app.site import calibration, site_profile
    from edge_app.site.threshold_choice import resolve_threshold

    found = {"result": result_figures(profile), "summary": calibration_report.summary(profile)}
    if profile.refused:
        return found | {
            "refusals": [site_messages.refusal_words(reason) for reason in calibration.refusals_of(profile)],
            "refusal": calibration_report.refusal(profile, calibration_report.in_use(resolve_threshold(model))),
        }
    try:
        site_profile.save_profile(profile)
    except OSError as exc:
        return found | {"problem": gettext("The site profile was NOT saved (%(why)s).", why=str(exc))}
    return found | {"saved": True}


def result_figures(profile) -> dict:
    """What a health worker acts on, from the profile's figures (site.html words them in the page's language):
    the threshold, the promise, and per threshold how many children the next batch catches and spares and how many
    healthy children in 100 these X-rays had referred."""

    def at(point: dict | None) -> dict | None:
        if point is None:
            return None
        batch = point.get("children", {}).get("next_children") or {}
        referred = point["healthy_referred"]["value"]
        return {
            "threshold": point["threshold"],
            "healthy_referred": None if referred is None else round(100 * referred),
            "caught": batch.get("caught_at_least"),
            "spared": batch.get("spared_at_least"),
        }

    variety = profile.variety or {}
    return {
        "threshold": profile.threshold,
        "promise": site_messages.promise_words(profile.promise),
        "next_children": profile.next_children,
        "images": {label: profile.counts.get(label, 0) for label in LABELS},
        "children": variety.get("children"),
        "site": at(profile.site_threshold),
        "model": at(profile.model_threshold),
    }
