"""`edge-scan outcome`: record what a clinician confirmed for a scan, one on the command line or many from a CSV."""

from __future__ import annotations

from pathlib import Path

import click

from edge_app.files import read_text_file
from edge_app.storage.outcomes import METHODS, OUTCOMES

MAX_CSV_BYTES = 16 * 2**20
"""A month of outcomes for a busy clinic is well under 1 MB; a larger file is not an outcomes CSV."""


class BadOutcome(click.ClickException):
    """An outcome that names no scan, a rejected scan, or conflicts: exit 2, nothing written."""

    exit_code = 2


def _write(fields: list[tuple[str, dict]] | None, csv_path: Path | None) -> list:
    from edge_app.site import outcome_input
    from edge_app.storage import history, outcomes
    from edge_app.storage.paths import history_path

    try:
        if csv_path is not None:
            try:
                text = read_text_file(csv_path, MAX_CSV_BYTES, "a CSV file of outcomes")
            except (OSError, ValueError) as exc:
                raise outcome_input.OutcomeError(
                    f"{csv_path}: cannot be read ({exc}).", outcome_input.CSV_UNREADABLE
                ) from exc
            wanted = outcome_input.requests_from_csv(text, str(csv_path))
        else:
            wanted = [outcome_input.request(where, row) for where, row in fields]
        if not history_path().exists():
            raise outcome_input.OutcomeError(
                "There is no scan history on this device yet: scan first.", outcome_input.NO_HISTORY
            )
        db = history.connect(history_path())
        try:
            scans = {record["id"]: record for record in history.query(db)}
            found = outcome_input.resolve(wanted, scans)
            outcomes.record_all(db, found)
            return found
        finally:
            db.close()
    except (outcome_input.OutcomeError, history.HistoryError) as exc:
        raise BadOutcome(f"{exc} Nothing was recorded.") from exc


@click.command(name="outcome")
@click.option("--scan-id", help="The scan's id (edge-scan history shows it).")
@click.option("--patient-id", help="Or the child's patient id, with --scan-date.")
@click.option("--scan-date", help="The day the child was scanned (YYYY-MM-DD), with --patient-id.")
@click.option("--outcome", "result", type=click.Choice(OUTCOMES), help="What the clinician confirmed.")
@click.option("--by", "confirmed_by", help="Who confirmed it.")
@click.option("--on", "confirmed_on", help="When it was confirmed (YYYY-MM-DD)  [default: today]")
@click.option("--method", type=click.Choice(METHODS), help="X-ray read by a clinician, clinical diagnosis, follow-up.")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Many outcomes: a CSV with the columns scan_id,patient_id,scan_date,outcome,confirmed_by,confirmed_on,method.",
)
def outcome_command(
    scan_id: str | None,
    patient_id: str | None,
    scan_date: str | None,
    result: str | None,
    confirmed_by: str | None,
    confirmed_on: str | None,
    method: str | None,
    csv_path: Path | None,
) -> None:
    """Record a clinician's confirmed outcome for a scan (or many, with --csv).

    Each confirmation is added, never edited: a later one for the same scan supersedes it and both stay on
    record. Exit 2, with nothing recorded, when a row names no scan, a scan that was not scanned, or gives one
    scan two different outcomes.
    """
    single = (scan_id, patient_id, scan_date, result, confirmed_by, confirmed_on, method)
    if csv_path is not None and any(value is not None for value in single):
        raise click.UsageError("Give either --csv or the options of one outcome, not both.")
    if csv_path is None and (result is None or method is None or confirmed_by is None):
        raise click.UsageError("Give --outcome, --method and --by (and --scan-id, or --patient-id with --scan-date).")
    from edge_app.site.outcome_input import CSV_COLUMNS

    row = dict(zip(CSV_COLUMNS, single, strict=True))
    recorded = _write(None if csv_path else [("The outcome", row)], csv_path)
    for item in recorded:
        click.echo(
            f"Scan {item.scan_id}: {item.outcome} (confirmed by {item.confirmed_by} on {item.confirmed_on}, "
            f"{item.method})."
        )
    click.echo(f"Recorded {len(recorded)} outcome(s).")
