"""Area alerts: residents ask to hear about new public reports in a ward, a town centre or
within a distance of a place, and are emailed through the outbox.

- Double opt-in: a subscription sends nothing until the signed link in its confirmation email
  is followed (and a confirmation not followed within a week is forgotten).
- Matching is one set-based PostGIS statement (``match_new_reports``) joining newly routed
  public reports to confirmed subscriptions by ward, town centre (``ST_Covers``) and distance
  (``ST_DWithin`` on geography, after the spatial index on each subscription's reach). Each
  report is swept once (``alert_swept_report``), so it is matched, and sent, at most once per
  subscription however often the sweep runs; each subscription's matches of a sweep are one
  ``alert_delivery`` row, which records the email that carried them.
- Partners' "you said, we did" actions are matched the same way, once each, when published
  (``MATCH_ACTIONS_SQL``), and go out with the next alert or digest.
- ``queue_alert_emails`` writes one outbox email per subscription for its unsent deliveries: at
  once, or one digest a day. The email is composed at send time from ``disclose(report,
  Audience.PUBLIC)``, so it never shows more than the public list does, even if the policy
  or the report changed in between.
- Every alert carries RFC 8058 one-click unsubscribe headers and a signed link; unsubscribing
  deletes the subscription, address and all.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import bindparam, delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, joinedload

from geo.suntimes import LONDON
from safer_streets.actions import partner_actions
from safer_streets.errors import InvalidInput
from safer_streets.intake.place_search import check_in_lewisham
from safer_streets.models import (
    AlertDelivery,
    AlertFrequency,
    AlertKind,
    AlertSubscription,
    EmailOutbox,
    Report,
)
from safer_streets.notifications import outbox
from safer_streets.notifications.email_text import render_email
from safer_streets.places import Places, confident_match
from safer_streets.residents.listing import (
    POINT_PRECISIONS,
    PUBLIC_STATUSES,
    Choices,
    rows_of,
)
from safer_streets.settings import Settings

RADIUS_CHOICES = (250, 500, 1000, 2000)
MIN_RADIUS_M, MAX_RADIUS_M = RADIUS_CHOICES[0], RADIUS_CHOICES[-1]
# A confirmation link works this long; an unconfirmed subscription is then forgotten.
CONFIRM_WITHIN = timedelta(days=7)
# Reports routed this long ago are still matched: the sweep runs every minute, so this covers
# a worker or beat that was down for a day; (subscription, report) rows stop any resend.
LOOKBACK = timedelta(days=2)
# One address may hold this many subscriptions: enough for anyone, few enough for abuse.
MAX_PER_ADDRESS = 20
DIGEST_HOUR = 7  # London time, as partners' digests
MAX_REPORTS_PER_EMAIL = 20
MAX_PLACE_CHARS = 100
# The transaction-level advisory lock that serialises alert sweeps (any fixed number will do).
SWEEP_LOCK = 0x5AFE_A1E7


class EmailKind:
    """The outbox kinds alerts add."""

    CONFIRM = "alert-confirm"
    ALERT = "alert"
    DIGEST = "alert-digest"


# ---- The subscription form -------------------------------------------------------------------


@dataclass(frozen=True)
class SubscriptionRequest:
    """A valid subscription, before it is stored."""

    email: str
    kind: AlertKind
    place_label: str
    frequency: AlertFrequency
    category_ids: tuple[int, ...]
    ward_id: int | None = None
    area_id: int | None = None
    lon: float | None = None
    lat: float | None = None
    radius_m: int | None = None


def _l(message: str) -> str:
    """Marks a message for translators (``pybabel extract -k _l``); the form's page translates
    it, and one with a value in it stays English."""
    return message


def parse_email(raw: str | None) -> str:
    """One email address, normalised; ``InvalidInput`` naming ``email`` otherwise."""
    text_value = (raw or "").strip()
    if not text_value:
        raise InvalidInput({"email": _l("Enter your email address")})
    try:
        checked = validate_email(text_value, check_deliverability=False)
    except EmailNotValidError:
        raise InvalidInput({"email": _l("Enter an email address like name@example.com")}) from None
    if len(checked.normalized) > 254:
        raise InvalidInput({"email": _l("Enter an email address like name@example.com")})
    return checked.normalized


def parse_radius(raw: str | None) -> int:
    """A distance in metres, one of ``RADIUS_CHOICES``."""
    text_value = (raw or "").strip()
    if text_value.isascii() and text_value.isdigit() and int(text_value) in RADIUS_CHOICES:
        return int(text_value)
    raise InvalidInput({"radius": _l("Choose a distance from 250 metres to 2 kilometres")})


def radius_words(metres: int, gettext: Callable[[str], str] = str) -> str:
    """250 m, 500 m, 1 km, 2 km (in ``gettext``'s language, whose units may be written
    otherwise)."""
    if metres % 1000 == 0:
        return gettext(_l("%(km)s km")) % {"km": metres // 1000}
    return gettext(_l("%(metres)s m")) % {"metres": metres}


def parse_subscription(
    values: Mapping[str, str],
    categories: Sequence[str],
    choices: Choices,
    places: Places,
) -> SubscriptionRequest:
    """A subscription from the form, or ``InvalidInput`` naming every field that is wrong.

    ``categories`` are category slugs, only publicly listed ones; none means all of them.
    """
    errors: dict[str, str] = {}
    email = ""
    try:
        email = parse_email(values.get("email"))
    except InvalidInput as invalid:
        errors |= invalid.field_errors
    category_ids: list[int] = []
    for slug in dict.fromkeys(categories):
        choice = choices.find("categories", slug)
        if choice is None:
            errors["category"] = _l("Choose from the problems listed")
            break
        category_ids.append(choice.id)
    frequency = (values.get("frequency") or AlertFrequency.IMMEDIATE.value).strip()
    if frequency not in {f.value for f in AlertFrequency}:
        errors["frequency"] = _l("Choose straight away or a daily email")
        frequency = AlertFrequency.IMMEDIATE.value
    where = (values.get("where") or "").strip()
    place: dict[str, Any] = {}
    try:
        place = _parse_place(where, values, choices, places)
    except InvalidInput as invalid:
        errors |= invalid.field_errors
    if errors:
        raise InvalidInput(errors)
    return SubscriptionRequest(
        email=email,
        frequency=AlertFrequency(frequency),
        category_ids=tuple(sorted(category_ids)),
        **place,
    )


def _parse_place(
    where: str, values: Mapping[str, str], choices: Choices, places: Places
) -> dict[str, Any]:
    if where == AlertKind.WARD:
        ward = choices.find("wards", (values.get("ward") or "").strip())
        if ward is None:
            raise InvalidInput({"ward": _l("Choose a ward")})
        return {"kind": AlertKind.WARD, "ward_id": ward.id, "place_label": f"{ward.name} ward"}
    if where == AlertKind.AREA:
        area = choices.find("areas", (values.get("area") or "").strip())
        if area is None:
            raise InvalidInput({"area": _l("Choose a town centre")})
        return {"kind": AlertKind.AREA, "area_id": area.id, "place_label": area.name}
    if where == AlertKind.DISTANCE:
        errors: dict[str, str] = {}
        radius = 0
        try:
            radius = parse_radius(values.get("radius"))
        except InvalidInput as invalid:
            errors |= invalid.field_errors
        try:
            label, lon, lat = _locate(values.get("place"), places)
        except InvalidInput as invalid:
            errors |= invalid.field_errors
        if errors:
            raise InvalidInput(errors)
        return {
            "kind": AlertKind.DISTANCE,
            "lon": lon,
            "lat": lat,
            "radius_m": radius,
            "place_label": f"{radius_words(radius)} around {label}",
        }
    raise InvalidInput({"where": _l("Choose a ward, a town centre or a distance around a place")})


def _locate(raw: str | None, places: Places) -> tuple[str, float, float]:
    """A postcode, street or place in Lewisham as (label, lon, lat), through the gazetteer."""
    query = (raw or "").strip()
    if not query:
        raise InvalidInput({"place": _l("Enter a postcode, street or place in Lewisham")})
    if len(query) > MAX_PLACE_CHARS:
        raise InvalidInput({"place": f"Use at most {MAX_PLACE_CHARS} characters"})
    candidates = places.gazetteer.search(query, limit=5)
    match = confident_match(candidates)
    if match is None:
        if candidates:
            names = "; ".join(c.label for c in candidates[:3])
            raise InvalidInput(
                {"place": f"We could not be sure where that is. Did you mean: {names}?"}
            )
        raise InvalidInput({"place": _l("We could not find that place in Lewisham")})
    try:
        check_in_lewisham(places, match.lat, match.lon)
    except InvalidInput:
        raise InvalidInput({"place": _l("That place is not in Lewisham")}) from None
    return match.label, match.lon, match.lat


# ---- Subscribing, confirming, unsubscribing ------------------------------------------------


def subscribe(session: Session, request: SubscriptionRequest) -> int | None:
    """Store an unconfirmed subscription and queue its confirmation email; the outbox id.

    The same answer whatever the address holds already (so the form tells nobody whether an
    address subscribes): an identical confirmed subscription gets nothing, an identical
    unconfirmed one a fresh link, an address at ``MAX_PER_ADDRESS`` nothing more.
    """
    same = select(AlertSubscription).where(
        func.lower(AlertSubscription.email) == request.email.lower(),
        AlertSubscription.kind == request.kind,
        AlertSubscription.place_label == request.place_label,
        AlertSubscription.category_ids == list(request.category_ids),
        AlertSubscription.frequency == request.frequency,
    )
    subscription = session.scalars(same.limit(1)).first()
    if subscription is not None and subscription.confirmed_at is not None:
        return None
    if subscription is None:
        held = session.scalar(
            select(func.count()).where(func.lower(AlertSubscription.email) == request.email.lower())
        )
        if held >= MAX_PER_ADDRESS:
            return None
        subscription = AlertSubscription(
            email=request.email,
            kind=request.kind,
            ward_id=request.ward_id,
            area_id=request.area_id,
            radius_m=request.radius_m,
            place_label=request.place_label,
            category_ids=list(request.category_ids),
            frequency=request.frequency,
        )
        if request.kind is AlertKind.DISTANCE:
            point = func.ST_SetSRID(func.ST_MakePoint(request.lon, request.lat), 4326)
            subscription.point = point
            # A box a little larger than the circle, so the index never misses a report in it.
            subscription.reach = func.ST_Envelope(
                func.geometry(func.ST_Buffer(func.geography(point), request.radius_m * 1.01))
            )
        session.add(subscription)
    subscription.nonce = secrets.token_hex(8)
    session.flush()
    return outbox.queue_email(
        session,
        key=f"{EmailKind.CONFIRM}:{subscription.id}:{subscription.nonce}",
        kind=EmailKind.CONFIRM,
        recipient=subscription.email,
        data={"subscription_id": subscription.id},
    )


def _serializer(secret_key: str, purpose: str) -> URLSafeTimedSerializer:
    # The salt keeps a confirmation token from working as an unsubscribe token and back.
    return URLSafeTimedSerializer(secret_key, salt=f"safer-streets:alert-{purpose}")


def token(subscription: AlertSubscription, secret_key: str, purpose: str) -> str:
    """A signed link token (``purpose`` "confirm" or "unsubscribe") for one subscription."""
    return _serializer(secret_key, purpose).dumps([subscription.id, subscription.nonce])


def subscription_for(
    session: Session, signed: str, secret_key: str, purpose: str
) -> AlertSubscription | None:
    """The subscription a link token stands for, if it is genuine, current and still there.

    Confirmation links expire after ``CONFIRM_WITHIN``; unsubscribe links never do, so an
    old alert can always stop the next.
    """
    max_age = CONFIRM_WITHIN.total_seconds() if purpose == "confirm" else None
    try:
        subscription_id, nonce = _serializer(secret_key, purpose).loads(signed, max_age=max_age)
    except (BadSignature, SignatureExpired, ValueError, TypeError):
        return None
    subscription = session.get(AlertSubscription, subscription_id)
    if subscription is None or not secrets.compare_digest(subscription.nonce, str(nonce)):
        return None
    return subscription


def confirm(
    session: Session, signed: str, secret_key: str, now: datetime
) -> AlertSubscription | None:
    """Turn a subscription on through its confirmation link; None if the link is no good."""
    subscription = subscription_for(session, signed, secret_key, "confirm")
    if subscription is not None and subscription.confirmed_at is None:
        subscription.confirmed_at = now
        session.flush()
    return subscription


def unsubscribe(session: Session, signed: str, secret_key: str) -> bool:
    """Delete the subscription a link stands for (address included); False if none was left."""
    subscription = subscription_for(session, signed, secret_key, "unsubscribe")
    if subscription is None:
        return False
    session.delete(subscription)
    session.flush()
    return True


def forget_unconfirmed(session: Session, now: datetime) -> int:
    """Delete subscriptions nobody confirmed within ``CONFIRM_WITHIN``: their addresses too."""
    result = session.execute(
        delete(AlertSubscription).where(
            AlertSubscription.confirmed_at.is_(None),
            AlertSubscription.created_at < now - CONFIRM_WITHIN,
        )
    )
    return result.rowcount


# ---- Matching new reports to subscriptions --------------------------------------------------

# One statement. New public reports (recently routed, in a listed category, with a public
# status, not swept before) are marked swept, then joined to confirmed subscriptions three
# ways, each through an index: ward by id, town centre by the area's geometry, distance by each
# subscription's reach and then the distance on the sphere. Town centre and distance match
# only reports whose point the public may see (exact or snapped): a report shown at ward
# precision is not placed more finely by an alert. Each subscription's matches become one
# delivery row.
MATCH_SQL = text(
    """
    WITH new AS MATERIALIZED (
        SELECT r.id, r.category_id, r.ward_id, r.location, r.location::geography AS geography,
               r.routed_at, c.disclosure_location IN :point_precisions AS placed
        FROM report r JOIN category c ON c.id = r.category_id
        WHERE r.routed_at >= :since AND r.routed_at < :now
          AND r.status IN :statuses AND c.public AND c.disclosure_listed
          AND NOT EXISTS (SELECT 1 FROM alert_swept_report w WHERE w.report_id = r.id)
    ),
    swept AS (
        INSERT INTO alert_swept_report (report_id) SELECT id FROM new
    ),
    matched AS (
        SELECT s.id AS subscription_id, n.id AS report_id
        FROM new n JOIN alert_subscription s ON s.ward_id = n.ward_id
            AND s.confirmed_at <= n.routed_at
            AND (cardinality(s.category_ids) = 0 OR n.category_id = ANY(s.category_ids))
        UNION ALL
        SELECT s.id, n.id
        FROM new n
        JOIN area a ON n.placed AND ST_Covers(a.geom, n.location)
        JOIN alert_subscription s ON s.area_id = a.id
            AND s.confirmed_at <= n.routed_at
            AND (cardinality(s.category_ids) = 0 OR n.category_id = ANY(s.category_ids))
        UNION ALL
        SELECT s.id, n.id
        FROM new n
        JOIN alert_subscription s ON n.placed AND s.reach && n.location
            AND s.confirmed_at <= n.routed_at
            AND (cardinality(s.category_ids) = 0 OR n.category_id = ANY(s.category_ids))
            -- On the sphere (use_spheroid false): within a few metres at 2 km, and faster.
            AND ST_DWithin(s.point::geography, n.geography, s.radius_m, false)
    )
    INSERT INTO alert_delivery (subscription_id, report_ids)
    SELECT subscription_id, array_agg(report_id ORDER BY report_id)
    FROM matched GROUP BY subscription_id
    """
).bindparams(bindparam("point_precisions", expanding=True), bindparam("statuses", expanding=True))


def match_parameters(now: datetime, lookback: timedelta = LOOKBACK) -> dict[str, Any]:
    """The values ``MATCH_SQL`` runs with: reports routed from ``now - lookback`` to ``now``."""
    return {
        "since": now - lookback,
        "now": now,
        "point_precisions": list(POINT_PRECISIONS),
        "statuses": sorted(status.value for status in PUBLIC_STATUSES),
    }


# Partners' actions published since the last sweep (and not withdrawn) are marked swept, then
# joined to confirmed subscriptions: a ward subscription by the ward's name (wards are
# versioned), a town centre by id, a distance when the action's ward or town centre comes
# within it. Categories chosen narrow it to actions prompted by a report in one of them; only
# publicly listed categories can be chosen, so nothing follows about any other report.
MATCH_ACTIONS_SQL = text(
    """
    WITH new AS MATERIALIZED (
        SELECT a.id, a.ward_id, a.area_id, a.created_at
        FROM partner_action a
        WHERE a.swept_at IS NULL AND a.withdrawn_at IS NULL AND a.created_at < :now
    ),
    swept AS (
        UPDATE partner_action SET swept_at = :now WHERE id IN (SELECT id FROM new)
    ),
    placed AS (
        SELECT n.id, n.created_at, n.area_id, w.slug AS ward_slug,
               COALESCE(w.geom, ar.geom) AS geom
        FROM new n
        LEFT JOIN ward w ON w.id = n.ward_id
        LEFT JOIN area ar ON ar.id = n.area_id
    ),
    matched AS (
        SELECT s.id AS subscription_id, p.id AS action_id
        FROM placed p
        JOIN alert_subscription s ON s.confirmed_at <= p.created_at
        LEFT JOIN ward sw ON sw.id = s.ward_id
        WHERE (
            (s.kind = 'ward' AND sw.slug = p.ward_slug)
            OR (s.kind = 'area' AND s.area_id = p.area_id)
            OR (s.kind = 'distance'
                AND ST_DWithin(p.geom::geography, s.point::geography, s.radius_m, false))
        )
        AND (
            cardinality(s.category_ids) = 0
            OR EXISTS (
                SELECT 1 FROM partner_action_report l JOIN report r ON r.id = l.report_id
                WHERE l.action_id = p.id AND r.category_id = ANY(s.category_ids)
            )
        )
    )
    INSERT INTO alert_delivery (subscription_id, report_ids, action_ids)
    SELECT subscription_id, '{}', array_agg(action_id ORDER BY action_id)
    FROM matched GROUP BY subscription_id
    """
)


def match_new_reports(session: Session, now: datetime, lookback: timedelta = LOOKBACK) -> int:
    """Match the public reports routed, and the partners' actions published, since the last
    sweep to every subscription; returns how many deliveries that made."""
    # Two sweeps at once (a slow one overtaken by the next) take turns: the second then sees
    # the first's swept reports and skips them.
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SWEEP_LOCK})
    # Compiling the statement (PostgreSQL's JIT) would take longer than running it.
    session.execute(text("SET LOCAL jit = off"))
    reports = session.execute(MATCH_SQL, match_parameters(now, lookback)).rowcount
    return reports + session.execute(MATCH_ACTIONS_SQL, {"now": now}).rowcount


# ---- Writing the emails ----------------------------------------------------------------------


def queue_alert_emails(session: Session, now: datetime, frequency: AlertFrequency) -> list[int]:
    """One outbox email per subscription with deliveries not yet sent; the new outbox ids.

    Immediate subscriptions get one now; daily ones one digest a day, after 07:00 London
    time (a match after today's digest waits for tomorrow's: the key holds the date).
    """
    local = now.astimezone(LONDON)
    if frequency is AlertFrequency.DAILY and local.hour < DIGEST_HOUR:
        return []
    pending: dict[int, tuple[str, list[int], set[int], set[int]]] = {}
    for subscription_id, email, delivery_id, report_ids, action_ids in session.execute(
        select(
            AlertDelivery.subscription_id,
            AlertSubscription.email,
            AlertDelivery.id,
            AlertDelivery.report_ids,
            AlertDelivery.action_ids,
        )
        .join(AlertSubscription, AlertSubscription.id == AlertDelivery.subscription_id)
        .where(
            AlertDelivery.outbox_id.is_(None),
            AlertSubscription.frequency == frequency,
            AlertSubscription.confirmed_at.is_not(None),
        )
        .order_by(AlertDelivery.id)
    ):
        _email, deliveries, reports, actions = pending.setdefault(
            subscription_id, (email, [], set(), set())
        )
        deliveries.append(delivery_id)
        reports.update(report_ids)
        actions.update(action_ids)
    if not pending:
        return []
    kind = EmailKind.ALERT if frequency is AlertFrequency.IMMEDIATE else EmailKind.DIGEST
    rows = [
        {
            # Immediate: the newest delivery identifies the email; daily: the day does.
            "key": f"{kind}:{subscription_id}:"
            + (str(deliveries[-1]) if kind == EmailKind.ALERT else local.date().isoformat()),
            "kind": kind,
            "recipient": email,
            "data": {
                "subscription_id": subscription_id,
                "delivery_ids": deliveries,
                "report_ids": sorted(reports),
                "action_ids": sorted(actions),
            },
        }
        for subscription_id, (email, deliveries, reports, actions) in pending.items()
    ]
    created = session.execute(
        pg_insert(EmailOutbox)
        .on_conflict_do_nothing(index_elements=[EmailOutbox.key])
        .returning(EmailOutbox.id, EmailOutbox.data),
        rows,
    ).all()
    if not created:
        return []
    session.execute(
        text("UPDATE alert_delivery SET outbox_id = :outbox_id WHERE id = ANY(:delivery_ids)"),
        [
            {"outbox_id": outbox_id, "delivery_ids": data["delivery_ids"]}
            for outbox_id, data in created
        ],
    )
    return [outbox_id for outbox_id, _data in created]


# ---- Composing the emails at send time (registered with the outbox) ------------------------


def _subscription(session: Session, row: EmailOutbox) -> AlertSubscription | None:
    return session.get(AlertSubscription, row.data.get("subscription_id"))


def compose_confirmation(
    session: Session, row: EmailOutbox, settings: Settings
) -> outbox.Composed | None:
    """The confirmation email, unless the subscription is gone or already confirmed."""
    subscription = _subscription(session, row)
    if subscription is None or subscription.confirmed_at is not None:
        return None
    if row.key != f"{EmailKind.CONFIRM}:{subscription.id}:{subscription.nonce}":
        return None  # a newer confirmation email replaced this one
    base = settings.base_url.rstrip("/")
    subject, body = render_email(
        "residents/email/alert_confirm",
        subscription=subscription,
        link=f"{base}/alerts/confirm/{token(subscription, settings.secret_key, 'confirm')}",
        days=CONFIRM_WITHIN.days,
    )
    return outbox.Composed(subject, body)


def compose_alert(session: Session, row: EmailOutbox, settings: Settings) -> outbox.Composed | None:
    """An alert or digest: the matched reports exactly as the public list shows them."""
    subscription = _subscription(session, row)
    if subscription is None or subscription.confirmed_at is None:
        return None
    reports = session.scalars(
        select(Report)
        .options(joinedload(Report.ward), joinedload(Report.owner))
        .where(
            Report.id.in_(row.data.get("report_ids", [])),
            Report.status.in_(sorted(status.value for status in PUBLIC_STATUSES)),
        )
        .order_by(Report.created_at.desc(), Report.id.desc())
    ).all()
    rows = rows_of(reports)
    actions = partner_actions.actions_by_id(
        session, row.data.get("action_ids", []), min_count=settings.board_min_count
    )
    if not rows and not actions:
        # Every report was hidden since (held, moderated away), every action withdrawn.
        return None
    base = settings.base_url.rstrip("/")
    unsubscribe_link = (
        f"{base}/alerts/unsubscribe/{token(subscription, settings.secret_key, 'unsubscribe')}"
    )
    subject, body = render_email(
        "residents/email/alert",
        subscription=subscription,
        rows=rows[:MAX_REPORTS_PER_EMAIL],
        more=max(0, len(rows) - MAX_REPORTS_PER_EMAIL),
        actions=actions,
        digest=row.kind == EmailKind.DIGEST,
        base_url=base,
        unsubscribe_link=unsubscribe_link,
    )
    return outbox.Composed(
        subject,
        body,
        {
            # RFC 8058: mail programs offer "unsubscribe" and POST to the link, with no page.
            "List-Unsubscribe": f"<{unsubscribe_link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


outbox.register_composer(EmailKind.CONFIRM, compose_confirmation)
outbox.register_composer(EmailKind.ALERT, compose_alert)
outbox.register_composer(EmailKind.DIGEST, compose_alert)
