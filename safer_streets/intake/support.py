"""Adding your voice (+1) to an open report nearby, instead of reporting the same thing again."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from geoalchemy2.shape import to_shape
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from safer_streets.disclosure.policy import Audience, disclose
from safer_streets.errors import Conflict, InvalidInput, NotFound
from safer_streets.intake import submission
from safer_streets.intake.similar import nearby_open_reports
from safer_streets.models import (
    OPEN_STATUSES,
    ApiClient,
    Category,
    Report,
    ReportEvent,
    ReportSupport,
)

RADIUS_M = 50
DAYS = 30
MAX_SUGGESTIONS = 5
MAX_KEY_CHARS = 200
EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class SimilarReport:
    """What a resident is shown about a nearby report: nothing personal, nothing they wrote."""

    reference: str
    category: str
    street: str | None
    distance_m: int
    created_at: datetime
    supporter_count: int


def _metres_between(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance (haversine): plenty for "about 30 m away"."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def similar_open_reports(
    session: Session, *, category_slug: str, lon: float, lat: float
) -> list[SimilarReport]:
    """Open reports of the same category within 50 m from the last 30 days, nearest first.

    Never for sensitive categories: saying "someone reported harassment 20 m from here" would
    reveal where a sensitive report was made.
    """
    category = session.scalar(select(Category).where(Category.slug == category_slug))
    if category is None or category.sensitive or not category.public:
        return []
    found = nearby_open_reports(
        session,
        lon=lon,
        lat=lat,
        category_id=category.id,
        radius_m=RADIUS_M,
        days=DAYS,
        limit=MAX_SUGGESTIONS,
    )
    similar = []
    for report in found:
        point = to_shape(report.location)
        metres = _metres_between(lon, lat, point.x, point.y)
        similar.append(
            SimilarReport(
                reference=report.reference,
                category=category.name,
                street=report.street,
                # Rounded to 5 m: the resident needs "is this the same place?", not a survey.
                distance_m=int(5 * round(metres / 5)),
                created_at=report.created_at,
                supporter_count=report.supporter_count,
            )
        )
    return similar


@dataclass(frozen=True)
class Support:
    """The outcome of adding support: the report and whether this request counted."""

    report: Report
    counted: bool


def support_key_hash(report_id: int, supporter: str) -> str:
    """What is stored instead of the supporter's id."""
    return hashlib.sha256(f"{report_id}:{supporter}".encode()).hexdigest()


def client_supporter(client: ApiClient) -> str:
    """The supporter an API client is: one +1 per client and report, whatever it sends."""
    return f"api-client:{client.id}"


def add_support(
    session: Session, reference: str, *, supporters: Sequence[str], source: str = "web"
) -> Support:
    """Record one person's +1 on an open report: it counts only if none of ``supporters`` has
    supported the report before.

    ``supporters`` are every id the server can give the person: always their address (keyed
    and hashed by the web layer, never stored as it is, with the API key when one verified),
    and their browser's cookie or their verified API client. So one address adds one voice to
    a report, whatever cookies, forms or Idempotency-Keys it sends: a flood from one place
    cannot move a report up a partner's queue. Never something the request merely claims, such
    as an Idempotency-Key: a new one on every request was a new supporter every time. The count
    is raised in SQL, not through the ORM, so a +1 never clashes with a partner's edit under
    optimistic locking.

    A report the public may not see one by one (harassment, weapons, held) is ``NotFound`` as
    an unknown reference is; one whose supporters the public may not know is refused.
    """
    ids = {supporter.strip() for supporter in supporters}
    if not ids or any(not one or len(one) > MAX_KEY_CHARS for one in ids):
        raise InvalidInput({"supporter": f"must be 1 to {MAX_KEY_CHARS} characters"})
    report = submission.get_report(session, reference)
    shown = disclose(report, Audience.PUBLIC)
    if not shown.listed:
        raise NotFound(f"no report with reference {reference!r}")
    if shown.supporters is None:
        raise Conflict(
            f"{report.category.name} reports cannot be supported: if this happened to you too, "
            "please make a report of your own"
        )
    if report.status not in OPEN_STATUSES:
        raise Conflict("this report is closed: if the problem is back, please make a new report")
    inserted = session.scalars(
        insert(ReportSupport)
        .values(
            [
                {
                    "report_id": report.id,
                    "key_hash": support_key_hash(report.id, s),
                    "source": source,
                }
                for s in sorted(ids)
            ]
        )
        .on_conflict_do_nothing(constraint="support_once")
        .returning(ReportSupport.id)
    ).all()
    # Any id seen before means this person has already been counted; the new ones are kept,
    # so that the same person is recognised by them too.
    if len(inserted) < len(ids):
        return Support(report, counted=False)
    session.execute(
        update(Report)
        .where(Report.id == report.id)
        .values(supporter_count=Report.supporter_count + 1)
        .execution_options(synchronize_session=False)
    )
    session.add(ReportEvent(report_id=report.id, kind="supported", data={"source": source}))
    session.flush()
    session.refresh(report, ["supporter_count"])
    return Support(report, counted=True)
