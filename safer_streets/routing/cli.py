"""``safer-streets routing ...``: operator commands for the routing table."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from safer_streets.db import session_scope
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
