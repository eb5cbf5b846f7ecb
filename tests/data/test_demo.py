"""Demo reports: clearly marked, spread over Lewisham with a Catford cluster, made once."""

from __future__ import annotations

from sqlalchemy import func, select

from geo.wards import Borough, WardIndex
from safer_streets.data import demo
from safer_streets.models import Category, Report, ReportEvent, ReportStatus
from tests.board_data import CATFORD


def test_demo_reports_are_marked_routed_clustered_and_made_once(db_session):
    wards, borough = WardIndex.from_geojson(), Borough.from_geojson()
    made = demo.generate_demo_reports(db_session, count=400, wards=wards, borough=borough, seed=1)
    assert made.created == 400
    reports = db_session.scalars(select(Report).where(Report.source == "demo")).all()
    assert len(reports) == 400
    assert all(r.description.startswith("[Demo] ") for r in reports)
    assert all(r.ward_id is not None and r.owner_partner_id is not None for r in reports)
    assert all(r.after_dark is not None for r in reports)
    assert {r.status for r in reports} >= {ReportStatus.ROUTED, ReportStatus.RESOLVED}
    near_catford = db_session.scalar(
        select(func.count())
        .select_from(Report)
        .where(
            Report.source == "demo",
            func.ST_DistanceSphere(
                Report.location, func.ST_SetSRID(func.ST_MakePoint(*CATFORD), 4326)
            )
            < 300,
        )
    )
    # 300 m around Catford Broadway is under 1 % of the borough; the cluster makes it ~15 %.
    assert near_catford > 40
    resolved_notes = db_session.scalar(
        select(func.count()).where(ReportEvent.to_status == "resolved", ReportEvent.public)
    )
    assert resolved_notes > 0

    again = demo.generate_demo_reports(db_session, count=400, wards=wards, borough=borough)
    assert (again.created, again.existing) == (0, 400)
    assert demo.remove_demo_reports(db_session) == 400


def test_demo_reports_happen_at_every_hour_of_the_day(db_session):
    wards, borough = WardIndex.from_geojson(), Borough.from_geojson()
    demo.generate_demo_reports(db_session, count=1500, wards=wards, borough=borough, seed=2)
    hour = func.extract("hour", func.timezone("Europe/London", Report.occurred_at))
    per_hour = dict(
        db_session.execute(
            select(hour, func.count()).where(Report.source == "demo").group_by(hour)
        ).all()
    )
    assert set(per_hour) == set(range(24))
    # The small hours are quiet but not empty; the day is busier than the night.
    assert all(per_hour[h] >= 3 for h in range(3, 7))
    assert sum(per_hour[h] for h in range(3, 6)) < sum(per_hour[h] for h in range(12, 15))


def test_demo_reports_span_two_years_and_feeling_unsafe_ones_give_reasons(db_session):
    wards, borough = WardIndex.from_geojson(), Borough.from_geojson()
    demo.generate_demo_reports(db_session, count=600, wards=wards, borough=borough, seed=3)
    oldest, newest = db_session.execute(
        select(func.min(Report.occurred_at), func.max(Report.occurred_at)).where(
            Report.source == "demo"
        )
    ).one()
    # The board's default twelve months has a previous twelve months to compare with.
    assert (newest - oldest).days > 600
    unsafe = db_session.scalars(
        select(Report.reasons)
        .join(Category, Category.id == Report.category_id)
        .where(Report.source == "demo", Category.slug == "feeling-unsafe")
    ).all()
    assert unsafe and all(1 <= len(r) <= 2 for r in unsafe)
    others = db_session.scalars(
        select(Report.reasons)
        .join(Category, Category.id == Report.category_id)
        .where(Report.source == "demo", Category.slug == "fly-tipping")
    ).all()
    assert all(r == [] for r in others)
