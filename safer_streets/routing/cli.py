"""``safer-streets routing ...``: operator commands for the routing table."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from safer_streets.db import session_scope
from safer_streets.errors import InvalidInput
from safer_streets.places import load_ward_index
from safer_streets.routing import tester
from safer_streets.routing.rerouting import RerouteSummary, reroute_open_reports
from safer_streets.web.context import services

routing_group = AppGroup("routing", help="The routing table and re-routing open reports.")


def _echo_summary(summary: RerouteSummary) -> None:
    verb = "would change" if summary.dry_run else "changed"
    click.echo(f"{summary.considered} routed reports checked; {summary.changed} {verb}:")
    click.echo(f"  new owner: {summary.owner_changed}")
    click.echo(f"  same owner, other partners notified: {summary.notified_changed}")
    click.echo(f"  only the explanation: {summary.explanation_only}")
    click.echo(
        f"Left with their owner because a partner is working on them: "
        f"{summary.left_being_worked_on}"
    )
    click.echo(f"Left alone because a partner moved them by hand: {summary.moved_by_hand}")
    for move in summary.moves:
        click.echo(
            f"  {move.category}: {move.from_owner or 'nobody'} -> {move.to_owner}: {move.reports}"
        )


@routing_group.command("reroute")
@click.option("--dry-run", is_flag=True, help="Say what would change; change nothing.")
@click.option(
    "--why", default="", help="Kept in each moved report's history (default: the rules changed)."
)
def reroute(dry_run: bool, why: str) -> None:
    """Re-apply the current routing rules to every open, routed report (set-based)."""
    with session_scope(services().session_factory) as session:
        summary = reroute_open_reports(session, None, dry_run=dry_run, why=why)
        if dry_run:
            session.rollback()
    _echo_summary(summary)


@routing_group.command("try")
@click.option("--lat", type=float, help="Latitude of the point (with --lon).")
@click.option("--lon", type=float, help="Longitude of the point (with --lat).")
@click.option("--place", default="", help="A place in words instead: a street, postcode or name.")
@click.option("--category", required=True, help="Category slug, e.g. feeling-unsafe.")
@click.option("--at", default=None, help="When, ISO 8601 (London time if no offset); default now.")
@click.option("--reason", "reasons", multiple=True, help="A reason key; repeat for several.")
def try_routing(
    lat: float | None,
    lon: float | None,
    place: str,
    category: str,
    at: str | None,
    reasons: tuple[str, ...],
) -> None:
    """Say where a report would go and why, with the matching rules; creates nothing."""
    with session_scope(services().session_factory) as session:
        try:
            question = tester.parse_question(
                session, category=category, lat=lat, lon=lon, place=place, at=at, reasons=reasons
            )
            answer = tester.try_routing(
                session, question, wards=load_ward_index(session), places=services().places
            )
        except InvalidInput as invalid:
            for name, message in invalid.field_errors.items():
                click.echo(f"--{name}: {message}", err=True)
            raise SystemExit(2) from None
        session.rollback()  # nothing to keep: the tester only reads
    decision = answer.decision
    where = f"{answer.ward_name} ward" if answer.ward_name else "outside every Lewisham ward"
    areas = f"; in {', '.join(answer.areas)}" if answer.areas else ""
    click.echo(f"Place: {answer.place_label} ({answer.lat:.5f}, {answer.lon:.5f}), {where}{areas}")
    click.echo(f"When: {answer.at.isoformat(timespec='minutes')}")
    if answer.reasons:
        click.echo(f"Reasons: {', '.join(answer.reasons)}")
    click.echo(f"Owner: {decision.owner.name}")
    notified = ", ".join(p.name for p in decision.notified) or "nobody else"
    click.echo(f"Notified: {notified}")
    click.echo(f"Reason: {decision.reason}")
    click.echo("Matching rules, most specific first (* decided):")
    for rule in answer.matching:
        mark = "*" if answer.deciding(rule) else " "
        click.echo(
            f" {mark} rule {rule.id}: {rule.partner_name}, {rule.role.value}, {rule.explanation}"
        )
