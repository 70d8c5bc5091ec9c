"""The site profile: the threshold a site calibrated on its own images, kept in PNEUMOSCAN_HOME.

The active profile is one JSON file, replaced atomically, so a crash or a
power cut during `edge-scan calibrate` leaves the previous profile in force.
Every profile ever saved is also kept in `site_profiles/`, so an audit can see
which threshold was in use when. A profile names the SHA-256 of the model it
was measured with: a threshold is only meaningful for that model, so after a
model update the model's own threshold is used again until the site recalibrates.

The file is read into a `SiteProfile` and checked field by field, so a damaged,
hand-written or foreign file is named with what is wrong instead of failing deep
inside a command. Whether its figures hold together is checked separately
(`edge_app.site.profile_check`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge_app.contract import LABELS
from edge_app.files import MISSING, JsonFileError, atomic_write_text, read_json_file
from edge_app.site.promise import CONFIDENCE, Promise
from edge_app.storage.paths import data_dir
from edge_app.threshold import check_threshold

PROFILE_FILE = "site_profile.json"
ARCHIVE_DIR = "site_profiles"
PROFILE_FORMAT = 4
"""1: written before per-image scores were kept (still read, but its figures cannot be checked);
2: every image's score and a checksum of the whole profile; 3: the threshold keeps a promise about new children's
long-run sensitivity at a stated confidence (`edge_app.site.promise`), with the figures per child; 4: the promise is
about the next `next_children` children, which is what a clinic, or a held-out set, can check."""
MAX_PROFILE_BYTES = 64 * 2**20
"""A profile keeps one line per calibration image: 100,000 images are about 20 MB."""
RATES = (
    "sensitivity",
    "specificity",
    "healthy_called_pneumonia",
    "healthy_referred",
    "pneumonia_referred",
    "referral_rate",
)
CONFUSION = ("tp", "fp", "tn", "fn")


class ProfileError(Exception):
    """The active profile cannot be read or is not a site profile; the message says what is wrong."""


@dataclass(frozen=True)
class CalibrationImage:
    """One accepted calibration image: its file's SHA-256, its label and the model's score for it."""

    sha256: str
    label: str
    probability: float | None = None
    """None in profiles saved before scores were kept."""
    child: str | None = None
    """Who the image is of, when the file says so (DICOM PatientID, or the patient number in a Kermany name)."""
    copy_of: int | None = None
    """The index of the earlier image this one copies (same bytes, or nearly the same X-ray): counted once."""


@dataclass(frozen=True)
class SiteProfile:
    """What `edge-scan calibrate` measured and chose. `site_threshold` and `model_threshold` are the operating
    points of `calibration.operating_point` at the chosen and at the model's own threshold."""

    threshold: float | None
    target_sensitivity: float
    sensitivity_floor: float
    created_at: str
    source: str
    model_sha256: str
    model_version: str
    counts: dict[str, int]
    site_threshold: dict | None
    model_threshold: dict
    images: tuple[CalibrationImage, ...]
    operator: str | None = None
    confidence: float = CONFIDENCE
    """How sure the promise is that new children's sensitivity reaches the target (format 3)."""
    next_children: int | None = None
    """How many next children with pneumonia the promise is about (format 4); None: their long-run sensitivity."""
    rejected: tuple[dict, ...] = ()
    refused: tuple[str, ...] = ()
    variety: dict | None = None
    """How many distinct images and children stand behind the counts (None before it was measured)."""
    format: int = PROFILE_FORMAT
    checksum: str | None = None
    """SHA-256 of every other field as saved; None before it was recorded."""

    @property
    def created_on(self) -> str:
        return self.created_at[:10]

    @property
    def promise(self) -> Promise:
        return Promise(self.target_sensitivity, self.confidence, self.next_children)

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        if data["next_children"] is None:  # absent before format 4: its checksum covers no such field
            del data["next_children"]
        data["images"] = [{k: v for k, v in image.items() if v is not None} for image in data["images"]]
        data["rejected"], data["refused"] = list(data["rejected"]), list(data["refused"])
        return data

    def sealed(self) -> SiteProfile:
        """This profile with the checksum of its content, as it is saved."""
        current = dataclasses.replace(self, format=PROFILE_FORMAT, checksum=None)
        return dataclasses.replace(current, checksum=content_checksum(current.to_dict()))


def content_checksum(data: dict) -> str:
    """SHA-256 of a profile's fields other than the checksum, in one canonical JSON form."""
    content = {key: value for key, value in data.items() if key != "checksum"}
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _field(data: dict, key: str, kinds: tuple[type, ...], where: str = "") -> Any:
    if key not in data:
        raise ProfileError(f"{where}{key} is missing")
    value = data[key]
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        names = " or ".join("null" if kind is type(None) else kind.__name__ for kind in kinds)
        raise ProfileError(f"{where}{key} is {json.dumps(value)[:40]}, not {names}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ProfileError(f"{where}{key} is not a finite number")
    return value


def _sha256(value: str, name: str) -> str:
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise ProfileError(f"{name} is not a SHA-256 (64 hexadecimal characters)")
    return value


def _rate(data: dict, key: str, where: str) -> None:
    rate = _field(data, key, (dict,), where)
    value = _field(rate, "value", (int, float, type(None)), f"{where}{key}.")
    interval = _field(rate, "ci95", (list, type(None)), f"{where}{key}.")
    if value is not None and not 0.0 <= value <= 1.0:
        raise ProfileError(f"{where}{key}.value {value} is not between 0 and 1")
    if interval is not None and (len(interval) != 2 or not all(isinstance(x, int | float) for x in interval)):
        raise ProfileError(f"{where}{key}.ci95 is not a pair of numbers")


def _operating_point(data: dict, key: str) -> dict:
    point = _field(data, key, (dict,))
    where = f"{key}."
    _threshold(_field(point, "threshold", (int, float), where), f"{where}threshold")
    confusion = _field(point, "confusion", (dict,), where)
    for name in CONFUSION:
        if _field(confusion, name, (int,), f"{where}confusion.") < 0:
            raise ProfileError(f"{where}confusion.{name} is negative")
    _field(point, "sensitivity_at_least", (int, float), where)
    for name in RATES:
        _rate(point, name, where)
    return point


def _threshold(value: float, name: str) -> float:
    try:
        return check_threshold(value)
    except ValueError as exc:
        raise ProfileError(f"{name} is not usable: {exc}") from None


def _image(entry: object, number: int) -> CalibrationImage:
    where = f"images[{number}]."
    if not isinstance(entry, dict):
        raise ProfileError(f"images[{number}] is not an object")
    label = _field(entry, "label", (str,), where)
    if label not in LABELS:
        raise ProfileError(f"{where}label {label!r} is neither {LABELS[0]} nor {LABELS[1]}")
    probability = entry.get("probability")
    if probability is not None:
        probability = _field(entry, "probability", (int, float), where)
        if not 0.0 <= probability <= 1.0:
            raise ProfileError(f"{where}probability {probability} is not between 0 and 1")
    child = _field(entry, "child", (str,), where) if entry.get("child") is not None else None
    copy = _field(entry, "copy_of", (int,), where) if entry.get("copy_of") is not None else None
    if copy is not None and not 0 <= copy < number:
        raise ProfileError(f"{where}copy_of {copy} is not an earlier image")
    sha256 = _sha256(_field(entry, "sha256", (str,), where), f"{where}sha256")
    return CalibrationImage(sha256, label, probability, child, copy)


def _counts(data: dict) -> dict[str, int]:
    counts = _field(data, "counts", (dict,))
    for name in (*LABELS, "rejected"):
        if _field(counts, name, (int,), "counts.") < 0:
            raise ProfileError(f"counts.{name} is negative")
    return dict(counts)


def _next_children(data: dict) -> int | None:
    if "next_children" not in data:
        return None
    batch = _field(data, "next_children", (int,))
    if batch < 1:
        raise ProfileError(f"next_children {batch} is not a number of children")
    return batch


def parse_profile(data: object) -> SiteProfile:
    """A SiteProfile from the JSON of a saved profile; ProfileError naming the first field that is wrong."""
    if not isinstance(data, dict):
        raise ProfileError("it is not a JSON object")
    refused = tuple(_field(data, "refused", (list,))) if "refused" in data else ()
    if refused:
        raise ProfileError("it records a refused calibration, which is never activated")
    fmt = _field(data, "format", (int,)) if "format" in data else 1
    if not 1 <= fmt <= PROFILE_FORMAT:
        raise ProfileError(f"format {fmt} is newer than this PneumoScan reads ({PROFILE_FORMAT}); update PneumoScan")
    return SiteProfile(
        threshold=_threshold(_field(data, "threshold", (int, float)), "threshold"),
        target_sensitivity=_field(data, "target_sensitivity", (int, float)),
        sensitivity_floor=_field(data, "sensitivity_floor", (int, float)),
        created_at=_field(data, "created_at", (str,)),
        source=_field(data, "source", (str,)),
        model_sha256=_sha256(_field(data, "model_sha256", (str,)), "model_sha256"),
        model_version=_field(data, "model_version", (str,)),
        counts=_counts(data),
        site_threshold=_operating_point(data, "site_threshold"),
        model_threshold=_operating_point(data, "model_threshold"),
        images=tuple(_image(entry, n) for n, entry in enumerate(_field(data, "images", (list,)))),
        operator=_field(data, "operator", (str, type(None))) if "operator" in data else None,
        confidence=_field(data, "confidence", (int, float)) if "confidence" in data else CONFIDENCE,
        next_children=_next_children(data),
        rejected=tuple(_field(data, "rejected", (list,))) if "rejected" in data else (),
        variety=_field(data, "variety", (dict, type(None))) if "variety" in data else None,
        format=fmt,
        checksum=_field(data, "checksum", (str, type(None))) if "checksum" in data else None,
    )


def active_profile_path() -> Path:
    return data_dir() / PROFILE_FILE


def archive_dir() -> Path:
    return data_dir() / ARCHIVE_DIR


def save_profile(profile: SiteProfile) -> Path:
    """Keep a dated copy, then make `profile` (sealed with its checksum) the active one; returns the active file.

    The dated copy is written first: if the device dies between the two writes,
    the old profile is still active and the new one is only in the archive.
    """
    text = json.dumps(profile.sealed().to_dict(), indent=2) + "\n"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    atomic_write_text(archive_dir() / f"site_profile-{stamp}.json", text)
    return atomic_write_text(active_profile_path(), text)


def load_profile() -> SiteProfile | None:
    """The active profile, or None when the site has not calibrated (or was reset)."""
    path = active_profile_path()
    try:
        data = read_json_file(path, MAX_PROFILE_BYTES)
    except JsonFileError as exc:
        if exc.kind == MISSING:
            return None
        raise ProfileError(f"The site profile cannot be read: {exc}.") from exc
    try:
        return parse_profile(data)
    except ProfileError as exc:
        raise ProfileError(f"The site profile {path} is not valid: {exc}.") from exc


def reset_profile() -> Path | None:
    """Stop using the active profile; its dated copy stays in the archive. Returns the file removed."""
    path = active_profile_path()
    if not path.exists():
        return None
    path.unlink()
    return path
