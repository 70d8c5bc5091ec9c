"""Files that can be trusted: atomic writes and SHA-256 digests.

A crash never leaves a half-written file in place: each writer puts its bytes
in a temporary file beside the target and renames it over the target, which is
atomic on POSIX and Windows file systems. Digests are written in `sha256sum`
format, so a health worker's IT person can check a model with standard tools.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

SIDECAR_SUFFIX = ".sha256"
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp)` with a temporary path beside `path` (same suffix), then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix or ".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; outputs are shared files (models, reports)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def save_model_atomically(model, path: Path) -> Path:
    """Save a Keras model (format chosen by the suffix of `path`)."""
    return atomic_write(path, lambda tmp: model.save(str(tmp)))


def replace_folder(staging: Path, target: Path) -> None:
    """Put a completed folder in place of `target` (if any): renames only, so `target` is never half-written."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.replaced-{uuid.uuid4().hex[:8]}")
        os.replace(target, old)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    """The digest of a file read in blocks, so a large model never sits in memory twice."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_line(data: bytes, filename: str) -> str:
    """One line in `sha256sum` format, so `sha256sum -c` verifies the file."""
    return f"{sha256_hex(data)}  {filename}\n"


def sidecar_path(path: Path) -> Path:
    """Where the checksum of `path` is kept: `<name>.sha256` beside it."""
    path = Path(path)
    return path.with_name(path.name + SIDECAR_SUFFIX)


def write_with_sidecar(path: Path, content: bytes) -> Path:
    """Write `content` and then its sidecar checksum, both atomically."""
    path = atomic_write_bytes(path, content)
    atomic_write_text(sidecar_path(path), sha256_line(content, path.name))
    return path


def read_sidecar(path: Path) -> str:
    """The hex digest from a sha256sum-format file ("<hex>  <name>"); ValueError when it holds none."""
    fields = Path(path).read_text(encoding="utf-8", errors="replace").split()
    if not fields or not _HEX64.match(fields[0]):
        raise ValueError(f"{path}: not a SHA-256 checksum file (expected '<64 hex digits>  <file name>').")
    return fields[0].lower()
