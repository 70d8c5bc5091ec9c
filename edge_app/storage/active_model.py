"""Which model scans use by default: a small pointer file, switched atomically.

Installed models live in `<data folder>/models/<id>/`; `models/active.json`
names the active one and the ones active before it (most recent last), so a
rollback knows where to go. The pointer is replaced in one rename, so a power
cut during an update leaves either the old or the new model active, never a
mixture. "built-in" is the model that ships inside the PneumoScan package.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from edge_app.files import MISSING, JsonFileError, atomic_write_text, read_json_file
from edge_app.language import N_
from edge_app.storage.paths import data_dir
from edge_app.storage.revoked_keys import RevocationListDamaged, revoked_keys

BUILT_IN = N_("built-in")
MODELS_FOLDER = "models"
ACTIVE_FILE = "active.json"
MODEL_FILE_NAME = "pneumoscan.tflite"
INSTALL_RECORD = "installed.json"
"""Beside each installed model: its version, threshold, the key that signed it, when it was installed."""
MAX_RECORD_BYTES = 2**20


class ActivePointerDamaged(ValueError):
    """models/active.json cannot be read or names a model that is not there."""


@dataclass(frozen=True)
class ActiveState:
    active: str = BUILT_IN
    previous: tuple[str, ...] = ()
    """Models active before this one, most recent last: what `model rollback` returns to."""


def models_dir() -> Path:
    return data_dir() / MODELS_FOLDER


def model_file(model_id: str) -> Path:
    return models_dir() / model_id / MODEL_FILE_NAME


def read_state() -> ActiveState:
    path = models_dir() / ACTIVE_FILE
    way_out = "Install a model package again, or delete this file to go back to the built-in model."
    try:
        data = read_json_file(path, MAX_RECORD_BYTES)
    except JsonFileError as exc:
        if exc.kind == MISSING:
            return ActiveState()
        raise ActivePointerDamaged(f"The record of the active model is damaged: {exc}. {way_out}") from exc
    previous = data.get("previous", [])
    if "active" not in data or not isinstance(previous, list):
        raise ActivePointerDamaged(
            f"The record of the active model is damaged: {path} does not hold an 'active' model and a 'previous' "
            f"list. {way_out}"
        )
    state = ActiveState(str(data["active"]), tuple(str(item) for item in previous))
    for model_id in (state.active, *state.previous):
        if "/" in model_id or "\\" in model_id or model_id.startswith(".") or not model_id:
            raise ActivePointerDamaged(f"{path}: names an invalid model {model_id!r}.")
    return state


def write_state(state: ActiveState) -> None:
    text = json.dumps({"active": state.active, "previous": list(state.previous)}, indent=2) + "\n"
    atomic_write_text(models_dir() / ACTIVE_FILE, text)


def active_model_path() -> Path | None:
    """The active installed model file, or None when the built-in model is active."""
    state = read_state()
    if state.active == BUILT_IN:
        return None
    path = model_file(state.active)
    _refuse_if_revoked(state.active)
    if not path.is_file():
        raise ActivePointerDamaged(
            f"The active model {state.active} is missing from {path.parent}. "
            "Run `edge-scan model rollback` to use the previous model, or install the package again."
        )
    return path


def read_install_record(model_id: str) -> dict | None:
    """An installed model's install record; None when it is missing, damaged or not a regular file."""
    try:
        return read_json_file(models_dir() / model_id / INSTALL_RECORD, MAX_RECORD_BYTES)
    except JsonFileError:
        return None


def signed_by(model_id: str) -> str | None:
    """The id of the key that signed an installed model, from its install record; None if unknown."""
    record = read_install_record(model_id) or {}
    return str(record["signed_by"]) if "signed_by" in record else None


def _refuse_if_revoked(model_id: str) -> None:
    """A model signed by a key revoked since it was installed is not used (`edge-scan model revoke` switches
    away from it; this catches a key revoked any other way)."""
    try:
        revoked = revoked_keys()
    except RevocationListDamaged as exc:
        raise ActivePointerDamaged(str(exc)) from exc
    signer = signed_by(model_id)
    if signer in revoked:
        raise ActivePointerDamaged(
            f"The active model {model_id} was signed by key {signer}, which was revoked on this device, so it is "
            f"not used. Run `edge-scan model revoke {signer}` to switch to the newest model not signed by it."
        )
