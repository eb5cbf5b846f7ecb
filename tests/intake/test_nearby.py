"""Nearby open reports (the duplicate check) and named areas, on real PostGIS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import func, select, text

from safer_streets.intake.similar import nearby_open_reports, nearby_open_reports_query
from safer_streets.models import Area, Category, Report, ReportStatus

CATFORD = (-0.0207, 51.4452)
# 0.0005 degrees of latitude is about 56 m; 0.0003 about 33 m.


def add_report(session, lon, lat, slug="fly-tipping", status=ReportStatus.ROUTED, age_days=0):
    category = session.scalars(select(Category).where(Category.slug == slug)).one()
    report = Report(
        reference=f"LEW-T{session.scalar(select(func.count()).select_from(Report)):04d}",
        category=category,
        description="test",
        location=from_shape(Point(lon, lat), srid=4326),
        status=status,
    )
    session.add(report)
    session.flush()
    if age_days:
        report.created_at = datetime.now(UTC) - timedelta(days=age_days)
        session.flush()
    return report


def test_only_open_recent_reports_of_the_category_within_50_m_are_offered(db_session):
    lon, lat = CATFORD
    close = add_report(db_session, lon, lat + 0.0003)
    add_report(db_session, lon, lat + 0.0005)  # ~56 m: too far
    add_report(db_session, lon, lat, slug="graffiti-vandalism")
    add_report(db_session, lon, lat, status=ReportStatus.RESOLVED)
    add_report(db_session, lon, lat, age_days=31)
    fly_tipping = db_session.scalars(select(Category).where(Category.slug == "fly-tipping")).one()
    found = nearby_open_reports(db_session, lon=lon, lat=lat, category_id=fly_tipping.id)
    assert [r.id for r in found] == [close.id]


def test_the_nearby_query_uses_the_spatial_index(db_session):
    # As the live table is: thousands of recent open reports across the borough, of which
    # the 50 m circle holds a handful; the planner then reads the circle through its index.
    db_session.execute(
        text(
            """INSERT INTO report (reference, category_id, description, location, status,
                                   source, anonymous, supporter_count, priority, version_id)
               SELECT 'LEW-N' || lpad(i::text, 5, '0'), 1, 'test',
                      ST_SetSRID(ST_MakePoint(-0.07 + random() * 0.1,
                                              51.41 + random() * 0.08), 4326),
                      'routed', 'web', true, 0, 'normal', 1
               FROM generate_series(1, 20000) AS i"""
        )
    )
    db_session.execute(text("ANALYZE report"))
    lon, lat = CATFORD
    query = nearby_open_reports_query(lon=lon, lat=lat, category_id=1)
    sql = query.compile(dialect=db_session.bind.dialect, compile_kwargs={"literal_binds": True})
    plan = "\n".join(db_session.scalars(text(f"EXPLAIN {sql}")))
    assert "ix_report_location_geography" in plan


def test_the_town_centres_are_loaded_as_areas(db_session):
    names = set(db_session.scalars(select(Area.name)))
    assert {"Catford town centre", "Lewisham town centre", "Deptford town centre"} <= names
    catford = db_session.scalars(select(Area).where(Area.slug == "catford-town-centre")).one()
    inside = db_session.scalar(
        select(func.ST_Covers(catford.geom, func.ST_SetSRID(func.ST_MakePoint(*CATFORD), 4326)))
    )
    assert inside
