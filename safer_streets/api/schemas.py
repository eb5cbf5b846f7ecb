"""Response shapes of the JSON API, as pydantic models.

Responses are built through these models and the OpenAPI document is generated from them and
from ``reports.ReportSubmission`` (the request schema that validates submissions), so the
document cannot drift from what the API accepts and returns.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from safer_streets.disclosure.policy import Disclosure
from safer_streets.models import Category, ReportStatus
from safer_streets.taxonomy import Reason

ReportStatusName = Literal[tuple(status.value for status in ReportStatus)]  # type: ignore[valid-type]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WardRef(_Out):
    """A ward of Lewisham (ONS 2022 boundaries)."""

    code: str = Field(description="ONS ward code, e.g. `E05013726`.")
    name: str


class PartnerRef(_Out):
    """A partner organisation."""

    slug: str = Field(description="Partner slug, e.g. `met-snt-rushey-green`.")
    name: str


class ReportLinks(_Out):
    """Where to read the report."""

    self: str = Field(description="This report in the JSON API.")
    tracking: str = Field(
        description="The reporter's private tracking link: keep it private; it opens the "
        "report even where its category is never shown to the public."
    )


class ReportCreated(_Out):
    """A report was taken (or an earlier one replayed for the same Idempotency-Key)."""

    reference: str = Field(description="Public reference, e.g. `LEW-7K3Q9`.")
    status: ReportStatusName
    links: ReportLinks


class PlaceView(_Out):
    """Where a report is, at the precision the disclosure policy allows its reader."""

    precision: Literal["exact", "snapped", "ward"] = Field(
        description="`exact`: the spot chosen; `snapped`: the nearest police.uk street point "
        "in the ward, never the spot; `ward`: the ward alone (no point)."
    )
    label: str = Field(description="The place in words, e.g. `On or near Catford Broadway`.")
    lat: float | None = Field(description="Absent (null) at ward precision.")
    lon: float | None = Field(description="Absent (null) at ward precision.")


class ReportView(_Out):
    """A report as its reader may see it (the disclosure policy): never the reporter's contact
    details, nor what they typed for the place unless the exact spot is public."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "reference": "LEW-7K3Q9",
                    "status": "routed",
                    "category": "drug-dealing",
                    "ward": {"code": "E05013730", "name": "Rushey Green"},
                    "owner": {"slug": "met-snt-rushey-green", "name": "Rushey Green SNT"},
                    "notified": [],
                    "routing_reason": (
                        "Drug dealing reports in Rushey Green ward go to Rushey Green SNT."
                    ),
                    "created_at": "2026-12-03T00:00:00+00:00",
                    "updated_at": "2026-12-03T00:00:00+00:00",
                    "time_precision": "day",
                    "location": {
                        "precision": "snapped",
                        "label": "On or near Catford Broadway",
                        "lat": 51.4451,
                        "lon": -0.0209,
                    },
                    "description": None,
                    "supporter_count": 2,
                }
            ]
        },
    )

    reference: str
    status: ReportStatusName
    category: str = Field(description="Category slug.")
    ward: WardRef | None = Field(description="Set once the report is routed.")
    owner: PartnerRef | None = Field(description="The partner handling it, once routed.")
    notified: list[PartnerRef] = Field(description="Partners kept informed.")
    routing_reason: str | None = Field(
        description="Why it went to its owner, in words (category, ward and partner for the "
        "public; partners acting for the report see their own words)."
    )
    created_at: datetime = Field(description="When it was made, to `time_precision`.")
    updated_at: datetime = Field(description="When it last changed, to `time_precision`.")
    time_precision: Literal["exact", "hour", "day", "month"] = Field(
        description="How precisely times are given: finer parts are zero (London time)."
    )
    location: PlaceView | None = Field(description="Null when the place may not be shown.")
    description: str | None = Field(
        description="The resident's words where its category makes them public, or the text "
        "a partner checked and published; null otherwise."
    )
    supporter_count: int | None = Field(
        description="People who added their voice; null where only the partners may know."
    )

    @classmethod
    def of(cls, shown: Disclosure) -> ReportView:
        """The view of a report as the policy lets this reader see it."""
        report, place = shown.report, shown.place
        created, updated = shown.created, shown.moment(report.updated_at)
        # Only listed reports are viewed, and a listed report's times are always shown.
        assert created is not None
        assert updated is not None
        return cls(
            reference=report.reference,
            status=report.status.value,
            category=report.category.slug,
            ward=WardRef(code=report.ward.code, name=report.ward.name) if report.ward else None,
            owner=PartnerRef(slug=report.owner.slug, name=report.owner.name)
            if report.owner
            else None,
            notified=[PartnerRef(slug=p.slug, name=p.name) for p in report.notified],
            routing_reason=shown.routing_reason,
            created_at=created.value,
            updated_at=updated.value,
            time_precision=created.precision.value,
            location=PlaceView(
                precision=place.precision.value, label=place.label, lat=place.lat, lon=place.lon
            )
            if place is not None
            else None,
            description=shown.description,
            supporter_count=shown.supporters,
        )


class ReasonView(_Out):
    """A reason a report in a category may carry (StreetSafe's lists)."""

    key: str = Field(description="Stable key to send in `reasons`, e.g. `badly-lit`.")
    label: str


class CategoryView(_Out):
    """A kind of problem that can be reported."""

    slug: str
    name: str
    group: str
    description: str
    sensitive: bool = Field(description="Never shown as an exact location in public.")
    emergency_notice: bool = Field(description="Show 999 guidance prominently.")
    reasons: list[ReasonView] = Field(description="Reasons that may be given (often none).")

    @classmethod
    def of(cls, category: Category, reasons: Iterable[Reason]) -> CategoryView:
        """The view of a stored category with the reasons the taxonomy offers for it."""
        return cls(
            slug=category.slug,
            name=category.name,
            group=category.group,
            description=category.description,
            sensitive=category.sensitive,
            emergency_notice=category.emergency_notice,
            reasons=[ReasonView(key=r.key, label=r.label) for r in reasons],
        )


class Problem(BaseModel):
    """An RFC 9457 problem document; ``errors`` names each bad field."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: dict[str, str] | None = Field(
        default=None, description="Field name → what is wrong with it."
    )


class HealthPart(BaseModel):
    """One dependency's state."""

    ok: bool
    error: str | None = None
    queue_length: int | None = None
    workers: int | None = None


class HealthBacklog(BaseModel):
    """Reports waiting to be routed."""

    ok: bool | None = Field(
        default=None,
        description="False when a report has waited in `received` longer than the sweep should "
        "allow (`SAFER_STREETS_SWEEP_AFTER_SECONDS` plus two sweeps) or any needs attention.",
    )
    stale_received: int = Field(
        description="Reports still `received` after `SAFER_STREETS_SWEEP_AFTER_SECONDS`."
    )
    oldest_received_seconds: float | None = Field(
        default=None, description="Age of the oldest `received` report; null when there is none."
    )
    needs_attention: int | None = Field(
        default=None,
        description="Reports set aside after routing failed repeatedly, for an admin to retry.",
    )


class HealthOutbox(BaseModel):
    """Emails not sent yet."""

    ok: bool
    unsent: int = Field(description="Emails still to send.")
    oldest_unsent_seconds: float | None = Field(
        description="Age of the oldest email still to send; null when there is none."
    )
    gave_up: int = Field(description="Emails no longer retried after every attempt failed.")


class Health(BaseModel):
    """Every part's state, the routing backlog and the outbox, and the status with why."""

    status: Literal["ok", "degraded", "down"]
    database: HealthPart
    redis: HealthPart
    worker: HealthPart
    smtp: HealthPart | None = None
    backlog: HealthBacklog | None = Field(
        default=None, description="Absent when the database is down."
    )
    outbox: HealthOutbox | None = Field(
        default=None, description="Absent when the database is down."
    )
    reasons: list[str] = Field(
        default_factory=list, description="Why the status is `degraded` or `down`, one a line."
    )
