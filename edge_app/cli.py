"""edge-scan: screen pediatric chest X-rays for pneumonia, offline.

A thin Click layer over plain functions (scanner, history, model_store,
selftest); each command imports what it needs when it runs, so starting the
program stays fast on a Raspberry Pi.

Exit codes: 0 every image scanned; 1 any image rejected or failed (the others
are still printed and recorded); 2 usage errors, or no usable model.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import click

FORMAT_OPTION = click.Choice(["table", "json", "csv"])


def model_option(help_text: str):
    """The --model option shared by every command that opens a model."""
    return click.option(
        "--model", "model_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), help=help_text
    )


class CannotStart(click.ClickException):
    """Nothing can be scanned (no usable model or history): exit 2, like a usage error."""

    exit_code = 2


def _load_model(model_path: Path | None, threshold: float | None = None):
    from edge_app.model_store import ModelError, load_model

    try:
        model = load_model(model_path, threshold)
    except ModelError as exc:
        raise CannotStart(str(exc)) from exc
    if model.checksum_file is None:
        click.echo(f"Warning: {model.path}: {model.integrity}; its integrity cannot be checked.", err=True)
    if model.metadata is None and threshold is None:
        click.echo(f"Warning: {model.path} carries no metadata; using threshold {model.threshold}.", err=True)
    return model


def _open_history():
    from edge_app import history
    from edge_app.paths import history_path

    try:
        return history.connect(history_path())
    except history.HistoryError as exc:
        raise CannotStart(str(exc)) from exc


@click.group(
    epilog="\b\nExamples:\n"
    "  edge-scan scan --samples                  scan the sample X-rays that come with PneumoScan\n"
    "  edge-scan scan xrays/ --patient-id P-0042 --operator Amina\n"
    "  edge-scan history --since 2025-03-01\n"
    "  edge-scan selftest                        check this device before a day of screening",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="pneumoscan")
def main() -> None:
    """Screen chest X-rays of children aged 1 to 5 for pneumonia, offline.

    A screening aid, not a diagnosis: a trained clinician confirms every result.
    Every scan is saved in a local history (see `edge-scan history`).
    """


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--samples", is_flag=True, help="Also scan the sample X-rays that come with PneumoScan.")
@model_option("A .tflite model to use instead of the built-in one.")
@click.option(
    "--threshold",
    type=click.FloatRange(0.0, 1.0),
    help="Probability at or above which PNEUMONIA is suspected [default: the model's own].",
)
@click.option("--format", "fmt", type=FORMAT_OPTION, default="table", show_default=True, help="Output format.")
@click.option(
    "--recursive/--no-recursive",
    default=True,
    show_default=True,
    help="Look for images in subfolders of the folders given.",
)
@click.option("--patient-id", help="Patient identifier to save with these scans.")
@click.option("--operator", help="Name of the person scanning, saved with these scans.")
@click.option("--no-history", is_flag=True, help="Do not save these scans in the history.")
def scan(
    paths: tuple[Path, ...],
    samples: bool,
    model_path: Path | None,
    threshold: float | None,
    fmt: str,
    recursive: bool,
    patient_id: str | None,
    operator: str | None,
    no_history: bool,
) -> None:
    """Scan X-ray images (JPEG, PNG or DICOM files, or folders of them).

    Prints one result per image: PNEUMONIA suspected or NORMAL, a 0-100 score,
    and "uncertain - REFER" when the score is close to the threshold.
    DICOM needs the extra: pip install "pneumoscan[dicom]".
    """
    from edge_app import history
    from edge_app.output import scan_writer
    from edge_app.paths import SAMPLES_DIR, history_path
    from edge_app.progress import Progress
    from edge_app.scanner import OK, ScanContext, collect_images, scan_files

    inputs = list(paths) + ([SAMPLES_DIR] if samples else [])
    if not inputs:
        raise click.UsageError("Give at least one image file or folder to scan (or --samples).")
    files = collect_images(inputs, recursive=recursive)
    if not files:
        hint = "" if recursive else " (add --recursive to look in subfolders)"
        raise click.UsageError(f"No JPEG or PNG images found in {', '.join(map(str, inputs))}{hint}.")
    model = _load_model(model_path, threshold)
    db = None if no_history else _open_history()
    record = None if db is None else (lambda result: history.record(db, result))
    writer = scan_writer(fmt, sys.stdout, model.threshold)
    progress = Progress(len(files), enabled=any(path.is_dir() for path in inputs))
    all_ok = True
    writer.start()
    try:
        for result in scan_files(files, model, ScanContext(patient_id, operator), record):
            progress.clear()
            writer.write(result.as_dict())
            progress.advance()
            all_ok &= result.status == OK
    except sqlite3.Error as exc:
        progress.clear()
        raise click.ClickException(
            f"Stopped: a result could not be saved in the scan history {history_path()} ({exc}). "
            "The results printed above are saved. Free some disk space, then scan the rest again."
        ) from exc
    progress.clear()
    writer.finish()
    if db is not None:
        db.close()
        if fmt == "table":
            click.echo(f"Saved in the scan history ({history_path()}).", err=True)
    sys.exit(0 if all_ok else 1)


@main.command(name="history")
@click.option("--since", help="Only scans from this local date or time on (YYYY-MM-DD or YYYY-MM-DDTHH:MM).")
@click.option("--patient-id", help="Only scans of this patient.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice([*FORMAT_OPTION.choices, "fhir"]),
    default="table",
    show_default=True,
    help="Output format; fhir: one FHIR R4 Bundle (DiagnosticReport + Observation per scan) for a FHIR server.",
)
def history_command(since: str | None, patient_id: str | None, fmt: str) -> None:
    """Show past scans, oldest first."""
    from edge_app import history
    from edge_app.output import history_writer
    from edge_app.paths import history_path

    try:
        since_utc = None if since is None else history.parse_since(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc
    records = []
    if history_path().exists():
        db = _open_history()
        records = history.query(db, since=since_utc, patient_id=patient_id)
        db.close()
    writer = history_writer(fmt, sys.stdout)
    writer.start()
    for record in records:
        writer.write(record)
    writer.finish()


@main.command()
@model_option("Describe this .tflite model instead of the built-in one.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def info(model_path: Path | None, fmt: str) -> None:
    """Show the model, its checks and metrics, and the runtime in use."""
    from edge_app.info import describe, format_description
    from edge_app.runtime import load_runtime

    try:
        model = _load_model(model_path)
    except CannotStart:
        runtime = load_runtime()
        click.echo(f"Runtime:      {runtime.name} {runtime.version}", err=True)
        raise
    description = describe(model)
    click.echo(json.dumps(description, indent=2) if fmt == "json" else format_description(description))


@main.command()
@model_option("Check this .tflite model instead of the built-in one.")
def selftest(model_path: Path | None) -> None:
    """Check this device: model integrity and the sample X-rays.

    Exits with 0 only if the model file is intact and every sample X-ray gets its known result.
    """
    from edge_app.selftest import run_selftest

    model = _load_model(model_path)
    report = run_selftest(model)
    click.echo(f"Model {model.path} (version {model.version}), runtime {model.runtime}")
    for check in report.checks:
        click.echo(f"  [{'PASS' if check.passed else 'FAIL'}] {check.name}: {check.detail}")
    if report.median_ms is not None:
        click.echo(f"Median time per sample image: {report.median_ms:.1f} ms")
    click.echo("Self-test passed." if report.passed else "Self-test FAILED: do not use this device for screening.")
    sys.exit(0 if report.passed else 1)


def _add_model_commands() -> None:
    from edge_app.model_cli import model_group

    main.add_command(model_group)


_add_model_commands()
