"""Reading data.police.uk street-level rows: every row is either parsed or refused by name."""

from __future__ import annotations

import csv
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo import DATA_DIR
from safer_streets.data.police import (
    COLUMNS,
    CrimeRowError,
    PoliceFileError,
    check_header,
    parse_row,
)

SAMPLE = DATA_DIR / "lewisham_burglary_2022-03_to_2025-02.csv"


def row(**changes: str) -> dict[str, str]:
    with SAMPLE.open(newline="") as f:
        first = next(csv.DictReader(f))
    return {**first, **changes}


def test_a_real_row_is_read_exactly():
    parsed = parse_row(row())
    assert parsed.crime_id.startswith("a240904988c6")
    assert parsed.month == date(2022, 3, 1)
    assert (parsed.lon, parsed.lat) == (-0.035625, 51.490037)
    assert parsed.location_text == "On or near Windlass Place"
    assert parsed.lsoa_code == "E01003244"
    assert parsed.crime_type == "Burglary"
    assert parsed.context is None


def test_rows_without_crime_id_or_coordinates_are_still_rows():
    parsed = parse_row(row(**{"Crime ID": "", "Longitude": "", "Latitude": ""}))
    assert parsed.crime_id is None
    assert parsed.lon is None and parsed.lat is None


@pytest.mark.parametrize(
    ("changes", "column"),
    [
        ({"Month": "2022-13"}, "Month"),
        ({"Month": "March 2022"}, "Month"),
        ({"Longitude": "west"}, "Longitude"),
        ({"Longitude": ""}, "Longitude"),
        ({"Latitude": "95"}, "Latitude"),
        ({"Latitude": "nan"}, "Latitude"),
        ({"Crime type": ""}, "Crime type"),
        ({"LSOA code": "E0100324400"}, "LSOA code"),
    ],
)
def test_bad_values_are_refused_naming_the_column(changes, column):
    with pytest.raises(CrimeRowError) as refused:
        parse_row(row(**changes))
    assert refused.value.column == column
    assert str(refused.value).startswith(column)


@given(st.fixed_dictionaries({c: st.text(max_size=30) for c in COLUMNS}))
def test_any_row_is_parsed_or_refused_by_column(values):
    try:
        parsed = parse_row(values)
    except CrimeRowError as refused:
        assert refused.column in COLUMNS
    else:
        assert parsed.crime_type
        assert (parsed.lon is None) == (parsed.lat is None)


def test_a_file_without_the_street_level_columns_is_refused():
    check_header(COLUMNS)
    check_header(["\ufeffCrime ID", *COLUMNS[1:]])
    with pytest.raises(PoliceFileError, match="Longitude, Latitude"):
        check_header([c for c in COLUMNS if c not in ("Longitude", "Latitude")])
