"""Reports placed from a typed street or place: the extent the gazetteer gives, and spreading
a report over the cells its extent covers."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo import grid, hotspots
from geo.gazetteer import STREET_REACH_M, default_gazetteer
from geo.gistar import COUNT_RESOLUTION, counts_as_tested
from geo.projection import project_geometry, to_bng, to_lonlat


def test_a_street_through_three_cells_spreads_over_the_three_by_length():
    # 250 m of street from the middle of one 100 m cell to the middle of the third.
    street = shapely.LineString([(50, 50), (250, 50)])
    gx, gy, weight = grid.cell_weights(street, 100)
    assert gx.tolist() == [0, 1, 2]
    assert gy.tolist() == [0, 0, 0]
    assert weight.tolist() == pytest.approx([0.25, 0.5, 0.25])
    assert weight.sum() == pytest.approx(1.0)


def test_an_area_spreads_by_area_and_a_point_stays_in_its_cell():
    gx, _, weight = grid.cell_weights(shapely.box(0, 0, 150, 100), 100)
    assert gx.tolist() == [0, 1]
    assert weight.tolist() == pytest.approx([2 / 3, 1 / 3])
    gx, gy, weight = grid.cell_weights(shapely.Point(530_010, 175_020), 100)
    assert (gx.tolist(), gy.tolist(), weight.tolist()) == ([5300], [1750], [1.0])


@settings(max_examples=60, deadline=None)
@given(
    x=st.floats(0, 5000),
    y=st.floats(0, 5000),
    dx=st.floats(-800, 800),
    dy=st.floats(-800, 800),
    reach=st.one_of(st.just(0.0), st.floats(1, 300)),
    cell=st.sampled_from([50.0, 100.0, 250.0]),
)
def test_every_extent_shares_exactly_one_report_among_its_cells(x, y, dx, dy, reach, cell):
    line = shapely.LineString([(x, y), (x + dx, y + dy)])
    extent = line.buffer(reach) if reach > 0 else line
    _, _, weight = grid.cell_weights(extent, cell)
    assert (weight > 0).all()
    assert weight.sum() == pytest.approx(1.0)


def test_reports_of_one_street_spread_together_and_sum_to_the_number_of_reports():
    street = shapely.LineString([(530_050, 175_050), (530_250, 175_050)])
    extents = grid.Extents((street,))
    lon, lat = to_lonlat(np.array([531_050.0] * 4), np.array([175_050.0] * 4))
    x, y = to_bng(lon, lat)
    pieces = extents.spread((lon, lat), (x, y), np.array([-1, 0, 0, 0]), 100)
    assert pieces.weight.sum() == pytest.approx(4.0)
    on = grid.Grid(530_000, 175_000, 100, 20, 5)
    counts = grid.bin_points_bng(*pieces.projected, on, pieces.weight)
    assert counts[0, :4].tolist() == pytest.approx([0.75, 1.5, 0.75, 0.0])
    assert counts[0, 10] == 1.0


def test_the_gazetteer_gives_a_street_its_reach_and_a_town_centre_its_boundary():
    gazetteer = default_gazetteer()
    [broadway] = gazetteer.search("Catford Broadway", limit=1)
    street = gazetteer.extent(broadway)
    assert street is not None and street.geom_type == "Polygon"
    assert street.contains(shapely.Point(broadway.lon, broadway.lat))
    # All three of its snap points are within 5 m: the extent is the street's reach.
    area_m2 = project_geometry(street).area
    assert area_m2 == pytest.approx(np.pi * STREET_REACH_M**2, rel=0.1)
    _, _, weight = grid.cell_weights(project_geometry(street), 100)
    assert weight.size >= 4

    [catford] = gazetteer.search("Catford town centre", limit=1)
    centre = gazetteer.extent(catford)
    assert centre is not None and centre.contains(street.centroid)
    [postcode] = gazetteer.search("SE6 4JU", limit=1)
    assert gazetteer.extent(postcode) is None


def test_fractional_counts_are_tested_in_tenths_and_whole_counts_as_they_are():
    whole, unit = counts_as_tested(np.array([[0.0, 3.0], [1.0, np.nan]]))
    assert unit == 1 and whole[0, 1] == 3.0
    tenths, unit = counts_as_tested(np.array([[0.25, 1.5], [0.0, 2.0]]))
    assert unit == COUNT_RESOLUTION
    assert tenths.tolist() == [[2.0, 15.0], [0.0, 20.0]]


def _cluster_run(weights):
    """Reports on the cell centres of a 3x3 block in the middle of a 21x21 grid, and one
    report in each of a few scattered cells; the block's weights as given."""
    on = grid.Grid(530_000, 175_000, 100, 21, 21)
    xx, yy = on.centres()
    block = [(r, c) for r in (9, 10, 11) for c in (9, 10, 11)]
    scattered = [(2, 3), (4, 17), (15, 5), (18, 18), (6, 8)]
    x = np.array([xx[r, c] for r, c in block + scattered])
    y = np.array([yy[r, c] for r, c in block + scattered])
    w = np.concatenate([weights, np.ones(len(scattered))])
    lon, lat = to_lonlat(x, y)
    return hotspots.compute_hotspots(
        lon,
        lat,
        grid=on,
        projected=(x, y),
        weights=w,
        p_source="conditional",
        permutations=99,
        seed=1,
        min_cell_count=0,
    )


def test_spread_counts_keep_exact_p_values_and_the_minimum_means_whole_reports():
    # Twenty reports spread over the block: hot, on exact p-values of counts in tenths.
    twenty = _cluster_run(np.full(9, 20 / 9))
    assert twenty.params["count_unit"] == pytest.approx(0.1)
    assert twenty.params["p_source"] == "exact"
    assert twenty.labels[10, 10].startswith("hot")
    assert twenty.counts[10, 10] == pytest.approx(2.2)
    # 4.5 reports in the whole neighbourhood is short of the five a hot spot needs.
    few = _cluster_run(np.full(9, 0.5))
    assert few.counts.sum() == pytest.approx(9.5)
    assert not few.labels[10, 10].startswith("hot")
