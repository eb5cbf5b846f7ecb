"""Re-routing stored reports after the rules change: set-based, explained, recorded.

A report's routing depends only on its category, its stored ward, the rule-named areas that
cover it, the time-of-day bucket its local time falls in (cut at every rule window's ends)
and which rule-named reasons it has. So instead of routing a million reports one by one,
the few thousand distinct combinations are routed with ``decide.decide`` (the same function
and the same words the worker uses), and a handful of SQL statements apply them: one to key
every report, one to find what changed, and one each to update owners, notified partners
and history.

Only reports still ``routed`` are moved: once a partner has acknowledged a report or started
work on it, moving it is that partner's decision (re-routing with a reason), so those are
counted but left alone. So is a report a partner moved by hand: its owner is no longer the
one the rules chose (``report.rule_owner_id``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import time

from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import Float, Integer, String

from geo.suntimes import LONDON
from safer_streets import bounds
from safer_streets.errors import NotAllowed
from safer_streets.models import Area, Category, ReportStatus, Role, User, Ward
from safer_streets.routing import decide

logger = logging.getLogger(__name__)

MOVABLE = (ReportStatus.ROUTED,)
BEING_WORKED_ON = (ReportStatus.ACKNOWLEDGED, ReportStatus.IN_PROGRESS)
SYSTEM_WHY = "The routing rules changed"


@dataclass(frozen=True)
class Move:
    """How many reports of a category go from one owner to another."""

    category: str
    from_owner: str | None
    to_owner: str
    reports: int


@dataclass(frozen=True)
class RerouteSummary:
    """What a re-routing changed (or, in a dry run, would change)."""

    dry_run: bool
    considered: int
    changed: int
    owner_changed: int
    notified_changed: int
    explanation_only: int
    left_being_worked_on: int
    moved_by_hand: int
    moves: tuple[Move, ...]


@dataclass(frozen=True)
class _Keys:
    """How reports are bucketed for the current rules."""

    area_ids: list[int]
    cuts: list[float]  # seconds after local midnight where some time window starts or ends
    reasons: list[str]


def _seconds(moment: time) -> float:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def _bucket_time(cuts: Sequence[float], bucket: int) -> time:
    """A time inside bucket ``bucket`` of ``width_bucket(t, cuts)``: its start."""
    seconds = int(cuts[bucket - 1]) if bucket > 0 else 0
    return time(seconds // 3600, seconds % 3600 // 60, seconds % 60)


def _keys(session: Session, rules: Sequence[decide.Rule]) -> _Keys:
    slugs = {r.area.slug for r in rules if r.area is not None}
    area_ids = sorted(session.scalars(select(Area.id).where(Area.slug.in_(slugs)))) if slugs else []
    cuts = sorted(
        {_seconds(t) for r in rules if r.window for t in (r.window.start, r.window.end)} - {0.0}
    )
    reasons = sorted({r.reason for r in rules if r.reason})
    return _Keys(area_ids, cuts, reasons)


def _key_table(session: Session, keys: _Keys) -> None:
    """Key every open located report by what routing depends on (one statement)."""
    statement = text(
        """
        CREATE TEMP TABLE reroute_key ON COMMIT DROP AS
        SELECT r.id, r.status, r.category_id, coalesce(r.ward_id, 0) AS ward_id,
               coalesce(covering.area_ids, '{}') AS area_ids,
               -- which stretch between the rules' window ends the local time falls in; as
               -- processing.routing_time, an out-of-range occurred_at counts as not given
               width_bucket(
                   extract(epoch FROM (CASE WHEN r.occurred_at >= :earliest
                                             AND r.occurred_at <= r.created_at + :skew
                                        THEN r.occurred_at ELSE r.created_at END
                                       AT TIME ZONE :zone)::time)::float8,
                   CAST(:cuts AS float8[])
               ) AS bucket,
               -- bit i set when the report has the i-th reason some rule names
               CASE WHEN r.reasons && CAST(:reasons AS varchar[]) THEN
                   (SELECT sum(1 << (k.i - 1)::int)
                    FROM unnest(CAST(:reasons AS text[])) WITH ORDINALITY AS k(key, i)
                    WHERE k.key = ANY(r.reasons))
               ELSE 0 END AS reason_mask,
               r.owner_partner_id AS old_owner,
               md5(coalesce(r.routing_reason, '')) AS old_reason_md5
        FROM report r
        LEFT JOIN (
            SELECT covered.id, array_agg(area.id ORDER BY area.id) AS area_ids
            FROM area JOIN report covered ON ST_Covers(area.geom, covered.location)
            WHERE area.id = ANY(CAST(:area_ids AS int[])) AND covered.status IN :statuses
            GROUP BY covered.id
        ) covering ON covering.id = r.id
        WHERE r.status IN :statuses AND r.location IS NOT NULL
          -- a report a partner moved by hand is theirs to move, not the rules'
          AND r.owner_partner_id IS NOT DISTINCT FROM r.rule_owner_id
        """
    ).bindparams(
        bindparam("statuses", expanding=True),
        bindparam("area_ids", type_=ARRAY(Integer)),
        bindparam("cuts", type_=ARRAY(Float)),
        bindparam("reasons", type_=ARRAY(String)),
    )
    session.execute(
        statement,
        {
            "statuses": [s.value for s in (*MOVABLE, *BEING_WORKED_ON)],
            "area_ids": keys.area_ids,
            "cuts": keys.cuts,
            "reasons": keys.reasons,
            "earliest": bounds.EARLIEST,
            "skew": bounds.CLOCK_SKEW,
            "zone": LONDON.key,
        },
    )
    session.execute(text("ANALYZE reroute_key"))


def _decision_table(session: Session, rules: Sequence[decide.Rule], keys: _Keys) -> None:
    """Route each distinct combination once, with ``decide.decide``, into a temp table."""
    table = decide.RoutingTable(rules, decide.ward_teams(session))
    categories = {c.id: c for c in session.scalars(select(Category))}
    wards = {w.id: w for w in session.scalars(select(Ward))}
    areas = {a.id: decide.AreaRef(a.slug, a.name) for a in session.scalars(select(Area))}
    combos = session.execute(
        text("SELECT DISTINCT category_id, ward_id, area_ids, bucket, reason_mask FROM reroute_key")
    ).all()
    rows = []
    for category_id, ward_id, area_ids, bucket, mask in combos:
        category, ward = categories[category_id], wards.get(ward_id)
        decision = table.decide(
            category=category.slug,
            category_name=category.name,
            place=decide.Place(
                ward.code if ward else None,
                ward.name if ward else None,
                tuple(areas[i] for i in area_ids),
            ),
            at=_bucket_time(keys.cuts, bucket),
            reasons=[r for i, r in enumerate(keys.reasons) if mask & (1 << i)],
        )
        rows.append(
            {
                "category_id": category_id,
                "ward_id": ward_id,
                "area_ids": list(area_ids),
                "bucket": bucket,
                "reason_mask": mask,
                "owner_id": decision.owner.id,
                "notified": sorted(p.id for p in decision.notified),
                "reason": decision.reason,
                "data": json.dumps(
                    {
                        "owner": decision.owner.slug,
                        "notified": [p.slug for p in decision.notified],
                        "rule_ids": list(decision.rule_ids),
                        "rules": [m.as_json() for m in decision.matched],
                    }
                ),
            }
        )
    session.execute(
        text(
            """
            CREATE TEMP TABLE reroute_decision (
                category_id int, ward_id int, area_ids int[], bucket int, reason_mask int,
                owner_id int, notified int[], reason text, reason_md5 text, data jsonb
            ) ON COMMIT DROP
            """
        )
    )
    if rows:
        session.execute(
            text(
                """
                INSERT INTO reroute_decision
                VALUES (:category_id, :ward_id, :area_ids, :bucket, :reason_mask, :owner_id,
                        :notified, :reason, md5(:reason), CAST(:data AS jsonb))
                """
            ).bindparams(
                bindparam("area_ids", type_=ARRAY(Integer)),
                bindparam("notified", type_=ARRAY(Integer)),
            ),
            rows,
        )
    session.execute(text("ANALYZE reroute_decision"))


def _change_table(session: Session) -> None:
    """Which keyed reports would end up with another owner or explanation.

    The explanation names the owner and every notified partner, so an unchanged explanation
    and owner mean an unchanged routing: no need to compare millions of notified rows.
    """
    session.execute(
        text(
            """
            CREATE TEMP TABLE reroute_change ON COMMIT DROP AS
            SELECT k.id, k.status, k.category_id, k.old_owner,
                   ARRAY(SELECT partner_id FROM report_notified_partner n
                         WHERE n.report_id = k.id ORDER BY partner_id) AS old_notified,
                   d.owner_id AS new_owner, d.notified AS new_notified, d.reason, d.data
            FROM reroute_key k
            JOIN reroute_decision d USING (category_id, ward_id, area_ids, bucket, reason_mask)
            WHERE k.old_owner IS DISTINCT FROM d.owner_id OR k.old_reason_md5 <> d.reason_md5
            """
        )
    )
    session.execute(text("ANALYZE reroute_change"))


def _summarise(session: Session, *, dry_run: bool) -> RerouteSummary:
    movable = [s.value for s in MOVABLE]
    counts = (
        session.execute(
            text(
                """
            SELECT
              (SELECT count(*) FROM reroute_key WHERE status IN :movable),
              count(*) FILTER (WHERE status IN :movable),
              count(*) FILTER (WHERE status IN :movable AND old_owner IS DISTINCT FROM new_owner),
              count(*) FILTER (WHERE status IN :movable AND old_owner IS NOT DISTINCT FROM new_owner
                               AND old_notified <> new_notified),
              count(*) FILTER (WHERE status IN :movable AND old_owner IS NOT DISTINCT FROM new_owner
                               AND old_notified = new_notified),
              count(*) FILTER (WHERE status NOT IN :movable
                               AND old_owner IS DISTINCT FROM new_owner)
            FROM reroute_change
            """
            ).bindparams(bindparam("movable", expanding=True)),
            {"movable": movable},
        )
    ).one()
    moves = session.execute(
        text(
            """
            SELECT category.slug, old.slug, new.slug, count(*)
            FROM reroute_change c
            JOIN category ON category.id = c.category_id
            LEFT JOIN partner old ON old.id = c.old_owner
            JOIN partner new ON new.id = c.new_owner
            WHERE c.status IN :movable AND c.old_owner IS DISTINCT FROM c.new_owner
            GROUP BY 1, 2, 3 ORDER BY 4 DESC, 1, 2, 3 LIMIT 20
            """
        ).bindparams(bindparam("movable", expanding=True)),
        {"movable": movable},
    ).all()
    moved_by_hand = session.scalar(
        text(
            """
            SELECT count(*) FROM report
            WHERE status IN :open AND location IS NOT NULL
              AND owner_partner_id IS DISTINCT FROM rule_owner_id
            """
        ).bindparams(bindparam("open", expanding=True)),
        {"open": [s.value for s in (*MOVABLE, *BEING_WORKED_ON)]},
    )
    return RerouteSummary(
        dry_run=dry_run,
        considered=counts[0],
        changed=counts[1],
        owner_changed=counts[2],
        notified_changed=counts[3],
        explanation_only=counts[4],
        left_being_worked_on=counts[5],
        moved_by_hand=moved_by_hand or 0,
        moves=tuple(Move(*row) for row in moves),
    )


def _apply(session: Session, actor: User | None, why: str) -> None:
    movable = [s.value for s in MOVABLE]
    session.execute(
        text("DELETE FROM reroute_change WHERE status NOT IN :movable").bindparams(
            bindparam("movable", expanding=True)
        ),
        {"movable": movable},
    )
    session.execute(
        text(
            """
            UPDATE report r
            SET owner_partner_id = c.new_owner, rule_owner_id = c.new_owner,
                routing_reason = c.reason, updated_at = now(), version_id = r.version_id + 1
            FROM reroute_change c WHERE r.id = c.id
            """
        )
    )
    session.execute(
        text(
            """
            DELETE FROM report_notified_partner p USING reroute_change c
            WHERE p.report_id = c.id AND p.partner_id <> ALL(c.new_notified)
            """
        )
    )
    session.execute(
        text(
            """
            INSERT INTO report_notified_partner (report_id, partner_id)
            SELECT c.id, added.partner_id
            FROM reroute_change c, unnest(c.new_notified) AS added(partner_id)
            WHERE added.partner_id <> ALL(c.old_notified)
            ON CONFLICT DO NOTHING
            """
        )
    )
    session.execute(
        text(
            """
            INSERT INTO report_event
                (report_id, at, actor_id, kind, from_status, to_status, note, public, data)
            SELECT c.id, now(), :actor_id, 'rerouted', c.status, c.status, c.reason, true,
                   c.data || jsonb_build_object('why', CAST(:why AS text),
                                                'from_owner', old.slug)
            FROM reroute_change c LEFT JOIN partner old ON old.id = c.old_owner
            """
        ),
        {"actor_id": actor.id if actor else None, "why": why},
    )


def reroute_open_reports(
    session: Session, actor: User | None, *, dry_run: bool = False, why: str = ""
) -> RerouteSummary:
    """Re-apply the current rules to every open ``routed`` report, recording each move.

    ``actor`` is the admin asking, or None for an operator on the command line. In a dry
    run nothing is written. The caller commits.
    """
    if actor is not None and actor.role is not Role.ADMIN:
        raise NotAllowed("only an admin can re-route reports")
    why = " ".join(why.split()) or SYSTEM_WHY
    # Hash joins and aggregates over every open report fit in memory instead of spilling to
    # disk; LOCAL keeps this to this transaction.
    session.execute(text("SET LOCAL work_mem = '256MB'"))
    rules = decide.active_rules(session)
    keys = _keys(session, rules)
    _key_table(session, keys)
    _decision_table(session, rules, keys)
    _change_table(session)
    summary = _summarise(session, dry_run=dry_run)
    if not dry_run:
        _apply(session, actor, why)
    # Dropped now rather than at commit, so a caller may re-route twice in one transaction.
    session.execute(text("DROP TABLE reroute_change, reroute_decision, reroute_key"))
    logger.info(
        "Re-routing%s: %d of %d routed reports changed",
        " (dry run)" if dry_run else "",
        summary.changed,
        summary.considered,
    )
    session.expire_all()
    return summary
