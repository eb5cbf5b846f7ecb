"""Gazetteer tests against the shipped Lewisham data; the network geocoder uses a fake geopy."""

from __future__ import annotations

import csv
import json
import math
import re
from typing import Any

import numpy as np
import pytest
import shapely
from geopy import exc
from geopy.location import Location
from hypothesis import given
from hypothesis import strategies as st
from shapely.geometry import shape

from geo import DATA_DIR
from geo.gazetteer import (
    Candidate,
    Gazetteer,
    ReverseResult,
    _display_name,
    is_ambiguous,
    normalise_name,
)
from geo.geocoders import Geocoder, NominatimGeocoder, OfflineGeocoder
from geo.postcodes import OutsideBorough, normalise_postcode, outward_code
from geo.wards import WardIndex

with (DATA_DIR / "lewisham_postcodes_codepoint_2025.csv").open(newline="") as _fh:
    POSTCODE_ROWS = list(csv.DictReader(_fh))
with (DATA_DIR / "lewisham_street_points_from_police.csv").open(newline="") as _fh:
    STREET_ROWS = [r for r in csv.DictReader(_fh) if r["kind"] == "street"]
TOWN_CENTRES = {
    f["properties"]["sitename"]: shape(f["geometry"])
    for f in json.loads((DATA_DIR / "lewisham_town_centres.geojson").read_text())["features"]
}
CATFORD_BROADWAY = (-0.0207, 51.4452)
CANONICAL = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}")


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return Gazetteer.from_files()


@pytest.fixture(scope="module")
def wards() -> WardIndex:
    return WardIndex.from_geojson()


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance on the mean Earth sphere, an independent check of BNG distances."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(a))


# ---- normalise_postcode / outward_code --------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["SE6 4JU", "se64ju", "SE6  4JU", " se6 4ju ", "Se6\t4Ju", "SE64JU\n", "se6\u00a04ju"],
)
def test_normalise_postcode_spacing_and_case(text: str) -> None:
    assert normalise_postcode(text) == "SE6 4JU"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ec1a1bb", "EC1A 1BB"),
        ("w1a 0ax", "W1A 0AX"),
        ("m1 1ae", "M1 1AE"),
        ("cr2 6xh", "CR2 6XH"),
        ("dn55 1pt", "DN55 1PT"),
        ("br14by", "BR1 4BY"),
        ("gir0aa", "GIR 0AA"),
    ],
)
def test_normalise_postcode_all_formats(text: str, expected: str) -> None:
    assert normalise_postcode(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "   ", "SE6", "SE6 4J", "SE6 4JUX", "SE6 4CU", "QE6 4JU", "SE6 JU4", "hello", "ſe6 4ju"],
)
def test_normalise_postcode_rejects(text: str) -> None:
    assert normalise_postcode(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("SE6", "SE6"), (" se13 ", "SE13"), ("br1", "BR1"), ("SE6 4JU", "SE6"), ("ec1a", "EC1A")],
)
def test_outward_code(text: str, expected: str) -> None:
    assert outward_code(text) == expected


@pytest.mark.parametrize("text", ["", "Catford", "SE6 4", "6SE", "SE"])
def test_outward_code_rejects(text: str) -> None:
    assert outward_code(text) is None


_OUTWARD_FORMATS = st.one_of(
    st.tuples(st.sampled_from("ABCDEFGHIJKLMNOPRSTUWYZ"), st.integers(0, 99)).map(
        lambda t: f"{t[0]}{t[1]}"
    ),
    st.tuples(
        st.sampled_from("ABCDEFGHIJKLMNOPRSTUWYZ"),
        st.sampled_from("ABCDEFGHKLMNOPQRSTUVWXY"),
        st.integers(0, 99),
    ).map(lambda t: f"{t[0]}{t[1]}{t[2]}"),
    st.tuples(
        st.sampled_from("ABCDEFGHIJKLMNOPRSTUWYZ"),
        st.integers(0, 9),
        st.sampled_from("ABCDEFGHJKPSTUW"),
    ).map(lambda t: f"{t[0]}{t[1]}{t[2]}"),
    st.tuples(
        st.sampled_from("ABCDEFGHIJKLMNOPRSTUWYZ"),
        st.sampled_from("ABCDEFGHKLMNOPQRSTUVWXY"),
        st.integers(0, 9),
        st.sampled_from("ABEHMNPRVWXY"),
    ).map(lambda t: f"{t[0]}{t[1]}{t[2]}{t[3]}"),
)
_INWARD_LETTER = st.sampled_from("ABDEFGHJLNPQRSTUWXYZ")
_VALID_POSTCODES = st.one_of(
    st.builds(
        lambda o, d, a, b: f"{o} {d}{a}{b}",
        _OUTWARD_FORMATS,
        st.integers(0, 9),
        _INWARD_LETTER,
        _INWARD_LETTER,
    ),
    st.sampled_from([r["postcode"] for r in POSTCODE_ROWS]),
)


@st.composite
def respaced(draw: st.DrawFn, canonical: str) -> str:
    """The postcode with random case and runs of whitespace between or around characters."""
    whitespace = st.text(alphabet=" \t\u00a0", max_size=2)
    chars = [draw(st.sampled_from([c.lower(), c.upper()])) for c in canonical.replace(" ", "")]
    return draw(whitespace) + "".join(c + draw(whitespace) for c in chars)


@given(st.data(), _VALID_POSTCODES)
def test_normalise_postcode_round_trip(data: st.DataObject, canonical: str) -> None:
    assert normalise_postcode(canonical) == canonical
    assert normalise_postcode(data.draw(respaced(canonical))) == canonical


@given(st.text(max_size=40))
def test_normalise_postcode_total_and_canonical(text: str) -> None:
    result = normalise_postcode(text)
    assert result is None or (result == "GIR 0AA" or CANONICAL.fullmatch(result))
    if result is not None:
        assert normalise_postcode(result) == result
    code = outward_code(text)
    assert code is None or normalise_postcode(f"{code} 1AA") == f"{code} 1AA"


@given(text=st.text(max_size=60))
def test_search_never_raises(gaz: Gazetteer, text: str) -> None:
    results = gaz.search(text)
    assert all(0.0 <= c.confidence <= 1.0 for c in results)
    assert [c.confidence for c in results] == sorted((c.confidence for c in results), reverse=True)


# ---- postcodes ----------------------------------------------------------------------------


def test_every_shipped_postcode_geocodes_to_its_ward(gaz: Gazetteer) -> None:
    assert len(POSTCODE_ROWS) == 5000
    wrong = []
    for row in POSTCODE_ROWS:
        found = gaz.search(row["postcode"])
        looked_up = gaz.lookup_postcode(row["postcode_nospace"].lower())
        if (
            len(found) != 1
            or found[0] != looked_up
            or found[0].label != row["postcode"]
            or found[0].kind != "postcode"
            or found[0].confidence != 1.0
            or found[0].ward_code != row["ward_2022_code"]
            or found[0].ward_name != row["ward_2022_name"]
            or abs(found[0].lat - float(row["latitude"])) > 1e-9
            or abs(found[0].lon - float(row["longitude"])) > 1e-9
        ):
            wrong.append((row["postcode"], found, looked_up))
    assert wrong == []


def test_postcode_not_in_lewisham(gaz: Gazetteer) -> None:
    assert gaz.lookup_postcode("SE1 7PB") is None
    assert gaz.search("SE1 7PB") == []
    assert gaz.lookup_postcode("not a postcode") is None


def test_postcode_inside_text(gaz: Gazetteer) -> None:
    assert [c.label for c in gaz.search("12 Rushey Green, London SE6 4JU")] == ["SE6 4JU"]


def test_district_gives_lower_confidence_place(gaz: Gazetteer, wards: WardIndex) -> None:
    (cand,) = gaz.search("se6")
    assert cand.kind == "place"
    assert "SE6" in cand.label
    assert 0 < cand.confidence < 1
    ward = wards.ward_for_point(cand.lon, cand.lat)
    assert ward is not None and ward.code == cand.ward_code
    assert gaz.search("SE1") == []  # a district with no Lewisham postcodes


def test_partial_postcode_lists_completions(gaz: Gazetteer) -> None:
    found = gaz.search("SE6 4J", limit=50)
    assert len(found) > 1
    assert all(c.label.startswith("SE6 4J") and c.kind == "postcode" for c in found)
    assert is_ambiguous(found)


# ---- streets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "label"),
    [
        ("Rushey Green", "Rushey Green"),
        ("rushey grn", "Rushey Green"),
        ("RUSHEY GREEN", "Rushey Green"),
        ("  rushey   green ", "Rushey Green"),
        ("Rushy Green", "Rushey Green"),
        ("Rushey Gren", "Rushey Green"),
        ("Stanstead Rd", "Stanstead Road"),
        ("Stansted Rd", "Stanstead Road"),
        ("Stanstaed Road", "Stanstead Road"),
        ("Lewisham High St", "Lewisham High Street"),
        ("Adelaide Ave", "Adelaide Avenue"),
        ("Barfleur Ln", "Barfleur Lane"),
        ("Acacia Cl", "Acacia Close"),
        ("Bramdean Cres", "Bramdean Crescent"),
        ("Belgravia Gdns", "Belgravia Gardens"),
        ("Dacre Pk", "Dacre Park"),
        ("Belmont Hill", "Belmont Hill"),
        ("Comet Pl", "Comet Place"),
        ("Archer Sq", "Archer Square"),
        ("Aberdeen Tce", "Aberdeen Terrace"),
        ("Abinger Gr", "Abinger Grove"),
        ("Achilles St.", "Achilles Street"),
        ("St Margarets Rd", "St Margaret's Road"),
        ("Saint Margaret's Road", "St Margaret's Road"),
        ("trundleys road", "Trundley's Road"),
        ("Trundley\u2019s Road", "Trundley's Road"),
        ("42 Rushey Green", "Rushey Green"),
        ("Rushey Green SE6", "Rushey Green"),
        ("Rushey Green, Catford", "Rushey Green"),
    ],
)
def test_street_search(gaz: Gazetteer, query: str, label: str) -> None:
    found = gaz.search(query)
    assert found, query
    assert found[0].label == label
    assert found[0].kind == "street"


def test_exact_street_is_one_confident_candidate(gaz: Gazetteer, wards: WardIndex) -> None:
    found = gaz.search("Stanstead Road")
    assert [c.label for c in found] == ["Stanstead Road"]
    cand = found[0]
    assert cand.confidence == 1.0
    # The point is one of the street's own snap points, so it lies on the street.
    snap_points = {
        (float(r["longitude"]), float(r["latitude"]))
        for r in STREET_ROWS
        if r["name"] == "Stanstead Road"
    }
    assert (cand.lon, cand.lat) in snap_points
    ward = wards.ward_for_point(cand.lon, cand.lat)
    assert ward is not None and (ward.code, ward.name) == (cand.ward_code, cand.ward_name)


def test_police_capitalisation_displayed_properly(gaz: Gazetteer) -> None:
    assert _display_name("Trundley'S Road") == "Trundley's Road"
    assert _display_name("St James'S") == "St James's"
    assert _display_name("Lewisham Dlr") == "Lewisham DLR"
    labels = {c.label for q in ("St Germans Place", "Lewisham DLR") for c in gaz.search(q)}
    assert {"St German's Place", "Lewisham DLR"} <= labels
    assert not any("'S" in c.label for c in gaz.search("St", limit=50))


def test_every_shipped_street_name_is_found_at_one_of_its_points(gaz: Gazetteer) -> None:
    points: dict[str, set[tuple[float, float]]] = {}
    for r in STREET_ROWS:
        points.setdefault(r["name"], set()).add((float(r["longitude"]), float(r["latitude"])))
    place_names = {normalise_name(n) for name in TOWN_CENTRES for n in name.split(" and ")}
    missing = []
    for name, pts in points.items():
        if normalise_name(name) in place_names:
            continue  # "Catford", "Deptford": answered by the town centre (tested below)
        found = gaz.search(name)
        on_street = [
            c
            for c in found
            if c.kind == "street"
            and normalise_name(c.label.split(" (")[0]) == normalise_name(name)
            and (c.lon, c.lat) in pts | _points_with_same_key(points, name)
        ]
        if not on_street:
            missing.append((name, found[:2]))
    assert missing == []


def _points_with_same_key(
    points: dict[str, set[tuple[float, float]]], name: str
) -> set[tuple[float, float]]:
    key = normalise_name(name)
    return {p for other, pts in points.items() if normalise_name(other) == key for p in pts}


def test_same_name_streets_are_separate_and_ambiguous(gaz: Gazetteer) -> None:
    found = gaz.search("Chestnut Close")
    assert len(found) == 2
    assert {c.ward_name for c in found} == {"Brockley", "Downham"}
    assert all(c.label.startswith("Chestnut Close (") for c in found)
    assert all(c.confidence <= 0.5 for c in found)
    assert is_ambiguous(found)


def test_common_prefix_is_ambiguous(gaz: Gazetteer) -> None:
    found = gaz.search("Rushey")
    assert {c.label for c in found} == {"Rushey Green", "Rushey Mead"}
    assert is_ambiguous(found)


def test_lewisham_is_ambiguous(gaz: Gazetteer) -> None:
    found = gaz.search("Lewisham", limit=10)
    labels = [c.label for c in found]
    assert found[0].kind == "place"
    assert found[0].label == "Lewisham town centre"
    assert {"Lewisham Way", "Lewisham High Street"} <= set(labels)
    assert found[0].confidence < 0.9
    assert is_ambiguous(found)


@pytest.mark.parametrize("query", ["", "   ", "!!!", "zzqxjv", "12345", "road", "a", "\x00\x01"])
def test_garbage_gives_nothing(gaz: Gazetteer, query: str) -> None:
    assert gaz.search(query) == []


def test_limit(gaz: Gazetteer) -> None:
    assert len(gaz.search("Lewisham", limit=2)) == 2
    assert gaz.search("Lewisham", limit=0) == []


# ---- places -------------------------------------------------------------------------------


def test_catford_is_the_town_centre(gaz: Gazetteer) -> None:
    top = gaz.search("Catford")[0]
    assert top.kind == "place"
    assert TOWN_CENTRES["Catford"].contains(shapely.Point(top.lon, top.lat))
    assert (top.ward_code, top.ward_name) == ("E05013730", "Rushey Green")


@pytest.mark.parametrize("sitename", sorted(TOWN_CENTRES))
def test_every_town_centre(gaz: Gazetteer, wards: WardIndex, sitename: str) -> None:
    for query in (sitename, f"{sitename} town centre"):
        top = gaz.search(query)[0]
        assert top.kind == "place", query
        assert top.label == f"{sitename} town centre"
        assert TOWN_CENTRES[sitename].contains(shapely.Point(top.lon, top.lat))
        ward = wards.ward_for_point(top.lon, top.lat)
        assert ward is not None and ward.code == top.ward_code
    assert gaz.search(f"{sitename} town centre")[0].confidence == 1.0


@pytest.mark.parametrize(
    ("query", "sitename"),
    [("Forest Hill", "Forest Hill"), ("New Cross Gate", "New Cross and New Cross Gate")],
)
def test_place_aliases(gaz: Gazetteer, query: str, sitename: str) -> None:
    assert gaz.search(query)[0].label == f"{sitename} town centre"


# ---- reverse ------------------------------------------------------------------------------


def test_reverse_near_catford_broadway(gaz: Gazetteer) -> None:
    result = gaz.reverse(*CATFORD_BROADWAY)
    assert isinstance(result, ReverseResult)
    assert result.street is not None
    assert result.street_distance_m is not None and result.street_distance_m < 100
    assert result.postcode is not None and result.postcode.startswith("SE6 ")
    assert result.postcode_distance_m is not None and result.postcode_distance_m < 100
    assert (result.ward_code, result.ward_name) == ("E05013730", "Rushey Green")


def test_reverse_distance_matches_great_circle(gaz: Gazetteer) -> None:
    result = gaz.reverse(*CATFORD_BROADWAY)
    pc = gaz.lookup_postcode(result.postcode or "")
    assert pc is not None
    expected = haversine_m(*CATFORD_BROADWAY, pc.lon, pc.lat)
    assert result.postcode_distance_m == pytest.approx(expected, rel=0.01, abs=0.1)


def test_reverse_at_postcodes_finds_them(gaz: Gazetteer) -> None:
    for row in POSTCODE_ROWS[::50]:
        result = gaz.reverse(float(row["longitude"]), float(row["latitude"]))
        assert result.postcode_distance_m is not None and result.postcode_distance_m < 0.5
        pc = gaz.lookup_postcode(result.postcode or "")
        assert pc is not None
        assert (pc.lon, pc.lat) == (float(row["longitude"]), float(row["latitude"]))
        assert result.ward_code == row["ward_2022_code"]


def test_reverse_outside_borough_has_no_ward(gaz: Gazetteer) -> None:
    result = gaz.reverse(0.0, 51.48)  # Greenwich Park
    assert result.ward_code is None and result.ward_name is None
    assert result.postcode_distance_m is not None and result.postcode_distance_m > 500


@pytest.mark.parametrize("point", [(math.nan, 51.44), (-0.02, math.inf), (0.0, 95.0)])
def test_reverse_rejects_non_points(gaz: Gazetteer, point: tuple[float, float]) -> None:
    with pytest.raises(ValueError, match="lon="):
        gaz.reverse(*point)


def test_overlong_query_gives_nothing(gaz: Gazetteer) -> None:
    assert gaz.search("Rushey Green " * 50) == []


# ---- outside the borough ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SE10 8EW", "Greenwich"),
        ("se3 7aa", "Greenwich"),
        ("SE15 1AA", "Southwark"),
        ("BR1 1AA", "Bromley"),
        ("SE26 6ZZ", "Southwark or Bromley"),
        ("SE3", "Greenwich"),
        ("BR1", "Bromley"),
        ("SE26", "Southwark or Bromley"),
        ("SE6", None),  # all Lewisham: an unknown SE6 postcode is more likely a typo
        ("EC1A 1BB", None),  # nowhere near
        ("Catford", None),
        ("SE6 4JU", None),  # a Lewisham postcode
    ],
)
def test_where_to_report(gaz: Gazetteer, text: str, expected: str | None) -> None:
    canonical = normalise_postcode(text)
    if expected is not None and canonical is not None:
        assert canonical not in gaz.postcodes
    assert OutsideBorough.from_gazetteer(gaz).where_to_report(text) == expected


def test_where_to_report_lewisham_postcode_in_shared_district(gaz: Gazetteer) -> None:
    inside = next(r["postcode"] for r in POSTCODE_ROWS if r["postcode"].startswith("SE3 "))
    assert OutsideBorough.from_gazetteer(gaz).where_to_report(inside) is None


# ---- geocoder interface and the network adapter -------------------------------------------


def _location(label: str, lon: float, lat: float, **raw: Any) -> Location:
    raw = {"name": label, "lat": str(lat), "lon": str(lon), **raw}
    return Location(f"{label}, London Borough of Lewisham, London", (lat, lon), raw)


class FakeGeopy:
    """A geopy-compatible stand-in for Nominatim: replays scripted answers or exceptions."""

    def __init__(self, geocode: list[Any] | None = None, reverse: list[Any] | None = None):
        self.geocode_script = list(geocode or [])
        self.reverse_script = list(reverse or [])
        self.geocode_calls: list[tuple[str, dict[str, Any]]] = []
        self.reverse_calls: list[tuple[Any, dict[str, Any]]] = []

    @staticmethod
    def _next(script: list[Any]) -> Any:
        outcome = script.pop(0) if script else None
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def geocode(self, query: str, **kwargs: Any) -> Any:
        self.geocode_calls.append((query, kwargs))
        return self._next(self.geocode_script)

    def reverse(self, query: Any, **kwargs: Any) -> Any:
        self.reverse_calls.append((query, kwargs))
        return self._next(self.reverse_script)


BROADWAY = _location("Catford Broadway", -0.0207, 51.4452, **{"class": "highway"})
GREENWICH_PARK = _location("Greenwich Park", 0.0, 51.48, **{"class": "leisure"})


@pytest.fixture
def make_nominatim(gaz: Gazetteer) -> Any:
    def make(fake: FakeGeopy, **kwargs: Any) -> NominatimGeocoder:
        kwargs.setdefault("min_interval_s", 0.0)
        return NominatimGeocoder("safer-streets-tests", gazetteer=gaz, geocoder=fake, **kwargs)

    return make


def test_geocoders_satisfy_the_protocol(gaz: Gazetteer, make_nominatim: Any) -> None:
    offline = OfflineGeocoder(gaz)
    for geocoder in (gaz, offline, make_nominatim(FakeGeopy())):
        assert isinstance(geocoder, Geocoder)
    assert offline.search("SE6 4JU") == gaz.search("SE6 4JU")
    assert offline.reverse(*CATFORD_BROADWAY) == gaz.reverse(*CATFORD_BROADWAY)


def test_nominatim_bounded_to_lewisham(make_nominatim: Any) -> None:
    fake = FakeGeopy(geocode=[[BROADWAY]])
    (cand,) = make_nominatim(fake, timeout_s=3.0).search("Catford Broadway", limit=3)
    assert cand == Candidate(
        "Catford Broadway", "street", -0.0207, 51.4452, "E05013730", "Rushey Green", 0.8
    )
    query, kwargs = fake.geocode_calls[0]
    assert query == "Catford Broadway"
    assert kwargs["bounded"] is True
    assert kwargs["timeout"] == 3.0
    assert kwargs["limit"] == 3
    (south, west), (north, east) = kwargs["viewbox"]
    assert south < 51.4452 < north and west < -0.0207 < east
    assert (north - south) < 0.1 and (east - west) < 0.15  # Lewisham, not London


def test_nominatim_retries_transient_errors(make_nominatim: Any) -> None:
    fake = FakeGeopy(
        geocode=[exc.GeocoderTimedOut("slow"), exc.GeocoderUnavailable("down"), [BROADWAY]]
    )
    found = make_nominatim(fake, retries=2).search("Catford Broadway")
    assert len(fake.geocode_calls) == 3
    assert [c.label for c in found] == ["Catford Broadway"]
    assert found[0].confidence < 1.0


def test_nominatim_falls_back_after_retries(gaz: Gazetteer, make_nominatim: Any) -> None:
    fake = FakeGeopy(geocode=[exc.GeocoderServiceError("500")] * 5)
    found = make_nominatim(fake, retries=2).search("rushey grn")
    assert len(fake.geocode_calls) == 3
    assert found == gaz.search("rushey grn")


def test_nominatim_does_not_retry_permanent_errors(gaz: Gazetteer, make_nominatim: Any) -> None:
    for error in (exc.GeocoderQueryError("bad"), exc.GeocoderRateLimited("slow down")):
        fake = FakeGeopy(geocode=[error, [BROADWAY]])
        assert make_nominatim(fake, retries=3).search("Catford") == gaz.search("Catford")
        assert len(fake.geocode_calls) == 1


def test_nominatim_drops_results_outside_borough(gaz: Gazetteer, make_nominatim: Any) -> None:
    fake = FakeGeopy(geocode=[[GREENWICH_PARK, BROADWAY]])
    assert [c.label for c in make_nominatim(fake).search("park")] == ["Catford Broadway"]
    fake = FakeGeopy(geocode=[[GREENWICH_PARK]])
    assert make_nominatim(fake).search("Rushey Green") == gaz.search("Rushey Green")


def test_nominatim_empty_answer_falls_back(gaz: Gazetteer, make_nominatim: Any) -> None:
    for answer in (None, []):
        fake = FakeGeopy(geocode=[answer])
        assert make_nominatim(fake).search("Catford") == gaz.search("Catford")


def test_nominatim_caches(make_nominatim: Any) -> None:
    fake = FakeGeopy(geocode=[[BROADWAY], [BROADWAY], [BROADWAY]])
    geocoder = make_nominatim(fake, cache_size=1)
    first = geocoder.search("Catford Broadway")
    assert geocoder.search("  catford   BROADWAY ") == first
    assert len(fake.geocode_calls) == 1
    geocoder.search("Rushey Green")  # evicts the only cache slot
    geocoder.search("Catford Broadway")
    assert len(fake.geocode_calls) == 3


def test_nominatim_does_not_cache_failures(make_nominatim: Any) -> None:
    fake = FakeGeopy(geocode=[exc.GeocoderUnavailable("down"), [BROADWAY]])
    geocoder = make_nominatim(fake, retries=0)
    assert geocoder.search("Catford Broadway")[0].kind == "street"  # offline answer
    assert geocoder.search("Catford Broadway")[0].confidence == 0.8  # network answer
    assert len(fake.geocode_calls) == 2


def test_nominatim_full_postcode_answered_offline(gaz: Gazetteer, make_nominatim: Any) -> None:
    fake = FakeGeopy()
    assert make_nominatim(fake).search("se6 4ju") == [gaz.lookup_postcode("SE6 4JU")]
    assert fake.geocode_calls == []


def test_nominatim_throttles_to_its_usage_policy(make_nominatim: Any) -> None:
    waits: list[float] = []
    fake = FakeGeopy(geocode=[[BROADWAY], [BROADWAY]])
    geocoder = make_nominatim(fake, min_interval_s=1.0, sleep=waits.append, clock=lambda: 100.0)
    geocoder.search("one")
    geocoder.search("two")
    assert waits == [pytest.approx(1.0)]


def test_nominatim_reverse_uses_osm_street(gaz: Gazetteer, make_nominatim: Any) -> None:
    answer = _location("x", -0.0207, 51.4452, address={"road": "Rushey Green"})
    fake = FakeGeopy(reverse=[answer])
    geocoder = make_nominatim(fake)
    offline = gaz.reverse(*CATFORD_BROADWAY)
    result = geocoder.reverse(*CATFORD_BROADWAY)
    assert result.street == "Rushey Green"
    assert result.street_distance_m is None
    assert (result.postcode, result.ward_code) == (offline.postcode, offline.ward_code)
    assert fake.reverse_calls[0][0] == (51.4452, -0.0207)
    assert geocoder.reverse(*CATFORD_BROADWAY) == result
    assert len(fake.reverse_calls) == 1


def test_nominatim_reverse_falls_back(gaz: Gazetteer, make_nominatim: Any) -> None:
    fake = FakeGeopy(reverse=[exc.GeocoderTimedOut("slow")] * 2)
    result = make_nominatim(fake, retries=1).reverse(*CATFORD_BROADWAY)
    assert result == gaz.reverse(*CATFORD_BROADWAY)
    assert len(fake.reverse_calls) == 2


def test_nominatim_requires_user_agent(gaz: Gazetteer) -> None:
    with pytest.raises(ValueError, match="user agent"):
        NominatimGeocoder(" ", gazetteer=gaz, geocoder=FakeGeopy())


def test_reverse_many_agrees_with_reverse(gaz: Gazetteer) -> None:
    rng = np.random.default_rng(11)
    lons = rng.uniform(-0.08, 0.045, 500)
    lats = rng.uniform(51.41, 51.50, 500)
    assert gaz.reverse_many(lons, lats) == [
        gaz.reverse(float(lon), float(lat)) for lon, lat in zip(lons, lats, strict=True)
    ]
    with pytest.raises(ValueError, match="finite"):
        gaz.reverse_many(np.array([0.0, np.nan]), np.array([51.45, 51.45]))


def test_geocoders_reverse_many_as_reverse_one_by_one(gaz: Gazetteer, make_nominatim: Any) -> None:
    lons = np.array([CATFORD_BROADWAY[0], -0.0130, 0.2])
    lats = np.array([CATFORD_BROADWAY[1], 51.4630, 51.45])
    one_by_one = [gaz.reverse(float(lon), float(lat)) for lon, lat in zip(lons, lats, strict=True)]
    assert OfflineGeocoder(gaz).reverse_many(lons, lats) == one_by_one
    road = _location("x", -0.0207, 51.4452, address={"road": "Rushey Green"})
    fake = FakeGeopy(reverse=[road, None, None])
    placed = make_nominatim(fake).reverse_many(lons, lats)
    assert placed[0].street == "Rushey Green" and placed[1:] == one_by_one[1:]
    assert [call[0] for call in fake.reverse_calls] == [
        (51.4452, -0.0207),
        (51.463, -0.013),
        (51.45, 0.2),
    ]
