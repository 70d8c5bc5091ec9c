"""Files that can be trusted: atomic writes and SHA-256 digests.

A crash never leaves a half-written file in place: each writer puts its bytes
in a temporary file beside the target and renames it over the target, which is
atomic on POSIX and Windows file systems. Digests are written in `sha256sum`
format, so a health worker's IT person can check a model with standard tools.
A file named by a person is read only if it is a regular file of a sane size:
a named pipe would wait forever for a writer and /dev/zero never ends.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

SIDECAR_SUFFIX = ".sha256"
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
MISSING, NOT_A_FILE, TOO_LARGE = "missing", "not_a_file", "too_large"
UNREADABLE, NOT_JSON, WRONG_TYPE = "unreadable", "not_json", "wrong_type"
_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "true or false", type(None): "null"}


class NotARegularFile(ValueError):
    """A path that cannot be read as a regular file of a sane size; `kind` is MISSING, NOT_A_FILE or TOO_LARGE."""

    def __init__(self, kind: str, message: str, size: int = 0) -> None:
        super().__init__(message)
        self.kind = kind
        self.size = size


def _size(count: int) -> str:
    return f"{count / 2**20:.1f} MB" if count >= 2**20 else f"{count / 1024:.1f} KB"


def read_regular_file(path: Path, max_bytes: int, what: str = "a regular file") -> bytes:
    """The bytes of `path`, refusing a missing path, a pipe, device, socket or folder, or more than `max_bytes`.

    The file is opened without blocking and checked on the open descriptor, so a
    pipe put in a file's place between a check and the read is still refused.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError as exc:
        raise NotARegularFile(MISSING, "There is no such file (or it is a link to a file that was moved).") from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotARegularFile(MISSING, "The file is a link that leads back to itself.") from exc
        if exc.errno in (errno.ENXIO, errno.EISDIR):  # a socket, a device with nothing behind it, a folder
            raise NotARegularFile(
                NOT_A_FILE, f"This is not {what} (a socket, device or folder); it was not read."
            ) from exc
        raise
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode):
        os.close(descriptor)
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "a pipe, device or socket"
        raise NotARegularFile(NOT_A_FILE, f"This is {kind}, not {what}; it was not read.")
    with os.fdopen(descriptor, "rb") as file:
        if info.st_size > max_bytes:
            message = f"The file is {_size(info.st_size)}, more than the {_size(max_bytes)} {what} may be."
            raise NotARegularFile(TOO_LARGE, message, info.st_size)
        # Asking for the size fstat gave: for a read of "up to 512 MB" CPython allocates the whole
        # buffer first and shrinks it after, per image, and two reading threads then barely beat one.
        data = file.read(info.st_size + 1)
        if len(data) > info.st_size:  # the file grew since fstat (still being copied): read the rest
            data += file.read(max_bytes + 1 - len(data))
        if len(data) > max_bytes:
            raise NotARegularFile(TOO_LARGE, f"The file grew past the {_size(max_bytes)} {what} may be.", len(data))
        return data


def read_text_file(path: Path, max_bytes: int, what: str) -> str:
    """A text file a person named (a CSV of labels or outcomes, a settings file), read as `read_regular_file`
    reads bytes, so a pipe in its place is refused instead of waiting forever. A spreadsheet program's UTF-8
    byte-order mark is dropped; text that is not UTF-8 raises UnicodeDecodeError (a ValueError)."""
    return read_regular_file(path, max_bytes, what).decode("utf-8-sig")


class JsonFileError(ValueError):
    """A small JSON file the device keeps (a record, a list, a profile) that cannot be used.

    `kind` (MISSING, NOT_A_FILE, TOO_LARGE, UNREADABLE, NOT_JSON, WRONG_TYPE) lets a caller treat a missing file
    as "none yet"; the message names the file and what is wrong with it, for the caller to add what to do.
    """

    def __init__(self, path: Path, kind: str, problem: str) -> None:
        super().__init__(f"{path} {problem}")
        self.path = Path(path)
        self.kind = kind


def _read_small_file(path: Path, max_bytes: int) -> bytes:
    """`read_regular_file`, its refusals and any read error turned into JsonFileError naming `path`."""
    try:
        return read_regular_file(path, max_bytes, "a file")
    except NotARegularFile as exc:
        problem = {
            MISSING: "does not exist",
            NOT_A_FILE: f"is {'a folder' if Path(path).is_dir() else 'a pipe, device or socket'}, not a file",
            TOO_LARGE: f"is {_size(exc.size)}, more than the {_size(max_bytes)} it may be",
        }[exc.kind]
        raise JsonFileError(path, exc.kind, problem) from exc
    except OSError as exc:
        raise JsonFileError(path, UNREADABLE, f"cannot be read ({exc.strerror or exc})") from exc


def _json_value(path: Path, text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonFileError(
            path, NOT_JSON, f"is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from exc
    except ValueError as exc:  # a number of more digits than Python converts
        raise JsonFileError(path, NOT_JSON, f"is not JSON this device can read ({str(exc).split(':')[0]})") from exc
    except RecursionError as exc:
        raise JsonFileError(path, NOT_JSON, "is nested too deeply to be read") from exc


def read_json_file(path: Path, max_bytes: int, top: type = dict) -> object:
    """The JSON value in `path`, which must be of type `top`; JsonFileError saying what is wrong otherwise.

    Every small state and settings file is read here, so each is refused the same
    way: a folder, pipe or device in its place (never waited on), a file larger than
    `max_bytes`, an unreadable, empty, truncated or non-UTF-8 file, or JSON of
    another type than the caller reads."""
    data = _read_small_file(path, max_bytes)
    if not data.strip():
        raise JsonFileError(path, NOT_JSON, "is empty")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonFileError(path, NOT_JSON, f"is not UTF-8 text (byte {exc.start})") from exc
    value = _json_value(path, text)
    if not isinstance(value, top):
        found = _JSON_TYPES.get(type(value), "a number")
        raise JsonFileError(path, WRONG_TYPE, f"holds {found}, not {_JSON_TYPES.get(top, 'a number')}")
    return value


def read_json_lines(path: Path, max_bytes: int) -> list[object | None]:
    """Each line of a JSON Lines file, None for a line that is not JSON (a power cut during an append), so one
    damaged line is shown as such and the others still read; JsonFileError when the file itself cannot be read."""
    values: list[object | None] = []
    for line in _read_small_file(path, max_bytes).decode("utf-8", errors="replace").splitlines():
        try:
            values.append(_json_value(path, line))
        except JsonFileError:
            values.append(None)
    return values


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


def check_writable_folder(folder: Path) -> None:
    """Raise OSError unless files can be made in `folder` (or, when it does not exist yet, in the nearest folder
    above it that does): asked before long work whose result must be saved there, so a read-only folder is named
    first, not after the work. Permission bits cannot tell (root ignores them, a read-only mount does not), so a
    temporary file is really made, and removed; nothing else is created."""
    folder = Path(folder).absolute()
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    with tempfile.TemporaryFile(dir=folder):
        pass


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


MAX_SIDECAR_BYTES = 64 * 1024
"""A sha256sum line is under 200 bytes."""


def read_sidecar(path: Path) -> str:
    """The hex digest from a sha256sum-format file ("<hex>  <name>"); ValueError when it holds none, and
    NotARegularFile (a ValueError; kind MISSING when there is none) when it cannot be read as a small file."""
    data = read_regular_file(path, MAX_SIDECAR_BYTES, "a checksum file")
    fields = data.decode("utf-8", errors="replace").split()
    if not fields or not _HEX64.match(fields[0]):
        raise ValueError(f"{path}: not a SHA-256 checksum file (expected '<64 hex digits>  <file name>').")
    return fields[0].lower()
