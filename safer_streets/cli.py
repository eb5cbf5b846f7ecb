"""The ``safer-streets`` command: Flask's CLI for this app plus its own commands."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo.wards import WARDS_FILE, WardIndex
from safer_streets import accounts, casework, migrate, reports, seed
from safer_streets.app import create_app
from safer_streets.db import session_scope
from safer_streets.errors import InvalidInput
from safer_streets.models import Report, Role, User
from safer_streets.web import Services

DEMO_PASSWORD = "lewisham-demo-2026"  # noqa: S105 - demo logins only, printed for the user
DEMO_USERS = (
    ("snt.rushey-green@demo.safer-streets.test", "met-snt-rushey-green", Role.STAFF),
    ("snt.lewisham-central@demo.safer-streets.test", "met-snt-lewisham-central", Role.STAFF),
    ("community.safety@demo.safer-streets.test", "lewisham-community-safety", Role.STAFF),
    ("highways@demo.safer-streets.test", "lewisham-highways", Role.STAFF),
    ("asb@demo.safer-streets.test", "lewisham-asb", Role.PARTNER_ADMIN),
    ("environment@demo.safer-streets.test", "lewisham-environment", Role.STAFF),
    ("tfl@demo.safer-streets.test", "tfl", Role.STAFF),
    ("board@demo.safer-streets.test", None, Role.BOARD),
    ("admin@demo.safer-streets.test", None, Role.ADMIN),
    ("snt.rushey-green.lead@demo.safer-streets.test", "met-snt-rushey-green", Role.PARTNER_ADMIN),
)
# A morning's reports in Catford and Lewisham town centres, so the queues have work in them.
DEMO_REPORTS = (
    ("drug-dealing", 51.4452, -0.0207, "Dealing outside the shops on Catford Broadway, evenings"),
    ("feeling-unsafe", 51.4448, -0.0215, "The path behind the library is dark; people hang about"),
    ("street-lighting", 51.4460, -0.0199, "Two street lights out by the bus stop on Rushey Green"),
    ("anti-social-behaviour", 51.4440, -0.0190, "Groups drinking and shouting late at night"),
    ("dangerous-road", 51.4458, -0.0185, "Cars jump the lights at the crossing by the theatre"),
    ("fly-tipping", 51.4620, -0.0130, "Mattresses dumped by the station entrance"),
    ("harassment", 51.4610, -0.0110, "Women followed and shouted at near the shopping centre"),
    ("drug-dealing", 51.4625, -0.0125, "Dealing in the alley beside the market"),
)
DEMO_TEMPLATES = (
    (
        "Patrol arranged",
        "Officers will patrol the area over the next week. Thank you for telling us.",
    ),
    ("Passed to the council", "This is a council matter, so we have passed it to the right team."),
)


def _services() -> Services:
    return current_app.extensions["safer_streets"]


@click.group(cls=FlaskGroup, create_app=create_app, add_default_commands=True)
def main() -> None:
    """Safer Streets: community-safety reporting and triage for Lewisham."""


@main.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration to the configured database."""
    migrate.upgrade(_services().settings.database_url)
    click.echo("Database schema is up to date.")


@main.group("wards")
def wards_group() -> None:
    """Ward boundaries."""


@wards_group.command("load")
@click.argument(
    "path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=False
)
@click.option("--generation", default=2022, show_default=True, help="Boundary generation (year).")
def wards_load(path: Path | None, generation: int) -> None:
    """Load ward boundaries (the May 2022 Lewisham wards by default)."""
    with session_scope(_services().session_factory) as session:
        count = seed.load_wards(session, path or WARDS_FILE, generation)
    click.echo(f"Loaded {count} wards (generation {generation}).")


@main.group("areas")
def areas_group() -> None:
    """Named areas such as town centres."""


@areas_group.command("load")
@click.argument(
    "path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=False
)
def areas_load(path: Path | None) -> None:
    """Load area boundaries (the Lewisham town centres by default)."""
    with session_scope(_services().session_factory) as session:
        count = seed.load_areas(session, path)
    click.echo(f"Loaded {count} areas.")


@main.command("seed")
def seed_command() -> None:
    """Create or update categories, partners and routing rules (idempotent)."""
    with session_scope(_services().session_factory) as session:
        summary = seed.seed(session)
    click.echo(
        f"Seeded {summary.categories} categories, {summary.partners} partners and "
        f"{summary.rules} routing rules over {summary.wards} wards."
    )


@main.group("users")
def users_group() -> None:
    """Partner, board and admin accounts."""


@users_group.command("create")
@click.argument("email")
@click.option("--partner", "partner_slug", help="Partner slug, e.g. met-snt-rushey-green.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--name", default="", help="Display name.")
@click.password_option(help="Prompted for when not given.")
def users_create(email: str, partner_slug: str | None, role: str, name: str, password: str) -> None:
    """Create an account."""
    try:
        with session_scope(_services().session_factory) as session:
            user = accounts.create_user(
                session,
                email=email,
                password=password,
                role=Role(role),
                partner_slug=partner_slug,
                name=name,
            )
            click.echo(f"Created {user.role.value} account {user.email}.")
    except InvalidInput as invalid:
        for field, message in invalid.field_errors.items():
            click.echo(f"{field}: {message}", err=True)
        raise SystemExit(1) from None


@main.command("demo")
def demo() -> None:
    """Create demo partner logins (skipping any that exist) and print them."""
    with session_scope(_services().session_factory) as session:
        for email, partner_slug, role in DEMO_USERS:
            try:
                with session.begin_nested():
                    accounts.create_user(
                        session,
                        email=email,
                        password=DEMO_PASSWORD,
                        role=role,
                        partner_slug=partner_slug,
                    )
            except InvalidInput:
                pass  # already there from an earlier run
        _demo_reports(session)
    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for email, partner_slug, role in DEMO_USERS:
        click.echo(f"  {email:48} {role.value:14} {partner_slug or 'all partners'}")


def _demo_reports(session: Session) -> None:
    """Routed sample reports and response templates, the first time only."""
    if session.scalar(select(func.count()).select_from(Report)):
        return
    wards = WardIndex.from_geojson()
    for category, lat, lon, description in DEMO_REPORTS:
        submission = reports.parse_submission(
            {"category": category, "lat": lat, "lon": lon, "description": description}
        )
        report, _ = reports.submit_report(
            session, submission, borough=_services().borough, source="demo"
        )
        reports.process_report(session, report.id, wards)
    lead = session.scalar(select(User).where(User.email == DEMO_USERS[-1][0]))
    for title, body in DEMO_TEMPLATES:
        casework.save_template(session, lead, None, title, body)
    click.echo(f"Created {len(DEMO_REPORTS)} demo reports, routed to their partners.")


@main.command("bootstrap")
@click.option("--demo/--no-demo", "with_demo", default=False, help="Also create demo logins.")
@click.pass_context
def bootstrap(ctx: click.Context, with_demo: bool) -> None:
    """Migrate, load the wards and seed: everything a fresh database needs."""
    ctx.invoke(db_upgrade)
    ctx.invoke(wards_load, path=None, generation=2022)
    ctx.invoke(seed_command)
    ctx.invoke(areas_load, path=None)
    if with_demo:
        ctx.invoke(demo)
