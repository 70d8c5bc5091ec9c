"""Site calibration: choose a threshold on a site's own labelled X-rays, and refuse weak evidence.

A model's own threshold was chosen on the images it was trained near; at a new
site (another X-ray machine, another population) the same threshold can refer
twice as many healthy children. WHO guidance on computer-aided detection asks
each site to calibrate on its own labelled images. The threshold chosen here keeps
a promise about the site's *next* children: of the next 100 with pneumonia, at
least the target share are flagged, with the stated confidence (`promise`: an
order statistic of the children's pneumonia scores, exact and distribution-free). It is only activated when the
images are enough to back that promise: see MIN_PER_CLASS and SENSITIVITY_FLOOR.

Several images of one child are not independent, so the rule counts children: each
child's score is the highest of their images. A child is referred when any of their
X-rays is suspected, so the child's highest score is what decides for that child;
taking the lowest would instead make every repeat film a separate chance to fail and
push the threshold down to the faintest film of the set (on the external set: 0.043
instead of 0.266, specificity 0.69 instead of 0.87). Images of unknown child count as
one child each.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_app.contract import LABELS
from edge_app.files import read_text_file
from edge_app.inference.model_store import ScanModel
from edge_app.record import OK, ScanResult, now_utc
from edge_app.scan.scanner import prepare_image, scan_prepared
from edge_app.scoring import classify
from edge_app.site import metrics, refusals, variety
from edge_app.site.dataset import DatasetError, list_split, patient_id
from edge_app.site.findings import Finding
from edge_app.site.promise import Promise, more_than_beyond, sensitivity_at_least
from edge_app.site.site_profile import CalibrationImage, SiteProfile
from edge_app.threshold import check_threshold

MAX_LABELS_CSV_BYTES = 16 * 2**20
"""A CSV naming tens of thousands of labelled X-rays is under 4 MB; a larger file is not a list of labels."""
MIN_PER_CLASS = 30
"""Fewer images of either class give intervals too wide to mean anything (with 30
NORMAL images, a specificity of 0.80 is only known to lie between 0.61 and 0.92)."""
SENSITIVITY_FLOOR = 0.90
"""The one-sided 95% lower confidence bound of sensitivity at the new threshold must
reach this: the minimum sensitivity of WHO's target product profile for a triage
test (2014, also used for CAD in TB screening in 2021). Below it the site cannot
show that the new threshold still catches most pneumonia."""


SWAPPED = (
    f"The X-rays in the {LABELS[1]} folder look healthier than those in the {LABELS[0]} folder: the two folders "
    f"seem to be swapped. Put the X-rays of children with pneumonia in {LABELS[1]} and the others in {LABELS[0]}, "
    "then calibrate again."
)


UNREADABLE_LABELS = "unreadable_labels"
"""A CalibrationError code: the labelled images (folder or CSV) cannot be read."""
NO_USABLE_THRESHOLD = "no_usable_threshold"
"""A CalibrationError code: the score the rule picks is not a threshold the device can use."""


class CalibrationError(Exception):
    """The labelled images cannot be read; the message says what to fix, `code` which kind of problem it is."""

    def __init__(self, message: str, code: str = UNREADABLE_LABELS) -> None:
        super().__init__(message)
        self.code = code


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
    if not floor < value < 1.0:  # also false for NaN
        raise ValueError(
            f"{value:g} is not a target this device can back: give a sensitivity above {floor:.2f} and under 1 "
            "(no number of children can promise that every next one is caught), such as 0.95."
        )
    return value


def check_confidence(value: float) -> float:
    """A confidence for the promise: at least 0.5 (weaker is a coin toss) and under 1."""
    if not 0.5 <= value < 1.0:  # also false for NaN
        raise ValueError(
            f"{value:g} is not a confidence this device can state: give a value from 0.5 to under 1, such as 0.95."
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
        rows = list(csv.reader(read_text_file(csv_path, MAX_LABELS_CSV_BYTES, "a CSV file of labels").splitlines()))
    except (OSError, ValueError) as exc:
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
    images: Iterable[LabelledImage], model: ScanModel, advance: Callable[[], None] = lambda: None, photos: bool = False
) -> SiteScan:
    """Scan each image with the model at its own threshold, through the one preprocessing and quality gate,
    keeping a fingerprint of each prepared input to find copies. `photos`: the images are phone photos of films,
    straightened first as `edge-scan scan --photo` does (a site that screens photos calibrates on photos)."""
    images = list(images)
    results, fingerprints = [], []
    for image in images:
        prepared = prepare_image(image.path, model.input_size, photo=photos)
        results.append(scan_prepared(prepared, model))
        fingerprints.append(None if prepared.model_input is None else variety.fingerprint(prepared.model_input))
        advance()
    return SiteScan(images, results, fingerprints)


def _rate(successes: int, trials: int) -> dict:
    if trials == 0:
        return {"value": None, "ci95": None}
    low, high = metrics.clopper_pearson_interval(successes, trials)
    return {"value": successes / trials, "ci95": [low, high]}


@dataclass(frozen=True)
class Scores:
    """The distinct images' labels (True = PNEUMONIA) and scores, and the child each image is of."""

    labels: np.ndarray
    probabilities: np.ndarray
    children: list[str]

    def per_child(self) -> tuple[np.ndarray, np.ndarray]:
        """One label and score per child and class: the highest score of the child's images (see module doc)."""
        highest: dict[tuple[bool, str], float] = {}
        for label, probability, child in zip(self.labels, self.probabilities, self.children, strict=True):
            key = (bool(label), child)
            highest[key] = max(highest.get(key, 0.0), float(probability))
        return np.array([key[0] for key in highest], dtype=bool), np.array(list(highest.values()), dtype=np.float64)


def _children_point(scores: Scores, threshold: float, promise: Promise) -> dict:
    """Sensitivity and specificity over children (each by their highest score), as expected for new children:
    long-run bounds, and how many of the next batch of children the promise's confidence covers."""
    labels, highest = scores.per_child()
    counts = metrics.confusion(labels, highest, threshold)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    point = {
        "counts": {LABELS[0]: n_neg, LABELS[1]: n_pos},
        "sensitivity": _rate(counts["tp"], n_pos),
        "specificity": _rate(counts["tn"], n_neg),
        "sensitivity_at_least": sensitivity_at_least(counts["tp"], n_pos, promise.confidence),
        "specificity_at_least": sensitivity_at_least(counts["tn"], n_neg, promise.confidence),
    }
    batch = promise.next_children
    if batch is not None:
        point["next_children"] = {
            "of": batch,
            "caught_at_least": more_than_beyond(counts["fn"], n_pos, batch, promise.confidence),
            "spared_at_least": more_than_beyond(counts["fp"], n_neg, batch, promise.confidence),
        }
    return point


def operating_point(scores: Scores, threshold: float, promise: Promise) -> dict:
    """Sensitivity, specificity and referrals at `threshold` over the images, each with its exact 95% interval,
    and over children with what the promise's confidence covers for new children.

    "Referred" counts what edge-scan does: a child is referred when PNEUMONIA is
    suspected or when the score is in the uncertain band around the threshold.
    """
    labels, probabilities = scores.labels, scores.probabilities
    counts = metrics.confusion(labels, probabilities, threshold)
    refer = np.array([classify(float(p), threshold, LABELS)[2] for p in probabilities], dtype=bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    children = _children_point(scores, threshold, promise)
    return {
        "threshold": threshold,
        "confusion": counts,
        "sensitivity": _rate(counts["tp"], n_pos),
        "sensitivity_at_least": children["sensitivity_at_least"],
        "specificity": _rate(counts["tn"], n_neg),
        "healthy_called_pneumonia": _rate(counts["fp"], n_neg),
        "healthy_referred": _rate(int((refer & ~labels).sum()), n_neg),
        "pneumonia_referred": _rate(int((refer & labels).sum()), n_pos),
        "referral_rate": _rate(int(refer.sum()), len(labels)),
        "children": children,
    }


def refusal_reasons(n_per_class: dict[str, int], children: int, promise: Promise) -> list[Finding]:
    """Why this calibration cannot be trusted; empty when it can."""
    reasons = [
        Finding(
            refusals.TOO_FEW_IMAGES,
            f"Only {n_per_class[name]} usable {name} images: at least {MIN_PER_CLASS} are needed "
            f"(add {MIN_PER_CLASS - n_per_class[name]} more).",
            {
                "label": name,
                "found": n_per_class[name],
                "needed": MIN_PER_CLASS,
                "missing": MIN_PER_CLASS - n_per_class[name],
            },
        )
        for name in LABELS
        if n_per_class[name] < MIN_PER_CLASS
    ]
    needed = promise.children_needed()
    if n_per_class[LABELS[1]] and (needed is None or children < needed):
        enough = "more than any site has" if needed is None else f"at least {needed} (add {needed - children} more)"
        reasons.append(
            Finding(
                refusals.TOO_FEW_CHILDREN_FOR_PROMISE,
                f"With {children} children with pneumonia no threshold can promise to {promise.in_words()} with "
                f"{promise.confidence:.0%} confidence: {enough} are needed, or choose a lower --target-sensitivity "
                "or --confidence.",
                {"children": children} | ({} if needed is None else {"needed": needed, "missing": needed - children}),
            )
        )
    return reasons


def choose_threshold(scores: Scores, promise: Promise) -> float | None:
    """The highest children's score that keeps the promise (`Promise.highest_rank`); None when none does.
    CalibrationError if it is not a usable threshold (the model gives that child probability 0)."""
    labels, highest = scores.per_child()
    positives = np.sort(highest[labels])
    rank = promise.highest_rank(len(positives))
    if rank is None:
        return None
    try:
        return check_threshold(float(positives[rank - 1]))
    except ValueError as exc:
        raise CalibrationError(
            f"No usable threshold reaches sensitivity {promise.target:.2f} on these images: {exc}", NO_USABLE_THRESHOLD
        ) from exc


@dataclass(frozen=True)
class Evidence:
    """What the labelled scores show: the chosen threshold and both operating points, and why the choice must
    not be activated (empty when it may). Recomputed from a saved profile's own images to check its figures."""

    threshold: float | None
    site: dict | None
    model: dict
    counts: dict[str, int]
    refused: list[Finding]


def weigh(scores: Scores, promise: Promise, model_threshold: float) -> Evidence:
    """Choose the site threshold on these scores and measure it, and the model's own, on the same images."""
    labels, probabilities = scores.labels, scores.probabilities
    counts = {name: int((labels == bool(index)).sum()) for index, name in enumerate(LABELS)}
    refused = (
        []
        if counts[LABELS[1]]
        else [Finding(refusals.NO_PNEUMONIA_IMAGES, f"No usable {LABELS[1]} images: a threshold cannot be chosen.")]
    )
    if counts[LABELS[0]] and counts[LABELS[1]] and metrics.roc_auc(labels, probabilities) < 0.5:
        refused = [Finding(refusals.FOLDERS_SWAPPED, SWAPPED)]
    threshold = site = None
    if not refused:
        threshold = choose_threshold(scores, promise)
        site = None if threshold is None else operating_point(scores, threshold, promise)
        children = int(scores.per_child()[0].sum())
        refused = refusal_reasons(counts, children, promise)
    return Evidence(threshold, site, operating_point(scores, model_threshold, promise), counts, refused)


def calibrate(
    site_scan: SiteScan,
    model: ScanModel,
    promise: Promise,
    operator: str | None,
    source: str,
) -> SiteProfile:
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
        images,
        rejected,
        ScannedWith(model.sha256, model.version, model.threshold),
        promise,
        operator,
        source,
    )


def scores_of(images: list[CalibrationImage]) -> Scores:
    """The different images (one per group of copies), each with its child (an unknown child: the image itself)."""
    distinct = [image for image in images if image.copy_of is None]
    return Scores(
        np.array([image.label == LABELS[1] for image in distinct], dtype=bool),
        np.array([image.probability for image in distinct], dtype=np.float64),
        [image.child or f"image:{image.sha256}" for image in distinct],
    )


def assess(images: list[CalibrationImage], promise: Promise, model_threshold: float) -> tuple[Evidence, dict]:
    """The evidence of the different images and how varied the set is; a saved profile is checked by assessing
    its own images again."""
    evidence = weigh(scores_of(images), promise, model_threshold)
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
    promise: Promise,
    operator: str | None,
    source: str,
) -> SiteProfile:
    """The chosen threshold and the evidence behind it, with every image's score so the figures can be
    recomputed from the profile alone.

    `refused` lists why it must not be activated (empty when it may be).
    The model's own threshold is measured on the same images, so the two can be compared.
    """
    evidence, found = assess(images, promise, model.threshold)
    return SiteProfile(
        threshold=evidence.threshold,
        target_sensitivity=promise.target,
        confidence=promise.confidence,
        next_children=promise.next_children,
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
        refused=tuple(reason.detail for reason in evidence.refused),
        variety=found,
    )


def refusals_of(profile: SiteProfile) -> list[Finding]:
    """Why a profile was refused, with each reason's code: assessed again from its own images, as
    `profile_check` does (the profile keeps only the English sentences)."""
    if not profile.refused:
        return []
    return assess(list(profile.images), profile.promise, profile.model_threshold["threshold"])[0].refused
