"""Queue filters from the query string and CSV cell guarding: no services needed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from safer_streets.casework.export import guard_cell
from safer_streets.casework.queues import Age, Assigned, QueueFilters, Sort, parse_filters
from safer_streets.errors import InvalidInput

FIELDS = ["status", "category", "ward", "area", "priority", "age", "breached", "assigned"]
FIELDS += ["sort", "page", "utm_source"]


@given(st.dictionaries(st.sampled_from(FIELDS), st.text(max_size=40)))
def test_any_query_string_is_filters_or_named_field_errors(args):
    try:
        filters = parse_filters(args)
    except InvalidInput as invalid:
        assert invalid.field_errors
        assert set(invalid.field_errors) <= set(FIELDS)
        assert all(isinstance(m, str) and m for m in invalid.field_errors.values())
    else:
        assert isinstance(filters, QueueFilters)
        assert filters.page >= 1


def test_known_values_are_parsed_and_blanks_ignored():
    filters = parse_filters(
        {
            "status": "open",
            "ward": "rushey-green",
            "area": "catford-town-centre",
            "age": "7d",
            "breached": "on",
            "assigned": "me",
            "sort": "due",
            "page": "3",
            "category": "",
        }
    )
    assert filters.category is None
    assert (filters.age, filters.assigned, filters.sort) == (Age.WEEK, Assigned.ME, Sort.DUE)
    assert filters.breached and filters.page == 3
    assert "acknowledged" in {s.value for s in filters.statuses()}
    assert filters.query_args(page=4)["page"] == "4"
    assert "sort" not in QueueFilters().query_args()


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"page": "-1"}, "page"),
        ({"ward": "../etc"}, "ward"),
        ({"priority": "URGENT!"}, "priority"),
    ],
)
def test_bad_values_name_their_field(args, field):
    with pytest.raises(InvalidInput) as refused:
        parse_filters(args)
    assert set(refused.value.field_errors) == {field}


@pytest.mark.parametrize(
    ("cell", "guarded"),
    [
        ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
        ("+44 20", "'+44 20"),
        ("-1+1", "'-1+1"),
        ("@cmd", "'@cmd"),
        ("\t=1", "'\t=1"),
        ("Broken light", "Broken light"),
        ("", ""),
    ],
)
def test_csv_cells_that_a_spreadsheet_would_run_are_guarded(cell, guarded):
    assert guard_cell(cell) == guarded


@given(st.text())
def test_a_guarded_cell_never_starts_a_formula(text):
    assert not guard_cell(text).startswith(("=", "+", "-", "@", "\t", "\r"))
