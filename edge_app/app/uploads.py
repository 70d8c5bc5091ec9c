"""X-ray uploads: accepted only as JPEG, PNG or DICOM, kept under names the app chooses in a private folder.

The browser's file name is only a label shown back to people; it never becomes a
path. Multipart bodies are spooled into the same private folder (not the system's
/tmp); an accepted file is then linked under its stored name rather than copied, the
spool's own name goes when the request ends, and each batch's folder is deleted once
it is scanned.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from flask import Request
from werkzeug.datastructures import FileStorage

MAX_FILES = 100
MAX_UPLOAD_BYTES = 1024 * 1024 * 1024
"""A whole batch; one full-resolution X-ray is a few MB, a DICOM up to ~50 MB."""
_SIGNATURES = ((b"\xff\xd8\xff", ".jpg"), (b"\x89PNG\r\n\x1a\n", ".png"))


@dataclass(frozen=True)
class Upload:
    """One file the browser sent: its label (the browser's name) and where the app stored it (None if refused)."""

    label: str
    path: Path | None


def upload_root(data_folder: Path) -> Path:
    return data_folder / "app" / "uploads"


def clear_uploads(data_folder: Path) -> None:
    """At start: whatever a stopped server left behind is deleted, never scanned later."""
    shutil.rmtree(upload_root(data_folder), ignore_errors=True)
    upload_root(data_folder).mkdir(parents=True, mode=0o700, exist_ok=True)


def request_class(data_folder: Path) -> type[Request]:
    """A Flask request whose spooled upload files live in the app's private folder."""

    class PrivateUploadRequest(Request):
        max_form_parts = 2100  # calibration sends hundreds of labelled X-rays; each view checks its own count

        def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
            return tempfile.NamedTemporaryFile(dir=upload_root(data_folder))  # named: save_uploads links it

    return PrivateUploadRequest


def _suffix(head: bytes, label: str) -> str | None:
    """The type the content shows, or None when it is not a supported X-ray format."""
    from edge_app.intake.dicom_input import looks_like_dicom  # numpy: imported at the first upload, not at start

    for signature, suffix in _SIGNATURES:
        if head.startswith(signature):
            return suffix
    if looks_like_dicom(head) or label.lower().endswith(".dcm"):
        return ".dcm"  # with or without its preamble, as edge-scan knows a DICOM
    return None


def label_of(storage: FileStorage) -> str:
    """The browser's file name, as text only (no folders), for showing and for the history's path column."""
    name = (storage.filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    return name[:200] or "image"


def save_uploads(files: list[FileStorage], folder: Path) -> list[Upload]:
    """Store each supported file as folder/NNN.ext; a file of another type is refused and not stored."""
    folder.mkdir(mode=0o700)
    uploads = []
    for index, storage in enumerate(files):
        label = label_of(storage)
        head = storage.stream.read(132)
        storage.stream.seek(0)
        suffix = _suffix(head, label)
        if suffix is None:
            uploads.append(Upload(label, None))
            continue
        path = folder / f"{index:03d}{suffix}"
        _store(storage, path)
        uploads.append(Upload(label, path))
    return uploads


def _store(storage: FileStorage, path: Path) -> None:
    """Give the spooled file its stored name: a hard link, so a large X-ray is not written a second time,
    or a copy where the spool has no name (a stream kept in memory) or cannot be linked."""
    spool = getattr(storage.stream, "name", None)
    if isinstance(spool, str):
        try:
            os.link(spool, path)
            return
        except OSError:
            pass
    with path.open("xb") as target:
        shutil.copyfileobj(storage.stream, target, 1024 * 1024)
