"""Install, list and roll back signed model updates on a device.

An update is accepted only if every step passes, in this order: the package
signature checks out against a trusted key, every file matches its signed hash,
its threshold is the one its own recorded validation figures were computed for
(edge_app.updates.threshold_figures; a model that records no validation scores is
refused, since its threshold cannot be checked), the model fits this device's
contract (preprocessing, input size, labels), and the self-test on the bundled
sample X-rays passes with the new model. Only then is the active-model pointer
switched; until then nothing a scan uses changes.
Earlier models stay installed, so `rollback` is one pointer switch.
A package older than the newest model installed on this device (rolled back
from or not) is refused unless the operator allows the downgrade, and one dated
after the device clock is refused (release_order); the same package again
changes nothing. Every switch is logged (storage.model_changes). Keys can be
revoked (key_revocation); a revoked key's packages are refused.
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge_app import contract
from edge_app.files import atomic_write_bytes, replace_folder, sha256_hex
from edge_app.inference.model_metadata import read_metadata, threshold_value
from edge_app.inference.model_store import ModelError, ScanModel, load_model, read_model_file, sidecar_path
from edge_app.language import N_
from edge_app.package_data import DEFAULT_MODEL, PROJECT_KEY_FILE
from edge_app.record import now_utc
from edge_app.storage.active_model import (
    BUILT_IN,
    INSTALL_RECORD,
    MODEL_FILE_NAME,
    ActivePointerDamaged,
    ActiveState,
    model_file,
    models_dir,
    read_install_record,
    read_state,
    signed_by,
    write_state,
)
from edge_app.storage.model_changes import DOWNGRADE, INSTALL, ROLLBACK, check_log_writable, record_change
from edge_app.storage.paths import config_dir
from edge_app.storage.revoked_keys import revoked_keys
from edge_app.updates.model_package import CARD_FILE, MANIFEST_FILE, ModelPackage, PackageRefused, read_package
from edge_app.updates.release_order import is_downgrade, newest_release
from edge_app.updates.selftest import SelftestReport, run_selftest
from edge_app.updates.signing import key_id, load_public_key, public_key_pem
from edge_app.updates.threshold_figures import threshold_problems

THRESHOLD_REFUSED = "threshold_inconsistent"
"""The refusal reason of a package whose threshold contradicts its validation figures (bad input: exit 2)."""
TRUSTED_KEYS_FOLDER = "trusted_keys"
ALREADY_ACTIVE = "already_active"


class InstallError(Exception):
    """A model command that cannot be done (nothing to roll back to, unknown key id ...)."""


@dataclass(frozen=True)
class Installed:
    model_id: str
    record: dict
    report: SelftestReport | None
    """None when nothing was installed (the package's model was already the active one)."""
    previous: str
    change: str = INSTALL
    """INSTALL, DOWNGRADE (allowed by the operator) or ALREADY_ACTIVE."""


def trusted_keys_dir() -> Path:
    return config_dir() / TRUSTED_KEYS_FOLDER


def trusted_keys() -> dict[str, Ed25519PublicKey]:
    """Key id -> key: the project key shipped in PneumoScan plus the keys this site trusts, less revoked keys."""
    project = load_public_key(PROJECT_KEY_FILE)
    keys = {key_id(project): project}
    for path in sorted(trusted_keys_dir().glob("*.pub")):
        key = load_public_key(path)
        keys[key_id(key)] = key
    revoked = revoked_keys()
    return {identifier: key for identifier, key in keys.items() if identifier not in revoked}


def trust_key(path: Path) -> str:
    """Add a site's public key to the keys packages may be signed with; returns its key id."""
    key = load_public_key(path)
    identifier = key_id(key)
    if identifier in revoked_keys():
        raise InstallError(f"Key {identifier} was revoked on this device; it cannot be trusted again.")
    atomic_write_bytes(trusted_keys_dir() / f"{identifier}.pub", public_key_pem(key))
    return identifier


def untrust_key(identifier: str) -> None:
    """Stop trusting a site key (after a rotation). The project key cannot be removed this way."""
    if identifier == key_id(load_public_key(PROJECT_KEY_FILE)):
        raise InstallError(f"{identifier} is the PneumoScan project key, which ships with the software.")
    path = trusted_keys_dir() / f"{identifier}.pub"
    if not path.is_file():
        raise InstallError(f"No trusted site key {identifier} on this device (see `edge-scan model keys`).")
    path.unlink()


def check_package_contract(package: ModelPackage, model: ScanModel) -> None:
    """Refuse a model whose metadata does not describe exactly what this device runs."""
    metadata = package.metadata
    if read_metadata(package.model) != metadata:  # the same as the one load_model checked, or refused here
        raise PackageRefused("incompatible", "The model's metadata.json differs from the metadata inside the model.")
    problems = []
    if tuple(metadata.get("labels", ())) != contract.LABELS:
        problems.append(f"labels {metadata.get('labels')} are not {list(contract.LABELS)}")
    size = metadata.get("input", {}).get("size")
    if size != model.input_size:
        problems.append(f"metadata input size {size} does not match the model's {model.input_size} px input")
    if problems:
        raise PackageRefused("incompatible", "The model does not fit this PneumoScan: " + "; ".join(problems) + ".")


def check_threshold_figures(package: ModelPackage) -> None:
    """Refuse a model whose threshold is not a probability (it does not fit) or is one its own validation
    figures do not support, before anything is staged."""
    metadata = package.metadata
    try:
        threshold_value(metadata if isinstance(metadata, dict) else {})
    except ValueError as exc:
        raise PackageRefused("incompatible", f"The model does not fit this PneumoScan: {exc}.") from exc
    problems = threshold_problems(metadata)
    if problems:
        raise PackageRefused(
            THRESHOLD_REFUSED,
            "The model's threshold contradicts its own validation figures: " + "; ".join(problems) + ".",
        )


def _stage(package: ModelPackage, source: Path) -> Path:
    """Write the package's files into a hidden folder beside the installed models."""
    staging = models_dir() / f".incoming-{uuid.uuid4().hex}"
    staging.mkdir(parents=True)
    model_path = staging / MODEL_FILE_NAME
    model_path.write_bytes(package.model)
    sidecar_path(model_path).write_text(f"{package.manifest['model_sha256']}  {MODEL_FILE_NAME}\n", encoding="utf-8")
    (staging / CARD_FILE).write_text(package.card, encoding="utf-8")
    (staging / MANIFEST_FILE).write_text(json.dumps(package.manifest, indent=2) + "\n", encoding="utf-8")
    record = {
        "model_sha256": package.manifest["model_sha256"],
        "model_version": str(package.metadata.get("model_version", "unversioned")),
        "threshold": package.metadata.get("threshold"),
        "signed_by": package.key_id,
        "package": source.name,
        "installed_at": now_utc(),
    }
    (staging / INSTALL_RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return staging


def _verify_staged(staging: Path, package: ModelPackage) -> SelftestReport:
    try:
        model = load_model(staging / MODEL_FILE_NAME)
    except ModelError as exc:
        raise PackageRefused("incompatible", str(exc).replace(str(staging / MODEL_FILE_NAME), "The model")) from exc
    check_package_contract(package, model)
    report = run_selftest(model)
    if not report.passed:
        failed = "; ".join(f"{check.name}: {check.detail}" for check in report.checks if not check.passed)
        raise PackageRefused("selftest_failed", f"The new model failed the self-test on the sample X-rays ({failed}).")
    return report


def _already_installed(model_id: str, sha256: str) -> bool:
    """An intact copy of this model is in place already (reinstalling it then only switches the pointer,
    and scans running meanwhile never find its folder missing)."""
    try:
        return sha256_hex(read_model_file(model_file(model_id))) == sha256
    except ModelError:
        return False


def _current_state() -> ActiveState:
    try:
        return read_state()
    except ActivePointerDamaged:
        return ActiveState()  # installing a good model is the repair the damaged-pointer message suggests


def install_package(path: Path, allow_downgrade: bool = False) -> Installed:
    """Verify, test and activate a .pnsm package; raises PackageRefused and changes nothing on any failure."""
    path = Path(path)
    package = read_package(path, trusted_keys(), frozenset(revoked_keys()))
    model_id = package.manifest["model_sha256"][:16]
    check_threshold_figures(package)
    state = _current_state()
    if state.active == model_id and _already_installed(model_id, package.manifest["model_sha256"]):
        return Installed(model_id, installed_record(model_id), None, state.active, ALREADY_ACTIVE)
    downgrade = is_downgrade(package.metadata, _newest_installed(), allow_downgrade)
    check_log_writable()
    staging = _stage(package, path)
    try:
        report = _verify_staged(staging, package)
        if not _already_installed(model_id, package.manifest["model_sha256"]):
            replace_folder(staging, models_dir() / model_id)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if state.active != model_id:
        write_state(ActiveState(model_id, (*state.previous, state.active)))
    change = DOWNGRADE if downgrade else INSTALL
    record_change(change, model_id, state.active, signed_by=package.key_id, package=path.name)
    return Installed(model_id, installed_record(model_id), report, state.active, change)


def _installed_ids() -> list[str]:
    """Every model installed on this device (models are kept after a rollback), not the built-in one."""
    if not models_dir().is_dir():
        return []
    return sorted(p.name for p in models_dir().iterdir() if p.is_dir() and not p.name.startswith("."))


def _newest_installed() -> tuple[str, datetime] | None:
    """The newest model this device has installed, or the built-in one: what a package must not be older than.
    Models signed by a revoked key are left out (whoever holds the key chose their dates)."""
    revoked = revoked_keys()
    kept = [BUILT_IN, *(model_id for model_id in _installed_ids() if signed_by(model_id) not in revoked)]
    return newest_release((model_id, model_metadata(model_id)) for model_id in kept)


def model_metadata(model_id: str) -> dict | None:
    """The metadata of an installed (or the built-in) model; None when its file cannot be read."""
    try:
        return read_metadata(_model_bytes(model_id))
    except Exception:  # a missing or damaged model: nothing to compare with, and load_model reports it
        return None


def _model_bytes(model_id: str) -> bytes:
    return read_model_file(DEFAULT_MODEL if model_id == BUILT_IN else model_file(model_id))


def installed_record(model_id: str) -> dict:
    if model_id == BUILT_IN:
        return {"model_version": N_("shipped with this PneumoScan"), "package": str(DEFAULT_MODEL)}
    return read_install_record(model_id) or {"model_version": N_("unknown (install record missing)")}


def model_sha256(model_id: str) -> str:
    """The SHA-256 of an installed (or the built-in) model's file; ModelError when it cannot be read."""
    return sha256_hex(_model_bytes(model_id))


def list_models() -> list[tuple[str, str, dict]]:
    """(model id, "active" / "previous" / "", install record) for the built-in and every installed model."""
    state = read_state()
    ids = [BUILT_IN, *_installed_ids()]
    role = {model_id: "previous" for model_id in state.previous} | {state.active: "active"}
    return [(model_id, role.get(model_id, ""), installed_record(model_id)) for model_id in ids]


def rollback() -> str:
    """Make the previously active model active again; returns its id."""
    state = read_state()
    if not state.previous:
        raise InstallError("Nothing to roll back to: no model was active before the current one.")
    target = state.previous[-1]
    try:
        load_model(DEFAULT_MODEL if target == BUILT_IN else model_file(target))
    except ModelError as exc:
        raise InstallError(f"Cannot roll back to {target}: {exc}") from exc
    check_log_writable()
    write_state(ActiveState(target, state.previous[:-1]))
    record_change(ROLLBACK, target, state.active)
    return target
