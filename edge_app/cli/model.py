"""`edge-scan model ...`: install signed model updates, list them, roll back, manage trusted keys.

Kept apart from cli.py so the scanning commands stay short; cli.py adds this group.
"""

from __future__ import annotations

import os
from pathlib import Path

import click


class Refused(click.ClickException):
    """An update or key command that was refused; the active model is unchanged."""

    exit_code = 1


class Unusable(click.ClickException):
    """A file named on the command line that cannot be read at all, or a file this device keeps for its models
    (the active-model record, the revoked keys, the change log) that cannot be used: exit 2, as for bad input."""

    exit_code = 2


@click.group(name="model")
def model_group() -> None:
    """Install a signed model update, list installed models, roll back, manage trusted keys.

    Scans use the active model unless --model or PNEUMOSCAN_MODEL says otherwise.
    """


@model_group.command()
@click.argument("package", type=click.Path(path_type=Path))
@click.option(
    "--allow-downgrade",
    is_flag=True,
    help="Install it even if its model is older than the newest one installed here (logged).",
)
def install(package: Path, allow_downgrade: bool) -> None:
    """Install a signed model package (.pnsm) and make it the active model.

    The package must be signed by a trusted key that was not revoked, unchanged,
    fit this PneumoScan, pass the self-test on the sample X-rays, and hold a model
    no older than the newest one installed on this device, even one rolled back
    from (unless --allow-downgrade), and not dated after this device's clock;
    otherwise nothing changes. Installing the active model's package again
    changes nothing.
    """
    from edge_app.updates.model_install import ALREADY_ACTIVE, DOWNGRADE, THRESHOLD_REFUSED, install_package
    from edge_app.updates.model_package import UNREADABLE, PackageRefused

    click.echo(f"Checking {package} ...", err=True)
    try:
        installed = _checked(install_package, package, allow_downgrade)
    except PackageRefused as exc:
        refused = Refused(f"Model NOT installed ({exc.reason}): {exc} The active model has not changed.")
        refused.exit_code = 2 if exc.reason in (THRESHOLD_REFUSED, UNREADABLE) else Refused.exit_code
        raise refused from exc
    record = installed.record
    if installed.change == ALREADY_ACTIVE:
        click.echo(f"Signature: valid, key {record.get('signed_by')}")
        click.echo(f"Nothing changed: model {installed.model_id} from this package is already the active model.")
        return
    if installed.change == DOWNGRADE:
        click.echo(
            "Note: this model is OLDER than the newest one installed here (--allow-downgrade); the change is logged."
        )
    click.echo(f"Signature: valid, key {record.get('signed_by')}")
    click.echo(f"Self-test: passed on {len(installed.report.results)} sample X-rays")
    click.echo(f"Active model: {installed.model_id} (version {record.get('model_version')})")
    click.echo(f"Previous model {installed.previous} is kept: `edge-scan model rollback` returns to it.")
    _calibration_note(record.get("model_sha256", ""))


@model_group.command(name="list")
def list_command() -> None:
    """List the built-in and installed models; the active one is marked."""
    from edge_app.inference.model_store import MODEL_ENV
    from edge_app.updates.model_install import list_models

    for model_id, role, record in _checked(list_models):
        mark = {"active": "* active  ", "previous": "  previous"}.get(role, "          ")
        signed = f"  signed by {record['signed_by']}" if "signed_by" in record else ""
        when = f"  installed {record['installed_at']}" if "installed_at" in record else ""
        click.echo(f"{mark}  {model_id:<16}  {record.get('model_version')}{signed}{when}")
    override = os.environ.get(MODEL_ENV)
    if override:
        click.echo(f"Note: scans use {override} instead, because {MODEL_ENV} is set.", err=True)


@model_group.command()
def rollback() -> None:
    """Go back to the model that was active before the current one."""
    from edge_app.updates.model_install import model_sha256
    from edge_app.updates.model_install import rollback as roll_back

    active = _checked(roll_back)
    click.echo(f"Active model: {active}")
    _calibration_note(_checked(model_sha256, active))


@model_group.command()
@click.argument("public_key", type=click.Path(path_type=Path))
def trust(public_key: Path) -> None:
    """Trust packages signed with this site's Ed25519 public key (a .pub from `edge-export keygen`)."""
    from edge_app.updates.model_install import trust_key

    click.echo(f"Trusted key {_checked(trust_key, public_key)}")


@model_group.command()
@click.argument("key_id")
def untrust(key_id: str) -> None:
    """Stop trusting a site key, by the key id that `edge-scan model keys` shows."""
    from edge_app.updates.model_install import untrust_key

    _checked(untrust_key, key_id)
    click.echo(f"Key {key_id} is no longer trusted.")


@model_group.command()
@click.argument("key_id")
def revoke(key_id: str) -> None:
    """Revoke a signing key for good (a leaked key; the project key too): its packages are refused, and if
    the active model was signed by it, the newest earlier model not signed by it becomes active."""
    from edge_app.updates.key_revocation import revoke_key
    from edge_app.updates.model_install import model_sha256

    before, now = _checked(revoke_key, key_id)
    click.echo(f"Key {key_id} is revoked: packages signed by it are refused.")
    if before != now:
        click.echo(f"The active model {before} was signed by it and is no longer used. Active model: {now}")
        _calibration_note(_checked(model_sha256, now))


@model_group.command()
def changes() -> None:
    """List every change of the active model on this device: installs, downgrades, rollbacks, revocations."""
    from edge_app.storage.model_changes import read_changes

    for change in _checked(read_changes):
        details = "  ".join(f"{key} {value}" for key, value in change.items() if key not in ("at", "event"))
        click.echo(f"{change.get('at', '?')}  {change.get('event', '?'):<10}  {details}")


@model_group.command()
def keys() -> None:
    """List the keys model packages may be signed with, then the keys revoked on this device."""
    from edge_app.package_data import PROJECT_KEY_FILE
    from edge_app.storage.revoked_keys import revoked_keys
    from edge_app.updates.model_install import trusted_keys, trusted_keys_dir

    for identifier in _checked(trusted_keys):
        site_file = trusted_keys_dir() / f"{identifier}.pub"
        click.echo(f"{identifier}  {site_file if site_file.is_file() else f'project key ({PROJECT_KEY_FILE})'}")
    for identifier, when in _checked(revoked_keys).items():
        click.echo(f"{identifier}  REVOKED {when}: its packages are refused")


def _calibration_note(active_sha256: str) -> None:
    """A site calibration belongs to one model: say so when the model just switched to is another."""
    from edge_app.site.site_profile import ProfileError, load_profile

    try:
        profile = load_profile()
    except ProfileError:
        return  # scans report a damaged profile themselves
    if profile is not None and profile.model_sha256 != active_sha256:
        click.echo(
            "Note: the site calibration was made for another model, so scans now use this model's own threshold. "
            "Calibrate again with `edge-scan calibrate`.",
            err=True,
        )


def _checked(action, *args):
    """Run a model command, turning its known failures into a plain message: exit 2 for a file that cannot be read
    or a damaged file the device keeps, 1 for a refusal."""
    from edge_app.inference.model_store import ModelError
    from edge_app.storage.active_model import ActivePointerDamaged
    from edge_app.storage.model_changes import ChangeLogDamaged
    from edge_app.storage.revoked_keys import RevocationListDamaged
    from edge_app.updates.model_install import InstallError
    from edge_app.updates.signing import KeyFileError, KeyFileUnreadable

    try:
        return action(*args)
    except (ActivePointerDamaged, RevocationListDamaged, ChangeLogDamaged, KeyFileUnreadable) as exc:
        raise Unusable(str(exc)) from exc
    except (InstallError, KeyFileError, ModelError, OSError) as exc:
        raise Refused(str(exc)) from exc
