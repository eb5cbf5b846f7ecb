"""Locating a report whose typed place could not be found, then routing it as the worker would.

A report becomes ``needs_location`` when its text matches no Lewisham place or several; it is
owned by the fallback triage partner, whose staff find the place (from the gazetteer's
candidates or a point on the map). The report is then routed by ``processing.route_report``:
exactly the routing a report with a point gets from the worker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo.coordinates import PointRejected, check_point
from geo.gazetteer import Candidate
from geo.wards import WardIndex
from safer_streets.casework import access
from safer_streets.errors import Conflict, InvalidInput, NotAllowed
from safer_streets.models import PlacedFrom, Report, ReportEvent, ReportStatus, Role, User
from safer_streets.places import Places, placement_of, store_extent
from safer_streets.routing import decide, processing

MAX_QUERY_CHARS = 200


@dataclass(frozen=True)
class MapPoint:
    """A point a partner picked or typed (WGS84)."""

    lon: float
    lat: float


def may_locate(user: User, report: Report) -> bool:
    """Admins, and staff of the partner that owns the report (the triage partner)."""
    if not user.active:
        return False
    if user.role is Role.ADMIN:
        return True
    return (
        user.role in (Role.STAFF, Role.PARTNER_ADMIN)
        and user.partner_id is not None
        and user.partner_id == report.owner_partner_id
    )


def reports_to_locate(session: Session, user: User, limit: int = 200) -> list[Report]:
    """The user's reports waiting for a place, oldest first (they have waited longest)."""
    query = (
        access.visible_reports(user)
        .where(Report.status == ReportStatus.NEEDS_LOCATION)
        .order_by(Report.created_at, Report.id)
        .limit(limit)
    )
    return [r for r in session.scalars(query) if may_locate(user, r)]


def report_to_locate(session: Session, user: User, reference: str) -> Report:
    """A report this user may locate: ``NotFound`` outside their queue, ``Conflict`` once it
    has a place, ``NotAllowed`` for anyone but its triage partner or an admin."""
    report = access.report_for(session, user, reference)
    if report.status is not ReportStatus.NEEDS_LOCATION:
        raise Conflict(f"{report.reference} already has a place ({report.status.value})")
    if not may_locate(user, report):
        raise NotAllowed("only the partner triaging this report can locate it")
    return report


def candidates(places: Places, query: str) -> list[Candidate]:
    """Places matching what the partner typed, from the configured geocoder."""
    query = query.strip()
    if not query or len(query) > MAX_QUERY_CHARS:
        return []
    return places.geocoder.search(query, limit=8)


def parse_point(lat: str, lon: str) -> MapPoint:
    """Read a typed latitude and longitude, or ``InvalidInput`` naming the field."""
    errors: dict[str, str] = {}
    values: dict[str, float] = {}
    for field, raw in (("lat", lat), ("lon", lon)):
        try:
            values[field] = float(raw.strip())
        except ValueError:
            errors[field] = "is required" if not raw.strip() else "must be a number"
            continue
        if not math.isfinite(values[field]):
            errors[field] = "must be a finite number"
    if errors:
        raise InvalidInput(errors)
    return MapPoint(lon=values["lon"], lat=values["lat"])


def locate_report(
    session: Session,
    actor: User,
    reference: str,
    place: MapPoint | Candidate,
    *,
    wards: WardIndex,
    places: Places,
) -> decide.RoutingDecision:
    """Give a ``needs_location`` report its place, record who did, and route it.

    ``place`` is a point the partner chose or a gazetteer candidate they picked. The point
    must be inside Lewisham, checked as at submission. The caller commits.
    """
    report = report_to_locate(session, actor, reference)
    report = _locked_needing_location(session, report)
    where = _give_place(session, report, place, places, PlacedFrom.STAFF)
    session.add(_located_event(report, place, where, actor=actor))
    return processing.route_report(session, report, wards, places, actor=actor)


def place_by_reporter(
    session: Session, report: Report, place: MapPoint | Candidate, *, places: Places
) -> Report:
    """The reporter places their own ``needs_location`` report (from their private tracking
    link): it gets the place, the history says the reporter placed it, and it goes back to
    ``received`` for the worker to route as any new report. The caller commits, then
    enqueues its processing.

    ``Conflict`` once it has a place; ``InvalidInput`` for a point outside Lewisham.
    """
    report = _locked_needing_location(session, report)
    where = _give_place(session, report, place, places, PlacedFrom.REPORTER)
    event = _located_event(report, place, where, actor=None)
    event.kind = "placed_by_reporter"
    event.to_status = ReportStatus.RECEIVED
    # The reporter's own page shows it; where it was put stays as private as the report.
    event.public = True
    event.note = "The reporter placed it on the map."
    event.data["by"] = "reporter"
    event.data["where"] = where
    session.add(event)
    report.status = ReportStatus.RECEIVED
    report.routing_reason = None
    session.flush()
    return report


def _locked_needing_location(session: Session, report: Report) -> Report:
    # Lock, then re-check: two people placing the same report must not both route it.
    report = session.scalars(
        select(Report).where(Report.id == report.id).with_for_update(of=Report)
    ).one()
    session.refresh(report)
    if report.status is not ReportStatus.NEEDS_LOCATION:
        raise Conflict(f"{report.reference} already has a place ({report.status.value})")
    return report


def _give_place(
    session: Session,
    report: Report,
    place: MapPoint | Candidate,
    places: Places,
    placed_from: PlacedFrom,
) -> str:
    """Set the report's point (and extent, for a street or place picked by name); return
    where it was put, in words."""
    if not (math.isfinite(place.lat) and math.isfinite(place.lon)):
        raise InvalidInput({"location": "must be a finite point"})
    try:
        check_point(place.lat, place.lon, places.borough)
    except PointRejected as rejected:
        raise InvalidInput({rejected.field: rejected.message}) from None
    report.location = from_shape(Point(place.lon, place.lat), srid=4326)
    report.placed_from = placed_from
    report.place_extent_id = None
    if isinstance(place, Candidate):
        # Picking "Catford Broadway" from a list is as vague as typing it.
        report.place_extent_id = store_extent(session, placement_of(places, place))
        return place.label
    return f"{place.lat:.6f}, {place.lon:.6f}"


def _located_event(
    report: Report, place: MapPoint | Candidate, where: str, *, actor: User | None
) -> ReportEvent:
    return ReportEvent(
        report_id=report.id,
        actor_id=actor.id if actor else None,
        kind="located",
        from_status=ReportStatus.NEEDS_LOCATION,
        to_status=ReportStatus.NEEDS_LOCATION,
        note=f"Placed at {where}"
        + (f" (the resident wrote “{report.location_text}”)" if report.location_text else ""),
        data={
            "lon": place.lon,
            "lat": place.lat,
            "label": place.label if isinstance(place, Candidate) else None,
            "kind": place.kind if isinstance(place, Candidate) else "point",
            "placed_from": report.placed_from,
        },
    )


def count_to_locate(session: Session, user: User) -> int:
    """How many reports wait for this user to find their place (for the navigation)."""
    if user.role is Role.ADMIN:
        owner_filter = Report.owner_partner_id.is_not(None)
    elif user.role in (Role.STAFF, Role.PARTNER_ADMIN) and user.partner_id is not None:
        owner_filter = Report.owner_partner_id == user.partner_id
    else:
        return 0
    query = (
        select(func.count())
        .select_from(Report)
        .where(Report.status == ReportStatus.NEEDS_LOCATION, owner_filter)
    )
    return session.scalar(query) or 0
