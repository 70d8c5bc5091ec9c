"""The scan record: the one definition of what is stored and printed for every scan.

The history table's columns and the JSON/CSV fields are derived from
`ScanResult`, so a new field is added here once (at the end, with a history
migration adding its column). This module imports only the standard library,
so reading the history never loads numpy, Pillow or the model runtime.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime

OK, REJECTED, ERROR = "ok", "rejected", "error"


@dataclass(frozen=True)
class ScanResult:
    path: str
    status: str
    label: str | None
    probability: float | None
    score: int | None
    threshold: float
    uncertain: bool | None
    refer: bool | None
    reason: str | None
    message: str | None
    sha256: str | None
    model_sha256: str
    model_version: str
    runtime: str
    scanned_at: str
    elapsed_ms: float
    patient_id: str | None
    operator: str | None
    study_uid: str | None = None
    model_verified: bool | None = None
    """False when the model had no checksum to check it against (--allow-unverified-model)."""
    correction: str | None = None
    """What was changed before scanning: intake's adjustments (e.g. "full_range", edge_app.intake.adjustments), then
    what the chest X-ray gate did to right the image (e.g. "rotate_180+invert"); None if nothing."""
    threshold_source: str | None = None
    """Where `threshold` came from: model, site (edge-scan calibrate) or command_line (--threshold)."""
    runtime_verified: bool | None = None
    """False when this device's runtime did not reproduce the model's recorded reference outputs (another kernel
    path than XNNPACK, another runtime): a score near the threshold may differ from the validated model's."""

    @classmethod
    def from_dict(cls, record: dict) -> ScanResult:
        """A result back from a history row (extra keys such as its row id are ignored)."""
        return cls(**{name: record.get(name) for name in SCAN_FIELDS})

    def as_dict(self) -> dict:
        """Every field by name; the values are plain, so no deep copy (dataclasses.asdict) is needed."""
        return {name: getattr(self, name) for name in SCAN_FIELDS}


SCAN_FIELDS: tuple[str, ...] = tuple(field.name for field in fields(ScanResult))
"""Field names in definition order: the history columns and the JSON/CSV fields of a scan."""


def now_utc() -> str:
    """ISO 8601 in UTC with milliseconds: sorts as text, so SQL can compare it."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")
