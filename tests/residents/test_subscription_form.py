"""The alert subscription form's validator, for any input (no services needed)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safer_streets.errors import InvalidInput
from safer_streets.models import AlertKind
from safer_streets.places import Places
from safer_streets.residents.alerts import RADIUS_CHOICES, parse_subscription
from safer_streets.residents.listing import Choice, Choices

CHOICES = Choices(
    categories=[Choice("fly-tipping", "Fly-tipping", 1), Choice("street-lighting", "Lights", 2)],
    wards=[Choice("rushey-green", "Rushey Green", 10)],
    areas=[Choice("catford-town-centre", "Catford town centre", 20)],
)
LISTED = {choice.slug for choice in CHOICES.categories}
PLACES = Places.default()
WARD = {"email": "resident@example.org", "where": "ward", "ward": "rushey-green"}


def outcome(values, categories=()):
    try:
        return parse_subscription(values, list(categories), CHOICES, PLACES), None
    except InvalidInput as invalid:
        return None, invalid.field_errors


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(max_size=8), st.sampled_from([str(r) for r in RADIUS_CHOICES])))
def test_a_distance_is_one_of_the_choices(radius):
    values = {**WARD, "where": "distance", "place": "Catford Broadway", "radius": radius}
    request, errors = outcome(values)
    if radius.strip() in {str(r) for r in RADIUS_CHOICES} and radius.strip().isascii():
        assert request is not None and request.radius_m == int(radius)
        assert request.kind is AlertKind.DISTANCE
        assert 250 <= request.radius_m <= 2000
    else:
        assert request is None and "radius" in errors


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(sorted(LISTED | {"harassment", "weapons"})), st.text())))
def test_only_publicly_listed_categories_are_chosen(categories):
    request, errors = outcome(WARD, categories)
    if set(categories) <= LISTED:
        assert request is not None
        ids = {c.id for c in CHOICES.categories if c.slug in categories}
        assert set(request.category_ids) == ids
    else:
        assert request is None and errors == {"category": "Choose from the problems listed"}


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.text(max_size=300),
        st.emails(),
        st.emails().map(lambda e: f"{e}\r\nBcc: victim@example.org"),
    )
)
def test_an_accepted_email_is_one_plain_address(email):
    request, errors = outcome({**WARD, "email": email})
    if request is None:
        assert "email" in errors
        return
    assert request.email.count("@") == 1
    assert not any(c in request.email for c in "\r\n,;<> ")
    assert len(request.email) <= 254


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({**WARD, "where": ""}, "where"),
        ({**WARD, "ward": "atlantis"}, "ward"),
        ({**WARD, "where": "area", "area": ""}, "area"),
        ({**WARD, "where": "distance", "radius": "500", "place": "Eiffel Tower"}, "place"),
        ({**WARD, "frequency": "hourly"}, "frequency"),
    ],
)
def test_each_wrong_field_is_named(values, field):
    _request, errors = outcome(values)
    assert field in errors
