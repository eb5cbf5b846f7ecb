"""Recorded crime from data.police.uk street-level CSV files, for comparison with reports.

The files are the "street" CSVs of https://data.police.uk/data/ (any crime type, any force).
Locations are anonymised by the police to "map points" on or near a street, so many crimes
share a point, and points on a boundary street can fall a few metres outside the borough.

Importing is idempotent: a crime is keyed by its Crime ID; rows without one (anti-social
behaviour has none) are keyed by a digest of the row and its occurrence number within the
file, so importing the same file again adds nothing. Every row that is not imported is
counted, with its line number, in the summary: nothing is dropped silently.
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TextIO

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import literal_column, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from geo.projection import to_bng
from geo.wards import WardIndex
from safer_streets.models import PoliceCrime, Ward

COLUMNS = (
    "Crime ID",
    "Month",
    "Reported by",
    "Falls within",
    "Longitude",
    "Latitude",
    "Location",
    "LSOA code",
    "LSOA name",
    "Crime type",
    "Last outcome category",
    "Context",
)
# Police map points on a boundary street sit up to a few metres outside the borough
# (2.4 m at most in the 2022-2025 Lewisham burglaries): they are Lewisham crimes.
BOUNDARY_TOLERANCE_M = 25.0
MAX_LENGTHS = {
    "Crime ID": 64,
    "Reported by": 100,
    "Falls within": 100,
    "Location": 200,
    "LSOA code": 9,
    "LSOA name": 100,
    "Crime type": 80,
    "Last outcome category": 200,
}
BATCH_ROWS = 2000
LINES_LISTED = 10
_MONTH = re.compile(r"(\d{4})-(\d{2})")


class PoliceFileError(ValueError):
    """The file is not a data.police.uk street-level CSV (its header is wrong)."""


class CrimeRowError(ValueError):
    """One row cannot be read; ``column`` names the culprit."""

    def __init__(self, column: str, message: str) -> None:
        self.column = column
        super().__init__(f"{column}: {message}")


@dataclass(frozen=True)
class CrimeRow:
    """One row of a street-level file, parsed and checked."""

    crime_id: str | None
    month: date
    reported_by: str
    falls_within: str
    lon: float | None
    lat: float | None
    location_text: str
    lsoa_code: str
    lsoa_name: str
    crime_type: str
    last_outcome: str | None
    context: str | None


def _coordinate(row: Mapping[str, str], column: str, low: float, high: float) -> float:
    raw = row[column].strip()
    try:
        value = float(raw)
    except ValueError:
        raise CrimeRowError(column, f"must be a number, not {raw!r}") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise CrimeRowError(column, f"must be between {low:g} and {high:g}, not {raw!r}")
    return value


def parse_row(row: Mapping[str, str | None]) -> CrimeRow:
    """Check one CSV row (as read by ``csv.DictReader``) or raise ``CrimeRowError``."""
    values = {column: (row.get(column) or "").strip() for column in COLUMNS}
    for column, limit in MAX_LENGTHS.items():
        if len(values[column]) > limit:
            raise CrimeRowError(column, f"is longer than {limit} characters")
    match = _MONTH.fullmatch(values["Month"])
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise CrimeRowError("Month", f"must be a month like 2024-09, not {values['Month']!r}")
    if not values["Crime type"]:
        raise CrimeRowError("Crime type", "is empty")
    lon = lat = None
    if values["Longitude"] or values["Latitude"]:
        lon = _coordinate(values, "Longitude", -180.0, 180.0)
        lat = _coordinate(values, "Latitude", -90.0, 90.0)
    return CrimeRow(
        crime_id=values["Crime ID"] or None,
        month=date(int(match.group(1)), int(match.group(2)), 1),
        reported_by=values["Reported by"],
        falls_within=values["Falls within"],
        lon=lon,
        lat=lat,
        location_text=values["Location"],
        lsoa_code=values["LSOA code"],
        lsoa_name=values["LSOA name"],
        crime_type=values["Crime type"],
        last_outcome=values["Last outcome category"] or None,
        context=values["Context"] or None,
    )


def check_header(fieldnames: Iterable[str] | None) -> None:
    """Raise ``PoliceFileError`` unless every street-level column is present."""
    present = {name.strip().lstrip("\ufeff") for name in fieldnames or ()}
    missing = [column for column in COLUMNS if column not in present]
    if missing:
        raise PoliceFileError(
            "not a data.police.uk street-level file: missing column(s) " + ", ".join(missing)
        )


@dataclass
class ImportSummary:
    """What happened to every row of one file."""

    name: str
    rows: int = 0
    new: int = 0
    already_present: int = 0
    repeated_ids: list[int] = field(default_factory=list)
    on_boundary: int = 0
    no_coordinates: list[int] = field(default_factory=list)
    outside: list[int] = field(default_factory=list)
    invalid: list[tuple[int, str]] = field(default_factory=list)

    @property
    def imported(self) -> int:
        """Crimes stored from this file (new ones and ones already there)."""
        return self.new + self.already_present

    def report_lines(self) -> list[str]:
        """The summary in words, one line per outcome, with line numbers of skipped rows."""

        def listed(lines: list[int]) -> str:
            shown = ", ".join(str(n) for n in lines[:LINES_LISTED])
            more = len(lines) - LINES_LISTED
            return f" (lines {shown}{f' and {more:,} more' if more > 0 else ''})" if lines else ""

        out = [
            f"{self.name}: {self.rows:,} rows read",
            f"  {self.imported:,} crimes imported: {self.new:,} new, "
            f"{self.already_present:,} already present (outcome updated)",
        ]
        if self.repeated_ids:
            out.append(
                f"  {len(self.repeated_ids):,} rows repeat a Crime ID seen earlier in the file: "
                f"kept once, the later outcome wins{listed(self.repeated_ids)}"
            )
        if self.on_boundary:
            out.append(
                f"  {self.on_boundary:,} on the borough boundary (within "
                f"{BOUNDARY_TOLERANCE_M:.0f} m) placed in the nearest ward"
            )
        out.append(
            f"  {len(self.no_coordinates):,} without coordinates, not imported"
            + listed(self.no_coordinates)
        )
        out.append(f"  {len(self.outside):,} outside Lewisham, not imported" + listed(self.outside))
        out.append(
            f"  {len(self.invalid):,} invalid, not imported"
            + "".join(f"\n    line {n}: {message}" for n, message in self.invalid[:LINES_LISTED])
            + (
                f"\n    and {len(self.invalid) - LINES_LISTED:,} more"
                if len(self.invalid) > LINES_LISTED
                else ""
            )
        )
        return out


def _row_key(row: CrimeRow, occurrence: int) -> str:
    if row.crime_id:
        return row.crime_id
    digest = hashlib.sha256(
        "|".join(
            str(part)
            for part in (
                row.month,
                row.lon,
                row.lat,
                row.location_text,
                row.lsoa_code,
                row.crime_type,
                row.last_outcome,
                row.context,
                occurrence,
            )
        ).encode()
    ).hexdigest()
    return "row:" + digest[:60]


class CrimePlaces:
    """Decides which police map points are in the borough and which ward each is in."""

    def __init__(self, borough: BaseGeometry, wards: WardIndex) -> None:
        self.wards = wards

        def project(coords: np.ndarray) -> np.ndarray:
            x, y = to_bng(coords[:, 0], coords[:, 1])
            return np.column_stack([x, y])

        self._borough_bng = shapely.transform(borough, project)
        shapely.prepare(self._borough_bng)
        self._ward_geometries = np.array([w.geometry for w in wards.wards], dtype=object)

    def place(self, lons: np.ndarray, lats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each point: inside the borough (within the tolerance), and its ward's index."""
        x, y = to_bng(lons, lats)
        inside = shapely.dwithin(self._borough_bng, shapely.points(x, y), BOUNDARY_TOLERANCE_M)
        ward = self.wards.ward_indices(lons, lats)
        stray = np.flatnonzero(inside & (ward < 0))
        if stray.size:
            points = shapely.points(lons[stray], lats[stray])
            distances = shapely.distance(self._ward_geometries[:, None], points[None, :])
            ward[stray] = np.argmin(distances, axis=0)
        return np.asarray(inside, dtype=bool), ward


def import_street_csv(
    session: Session,
    stream: TextIO,
    *,
    name: str,
    places: CrimePlaces,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import one street-level CSV; re-importing the same rows changes only their outcomes."""
    reader = csv.DictReader(stream)
    check_header(reader.fieldnames)
    if reader.fieldnames:
        reader.fieldnames = [n.strip().lstrip("\ufeff") for n in reader.fieldnames]
    summary = ImportSummary(name=name)
    by_key: dict[str, tuple[int, CrimeRow]] = {}
    occurrences: Counter[str] = Counter()
    for row in reader:
        summary.rows += 1
        line = reader.line_num
        if progress and summary.rows % 50_000 == 0:
            progress(summary.rows)
        try:
            parsed = parse_row(row)
        except CrimeRowError as error:
            summary.invalid.append((line, str(error)))
            continue
        if parsed.lon is None:
            summary.no_coordinates.append(line)
            continue
        base = _row_key(parsed, 0)
        key = base if parsed.crime_id else _row_key(parsed, occurrences[base])
        occurrences[base] += 1
        if key in by_key:
            summary.repeated_ids.append(line)
        by_key[key] = (line, parsed)

    keys = list(by_key)
    rows = [by_key[k][1] for k in keys]
    if rows:
        lons = np.array([r.lon for r in rows], dtype=np.float64)
        lats = np.array([r.lat for r in rows], dtype=np.float64)
        inside, ward_index = places.place(lons, lats)
        covered = places.wards.ward_indices(lons, lats) >= 0
        summary.on_boundary = int((inside & ~covered).sum())
        summary.outside = sorted(by_key[k][0] for k, ok in zip(keys, inside, strict=True) if not ok)
        ward_ids = dict(session.execute(select(Ward.code, Ward.id).where(Ward.active)).all())
        values = [
            {
                "crime_key": key,
                "crime_id": row.crime_id,
                "month": row.month,
                "reported_by": row.reported_by,
                "falls_within": row.falls_within,
                "location": f"SRID=4326;POINT({row.lon!r} {row.lat!r})",
                "location_text": row.location_text,
                "lsoa_code": row.lsoa_code,
                "lsoa_name": row.lsoa_name,
                "crime_type": row.crime_type,
                "last_outcome": row.last_outcome,
                "context": row.context,
                "ward_id": ward_ids.get(places.wards.wards[w].code) if w >= 0 else None,
            }
            for key, row, ok, w in zip(keys, rows, inside, ward_index.tolist(), strict=True)
            if ok
        ]
        for start in range(0, len(values), BATCH_ROWS):
            statement = insert(PoliceCrime).values(values[start : start + BATCH_ROWS])
            statement = statement.on_conflict_do_update(
                index_elements=[PoliceCrime.crime_key],
                set_={
                    "last_outcome": statement.excluded.last_outcome,
                    "context": statement.excluded.context,
                },
            ).returning(literal_column("xmax = 0"))
            # xmax is 0 only on a freshly inserted row version: it tells new from updated.
            fresh = session.scalars(statement).all()
            summary.new += sum(1 for was_new in fresh if was_new)
            summary.already_present += sum(1 for was_new in fresh if not was_new)
        session.flush()
    summary.repeated_ids.sort()
    return summary
