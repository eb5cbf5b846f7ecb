"""Bulk import of reports from a CSV file (a phone line's log, an older system's export).

Each row goes through the same validation (``parse_submission``), the same storing
(``submit_report``) and the same placing and routing (``processing.process_reports``) as
a report made on the web, all inside one savepoint: a row is imported whole or not at all.
A ``source_id`` column makes the import idempotent: a row whose id was imported before is
skipped, and the same id with different details is refused rather than overwritten.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy.orm import Session

from geo.suntimes import LONDON
from geo.wards import WardIndex
from safer_streets.errors import Conflict, InvalidInput
from safer_streets.intake.submission import parse_submission, submit_report
from safer_streets.models import ReportStatus
from safer_streets.places import Places
from safer_streets.routing import processing

MAX_SOURCE_ID_CHARS = 150
SOURCE_RE = re.compile(r"[a-z][a-z0-9-]{0,19}")
REASON_SEPARATOR = ";"

# The CSV columns, in the order the README documents them.
COLUMNS: dict[str, str] = {
    "source_id": "the row's id in the source system; a row already imported is skipped",
    "category": "category slug, e.g. drug-dealing (required)",
    "description": "what is wrong, up to 4,000 characters (required)",
    "lat": "latitude (WGS84), with lon",
    "lon": "longitude (WGS84), with lat",
    "location_text": "a postcode, street or place, when there is no lat/lon",
    "occurred_at": "when it happened, ISO 8601; without a zone it is London time",
    "reasons": "reasons within the category, separated by ';' (e.g. badly-lit;isolated)",
    "anonymous": "true or false (default true)",
    "contact_email": "where to send updates; never shown publicly",
}
REQUIRED_COLUMNS = ("category", "description")


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (its header is wrong); nothing was read."""


@dataclass(frozen=True)
class RowOutcome:
    """What happened to one row: ``accepted``, ``skipped`` (already imported) or ``refused``."""

    row: int
    outcome: str
    reference: str | None = None
    status: str | None = None
    owner: str | None = None
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class ImportSummary:
    """Counts and the refused rows' reasons, for the end of an import."""

    accepted: int = 0
    routed: int = 0
    needs_location: int = 0
    skipped: int = 0
    refused: list[RowOutcome] = field(default_factory=list)

    def add(self, outcome: RowOutcome) -> None:
        """Count one row's outcome."""
        if outcome.outcome == "refused":
            self.refused.append(outcome)
        elif outcome.outcome == "skipped":
            self.skipped += 1
        else:
            self.accepted += 1
            if outcome.status == ReportStatus.NEEDS_LOCATION.value:
                self.needs_location += 1
            else:
                self.routed += 1


def read_rows(stream: TextIO) -> Iterator[tuple[int, dict[str, str]]]:
    """The data rows with their spreadsheet row numbers (the header is row 1).

    Raises ``ImportFileError`` for a missing header, an unknown or missing column.
    """
    reader = csv.DictReader(stream)
    header = [name.strip() for name in reader.fieldnames or []]
    if not header:
        raise ImportFileError("the file is empty: the first row must name the columns")
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise ImportFileError(
            f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"the columns are: {', '.join(COLUMNS)}"
        )
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if "lat" not in header and "location_text" not in header:
        missing.append("lat/lon or location_text")
    if missing:
        raise ImportFileError(
            f"missing column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}"
        )
    reader.fieldnames = header
    for number, row in enumerate(reader, start=2):
        cells = {name: value or "" for name, value in row.items() if name is not None}
        if None in row:
            cells[""] = "extra"  # more cells than the header: ``import_row`` refuses the row
        yield number, cells


def _submission_data(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row as submission fields: blank cells are absent, as on the web form."""
    data: dict[str, Any] = {
        name: value.strip()
        for name, value in row.items()
        if name in COLUMNS and name != "source_id" and value.strip()
    }
    if "reasons" in data:
        data["reasons"] = [r.strip() for r in data["reasons"].split(REASON_SEPARATOR) if r.strip()]
    occurred = data.get("occurred_at")
    if occurred:
        try:
            moment = datetime.fromisoformat(occurred)
        except ValueError:
            pass  # validation names the field
        else:
            # Older systems and phone logs record local time without a zone.
            data["occurred_at"] = moment if moment.tzinfo else moment.replace(tzinfo=LONDON)
    return data


def import_row(
    session: Session,
    number: int,
    row: dict[str, str],
    *,
    source: str,
    wards: WardIndex,
    places: Places,
) -> RowOutcome:
    """Validate, store, place and route one row, or write nothing and say why."""
    if "" in row:
        return RowOutcome(number, "refused", errors={"row": "has more cells than the header"})
    source_id = row.get("source_id", "").strip()
    if len(source_id) > MAX_SOURCE_ID_CHARS:
        errors = {"source_id": f"must be at most {MAX_SOURCE_ID_CHARS} characters"}
        return RowOutcome(number, "refused", errors=errors)
    key = f"import:{source}:{source_id}" if source_id else None
    try:
        with session.begin_nested():
            submission = parse_submission(_submission_data(row))
            report, created = submit_report(
                session, submission, places=places, source=source, idempotency_key=key
            )
            if created:
                processing.process_reports(session, [report.id], wards, places)
    except InvalidInput as invalid:
        return RowOutcome(number, "refused", errors=invalid.field_errors)
    except Conflict:
        return RowOutcome(
            number,
            "refused",
            errors={"source_id": f"{source_id!r} was imported before with different details"},
        )
    if not created:
        return RowOutcome(number, "skipped", reference=report.reference)
    session.refresh(report)
    return RowOutcome(
        number,
        "accepted",
        reference=report.reference,
        status=report.status.value,
        owner=report.owner.slug if report.owner else None,
    )


def check_source(source: str) -> str:
    """The channel name stored on imported reports, e.g. ``phone``; ``ValueError`` if bad."""
    if not SOURCE_RE.fullmatch(source):
        raise ValueError("use lower-case letters, digits and hyphens, at most 20 (e.g. phone)")
    return source


def write_refused(stream: TextIO, rows: Iterable[tuple[dict[str, str], RowOutcome]]) -> None:
    """The refused rows as a CSV to correct and import again, with an ``errors`` column."""
    writer = csv.DictWriter(stream, fieldnames=["row", *COLUMNS, "errors"], extrasaction="ignore")
    writer.writeheader()
    for row, outcome in rows:
        messages = "; ".join(f"{name}: {message}" for name, message in outcome.errors.items())
        writer.writerow({**row, "row": outcome.row, "errors": messages})
