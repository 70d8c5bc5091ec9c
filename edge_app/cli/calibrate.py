"""What `edge-scan calibrate` does, apart from parsing its options (see cli.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from edge_app.cli.progress import Progress
from edge_app.files import check_writable_folder
from edge_app.inference.model_store import ScanModel
from edge_app.outputs import calibration_report
from edge_app.site import calibration, site_profile
from edge_app.site.promise import Promise
from edge_app.site.threshold_choice import resolve_threshold
from edge_app.threshold import SITE


class UnusableProfile(click.ClickException):
    """The site profile cannot be read or is not valid: exit 2, like other bad input."""

    exit_code = 2


class CannotSave(click.ClickException):
    """The site profile cannot be written (a read-only or full data folder): exit 2, nothing changed."""

    exit_code = 2


def _check_can_save() -> None:
    """Refuse before scanning, not after: calibrating a site takes minutes and the profile is its only output."""
    for folder in (site_profile.active_profile_path().parent, site_profile.archive_dir()):
        try:
            check_writable_folder(folder)
        except OSError as exc:
            raise CannotSave(
                f"Cannot save a site profile in {folder} ({exc.strerror or exc}). Nothing was scanned or changed. "
                "Make the folder writable, or set PNEUMOSCAN_HOME to a writable folder."
            ) from exc


def show(model: ScanModel) -> None:
    """The threshold scans use now, then the active profile; exit 2 when the profile cannot be read."""
    choice = resolve_threshold(model)
    try:
        profile = site_profile.load_profile()
    except site_profile.ProfileError as exc:
        raise UnusableProfile(f"{exc} Scans use the model's own threshold {model.threshold:.3f}.") from exc
    if profile is None:
        click.echo(calibration_report.in_use(choice))
        click.echo("No site profile is active: scans use the model's own threshold.")
        return
    if profile.model_sha256 != model.sha256:
        raise UnusableProfile(
            f"The active site profile ({site_profile.active_profile_path()}) was made for another model "
            f"(SHA-256 {profile.model_sha256[:12]}..., version {profile.model_version}), not this one "
            f"({model.sha256[:12]}..., version {model.version}): its figures say nothing about this model, and "
            f"scans use this model's own threshold {model.threshold:.3f}. Calibrate again with edge-scan calibrate."
        )
    click.echo(calibration_report.show(profile, str(site_profile.active_profile_path()), choice))


def reset() -> None:
    try:
        removed = site_profile.reset_profile()
    except OSError as exc:
        raise CannotSave(f"The site profile could not be reset ({exc}); nothing was changed.") from exc
    if removed is None:
        click.echo("No site profile was active: scans already use the model's own threshold.")
    else:
        click.echo(
            f"Site profile {removed} is no longer used: scans now use the model's own threshold. "
            f"Every profile saved stays in {site_profile.archive_dir()}."
        )


def run(
    folder: Path | None,
    labels_csv: Path | None,
    promise: Promise,
    operator: str | None,
    model: ScanModel,
    photos: bool = False,
) -> None:
    """Scan the labelled images, print the comparison, and save the profile unless it must be refused.
    Exits 1 when refused, 2 when the profile could not be saved (nothing changed either way).
    `photos`: the labelled images are phone photos of films (edge-scan scan --photo)."""
    _check_can_save()
    try:
        images = calibration.images_in_csv(labels_csv) if labels_csv else calibration.images_in_folder(folder)
    except calibration.CalibrationError as exc:
        raise click.UsageError(str(exc)) from exc
    progress = Progress(len(images))
    site_scan = calibration.scan_site_images(images, model, progress.advance, photos)
    progress.clear()
    for result in site_scan.rejected:
        click.echo(f"Not scanned, left out: {result.path}: {result.message}", err=True)
    try:
        profile = calibration.calibrate(site_scan, model, promise, operator, str(labels_csv or folder))
    except calibration.CalibrationError as exc:
        raise click.ClickException(f"{exc} Nothing was changed.") from exc
    conclude(profile, model)


def run_from_history(
    records: list[dict],
    outcomes: dict[int, dict],
    since: str | None,
    settings: tuple[Promise, str | None],
    model: ScanModel,
) -> None:
    """Calibrate on the confirmed scans of this model in the history (`records`, from `since`), with the same rules
    and report as a folder."""
    from edge_app.site import confirmed

    _check_can_save()
    scanned_with = calibration.ScannedWith(model.sha256, model.version, model.threshold)
    try:
        profile = confirmed.history_profile(records, outcomes, scanned_with, settings, since)
    except calibration.CalibrationError as exc:
        raise click.ClickException(f"{exc} Nothing was changed.") from exc
    conclude(profile, model)


def conclude(profile: site_profile.SiteProfile, model: ScanModel) -> None:
    """Print the comparison, then refuse (exit 1) or save the profile (exit 2 if it cannot be saved)."""
    click.echo(calibration_report.summary(profile))
    if profile.refused:
        click.echo(calibration_report.refusal(profile, _threshold_in_use(model)))
        sys.exit(1)
    try:
        path = site_profile.save_profile(profile)
    except OSError as exc:
        raise CannotSave(f"The site profile was NOT saved ({exc}); scans keep their threshold.") from exc
    click.echo(calibration_report.saved(profile, str(path)))


def _threshold_in_use(model: ScanModel) -> str:
    choice = resolve_threshold(model)
    if choice.source == SITE:
        return f"scans keep using the earlier site threshold {choice.value:.3f}."
    return f"scans keep using the model's own threshold {choice.value:.3f}."
