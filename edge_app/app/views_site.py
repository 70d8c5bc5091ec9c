"""The site screen: the threshold in use and where it came from, the calibration, and the monitoring figures."""

from __future__ import annotations

from flask import Blueprint, render_template

from edge_app.app.results import with_history
from edge_app.app.screenings import current_model

blueprint = Blueprint("site", __name__)


def _threshold() -> tuple[dict | None, str | None]:
    """(what the next scan will use, why no model can be used)."""
    model, warning, problem = current_model()
    if model is None:
        return None, problem
    facts = {"value": model.threshold, "source": model.threshold_source, "detail": model.threshold_detail}
    return facts | {"warning": warning, "version": model.version}, None


@blueprint.route("/site")
def site_page():
    from edge_app.outputs.calibration_report import summary
    from edge_app.site import profile_check, site_profile
    from edge_app.site.stats import summarize

    threshold, model_error = _threshold()
    try:
        profile, profile_error = profile_check.trusted_profile(), None
    except site_profile.ProfileError as exc:
        profile, profile_error = None, str(exc)
    records = with_history(lambda db, history: history.query(db), default=[])
    stats = summarize(records, profile)
    weeks = stats["weeks"][-12:]
    return render_template(
        "site.html",
        threshold=threshold,
        model_error=model_error,
        profile=profile,
        profile_summary=summary(profile) if profile else None,
        profile_error=profile_error,
        stats=stats,
        weeks=weeks,
        most_scans=max([w["scans"] for w in weeks] + [1]),
        most_in_band=max([band["count"] for band in stats["score_histogram"]] + [1]),
    )
