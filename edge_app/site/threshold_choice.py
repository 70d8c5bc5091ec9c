"""The one rule for a scan's threshold: --threshold typed for this scan, else the site's calibration, else the
model's own. Every command that scans, describes or calibrates asks here, so they never disagree."""

from __future__ import annotations

from edge_app.inference.model_store import ScanModel
from edge_app.site import profile_check, site_profile
from edge_app.threshold import COMMAND_LINE, MODEL, SITE, ThresholdChoice


def resolve_threshold(model: ScanModel, command_line: float | None = None, use_site: bool = True) -> ThresholdChoice:
    """The threshold for `model` (as loaded, with its own threshold) and where it came from.

    The site profile is used only when it was made for this model and holds together
    (`profile_check`); otherwise the model's own threshold, with a warning saying why."""
    if command_line is not None:
        return ThresholdChoice(command_line, COMMAND_LINE, "set with --threshold")
    own = ThresholdChoice(model.threshold, MODEL, model.threshold_detail)
    if not use_site:
        return own
    fallback = f"Using the model's own threshold {model.threshold:.3f}."
    try:
        profile = site_profile.load_profile()
    except site_profile.ProfileError as exc:
        return ThresholdChoice(own.value, own.source, own.detail, f"{exc} {fallback} Run edge-scan calibrate again.")
    if profile is None:
        return own
    if profile.model_sha256 != model.sha256:
        return ThresholdChoice(
            own.value,
            own.source,
            own.detail,
            f"The site calibration of {profile.created_on} was made for another model "
            f"(SHA-256 {profile.model_sha256[:12]}...), not this one ({model.sha256[:12]}...): "
            f"using the model's own threshold {model.threshold:.3f}. Calibrate again with edge-scan calibrate.",
        )
    found = profile_check.problems(profile, model.threshold)
    if found:
        return ThresholdChoice(
            own.value,
            own.source,
            own.detail,
            f"The site profile {site_profile.active_profile_path()} is not used: {'; '.join(found)}. {fallback} "
            "Calibrate again with edge-scan calibrate.",
        )
    path = site_profile.active_profile_path()
    return ThresholdChoice(profile.threshold, SITE, f"site calibration of {profile.created_on} ({path})")
