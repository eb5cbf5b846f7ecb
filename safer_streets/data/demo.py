"""Demo reports, so that a fresh system shows a board worth looking at.

Every demo report has source ``demo`` and a description starting "[Demo]", so it can never be
mistaken for a resident's report, and `remove_demo_reports` takes them all out again. The
reports are spread over Lewisham's streets (the police.uk street points), with a cluster of
evening reports around Catford town centre and smaller ones in Lewisham and Deptford town
centres; each is routed by the real routing table and moved through acknowledgement and
resolution with realistic, sometimes late, response times.
"""

from __future__ import annotations

import csv
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import numpy as np
import shapely
from scipy.spatial import cKDTree
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from geo import DATA_DIR
from geo.projection import to_bng, to_lonlat
from geo.suntimes import LONDON, after_dark
from geo.wards import Borough, WardIndex
from safer_streets import taxonomy
from safer_streets.board.filters import DEMO_SOURCE
from safer_streets.intake.submission import REFERENCE_ALPHABET, REFERENCE_PREFIX
from safer_streets.models import (
    Category,
    Partner,
    Report,
    ReportEvent,
    ReportNotifiedPartner,
    ReportStatus,
    Ward,
)
from safer_streets.routing import decide

DEMO_PREFIX = "[Demo] "
DEMO_DAYS = 730
# Reasons after dark lean to lighting and isolation, as StreetSafe's reports do.
DARK_REASONS = ("badly-lit", "isolated", "followed")
STREET_POINTS_FILE = DATA_DIR / "lewisham_street_points_from_police.csv"
CATFORD_BROADWAY = (-0.0207, 51.4452)
# Smaller clusters: Lewisham town centre (by the clock tower) and Deptford High Street.
OTHER_CENTRES = ((-0.0137, 51.4613), (-0.0259, 51.4786))


@dataclass(frozen=True)
class Profile:
    """How reports of one category behave: how common, when, where, and what was done."""

    weight: float
    evening: float
    catford: float
    said: tuple[str, ...]
    did: tuple[str, ...] = ()


PROFILES: dict[str, Profile] = {
    "street-lighting": Profile(
        0.13,
        0.75,
        0.10,
        ("Street light out on {street}", "Lamps flickering all along {street}"),
        ("Lamp column on {street} repaired.", "Faulty lantern on {street} replaced."),
    ),
    "feeling-unsafe": Profile(
        0.12,
        0.70,
        0.30,
        ("Feels unsafe walking along {street} after dark", "Dark, isolated path by {street}"),
        ("Joint walkabout on {street}; bushes cut back and lighting reviewed.",),
    ),
    "harassment": Profile(0.05, 0.65, 0.35, ("Harassed while walking on {street}",)),
    "anti-social-behaviour": Profile(
        0.13,
        0.65,
        0.30,
        ("Groups drinking and shouting late on {street}", "Intimidating group by {street}"),
        ("Extra evening patrols on {street}.", "Warning letters issued after visits to {street}."),
    ),
    "drug-dealing": Profile(
        0.08,
        0.60,
        0.45,
        ("Dealing outside the shops on {street}", "Cars stopping briefly on {street} at night"),
        ("Information passed to the Safer Neighbourhood Team; targeted patrols on {street}.",),
    ),
    "weapons": Profile(0.02, 0.65, 0.30, ("Knife seen hidden in a hedge by {street}",)),
    "dangerous-road": Profile(
        0.06,
        0.30,
        0.05,
        ("Cars speeding on {street}", "Crossing on {street} is dangerous"),
        ("Speed survey on {street}; results sent to Highways.",),
    ),
    "public-transport": Profile(
        0.04, 0.45, 0.10, ("Bus stop on {street} feels unsafe at night",), ("Shelter light fixed.",)
    ),
    "fly-tipping": Profile(
        0.14,
        0.20,
        0.03,
        ("Mattresses and bags dumped on {street}", "Rubbish piled by the bins on {street}"),
        ("Waste cleared from {street}.", "Fly-tip on {street} cleared and evidence searched."),
    ),
    "graffiti-vandalism": Profile(
        0.06, 0.35, 0.05, ("Graffiti on the wall on {street}",), ("Graffiti on {street} removed.",)
    ),
    "abandoned-vehicle": Profile(
        0.04, 0.20, 0.02, ("Car with no plates left on {street}",), ("Vehicle removed.",)
    ),
    "overgrown-vegetation": Profile(
        0.03, 0.10, 0.02, ("Hedge blocking the pavement on {street}",), ("Hedge cut back.",)
    ),
    "damaged-pavement": Profile(
        0.05, 0.20, 0.02, ("Broken paving slabs on {street}",), ("Pavement on {street} repaired.",)
    ),
}


@dataclass(frozen=True)
class DemoSummary:
    """What a demo run created."""

    created: int
    existing: int


def _street_points() -> tuple[np.ndarray, np.ndarray, list[str]]:
    with STREET_POINTS_FILE.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["kind"] == "street"]
    lons = np.array([float(r["longitude"]) for r in rows])
    lats = np.array([float(r["latitude"]) for r in rows])
    return lons, lats, [r["name"] for r in rows]


def _references(session: Session, count: int, rng: np.random.Generator) -> list[str]:
    taken = set(session.scalars(select(Report.reference)))
    out: list[str] = []
    alphabet = np.array(list(REFERENCE_ALPHABET))
    while len(out) < count:
        for code in rng.choice(alphabet, size=(count, 5)):
            reference = REFERENCE_PREFIX + "".join(code)
            if reference not in taken:
                taken.add(reference)
                out.append(reference)
                if len(out) == count:
                    break
    return out


def _locations(
    n: int, catford_share: np.ndarray, rng: np.random.Generator, borough: Borough
) -> tuple[np.ndarray, np.ndarray]:
    """Points on streets, with clusters around the town centres; all inside the borough."""
    street_lon, street_lat, _ = _street_points()
    sx, sy = to_bng(street_lon, street_lat)
    cx, cy = to_bng(*CATFORD_BROADWAY)
    centres = np.array([to_bng(lon, lat) for lon, lat in OTHER_CENTRES]).reshape(-1, 2)
    x = np.empty(n)
    y = np.empty(n)
    todo = np.arange(n)
    while todo.size:
        u = rng.random(todo.size)
        in_catford = u < catford_share[todo]
        near_centre = ~in_catford & (u < catford_share[todo] + 0.08)
        on_street = ~(in_catford | near_centre)
        k = todo[in_catford]
        x[k] = cx + rng.normal(0, 170, k.size)
        y[k] = cy + rng.normal(0, 170, k.size)
        k = todo[near_centre]
        which = rng.integers(0, len(centres), k.size)
        x[k] = centres[which, 0] + rng.normal(0, 200, k.size)
        y[k] = centres[which, 1] + rng.normal(0, 200, k.size)
        k = todo[on_street]
        pick = rng.integers(0, sx.size, k.size)
        x[k] = sx[pick] + rng.normal(0, 25, k.size)
        y[k] = sy[pick] + rng.normal(0, 25, k.size)
        lon, lat = to_lonlat(x[todo], y[todo])
        inside = shapely.covers(borough.geometry, shapely.points(lon, lat))
        todo = todo[~inside]
    return to_lonlat(x, y)


# Reports per hour of the day, London time, 00:00 to 23:00 (relative weights). Problems are
# reported round the clock, thinly in the small hours; the "evening" profile is for what
# happens after dark (feeling unsafe, antisocial behaviour), the other for the rest.
DAYTIME_HOURS = np.array(
    [0.8, 0.5, 0.4, 0.3, 0.3, 0.5, 1.2, 2.5, 4, 5, 5.5, 6, 6, 6, 6, 6, 6, 5.5, 5, 4, 3, 2.5, 2, 1.2]
)
EVENING_HOURS = np.array(
    [
        5,
        4,
        3,
        2,
        1.2,
        0.8,
        0.6,
        0.5,
        0.5,
        0.5,
        0.5,
        0.5,
        0.6,
        0.6,
        0.8,
        1,
        1.5,
        3,
        5,
        7,
        8,
        8,
        7.5,
        6.5,
    ]
)


def _event_times(
    n: int, evening: np.ndarray, clustered: np.ndarray, now: datetime, rng: np.random.Generator
) -> list[datetime]:
    """Times over the last two years (so that the board's default twelve months has a previous
    period to compare with), at every hour of the day; Catford's cluster grows towards the
    present."""
    days = np.where(clustered, DEMO_DAYS * (1 - np.sqrt(rng.random(n))), DEMO_DAYS * rng.random(n))
    late = rng.random(n) < evening
    hours = np.where(
        late,
        rng.choice(24, n, p=EVENING_HOURS / EVENING_HOURS.sum()),
        rng.choice(24, n, p=DAYTIME_HOURS / DAYTIME_HOURS.sum()),
    )
    minutes = rng.integers(0, 60, n)
    today = now.astimezone(LONDON).date()
    out = []
    for d, h, m in zip(days.astype(int), hours, minutes, strict=True):
        local = datetime.combine(today - timedelta(days=int(d)), time(int(h), int(m)), LONDON)
        out.append(min(local.astimezone(UTC), now - timedelta(minutes=30)))
    return out


def remove_demo_reports(session: Session) -> int:
    """Delete every demo report and its history."""
    ids = select(Report.id).where(Report.source == DEMO_SOURCE)
    session.execute(delete(ReportEvent).where(ReportEvent.report_id.in_(ids)))
    session.execute(delete(ReportNotifiedPartner).where(ReportNotifiedPartner.report_id.in_(ids)))
    return session.execute(delete(Report).where(Report.source == DEMO_SOURCE)).rowcount or 0


def generate_demo_reports(
    session: Session,
    *,
    count: int,
    wards: WardIndex,
    borough: Borough,
    seed: int | None = None,
    now: datetime | None = None,
) -> DemoSummary:
    """Create ``count`` demo reports unless demo reports exist already (then nothing)."""
    existing = session.scalar(
        select(func.count()).select_from(Report).where(Report.source == DEMO_SOURCE)
    )
    if existing or count <= 0:
        return DemoSummary(created=0, existing=existing or 0)
    rng = np.random.default_rng(seed if seed is not None else secrets.randbits(32))
    now = now or datetime.now(UTC)
    categories = {c.slug: c for c in session.scalars(select(Category)) if c.slug in PROFILES}
    slugs = sorted(categories)
    weights = np.array([PROFILES[s].weight for s in slugs])
    chosen = rng.choice(len(slugs), size=count, p=weights / weights.sum())
    profiles = [PROFILES[slugs[i]] for i in chosen]
    catford_share = np.array([p.catford for p in profiles])
    lons, lats = _locations(count, catford_share, rng, borough)
    cx, cy = to_bng(*CATFORD_BROADWAY)
    px, py = to_bng(lons, lats)
    clustered = np.hypot(px - cx, py - cy) < 400
    evening = np.array([p.evening for p in profiles])
    events = _event_times(count, evening, clustered, now, rng)
    dark = after_dark(events)

    street_lon, street_lat, street_names = _street_points()
    tree = cKDTree(np.column_stack(to_bng(street_lon, street_lat)))
    _, nearest = tree.query(np.column_stack([px, py]))
    ward_index = wards.ward_indices(lons, lats)
    ward_rows = {w.code: w for w in session.scalars(select(Ward).where(Ward.active))}
    partners = {p.id: p for p in session.scalars(select(Partner))}
    decisions: dict[tuple[str, str | None], decide.RoutingDecision] = {}
    teams = decide.ward_teams(session)
    references = _references(session, count, rng)

    rows, plans = [], []
    for k in range(count):
        slug = slugs[chosen[k]]
        profile = profiles[k]
        ward = ward_rows.get(wards.wards[ward_index[k]].code) if ward_index[k] >= 0 else None
        key = (slug, ward.code if ward else None)
        if key not in decisions:
            decisions[key] = decide.decide(
                decide.rules_for(session, categories[slug], ward),
                category=slug,
                category_name=categories[slug].name,
                place=decide.Place(ward.code if ward else None, ward.name if ward else None),
                teams=teams,
            )
        decision = decisions[key]
        owner = partners[decision.owner.id]
        street = street_names[nearest[k]]
        occurred = events[k]
        created = min(occurred + timedelta(minutes=int(rng.integers(5, 360))), now)
        ack_hours = owner.hours_to_acknowledge or 48
        resolve_hours = owner.hours_to_resolve or 336
        ack_delay = timedelta(hours=float(rng.lognormal(np.log(0.5 * ack_hours), 0.8)))
        resolve_delay = timedelta(hours=float(rng.lognormal(np.log(0.45 * resolve_hours), 0.7)))
        acknowledged = created + ack_delay if created + ack_delay < now else None
        resolved = None
        status = ReportStatus.ROUTED
        if acknowledged is not None:
            status = ReportStatus.ACKNOWLEDGED
            if acknowledged + resolve_delay < now and rng.random() < 0.9:
                resolved = acknowledged + resolve_delay
                status = ReportStatus.RESOLVED
            elif rng.random() < 0.5:
                status = ReportStatus.IN_PROGRESS
        said = profile.said[int(rng.integers(len(profile.said)))].format(street=street)
        keys = [r.key for r in taxonomy.reasons_for(session, slug)]
        reasons: list[str] = []
        if keys:
            weights = np.array([3.0 if dark[k] and key in DARK_REASONS else 1.0 for key in keys])
            picked = rng.choice(
                len(keys), int(rng.integers(1, 3)), replace=False, p=weights / weights.sum()
            )
            reasons = [keys[i] for i in sorted(picked)]
        rows.append(
            {
                "reference": references[k],
                "category_id": categories[slug].id,
                "description": DEMO_PREFIX + said + ".",
                "location": f"SRID=4326;POINT({lons[k]:.6f} {lats[k]:.6f})",
                "occurred_at": occurred,
                "anonymous": True,
                "status": status,
                "source": DEMO_SOURCE,
                "reasons": reasons,
                "ward_id": ward.id if ward else None,
                "owner_partner_id": owner.id,
                "routing_reason": decision.reason,
                "created_at": created,
                "updated_at": resolved or acknowledged or created,
                "routed_at": created + timedelta(seconds=2),
                "after_dark": bool(dark[k]),
                "street": street,
                "acknowledge_due_at": created + timedelta(hours=ack_hours),
                "resolve_due_at": created + timedelta(hours=resolve_hours),
                "acknowledged_at": acknowledged,
                "resolved_at": resolved,
            }
        )
        did = (
            profile.did[int(rng.integers(len(profile.did)))].format(street=street)
            if profile.did
            else None
        )
        plans.append((decision, owner, created, acknowledged, resolved, did))

    ids = session.scalars(
        insert(Report).returning(Report.id, sort_by_parameter_order=True), rows
    ).all()
    events_rows, notified_rows = [], []
    for report_id, (decision, owner, created, acknowledged, resolved, did) in zip(
        ids, plans, strict=True
    ):
        events_rows.append(
            {"report_id": report_id, "at": created, "kind": "submitted", "to_status": "received"}
        )
        events_rows.append(
            {
                "report_id": report_id,
                "at": created + timedelta(seconds=2),
                "kind": "routed",
                "from_status": "received",
                "to_status": "routed",
                "note": decision.reason,
                "public": True,
            }
        )
        if acknowledged is not None:
            events_rows.append(
                {
                    "report_id": report_id,
                    "at": acknowledged,
                    "kind": "status",
                    "from_status": "routed",
                    "to_status": "acknowledged",
                    "note": f"Acknowledged by {owner.name}.",
                    "public": True,
                }
            )
        if resolved is not None:
            events_rows.append(
                {
                    "report_id": report_id,
                    "at": resolved,
                    "kind": "status",
                    "from_status": "acknowledged",
                    "to_status": "resolved",
                    "note": did,
                    "public": True,
                }
            )
        notified_rows += [{"report_id": report_id, "partner_id": p.id} for p in decision.notified]
    session.execute(insert(ReportEvent), events_rows)
    if notified_rows:
        session.execute(insert(ReportNotifiedPartner), notified_rows)
    session.flush()
    return DemoSummary(created=count, existing=0)
