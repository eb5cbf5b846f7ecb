"""The report form's own parsing: times and dates as people type them, and "when it happened"."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from geo.suntimes import LONDON
from safer_streets.intake.forms import (
    form_id,
    friendly_errors,
    occurred_at,
    parse_date,
    parse_time,
    to_submission,
)

# 22:10 in London on a winter evening.
NOW = datetime(2026, 11, 24, 22, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("21:30", time(21, 30)),
        ("9:05", time(9, 5)),
        ("9.30pm", time(21, 30)),
        ("12:15 am", time(0, 15)),
        ("12:00PM", time(12, 0)),
        (" 07:45 ", time(7, 45)),
    ],
)
def test_times_as_people_type_them(typed, expected):
    assert parse_time(typed) == expected


@pytest.mark.parametrize("typed", ["", "25:00", "12:60", "13:00pm", "0:30am", "noon", "2130"])
def test_times_that_are_not_times(typed):
    assert parse_time(typed) is None


@given(st.text(max_size=20))
def test_parse_time_never_fails_on_any_text(typed):
    result = parse_time(typed)
    assert result is None or isinstance(result, time)


@given(st.times())
def test_what_the_time_picker_sends_always_parses(value):
    assert parse_time(value.strftime("%H:%M")) == value.replace(second=0, microsecond=0)


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)))
def test_dates_from_the_picker_and_in_uk_order_parse_to_the_same_day(day):
    assert parse_date(day.isoformat()) == day
    assert parse_date(day.strftime("%d/%m/%Y")) == day


@given(st.text(max_size=30))
def test_parse_date_never_fails_on_any_text(typed):
    result = parse_date(typed)
    assert result is None or isinstance(result, date)


def test_now_means_no_separate_time():
    assert occurred_at(MultiDict({"when": "now"}), NOW) == (None, {})


def test_earlier_today_is_today_in_london():
    happened, errors = occurred_at(MultiDict({"when": "today", "today_time": "20:00"}), NOW)
    assert errors == {}
    assert happened == datetime(2026, 11, 24, 20, 0, tzinfo=LONDON)


def test_a_time_later_today_is_refused_next_to_the_time_field():
    _, errors = occurred_at(MultiDict({"when": "today", "today_time": "23:30"}), NOW)
    assert set(errors) == {"today_time"}
    assert "not come yet" in errors["today_time"]


def test_another_day_needs_a_date_and_a_time():
    _, errors = occurred_at(MultiDict({"when": "other"}), NOW)
    assert set(errors) == {"occurred_date", "occurred_time"}
    happened, errors = occurred_at(
        MultiDict({"when": "other", "occurred_date": "23/11/2026", "occurred_time": "18:45"}),
        NOW,
    )
    assert errors == {}
    assert happened == datetime(2026, 11, 23, 18, 45, tzinfo=LONDON)


def test_an_unknown_choice_is_an_error_on_when():
    assert set(occurred_at(MultiDict({"when": "yesterday"}), NOW)[1]) == {"when"}


@given(
    st.sampled_from(["now", "today", "other", "", "x"]),
    st.text(max_size=12),
    st.text(max_size=12),
    st.text(max_size=12),
)
def test_when_is_in_the_past_or_an_error_never_an_exception(when, today_time, day, at):
    form = MultiDict(
        {"when": when, "today_time": today_time, "occurred_date": day, "occurred_time": at}
    )
    happened, errors = occurred_at(form, NOW)
    if happened is not None:
        assert not errors
        assert happened <= NOW + timedelta(minutes=5)


def test_an_email_is_only_kept_when_the_resident_asked_for_updates():
    typed = {"description": "x", "contact_email": "me@example.org"}
    data, errors = to_submission(MultiDict({**typed, "updates": "none"}), NOW)
    assert "contact_email" not in data and data["anonymous"] is True and not errors
    data, errors = to_submission(
        MultiDict({**typed, "updates": "email", "share_details": "yes"}), NOW
    )
    assert data["contact_email"] == "me@example.org" and data["anonymous"] is False


def test_asking_for_updates_without_an_email_is_an_error_on_the_email_field():
    _, errors = to_submission(MultiDict({"updates": "email"}), NOW)
    assert set(errors) == {"contact_email"}


def test_reasons_keep_every_ticked_box():
    form = MultiDict([("reasons", "badly-lit"), ("reasons", "followed")])
    assert to_submission(form, NOW)[0]["reasons"] == ["badly-lit", "followed"]


def test_domain_errors_become_plain_messages_in_page_order():
    errors = friendly_errors(
        {
            "description": "must not be empty",
            "category": "is required",
            "location": "give a location: a point on the map, or a postcode, street or place",
        },
        MultiDict(),
    )
    assert list(errors) == ["location_text", "category", "description"]
    assert errors["category"] == "Choose what the problem is"
    assert errors["description"] == "Describe the problem"


def test_messages_come_through_the_callers_gettext_before_placeholders_are_filled():
    def pig_latin(message: str) -> str:
        return message.replace("Use", "Usey").replace("Choose", "Oosechay")

    form = MultiDict({"when": "bogus", "description": "x" * 5000})
    _, errors = to_submission(form, NOW, pig_latin)
    assert errors["when"] == "Oosechay when it happened"
    friendly = friendly_errors(
        {"description": "must be at most 4000 characters"}, form, gettext=pig_latin
    )
    assert friendly["description"] == "Usey 4,000 characters or fewer (you have 5,000)"


def test_a_form_id_must_be_a_uuid():
    kept = "0b6c6f8e-1f5e-4c39-9d53-3f0a2c3e0a51"
    assert form_id(kept) == kept
    assert form_id("../../etc/passwd") != "../../etc/passwd"
    assert len(form_id(None)) == 36
