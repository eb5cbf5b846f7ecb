"""``safer-streets reports import``: reports in bulk from a CSV file."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from safer_streets.db import session_scope
from safer_streets.intake import importing
from safer_streets.places import Places, load_ward_index
from safer_streets.web.context import services

COMMIT_EVERY_ROWS = 200

reports_group = AppGroup("reports", help="Reports in bulk.")


@reports_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--source",
    default="import",
    show_default=True,
    help="Channel recorded on each report, e.g. phone.",
)
@click.option(
    "--refused",
    "refused_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write the refused rows here, with an errors column, to correct and re-import.",
)
def import_reports(path: Path, source: str, refused_path: Path | None) -> None:
    """Import reports from a CSV file through the same validation, placing and routing.

    Each row is imported whole or not at all. Exits with status 1 when any row was refused.
    """
    try:
        importing.check_source(source)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--source") from None
    settings = services().settings
    factory = services().session_factory
    with path.open(newline="", encoding="utf-8-sig") as stream:
        try:
            rows = list(importing.read_rows(stream))
        except importing.ImportFileError as error:
            raise click.ClickException(f"{path}: {error}") from None
    summary = importing.ImportSummary()
    refused_rows = []
    with session_scope(factory) as session:
        wards = load_ward_index(session)
        places = Places.for_settings(settings)
        with click.progressbar(rows, label=f"Importing {path.name}", show_pos=True) as bar:
            for done, (number, row) in enumerate(bar, start=1):
                outcome = importing.import_row(
                    session, number, row, source=source, wards=wards, places=places
                )
                summary.add(outcome)
                if outcome.outcome == "refused":
                    refused_rows.append((row, outcome))
                if done % COMMIT_EVERY_ROWS == 0:
                    session.commit()
    click.echo(
        f"Accepted {summary.accepted} row{'s' if summary.accepted != 1 else ''} "
        f"({summary.routed} routed, {summary.needs_location} to locate); "
        f"skipped {summary.skipped} already imported; refused {len(summary.refused)}."
    )
    for outcome in summary.refused:
        for name, message in outcome.errors.items():
            click.echo(f"  row {outcome.row}: {name}: {message}")
    if refused_path is not None and refused_rows:
        with refused_path.open("w", newline="", encoding="utf-8") as out:
            importing.write_refused(out, refused_rows)
        click.echo(f"Refused rows written to {refused_path}.")
    if summary.refused:
        raise SystemExit(1)
