"""Retention of reporters' personal data, and subject-access exports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import select

from safer_streets.models import Category, Report, ReportEvent, ReportPhoto, ReportStatus
from safer_streets.privacy.retention import expire_personal_data, subject_access_export

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def make_report(session, reference, *, status, closed_days_ago, email="someone@example.org"):
    category = session.scalars(select(Category).where(Category.slug == "fly-tipping")).one()
    report = Report(
        reference=reference,
        category=category,
        description="Sofa on the pavement",
        location=from_shape(Point(-0.0207, 51.4452), srid=4326),
        status=status,
        contact_email=email,
        resolved_at=NOW - timedelta(days=closed_days_ago),
    )
    session.add(report)
    session.flush()
    session.add(
        ReportPhoto(
            report_id=report.id,
            content_type="image/jpeg",
            data=b"\xff\xd8jpeg",
            width=1,
            height=1,
            sha256="0" * 64,
        )
    )
    session.flush()
    return report


def test_contact_details_and_photos_of_long_closed_reports_are_removed_with_a_record(db_session):
    old = make_report(db_session, "LEW-OLD01", status=ReportStatus.RESOLVED, closed_days_ago=400)
    recent = make_report(db_session, "LEW-NEW01", status=ReportStatus.RESOLVED, closed_days_ago=10)
    still_open = make_report(
        db_session, "LEW-OPN01", status=ReportStatus.ROUTED, closed_days_ago=400
    )

    result = expire_personal_data(db_session, retention_days=365, now=NOW)

    assert (result.reports, result.photos) == (1, 1)
    db_session.expire_all()
    assert old.contact_email is None
    assert db_session.scalar(select(ReportPhoto).where(ReportPhoto.report_id == old.id)) is None
    assert recent.contact_email == "someone@example.org"
    assert still_open.contact_email == "someone@example.org"
    audit = db_session.scalars(
        select(ReportEvent).where(ReportEvent.report_id == old.id, ReportEvent.kind == "retention")
    ).one()
    assert "365 days" in audit.note
    assert not audit.public
    assert expire_personal_data(db_session, retention_days=365, now=NOW).reports == 0


def test_a_subject_access_export_holds_every_report_made_with_the_email(db_session):
    make_report(db_session, "LEW-SAR01", status=ReportStatus.ROUTED, closed_days_ago=0)
    make_report(db_session, "LEW-SAR02", status=ReportStatus.RESOLVED, closed_days_ago=3)
    make_report(
        db_session, "LEW-OTHER", status=ReportStatus.ROUTED, closed_days_ago=0, email="x@y.org"
    )

    export = subject_access_export(db_session, "  Someone@Example.org ")

    assert [r["reference"] for r in export["reports"]] == ["LEW-SAR01", "LEW-SAR02"]
    assert export["reports"][0]["contact"]["email"] == "someone@example.org"
    assert export["reports"][0]["photo_held"] is True
