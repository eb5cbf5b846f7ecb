"""The ``safer-streets`` command: Flask's CLI for this app plus its own commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import click
from flask import Flask
from flask.cli import FlaskGroup
from sqlalchemy import select
from sqlalchemy.engine import make_url

from geo import DATA_DIR, projection
from geo.suntimes import LONDON
from geo.wards import WARDS_FILE, Borough
from safer_streets import migrate
from safer_streets.accounts import two_factor, users
from safer_streets.api import keys
from safer_streets.board import runs
from safer_streets.casework import workflow
from safer_streets.data import demo as demo_data
from safer_streets.data import police, seed
from safer_streets.db import session_scope
from safer_streets.disclosure.cli import disclosure_group
from safer_streets.errors import InvalidInput, NotFound
from safer_streets.intake import abuse
from safer_streets.intake.cli import reports_group
from safer_streets.models import AbuseEntry, Role, User
from safer_streets.notifications.cli import mail_sink_command
from safer_streets.places import load_ward_index
from safer_streets.privacy import retention
from safer_streets.routing.cli import routing_group
from safer_streets.web.app import create_app
from safer_streets.web.context import services

DEMO_PASSWORD = "lewisham-demo-2026"  # noqa: S105 - demo logins only, printed for the user
DEMO_CODE_COMMAND = ".venv/bin/python -c \"import pyotp; print(pyotp.TOTP('{key}').now())\""
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
# Replies the Rushey Green team keeps ready (created by its partner admin, once).
DEMO_TEMPLATES = (
    ("Patrol arranged", "Officers will patrol the area this week. Thank you for telling us."),
    ("Passed to the council", "This is a council matter, so we have passed it to the right team."),
)


POLICE_SAMPLE = DATA_DIR / "lewisham_burglary_2022-03_to_2025-02.csv"
DEMO_REPORTS = 3000


def _refuse(invalid: InvalidInput) -> NoReturn:
    """Say what was wrong, one field a line, and exit with status 1."""
    for field, message in invalid.field_errors.items():
        click.echo(f"{field}: {message}", err=True)
    raise SystemExit(1) from None


def _command_app() -> Flask:
    """The app a command runs in; its database connections close when the command ends."""
    app = create_app()
    # Closed with the command, not left to the GC: many commands may share one process (tests,
    # scripts invoking ``main``). Per command, not per app context, which `run` has per request.
    command = click.get_current_context(silent=True)
    if command is not None:
        command.call_on_close(app.extensions["safer_streets"].session_factory.kw["bind"].dispose)
    return app


@click.group(cls=FlaskGroup, create_app=_command_app, add_default_commands=True)
def main() -> None:
    """Safer Streets: community-safety reporting and triage for Lewisham."""


main.add_command(routing_group)
main.add_command(reports_group)
main.add_command(mail_sink_command)
main.add_command(disclosure_group)


@main.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("create")
def db_create() -> None:
    """Create the configured database if it does not exist yet (``make run`` does this)."""
    database_url = services().settings.database_url
    name = make_url(database_url).database
    if migrate.create_database(database_url):
        click.echo(f"Created the database {name}.")
    else:
        click.echo(f"The database {name} exists already.")


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration to the configured database."""
    migrate.upgrade(services().settings.database_url)
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
    with session_scope(services().session_factory) as session:
        count = seed.load_wards(session, path or WARDS_FILE, generation)
    click.echo(f"Loaded {count} wards (generation {generation}).")


@main.group("areas")
def areas_group() -> None:
    """Named areas of interest (town centres)."""


@areas_group.command("load")
@click.argument(
    "path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=False
)
def areas_load(path: Path | None) -> None:
    """Load the town centres (the shipped GLA boundaries by default)."""
    with session_scope(services().session_factory) as session:
        count = seed.load_areas(session, path or seed.TOWN_CENTRES_FILE)
    click.echo(f"Loaded {count} areas.")


@main.command("seed")
def seed_command() -> None:
    """Create or update categories, partners and routing rules (idempotent)."""
    with session_scope(services().session_factory) as session:
        summary = seed.seed(session)
    click.echo(
        f"Seeded {summary.categories} categories, {summary.partners} partners and "
        f"{summary.rules} routing rules over {summary.wards} wards."
    )


@main.group("users")
def users_group() -> None:
    """Partner, board and admin users."""


@users_group.command("create")
@click.argument("email")
@click.option("--partner", "partner_slug", help="Partner slug, e.g. met-snt-rushey-green.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--name", default="", help="Display name.")
@click.password_option(help="Prompted for when not given.")
def users_create(email: str, partner_slug: str | None, role: str, name: str, password: str) -> None:
    """Create an account."""
    try:
        with session_scope(services().session_factory) as session:
            user = users.create_user(
                session,
                passwords=services().passwords,
                email=email,
                password=password,
                role=Role(role),
                partner_slug=partner_slug,
                name=name,
            )
            click.echo(f"Created {user.role.value} account {user.email}.")
    except InvalidInput as invalid:
        _refuse(invalid)


@main.group("api-keys")
def api_keys_group() -> None:
    """API keys for Open311 and JSON API clients."""


@api_keys_group.command("create")
@click.argument("name")
@click.option("--partner", "partner_slug", help="Partner the client acts for, e.g. tfl.")
def api_keys_create(name: str, partner_slug: str | None) -> None:
    """Issue a key to a client and print it (shown only this once)."""
    try:
        with session_scope(services().session_factory) as session:
            issued = keys.create_client(session, name=name, partner_slug=partner_slug, actor=None)
            partner = f" acting for {issued.client.partner.slug}" if issued.client.partner else ""
            click.echo(f"Created API client {issued.client.id} ({issued.client.name}){partner}.")
            click.echo("Key (shown only now; store it safely):")
            click.echo(issued.key)
    except InvalidInput as invalid:
        _refuse(invalid)


@api_keys_group.command("list")
def api_keys_list() -> None:
    """Every API client: id, key prefix, partner, last use and state."""
    with session_scope(services().session_factory) as session:
        clients = keys.list_clients(session, actor=None)
        if not clients:
            click.echo("No API clients.")
        for client in clients:
            used = (
                client.last_used_at.isoformat(timespec="seconds")
                if client.last_used_at
                else "never"
            )
            state = f"revoked {client.revoked_at:%Y-%m-%d}" if client.revoked_at else "active"
            partner = client.partner.slug if client.partner else "-"
            click.echo(
                f"{client.id:>4}  ssk_{client.key_prefix}_…  {client.name:30} {partner:30} "
                f"last used {used:25} {state}"
            )


@api_keys_group.command("revoke")
@click.argument("client_id", type=int)
def api_keys_revoke(client_id: int) -> None:
    """Revoke a client's key at once."""
    try:
        with session_scope(services().session_factory) as session:
            client = keys.revoke_client(session, client_id, actor=None)
            click.echo(f"Revoked the key of API client {client.id} ({client.name}).")
    except NotFound as missing:
        click.echo(missing.message, err=True)
        raise SystemExit(1) from None


@main.command("demo")
@click.option(
    "--reports",
    "report_count",
    default=0,
    show_default=True,
    help="Also generate this many demo reports (source 'demo') and compute hotspot runs.",
)
@click.option("--replace", is_flag=True, help="Delete earlier demo reports first.")
@click.option("--seed", "random_seed", type=int, help="Random seed, for a repeatable demo.")
def demo(report_count: int, replace: bool, random_seed: int | None) -> None:
    """Create demo partner logins (skipping any that exist) and print them; optionally demo
    reports for the board."""
    with session_scope(services().session_factory) as session:
        for email, partner_slug, role in DEMO_USERS:
            try:
                with session.begin_nested():
                    users.create_user(
                        session,
                        passwords=services().passwords,
                        email=email,
                        password=DEMO_PASSWORD,
                        role=role,
                        partner_slug=partner_slug,
                    )
            except InvalidInput:
                pass  # already there from an earlier run
        lead = session.scalar(select(User).where(User.email == DEMO_USERS[-1][0]))
        if not workflow.templates_for(session, lead):
            for title, body in DEMO_TEMPLATES:
                workflow.save_template(session, lead, None, title, body)
        # The demo keeps the two-step policy: accounts that must use it get their
        # authenticator key here, printed with the password, instead of an exemption.
        keys_by_email: dict[str, str] = {}
        for email, _partner, _role in DEMO_USERS:
            user = session.scalars(select(User).where(User.email == email)).one()
            if two_factor.required_for(session, user, services().two_factor):
                keys_by_email[email] = users.set_up_authenticator(session, user, datetime.now(UTC))
    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for email, partner_slug, role in DEMO_USERS:
        key = f"  two-step key {keys_by_email[email]}" if email in keys_by_email else ""
        click.echo(f"  {email:48} {role.value:14} {partner_slug or 'all partners':28}{key}")
    if keys_by_email:
        click.echo(
            "Accounts with a two-step key (administrators, police teams and owners of sensitive "
            "categories) also ask for a code: add the key to an authenticator app, or print "
            "the current code with"
        )
        click.echo(f"  {DEMO_CODE_COMMAND.format(key='KEY')}")
    if report_count <= 0:
        return
    with session_scope(services().session_factory) as session:
        if replace:
            removed = demo_data.remove_demo_reports(session)
            click.echo(f"Removed {removed:,} earlier demo reports.")
        summary = demo_data.generate_demo_reports(
            session,
            count=report_count,
            wards=load_ward_index(session),
            borough=Borough.from_geojson(),
            seed=random_seed,
        )
    if summary.created:
        click.echo(f"Created {summary.created:,} demo reports (source 'demo', marked [Demo]).")
        _compute_nightly_runs(force=True)
    else:
        click.echo(
            f"{summary.existing:,} demo reports exist already; use --replace to make new ones."
        )


@main.group("hotspots")
def hotspots_group() -> None:
    """The board's hotspot runs."""


def _compute_nightly_runs(*, force: bool = False) -> None:
    settings = services().settings
    factory = services().session_factory
    with session_scope(factory) as session:
        runs.schedule_nightly_runs(
            session,
            today=datetime.now(UTC).astimezone(LONDON).date(),
            permutations=settings.hotspot_permutations,
            seed=settings.hotspot_seed,
            force=force,
        )
        ids = runs.queued_run_ids(session)
    study_area = projection.read_boundary()
    runs.compute_runs(lambda: session_scope(factory), ids, study_area=study_area)
    click.echo(
        f"Computed {len(ids)} hotspot runs (all categories and each safety category at any time"
        " and after dark; every other category at any time)."
    )


@hotspots_group.command("compute")
def hotspots_compute() -> None:
    """Compute tonight's runs (and any queued ones) now, here rather than in the worker."""
    _compute_nightly_runs()


@main.group("police")
def police_group() -> None:
    """Recorded crime from data.police.uk."""


@police_group.command("import")
@click.argument(
    "paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def police_import(paths: tuple[Path, ...]) -> None:
    """Import data.police.uk street-level CSV files (any crime type); safe to repeat."""
    factory = services().session_factory
    with session_scope(factory) as session:
        places = police.CrimePlaces(Borough.from_geojson().geometry, load_ward_index(session))
    failed = False
    for path in paths:
        try:
            with session_scope(factory) as session, path.open(newline="", encoding="utf-8") as f:
                summary = police.import_street_csv(
                    session,
                    f,
                    name=path.name,
                    places=places,
                    progress=lambda n, name=path.name: click.echo(f"{name}: {n:,} rows read…"),
                )
        except police.PoliceFileError as error:
            click.echo(f"{path.name}: {error}", err=True)
            failed = True
            continue
        except UnicodeDecodeError:
            click.echo(f"{path.name}: not a UTF-8 text file", err=True)
            failed = True
            continue
        for line in summary.report_lines():
            click.echo(line)
    if failed:
        raise SystemExit(1)


@main.command("bootstrap")
@click.option(
    "--demo/--no-demo",
    "with_demo",
    default=False,
    help="Also create demo logins and demo reports with hotspot runs for the board.",
)
@click.pass_context
def bootstrap(ctx: click.Context, with_demo: bool) -> None:
    """Migrate, load wards, areas, seed and recorded crime: everything a fresh database needs."""
    ctx.invoke(db_upgrade)
    ctx.invoke(wards_load, path=None, generation=2022)
    ctx.invoke(areas_load, path=None)
    ctx.invoke(seed_command)
    # Recorded burglary for the board's comparison layer (re-importing changes nothing).
    ctx.invoke(police_import, paths=(POLICE_SAMPLE,))
    if with_demo:
        ctx.invoke(demo, report_count=DEMO_REPORTS, replace=False, random_seed=None)


@main.group("privacy")
def privacy_group() -> None:
    """Data protection: retention and subject-access requests."""


@privacy_group.command("expire")
def privacy_expire() -> None:
    """Remove contact details and photos of reports closed longer than the retention period,
    and supporters' addresses of reports closed longer than they can be reopened."""
    settings = services().settings
    total = 0
    while True:
        with session_scope(services().session_factory) as session:
            result = retention.expire_personal_data(
                session, retention_days=settings.retention_days, now=datetime.now(UTC)
            )
        total += result.reports
        if not result.reports:
            break
    forgotten = 0
    while True:
        with session_scope(services().session_factory) as session:
            count = retention.forget_supporter_emails(
                session, closed_days=settings.reopen_within_days, now=datetime.now(UTC)
            )
        forgotten += count
        if not count:
            break
    days = settings.retention_days
    click.echo(f"Removed personal data from {total} reports (retention {days} days).")
    click.echo(
        f"Forgot {forgotten} supporters' addresses of reports closed over "
        f"{settings.reopen_within_days} days."
    )


@privacy_group.command("export")
@click.argument("email")
def privacy_export(email: str) -> None:
    """Print, as JSON, everything held about whoever reported with EMAIL."""
    with session_scope(services().session_factory) as session:
        click.echo(json.dumps(retention.subject_access_export(session, email), indent=2))


@main.group("abuse")
def abuse_group() -> None:
    """The abuse list: addresses and domains whose reports are held for review."""


@abuse_group.command("add")
@click.argument("value")
@click.option("--reason", required=True, help="Why the address is listed.")
def abuse_add(value: str, reason: str) -> None:
    """List an email address or a domain."""
    try:
        with session_scope(services().session_factory) as session:
            entry = abuse.add_entry(session, value, reason, None)
            click.echo(f"Reports from {entry.value} will be held for review.")
    except InvalidInput as invalid:
        _refuse(invalid)


@abuse_group.command("list")
def abuse_list() -> None:
    """Show the list."""
    with session_scope(services().session_factory) as session:
        for entry in session.scalars(select(AbuseEntry).order_by(AbuseEntry.value)):
            click.echo(f"{entry.id:>5}  {entry.value:40}  {entry.reason}")
