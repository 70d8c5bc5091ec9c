"""The log of every change of the active model on this device: installs, downgrades, rollbacks, revocations.

An audit must be able to tell which model was in use when, and why it changed
(an operator who allowed an older model, a key revoked after a leak), so each
change is one JSON line appended to `models/changes.jsonl` and flushed to disk
before the command reports success. Lines are only ever appended.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from edge_app.files import MISSING, JsonFileError, read_json_lines
from edge_app.record import now_utc
from edge_app.storage.active_model import models_dir

CHANGES_FILE = "changes.jsonl"
INSTALL, DOWNGRADE, ROLLBACK, REVOKE = "install", "downgrade", "rollback", "revoke"
MAX_LOG_BYTES = 64 * 2**20
"""About 300,000 changes: decades of updates. A larger file is not this log."""


class ChangeLogDamaged(ValueError):
    """The log of model changes cannot be read or appended to (a folder or pipe in its place, far too large ...)."""


def changes_path() -> Path:
    return models_dir() / CHANGES_FILE


@contextmanager
def _appending(create: bool = True) -> Iterator[TextIO]:
    """The log, open for appending (FileNotFoundError when it is missing and not to be created). It is opened
    without blocking and checked on the open descriptor, so a pipe in its place is refused instead of waiting."""
    path = changes_path()
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_APPEND | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        descriptor = os.open(path, flags | (os.O_CREAT if create else 0), 0o644)
    except OSError as exc:  # a folder (EISDIR), a pipe nobody reads (ENXIO), a read-only disk
        if isinstance(exc, FileNotFoundError) and not create:
            raise
        raise ChangeLogDamaged(f"The log of model changes cannot be written: {path} ({exc.strerror or exc}).") from exc
    with os.fdopen(descriptor, "a", encoding="utf-8") as log:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise ChangeLogDamaged(f"The log of model changes cannot be written: {path} is not a regular file.")
        yield log


def check_log_writable() -> None:
    """ChangeLogDamaged unless a change can be logged: asked before the active model is switched, so a switch
    is never made that the log cannot show. Nothing is created: a missing log is made by the first change."""
    try:
        with _appending(create=False):
            pass
    except FileNotFoundError:
        pass


def record_change(event: str, model: str, previous: str, **details: str) -> None:
    """Append one change (`model` is now active, `previous` was) to the log, durably."""
    line = json.dumps({"at": now_utc(), "event": event, "model": model, "previous": previous, **details})
    with _appending() as log:
        log.write(line + "\n")
        log.flush()
        os.fsync(log.fileno())


def read_changes() -> list[dict]:
    """Every change logged, oldest first; a line damaged by a power cut is shown as such, not dropped silently."""
    try:
        lines = read_json_lines(changes_path(), MAX_LOG_BYTES)
    except JsonFileError as exc:
        if exc.kind == MISSING:
            return []
        raise ChangeLogDamaged(f"The log of model changes cannot be read: {exc}.") from exc
    return [
        change if isinstance(change, dict) else {"event": "damaged line", "line": str(number)}
        for number, change in enumerate(lines, 1)
    ]
