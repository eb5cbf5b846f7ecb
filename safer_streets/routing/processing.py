"""The worker's routing path: place, ward and route a batch of received reports against one
read of the routing data."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import Point
from shapely.prepared import PreparedGeometry, prep
from sqlalchemy import delete, exists, func, insert, select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, undefer

from geo.gazetteer import Candidate, ReverseResult
from geo.wards import WardIndex, WardShape
from safer_streets.bounds import plausible_occurred_at
from safer_streets.casework import sla
from safer_streets.models import (
    Area,
    ProcessingFailure,
    Report,
    ReportEvent,
    ReportNotifiedPartner,
    ReportStatus,
    RoutingDataVersion,
    User,
    Ward,
)
from safer_streets.notifications import outbox
from safer_streets.places import Places, confident_match, placement_of, store_extent
from safer_streets.routing import decide, quarantine

logger = logging.getLogger(__name__)

# The database or the connection to it failed, not the report: nothing is held against the
# reports, and the task retries with backoff.
INFRASTRUCTURE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)


@dataclass(frozen=True)
class WardRef:
    """A ward as routing records it."""

    id: int
    code: str
    name: str


@dataclass(frozen=True)
class RoutingData:
    """What routing reads besides the report: the rules, the active wards' names, the named
    areas and the service levels, at one ``version`` (see ``RoutingDataCache``)."""

    version: int
    table: decide.RoutingTable
    wards: dict[str, WardRef]
    areas: tuple[tuple[decide.AreaRef, PreparedGeometry], ...]
    service_levels: sla.ServiceLevels

    @classmethod
    def load(cls, session: Session) -> RoutingData:
        """The routing data as it stands now."""
        wards: dict[str, WardRef] = {}
        for ward_id, code, name in session.execute(
            select(Ward.id, Ward.code, Ward.name).where(Ward.active).order_by(Ward.id)
        ):
            wards.setdefault(code, WardRef(ward_id, code, name))
        areas = tuple(
            (decide.AreaRef(area.slug, area.name), prep(to_shape(area.geom)))
            for area in session.scalars(select(Area).options(undefer(Area.geom)).order_by(Area.id))
        )
        return cls(
            routing_data_version(session),
            decide.RoutingTable(decide.active_rules(session), decide.ward_teams(session)),
            wards,
            areas,
            sla.ServiceLevels.load(session),
        )

    def areas_at(self, point: Point) -> list[decide.AreaRef]:
        """The named areas (town centres, estates) whose boundary covers a point."""
        return [area for area, shape in self.areas if shape.covers(point)]


def routing_data_version(session: Session) -> int:
    """The number triggers raise whenever anything ``RoutingData`` holds changes."""
    return session.execute(select(RoutingDataVersion.version)).scalar_one()


class RoutingDataCache:
    """``RoutingData`` kept between batches by a worker process, reloaded when it changed.

    Asking costs one small query; the whole load (a few milliseconds) happens only after a
    rule, ward, area, partner, service level, category or reason changed, however it was
    changed.
    """

    def __init__(self) -> None:
        self._data: RoutingData | None = None

    def current(self, session: Session) -> RoutingData:
        """The routing data as it stands in this session's transaction."""
        if self._data is None or self._data.version != routing_data_version(session):
            self._data = RoutingData.load(session)
        return self._data


def _needs_location(
    session: Session, report: Report, candidates: list[Candidate], data: RoutingData
) -> ReportEvent:
    """Text we cannot place goes to the fallback triage partner to locate: never lost."""
    fallback = decide.fallback_partner(data.table.rules)
    if candidates:
        found = "; ".join(c.label for c in candidates[:3])
        why = f"it could be several places ({found})"
    else:
        why = "it matches no Lewisham postcode, street or place"
    reason = (
        f"We could not place “{report.location_text}” on the map: {why}. "
        f"{fallback.name} will locate it and route it."
    )
    report.owner_partner_id = fallback.id
    report.routing_reason = reason
    report.status = ReportStatus.NEEDS_LOCATION
    report.routed_at = datetime.now(UTC)
    event = ReportEvent(
        report_id=report.id,
        kind="needs_location",
        from_status=ReportStatus.RECEIVED,
        to_status=ReportStatus.NEEDS_LOCATION,
        note=reason,
        data={"owner": fallback.slug, "candidates": [c.label for c in candidates[:5]]},
    )
    session.add(event)
    logger.info("Report %s needs a location", report.reference)
    return event


def process_reports(
    session: Session,
    report_ids: Sequence[int],
    wards: WardIndex,
    places: Places,
    routing_data: RoutingDataCache | None = None,
    *,
    also_waiting: int = 0,
    max_attempts: int = 5,
) -> list[int]:
    """Place, ward and route those of the reports still ``received``; return the ids handled.

    With ``also_waiting``, up to that many other ``received`` reports that no one holds join
    the batch: under load, one task routes what has queued up behind it, and the tasks for
    those reports later find nothing to do. Reports that have failed before are left to their
    own tasks and the sweep, so that a bad one does not fail batch after batch.

    Idempotent and safe to run concurrently: the rows are locked in id order, so a second
    delivery of the same reports waits for the first and then finds them routed; a redelivered
    or re-enqueued task changes nothing the second time.

    One bad report never holds up the rest: when the batch raises, it is routed again one
    report at a time, each in a savepoint of this transaction; a report that still raises has
    the failure recorded and, at ``max_attempts``, is set aside as ``needs_attention``
    (``quarantine``). Errors of the database itself (``INFRASTRUCTURE_ERRORS``) are raised.
    """
    received = select(Report).where(Report.status == ReportStatus.RECEIVED).order_by(Report.id)
    batch = list(
        session.scalars(received.where(Report.id.in_(report_ids)).with_for_update(of=Report))
    )
    if also_waiting:
        has_failed = exists().where(ProcessingFailure.report_id == Report.id)
        batch += session.scalars(
            received.where(Report.id.not_in(report_ids), ~has_failed)
            .limit(also_waiting)
            .with_for_update(of=Report, skip_locked=True)
        )
    if not batch:
        return []
    data = (routing_data or RoutingDataCache()).current(session)
    ids = [report.id for report in batch]
    try:
        # A savepoint, so that a failure undoes only this attempt and keeps the row locks.
        with session.begin_nested():
            _process_batch(session, batch, wards, places, data)
    except INFRASTRUCTURE_ERRORS:
        raise
    except Exception:
        logger.exception("Routing a batch of %d failed; routing each report on its own", len(ids))
    else:
        return ids
    return _process_each(session, ids, wards, places, data, max_attempts=max_attempts)


def _process_batch(
    session: Session, batch: list[Report], wards: WardIndex, places: Places, data: RoutingData
) -> None:
    events: dict[int, ReportEvent] = {}
    routable: list[Report] = []
    for report in batch:
        needs_location = _geocode(session, report, places, data)
        if needs_location is None:
            routable.append(report)
        else:
            events[report.id] = needs_location
    points = [to_shape(report.location) for report in routable]
    # The whole batch placed at once: one projection and tree query for the nearest streets
    # and postcodes, one vectorised ward lookup (bench/bench_worker_batch.py).
    for report, point, placement in zip(
        routable, points, _placements(points, wards, places), strict=True
    ):
        events[report.id] = _route(session, report, point, placement, data)[1]
    session.flush()
    _record_notified(session, routable)
    # The partners' emails join the outbox in this transaction; the worker sends them after.
    outbox.reports_routed(
        session,
        [(report, event) for report in batch if (event := events[report.id]).kind == "routed"],
    )


def _process_each(
    session: Session,
    ids: list[int],
    wards: WardIndex,
    places: Places,
    data: RoutingData,
    *,
    max_attempts: int,
) -> list[int]:
    """Route the locked reports one savepoint each; record the failures; return those routed."""
    # The savepoint's rollback expired what the batch had changed: read the reports afresh.
    reports = session.scalars(
        select(Report)
        .where(Report.id.in_(ids), Report.status == ReportStatus.RECEIVED)
        .order_by(Report.id)
        .execution_options(populate_existing=True)
    ).all()
    handled: list[int] = []
    failed: list[tuple[int, Exception]] = []
    for report in reports:
        report_id = report.id
        try:
            with session.begin_nested():
                _process_batch(session, [report], wards, places, data)
        except INFRASTRUCTURE_ERRORS:
            raise
        except Exception as error:
            logger.exception("Routing report %s failed", report_id)
            failed.append((report_id, error))
        else:
            handled.append(report_id)
    for report_id, error in failed:
        quarantine.record_failure(session, report_id, error, max_attempts=max_attempts)
    return handled


def _geocode(
    session: Session, report: Report, places: Places, data: RoutingData
) -> ReportEvent | None:
    """Place a report given as text; None when it has a point, else its needs-location event."""
    if report.location is not None:
        return None
    candidates = places.geocoder.search(report.location_text or "")
    best = confident_match(candidates)
    if best is None:
        return _needs_location(session, report, candidates, data)
    placement = placement_of(places, best)
    report.location = from_shape(Point(best.lon, best.lat), srid=4326)
    report.placed_from = placement.placed_from
    # A street or area: the point is only its gazetteer point, the extent where it may be.
    report.place_extent_id = store_extent(session, placement)
    where = "somewhere in" if placement.extent is not None else "at"
    session.add(
        ReportEvent(
            report_id=report.id,
            kind="geocoded",
            note=f"Placed “{report.location_text}” {where} {best.label}",
            data={
                "kind": best.kind,
                "confidence": best.confidence,
                "placed_from": placement.placed_from.value,
                "extent": report.place_extent_id,
            },
        )
    )
    return None


@dataclass(frozen=True)
class Placement:
    """Where a point is, for routing: its nearest street and postcode, and its ward."""

    nearest: ReverseResult
    ward: WardShape | None


def _placements(points: Sequence[Point], wards: WardIndex, places: Places) -> list[Placement]:
    """The placement of each point, all of them together."""
    if not points:
        return []
    lons = np.fromiter((p.x for p in points), dtype=float, count=len(points))
    lats = np.fromiter((p.y for p in points), dtype=float, count=len(points))
    return [
        Placement(nearest, wards.wards[index] if index >= 0 else None)
        for nearest, index in zip(
            places.geocoder.reverse_many(lons, lats), wards.ward_indices(lons, lats), strict=True
        )
    ]


def routing_time(report: Report) -> datetime:
    """The moment time-of-day rules look at: when it happened, else when it was received.

    A "when it happened" outside the bounds intake enforces (stored before they existed) is
    ignored as if the reporter had not said: year 1 cannot even be moved to London time.
    """
    received = report.created_at or datetime.now(UTC)
    if report.occurred_at is not None:
        if plausible_occurred_at(report.occurred_at, received=received):
            return report.occurred_at
        logger.warning(
            "Report %s: ignoring occurred_at %s for time-of-day rules (out of range)",
            report.reference,
            report.occurred_at.isoformat(),
        )
    return received


def route_report(
    session: Session,
    report: Report,
    wards: WardIndex,
    places: Places,
    *,
    actor: User | None = None,
) -> decide.RoutingDecision:
    """Route a report that has a point: street, ward and areas, then the rules; with why.

    The one routing path: the worker takes it for new reports (in batches), a partner's
    "locate" for reports that needed a location. It replaces the owner and the notified
    partners, and queues the owner's email.
    """
    point = to_shape(report.location)
    [placement] = _placements([point], wards, places)
    decision, event = _route(session, report, point, placement, RoutingData.load(session), actor)
    session.flush()
    _record_notified(session, [report])
    outbox.report_routed(session, report, event)
    return decision


def _route(
    session: Session,
    report: Report,
    point: Point,
    placement: Placement,
    data: RoutingData,
    actor: User | None = None,
) -> tuple[decide.RoutingDecision, ReportEvent]:
    from_status = report.status
    nearest = placement.nearest
    report.street = nearest.street
    report.street_distance_m = nearest.street_distance_m
    report.postcode = report.postcode or nearest.postcode
    ward = data.wards.get(placement.ward.code) if placement.ward is not None else None
    areas = data.areas_at(point)
    decision = data.table.decide(
        category=report.category.slug,
        category_name=report.category.name,
        place=decide.Place(
            ward_code=ward.code if ward else None,
            ward_name=ward.name if ward else None,
            areas=tuple(areas),
        ),
        at=decide.local_time(routing_time(report)),
        reasons=report.reasons or (),
    )
    now = datetime.now(UTC)
    report.ward_id = ward.id if ward else None
    report.owner_partner_id = decision.owner.id
    report.rule_owner_id = decision.owner.id
    report.routing_reason = decision.reason
    report.status = ReportStatus.ROUTED
    report.routed_at = now
    report.acknowledge_due_at, report.resolve_due_at = data.service_levels.due_times(
        decision.owner.id, report.category_id, now
    )
    if from_status is not ReportStatus.RECEIVED:
        # Re-routing a located report: the notified partners are decided afresh.
        session.execute(
            delete(ReportNotifiedPartner).where(ReportNotifiedPartner.report_id == report.id)
        )
    # Stored with the routing UPDATE; the table's rows follow it (``_record_notified``).
    report.notified_partner_ids = sorted({partner.id for partner in decision.notified})
    event = ReportEvent(
        report_id=report.id,
        actor_id=actor.id if actor else None,
        kind="routed",
        from_status=from_status,
        to_status=ReportStatus.ROUTED,
        note=decision.reason,
        public=True,
        data={
            "ward": ward.code if ward else None,
            "areas": [a.slug for a in areas],
            "owner": decision.owner.slug,
            "notified": [p.slug for p in decision.notified],
            "rule_ids": list(decision.rule_ids),
            "rules": [m.as_json() for m in decision.matched],
        },
    )
    session.add(event)
    session.expire(report, ["notified", "owner", "ward"])
    logger.info("Routed report %s to %s", report.reference, decision.owner.slug)
    return decision, event


def _record_notified(session: Session, routed: list[Report]) -> None:
    """The notified partners of reports just routed (and flushed), as rows of
    ``report_notified_partner``: one statement for the batch. Inserted after the reports'
    UPDATE, which already holds ``notified_partner_ids``, so the table's triggers (migration
    0021) find each report's array right and write no report a second time."""
    rows = [
        {"report_id": report.id, "partner_id": partner_id}
        for report in routed
        for partner_id in report.notified_partner_ids
    ]
    if rows:
        # One multi-row statement, not executemany's one per row: each statement fires the
        # triggers, which would see a report's partners half inserted.
        session.execute(insert(ReportNotifiedPartner).values(rows))


def stale_received_ids(session: Session, older_than_seconds: int, limit: int = 1000) -> list[int]:
    """Reports still ``received`` after a while: the queue may have lost them."""
    cutoff = func.now() - func.make_interval(0, 0, 0, 0, 0, 0, older_than_seconds)
    return list(
        session.scalars(
            select(Report.id)
            .where(Report.status == ReportStatus.RECEIVED, Report.created_at < cutoff)
            .order_by(Report.id)
            .limit(limit)
        )
    )
