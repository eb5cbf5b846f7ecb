"""Ward lookup on the real May 2022 Lewisham wards."""

import json

import numpy as np
import pytest
from shapely.geometry import Point, shape

from geo.wards import BOROUGH_FILE, WARDS_FILE, Borough, WardIndex

FEATURES = json.loads(WARDS_FILE.read_text())["features"]


@pytest.fixture(scope="module")
def index() -> WardIndex:
    return WardIndex.from_geojson()


def test_there_are_the_nineteen_wards_of_2022(index):
    assert len(index.wards) == 19
    assert {w.name for w in index.wards} >= {"Rushey Green", "Lewisham Central", "Deptford"}


@pytest.mark.parametrize("feature", FEATURES, ids=lambda f: f["properties"]["WD22NM"])
def test_a_point_inside_each_ward_finds_that_ward(index, feature):
    inside = shape(feature["geometry"]).representative_point()
    ward = index.ward_for_point(inside.x, inside.y)
    assert ward is not None
    assert ward.code == feature["properties"]["WD22CD"]


def test_catford_broadway_is_in_rushey_green(index):
    assert index.ward_for_point(-0.0207, 51.4452).name == "Rushey Green"


def test_a_point_on_a_shared_boundary_belongs_to_the_lower_ward_code(index):
    wards = {w.name: w for w in index.wards}
    a, b = wards["Rushey Green"], wards["Catford South"]
    shared = set(a.geometry.exterior.coords) & set(b.geometry.exterior.coords)
    lon, lat = sorted(shared)[len(shared) // 2]
    found = index.ward_for_point(lon, lat)
    assert found is not None
    assert found.code == min(a.code, b.code)


@pytest.mark.parametrize(
    ("lon", "lat"),
    [(0.0, 0.0), (-0.1276, 51.5072), (0.0, 51.48), (-0.0751 - 0.01, 51.45), (0.06, 51.45)],
    ids=["null-island", "westminster", "greenwich-peninsula", "west-of-borough", "east-of-borough"],
)
def test_points_outside_the_borough_have_no_ward(index, lon, lat):
    assert index.ward_for_point(lon, lat) is None
    assert not Borough.from_geojson(BOROUGH_FILE).covers(lon, lat)


def test_vectorised_lookup_agrees_with_one_at_a_time(index):
    rng = np.random.default_rng(7)
    lons = rng.uniform(-0.08, 0.045, 2000)
    lats = rng.uniform(51.41, 51.50, 2000)
    found = index.ward_indices(lons, lats)
    for lon, lat, i in zip(lons, lats, found, strict=True):
        ward = index.ward_for_point(lon, lat)
        assert (ward.code if ward else None) == (index.wards[i].code if i >= 0 else None)


def test_vectorised_lookup_gives_a_shared_boundary_point_to_the_lower_ward_code(index):
    wards = {w.name: w for w in index.wards}
    a, b = wards["Rushey Green"], wards["Catford South"]
    shared = sorted(set(a.geometry.exterior.coords) & set(b.geometry.exterior.coords))
    lons, lats = np.array(shared).T
    found = index.ward_indices(lons, lats)
    for lon, lat, i in zip(lons, lats, found, strict=True):
        covering = [w.code for w in index.wards if w.geometry.covers(Point(lon, lat))]
        assert index.wards[i].code == min(covering)
    assert min(a.code, b.code) in {index.wards[i].code for i in found}
