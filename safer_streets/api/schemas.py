"""Response shapes of the JSON API, as pydantic models.

Responses are built through these models and the OpenAPI document is generated from them and
from ``reports.ReportSubmission`` (the request schema that validates submissions), so the
document cannot drift from what the API accepts and returns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from safer_streets.models import Category, Report, ReportStatus
from safer_streets.taxonomy import reasons_for

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
    tracking: str = Field(description="The public tracking page for the reporter.")


class ReportCreated(_Out):
    """A report was taken (or an earlier one replayed for the same Idempotency-Key)."""

    reference: str = Field(description="Public reference, e.g. `LEW-7K3Q9`.")
    status: ReportStatusName
    links: ReportLinks


class ReportView(_Out):
    """A report's public state: never the reporter's contact details."""

    reference: str
    status: ReportStatusName
    category: str = Field(description="Category slug.")
    ward: WardRef | None = Field(description="Set once the report is routed.")
    owner: PartnerRef | None = Field(description="The partner handling it, once routed.")
    notified: list[PartnerRef] = Field(description="Partners kept informed.")
    routing_reason: str | None = Field(description="Why it went to its owner, in words.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, report: Report) -> ReportView:
        """The view of a stored report."""
        return cls(
            reference=report.reference,
            status=report.status.value,
            category=report.category.slug,
            ward=WardRef(code=report.ward.code, name=report.ward.name) if report.ward else None,
            owner=PartnerRef(slug=report.owner.slug, name=report.owner.name)
            if report.owner
            else None,
            notified=[PartnerRef(slug=p.slug, name=p.name) for p in report.notified],
            routing_reason=report.routing_reason,
            created_at=report.created_at,
            updated_at=report.updated_at,
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
    def of(cls, category: Category) -> CategoryView:
        """The view of a stored category with its reasons from the taxonomy."""
        return cls(
            slug=category.slug,
            name=category.name,
            group=category.group,
            description=category.description,
            sensitive=category.sensitive,
            emergency_notice=category.emergency_notice,
            reasons=[ReasonView(key=r.key, label=r.label) for r in reasons_for(category.slug)],
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
