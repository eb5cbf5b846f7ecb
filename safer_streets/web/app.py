"""The Flask application factory."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.middleware.proxy_fix import ProxyFix

from safer_streets.accounts import two_factor
from safer_streets.accounts.passwords import Passwords
from safer_streets.db import make_engine, make_session_factory
from safer_streets.places import Places
from safer_streets.settings import Settings
from safer_streets.web import context, i18n, limits, security, static_delivery
from safer_streets.web.converters import RowIdConverter
from workers.queue import QueuedMarks, TaskQueue, make_celery

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
csrf = CSRFProtect()


def create_app(
    settings: Settings | None = None,
    *,
    session_factory: sessionmaker[Session] | None = None,
    task_queue: TaskQueue | None = None,
) -> Flask:
    """Build the web app; tests pass their own settings, sessions and queue."""
    settings = settings or Settings.from_env()
    app = Flask("safer_streets", template_folder=str(TEMPLATES))
    app.url_map.converters["int"] = RowIdConverter
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.https,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        WTF_CSRF_SSL_STRICT=settings.https,
    )
    intake_engine = None
    if session_factory is None:
        # As many connections as the process has threads, and never more (gunicorn.conf.py).
        pool = {"pool_size": settings.web_threads, "max_overflow": 0}
        session_factory = make_session_factory(make_engine(settings.database_url, **pool))
        # New reports are stored on connections of their own that are not pinged as they leave
        # the pool: the ping is a round trip on every report, and a connection PostgreSQL
        # dropped is tried once more instead (context.store_in_one_transaction).
        intake_engine = make_engine(settings.database_url, pre_ping=False, **pool)
    app.extensions["safer_streets"] = context.Services(
        settings=settings,
        session_factory=session_factory,
        intake_engine=intake_engine,
        task_queue=task_queue
        or TaskQueue(make_celery(settings), QueuedMarks.for_settings(settings)),
        places=Places.for_settings(settings),
        passwords=Passwords.for_settings(settings),
        two_factor=two_factor.policy_from_settings(settings),
    )
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    csrf.init_app(app)
    context.init_app(app)
    limits.init_app(app, settings)
    i18n.init_app(app, pseudo=settings.pseudo_locale)
    static_delivery.init_app(app)
    security.init_app(app, settings)

    from safer_streets.accounts.team_views import bp as team_bp
    from safer_streets.accounts.views import bp as account_bp
    from safer_streets.actions.views import bp as actions_bp
    from safer_streets.admin_console.views import bp as console_bp
    from safer_streets.api.keys_views import bp as api_admin_bp
    from safer_streets.api.views import bp as api_bp
    from safer_streets.board.views import bp as board_bp
    from safer_streets.casework.views import bp as triage_bp
    from safer_streets.disclosure import views as disclosure_views
    from safer_streets.intake.resident_api import bp as resident_api_bp
    from safer_streets.intake.views import bp as public_bp
    from safer_streets.open311 import views as open311_views
    from safer_streets.residents import views as residents_views
    from safer_streets.routing.admin_views import bp as admin_bp
    from safer_streets.routing.locate_views import bp as locate_bp

    csrf.exempt(api_bp)
    csrf.exempt(open311_views.bp)
    open311_views.init_app(app)
    csrf.exempt(resident_api_bp)
    # One-click unsubscribe (RFC 8058): mail programs POST with no form; the link is the proof.
    csrf.exempt(residents_views.unsubscribe)
    csrf.exempt(residents_views.stop_supporter_emails)
    for blueprint in (
        public_bp,
        triage_bp,
        actions_bp,
        api_bp,
        open311_views.bp,
        api_admin_bp,
        resident_api_bp,
        board_bp,
        account_bp,
        team_bp,
        disclosure_views.bp,
        disclosure_views.admin_bp,
        residents_views.bp,
    ):
        app.register_blueprint(blueprint)
    # Routing administration, and locating reports whose place could not be found.
    app.register_blueprint(admin_bp)
    # Partners, categories and named areas, on the same /admin pages.
    app.register_blueprint(console_bp)
    app.register_blueprint(locate_bp)
    return app
