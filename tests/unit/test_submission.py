"""Validation of what residents and clients send, before anything is stored."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo.coordinates import PointRejected, check_point
from geo.wards import Borough
from safer_streets.errors import InvalidInput
from safer_streets.reports import (
    MAX_DESCRIPTION_CHARS,
    REFERENCE_ALPHABET,
    new_reference,
    parse_submission,
)

BOROUGH = Borough.from_geojson()
VALID = {"category": "drug-dealing", "lat": 51.4452, "lon": -0.0207, "description": "Dealing"}


def test_a_valid_submission_parses():
    submission = parse_submission(VALID)
    assert submission.lat == 51.4452
    assert submission.anonymous is True


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"lat": "north"}, "lat", "must be a number"),
        ({"lat": None}, "lat", "is required when lon is given"),
        ({"lon": None}, "lon", "is required when lat is given"),
        ({"reasons": "badly-lit"}, "reasons", "list"),
        ({"lon": float("nan")}, "lon", "must be a finite number"),
        ({"description": "   "}, "description", "must not be empty"),
        ({"description": "x" * (MAX_DESCRIPTION_CHARS + 1)}, "description", "at most 4000"),
        ({"contact_email": "not-an-email"}, "contact_email", "valid email"),
        ({"occurred_at": "yesterday"}, "occurred_at", "ISO 8601"),
        ({"occurred_at": "2026-01-01T10:00:00"}, "occurred_at", "time zone"),
        ({"occurred_at": "2999-01-01T10:00:00Z"}, "occurred_at", "future"),
        ({"surprise": 1}, "surprise", "not a recognised field"),
    ],
)
def test_each_bad_field_is_named_with_a_reason(change, field, message):
    with pytest.raises(InvalidInput) as raised:
        parse_submission({**VALID, **change})
    assert message in raised.value.field_errors[field]


def test_missing_fields_are_all_named_at_once():
    with pytest.raises(InvalidInput) as raised:
        parse_submission({})
    assert set(raised.value.field_errors) == {"category", "description", "location"}
    assert "postcode, street or place" in raised.value.field_errors["location"]


def test_text_alone_is_a_location_the_worker_can_place():
    submission = parse_submission(
        {"category": "fly-tipping", "location_text": "Rushey Green", "description": "Sofa"}
    )
    assert submission.lat is None
    assert submission.location_text == "Rushey Green"


@given(st.dictionaries(st.text(max_size=20), st.one_of(st.none(), st.text(), st.floats())))
def test_any_mapping_either_parses_or_names_its_bad_fields(data):
    try:
        parse_submission(data)
    except InvalidInput as invalid:
        assert invalid.field_errors
        assert all(isinstance(m, str) and m for m in invalid.field_errors.values())


@given(st.one_of(st.lists(st.integers()), st.text(), st.integers(), st.none()))
def test_a_body_that_is_not_an_object_is_refused(data):
    with pytest.raises(InvalidInput, match="Please check: body"):
        parse_submission(data)


@pytest.mark.parametrize(
    ("lat", "lon", "field", "message"),
    [
        (0.0, 0.0, "location", "not a real location"),
        (-0.0207, 51.4452, "location", "swapped"),
        (51.5072, -0.1276, "location", "outside Lewisham"),
        (math.inf, -0.02, "lat", "finite"),
        (51.45, math.nan, "lon", "finite"),
        (91.0, 0.0, "lat", "between -90 and 90"),
        (51.45, 181.0, "lon", "between -180 and 180"),
    ],
)
def test_points_that_cannot_be_used_are_refused_with_a_specific_message(lat, lon, field, message):
    with pytest.raises(PointRejected) as raised:
        check_point(lat, lon, BOROUGH)
    assert raised.value.field == field
    assert message in raised.value.message


@given(st.floats(), st.floats())
def test_check_point_accepts_only_points_in_lewisham(lat, lon):
    try:
        check_point(lat, lon, BOROUGH)
    except PointRejected as rejected:
        assert rejected.field in {"lat", "lon", "location"}
    else:
        assert 51.41 < lat < 51.50
        assert -0.08 < lon < 0.04


def test_references_are_short_and_unambiguous():
    references = {new_reference() for _ in range(2000)}
    assert len(references) > 1990
    for reference in references:
        assert reference.startswith("LEW-")
        assert len(reference) == 9
        assert set(reference[4:]) <= set(REFERENCE_ALPHABET)
        assert not set(reference[4:]) & set("01ILOU")
