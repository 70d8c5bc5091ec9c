"""The site profile: the threshold a site calibrated on its own images, kept in PNEUMOSCAN_HOME.

The active profile is one JSON file, replaced atomically, so a crash or a
power cut during `edge-scan calibrate` leaves the previous profile in force.
Every profile ever saved is also kept in `site_profiles/`, so an audit can see
which threshold was in use when. A profile names the SHA-256 of the model it
was measured with: a threshold is only meaningful for that model, so after a
model update the model's own threshold is used again until the site recalibrates.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

from edge_app.files import atomic_write_text
from edge_app.inference.model_store import ScanModel
from edge_app.storage.paths import data_dir
from edge_app.threshold import SITE, check_threshold

PROFILE_FILE = "site_profile.json"
ARCHIVE_DIR = "site_profiles"
PROFILE_FORMAT = 1


class ProfileError(Exception):
    """The active profile cannot be read; the message says what to do."""


def active_profile_path() -> Path:
    return data_dir() / PROFILE_FILE


def archive_dir() -> Path:
    return data_dir() / ARCHIVE_DIR


def save_profile(profile: dict) -> Path:
    """Keep a dated copy, then make `profile` the active one; returns the active file.

    The dated copy is written first: if the device dies between the two writes,
    the old profile is still active and the new one is only in the archive.
    """
    text = json.dumps(profile, indent=2) + "\n"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    atomic_write_text(archive_dir() / f"site_profile-{stamp}.json", text)
    return atomic_write_text(active_profile_path(), text)


def load_profile() -> dict | None:
    """The active profile, or None when the site has not calibrated (or was reset)."""
    path = active_profile_path()
    try:
        profile = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ProfileError(f"{path}: the site profile cannot be read ({exc}).") from exc
    try:
        check_threshold(profile["threshold"])
        if not isinstance(profile["model_sha256"], str):
            raise TypeError("model_sha256 is not text")
    except (KeyError, TypeError, ValueError) as exc:
        raise ProfileError(f"{path}: the site profile is not valid ({exc}).") from exc
    return profile


def reset_profile() -> Path | None:
    """Stop using the active profile; its dated copy stays in the archive. Returns the file removed."""
    path = active_profile_path()
    if not path.exists():
        return None
    path.unlink()
    return path


def with_site_threshold(model: ScanModel) -> tuple[ScanModel, str | None]:
    """The model with the site's threshold when the active profile was made for it; else
    the model unchanged and a warning saying why the site threshold is not used."""
    try:
        profile = load_profile()
    except ProfileError as exc:
        return model, f"{exc} Using the model's own threshold {model.threshold:.3f}. Run edge-scan calibrate again."
    if profile is None:
        return model, None
    if profile["model_sha256"] != model.sha256:
        return model, (
            f"The site calibration of {profile.get('created_at', '?')[:10]} was made for another model "
            f"(SHA-256 {profile['model_sha256'][:12]}...), not this one ({model.sha256[:12]}...): "
            f"using the model's own threshold {model.threshold:.3f}. Calibrate again with edge-scan calibrate."
        )
    site = dataclasses.replace(
        model,
        threshold=float(profile["threshold"]),
        threshold_source=SITE,
        threshold_detail=f"site calibration of {profile.get('created_at', '?')[:10]} ({active_profile_path()})",
    )
    return site, None
