"""Validation of what residents and clients send, before anything is stored."""

import math

import pytest
import shapely
from hypothesis import assume, given
from hypothesis import strategies as st

from geo.coordinates import PointRejected, check_point
from geo.wards import Borough, WardIndex
from safer_streets.errors import InvalidInput
from safer_streets.intake.submission import (
    MAX_DESCRIPTION_CHARS,
    MAX_IDEMPOTENCY_KEY_CHARS,
    REFERENCE_ALPHABET,
    new_reference,
    parse_idempotency_key,
    parse_submission,
    scoped_idempotency_key,
)
from safer_streets.models import ApiClient

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


# ---- Points at the edges: the boundary, just outside it, the Thames ----------------------

WARDS = WardIndex.from_geojson()
BOUNDARY = shapely.get_coordinates(BOROUGH.geometry.exterior)[::40]
# About 30 m outside the borough all the way round (0.0003 degrees of latitude).
JUST_OUTSIDE = shapely.get_coordinates(BOROUGH.geometry.buffer(0.0003).exterior)[::40]


def test_points_on_the_borough_boundary_are_accepted_and_have_a_ward():
    for lon, lat in BOUNDARY:
        check_point(lat, lon, BOROUGH)
        assert WARDS.ward_for_point(lon, lat) is not None, (lon, lat)


def test_points_just_outside_the_boundary_are_refused_as_outside_or_in_the_river():
    messages = set()
    for lon, lat in JUST_OUTSIDE:
        with pytest.raises(PointRejected) as raised:
            check_point(lat, lon, BOROUGH)
        assert raised.value.field == "location"
        messages.add(raised.value.message.split(":")[0])
    assert messages == {"this point is outside Lewisham", "this point is in the River Thames"}


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(51.4905, -0.0300), (51.4940, -0.0370), (51.4870, -0.0255)],
    ids=["off-convoys-wharf", "off-pepys-park", "by-deptford-creek"],
)
def test_a_point_in_the_thames_says_so_and_where_to_go(lat, lon):
    with pytest.raises(PointRejected) as raised:
        check_point(lat, lon, BOROUGH)
    assert raised.value.field == "location"
    assert "in the River Thames" in raised.value.message
    assert "Port of London Authority" in raised.value.message


def test_the_far_bank_of_the_thames_is_outside_lewisham_not_the_river():
    with pytest.raises(PointRejected, match="outside Lewisham"):
        check_point(51.4960, -0.0300, BOROUGH)  # Millwall, Tower Hamlets


# ---- Hypothesis: the coordinate parser ---------------------------------------------------

in_bounding_box = st.tuples(
    st.floats(min_value=51.40, max_value=51.51), st.floats(min_value=-0.09, max_value=0.05)
)


@given(in_bounding_box)
def test_a_point_near_lewisham_is_accepted_exactly_when_the_borough_covers_it(point):
    lat, lon = point
    try:
        check_point(lat, lon, BOROUGH)
    except PointRejected as rejected:
        assert not BOROUGH.covers(lon, lat)
        assert rejected.field == "location"
        assert rejected.message.startswith(
            ("this point is outside Lewisham", "this point is in the River Thames")
        )
    else:
        assert BOROUGH.covers(lon, lat)


@given(in_bounding_box)
def test_a_lewisham_point_with_its_coordinates_swapped_is_named_as_swapped(point):
    lat, lon = point
    assume(BOROUGH.covers(lon, lat))
    with pytest.raises(PointRejected, match="look swapped"):
        check_point(lon, lat, BOROUGH)


@given(st.floats(), st.floats())
def test_coordinates_sent_as_text_parse_like_numbers_or_are_named(lat, lon):
    data = {**VALID, "lat": repr(lat), "lon": repr(lon)}
    if math.isfinite(lat) and math.isfinite(lon):
        submission = parse_submission(data)
        assert (submission.lat, submission.lon) == (lat, lon)
    else:
        with pytest.raises(InvalidInput) as raised:
            parse_submission(data)
        bad = {f for f, v in (("lat", lat), ("lon", lon)) if not math.isfinite(v)}
        assert set(raised.value.field_errors) == bad
        assert all("finite" in raised.value.field_errors[f] for f in bad)


@given(st.text(max_size=30))
def test_any_text_for_a_coordinate_is_a_number_or_named_as_not_one(text):
    try:
        submission = parse_submission({**VALID, "lat": text})
    except InvalidInput as invalid:
        assert set(invalid.field_errors) == {"lat"}
        assert invalid.field_errors["lat"] in {
            "must be a number",
            "must be a finite number",
            "is required when lon is given",
        }
    else:
        assert math.isfinite(submission.lat)


# --- Idempotency-Key ---------------------------------------------------------------------------

owners = st.none() | st.integers(min_value=1, max_value=2**31 - 1).map(lambda n: ApiClient(id=n))


@given(raw=st.none() | st.text(max_size=400))
def test_an_idempotency_key_is_taken_up_to_the_limit_and_refused_beyond(raw):
    try:
        key = parse_idempotency_key(raw)
    except InvalidInput as refused:
        assert set(refused.field_errors) == {"Idempotency-Key"}
        assert len(raw.strip()) > MAX_IDEMPOTENCY_KEY_CHARS
    else:
        assert key == ((raw or "").strip() or None)


@given(
    key=st.text(min_size=1, max_size=MAX_IDEMPOTENCY_KEY_CHARS),
    channel=st.sampled_from(["api", "web"]),
    one=owners,
    other=owners,
)
def test_a_stored_key_fits_and_belongs_to_one_client(key, channel, one, other):
    stored = scoped_idempotency_key(key, channel=channel, client=one)
    assert len(stored) <= MAX_IDEMPOTENCY_KEY_CHARS and stored.isascii()
    assert stored == scoped_idempotency_key(key, channel=channel, client=one)
    same_owner = (one and one.id) == (other and other.id)
    assert (stored == scoped_idempotency_key(key, channel=channel, client=other)) == same_owner
    assert stored != scoped_idempotency_key(key, channel="import", client=one)
