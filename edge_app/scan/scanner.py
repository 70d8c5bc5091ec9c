"""Scan image files: bytes -> checks -> model -> one result record per image.

Each file is read once; its SHA-256 and its decoded pixels come from the same
bytes, so the hash in the history is the hash of exactly what was scanned.
A bad image never stops a batch: it becomes a `rejected` (or `error`) result
and the next image is scanned.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from edge_app.files import sha256_hex
from edge_app.inference.gate import GATE_INPUT_SIZE, Correction
from edge_app.inference.model_store import ScanModel
from edge_app.intake.adjustments import SENTENCES, adjustments
from edge_app.intake.decode import decode_input
from edge_app.intake.dicom_input import is_dicom_file
from edge_app.intake.film_photo import PHOTO_DECODE_SIZE, straighten_film
from edge_app.intake.image_file import read_image_file
from edge_app.intake.padding import checked_quality
from edge_app.intake.preprocess import to_model_input
from edge_app.reasons import INFERENCE_FAILED, UNREADABLE_FILE, ImageRejected
from edge_app.record import ERROR, OK, REJECTED, ScanResult, now_utc
from edge_app.scan.ordered_pool import ordered_map
from edge_app.scoring import classify, threshold_score

SCAN_SUFFIXES = frozenset({".jpg", ".jpeg", ".jfif", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".heic", ".dcm"})
"""File types picked up from folders by name, besides DICOM files known by their first bytes. JPEG,
PNG and (with the dicom extra) DICOM can be scanned; the others are listed so
they are reported as unsupported rather than silently skipped."""


@dataclass(frozen=True)
class ScanContext:
    """Who scanned, for whom: recorded with every result."""

    patient_id: str | None = None
    operator: str | None = None


def display_path(path: Path) -> str:
    """The path as text that JSON, CSV and SQLite all accept: a file name that is not
    valid UTF-8 (say, Latin-1 from an old USB stick) keeps its odd bytes as \\xNN escapes."""
    return os.fsencode(path).decode("utf-8", errors="backslashreplace")


@dataclass(frozen=True)
class Skipped:
    """An entry of a scanned folder that was not scanned, and why, in words for the person scanning."""

    path: Path
    reason: str
    may_hold_xrays: bool
    """True for what may hide X-rays (a folder that cannot be read, a link to nothing): the scan then exits 1."""


def collect_images(paths: Iterable[Path], recursive: bool = True) -> list[Path]:
    """The files to scan from files and folders named (see `find_images`), without the skipped entries."""
    return find_images(paths, recursive)[0]


def find_images(paths: Iterable[Path], recursive: bool = True) -> tuple[list[Path], list[Skipped]]:
    """Files named on the command line, plus the image and DICOM files inside named folders, and every
    other entry of those folders that was left out, with the reason.

    A file named explicitly is always scanned, whatever its name (a text file
    called x.jpg is then rejected with a reason). Links to folders are followed,
    each folder once (a link back up the tree is not a loop). A file is an image
    by its name, or a DICOM by its first bytes whatever its name (units write
    names without an extension, or UIDs full of dots). Hidden files are skipped.
    Each file appears once, in the order given, folders sorted by name.
    """
    files: list[Path] = []
    skipped: list[Skipped] = []
    for path in map(Path, paths):
        if path.is_dir():
            _walk(path, recursive, (files, skipped), visited=set())
        else:
            files.append(path)
    seen: set[Path] = set()
    unique = []
    for path in files:
        key = Path(os.path.realpath(path))  # never raises, even for a link that leads back to itself
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique, skipped


def _walk(
    folder: Path, recursive: bool, found: tuple[list[Path], list[Skipped]], visited: set[tuple[int, int]]
) -> None:
    """Add the folder's image files to found[0] and what it leaves out to found[1], subfolders in name order."""
    files, skipped = found
    try:
        info = os.stat(folder)
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as exc:
        skipped.append(Skipped(folder, f"the folder could not be read ({exc.strerror or exc})", True))
        return
    if (info.st_dev, info.st_ino) in visited:
        return  # a folder reached again through a link: its files are already listed
    visited.add((info.st_dev, info.st_ino))
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        if _is(entry.is_dir):
            if recursive:
                _walk(path, recursive, found, visited)
        elif _is(entry.is_file):  # first: opening a pipe to look for a DICOM preamble would wait forever
            if path.suffix.lower() in SCAN_SUFFIXES or is_dicom_file(path):
                files.append(path)
            else:
                skipped.append(Skipped(path, "not an image or DICOM file", False))
        elif path.suffix.lower() in SCAN_SUFFIXES:
            files.append(path)  # a link to nothing, a pipe named x.jpeg: rejected with its reason
        elif entry.is_symlink():
            skipped.append(Skipped(path, "a link to nothing (what it pointed to was moved or deleted)", True))
        else:
            skipped.append(Skipped(path, "a pipe, socket or device, not a file (never opened)", False))


def _is(test: Callable[[], bool]) -> bool:
    """`DirEntry.is_dir` or `is_file` (links followed); a link that loops or cannot be followed is neither."""
    try:
        return test()
    except OSError:
        return False


@dataclass(frozen=True)
class PreparedImage:
    """An image file read, hashed, checked and preprocessed: everything before the model.

    `failure` is (status, reason, message) when the image must not reach the model."""

    path: Path
    sha256: str | None
    model_input: np.ndarray | None
    failure: tuple[str, str, str] | None
    seconds: float
    patient_id: str | None = None
    """From the DICOM header, for a DICOM file."""
    study_uid: str | None = None
    gate_input: np.ndarray | None = None
    """The chest X-ray gate's input, made from the same decoded image."""
    adjustments: tuple[str, ...] = ()
    """What intake changed before the model saw the image (edge_app.intake.adjustments)."""
    image: Image.Image | None = None
    """The decoded image, kept only when asked for (`keep_image`): a heatmap shows exactly what was scanned."""


def prepare_image(path: Path, input_size: int, keep_image: bool = False, photo: bool = False) -> PreparedImage:
    """Read, hash, decode, quality-check and preprocess one file; never raises for a bad image.
    `keep_image` keeps the decoded image for explanations (otherwise it is dropped once the inputs are made).
    `photo` says the file is a phone photo of a film: the film is found and straightened first
    (edge_app.intake.film_photo), and everything after, the gate included, sees only the straightened film.

    Safe to run in worker threads: it touches no model and no shared state."""
    started = time.perf_counter()
    sha256 = model_input = gate_input = failure = dicom = image = None
    adjusted: tuple[str, ...] = ()
    try:
        data = read_image_file(Path(path))
        sha256 = sha256_hex(data)
        image, dicom = decode_input(data, max(input_size, PHOTO_DECODE_SIZE) if photo else input_size, Path(path).name)
        if photo:
            image = straighten_film(image)
        image = checked_quality(image)  # without wide padding bars, when only they made it look saturated
        adjusted = adjustments(image)
        model_input = to_model_input(image, input_size)
        gate_input = to_model_input(image, GATE_INPUT_SIZE)
    except ImageRejected as exc:
        failure = (REJECTED, exc.reason, str(exc))
        dicom = getattr(exc, "tags", dicom)  # a rejected DICOM still says whose it is
    except OSError as exc:
        failure = (ERROR, UNREADABLE_FILE, f"The file could not be read ({exc.strerror or exc}).")
    except Exception as exc:  # one broken image must not end the batch
        failure = (ERROR, INFERENCE_FAILED, f"Scanning failed: {type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - started
    patient_id, study_uid = (None, None) if dicom is None else (dicom.patient_id, dicom.study_uid)
    kept = image if keep_image and failure is None else None
    return PreparedImage(
        Path(path), sha256, model_input, failure, seconds, patient_id, study_uid, gate_input, adjusted, kept
    )


def scan_prepared(prepared: PreparedImage, model: ScanModel, context: ScanContext = ScanContext()) -> ScanResult:
    """Run the model on a prepared image and make its result record; never raises for a bad image.
    `elapsed_ms` is the work spent on this image (preparing plus the model), not time spent waiting in a queue."""
    started = time.perf_counter()
    label = probability = score = uncertain = refer = reason = message = correction = None
    if prepared.failure is not None:
        status, reason, message = prepared.failure
    else:
        try:
            righted = model.gate.check_input(prepared.gate_input) if model.gate is not None else Correction()
            found = model.classifier.predict(righted.apply(prepared.model_input))
            verdict = classify(found, model.threshold, model.labels)
            found_score = round(threshold_score(found, model.threshold))
            # Assigned together once every step succeeded: an error record never carries a label.
            probability, (label, uncertain, refer), score, status = found, verdict, found_score, OK
            correction, message = _changes(prepared.adjustments, righted)
        except ImageRejected as exc:  # the gate: not a chest X-ray, or unsure which way up
            status, reason, message = REJECTED, exc.reason, str(exc)
        except Exception as exc:  # one broken image must not end the batch
            status, reason, message = ERROR, INFERENCE_FAILED, f"Scanning failed: {type(exc).__name__}: {exc}"
    return ScanResult(
        path=display_path(prepared.path),
        status=status,
        label=label,
        probability=probability,
        score=score,
        threshold=model.threshold,
        uncertain=uncertain,
        refer=refer,
        reason=reason,
        message=message,
        sha256=prepared.sha256,
        model_sha256=model.sha256,
        model_version=model.version,
        runtime=model.runtime,
        scanned_at=now_utc(),
        elapsed_ms=round((prepared.seconds + time.perf_counter() - started) * 1000.0, 2),
        patient_id=context.patient_id or prepared.patient_id,
        operator=context.operator,
        study_uid=prepared.study_uid,
        model_verified=model.verified,
        correction=correction,
        threshold_source=model.threshold_source,
        runtime_verified=model.runtime_verified,
    )


def _changes(adjusted: tuple[str, ...], righted: Correction) -> tuple[str | None, str | None]:
    """The result's correction code and message: what intake changed, then what the gate put right."""
    code = "+".join(code for code in [*adjusted, righted.code] if code) or None
    return code, describe_correction(code)


def describe_correction(code: str | None, gettext: Callable[[str], str] = str) -> str | None:
    """What a result's correction code says was changed before scanning, in plain words (the stored message
    in English; `gettext` gives it in another language); None when nothing was changed."""
    steps = (code or "").split("+")
    sentences = [gettext(SENTENCES[step]) for step in steps if step in SENTENCES]
    righted = Correction.from_code(code)
    if righted.needed:
        sentences.append(righted.describe(gettext))
    return " ".join(sentences) or None


def scan_file(path: Path, model: ScanModel, context: ScanContext = ScanContext()) -> ScanResult:
    """Scan one image file; never raises for a bad image."""
    return scan_prepared(prepare_image(path, model.input_size), model, context)


@dataclass(frozen=True)
class Scanned:
    """A result with the prepared image it was made from, for outputs that explain it."""

    prepared: PreparedImage
    result: ScanResult


def scan_prepared_files(
    paths: Iterable[Path],
    model: ScanModel,
    context: ScanContext = ScanContext(),
    record: Callable[[ScanResult], None] | None = None,
    jobs: int = 1,
    keep_images: bool = False,
    photos: bool = False,
) -> Iterator[Scanned]:
    """Scan files in input order. With jobs > 1, files are read and decoded on `jobs` threads, eight at a
    time and a few groups ahead, while the model runs here, one image at a time. `record(result)` (the history) runs
    before the result is handed on, so nothing is shown that was not saved first. `keep_images` hands on each
    decoded image with its result (only the few images in flight are held, never the whole batch). `photos` says
    every file is a phone photo of a film (see `prepare_image`)."""
    prepared_images = ordered_map(lambda path: prepare_image(path, model.input_size, keep_images, photos), paths, jobs)
    for prepared in prepared_images:
        result = scan_prepared(prepared, model, context)
        if record is not None:
            record(result)
        yield Scanned(prepared, result)
