"""Site calibration: choose a threshold on a site's own labelled X-rays, and refuse weak evidence.

A model's own threshold was chosen on the images it was trained near; at a new
site (another X-ray machine, another population) the same threshold can refer
twice as many healthy children. WHO guidance on computer-aided detection asks
each site to calibrate on its own labelled images. The threshold chosen here is
the highest one that still catches the target share of the site's pneumonia
images, and it is only activated when the images are enough to back that
claim: see MIN_PER_CLASS and SENSITIVITY_FLOOR.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_app.contract import LABELS
from edge_app.inference.model_store import ScanModel
from edge_app.record import OK, ScanResult, now_utc
from edge_app.scan.scanner import prepare_image, scan_prepared
from edge_app.scoring import classify
from edge_app.site import metrics, variety
from edge_app.site.dataset import DatasetError, list_split, patient_id
from edge_app.site.site_profile import CalibrationImage, SiteProfile
from edge_app.threshold import check_threshold

MIN_PER_CLASS = 30
"""Fewer images of either class give intervals too wide to mean anything (with 30
NORMAL images, a specificity of 0.80 is only known to lie between 0.61 and 0.92)."""
SENSITIVITY_FLOOR = 0.90
"""The one-sided 95% lower confidence bound of sensitivity at the new threshold must
reach this: the minimum sensitivity of WHO's target product profile for a triage
test (2014, also used for CAD in TB screening in 2021). Below it the site cannot
show that the new threshold still catches most pneumonia."""
CLAIM_LEVEL = 0.95
MAX_IMAGES_HINT = 100_000


SWAPPED = (
    f"The X-rays in the {LABELS[1]} folder look healthier than those in the {LABELS[0]} folder: the two folders "
    f"seem to be swapped. Put the X-rays of children with pneumonia in {LABELS[1]} and the others in {LABELS[0]}, "
    "then calibrate again."
)


class CalibrationError(Exception):
    """The labelled images cannot be read; the message says what to fix."""


@dataclass(frozen=True)
class LabelledImage:
    path: Path
    label: int  # index into LABELS


@dataclass(frozen=True)
class SiteScan:
    """Scanned labelled images: the accepted ones with their probability, and the rejected ones."""

    images: list[LabelledImage]
    results: list[ScanResult]
    fingerprints: list[np.ndarray | None] | None = None
    """Of each prepared input (`variety.fingerprint`); None where the image was not prepared."""

    @property
    def accepted(self) -> list[tuple[LabelledImage, ScanResult]]:
        return [(image, result) for image, result in zip(self.images, self.results, strict=True) if result.status == OK]

    def accepted_fingerprints(self) -> list[np.ndarray]:
        prints = self.fingerprints or [None] * len(self.results)
        return [p for p, result in zip(prints, self.results, strict=True) if result.status == OK]

    @property
    def rejected(self) -> list[ScanResult]:
        return [result for result in self.results if result.status != OK]

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Labels (True = PNEUMONIA) and probabilities of the accepted images."""
        pairs = self.accepted
        return (
            np.array([image.label == 1 for image, _ in pairs], dtype=bool),
            np.array([result.probability for _, result in pairs], dtype=np.float64),
        )


def check_target(value: float) -> float:
    """A target sensitivity the floor can support: above SENSITIVITY_FLOOR, at most 1."""
    floor = SENSITIVITY_FLOOR
    if not floor < value <= 1.0:  # also false for NaN
        raise ValueError(
            f"{value:g} is not a target this device can back: give a sensitivity above {floor:.2f} and at most 1, "
            "such as 0.95."
        )
    return value


def images_in_folder(folder: Path) -> list[LabelledImage]:
    """The images of a folder holding NORMAL/ and PNEUMONIA/ subfolders."""
    try:
        return [LabelledImage(example.path, example.label) for example in list_split(Path(folder), "site")]
    except DatasetError as exc:
        raise CalibrationError(str(exc)) from exc


def images_in_csv(csv_path: Path) -> list[LabelledImage]:
    """Rows of `path,label` (NORMAL or PNEUMONIA); relative paths are read from the CSV's folder."""
    csv_path = Path(csv_path)
    try:
        rows = list(csv.reader(csv_path.read_text(encoding="utf-8-sig").splitlines()))
    except (OSError, UnicodeDecodeError) as exc:
        raise CalibrationError(f"{csv_path}: cannot be read ({exc}).") from exc
    images = []
    for number, row in enumerate(rows, start=1):
        if (
            not row
            or not "".join(row).strip()
            or (number == 1 and [c.strip().lower() for c in row] == ["path", "label"])
        ):
            continue
        if len(row) != 2 or row[1].strip().upper() not in LABELS:
            raise CalibrationError(f"{csv_path}, line {number}: expected 'path,NORMAL' or 'path,PNEUMONIA', got {row}.")
        path = Path(row[0].strip())
        path = path if path.is_absolute() else csv_path.parent / path
        if not path.is_file():
            raise CalibrationError(f"{csv_path}, line {number}: {path} is not a file.")
        images.append(LabelledImage(path, LABELS.index(row[1].strip().upper())))
    if not images:
        raise CalibrationError(f"{csv_path}: holds no 'path,label' rows.")
    return images


def scan_site_images(
    images: Iterable[LabelledImage], model: ScanModel, advance: Callable[[], None] = lambda: None
) -> SiteScan:
    """Scan each image with the model at its own threshold, through the one preprocessing and quality gate,
    keeping a fingerprint of each prepared input to find copies."""
    images = list(images)
    results, fingerprints = [], []
    for image in images:
        prepared = prepare_image(image.path, model.input_size)
        results.append(scan_prepared(prepared, model))
        fingerprints.append(None if prepared.model_input is None else variety.fingerprint(prepared.model_input))
        advance()
    return SiteScan(images, results, fingerprints)


def _rate(successes: int, trials: int) -> dict:
    if trials == 0:
        return {"value": None, "ci95": None}
    low, high = metrics.clopper_pearson_interval(successes, trials)
    return {"value": successes / trials, "ci95": [low, high]}


def operating_point(labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> dict:
    """Sensitivity, specificity and referrals at `threshold`, each with its exact 95% interval.

    "Referred" counts what edge-scan does: a child is referred when PNEUMONIA is
    suspected or when the score is in the uncertain band around the threshold.
    """
    counts = metrics.confusion(labels, probabilities, threshold)
    refer = np.array([classify(float(p), threshold, LABELS)[2] for p in probabilities], dtype=bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    return {
        "threshold": threshold,
        "confusion": counts,
        "sensitivity": _rate(counts["tp"], n_pos),
        "sensitivity_at_least": metrics.exact_lower_bound(counts["tp"], n_pos, CLAIM_LEVEL) if n_pos else 0.0,
        "specificity": _rate(counts["tn"], n_neg),
        "healthy_called_pneumonia": _rate(counts["fp"], n_neg),
        "healthy_referred": _rate(int((refer & ~labels).sum()), n_neg),
        "pneumonia_referred": _rate(int((refer & labels).sum()), n_pos),
        "referral_rate": _rate(int(refer.sum()), len(labels)),
    }


def more_positives_needed(n_positive: int, sensitivity: float) -> int | None:
    """How many more pneumonia images would lift the exact lower bound to the floor, if new images
    show the same sensitivity as these; None when no number would (sensitivity at or under the floor)."""
    if sensitivity <= SENSITIVITY_FLOOR:
        return None
    for total in range(max(n_positive, 1), MAX_IMAGES_HINT):
        if metrics.exact_lower_bound(math.floor(sensitivity * total), total, CLAIM_LEVEL) >= SENSITIVITY_FLOOR:
            return max(total - n_positive, 0)
    return None


def refusal_reasons(n_per_class: dict[str, int], site: dict) -> list[str]:
    """Why this calibration cannot be trusted, in plain sentences; empty when it can."""
    reasons = [
        f"Only {n_per_class[name]} usable {name} images: at least {MIN_PER_CLASS} are needed "
        f"(add {MIN_PER_CLASS - n_per_class[name]} more)."
        for name in LABELS
        if n_per_class[name] < MIN_PER_CLASS
    ]
    if n_per_class[LABELS[1]] == 0:
        return reasons
    at_least = site["sensitivity_at_least"]
    if at_least < SENSITIVITY_FLOOR:
        sensitivity = site["sensitivity"]["value"]
        needed = more_positives_needed(n_per_class[LABELS[1]], sensitivity)
        hint = (
            f"About {needed} more PNEUMONIA images are needed if they show the same sensitivity ({sensitivity:.3f})."
            if needed is not None
            else "More images would not help at this target: choose a higher --target-sensitivity."
        )
        reasons.append(
            f"With these images the sensitivity at the new threshold is only known to be at least {at_least:.3f} "
            f"(95% confidence), under the floor of {SENSITIVITY_FLOOR:.2f}. {hint}"
        )
    return reasons


def choose_threshold(labels: np.ndarray, probabilities: np.ndarray, target: float) -> float:
    """The highest threshold reaching `target` sensitivity on the site's images; CalibrationError if
    that is not a usable threshold (the model gives some pneumonia images probability 0)."""
    threshold = metrics.threshold_for_sensitivity(labels, probabilities, target)
    try:
        return check_threshold(threshold)
    except ValueError as exc:
        raise CalibrationError(f"No usable threshold reaches sensitivity {target:.2f} on these images: {exc}") from exc


@dataclass(frozen=True)
class Evidence:
    """What the labelled scores show: the chosen threshold and both operating points, and why the choice must
    not be activated (empty when it may). Recomputed from a saved profile's own images to check its figures."""

    threshold: float | None
    site: dict | None
    model: dict
    counts: dict[str, int]
    refused: list[str]


def weigh(labels: np.ndarray, probabilities: np.ndarray, target: float, model_threshold: float) -> Evidence:
    """Choose the site threshold on these scores and measure it, and the model's own, on the same images."""
    counts = {name: int((labels == bool(index)).sum()) for index, name in enumerate(LABELS)}
    refused = [] if counts[LABELS[1]] else [f"No usable {LABELS[1]} images: a threshold cannot be chosen."]
    if counts[LABELS[0]] and counts[LABELS[1]] and metrics.roc_auc(labels, probabilities) < 0.5:
        refused = [SWAPPED]
    threshold = site = None
    if not refused:
        threshold = choose_threshold(labels, probabilities, target)
        site = operating_point(labels, probabilities, threshold)
        refused = refusal_reasons(counts, site)
    return Evidence(threshold, site, operating_point(labels, probabilities, model_threshold), counts, refused)


def calibrate(site_scan: SiteScan, model: ScanModel, target: float, operator: str | None, source: str) -> SiteProfile:
    """The site profile for these scans (see `build_profile`), each accepted image with its child and, for a copy,
    the image it copies."""
    accepted = site_scan.accepted
    copies = variety.copy_of([result.sha256 for _, result in accepted], site_scan.accepted_fingerprints())
    images = [
        CalibrationImage(
            result.sha256,
            LABELS[image.label],
            result.probability,
            result.patient_id or patient_id(image.path.name),
            copy,
        )
        for (image, result), copy in zip(accepted, copies, strict=True)
    ]
    rejected = [{"path": r.path, "reason": r.reason} for r in site_scan.rejected]
    return build_profile(
        images, rejected, ScannedWith(model.sha256, model.version, model.threshold), target, operator, source
    )


def assess(images: list[CalibrationImage], target: float, model_threshold: float) -> tuple[Evidence, dict]:
    """The evidence of the different images (one per group of copies) and how varied the set is; a saved
    profile is checked by assessing its own images again."""
    distinct = [image for image in images if image.copy_of is None]
    labels = np.array([image.label == LABELS[1] for image in distinct], dtype=bool)
    probabilities = np.array([image.probability for image in distinct], dtype=np.float64)
    evidence = weigh(labels, probabilities, target, model_threshold)
    found = variety.measure(images)
    return dataclasses.replace(evidence, refused=variety.reasons(images, found) + evidence.refused), found


@dataclass(frozen=True)
class ScannedWith:
    """The model the calibration images were scored with."""

    sha256: str
    version: str
    threshold: float


def build_profile(
    images: list[CalibrationImage],
    rejected: list[dict],
    model: ScannedWith,
    target: float,
    operator: str | None,
    source: str,
) -> SiteProfile:
    """The chosen threshold and the evidence behind it, with every image's score so the figures can be
    recomputed from the profile alone.

    `refused` lists why it must not be activated (empty when it may be).
    The model's own threshold is measured on the same images, so the two can be compared.
    """
    evidence, found = assess(images, target, model.threshold)
    return SiteProfile(
        threshold=evidence.threshold,
        target_sensitivity=target,
        sensitivity_floor=SENSITIVITY_FLOOR,
        created_at=now_utc(),
        operator=operator,
        source=source,
        model_sha256=model.sha256,
        model_version=model.version,
        counts=evidence.counts | {"rejected": len(rejected)},
        site_threshold=evidence.site,
        model_threshold=evidence.model,
        images=tuple(images),
        rejected=tuple(rejected),
        refused=tuple(evidence.refused),
        variety=found,
    )
