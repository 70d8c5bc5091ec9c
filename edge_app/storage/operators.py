"""Operators who may use the app over a network: names with scrypt password hashes.

Kept in the site's config folder as one JSON file written atomically, so a
power cut never leaves half a list. Only hashes are stored: scrypt with a
random salt per operator, compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from pathlib import Path

from edge_app.files import MISSING, JsonFileError, atomic_write_text, read_json_file
from edge_app.storage.paths import config_dir

OPERATORS_FILE = "operators.json"
MAX_OPERATORS_BYTES = 2**20
"""Thousands of operators fit in well under 1 MB."""
MIN_PASSWORD_LENGTH = 4
"""A four-digit PIN is the shortest accepted: clinics use PINs, and login attempts are rate-limited."""
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class OperatorError(ValueError):
    """A name or password that cannot be used, or an operators file that cannot be read."""


def operators_path() -> Path:
    return config_dir() / OPERATORS_FILE


def _load() -> dict[str, dict]:
    try:
        return read_json_file(operators_path(), MAX_OPERATORS_BYTES)
    except JsonFileError as exc:
        if exc.kind == MISSING:
            return {}
        raise OperatorError(
            f"The operators file cannot be read: {exc}. Move it away and add the operators again "
            "with `edge-scan operators set`."
        ) from exc


def _hash(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32)


def check_name(name: str) -> str:
    """The name as it will be recorded; refused when empty, too long or holding control characters."""
    name = " ".join(name.split())
    if not name or len(name) > 80 or any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise OperatorError("An operator name is 1 to 80 printable characters.")
    return name


def set_password(name: str, password: str) -> str:
    """Add the operator, or change their password; returns the name as stored."""
    name = check_name(name)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise OperatorError(f"A password or PIN needs at least {MIN_PASSWORD_LENGTH} characters.")
    operators = _load()
    salt = os.urandom(16)
    operators[name] = {
        "scrypt": _SCRYPT,
        "salt": base64.b64encode(salt).decode("ascii"),
        "hash": base64.b64encode(_hash(password, salt, **_SCRYPT)).decode("ascii"),
    }
    atomic_write_text(operators_path(), json.dumps(operators, indent=2, sort_keys=True))
    os.chmod(operators_path(), 0o600)  # hashes only, but nobody else needs to read them
    return name


def remove(name: str) -> bool:
    operators = _load()
    if operators.pop(name, None) is None:
        return False
    atomic_write_text(operators_path(), json.dumps(operators, indent=2, sort_keys=True))
    os.chmod(operators_path(), 0o600)
    return True


def names() -> list[str]:
    return sorted(_load())


def verify(name: str, password: str) -> bool:
    """True when `name` exists and `password` is theirs. An unknown name costs the same scrypt work,
    so timing does not tell which names exist."""
    entry = _load().get(name)
    if entry is None:
        _hash(password, b"\0" * 16, **_SCRYPT)
        return False
    try:
        params = entry["scrypt"]
        salt, expected = base64.b64decode(entry["salt"]), base64.b64decode(entry["hash"])
        found = _hash(password, salt, int(params["n"]), int(params["r"]), int(params["p"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise OperatorError(f"{operators_path()}: the entry for {name!r} is damaged.") from exc
    return hmac.compare_digest(found, expected)
