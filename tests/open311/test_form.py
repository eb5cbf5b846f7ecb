"""The Open311 form parser (``attribute[code]`` and ``attribute[code][]``) and date parsing,
with Hypothesis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from safer_streets.errors import InvalidInput
from safer_streets.open311.georeport import parse_date_range, parse_datetime, parse_form, parse_page

codes = st.text(
    alphabet=st.characters(blacklist_characters="[]", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=20,
)
values = st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=30)
plain_names = st.text(max_size=20).filter(lambda name: not name.startswith("attribute"))


@given(st.lists(st.tuples(codes, st.lists(values, max_size=4), st.booleans()), max_size=6))
def test_attributes_collect_by_code_in_the_order_sent(sent):
    pairs = []
    expected: dict[str, list[str]] = {}
    for code, items, multi in sent:
        name = f"attribute[{code}][]" if multi else f"attribute[{code}]"
        for item in items:
            pairs.append((name, item))
            if item.strip():
                expected.setdefault(code, []).append(item.strip())
    form = parse_form(pairs)
    assert form.attributes == expected


@given(st.lists(st.tuples(plain_names, values), max_size=10))
def test_plain_parameters_keep_the_first_non_empty_value(pairs):
    form = parse_form(pairs)
    expected: dict[str, str] = {}
    for name, value in pairs:
        if value.strip() and name not in expected:
            expected[name] = value.strip()
    assert form.fields == expected
    assert form.attributes == {}


@given(st.lists(st.tuples(st.text(max_size=30), st.text(max_size=30)), max_size=10))
def test_any_form_parses_or_names_the_bad_parameter(pairs):
    try:
        form = parse_form(pairs)
    except InvalidInput as invalid:
        ((name, message),) = invalid.field_errors.items()
        if "NUL" in message:
            assert any(n == name and "\x00" in v for n, v in pairs)
        else:
            assert name.startswith("attribute") and "attribute[code]" in message
    else:
        assert all(values for values in form.attributes.values())
        assert not any("\x00" in v for v in form.fields.values())


@pytest.mark.parametrize(
    "name", ["attribute", "attribute[]", "attribute[a", "attribute[a]]", "attribute[a][b]"]
)
def test_malformed_attribute_names_are_refused(name):
    with pytest.raises(InvalidInput) as raised:
        parse_form([(name, "x")])
    assert name in raised.value.field_errors


def test_single_and_multi_forms_of_one_attribute_combine():
    form = parse_form(
        [
            ("attribute[reasons]", "badly-lit"),
            ("attribute[reasons][]", "isolated"),
            ("attribute[reasons][]", ""),
            ("description", "Dark"),
            ("description", "ignored"),
            ("lat", " "),
        ]
    )
    assert form.attributes == {"reasons": ["badly-lit", "isolated"]}
    assert form.fields == {"description": "Dark"}
    assert form.get("lat") is None


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    )
)
def test_w3c_datetimes_with_a_zone_round_trip(moment):
    assert parse_datetime("start_date", moment.isoformat()) == moment


@given(
    st.datetimes(max_value=datetime(1999, 12, 31, 9, 59), timezones=st.just(UTC))
    | st.datetimes(min_value=datetime(2100, 1, 1, 14, 1), timezones=st.just(UTC)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
@example(datetime(1, 1, 1, tzinfo=UTC), 14 * 60)
@example(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), 0)
def test_datetimes_outside_2000_to_2100_are_refused_whatever_their_offset(moment, minutes):
    offset = timezone(timedelta(minutes=minutes))
    text = moment.replace(tzinfo=offset).isoformat()
    with pytest.raises(InvalidInput) as refused:
        parse_datetime("end_date", text)
    assert refused.value.field_errors == {"end_date": "must be between 2000-01-01 and 2100-01-01"}


@given(st.text(max_size=40))
def test_any_date_text_parses_to_an_aware_datetime_or_is_refused(text):
    try:
        value = parse_datetime("start_date", text)
    except InvalidInput as invalid:
        assert set(invalid.field_errors) == {"start_date"}
    else:
        assert value.tzinfo is not None


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 6, 1)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=200)),
)
def test_a_window_is_accepted_exactly_when_it_spans_at_most_90_days(start, span):
    start = start.replace(tzinfo=UTC)
    params = {"start_date": start.isoformat(), "end_date": (start + span).isoformat()}
    now = datetime(2026, 11, 24, tzinfo=UTC)
    if span <= timedelta(days=90):
        window = parse_date_range(params, now)
        assert (window.start, window.end) == (start, start + span)
    else:
        with pytest.raises(InvalidInput, match="end_date"):
            parse_date_range(params, now)


def test_one_date_alone_means_the_90_days_beside_it():
    now = datetime(2026, 11, 24, tzinfo=UTC)
    assert parse_date_range({}, now).start == now - timedelta(days=90)
    start = parse_date_range({"start_date": "2026-01-01T00:00:00Z"}, now)
    assert start.end - start.start == timedelta(days=90)
    end = parse_date_range({"end_date": "2026-01-01"}, now)
    assert end.end.isoformat() == "2026-01-01T00:00:00+00:00"


@given(st.text(max_size=8) | st.integers().map(str), st.text(max_size=8))
@example("9223372036854775808", "")
@example("", "9" * 5000)
def test_paging_parameters_parse_or_are_named(page, size):
    try:
        result = parse_page({"page": page, "page_size": size})
    except InvalidInput as invalid:
        assert set(invalid.field_errors) <= {"page", "page_size"}
    else:
        assert 1 <= result.number <= 100_000 and 1 <= result.size <= 1000


def test_a_page_past_the_last_possible_one_is_refused_naming_the_bound():
    with pytest.raises(InvalidInput) as refused:
        parse_page({"page": "9223372036854775808", "page_size": "1001"})
    assert refused.value.field_errors == {
        "page": "must be at most 100000",
        "page_size": "must be at most 1000",
    }
