"""Whether a site profile still says what calibration measured, before its threshold is trusted.

A profile is a file anyone with access to the device can edit. An edited threshold
(say 0.99 instead of 0.38) would send children with pneumonia home while every
figure shown still describes the old threshold. So a profile is only used when it
holds together: its checksum matches its content, the threshold is the one the
calibration rule picks from the stored per-image scores, and every recorded figure
recomputes from those scores. The checksum is not a signature: it catches edits,
not a forger who recomputes everything, which needs no less than re-running calibration.
"""

from __future__ import annotations

import json

from edge_app.contract import LABELS
from edge_app.site import calibration
from edge_app.site.site_profile import ProfileError, SiteProfile, content_checksum, load_profile


def _same(recorded: object, recomputed: object) -> bool:
    """Equal as saved: both through the same JSON form, so 0.5 and numpy's 0.5 compare equal."""
    return json.dumps(recorded, sort_keys=True) == json.dumps(recomputed, sort_keys=True)


def problems(profile: SiteProfile, model_threshold: float | None = None) -> list[str]:
    """Why this profile must not be trusted, in plain sentences; empty when it holds together.

    `model_threshold` is the own threshold of the model in use; its figures in the profile must be for it."""
    if profile.checksum is None or any(image.probability is None for image in profile.images):
        return ["it was saved by an earlier PneumoScan without each image's score, so its figures cannot be checked"]
    if profile.checksum != content_checksum(profile.to_dict()):
        return ["it was changed after calibration (its content no longer matches its checksum)"]
    if profile.format < 3:
        return [
            "it was chosen by an earlier rule that made no promise about new children (it often missed the target "
            "on them)"
        ]
    try:
        evidence, variety = calibration.assess(
            list(profile.images), profile.promise, profile.model_threshold["threshold"]
        )
    except calibration.CalibrationError as exc:
        return [f"its scores do not give a threshold ({exc})"]
    found = []
    if evidence.threshold != profile.threshold:
        found.append(
            f"its threshold {profile.threshold:.3f} is not the one its scores give "
            f"({evidence.threshold if evidence.threshold is None else f'{evidence.threshold:.3f}'})"
        )
    if not _same(profile.site_threshold, evidence.site) or not _same(profile.model_threshold, evidence.model):
        found.append("its figures do not recompute from its per-image scores")
    if not _same({k: v for k, v in profile.counts.items() if k in LABELS}, evidence.counts):
        found.append("its image counts do not match its images")
    if model_threshold is not None and profile.model_threshold["threshold"] != model_threshold:
        found.append(f"it compares with a model threshold other than this model's own ({model_threshold:.3f})")
    if profile.variety is not None and not _same(profile.variety, variety):
        found.append("its counts of different images and children do not match its images")
    found += [f"calibration would refuse it: {reason.detail}" for reason in evidence.refused]
    return found


def trusted_profile() -> SiteProfile | None:
    """The active profile when its figures hold together (None when the site has not calibrated);
    ProfileError saying why it is not used otherwise. For figures shown beside it, such as the referral drift."""
    profile = load_profile()
    found = [] if profile is None else problems(profile)
    if found:
        raise ProfileError(f"The site profile is not used: {'; '.join(found)}.")
    return profile
