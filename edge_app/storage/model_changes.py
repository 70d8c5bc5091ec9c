"""The log of every change of the active model on this device: installs, downgrades, rollbacks, revocations.

An audit must be able to tell which model was in use when, and why it changed
(an operator who allowed an older model, a key revoked after a leak), so each
change is one JSON line appended to `models/changes.jsonl` and flushed to disk
before the command reports success. Lines are only ever appended.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from edge_app.record import now_utc
from edge_app.storage.active_model import models_dir

CHANGES_FILE = "changes.jsonl"
INSTALL, DOWNGRADE, ROLLBACK, REVOKE = "install", "downgrade", "rollback", "revoke"


def changes_path() -> Path:
    return models_dir() / CHANGES_FILE


def record_change(event: str, model: str, previous: str, **details: str) -> None:
    """Append one change (`model` is now active, `previous` was) to the log, durably."""
    line = json.dumps({"at": now_utc(), "event": event, "model": model, "previous": previous, **details})
    path = changes_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as log:
        log.write(line + "\n")
        log.flush()
        os.fsync(log.fileno())


def read_changes() -> list[dict]:
    """Every change logged, oldest first; a line damaged by a power cut is shown as such, not dropped silently."""
    if not changes_path().is_file():
        return []
    changes = []
    for number, line in enumerate(changes_path().read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        try:
            change = json.loads(line)
        except (ValueError, RecursionError):
            change = None
        changes.append(change if isinstance(change, dict) else {"event": "damaged line", "line": str(number)})
    return changes
