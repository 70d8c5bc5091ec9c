"""Revoke a signing key: its packages are refused from then on, and a model it signed is no longer used.

When a key leaks, a model it signed may have been made by whoever holds it, so
it must not screen another child: revoking switches the device at once to the
newest earlier model not signed by a revoked key (the built-in model at worst),
drops such models from the rollback list, and logs the switch. If the key is
revoked some other way (the list copied in by hand), scans refuse the model
instead of using it (storage.active_model), until this command is run.
"""

from __future__ import annotations

from edge_app.storage.active_model import (
    BUILT_IN,
    ActivePointerDamaged,
    ActiveState,
    read_state,
    signed_by,
    write_state,
)
from edge_app.storage.model_changes import REVOKE, record_change
from edge_app.storage.revoked_keys import revoke, revoked_keys
from edge_app.updates.model_install import InstallError, trusted_keys_dir


def revoke_key(identifier: str) -> tuple[str, str]:
    """Revoke the key `identifier` (the project key too); returns (model active before, model active now)."""
    try:
        revoke(identifier)
    except ValueError as exc:
        raise InstallError(str(exc)) from exc
    (trusted_keys_dir() / f"{identifier}.pub").unlink(missing_ok=True)
    try:
        state = read_state()
    except ActivePointerDamaged:
        state = ActiveState()
    revoked = revoked_keys()
    kept = tuple(model for model in state.previous if signed_by(model) not in revoked)
    if signed_by(state.active) not in revoked:
        if kept != state.previous:
            write_state(ActiveState(state.active, kept))
        return state.active, state.active
    target, kept = (kept[-1], kept[:-1]) if kept else (BUILT_IN, ())
    write_state(ActiveState(target, kept))
    record_change(REVOKE, target, state.active, key=identifier)
    return state.active, target
