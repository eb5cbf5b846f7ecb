"""Board exports: report rows as CSV or GeoJSON and aggregate rows as CSV, guarded against
formula injection."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    func,
    select,
)
from sqlalchemy.orm import Session, contains_eager, joinedload

from safer_streets.board.audience import audience_for, require_board
from safer_streets.board.filters import NOT_PLACED, BoardFilters
from safer_streets.board.query import event_time, filter_conditions, local_time
from safer_streets.board.suppression import shown
from safer_streets.casework.access import (
    audience_among_visible,
    disclosures_among_visible,
    visibility,
)
from safer_streets.casework.export import csv_chunks, guard_cell
from safer_streets.disclosure import access_log
from safer_streets.disclosure.policy import Disclosure, Location, disclose
from safer_streets.models import (
    Category,
    Report,
    User,
    Ward,
)

CSV_EXPORT = "board CSV export"
GEOJSON_EXPORT = "board map and GeoJSON export"
REPORT_EXPORT_COLUMNS = (
    "reference",
    "category",
    "category_name",
    "status",
    "ward_code",
    "ward_name",
    "occurred_at",
    "reported_at",
    "after_dark",
    "longitude",
    "latitude",
    "street",
    "source",
)


def export_reports(
    session: Session,
    user: User | None,
    filters: BoardFilters,
    *,
    surface: str,
    address: str | None,
    batch: int = 5000,
) -> Iterator[dict[str, Any]]:
    """The filtered reports row by row (board only), each as the disclosure policy lets the
    viewer see it: no descriptions or contact details, and sensitive reports only for those
    allowed case detail.

    Each sensitive report the rows will hold is written to the access log now (commit
    before reading the rows); the rows are read as they are iterated.
    """
    viewer = require_board(user)
    conditions = [*filter_conditions(session, filters), visibility(viewer)]
    sensitive = session.scalars(
        select(Report)
        .join(Category, Category.id == Report.category_id)
        .options(contains_eager(Report.category))
        .where(*conditions, Category.sensitive)
    )
    access_log.record_views(
        session,
        disclosures_among_visible(viewer, sensitive),
        viewer=viewer,
        surface=surface,
        address=address,
    )
    query = (
        select(Report)
        .join(Category, Category.id == Report.category_id)
        .options(contains_eager(Report.category), joinedload(Report.ward))
        .where(*conditions)
        .order_by(Report.id)
        .execution_options(yield_per=batch)
    )

    def rows() -> Iterator[dict[str, Any]]:
        for report in session.scalars(query):
            shown = disclose(report, audience_among_visible(viewer, report))
            if (row := _row(shown)) is not None:
                yield row

    return rows()


def _row(shown: Disclosure) -> dict[str, Any] | None:
    place = shown.place
    if place is None or place.lon is None or place.lat is None:
        return None
    report = shown.report
    occurred, created = shown.occurred, shown.created
    return {
        "reference": report.reference,
        "category": report.category.slug,
        "category_name": report.category.name,
        "status": str(report.status),
        "ward_code": report.ward.code if report.ward else None,
        "ward_name": report.ward.name if report.ward else None,
        "occurred_at": occurred.value if occurred else None,
        "reported_at": created.value if created else None,
        "after_dark": report.after_dark,
        "longitude": round(place.lon, 6),
        "latitude": round(place.lat, 6),
        "street": report.street if place.precision is Location.EXACT else None,
        "source": report.source,
    }


def guarded_csv(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """Rows as CSV chunks in the order of ``columns``; text a spreadsheet could run is
    guarded."""
    return csv_chunks(
        columns,
        (
            [guard_cell(v) if isinstance(v, str) else v for v in (row.get(c, "") for c in columns)]
            for row in rows
        ),
    )


def reports_csv(
    session: Session, user: User | None, filters: BoardFilters, *, address: str | None
) -> Iterator[str]:
    """The filtered reports as CSV chunks (board only); refused before any row is read."""
    rows = export_reports(session, user, filters, surface=CSV_EXPORT, address=address)
    return guarded_csv(REPORT_EXPORT_COLUMNS, rows)


def reports_geojson(
    session: Session, user: User | None, filters: BoardFilters, *, address: str | None
) -> Iterator[str]:
    """The filtered reports as GeoJSON text in chunks, one point feature each (board only);
    refused before any row is read. The board map's report points are drawn from it."""
    rows = export_reports(session, user, filters, surface=GEOJSON_EXPORT, address=address)

    def chunks() -> Iterator[str]:
        yield '{"type":"FeatureCollection","features":['
        for index, row in enumerate(rows):
            properties = {
                k: (v.isoformat() if isinstance(v, datetime) else v)
                for k, v in row.items()
                if k not in ("longitude", "latitude")
            }
            properties["label"] = f"{row['reference']} · {row['category_name']}"
            feature = {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [row["longitude"], row["latitude"]]},
                "properties": properties,
            }
            yield ("," if index else "") + json.dumps(feature, separators=(",", ":"))
        yield "]}"

    return chunks()


AGGREGATE_COLUMNS = ("month", "ward_code", "ward_name", "category", "count", "withheld")


def aggregates_csv(
    session: Session, user: User | None, filters: BoardFilters, *, min_count: int
) -> str:
    """``aggregate_rows`` as CSV text."""
    rows = aggregate_rows(session, user, filters, min_count=min_count)
    return "".join(guarded_csv(AGGREGATE_COLUMNS, rows))


def aggregate_rows(
    session: Session, user: User | None, filters: BoardFilters, *, min_count: int
) -> list[dict[str, Any]]:
    """Reports per ward, category and month for any board viewer, with small sensitive
    counts withheld outside the board (empty ``count`` and ``withheld`` set)."""
    audience = audience_for(user)
    local_month = func.to_char(func.date_trunc("month", local_time(event_time())), "YYYY-MM")
    rows = session.execute(
        select(
            func.coalesce(Ward.code, ""),
            func.coalesce(Ward.name, NOT_PLACED),
            Category.slug,
            Category.sensitive,
            local_month,
            func.count(),
        )
        .join(Category, Category.id == Report.category_id)
        .outerjoin(Ward, Ward.id == Report.ward_id)
        .where(*filter_conditions(session, filters))
        .group_by(Ward.code, Ward.name, Category.slug, Category.sensitive, local_month)
        .order_by(local_month, Ward.name, Category.slug)
    ).all()
    out = []
    for ward_code, ward_name, category, sensitive, month, count in rows:
        value = shown(
            0 if sensitive else count,
            count if sensitive else 0,
            audience=audience,
            min_count=min_count,
        )
        out.append(
            {
                "month": month,
                "ward_code": ward_code,
                "ward_name": ward_name,
                "category": category,
                "count": value.value,
                "withheld": value.value is None,
            }
        )
    return out
