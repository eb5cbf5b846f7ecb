"""The bounds every door applies (``safer_streets.bounds``), with Hypothesis: each accepts
exactly what it says, and for any input answers or refuses with its own error, never another
exception."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from safer_streets import bounds
from safer_streets.errors import BadRequest, InvalidInput
from safer_streets.models import Report
from safer_streets.routing.processing import routing_time

NOW = datetime(2026, 11, 24, 21, 30, tzinfo=UTC)
# Every offset a W3C date-time can carry, to the minute, as well as named zones.
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
aware = st.datetimes(timezones=offsets | st.timezones())
YEAR_1_AT_PLUS_14 = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))
YEAR_9999_AT_MINUS_14 = datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-14)))


def _utc_or_none(value: datetime) -> datetime | None:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return None


# ---- Dates -----------------------------------------------------------------------------------


@given(aware)
@example(YEAR_1_AT_PLUS_14)
@example(YEAR_9999_AT_MINUS_14)
@example(datetime(1, 1, 1, tzinfo=UTC))
@example(bounds.EARLIEST)
@example(NOW + bounds.CLOCK_SKEW)
def test_occurred_at_is_accepted_exactly_from_2000_to_a_few_minutes_from_now(value):
    utc = _utc_or_none(value)
    inside = utc is not None and bounds.EARLIEST <= utc <= NOW + bounds.CLOCK_SKEW
    try:
        assert bounds.check_occurred_at(value, now=NOW) is value
    except bounds.OutOfBounds as out:
        assert not inside
        too_early = utc < bounds.EARLIEST if utc is not None else value.year < 2000
        assert str(out) == (bounds.TOO_EARLY if too_early else bounds.IN_FUTURE)
    else:
        assert inside
    assert bounds.plausible_occurred_at(value, received=NOW) is inside


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (datetime(1999, 12, 31, 23, 59, tzinfo=UTC), "must be on or after 2000-01-01"),
        (YEAR_1_AT_PLUS_14, "must be on or after 2000-01-01"),
        (NOW + timedelta(minutes=6), "cannot be in the future"),
        (YEAR_9999_AT_MINUS_14, "cannot be in the future"),
    ],
)
def test_an_occurred_at_out_of_range_says_which_end(value, message):
    with pytest.raises(bounds.OutOfBounds, match=message):
        bounds.check_occurred_at(value, now=NOW)


def test_a_phone_clock_a_little_ahead_is_not_the_future():
    assert bounds.check_occurred_at(NOW + timedelta(minutes=4), now=NOW)


@given(aware)
@example(YEAR_1_AT_PLUS_14)
@example(YEAR_9999_AT_MINUS_14)
def test_date_filters_are_accepted_exactly_from_2000_to_2100(value):
    utc = _utc_or_none(value)
    inside = utc is not None and bounds.EARLIEST <= utc <= bounds.FILTER_LATEST
    try:
        bounds.check_filter_datetime(value)
    except bounds.OutOfBounds as out:
        assert not inside and str(out) == "must be between 2000-01-01 and 2100-01-01"
    else:
        assert inside
        # The point of the bound: the 90-day window around it always exists.
        assert value - timedelta(days=90) and value + timedelta(days=90)


@given(aware)
@example(YEAR_1_AT_PLUS_14)
@example(datetime(1, 1, 1, tzinfo=UTC))
def test_routing_uses_when_it_happened_only_when_that_is_in_range(value):
    received = datetime(2026, 11, 24, 23, 15, tzinfo=UTC)
    report = Report(reference="LEW-TEST2", occurred_at=value, created_at=received)
    expected = value if bounds.plausible_occurred_at(value, received=received) else received
    assert routing_time(report) is expected
    assert routing_time(Report(reference="LEW-TEST3", created_at=received)) is received


# ---- Whole numbers ---------------------------------------------------------------------------


@given(st.text(max_size=30) | st.integers(min_value=-(10**30), max_value=10**30).map(str))
@example("9223372036854775808")
@example("9" * 5000)
@example("²")
@example("٣")
@example(" 42 ")
@example("")
def test_an_integer_parameter_is_a_number_in_range_or_named_with_its_bound(raw):
    try:
        value = bounds.parse_int("page", raw, default=1, maximum=100_000)
    except InvalidInput as invalid:
        assert invalid.field_errors["page"] in (
            "must be a whole number from 1",
            "must be at most 100000",
        )
        text = raw.strip()
        digits = text.lstrip("0")
        if text.isascii() and text.isdigit() and (len(digits) > 6 or int(digits or 0) > 100_000):
            assert invalid.field_errors["page"] == "must be at most 100000"
    else:
        text = raw.strip()
        assert 1 <= value <= 100_000
        assert value == (int(text) if text else 1)
        assert not text or (text.isascii() and text.isdigit())


@given(st.text(max_size=30))
@example("²")
@example("9" * 5000)
def test_a_whole_number_is_ascii_digits_within_a_bigint_or_none(raw):
    value = bounds.whole_number(raw)
    if value is not None:
        assert raw.strip().isascii() and 0 <= value < 2**63


# ---- JSON ------------------------------------------------------------------------------------

json_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12) | st.sampled_from(
    ['"', "\\", '\\"', "[", "]", "{", "}", '"[{', "\\\\", '\\\\"']
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | json_text,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(json_text, children, max_size=3)
    ),
    max_leaves=30,
)


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


@given(json_values, st.booleans(), st.sampled_from([None, 2]))
def test_the_depth_scan_is_exact_for_any_json_however_its_strings_are_written(
    value, ascii_only, indent
):
    text = json.dumps(value, ensure_ascii=ascii_only, indent=indent)
    assert bounds.nesting_depth(text) == _depth(value)


@given(st.integers(min_value=1, max_value=60))
def test_json_deeper_than_the_limit_is_refused_before_parsing(depth):
    body = ("[" * depth + "]" * depth).encode()
    if depth <= bounds.MAX_JSON_DEPTH:
        assert _depth(bounds.load_json(body)) == depth
    else:
        with pytest.raises(BadRequest, match="nested too deeply: at most 32 levels"):
            bounds.load_json(body)


@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
@example(b"[" * 100_000)
@example(b"{" * 5_000)
@example(b'{"a":' * 5_000 + b"1" + b"}" * 5_000)
@example(b'"\\' + b"[" * 5_000)
@example(b"1" * 5_000)
@example(b"\xff\xfe[\x00")
def test_any_body_parses_or_is_refused_as_a_bad_request(body):
    try:
        value = bounds.load_json(body)
    except BadRequest as refused:
        assert refused.status == 400
    else:
        assert _depth(value) <= bounds.MAX_JSON_DEPTH


def test_a_large_body_is_refused_by_its_size():
    with pytest.raises(BadRequest, match="too large: at most 65,536 bytes"):
        bounds.load_json(b"[" * 100_000)
