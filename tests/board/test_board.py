"""The safety board on real PostGIS: who may see what, stored runs, suppression, exports."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from geo import correlation, density, gistar, hotspots, projection, significance
from geo.suntimes import LONDON
from safer_streets.accounts import users
from safer_streets.board import dashboard, exports, publishing, runs
from safer_streets.board.filters import default_filters
from safer_streets.models import HotspotCell, HotspotRun, ReportStatus, Role, RunStatus
from tests.board_data import CATFORD, add_reports, around, scattered
from tests.helpers import PASSWORD, PASSWORDS, login

STUDY_AREA = projection.read_boundary()
TODAY = datetime.now(UTC).astimezone(LONDON).date()
SNT = "met-snt-rushey-green"
RESOLVED = ReportStatus.RESOLVED


@pytest.fixture
def sign_in(app, db_session):
    """A client signed in with a new account of the given role."""

    def sign(role: Role, partner: str | None = None):
        email = f"{role.value}.{partner or 'all'}@board.test"
        users.create_user(
            db_session,
            passwords=PASSWORDS,
            email=email,
            password=PASSWORD,
            role=role,
            partner_slug=partner,
        )
        client = app.test_client()
        login(client, email)
        return client

    return sign


def compute_default_run(session, **filters) -> HotspotRun:
    """Compute a run for the default filters (optionally changed) as the worker would."""
    chosen = replace(default_filters(TODAY), **filters)
    run = runs.create_run(session, runs.RunParameters.from_filters(chosen, permutations=99, seed=7))
    assert runs.compute_run(session, run.id, study_area=STUDY_AREA)
    return run


@pytest.fixture
def catford_cluster(db_session):
    """Fly-tipping spread over the borough and a dense cluster at Catford Broadway."""
    add_reports(db_session, "fly-tipping", scattered(300), owner="lewisham-environment")
    add_reports(db_session, "drug-dealing", around(CATFORD, 60), owner="met-snt-rushey-green")
    return db_session


# ----------------------------------------------------------------------------- access


def test_residents_without_an_account_are_sent_to_sign_in(client):
    response = client.get("/board")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/board")
    assert client.get("/board/map.js").status_code == 302
    assert client.get("/board/aggregates.csv").status_code == 302


def test_partners_see_the_aggregate_board_but_not_points_or_report_rows(sign_in, catford_cluster):
    compute_default_run(catford_cluster)
    partner = sign_in(Role.STAFF, "met-snt-rushey-green")
    page = partner.get("/board")
    assert page.status_code == 200
    assert "partners' view" in page.text
    assert "Compute hot spots" not in page.text
    said_did = partner.get("/board/you-said-we-did")
    assert said_did.status_code == 200
    assert "Publish this for residents" not in said_did.text
    assert partner.get("/board/partners").status_code == 200
    assert partner.get("/board/trends").status_code == 200
    script = partner.get("/board/map.js").text
    assert "Hot and cold spots" in script
    assert "Reports (points)" not in script
    assert partner.get("/board/reports.csv").status_code == 403
    assert partner.get("/board/reports.geojson").status_code == 403
    assert partner.get("/board/aggregates.csv").status_code == 200
    assert partner.post("/board/runs", data={}).status_code == 403


def test_the_board_sees_points_exports_and_may_compute_runs(sign_in, catford_cluster):
    member = sign_in(Role.BOARD)
    page = member.get("/board")
    assert page.status_code == 200
    assert "Compute hot spots for these filters" in page.text
    assert "Publish this for residents" in member.get("/board/you-said-we-did").text
    assert "Reports (points)" in member.get("/board/map.js").text
    assert member.get("/board/reports.csv").status_code == 200


def test_the_board_page_sets_a_self_only_content_security_policy(sign_in):
    page = sign_in(Role.ADMIN).get("/board")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "style-src 'self';" in policy
    assert "unsafe-inline" not in policy
    assert "<script>" not in page.text
    assert ' style="' not in page.text
    for url in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        # Paths on this site, fragments, and this page with another query (the languages).
        assert url.startswith(("/", "#", "?")), url


def test_the_board_allows_and_draws_tiles_from_the_configured_tile_server(app_with, db_session):
    tiles = "https://tiles.example.org/lewisham/{z}/{x}/{y}.png"
    users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="tiles@board.test",
        password=PASSWORD,
        role=Role.BOARD,
        partner_slug=None,
    )
    client = app_with(map_tiles_url=tiles).test_client()
    login(client, "tiles@board.test")
    policy = client.get("/board").headers["Content-Security-Policy"]
    directives = dict(d.split(" ", 1) for d in policy.split("; "))
    assert "https://tiles.example.org" in directives["img-src"].split()
    assert "openstreetmap" not in policy
    assert "script-src 'self'" in policy
    assert tiles in client.get("/board/map.js").text


# ------------------------------------------------------------------ stored results only


def test_the_board_shows_the_stored_run_and_computes_nothing_on_a_request(
    sign_in, db_session, monkeypatch
):
    # A run written by hand: values no computation on these (zero) reports would give.
    filters = default_filters(TODAY)
    run = runs.create_run(
        db_session, runs.RunParameters.from_filters(filters, permutations=0, seed=1)
    )
    run.status = RunStatus.DONE
    run.computed_at = datetime.now(UTC)
    run.summary = {
        "n_points": 4321,
        "includes_sensitive": False,
        "label_counts": {"hot-99": 1},
        "method": "Stored method text",
    }
    db_session.add(
        HotspotCell(
            run_id=run.id,
            iy=1,
            ix=1,
            cell="SRID=4326;POLYGON((-0.021 51.445,-0.0196 51.445,-0.0196 51.4459,"
            "-0.021 51.4459,-0.021 51.445))",
            count=17,
            z=9.87,
            p=1e-9,
            q=1e-7,
            gi_bin=3,
            label="hot-99",
            density=123.0,
        )
    )
    db_session.flush()

    def forbidden(*args, **kwargs):
        raise AssertionError("statistics computed on a request")

    for module, name in (
        (hotspots, "compute_hotspots"),
        (gistar, "getis_ord_gi_star"),
        (density, "kernel_density"),
        (correlation, "rank_correlation"),
    ):
        monkeypatch.setattr(module, name, forbidden)
    member = sign_in(Role.BOARD)
    page = member.get("/board")
    assert page.status_code == 200
    assert f"Hotspot run {run.id}" in page.text
    assert "4,321 reports" in page.text
    assert "Stored method text" in page.text
    assert "9.87" in member.get("/board/map.js").text
    cells = member.get(f"/board/runs/{run.id}/cells.geojson").get_json()
    assert cells["features"][0]["properties"]["z"] == 9.87


def test_filters_without_a_run_say_so_and_still_show_wards(sign_in, catford_cluster):
    compute_default_run(catford_cluster)
    member = sign_in(Role.BOARD)
    page = member.get("/board?category=graffiti-vandalism")
    assert "No hotspot run for these filters yet" in page.text
    script = member.get("/board/map.js?category=graffiti-vandalism").text
    assert "Reports per ward" in script
    assert "Hot and cold spots" not in script


def test_a_computed_run_finds_the_catford_cluster(catford_cluster):
    run = compute_default_run(catford_cluster)
    distances = catford_cluster.scalars(
        select(
            func.ST_DistanceSphere(
                func.ST_Centroid(HotspotCell.cell),
                func.ST_SetSRID(func.ST_MakePoint(*CATFORD), 4326),
            )
        ).where(HotspotCell.run_id == run.id, HotspotCell.label == "hot-99")
    ).all()
    assert distances, run.summary["label_counts"]
    assert max(distances) < 400
    assert run.summary["n_points"] == 360
    assert run.summary["cells_stored"] == run.summary["statistics"]["n_cells"]
    assert run.summary["statistics"]["seed"] == 7


# ------------------------------------------------------------------------ suppression


@pytest.fixture
def sensitive_reports(db_session):
    """Two harassment reports in Rushey Green, 30 fly-tips spread out, 40 at Catford."""
    add_reports(db_session, "harassment", around(CATFORD, 2, seed=5), owner="met-snt-rushey-green")
    add_reports(db_session, "fly-tipping", scattered(30), owner="lewisham-environment")
    add_reports(db_session, "fly-tipping", around(CATFORD, 40), owner="lewisham-environment")
    return db_session


def ward_count(page_text: str, ward: str) -> str:
    match = re.search(rf'<th scope="row">{ward}</th><td class="n">([^<]+)</td>', page_text)
    assert match, ward
    return match.group(1)


def test_small_sensitive_counts_are_withheld_outside_the_board(sign_in, sensitive_reports):
    run = compute_default_run(sensitive_reports)
    board_view = sign_in(Role.BOARD).get("/board").text
    partner = sign_in(Role.STAFF, "lewisham-highways")
    page = partner.get("/board").text

    # The two harassment reports are left out of Rushey Green's total, which says so.
    assert int(ward_count(board_view, "Rushey Green")) >= 42
    assert ward_count(page, "Rushey Green") == f"{int(ward_count(board_view, 'Rushey Green')) - 2}*"
    assert "totals marked * leave them out" in page
    category = re.search(
        r'id="category-table".*?Harassment of women and girls</th>(.*?)</tr>', page, re.S
    )
    assert category and "withheld" in category.group(1)
    trends_page = partner.get("/board/trends").text
    trend = re.search(r"Harassment of women and girls</th>(.*?)</tr>", trends_page, re.S)
    assert trend and "withheld" in trend.group(1)
    assert "2" not in re.sub(r"<[^>]+>", "", trend.group(1))

    counts = list(csv.DictReader(io.StringIO(partner.get("/board/aggregates.csv").text)))
    harassment = [r for r in counts if r["category"] == "harassment"]
    assert harassment and all(r["count"] == "" and r["withheld"] == "True" for r in harassment)
    cells = partner.get(f"/board/runs/{run.id}/cells.geojson?all=1").get_json()
    assert cells["features"] and all(f["properties"]["count"] >= 5 for f in cells["features"])
    script = partner.get("/board/map.js").text
    assert "Reports (points)" not in script


def test_the_board_sees_small_sensitive_counts(sign_in, sensitive_reports):
    run = compute_default_run(sensitive_reports)
    member = sign_in(Role.BOARD)
    cells = member.get(f"/board/runs/{run.id}/cells.geojson?all=1").get_json()
    assert any(0 < f["properties"]["count"] < 5 for f in cells["features"])
    counts = list(csv.DictReader(io.StringIO(member.get("/board/aggregates.csv").text)))
    assert sum(int(r["count"]) for r in counts if r["category"] == "harassment") == 2


def test_published_summaries_never_show_small_sensitive_counts_or_reporters(
    sign_in, db_session, client
):
    add_reports(
        db_session,
        "harassment",
        around(CATFORD, 3, seed=9),
        owner="met-snt-rushey-green",
        status=ReportStatus.RESOLVED,
        resolution_note="Officer spoke to the reporter at home",
        contact_email="victim@example.org",
    )
    add_reports(
        db_session,
        "fly-tipping",
        around(CATFORD, 6, seed=10),
        owner="lewisham-environment",
        status=ReportStatus.RESOLVED,
        resolution_note="Mattresses cleared from Rushey Green.",
    )
    member = sign_in(Role.BOARD)
    response = member.post("/board/you-said-we-did", data={"period": "12m"})
    assert response.status_code == 303
    public = client.get("/you-said-we-did")
    assert public.status_code == 200
    assert "Rushey Green" in public.text
    assert "6 about fly-tipping" in public.text
    assert "Mattresses cleared from Rushey Green." in public.text
    assert "harassment" not in public.text.split("To protect")[0].lower()
    assert "victim@example.org" not in public.text
    assert "spoke to the reporter" not in public.text


def test_a_published_summary_cannot_be_differenced_into_a_small_sensitive_count(
    sign_in, db_session, client
):
    """Seven harassment reports (shown) of which five resolved: publishing "5 resolved" would
    tell anyone that 2 are still open, a count below the threshold. The resolved count is
    withheld instead; where nothing small can be worked out, it is shown."""
    add_reports(db_session, "harassment", around(CATFORD, 2, seed=11), owner=SNT)
    add_reports(db_session, "harassment", around(CATFORD, 5, seed=12), owner=SNT, status=RESOLVED)
    add_reports(db_session, "weapons", around(CATFORD, 6, seed=13), owner=SNT, status=RESOLVED)
    member = sign_in(Role.BOARD)
    assert member.post("/board/you-said-we-did", data={"period": "12m"}).status_code == 303
    summary = publishing.latest_published(db_session)
    (rushey_green,) = [w for w in summary.content["wards"] if w["ward"] == "Rushey Green"]
    lines = {line["category"].split()[0]: line for line in rushey_green["lines"]}
    assert (lines["Harassment"]["reported"], lines["Harassment"]["resolved"]) == ("7", "withheld")
    assert (lines["Weapons"]["reported"], lines["Weapons"]["resolved"]) == ("6", "6")
    public = client.get("/you-said-we-did").text
    assert "7 about harassment" in public
    assert "5 harassment" not in public and "5 " not in public.split("We did:")[1][:200]


# ---------------------------------------------------------------------------- exports


def test_report_exports_are_valid_csv_and_geojson_without_personal_details(sign_in, db_session):
    add_reports(
        db_session,
        "street-lighting",
        around(CATFORD, 5),
        contact_email="someone@example.org",
        description="My name is Sam and I live at number 4",
    )
    member = sign_in(Role.BOARD)
    response = member.get("/board/reports.csv")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 5
    assert set(rows[0]) == set(exports.REPORT_EXPORT_COLUMNS)
    assert {r["ward_name"] for r in rows} == {"Rushey Green"}
    assert "someone@example.org" not in response.text and "Sam" not in response.text

    geojson = json.loads(member.get("/board/reports.geojson?download=1").text)
    assert geojson["type"] == "FeatureCollection"
    assert len(geojson["features"]) == 5
    for feature in geojson["features"]:
        lon, lat = feature["geometry"]["coordinates"]
        assert feature["geometry"]["type"] == "Point"
        assert -0.08 < lon < 0.04 and 51.41 < lat < 51.50
        assert feature["properties"]["category"] == "street-lighting"


def test_exports_follow_the_filters(sign_in, db_session):
    add_reports(db_session, "street-lighting", around(CATFORD, 3))
    add_reports(db_session, "fly-tipping", around(CATFORD, 4))
    add_reports(
        db_session, "fly-tipping", around(CATFORD, 7), when=datetime.now(UTC) - timedelta(days=500)
    )
    member = sign_in(Role.BOARD)
    rows = list(
        csv.DictReader(io.StringIO(member.get("/board/reports.csv?category=fly-tipping").text))
    )
    assert len(rows) == 4
    rows = list(
        csv.DictReader(
            io.StringIO(member.get("/board/reports.csv?category=fly-tipping&period=24m").text)
        )
    )
    assert len(rows) == 11


def test_hotspot_cell_exports_are_valid(sign_in, catford_cluster):
    run = compute_default_run(catford_cluster)
    member = sign_in(Role.BOARD)
    document = member.get(f"/board/runs/{run.id}/cells.geojson").get_json()
    assert document["type"] == "FeatureCollection"
    assert document["run"]["parameters"]["permutations"] == 99
    assert document["features"]
    for feature in document["features"]:
        ring = feature["geometry"]["coordinates"][0]
        assert feature["geometry"]["type"] == "Polygon"
        assert ring[0] == ring[-1] and len(ring) == 5
        assert feature["properties"]["label"] != "not-significant"
    everything = member.get(f"/board/runs/{run.id}/cells.geojson?all=1").get_json()
    assert len(everything["features"]) == run.summary["cells_stored"]
    rows = list(csv.DictReader(io.StringIO(member.get(f"/board/runs/{run.id}/cells.csv").text)))
    assert len(rows) == len(document["features"])
    assert {"centre_lon", "centre_lat", "z", "q", "label"} <= set(rows[0])
    # One p per cell, named: the conditional one the label was decided on.
    assert [c for c in rows[0] if c.startswith("p")] == ["p", "p_method"]
    assert {r["p_method"] for r in rows} == {"exact conditional-randomisation p"}
    for row in rows:
        assert row["meaning"] == significance.plain_words(row["label"])
    assert member.get("/board/runs/999999/cells.csv").status_code == 404


# ------------------------------------------------------------------------ filters


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("period=custom&from=2025-13-01", "from", "must be a date"),
        ("period=custom&from=2025-05-01&to=2025-01-01", "to", "on or after the start"),
        ("period=custom", "from", "is required"),
        ("category=unicorns", "category", "unknown category"),
        ("time=teatime", "time", "unknown time of day"),
        ("ward=atlantis", "ward", "unknown ward"),
    ],
)
def test_bad_filters_are_named_next_to_their_field(sign_in, query, field, message):
    member = sign_in(Role.BOARD)
    page = member.get(f"/board?{query}")
    assert page.status_code == 422
    assert f'id="filter-{field}-error"' in page.text
    assert message in page.text
    for tab in ("/board/trends", "/board/partners", "/board/you-said-we-did"):
        assert member.get(f"{tab}?{query}").status_code == 422


def test_bad_filters_on_exports_are_a_clear_422(sign_in):
    response = sign_in(Role.BOARD).get("/board/reports.csv?period=custom&from=yesterday")
    assert response.status_code == 422


def test_zooming_to_catford_town_centre_is_one_click(sign_in):
    member = sign_in(Role.BOARD)
    page = member.get("/board")
    link = re.search(r'<a href="([^"]+)">Catford town centre</a>', page.text)
    assert link and "area=catford-town-centre" in link.group(1)
    script = member.get(
        link.group(1).replace("/board?", "/board/map.js?").replace("&amp;", "&")
    ).text
    assert '"catford-town-centre"' in script  # the in-map control, Catford first
    assert "fitBounds" in script


# ------------------------------------------------------------------ partner performance


def test_partner_performance_counts_breaches_against_the_sla(sign_in, db_session):
    # Highways: acknowledge within 48 h, resolve within 480 h (20 days).
    old = datetime.now(UTC) - timedelta(days=40)
    add_reports(
        db_session,
        "street-lighting",
        around(CATFORD, 3),
        when=old,
        owner="lewisham-highways",
        status=ReportStatus.RESOLVED,
        acknowledged_after=timedelta(hours=10),
        resolved_after=timedelta(days=5),
    )
    add_reports(
        db_session,
        "street-lighting",
        around(CATFORD, 2),
        when=old,
        owner="lewisham-highways",
        status=ReportStatus.ACKNOWLEDGED,
        acknowledged_after=timedelta(hours=72),
    )
    rows = dashboard.partner_performance(db_session, default_filters(TODAY))
    highways = next(r for r in rows if r.name == "Lewisham Council Highways")
    assert highways.reports == 5
    assert highways.acknowledged == 5
    assert highways.acknowledged_in_time == 3
    assert highways.acknowledge_breaches == 2
    assert highways.resolved == 3
    assert highways.resolved_in_time == 3
    assert highways.resolve_breaches == 2  # still open 40 days after a 20-day target
    assert highways.median_hours_to_acknowledge == pytest.approx(10)
    page = sign_in(Role.BOARD).get("/board/partners")
    assert re.search(r"Lewisham Council Highways</th><td class=\"n\">5</td>", page.text)


# ------------------------------------------------------------------------ recorded crime


def test_recorded_crime_is_set_beside_the_period_with_the_months_named(sign_in, db_session):
    from geo.wards import Borough, WardIndex
    from safer_streets.data import police

    places = police.CrimePlaces(Borough.from_geojson().geometry, WardIndex.from_geojson())
    header = ",".join(police.COLUMNS)
    met = "Metropolitan Police Service,Metropolitan Police Service"
    rows = [
        f"c{i},{month},{met},-0.0207,51.4452,On or near Catford Broadway,"
        "E01003291,Lewisham 035B,Burglary,,"
        for i, month in enumerate(["2023-01", "2024-03", "2024-03", "2024-04"])
    ]
    police.import_street_csv(
        db_session, io.StringIO("\n".join([header, *rows])), name="t.csv", places=places
    )
    # A period ending after the latest imported month uses the latest months instead.
    window = runs.crime_months(db_session, date(2025, 1, 1), date(2025, 6, 30))
    assert window == (date(2023, 11, 1), date(2024, 4, 1))
    assert sum(runs.crimes_per_ward(db_session, window).values()) == 3
    page = sign_in(Role.BOARD).get("/board?period=custom&from=2024-03-01&to=2024-03-31")
    assert "Recorded crime: Mar 2024 to Mar 2024." in page.text
    assert ward_count(page.text, "Rushey Green") == "0"
    assert re.search(
        r'<th scope="row">Rushey Green</th>(?:<td[^>]*>[^<]*</td>){3}<td class="n">2</td>',
        page.text,
    )


def test_trends_count_reports_by_month_and_by_london_day_and_hour(sign_in, db_session):
    local = datetime.combine(TODAY - timedelta(days=10), datetime.min.time()).replace(
        hour=21, minute=30, tzinfo=LONDON
    )
    add_reports(db_session, "graffiti-vandalism", around(CATFORD, 4), when=local.astimezone(UTC))
    view = dashboard.trends(db_session, None, default_filters(TODAY), min_count=5)
    month = view.months.index(local.date().replace(day=1))
    graffiti = next(t for t in view.category_trends if t.name.startswith("Graffiti"))
    assert graffiti.counts[month].value == 4
    assert sum(c.value or 0 for c in graffiti.counts) == 4
    assert view.profile[local.weekday()][21].value == 4
    assert view.profile_level(view.profile[local.weekday()][21]) == 5
    page = sign_in(Role.BOARD).get("/board/trends")
    assert 'class="n level-5">4</td>' in page.text


def test_report_points_are_offered_only_below_the_point_limit(db_session, app_with):
    add_reports(db_session, "fly-tipping", around(CATFORD, 4))
    users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="limit@board.test",
        password=PASSWORD,
        role=Role.BOARD,
        partner_slug=None,
    )

    def client_with_limit(limit: int):
        client = app_with(board_point_limit=limit).test_client()
        login(client, "limit@board.test")
        return client

    few = client_with_limit(5)
    assert "Reports (points)" in few.get("/board/map.js").text
    assert "tick “Reports (points)”" in few.get("/board").text
    many = client_with_limit(4)
    assert "Reports (points)" not in many.get("/board/map.js").text
    assert "too many to draw one by one" in many.get("/board").text
