"""Reading uploaded area outlines: whatever the bytes, an outline or a refusal saying why."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon

from geo.wards import Borough
from safer_streets.admin_console.outlines import OutlineRefused, parse_outline

BOROUGH = Borough.from_geojson().geometry
SQUARE = [[-0.024, 51.443], [-0.017, 51.443], [-0.017, 51.447], [-0.024, 51.447], [-0.024, 51.443]]
NEXT_DOOR = [
    [-0.017, 51.443],
    [-0.010, 51.443],
    [-0.010, 51.447],
    [-0.017, 51.447],
    [-0.017, 51.443],
]

fuzz = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=40,
)
numbers = (
    st.integers(-1000, 1000) | st.floats(allow_nan=False, allow_infinity=False) | st.just(-0.02)
)
positions = st.lists(numbers | st.booleans() | st.text(max_size=3), min_size=0, max_size=4)
rings = st.lists(positions, max_size=8) | st.just(SQUARE)
geometries = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["Polygon", "MultiPolygon", "Point", "LineString", ""]),
        "coordinates": st.lists(rings, max_size=3)
        | st.lists(st.lists(rings, max_size=2), max_size=2)
        | json_values,
    }
)
documents = (
    json_values
    | geometries
    | st.fixed_dictionaries(
        {
            "type": st.just("Feature"),
            "geometry": geometries | json_values,
            "properties": json_values,
        }
    )
    | st.fixed_dictionaries(
        {
            "type": st.just("FeatureCollection"),
            "features": st.lists(
                st.fixed_dictionaries({"type": st.just("Feature"), "geometry": geometries}),
                max_size=3,
            )
            | json_values,
        },
        optional={"crs": json_values},
    )
)


def refused_or_outline(raw: bytes) -> None:
    try:
        outline = parse_outline(raw, BOROUGH)
    except OutlineRefused as refused:
        assert set(refused.field_errors) == {"file"}
        assert refused.field_errors["file"]
    else:
        assert isinstance(outline, MultiPolygon)
        assert outline.is_valid and outline.intersects(BOROUGH)


@fuzz
@given(document=documents)
def test_any_json_gives_an_outline_or_a_refusal_never_another_error(document):
    refused_or_outline(json.dumps(document).encode())


@fuzz
@given(raw=st.binary(max_size=200))
def test_any_bytes_give_a_refusal_never_another_error(raw):
    refused_or_outline(raw)


def feature_collection(*polygons):
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {},
                    "geometry": {"type": "Polygon", "coordinates": [p]},
                }
                for p in polygons
            ],
        }
    ).encode()


def test_neighbouring_features_are_merged_into_one_outline():
    outline = parse_outline(feature_collection(SQUARE, NEXT_DOOR), BOROUGH)
    assert len(outline.geoms) == 1
    assert outline.bounds == pytest.approx((-0.024, 51.443, -0.010, 51.447))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "the file is empty"),
        (b"\xff\xfe\x00", "not text"),
        (b"[" * 100_000, "nested too deeply"),
        (
            b'{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[NaN, 1]]]}}',
            "not JSON",
        ),
        (b"[1, 2]", "not GeoJSON"),
        (b'{"type": "FeatureCollection", "features": []}', "has no features"),
        (json.dumps({"type": "Polygon", "coordinates": [SQUARE[:-1]]}).encode(), "not closed"),
        (
            json.dumps(
                {
                    "type": "Polygon",
                    "coordinates": [SQUARE],
                    "crs": {"type": "name", "properties": {"name": "EPSG:27700"}},
                }
            ).encode(),
            "another system (EPSG:27700)",
        ),
    ],
)
def test_each_problem_is_named(raw, message):
    with pytest.raises(OutlineRefused, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_outline(raw, BOROUGH)
