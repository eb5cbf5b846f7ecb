"""Shared web plumbing: per-request sessions, the signed-in user, error translation."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property, wraps
from typing import Any, TypeVar

from flask import (
    Flask,
    Response,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as cookie_session
from flask.sessions import SecureCookieSessionInterface
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import HTTPException

from geo.suntimes import london_time
from safer_streets.accounts import two_factor, users
from safer_streets.accounts.passwords import Passwords
from safer_streets.accounts.two_factor import TwoFactorPolicy
from safer_streets.db import make_session_factory
from safer_streets.errors import InvalidInput, NotFound, SaferStreetsError, ServiceUnavailable
from safer_streets.models import User
from safer_streets.places import Places
from safer_streets.settings import Settings
from workers.queue import TaskQueue

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Services:
    """What views need besides the request: built once by the factory."""

    settings: Settings
    session_factory: sessionmaker[Session]
    task_queue: TaskQueue
    places: Places
    passwords: Passwords
    two_factor: TwoFactorPolicy
    # Where new reports are stored; None when the caller gave the sessions (tests, on one
    # transaction), and then reports are stored through this request's session.
    intake_engine: Engine | None = None

    @cached_property
    def lookup_sessions(self) -> sessionmaker[Session] | None:
        """Sessions on the intake's pool in autocommit, made once (``autocommit_session``)."""
        if self.intake_engine is None:
            return None
        return make_session_factory(
            self.intake_engine.execution_options(isolation_level="AUTOCOMMIT")
        )

    def dispose(self) -> None:
        """Close every pooled database connection (tests that build apps of their own)."""
        self.session_factory.kw["bind"].dispose()
        if self.intake_engine is not None:
            self.intake_engine.dispose()


def services() -> Services:
    """The running app's services."""
    return current_app.extensions["safer_streets"]


def db() -> Session:
    """This request's database session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        g.db_session = services().session_factory()
    return g.db_session


@contextmanager
def autocommit_session() -> Iterator[Session]:
    """A short session of its own whose statements commit as they run, for a look-up on a hot
    path (an API key): no BEGIN, COMMIT or ping around it, on the pool new reports use (see
    ``store_in_one_transaction`` for a connection PostgreSQL dropped). What it loads stays
    usable after it closes. Without that pool (tests' apps), this request's session, committed.
    """
    sessions = services().lookup_sessions
    if sessions is None:
        yield db()
        db().commit()
        return
    with sessions() as session:
        yield session
        session.commit()


def store_in_one_transaction(work: Callable[[Connection], T]) -> T:
    """Run ``work`` on a connection of its own and commit; what it returns.

    The connection was not pinged as it left the pool. If PostgreSQL dropped it since it was
    last used (a restart), ``work`` failed before anything was committed, and the pool has
    discarded every connection as old as that one: ``work`` runs once more on a new one.
    """
    engine = services().intake_engine
    if engine is None:
        session = db()
        result = work(session.connection())
        session.commit()
        return result
    for attempt in (1, 2):
        with engine.connect() as connection:
            try:
                result = work(connection)
            except DBAPIError as error:
                if error.connection_invalidated and attempt == 1:
                    continue
                raise
            connection.commit()
            return result
    raise AssertionError("unreachable")  # pragma: no cover


def streaming(chunks: Iterator[str]) -> Iterator[str]:
    """Hand this request's session to a streamed response, which closes it when done
    (the request's teardown runs before the stream is read)."""
    session = g.pop("db_session", None)

    def stream() -> Iterator[str]:
        try:
            yield from chunks
        finally:
            if session is not None:
                session.close()

    return stream()


def current_user() -> User | None:
    """The signed-in partner, board or admin user, if any; expired sessions are ended."""
    if "user" not in g:
        settings = services().settings
        now = datetime.now(UTC)
        user, ended = users.signed_in_user(
            db(),
            user_id=cookie_session.get("user_id"),
            signed_in_at=cookie_session.get("signed_in_at"),
            seen_at=cookie_session.get("seen_at"),
            generation=cookie_session.get("generation"),
            now=now,
            policy=users.SessionPolicy(
                absolute=timedelta(hours=settings.session_hours),
                idle=timedelta(minutes=settings.session_idle_minutes),
            ),
        )
        if user is not None and not cookie_session.get("two_step") and must_use_two_step(user):
            # Signed in without a code, and the account must now use one (the policy or the
            # routing table changed since): the session ends, and signing in again leads to
            # the code or to setting the app up.
            user, ended = None, TWO_STEP_NOW_REQUIRED
        if user is None and cookie_session.get("user_id"):
            cookie_session.clear()
            g.session_ended = ended
        elif user is not None:
            cookie_session["seen_at"] = int(now.timestamp())
        g.user = user
    return g.user


TWO_STEP_NOW_REQUIRED = (
    "Two-step sign-in is now required for your account. Sign in again to set it up."
)


def must_use_two_step(user: User) -> bool:
    """Whether the account must use two-step sign-in (``accounts.two_factor``)."""
    return two_factor.required_for(db(), user, services().two_factor)


def sign_in(user: User, *, two_step: bool) -> None:
    """Start a fresh session for a user who has proved who they are; ``two_step`` says they
    gave a code from their authenticator app too.

    The session belongs to the account's current generation of sessions, so signing out,
    a password change or reset, or deactivation ends it (``users.end_all_sessions``).
    """
    now = datetime.now(UTC).timestamp()
    generation = users.session_generation(db(), user)
    cookie_session.clear()
    cookie_session.permanent = True
    cookie_session.update(
        user_id=user.id, signed_in_at=now, seen_at=now, generation=generation, two_step=two_step
    )
    g.user = user


def signed_in_with_two_step() -> bool:
    """Whether this session's sign-in included a code from the authenticator app."""
    return bool(cookie_session.get("two_step"))


def note_two_step() -> None:
    """Record that this session has now given a code (the app was just set up with one)."""
    cookie_session["two_step"] = True


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute URL for ``endpoint`` on the configured base URL.

    Never built from the request's ``Host`` header, which the client chooses: a forged one
    would otherwise end up in API links, discovery documents and anything copied from them.
    ``SAFER_STREETS_BASE_URL`` includes any path prefix the site is served under.
    """
    path = url_for(endpoint, **values)
    root = request.script_root
    if root and path.startswith(root + "/"):
        path = path[len(root) :]
    return services().settings.base_url.rstrip("/") + path


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Send anonymous visitors to the login page, remembering where they were going."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            if g.get("session_ended"):
                flash(g.session_ended)
            # Encoded, so that a query with several parameters comes back whole.
            return redirect(url_for("casework.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


def show_refused(
    page: Callable[..., ResponseReturnValue], errors: dict[str, str], **context: Any
) -> ResponseReturnValue:
    """Show a form again (422) saying what was wrong with it.

    ``page`` renders the form from ``errors``, ``status`` and ``context``. The refused attempt
    may have written part of its change before it was refused: that is undone first, so the
    page shows things as they stand.
    """
    db().rollback()
    return page(errors=errors, status=422, **context)


def wants_json() -> bool:
    """API paths and JSON clients get problem documents instead of pages."""
    return request.path.startswith(("/api/", "/healthz"))


def problem(status: int, title: str, detail: str, errors: dict[str, str] | None = None) -> Response:
    """An RFC 9457 problem document; ``errors`` names each bad field."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


ErrorRenderer = Callable[[int, str, str, dict[str, str] | None], Response]


def register_error_renderer(app: Flask, path_prefix: str, renderer: ErrorRenderer) -> None:
    """Render errors under ``path_prefix`` in that API's own format (e.g. Open311's XML)."""
    app.extensions.setdefault("error_renderers", {})[path_prefix] = renderer


# Where partners, the board and administrators work (and sign in): errors there are staff
# pages too.
STAFF_PATHS = ("/triage", "/admin", "/board", "/account", "/login", "/logout", "/password")


def is_staff_path(path: str) -> bool:
    """Whether ``path`` is one of the staff pages (``/triage`` and below, and so on)."""
    return any(path == prefix or path.startswith(prefix + "/") for prefix in STAFF_PATHS)


def _staff_error() -> bool:
    """Whether an error is shown to staff: on a staff page, or to anyone signed in.

    The session cookie is enough to tell, without asking the database: a signed-in member of
    staff who mistypes an address needs their own navigation, not the residents' banners.
    """
    return (
        is_staff_path(request.path)
        or g.get("user") is not None
        or bool(cookie_session.get("user_id"))
    )


def _render_error(
    status: int,
    title: str,
    detail: str,
    errors: dict[str, str] | None = None,
    *,
    generic: bool = False,
):
    renderers: dict[str, ErrorRenderer] = current_app.extensions.get("error_renderers", {})
    for prefix, renderer in renderers.items():
        if request.path.startswith(prefix):
            return renderer(status, title, detail, errors)
    if wants_json():
        return problem(status, title, detail, errors)
    page = "casework/error.html" if _staff_error() else "error.html"
    html = render_template(page, status=status, title=title, detail=detail, generic=generic)
    return html, status


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed session cookie, with its signer made once per key rather than on every
    request: making one serialises a test value to check its serializer, which cost more than
    reading a cookie."""

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        made = app.extensions.get("safer_streets_session_signer")
        if made is None or made[0] != keys:
            made = (keys, super().get_signing_serializer(app))
            app.extensions["safer_streets_session_signer"] = made
        return made[1]


# Only these bodies are read into ``request.form``; reading any other would parse nothing.
FORM_MIMETYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def init_app(app: Flask) -> None:
    """Register teardown and error translation."""
    app.session_interface = SessionCookies()

    @app.before_request
    def refuse_nul_characters() -> None:
        # PostgreSQL text cannot hold NUL, and no person types one: refuse it at the edge.
        if "\x00" in request.path:
            raise NotFound("no such page")
        fields = [request.args]
        if request.mimetype in FORM_MIMETYPES:
            fields.append(request.form)
        for values in fields:
            for name, value in values.items(multi=True):
                if "\x00" in name or "\x00" in value:
                    field = name.replace("\x00", "")
                    raise InvalidInput({field: "must not contain NUL characters"})

    @app.context_processor
    def template_globals() -> dict[str, Any]:
        return {"current_user": current_user()}

    app.add_template_filter(london_time, "london")

    @app.teardown_appcontext
    def close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()

    @app.errorhandler(SaferStreetsError)
    def domain_error(error: SaferStreetsError):
        response = _render_error(
            error.status, error.title, error.message, getattr(error, "field_errors", None)
        )
        if isinstance(error, ServiceUnavailable):
            response = app.make_response(response)
            response.headers["Retry-After"] = str(error.retry_after_seconds)
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return _render_error(
            400,
            gettext("The form expired"),
            gettext("Please go back, reload the page and try again."),
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        response = app.make_response(
            # Werkzeug's own words are English: the resident's page says them in theirs. A
            # description of ours (a limit's, say) is kept.
            _render_error(
                error.code or 500,
                error.name,
                error.description or error.name,
                generic=error.description == type(error).description,
            )
        )
        # Keep what the error says about itself, e.g. Allow on 405 and Retry-After on 429.
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(OperationalError)
    def database_down(error: OperationalError):
        logger.error("Database unavailable: %s", error.orig)
        return domain_error(ServiceUnavailable("The database is unavailable; please try again."))
