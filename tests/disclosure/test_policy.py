"""The disclosure policy on its own: what each audience sees of reports in each kind of category."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from geoalchemy2.shape import from_shape
from hypothesis import given
from hypothesis import strategies as st
from shapely.geometry import Point

from geo.snapping import MAX_SNAP_DISTANCE_M, read_snap_points
from geo.suntimes import LONDON
from safer_streets.disclosure.policy import (
    Audience,
    Location,
    Moment,
    TimePrecision,
    disclose,
    promises,
    truncate,
)
from safer_streets.models import Category, Partner, Report, ReportStatus, Ward

PROFILES = {
    "environmental": {
        "disclosure_listed": True,
        "disclosure_location": "exact",
        "disclosure_time": "exact",
        "disclosure_description": "full",
    },
    "safety": {
        "disclosure_listed": True,
        "disclosure_location": "snapped",
        "disclosure_time": "day",
        "disclosure_description": "moderated",
    },
    "private": {
        "disclosure_listed": False,
        "disclosure_location": "none",
        "disclosure_time": "month",
        "disclosure_description": "none",
    },
}
RUSHEY_GREEN = Ward(code="E05013730", name="Rushey Green", slug="rushey-green")
CATFORD = (-0.02071, 51.44523)


def a_report(profile: str, *, sensitive: bool = False, **values) -> Report:
    category = Category(
        slug=profile, name=profile.title(), public=True, sensitive=sensitive, **PROFILES[profile]
    )
    defaults = {
        "reference": "LEW-TEST1",
        "category": category,
        "description": "a man followed me from the bus stop to 12 Example Road",
        "location": from_shape(Point(*CATFORD), srid=4326),
        "location_text": "outside my flat 7",
        "street": "Catford Broadway",
        "ward": RUSHEY_GREEN,
        "owner": Partner(
            slug="lewisham-community-safety", name="Lewisham Council Community Safety"
        ),
        "routing_reason": "Re-routed: she lives at 14 Example Street, flat 2",
        "contact_email": "resident@example.org",
        "anonymous": False,
        "status": ReportStatus.ROUTED,
        "created_at": datetime(2026, 12, 3, 14, 23, 5, tzinfo=UTC),
        "supporter_count": 2,
        "reasons": [],
    }
    return Report(**{**defaults, **values})


STAFF = (Audience.OWNER_STAFF, Audience.NOTIFIED_STAFF, Audience.PARTNER_ADMIN)


@pytest.mark.parametrize("audience", [Audience.PUBLIC, Audience.API_CLIENT, Audience.BOARD])
def test_harassment_is_never_shown_one_by_one_to_the_public_or_the_board(audience):
    shown = disclose(a_report("private", sensitive=True), audience)
    assert not shown.listed
    assert shown.place is None and shown.description is None and shown.created is None
    assert shown.routing_reason is None and shown.contact is None and shown.supporters is None


@pytest.mark.parametrize("audience", [*STAFF, Audience.BOARD_CASE_DETAIL, Audience.ADMIN])
def test_those_handling_or_allowed_see_a_sensitive_report_and_each_view_is_logged(audience):
    shown = disclose(a_report("private", sensitive=True), audience)
    assert shown.listed and shown.logged
    assert shown.place.precision is Location.EXACT
    assert "followed me" in shown.description


def test_the_reporter_follows_a_private_report_by_ward_and_status_only():
    shown = disclose(a_report("private", sensitive=True), Audience.REPORTER)
    assert shown.listed
    assert shown.place.label == "Rushey Green ward" and shown.place.lon is None
    assert shown.description is None and shown.contact is None
    assert shown.routing_reason == (
        "Private reports in Rushey Green ward go to Lewisham Council Community Safety."
    )


@pytest.mark.parametrize("audience", list(Audience))
def test_only_the_owner_partners_staff_see_the_reporters_contact(audience):
    shown = disclose(a_report("environmental"), audience)
    has_contact = shown.contact is not None
    assert has_contact == (audience in (Audience.OWNER_STAFF, Audience.PARTNER_ADMIN))


def test_an_anonymous_reporters_contact_is_shown_to_nobody():
    report = a_report("environmental", anonymous=True)
    assert all(disclose(report, audience).contact is None for audience in Audience)


@pytest.mark.parametrize("audience", [Audience.PUBLIC, Audience.API_CLIENT, Audience.REPORTER])
def test_the_public_reads_a_public_wording_of_the_routing_reason(audience):
    shown = disclose(a_report("safety"), audience)
    assert "Example Street" not in shown.routing_reason
    assert shown.routing_reason.endswith("go to Lewisham Council Community Safety.")


def test_staff_read_the_routing_reason_as_written():
    shown = disclose(a_report("safety"), Audience.NOTIFIED_STAFF)
    assert shown.routing_reason == "Re-routed: she lives at 14 Example Street, flat 2"


def test_a_safety_report_is_public_at_a_police_uk_street_point_of_its_ward():
    shown = disclose(a_report("safety"), Audience.PUBLIC)
    place = shown.place
    assert place.precision is Location.SNAPPED and place.label.startswith("On or near ")
    ward_points = {(p.lon, p.lat) for p in read_snap_points() if p.ward_code == "E05013730"}
    assert (place.lon, place.lat) in ward_points
    assert (place.lon, place.lat) != CATFORD
    assert shown.location_text is None


def test_with_no_street_point_near_a_safety_report_is_public_by_ward_only():
    far_corner = from_shape(Point(-0.0207, 51.50), srid=4326)  # miles from any Rushey Green point
    shown = disclose(a_report("safety", location=far_corner), Audience.PUBLIC)
    assert shown.place.precision is Location.WARD and shown.place.lon is None
    assert MAX_SNAP_DISTANCE_M < 1000


def test_an_environmental_report_is_public_at_its_exact_spot_as_on_fixmystreet():
    shown = disclose(a_report("environmental"), Audience.PUBLIC)
    assert (shown.place.lon, shown.place.lat) == CATFORD
    assert shown.location_text == "outside my flat 7"
    assert "followed me" in shown.description
    assert str(shown.created) == "3 December 2026, 14:23"


def test_a_safety_description_is_public_only_as_a_partner_moderated_it():
    report = a_report("safety")
    assert disclose(report, Audience.PUBLIC).description is None
    report.public_description = "Dealing reported near the bus stop."
    assert disclose(report, Audience.PUBLIC).description == "Dealing reported near the bus stop."
    assert "followed me" in disclose(report, Audience.OWNER_STAFF).description


def test_a_description_a_partner_hid_is_hidden_from_the_public_only():
    report = a_report("environmental", public_description="")
    assert disclose(report, Audience.PUBLIC).description is None
    assert disclose(report, Audience.OWNER_STAFF).description == report.description


def test_safety_reports_show_the_public_the_day_not_the_time():
    shown = disclose(a_report("safety"), Audience.PUBLIC)
    assert str(shown.created) == "3 December 2026"
    assert shown.created.value == datetime(2026, 12, 3, tzinfo=LONDON)


@pytest.mark.parametrize("audience", [Audience.PUBLIC, Audience.API_CLIENT, Audience.REPORTER])
def test_a_held_report_is_shown_to_no_member_of_the_public(audience):
    shown = disclose(a_report("environmental", status=ReportStatus.HELD), audience)
    assert not shown.listed and shown.place is None


moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)


@given(moments, st.sampled_from(list(TimePrecision)))
def test_a_truncated_time_never_moves_later_and_keeps_its_london_day(value, precision):
    shown = truncate(value, precision)
    assert shown <= value
    local = value.astimezone(LONDON)
    assert (shown.year, shown.month) == (local.year, local.month)
    if precision is not TimePrecision.MONTH:
        assert shown.day == local.day
    if precision is TimePrecision.DAY:
        assert value - shown < timedelta(hours=25)


def test_residents_are_told_in_words_what_each_kind_of_category_shows():
    private = " ".join(promises(a_report("private", sensitive=True).category))
    safety = " ".join(promises(a_report("safety").category))
    environmental = " ".join(promises(a_report("environmental").category))
    assert "never shown to the public" in private
    assert "never the exact spot" in safety and "the day you report it" in safety
    assert "shows the spot you choose" in environmental
    assert "description is public" in environmental


reports = st.builds(
    lambda profile, sensitive, status, anonymous, moderated, placed: a_report(
        profile,
        sensitive=sensitive,
        status=status,
        anonymous=anonymous,
        public_description=moderated,
        **({} if placed else {"location": None}),
    ),
    st.sampled_from(list(PROFILES)),
    st.booleans(),
    st.sampled_from(list(ReportStatus)),
    st.booleans(),
    st.none() | st.just("") | st.just("Checked by a partner."),
    st.booleans(),
)


@given(reports, st.sampled_from(list(Audience)))
def test_no_audience_ever_sees_more_than_its_rules(report, audience):
    shown = disclose(report, audience)
    public = audience in (Audience.PUBLIC, Audience.API_CLIENT, Audience.REPORTER)
    if shown.contact is not None:
        assert audience in (Audience.OWNER_STAFF, Audience.PARTNER_ADMIN)
        assert not report.anonymous
    if public:
        assert shown.routing_reason is None or "Example Street" not in shown.routing_reason
        assert shown.description in (None, report.public_description, report.description)
        assert not shown.internal_notes and not shown.logged
        if report.category.disclosure_description != "full":
            assert shown.description in (None, report.public_description)
    if report.category.sensitive and audience in (Audience.PUBLIC, Audience.BOARD):
        assert not shown.listed
    if report.status is ReportStatus.HELD and public:
        assert not shown.listed
    if not shown.listed:
        assert (shown.place, shown.description, shown.created, shown.contact) == (None,) * 4
    place = shown.place
    if place is not None and place.lon is not None and public:
        exact = (place.lon, place.lat) == CATFORD
        assert exact == (report.category.disclosure_location == "exact")


def test_moments_read_as_uk_dates_whatever_the_servers_locale():
    value = datetime(2026, 3, 12, 19, 5, tzinfo=UTC)
    words = {p: str(Moment(truncate(value, p), p)) for p in TimePrecision}
    assert words == {
        TimePrecision.EXACT: "12 March 2026, 19:05",
        TimePrecision.HOUR: "12 March 2026, around 19:00",
        TimePrecision.DAY: "12 March 2026",
        TimePrecision.MONTH: "March 2026",
    }
