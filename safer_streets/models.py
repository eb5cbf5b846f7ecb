"""The nouns of Safer Streets as SQLAlchemy 2 + GeoAlchemy2 models."""

from __future__ import annotations

import enum
from datetime import date, datetime, time
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Time,
    UniqueConstraint,
    and_,
    case,
    column,
    desc,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from safer_streets.db import Base

SRID = 4326
JSONType = JSON().with_variant(JSONB(), "postgresql")


class ReportStatus(enum.StrEnum):
    """Where a report is in its life; unroutable and out-of-area are outcomes, not errors."""

    RECEIVED = "received"
    NEEDS_LOCATION = "needs_location"
    ROUTED = "routed"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    NOT_ACTIONABLE = "not_actionable"
    DUPLICATE = "duplicate"
    REFERRED = "referred"
    OUT_OF_AREA = "out_of_area"
    # From an address on the abuse list: kept, but routed only if an admin releases it.
    HELD = "held"
    # Routing failed again and again (a bug or bad data, not an outage): set aside for an admin
    # to retry after a fix, so that it stops failing every batch it is in.
    NEEDS_ATTENTION = "needs_attention"


OPEN_STATUSES = frozenset(
    {
        ReportStatus.RECEIVED,
        ReportStatus.NEEDS_ATTENTION,
        ReportStatus.NEEDS_LOCATION,
        ReportStatus.ROUTED,
        ReportStatus.ACKNOWLEDGED,
        ReportStatus.IN_PROGRESS,
    }
)


class Role(enum.StrEnum):
    """What a user may do; scoping to the user's partner is enforced in the domain layer."""

    STAFF = "staff"
    PARTNER_ADMIN = "partner-admin"
    BOARD = "board"
    ADMIN = "admin"


class RuleRole(enum.StrEnum):
    """Whether a routing rule makes its partner the owner or keeps it informed."""

    OWNER = "owner"
    NOTIFIED = "notified"


def _status_enum(enum_cls: type[enum.Enum], name: str) -> Enum:
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Ward(Base):
    """An electoral ward of one boundary generation; reports keep the ward they were routed in."""

    __tablename__ = "ward"
    __table_args__ = (UniqueConstraint("code", "generation", name="code_generation"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(9))
    name: Mapped[str] = mapped_column(String(100))
    slug: Mapped[str] = mapped_column(String(100))
    generation: Mapped[int] = mapped_column(Integer, default=2022)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Deferred: a ward's outline is tens of kilobytes, and most reads want its name (a queue
    # page joins the ward of every report it shows). Geometry readers undefer it.
    geom: Mapped[Any] = mapped_column(Geometry("MULTIPOLYGON", srid=SRID), deferred=True)


class Area(Base):
    """A named area of interest: a town centre, an estate, a transport hub."""

    __tablename__ = "area"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    geom: Mapped[Any] = mapped_column(Geometry("MULTIPOLYGON", srid=SRID), deferred=True)


class PlaceExtent(Base):
    """The ground a typed street or place covers, as the gazetteer gave it (``Gazetteer.extent``).

    Reports placed from the same text share one row, so the board spreads them over the same
    cells by working each extent out once. Rows are never changed: a report keeps the extent it
    was placed with even if the gazetteer's data moves on (``key`` includes the geometry).
    """

    __tablename__ = "place_extent"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(200))
    geom: Mapped[Any] = mapped_column(
        Geometry("GEOMETRY", srid=SRID, spatial_index=False), deferred=True
    )


class PlacedFrom(enum.StrEnum):
    """How a report got its place."""

    PIN = "pin"  # a point the reporter put on the map or typed as coordinates
    DEVICE = "device"  # the reporter's device location
    POSTCODE = "postcode"  # a full postcode (Code-Point: a few addresses)
    TYPED_PLACE = "typed_place"  # a street or place name: somewhere in its extent
    STAFF = "staff"  # staff located a report whose text could not be placed
    REPORTER = "reporter"  # the reporter placed it on their tracking page


class Partner(Base):
    """An organisation that receives reports: a council team, an SNT, TfL, a landlord."""

    __tablename__ = "partner"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    hours_to_acknowledge: Mapped[int | None] = mapped_column(Integer)
    hours_to_resolve: Mapped[int | None] = mapped_column(Integer)
    ward_code: Mapped[str | None] = mapped_column(String(9))


class Category(Base):
    """A kind of problem a resident can report."""

    __tablename__ = "category"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    group: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text, default="")
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    emergency_notice: Mapped[bool] = mapped_column(Boolean, default=False)
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # What the public may see of this category's reports (safer_streets.disclosure.policy):
    # whether they are listed one by one, and how precise their place, time and words are.
    # Until set, nothing is public: the safe default for a category nobody has decided on.
    disclosure_listed: Mapped[bool] = mapped_column(Boolean, server_default="false")
    disclosure_location: Mapped[str] = mapped_column(String(16), server_default="none")
    disclosure_time: Mapped[str] = mapped_column(String(16), server_default="month")
    disclosure_description: Mapped[str] = mapped_column(String(16), server_default="none")


class CategoryReason(Base):
    """One answer to StreetSafe's "what makes this place feel unsafe?" within a category.

    The key is stored on reports (``Report.reasons``) and in routing rules, so it never changes
    once anything uses it; a reason no longer offered is retired, never deleted, so that old
    reports still show its label.
    """

    __tablename__ = "reason"
    __table_args__ = (UniqueConstraint("category_id", "key", name="reason_category_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"))
    # As wide as ``RoutingRule.reason``, which names it.
    key: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(200))
    help: Mapped[str] = mapped_column(Text, default="", server_default="")
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    retired: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    category: Mapped[Category] = relationship()


class RoutingRule(Base):
    """One row of the routing table: who owns or hears about a category, where."""

    __tablename__ = "routing_rule"
    __table_args__ = (
        Index("ix_routing_rule_lookup", "category_id", "ward_id"),
        # One row per distinct rule; a missing condition (NULL) counts as a value here.
        UniqueConstraint(
            "category_id",
            "ward_id",
            "area_id",
            "window_start",
            "window_end",
            "reason",
            "partner_id",
            "ward_team",
            "role",
            name="rule_identity",
            postgresql_nulls_not_distinct=True,
        ),
        CheckConstraint("ward_id IS NULL OR area_id IS NULL", name="one_place"),
        # A rule names one fixed partner or the ward's own team, never both nor neither.
        CheckConstraint("(partner_id IS NULL) = ward_team", name="one_partner"),
        CheckConstraint(
            "(window_start IS NULL) = (window_end IS NULL) "
            "AND (window_start IS NULL OR window_start <> window_end)",
            name="time_window",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    ward_id: Mapped[int | None] = mapped_column(ForeignKey("ward.id"))
    # None when the rule names "the ward's Safer Neighbourhood Team" (``ward_team``): one rule
    # per category then covers every ward, each report going to the partner whose
    # ``ward_code`` is its ward.
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"))
    ward_team: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    role: Mapped[RuleRole] = mapped_column(_status_enum(RuleRole, "rule_role"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    category: Mapped[Category | None] = relationship()
    ward: Mapped[Ward | None] = relationship()
    partner: Mapped[Partner | None] = relationship()

    # ---- Conditions beyond category and ward (routing rules editable by admins) ----
    # A named area (town centre, estate, transport hub) instead of a ward.
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"))
    # A local (Europe/London) time-of-day window, start inclusive, end exclusive; it wraps
    # midnight when the end is earlier than the start (22:00-06:00).
    window_start: Mapped[time | None] = mapped_column(Time)
    window_end: Mapped[time | None] = mapped_column(Time)
    # A reason within the category (taxonomy key, e.g. "badly-lit" for feeling-unsafe).
    reason: Mapped[str | None] = mapped_column(String(40))

    area: Mapped[Area | None] = relationship()


class User(Base):
    """A partner, board or admin account; residents never need one."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(_status_enum(Role, "user_role"))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # A board account sees sensitive reports (harassment, weapons) in aggregates only, unless an
    # administrator allows it case detail; each such view is then written to the access log.
    sees_case_detail: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    partner: Mapped[Partner | None] = relationship()

    @property
    def display_name(self) -> str:
        """How colleagues see this person: their name, or their email until they give one."""
        return self.name or self.email


class Priority(enum.StrEnum):
    """How urgently a partner means to act on a report."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Report(Base):
    """Something a resident told us about a place."""

    __tablename__ = "report"
    __table_args__ = (
        Index("ix_report_owner_status", "owner_partner_id", "status"),
        Index("ix_report_status_created", "status", "created_at"),
        Index("ix_report_created_at", "created_at"),
        # Queue pages sort a partner's reports by age (also within a ward) and open reports by
        # their next deadline (NEXT_DUE below).
        Index("ix_report_owner_created", "owner_partner_id", desc("created_at")),
        Index("ix_report_ward_created", "ward_id", desc("created_at")),
        Index(
            "ix_report_open_due",
            # NEXT_DUE as PostgreSQL spells it back, so that `alembic check` sees no change.
            text(
                "COALESCE(\nCASE\n    WHEN acknowledged_at IS NULL THEN acknowledge_due_at\n"
                "    ELSE NULL::timestamp with time zone\nEND, resolve_due_at)"
            ),
            "id",
            postgresql_where=column("status").in_(sorted(status.value for status in OPEN_STATUSES)),
        ),
        # A partner's open reports, newest first: the queue as it opens, read in its order.
        Index(
            "ix_report_owner_open_created",
            "owner_partner_id",
            desc("created_at"),
            desc("id"),
            postgresql_where=column("status").in_(sorted(status.value for status in OPEN_STATUSES)),
        ),
        # The queue's search by words of the description (casework.queues.search_condition).
        Index("ix_report_search_vector", "search_vector", postgresql_using="gin"),
        # ... and by part of a street, place or postcode: trigrams answer ILIKE '%...%'.
        *(
            Index(
                f"ix_report_{name}_trgm",
                name,
                postgresql_using="gin",
                postgresql_ops={name: "gin_trgm_ops"},
            )
            for name in ("street", "location_text", "postcode")
        ),
        # Distances in metres on the sphere use this index (nearby reports, duplicates).
        Index(
            "ix_report_location_geography",
            text("(location::geography)"),
            postgresql_using="gist",
        ),
        # The reports whose after-dark flag is still to be worked out (board.query
        # .derive_after_dark, before every run): a handful, found without reading the table.
        Index("ix_report_after_dark_unknown", "id", postgresql_where=text("after_dark IS NULL")),
        # "Notified to this partner", beside the filters' own indexes (casework.queues).
        Index("ix_report_notified_partner_ids", "notified_partner_ids", postgresql_using="gin"),
        Index(
            "ix_report_notified_partner_ids_open",
            "notified_partner_ids",
            postgresql_using="gin",
            postgresql_where=and_(
                column("status").in_(sorted(status.value for status in OPEN_STATUSES)),
                column("notified_partner_ids") != text("'{}'"),
            ),
        ),
        CheckConstraint("char_length(description) <= 4000", name="description_length"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(12), unique=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"))
    description: Mapped[str] = mapped_column(Text)
    # The description's words for the queue's search, kept by PostgreSQL: matching a stored
    # vector costs a microsecond a row where building it costs fifteen, and a search that
    # matches most of a queue tests every row it counts, orders and maps.
    search_vector: Mapped[Any] = mapped_column(
        TSVECTOR,
        Computed("to_tsvector('english'::regconfig, description)", persisted=True),
        deferred=True,
    )
    location: Mapped[Any | None] = mapped_column(Geometry("POINT", srid=SRID))
    location_text: Mapped[str | None] = mapped_column(String(200))
    # How ``location`` was found; for a typed street or place ``location`` is only the
    # gazetteer's point for it and ``place_extent`` where the report may really be.
    placed_from: Mapped[str | None] = mapped_column(String(16))
    place_extent_id: Mapped[int | None] = mapped_column(ForeignKey("place_extent.id"))
    occurred_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=True)
    contact_email: Mapped[str | None] = mapped_column(String(254))
    status: Mapped[ReportStatus] = mapped_column(
        _status_enum(ReportStatus, "report_status"), default=ReportStatus.RECEIVED
    )
    # The channel it came in by: web (the resident form), api, open311, import (or the channel
    # an import named, e.g. phone), demo; the board leaves demo and test reports out.
    source: Mapped[str] = mapped_column(String(20), default="web")
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    ward_id: Mapped[int | None] = mapped_column(ForeignKey("ward.id"))
    owner_partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"))
    # The partners in report_notified_partner, sorted: written only by that table's triggers
    # (migration 0021), read by the queue's SQL, so never loaded with the report.
    notified_partner_ids: Mapped[list[int]] = mapped_column(
        ARRAY(Integer), server_default="{}", deferred=True
    )
    routing_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    routed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # StreetSafe-style reasons within a category, e.g. "badly-lit" for feeling-unsafe.
    reasons: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list, server_default="{}")
    after_dark: Mapped[bool | None] = mapped_column(Boolean)
    street: Mapped[str | None] = mapped_column(String(200))
    street_distance_m: Mapped[float | None] = mapped_column(Float)
    postcode: Mapped[str | None] = mapped_column(String(8))
    supporter_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    priority: Mapped[Priority] = mapped_column(
        _status_enum(Priority, "priority"), default=Priority.NORMAL, server_default="normal"
    )
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("report.id"))
    acknowledge_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolve_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version_id: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # The API client (Open311 or the JSON API) whose key made the report, if any.
    api_client_id: Mapped[int | None] = mapped_column(ForeignKey("api_client.id"), index=True)
    # Open311 fields with no home elsewhere: the client's photo link and the reporter's name and
    # phone (private, like contact_email), and the token Open311 clients may hold for the report.
    media_url: Mapped[str | None] = mapped_column(String(2048))
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    open311_token: Mapped[str | None] = mapped_column(String(40), unique=True)
    # The owner (a partner id) the routing rules chose. When a partner moves a report by
    # hand the owner differs from it, and bulk re-routing after a rule change leaves that
    # report alone. Deliberately not a foreign key: a second one to partner would make every
    # report-to-partner join ambiguous, and partners are never deleted.
    rule_owner_id: Mapped[int | None] = mapped_column(Integer)
    # What the public sees instead of the reporter's description once a partner has moderated
    # it (an empty string hides it); None means the description is shown as written.
    public_description: Mapped[str | None] = mapped_column(Text)
    # Optimistic locking: two people changing one report at once cannot lose an update.
    __mapper_args__ = {"version_id_col": version_id}  # noqa: RUF012 - SQLAlchemy's API

    category: Mapped[Category] = relationship(lazy="joined")
    ward: Mapped[Ward | None] = relationship()
    owner: Mapped[Partner | None] = relationship()
    notified: Mapped[list[Partner]] = relationship(
        secondary="report_notified_partner", order_by="Partner.slug"
    )
    events: Mapped[list[ReportEvent]] = relationship(
        back_populates="report", order_by="ReportEvent.id"
    )
    assigned_to: Mapped[User | None] = relationship(foreign_keys=[assigned_to_id])
    duplicate_of: Mapped[Report | None] = relationship(
        foreign_keys=[duplicate_of_id], remote_side=[id]
    )
    api_client: Mapped[ApiClient | None] = relationship(foreign_keys=[api_client_id])
    photo: Mapped[ReportPhoto | None] = relationship(back_populates="report")
    place_extent: Mapped[PlaceExtent | None] = relationship()


class ReportNotifiedPartner(Base):
    """A partner kept informed of a report it does not own (a joint case)."""

    __tablename__ = "report_notified_partner"
    __table_args__ = (Index("ix_report_notified_partner_partner", "partner_id", "report_id"),)

    report_id: Mapped[int] = mapped_column(ForeignKey("report.id"), primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"), primary_key=True)


class QueueCount(Base):
    """How many reports a partner's queue holds of one status, category and ward: the queue's
    counts without counting a million reports on each page.

    Triggers on ``report`` and ``report_notified_partner`` (migration 0020) add a row of
    changes (``n`` +1 or -1 per report) in the same transaction as each change, so the counts
    are never behind; ``casework.counts.compact`` sums the rows every few minutes. A report
    counts once for its owner, once for each other partner notified of it, and once in the
    borough-wide rows (``partner_id`` NULL) that the board and administrators read. No foreign
    keys: every change to a report writes here, and the rows are only ever summed.
    """

    __tablename__ = "queue_count"
    __table_args__ = (
        Index("ix_queue_count_partner", "partner_id", "category_id", "ward_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    partner_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[ReportStatus] = mapped_column(_status_enum(ReportStatus, "report_status"))
    category_id: Mapped[int] = mapped_column(Integer)
    ward_id: Mapped[int | None] = mapped_column(Integer)
    n: Mapped[int] = mapped_column(BigInteger)


class ReportEvent(Base):
    """One change to a report: the audit trail and the source of its history."""

    __tablename__ = "report_event"
    # Open311 clients read updates by time window (GET servicerequestupdates).
    __table_args__ = (Index("ix_report_event_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    kind: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # The API client whose key made the change (a partner system posting an update), if any.
    api_client_id: Mapped[int | None] = mapped_column(ForeignKey("api_client.id"))

    report: Mapped[Report] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()
    api_client: Mapped[ApiClient | None] = relationship(foreign_keys=[api_client_id])


class ProcessingFailure(Base):
    """Why routing a ``received`` report failed, and how often since it was last received.

    One row a report, written in the transaction that routes the rest of its batch. At
    ``SAFER_STREETS_PROCESSING_MAX_ATTEMPTS`` the report becomes ``needs_attention``; an
    admin's retry removes the row (its content goes into the retry's event), so the report
    gets as many attempts again. A report routed at a later attempt keeps its row, as the
    record of what failed before.
    """

    __tablename__ = "processing_failure"

    report_id: Mapped[int] = mapped_column(
        ForeignKey("report.id", ondelete="CASCADE"), primary_key=True
    )
    attempts: Mapped[int] = mapped_column(Integer)
    # The exception's class (e.g. "KeyError") and its message, as the worker saw them.
    error_kind: Mapped[str] = mapped_column(String(200))
    error_message: Mapped[str] = mapped_column(Text)
    first_failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    report: Mapped[Report] = relationship()


# ---- Routing rules: the history of every change ----


class RuleChange(enum.StrEnum):
    """What an admin (or the seed loader) did to a routing rule."""

    CREATED = "created"
    EDITED = "edited"
    DEACTIVATED = "deactivated"
    REACTIVATED = "reactivated"


class RoutingDataVersion(Base):
    """One number that database triggers raise whenever rules, wards, areas, partners, service
    levels, categories or reasons change: the worker reloads what routing reads when it moves."""

    __tablename__ = "routing_data_version"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


class RoutingRuleChange(Base):
    """One change to a routing rule: who, when, why, and the rule before and after."""

    __tablename__ = "routing_rule_change"
    __table_args__ = (Index("ix_routing_rule_change_rule_at", "rule_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("routing_rule.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # None when the seed data made the change rather than a person.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    action: Mapped[RuleChange] = mapped_column(_status_enum(RuleChange, "rule_change"))
    why: Mapped[str] = mapped_column(Text)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    after: Mapped[dict[str, Any]] = mapped_column(JSONType)

    rule: Mapped[RoutingRule] = relationship()
    actor: Mapped[User | None] = relationship()


# ---- The admin console: one history for partners, categories, reasons, named areas and service
# levels


class AdminEntity(enum.StrEnum):
    """What an admin changed on the console's pages."""

    PARTNER = "partner"
    PARTNER_SLA = "partner_sla"
    CATEGORY = "category"
    AREA = "area"
    REASON = "reason"


class AdminAction(enum.StrEnum):
    """What happened to it."""

    CREATED = "created"
    EDITED = "edited"
    REMOVED = "removed"
    # A reason is never removed: retired, it is no longer offered but keeps its label.
    RETIRED = "retired"
    RESTORED = "restored"


class AdminChange(Base):
    """One change an admin made: who, when, why, and the changed fields before and after.

    No foreign key to the thing changed: a removed area or service level keeps its history,
    found by ``entity`` and ``entity_key`` (a slug, or "partner/category" for a service level).
    """

    __tablename__ = "admin_change"
    __table_args__ = (Index("ix_admin_change_entity_at", "entity", "entity_key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    entity: Mapped[AdminEntity] = mapped_column(_status_enum(AdminEntity, "admin_entity"))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    entity_key: Mapped[str] = mapped_column(String(200))
    action: Mapped[AdminAction] = mapped_column(_status_enum(AdminAction, "admin_action"))
    why: Mapped[str] = mapped_column(Text)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType)

    actor: Mapped[User] = relationship()


# --------------------------------------------------------------------------------------------
# API clients (Open311 and the JSON API): keys issued by admins, and what each key did.
# --------------------------------------------------------------------------------------------


class ApiClient(Base):
    """An app or partner system holding an API key; only a hash of the key is stored."""

    __tablename__ = "api_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"))
    # The key's first characters, stored in clear so a key can be found without scanning.
    key_prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    partner: Mapped[Partner | None] = relationship()
    created_by: Mapped[User | None] = relationship()

    @property
    def active(self) -> bool:
        """False once revoked."""
        return self.revoked_at is None


# --- Resident reporting: photos and support (+1) ---------------------------------------------


class ReportPhoto(Base):
    """A report's photo as re-encoded here, with no metadata; the upload itself is never kept."""

    __tablename__ = "report_photo"
    __table_args__ = (
        CheckConstraint("content_type IN ('image/jpeg', 'image/webp')", name="photo_content_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # One photo per report, as residents are asked for "a photo".
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id"), unique=True)
    content_type: Mapped[str] = mapped_column(String(40))
    # Deferred: listing reports or checking a photo exists never loads the bytes.
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # The public sees a photo only once a partner has checked it (no face, no number plate)
    # and approved it; partners always see it.
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    report: Mapped[Report] = relationship(back_populates="photo")


class ReportAccess(Base):
    """One view of a sensitive report's detail: who, when, which report, from where, on what."""

    __tablename__ = "report_access"
    __table_args__ = (Index("ix_report_access_report", "report_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    api_client_id: Mapped[int | None] = mapped_column(ForeignKey("api_client.id"))
    # The page, export or API call that showed it, e.g. "report page" or "CSV export".
    surface: Mapped[str] = mapped_column(String(60))
    address: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    report: Mapped[Report] = relationship()
    user: Mapped[User | None] = relationship()


class ReportSupport(Base):
    """A resident adding their voice to an open report instead of making a duplicate."""

    __tablename__ = "report_support"
    __table_args__ = (UniqueConstraint("report_id", "key_hash", name="support_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id"), index=True)
    # A hash of one of the ids a supporter is known by (their keyed address, browser cookie or
    # API client; intake.support): nothing identifying the supporter is kept.
    key_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(20), default="web")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # A supporter is known by several ids, so several rows; what they told us about themselves
    # is kept on one of them only, so that the board counts each person once. ``after_dark``
    # is set exactly on that row (from when it happened to them, or when they added their
    # voice), which is how the board finds it.
    reasons: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list, server_default="{}")
    occurred_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    after_dark: Mapped[bool | None] = mapped_column(Boolean)
    # Where to send this report's public updates; cleared when they stop them, and by
    # retention once the report has been closed a while (privacy.retention).
    email: Mapped[str | None] = mapped_column(String(254))


# --- Safety board: hotspot runs, recorded crime, published summaries ---------------------------


class RunStatus(enum.StrEnum):
    """Where a hotspot run is: the board reads only ``done`` runs."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class HotspotRun(Base):
    """One computation of hotspots over a filtered set of reports, with how it was made."""

    __tablename__ = "hotspot_run"
    __table_args__ = (Index("ix_hotspot_run_lookup", "parameters_key", "status", "computed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    computed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[RunStatus] = mapped_column(
        _status_enum(RunStatus, "run_status"), default=RunStatus.QUEUED
    )
    # Filters (categories, dates, time of day) and method (cell size, neighbourhood,
    # permutations, seed, bandwidth rule): everything needed to reproduce the run.
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # A digest of the filter part of the parameters: the board finds runs for its filters by it.
    parameters_key: Mapped[str] = mapped_column(String(64))
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    requested_by: Mapped[User | None] = relationship()


class HotspotCell(Base):
    """One analysed grid cell of a run: its count, Gi* statistics, label and density."""

    __tablename__ = "hotspot_cell"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("hotspot_run.id", ondelete="CASCADE"), primary_key=True
    )
    iy: Mapped[int] = mapped_column(Integer, primary_key=True)
    ix: Mapped[int] = mapped_column(Integer, primary_key=True)
    cell: Mapped[Any] = mapped_column(Geometry("POLYGON", srid=SRID, spatial_index=False))
    # Reports in the cell; fractional (tenths) where reports placed from a typed street or
    # place are spread over its cells.
    count: Mapped[float] = mapped_column(Float)
    z: Mapped[float] = mapped_column(Float)
    # The p-value the label was decided on, named by the run's ``summary["p_name"]``.
    p: Mapped[float] = mapped_column(Float)
    # Its Monte Carlo estimate, for analysts: the tie-aware two-sided permutation p-value
    # (``p_sim_two_sided`` in geo.hotspots).
    p_sim: Mapped[float | None] = mapped_column(Float)
    # Benjamini-Hochberg adjusted p-value of the p-values the label was decided on.
    q: Mapped[float] = mapped_column(Float)
    gi_bin: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(16))
    density: Mapped[float] = mapped_column(Float)
    emerging: Mapped[str | None] = mapped_column(String(16))


class PoliceCrime(Base):
    """A recorded crime from a data.police.uk street-level file (location anonymised)."""

    __tablename__ = "police_crime"
    __table_args__ = (Index("ix_police_crime_month_type", "month", "crime_type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The police Crime ID, or a digest of the row for rows that have none (e.g. ASB).
    crime_key: Mapped[str] = mapped_column(String(80), unique=True)
    crime_id: Mapped[str | None] = mapped_column(String(64))
    month: Mapped[date] = mapped_column(Date)
    reported_by: Mapped[str] = mapped_column(String(100))
    falls_within: Mapped[str] = mapped_column(String(100))
    location: Mapped[Any] = mapped_column(Geometry("POINT", srid=SRID))
    location_text: Mapped[str] = mapped_column(String(200))
    lsoa_code: Mapped[str] = mapped_column(String(9))
    lsoa_name: Mapped[str] = mapped_column(String(100))
    crime_type: Mapped[str] = mapped_column(String(80))
    last_outcome: Mapped[str | None] = mapped_column(String(200))
    context: Mapped[str | None] = mapped_column(Text)
    ward_id: Mapped[int | None] = mapped_column(ForeignKey("ward.id"), index=True)
    imported_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    ward: Mapped[Ward | None] = relationship()


class PublishedSummary(Base):
    """A "you said, we did" summary the board has published for residents."""

    __tablename__ = "published_summary"

    id: Mapped[int] = mapped_column(primary_key=True)
    published_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    content: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    published_by: Mapped[User | None] = relationship()


# ---- Partner triage: account security, SLAs, response templates, email outbox ------------


class UserSecurity(Base):
    """An account's second factor and session revocation, kept beside the account."""

    __tablename__ = "user_security"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    # Base32 TOTP secret; enrolment is complete only once a code from it has been checked.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The last accepted TOTP time step: a code cannot be replayed within its window.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    # When every session of the account was last ended (signing out, a password change or
    # reset, deactivation). A session carries the value it started under and is void once
    # this changes: the account's session generation (``accounts.users.session_generation``).
    sessions_valid_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PartnerSla(Base):
    """A partner's service level for one category, overriding the partner's defaults."""

    __tablename__ = "partner_sla"
    __table_args__ = (
        UniqueConstraint("partner_id", "category_id", name="partner_sla_identity"),
        CheckConstraint(
            "hours_to_acknowledge > 0 AND hours_to_resolve >= hours_to_acknowledge",
            name="sla_hours",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"))
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"))
    hours_to_acknowledge: Mapped[int] = mapped_column(Integer)
    hours_to_resolve: Mapped[int] = mapped_column(Integer)

    category: Mapped[Category] = relationship()


class NewReportEmails(enum.StrEnum):
    """How a partner hears about newly routed reports."""

    IMMEDIATE = "immediate"
    DAILY_DIGEST = "daily_digest"
    OFF = "off"


class PartnerPreference(Base):
    """A partner's own choices, set by its partner admins."""

    __tablename__ = "partner_preference"

    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"), primary_key=True)
    new_report_emails: Mapped[NewReportEmails] = mapped_column(
        _status_enum(NewReportEmails, "new_report_emails"),
        default=NewReportEmails.IMMEDIATE,
        server_default=NewReportEmails.IMMEDIATE.value,
    )


class SavedView(Base):
    """A member of staff's named queue filters, one click from the queue page."""

    __tablename__ = "saved_view"
    __table_args__ = (UniqueConstraint("user_id", "name", name="saved_view_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    # The filters as the queue's query string (casework.queues.QueueFilters.query_args).
    query: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ResponseTemplate(Base):
    """A reply a partner sends often, kept ready for notes and public updates."""

    __tablename__ = "response_template"
    __table_args__ = (UniqueConstraint("partner_id", "title", name="response_template_title"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    # Where it applies: reports of one category (None: any), and the status it is written for
    # ("resolved": the reply that closes a report; None: any update).
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    status: Mapped[str | None] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    category: Mapped[Category | None] = relationship()


class EmailOutbox(Base):
    """An email to send, written in the same transaction as the change that causes it.

    ``key`` is unique per report, kind and recipient, so a redelivered task or a second
    sweep can never send the same email twice.
    """

    __tablename__ = "email_outbox"
    __table_args__ = (
        Index(
            "ix_email_outbox_unsent",
            "created_at",
            postgresql_where="sent_at IS NULL",
        ),
        Index(
            "ix_email_outbox_next_attempt",
            "next_attempt_at",
            postgresql_where="sent_at IS NULL",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(254))
    report_id: Mapped[int | None] = mapped_column(ForeignKey("report.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("report_event.id"))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    # When the outbox sweep may next hand this row to a worker: after a failed send (backoff)
    # or after the sweep enqueued it (a lease, so the next sweep does not enqueue it again).
    # NULL: never tried; the writer enqueued it, and the sweep takes it only once it is old.
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# A report's next deadline: to acknowledge until it is acknowledged, then to resolve.
NEXT_DUE = func.coalesce(
    case((Report.acknowledged_at.is_(None), Report.acknowledge_due_at)), Report.resolve_due_at
)


# --- Abuse list -------------------------------------------------------------------------------


class AbuseEntry(Base):
    """An email address or a whole email domain whose reports are held for review."""

    __tablename__ = "abuse_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Lower case: "someone@example.org" or "example.org".
    value: Mapped[str] = mapped_column(String(254), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    created_by: Mapped[User | None] = relationship()


# --- Residents: area alerts -------------------------------------------------------------------


class AlertKind(enum.StrEnum):
    """What an alert subscription watches."""

    WARD = "ward"
    AREA = "area"  # a town centre
    DISTANCE = "distance"  # a radius around a point (a postcode, a street, a place)


class AlertFrequency(enum.StrEnum):
    """How often a subscriber hears about new reports."""

    IMMEDIATE = "immediate"
    DAILY = "daily"


class AlertSubscription(Base):
    """A resident's email alert for new public reports in a ward, a town centre or a radius.

    Nothing is sent until ``confirmed_at`` is set through the link in the confirmation email
    (double opt-in). Unsubscribing deletes the row, and with it the address.
    """

    __tablename__ = "alert_subscription"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'ward' AND ward_id IS NOT NULL AND area_id IS NULL AND point IS NULL)"
            " OR (kind = 'area' AND area_id IS NOT NULL AND ward_id IS NULL AND point IS NULL)"
            " OR (kind = 'distance' AND point IS NOT NULL AND radius_m IS NOT NULL"
            " AND reach IS NOT NULL AND ward_id IS NULL AND area_id IS NULL)",
            name="alert_place",
        ),
        CheckConstraint("radius_m IS NULL OR radius_m BETWEEN 100 AND 5000", name="alert_radius"),
        # Matching joins new reports to confirmed subscriptions by ward, area and distance.
        Index("ix_alert_subscription_ward", "ward_id", postgresql_where="ward_id IS NOT NULL"),
        Index("ix_alert_subscription_area", "area_id", postgresql_where="area_id IS NOT NULL"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    kind: Mapped[AlertKind] = mapped_column(_status_enum(AlertKind, "alert_kind"))
    ward_id: Mapped[int | None] = mapped_column(ForeignKey("ward.id"))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"))
    point: Mapped[Any | None] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))
    radius_m: Mapped[int | None] = mapped_column(Integer)
    # The box around the circle (point, radius): its spatial index finds the subscriptions a
    # new report may be near before the exact distance on the sphere is measured.
    reach: Mapped[Any | None] = mapped_column(Geometry("POLYGON", srid=SRID))
    # The place in words as the subscriber chose it ("Rushey Green ward", "SE6 4JX").
    place_label: Mapped[str] = mapped_column(String(200))
    # Category ids to alert about; empty means every category the public may see.
    category_ids: Mapped[list[int]] = mapped_column(
        ARRAY(Integer), default=list, server_default="{}"
    )
    frequency: Mapped[AlertFrequency] = mapped_column(
        _status_enum(AlertFrequency, "alert_frequency")
    )
    # Part of every signed link: replacing it (a new confirmation) invalidates older links.
    nonce: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    ward: Mapped[Ward | None] = relationship()
    area: Mapped[Area | None] = relationship()


# The alert sweep reads the reports routed in its last minutes; without this it would read
# every report ever made.
Index("ix_report_routed_at", Report.routed_at)


class AlertSweptReport(Base):
    """A public report the alert sweep has matched against every subscription: each report is
    matched once, so no subscription can hear about it twice."""

    __tablename__ = "alert_swept_report"

    report_id: Mapped[int] = mapped_column(
        ForeignKey("report.id", ondelete="CASCADE"), primary_key=True
    )
    swept_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AlertDelivery(Base):
    """The reports one sweep matched to one subscription, and the email that carried them.

    ``outbox_id`` is set when the alert (or the day's digest) is written to the outbox: what
    each subscriber was sent, and never sent again.
    """

    __tablename__ = "alert_delivery"
    __table_args__ = (
        Index(
            "ix_alert_delivery_unsent",
            "subscription_id",
            postgresql_where="outbox_id IS NULL",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("alert_subscription.id", ondelete="CASCADE"), index=True
    )
    report_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    # Partners' actions published in the subscription's place since the last sweep.
    action_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer), default=list, server_default="{}")
    matched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("email_outbox.id"))


# ---- "You said, we did": what partners did about residents' reports ----------------------


class PartnerAction(Base):
    """Something a partner did in a ward or a named area, published for residents.

    The title and words are written by staff for the public. The reports that prompted it
    are linked in ``partner_action_report``; which of them the public may see is for the
    disclosure policy to answer, never this row.
    """

    __tablename__ = "partner_action"
    __table_args__ = (
        CheckConstraint("(ward_id IS NULL) <> (area_id IS NULL)", name="action_place"),
        CheckConstraint("char_length(title) BETWEEN 1 AND 120", name="action_title_length"),
        CheckConstraint("char_length(body) BETWEEN 1 AND 2000", name="action_body_length"),
        # Public pages list an area's recent actions, newest first.
        Index("ix_partner_action_ward", "ward_id", desc("done_on")),
        Index("ix_partner_action_area", "area_id", desc("done_on")),
        Index("ix_partner_action_partner", "partner_id", desc("done_on")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"))
    ward_id: Mapped[int | None] = mapped_column(ForeignKey("ward.id"))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"))
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    done_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    # A withdrawn action is kept, with who withdrew it and when, but shown nowhere public.
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    # When the alert sweep matched it to residents' subscriptions: each action once.
    swept_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    partner: Mapped[Partner] = relationship()
    ward: Mapped[Ward | None] = relationship()
    area: Mapped[Area | None] = relationship()
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    updated_by: Mapped[User | None] = relationship(foreign_keys=[updated_by_id])
    withdrawn_by: Mapped[User | None] = relationship(foreign_keys=[withdrawn_by_id])
    reports: Mapped[list[Report]] = relationship(
        secondary="partner_action_report", order_by="Report.created_at"
    )


class PartnerActionReport(Base):
    """A report that prompted a partner's action."""

    __tablename__ = "partner_action_report"
    # Tracking pages look up the actions a report prompted.
    __table_args__ = (Index("ix_partner_action_report_report", "report_id"),)

    action_id: Mapped[int] = mapped_column(
        ForeignKey("partner_action.id", ondelete="CASCADE"), primary_key=True
    )
    report_id: Mapped[int] = mapped_column(
        ForeignKey("report.id", ondelete="CASCADE"), primary_key=True
    )


# ---- Send methods: how a partner receives its reports --------------------------------------


class SendMethod(enum.StrEnum):
    """How routed reports reach a partner."""

    # The outbox emails the partner's address (notifications.outbox).
    EMAIL = "email"
    # Posted to the partner's own case system as an Open311 service request (open311.outbound).
    OPEN311 = "open311"


class PartnerSendMethod(Base):
    """A partner's send method; a partner without a row is emailed.

    The API key is kept in clear, as the SMTP password is kept in the settings: it is sent with
    every request, so it cannot be hashed. It is never shown back in full, nor kept in the
    history.
    """

    __tablename__ = "partner_send_method"
    __table_args__ = (
        CheckConstraint(
            "method <> 'open311' OR (endpoint IS NOT NULL AND api_key IS NOT NULL)",
            name="open311_endpoint",
        ),
    )

    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"), primary_key=True)
    method: Mapped[SendMethod] = mapped_column(
        _status_enum(SendMethod, "send_method"), default=SendMethod.EMAIL
    )
    # The GeoReport v2 base URL, e.g. https://cases.example.org/open311/v2 (no trailing slash).
    endpoint: Mapped[str | None] = mapped_column(String(2048))
    api_key: Mapped[str | None] = mapped_column(String(200))
    jurisdiction_id: Mapped[str | None] = mapped_column(String(200))
    # Our category slug → the partner's service_code, where they differ.
    service_codes: Mapped[dict[str, str]] = mapped_column(
        JSONType, default=dict, server_default="{}"
    )
    # Reports routed to the partner from this moment are posted: switching a partner to Open311
    # does not post its whole backlog.
    open311_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The API client the partner's case system acts as when its updates are read back, so that
    # they are made and recorded as if it had posted them itself (open311.updates).
    api_client_id: Mapped[int | None] = mapped_column(ForeignKey("api_client.id"))
    # When the partner's updates were last read (the next read starts from a little before).
    updates_read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Why the last read of its updates failed (None once one succeeds), for the admin page.
    updates_error: Mapped[str | None] = mapped_column(Text)

    partner: Mapped[Partner] = relationship()
    api_client: Mapped[ApiClient | None] = relationship()


class Open311Send(Base):
    """A report to post, or posted, to a partner's case system, and what came of it.

    One row per report and partner, written by the sweep (open311.outbound); it leaves the
    sweep once sent. A row that failed ``outbound.MAX_ATTEMPTS`` times stays unsent, shown to
    admins with its error, until one of them retries it.
    """

    __tablename__ = "open311_send"
    __table_args__ = (
        UniqueConstraint("report_id", "partner_id", name="open311_send_once"),
        Index("ix_open311_send_unsent", "next_attempt_at", postgresql_where="sent_at IS NULL"),
        Index("ix_open311_send_partner", "partner_id", "service_request_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"))
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"))
    # The partner's id for the request, and the token a server may answer with instead.
    service_request_id: Mapped[str | None] = mapped_column(String(200))
    token: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    # As on the outbox: after a failure, when to try again; after a claim, the claim's lease.
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The time of the latest update read back from the partner for this request.
    last_update_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    report: Mapped[Report] = relationship()
    partner: Mapped[Partner] = relationship()
