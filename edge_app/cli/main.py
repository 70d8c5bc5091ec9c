"""edge-scan: screen pediatric chest X-rays for pneumonia, offline.

A thin Click layer over plain functions (scanner, history, model_store,
selftest); each command imports what it needs when it runs, so starting the
program stays fast on a Raspberry Pi.

Exit codes: 0 every image scanned; 1 any image rejected or failed (the others
are still printed and recorded); 2 usage errors, or no usable model or history;
4 the disk is full (everything printed before is saved).
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import NoReturn

import click

from edge_app.language import LANGUAGES
from edge_app.threshold import check_threshold

SINCE_OPTION = click.option(
    "--since", help="Only scans from this local date or time on (YYYY-MM-DD or YYYY-MM-DDTHH:MM)."
)
FORMAT_OPTION = click.Choice(["table", "json", "csv"])


def model_option(help_text: str):
    """The --model and --allow-unverified-model options shared by every command that opens a model."""
    model = click.option(
        "--model", "model_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), help=help_text
    )
    allow = click.option(
        "--allow-unverified-model",
        "allow_unverified",
        is_flag=True,
        help="Use a --model that has no .sha256 file beside it; every result then says model_verified: false.",
    )
    return lambda command: model(allow(command))


class CannotStart(click.ClickException):
    """Nothing can be scanned (no usable model or history): exit 2, like a usage error."""

    exit_code = 2


DISK_FULL_EXIT = 4
"""So a script can tell a full disk (history.DiskFull, or any write) from a rejected image (1) or a usage error (2)."""


class Stop(click.ClickException):
    """Stop with a message and a chosen exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Checked(click.ParamType):
    """A float checked by `check(value)`, which raises ValueError with the reason: exit 2 with that reason."""

    name = "number"

    def __init__(self, check) -> None:
        self.check = check

    def convert(self, value, param, ctx) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number.", param, ctx)
        try:
            return self.check(number)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _check_target(value: float) -> float:
    from edge_app.site.calibration import check_target  # numpy is only imported when calibrating

    return check_target(value)


CONFIDENCE_HELP = "How sure the promise about the next children must be."


def _check_confidence(value: float) -> float:
    from edge_app.site.calibration import check_confidence

    return check_confidence(value)


def _checked_patient_id(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A patient ID as typed, without surrounding spaces; a blank one, or one holding control characters,
    is a mistake that would file the scans under no child or under a garbled name."""
    if value is None:
        return None
    if not value.strip():
        raise click.BadParameter("The patient ID is blank. Type the child's ID, or leave --patient-id out.")
    if any(not char.isprintable() for char in value):
        raise click.BadParameter("The patient ID holds control characters (a tab, a newline...). Type it again.")
    return value.strip()


def _load_model(
    model_path: Path | None, threshold: float | None = None, site: bool = False, allow_unverified: bool = False
):
    """The model to scan with, at the threshold `resolve_threshold` gives (`site`: the active site calibration
    may apply; a warning says when it exists but does not)."""
    from edge_app.inference.model_store import ModelError, load_model
    from edge_app.site.threshold_choice import resolve_threshold
    from edge_app.threshold import MODEL

    try:
        model = load_model(model_path, allow_unverified)
    except ModelError as exc:
        raise CannotStart(str(exc)) from exc
    if not model.verified:
        click.echo(
            f"Warning: {model.path}: {model.integrity}; its integrity cannot be checked. "
            "Every result is marked model_verified: false.",
            err=True,
        )
    if model.runtime_verified is False:
        click.echo(f"Warning: {model.runtime_check.detail}. Every result is marked runtime_verified: false.", err=True)
    choice = resolve_threshold(model, threshold, use_site=site)
    if choice.warning:
        click.echo(f"Warning: {choice.warning}", err=True)
    if model.metadata is None and choice.source == MODEL:
        click.echo(f"Warning: {model.path} carries no metadata; using threshold {model.threshold}.", err=True)
    return model.using(choice)


def _open_history():
    from edge_app.storage import history
    from edge_app.storage.paths import history_path

    try:
        return history.connect(history_path())
    except history.DiskFull as exc:
        raise Stop(str(exc), DISK_FULL_EXIT) from exc
    except history.HistoryError as exc:
        raise CannotStart(str(exc)) from exc


def _read_history(since: str | None, patient_id: str | None = None) -> tuple[list[dict], dict[int, dict]]:
    """Stored results from the local date or time `since` typed on the command line (all when None), and the
    confirmed outcome in force for each scan id that has one; both empty without a history."""
    from edge_app.storage import history, outcomes
    from edge_app.storage.paths import history_path

    try:
        since_utc = None if since is None else history.parse_since(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc
    if not history_path().exists():
        return [], {}
    try:
        db = history.open_for_reading(history_path())
    except history.HistoryError as exc:
        raise CannotStart(str(exc)) from exc
    try:
        return history.query(db, since=since_utc, patient_id=patient_id), outcomes.current(db)
    finally:
        db.close()


@click.group(
    epilog="\b\nExamples:\n"
    "  edge-scan app --open                      the health worker's app in the browser\n"
    "  edge-scan scan --samples                  scan the sample X-rays that come with PneumoScan\n"
    "  edge-scan scan xrays/ --patient-id P-0042 --operator Amina\n"
    "  edge-scan history --since 2025-03-01\n"
    "  edge-scan selftest                        check this device before a day of screening\n"
    "  edge-scan calibrate site_xrays/           choose this site's threshold (NORMAL/ and PNEUMONIA/ inside)\n"
    "  edge-scan stats                           referrals per week and warnings when they drift",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="pneumoscan")
def main() -> None:
    """Screen chest X-rays of children aged 1 to 5 for pneumonia, offline.

    A screening aid, not a diagnosis: a trained clinician confirms every result.
    Every scan is saved in a local history (see `edge-scan history`).
    """


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--samples", is_flag=True, help="Also scan the sample X-rays that come with PneumoScan.")
@model_option("A .tflite model to use instead of the built-in one.")
@click.option(
    "--threshold",
    type=Checked(check_threshold),
    help="Probability at or above which PNEUMONIA is suspected, between 0 and 1 "
    "[default: the site's calibrated threshold, else the model's own].",
)
@click.option("--format", "fmt", type=FORMAT_OPTION, default="table", show_default=True, help="Output format.")
@click.option(
    "--recursive/--no-recursive",
    default=True,
    show_default=True,
    help="Look for images in subfolders of the folders given.",
)
@click.option("--patient-id", callback=_checked_patient_id, help="Patient identifier to save with these scans.")
@click.option("--operator", help="Name of the person scanning, saved with these scans.")
@click.option("--no-history", is_flag=True, help="Do not save these scans in the history.")
@click.option(
    "--heatmap-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write a heatmap PNG per scanned image here: red where covering the image lowers the score most.",
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    help="Images read and decoded at once, in threads; results keep the input order [default: CPU count, at most 4].",
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write an offline HTML report (prints on A4, one child per page) with every result and heatmap; "
    "over 200 X-rays it is split into pages FILE, FILE-2, ... of 200 X-rays each.",
)
@click.option(
    "--language",
    type=click.Choice(list(LANGUAGES), case_sensitive=False),
    help="Language of the --report page: "
    + ", ".join(f"{code} ({name})" for code, name in LANGUAGES.items())
    + " [default: en]. The lines printed here stay in English.",
)
@click.option(
    "--photo",
    is_flag=True,
    help="The images are phone photos of X-ray films (on a lightbox, a window or a screen): the film is found, "
    'straightened and evenly lit before scanning. Needs the extra: pip install "pneumoscan[photo]".',
)
def scan(
    paths: tuple[Path, ...],
    samples: bool,
    model_path: Path | None,
    allow_unverified: bool,
    threshold: float | None,
    fmt: str,
    recursive: bool,
    patient_id: str | None,
    operator: str | None,
    no_history: bool,
    heatmap_dir: Path | None,
    jobs: int | None,
    report: Path | None,
    language: str | None,
    photo: bool,
) -> None:
    """Scan X-ray images (JPEG, PNG or DICOM files, or folders of them).

    Prints one result per image: PNEUMONIA suspected or NORMAL, a 0-100 score,
    and "uncertain - REFER" when the score is close to the threshold.
    DICOM needs the extra: pip install "pneumoscan[dicom]". Phone photos of films: --photo.

    Exit status: 0 every image scanned; 1 some image not scanned (see its reason), or a
    folder entry that may hold X-rays left out (listed); 2 nothing could start (usage, model
    or history); 4 the disk is full.
    """
    from edge_app.outputs.clinic_outputs import ClinicOutputs
    from edge_app.outputs.output import scan_writer
    from edge_app.scan.scanner import ScanContext
    from edge_app.storage import history
    from edge_app.storage.paths import history_path

    if language is not None and report is None:
        raise click.UsageError("--language sets the language of the --report page: add --report FILE.html.")
    files, from_folders, missed = _files_to_scan(paths, samples, recursive)
    model = _load_model(model_path, threshold, site=True, allow_unverified=allow_unverified)
    db = None if no_history else _open_history()
    record = None if db is None else (lambda result: history.record(db, result))
    writer = scan_writer(fmt, sys.stdout, model.threshold)
    outputs = ClinicOutputs(model, heatmap_dir) if heatmap_dir or report else None
    pages = _start_report(report, model, operator, language)
    writer.start()
    try:
        context = ScanContext(patient_id, operator)
        all_ok = _scan_and_print(files, model, context, record, writer, outputs, (jobs, photo), from_folders, pages)
    except (sqlite3.Error, OSError) as exc:
        _stop_for(exc, saved=db is not None)
    writer.finish()
    if pages is not None:
        _write_report(report, pages, saved=db is not None)
    if db is not None:
        db.close()
        if fmt == "table":
            click.echo(f"Saved in the scan history ({history_path()}).", err=True)
    sys.exit(0 if all_ok and not missed else 1)


def _files_to_scan(paths: tuple[Path, ...], samples: bool, recursive: bool) -> tuple[list[Path], bool, bool]:
    """The image files named, and those found in the folders named; whether any folder was named; and
    whether an entry that may hold X-rays was left out (said on stderr, with the other entries left out)."""
    from edge_app.package_data import SAMPLES_DIR
    from edge_app.scan.scanner import find_images

    inputs = list(paths) + ([SAMPLES_DIR] if samples else [])
    if not inputs:
        raise click.UsageError("Give at least one image file or folder to scan (or --samples).")
    files, skipped = find_images(inputs, recursive=recursive)
    _say_skipped(skipped)
    if not files:
        hint = "" if recursive else " (add --recursive to look in subfolders)"
        raise click.UsageError(f"No JPEG or PNG images found in {', '.join(map(str, inputs))}{hint}.")
    missed = any(entry.may_hold_xrays for entry in skipped)
    return files, any(path.is_dir() for path in inputs), missed


def _say_skipped(skipped: list) -> None:
    """Each entry that may hide X-rays on its own line; the files that are no images, counted."""
    from edge_app.outputs.output import printable
    from edge_app.scan.scanner import display_path

    others = [entry for entry in skipped if not entry.may_hold_xrays]
    for entry in skipped:
        if entry.may_hold_xrays:
            click.echo(f"Not scanned: {printable(display_path(entry.path))}: {entry.reason}.", err=True)
    if others:
        names = ", ".join(printable(display_path(entry.path)) for entry in others[:3])
        more = f" and {len(others) - 3} more" if len(others) > 3 else ""
        click.echo(f"Left out {len(others)} file(s) that are not X-ray images: {names}{more}.", err=True)


def _scan_and_print(
    files, model, context, record, writer, outputs, how: tuple[int | None, bool], show_progress: bool, pages=None
) -> bool:
    """Scan, record and print each file in input order (and add it to the report's `pages`, if any);
    True when every image was scanned. `how` is the number of reading threads, and whether the files are
    photos of films."""
    from edge_app.cli.progress import Progress
    from edge_app.scan.ordered_pool import default_jobs
    from edge_app.scan.scanner import OK, scan_prepared_files

    progress = Progress(len(files), enabled=show_progress)
    all_ok = True
    jobs, photos = how
    scans = scan_prepared_files(
        files, model, context, record, jobs or default_jobs(), keep_images=outputs is not None, photos=photos
    )
    try:
        for scanned in scans:
            result = scanned.result
            progress.clear()
            writer.write(result.as_dict())
            if outputs is not None:
                explained = outputs.add(scanned)
                if pages is not None:
                    pages.add(explained)
            progress.advance()
            all_ok &= result.status == OK
    finally:
        progress.clear()
    return all_ok


def _kept(saved: bool) -> str:
    """What became of the results printed so far, in words that are true with and without --no-history."""
    return "The results printed above are saved" if saved else "The results printed above were not saved (--no-history)"


def _stop_for(exc: sqlite3.Error | OSError, saved: bool) -> NoReturn:
    """A batch cannot go on: say why, and whether what was printed is saved."""
    from edge_app.storage import history
    from edge_app.storage.paths import history_path

    if history.is_disk_full(exc):
        raise Stop(
            f"Stopped: the disk is full ({exc}). {_kept(saved)}. Free some disk space, then scan the rest again.",
            DISK_FULL_EXIT,
        ) from exc
    if isinstance(exc, OSError):
        raise exc
    raise click.ClickException(
        f"Stopped: a result could not be saved in the scan history {history_path()} ({exc}). "
        "The results printed above are saved; scan the rest again."
    ) from exc


def _start_report(path: Path | None, model, operator: str | None, language: str | None):
    """The report being collected as the batch is scanned (None without --report)."""
    from edge_app.language import DEFAULT_LANGUAGE
    from edge_app.outputs.html_report import StreamedReport

    if path is None:
        return None
    try:
        return StreamedReport(path, model, operator, language or DEFAULT_LANGUAGE)
    except OSError as exc:
        raise CannotStart(f"The report {path} cannot be written ({exc.strerror or exc}); nothing was scanned.") from exc


def _write_report(path: Path, pages, saved: bool) -> None:
    try:
        written = pages.write()
    except OSError as exc:
        raise click.ClickException(
            f"The report {path} could not be written ({exc.strerror or exc}). {_kept(saved)}."
        ) from exc
    if len(written) == 1:
        click.echo(f"Report written to {path}.", err=True)
    else:
        click.echo(
            f"Report written as {len(written)} pages of at most {pages.part_scans} X-rays each: "
            f"{', '.join(str(page) for page in written)}.",
            err=True,
        )


@main.command(name="history")
@SINCE_OPTION
@click.option("--patient-id", help="Only scans of this patient.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice([*FORMAT_OPTION.choices, "fhir"]),
    default="table",
    show_default=True,
    help="Output format; fhir: one FHIR R4 Bundle (DiagnosticReport + Observation per scan, and an Observation "
    "for each confirmed outcome) for a FHIR server.",
)
def history_command(since: str | None, patient_id: str | None, fmt: str) -> None:
    """Show past scans, oldest first, with the confirmed outcome in force for each (edge-scan outcome)."""
    from edge_app.outputs.output import history_writer
    from edge_app.storage.outcomes import attach

    records = attach(*_read_history(since, patient_id))
    writer = history_writer(fmt, sys.stdout)
    writer.start()
    for record in records:
        writer.write(record)
    writer.finish()


@main.command()
@SINCE_OPTION
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option(
    "--prevalence",
    type=Checked(check_threshold),
    help="Share of screened children expected to have pneumonia [default: the share in the calibration images].",
)
def stats(since: str | None, fmt: str, prevalence: float | None) -> None:
    """Monitor this device: scans, rejections by reason, referrals per week, scores, measured sensitivity and
    specificity per month on scans with a confirmed outcome (edge-scan outcome), and warnings.

    Warns when recent referrals depart from what the site calibration predicts, when
    one kind of rejection climbs (the X-ray machine, the model or the children may have
    changed), when a month's sensitivity is shown to be under the calibration's target
    (its upper 95% bound is), and when too few outcomes are recorded to know.
    """
    from edge_app.outputs import stats_report
    from edge_app.site import profile_check, site_profile
    from edge_app.site.stats import summarize

    records, confirmed = _read_history(since)
    try:
        profile = profile_check.trusted_profile()
    except site_profile.ProfileError as exc:
        click.echo(f"Warning: {exc} Referrals are not compared with a calibration.", err=True)
        profile = None
    summary = summarize(records, profile, prevalence, confirmed)
    click.echo(json.dumps(summary, indent=2) if fmt == "json" else stats_report.format_table(summary))


@main.command()
@model_option("Describe this .tflite model instead of the built-in one.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def info(model_path: Path | None, allow_unverified: bool, fmt: str) -> None:
    """Show the model, its checks and metrics, and the runtime in use."""
    from edge_app.inference.runtime import RuntimeUnavailable, load_runtime
    from edge_app.outputs.info import describe, format_description

    try:
        model = _load_model(model_path, site=True, allow_unverified=allow_unverified)
    except CannotStart as cannot_start:
        try:
            runtime = load_runtime()
        except RuntimeUnavailable:
            raise cannot_start from None  # its message already says no runtime is installed
        click.echo(f"Runtime:      {runtime.name} {runtime.version}", err=True)
        raise
    description = describe(model)
    click.echo(json.dumps(description, indent=2) if fmt == "json" else format_description(description))


@main.command()
@click.argument("folder", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--labels",
    "labels_csv",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A CSV of path,label rows (NORMAL or PNEUMONIA) instead of a FOLDER.",
)
@click.option(
    "--target-sensitivity",
    type=Checked(_check_target),
    default=0.95,
    show_default=True,
    help="Share of the site's next children with pneumonia the new threshold must catch.",
)
@click.option("--confidence", type=Checked(_check_confidence), default=0.95, show_default=True, help=CONFIDENCE_HELP)
@click.option(
    "--next-children",
    type=click.IntRange(1, 10_000),
    default=100,
    show_default=True,
    help="The promise is about this many next children with pneumonia: at least the target share of them caught.",
)
@click.option("--operator", help="Name of the person calibrating, saved in the site profile.")
@click.option(
    "--from-history",
    is_flag=True,
    help="Calibrate on the scans of this model in the history that have a confirmed outcome (edge-scan outcome).",
)
@SINCE_OPTION
@model_option("Calibrate this .tflite model instead of the built-in one.")
@click.option("--show", is_flag=True, help="Show the threshold scans use now and the active site profile, and stop.")
@click.option("--reset", is_flag=True, help="Stop using the site profile: scans use the model's own threshold again.")
@click.option(
    "--photo",
    is_flag=True,
    help="The labelled images are phone photos of films, straightened as edge-scan scan --photo does: "
    "a site that screens photos calibrates on photos.",
)
def calibrate(
    folder: Path | None,
    labels_csv: Path | None,
    target_sensitivity: float,
    confidence: float,
    next_children: int,
    operator: str | None,
    from_history: bool,
    since: str | None,
    model_path: Path | None,
    allow_unverified: bool,
    show: bool,
    reset: bool,
    photo: bool,
) -> None:
    """Choose this site's threshold from its own labelled X-rays (FOLDER with NORMAL/ and PNEUMONIA/).

    Picks the highest threshold that, with the stated confidence, catches the target
    share of the site's next children with pneumonia (of the next 100, or --next-children;
    an order statistic of the children's scores, exact), compares it with the model's own, and saves it as the
    site profile that every scan then uses. Copies of one X-ray (exact, or nearly) count
    once. Refused (exit 1, nothing changed) when the different images or children are
    too few to back the promise. Exit 2 for usage errors, or a site profile that cannot be read.
    """
    from edge_app.cli import calibrate as calibrate_command
    from edge_app.site.promise import Promise

    if show:
        return calibrate_command.show(_load_model(model_path, allow_unverified=allow_unverified))
    if reset:
        return calibrate_command.reset()
    if from_history:
        if folder is not None or labels_csv is not None:
            raise click.UsageError("Give either --from-history or a FOLDER or --labels CSV, not both.")
        model = _load_model(model_path, allow_unverified=allow_unverified)
        settings = (Promise(target_sensitivity, confidence, next_children), operator)
        return calibrate_command.run_from_history(*_read_history(since), since, settings, model)
    if since is not None:
        raise click.UsageError("--since goes with --from-history.")
    if (folder is None) == (labels_csv is None):
        raise click.UsageError("Give either a FOLDER of NORMAL/ and PNEUMONIA/ images or --labels CSV.")
    model = _load_model(model_path, allow_unverified=allow_unverified)
    promise = Promise(target_sensitivity, confidence, next_children)
    calibrate_command.run(folder, labels_csv, promise, operator, model, photo)


@main.command()
@model_option("Check this .tflite model instead of the built-in one.")
def selftest(model_path: Path | None, allow_unverified: bool) -> None:
    """Check this device: model integrity and the sample X-rays.

    Exits with 0 only if the model file is intact and every sample X-ray gets its known result.
    """
    from edge_app.updates.selftest import run_selftest

    model = _load_model(model_path, allow_unverified=allow_unverified)
    report = run_selftest(model)
    click.echo(f"Model {model.path} (version {model.version}), runtime {model.runtime}")
    for check in report.checks:
        click.echo(f"  [{'PASS' if check.passed else 'FAIL'}] {check.name}: {check.detail}")
    if report.median_ms is not None:
        click.echo(f"Median time per sample image: {report.median_ms:.1f} ms")
    click.echo("Self-test passed." if report.passed else "Self-test FAILED: do not use this device for screening.")
    sys.exit(0 if report.passed else 1)


def _add_model_commands() -> None:
    from edge_app.cli.model import model_group
    from edge_app.cli.operators import operators_group
    from edge_app.cli.outcome import outcome_command

    main.add_command(outcome_command)
    main.add_command(model_group)
    main.add_command(operators_group)


_add_model_commands()
