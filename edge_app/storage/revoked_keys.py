"""Signing keys this device has revoked: packages they signed are refused, models they signed are not used.

A revoked key stays revoked, even if its public key file is copied into the
trusted folder again, so the list is kept apart from the trusted keys, in
`revoked_keys.json` in the settings folder ({key id: when revoked}).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from edge_app.files import MISSING, JsonFileError, atomic_write_text, read_json_file
from edge_app.record import now_utc
from edge_app.storage.paths import config_dir

REVOKED_FILE = "revoked_keys.json"
KEY_ID = re.compile(r"^[0-9a-f]{16}$")
MAX_LIST_BYTES = 1024 * 1024


class RevocationListDamaged(ValueError):
    """The list of revoked keys cannot be read, so no key can be known not to be revoked."""


def revoked_path() -> Path:
    return config_dir() / REVOKED_FILE


def revoked_keys() -> dict[str, str]:
    """Key id -> when it was revoked."""
    path = revoked_path()
    try:
        data = read_json_file(path, MAX_LIST_BYTES)
    except JsonFileError as exc:
        if exc.kind == MISSING:
            return {}
        raise RevocationListDamaged(
            f"The list of revoked signing keys is damaged: {exc}. No update is installed until it is repaired: "
            "move the file away, then revoke the keys again."
        ) from exc
    if not all(KEY_ID.match(key) for key in data):
        raise RevocationListDamaged(f"{path}: the list of revoked signing keys is not a map of key ids.")
    return {key: str(when) for key, when in data.items()}


def revoke(key_id: str) -> None:
    if not KEY_ID.match(key_id):
        raise ValueError(f"{key_id!r} is not a key id (16 hex digits, as `edge-scan model keys` shows them).")
    revoked = revoked_keys()
    if key_id not in revoked:
        revoked[key_id] = now_utc()
        atomic_write_text(revoked_path(), json.dumps(revoked, indent=2, sort_keys=True) + "\n")
