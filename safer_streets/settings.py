"""Typed settings read from ``SAFER_STREETS_*`` environment variables and a ``.env`` file.

The ``.env`` file is found as Flask's CLI finds it: the nearest one in the current directory
or above. Set-up (``scripts/setup.sh``) writes one in the checkout, so the web app, the worker,
beat and the ``safer-streets`` command all read what ``make run`` uses without anyone
exporting anything. A variable set in the real environment wins over the file, and
``FLASK_SKIP_DOTENV=1`` (Flask's switch) ignores the file, as the tests do.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

from dotenv import dotenv_values, find_dotenv

PREFIX = "SAFER_STREETS_"
GEOCODERS = ("offline", "nominatim")
ENV_FILE = ".env"


class SettingsError(ValueError):
    """A setting is missing or cannot be parsed."""


def dotenv_file_values(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables in the nearest ``.env`` (this directory or above), or none at all when
    there is no such file or ``FLASK_SKIP_DOTENV`` is set in ``environ``."""
    environ = os.environ if environ is None else environ
    # The same test as flask.helpers.get_load_dotenv, so the CLI and the settings agree.
    skip = environ.get("FLASK_SKIP_DOTENV", "")
    if skip and skip.lower() not in ("0", "false", "no"):
        return {}
    path = find_dotenv(ENV_FILE, usecwd=True)
    if not path:
        return {}
    return {
        key: value
        for key, value in dotenv_values(path, encoding="utf-8").items()
        if value is not None
    }


def _parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{PREFIX}{name} must be true or false, not {raw!r}")


@dataclass(frozen=True)
class Settings:
    """Everything the web app, the worker and the CLI need to know about their environment."""

    secret_key: str
    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/safer_streets"
    redis_url: str = "redis://127.0.0.1:6379/0"
    base_url: str = "http://127.0.0.1:5000"
    # Sessions of partner staff expire; residents never log in.
    session_hours: int = 8
    # ...and also after this long without a request (a shared office computer left signed in).
    session_idle_minutes: int = 30
    # Secure cookies and HSTS also without an https base URL (they are always on with one).
    secure_cookies: bool = False
    # Reverse proxies (load balancers) in front of the app that set X-Forwarded-For and
    # X-Forwarded-Proto. Limits per address key on the address they report; with 0 the headers
    # are ignored, as a client could otherwise choose its own address and escape every limit.
    trusted_proxies: int = 0
    # Reports still `received` this long after submission are re-enqueued by the sweep.
    sweep_after_seconds: int = 30
    sweep_every_seconds: int = 15
    # How long an unacknowledged task stays invisible before Redis hands it to another worker.
    visibility_timeout_seconds: int = 300
    # A report whose routing fails this many times (something in the report or the code; an
    # unreachable database does not count) becomes `needs_attention`: it leaves the sweep and
    # every batch until an admin retries it after a fix.
    processing_max_attempts: int = 5
    max_description_chars: int = 4000
    max_request_bytes: int = 12 * 1024 * 1024
    celery_queue: str = "safer-streets"
    # How residents reach the partnership (/contact). The defaults are Lewisham Council's
    # switchboard and Civic Suite address; set the team's own before going live.
    contact_email: str = "contact@safer-streets.lewisham.gov.uk"
    contact_phone: str = "020 8314 6000"
    contact_address: str = (
        "Safer Lewisham Partnership, Lewisham Civic Suite, Catford Road, London SE6 4RU"
    )
    # gunicorn (gunicorn.conf.py): processes, threads in each, and the address it listens on.
    # Each process keeps as many database connections as it has threads and never more, so a
    # burst queues in gunicorn rather than opening connections PostgreSQL must refuse.
    web_workers: int = 2
    web_threads: int = 8
    web_bind: str = "127.0.0.1:5000"
    web_access_log: bool = True
    # Outgoing email (partner alerts, digests, resident updates, password resets).
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_from: str = "Safer Streets Lewisham <no-reply@safer-streets.lewisham.gov.uk>"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_timeout_seconds: int = 10
    # A failed send is tried again by the outbox sweep after base × 2^(attempts-1) seconds, at
    # most max: the outbox row holds the schedule, so an SMTP outage never fills the broker.
    email_retry_base_seconds: int = 30
    email_retry_max_seconds: int = 1800
    # The outbox sweep runs this often; an email never tried is re-enqueued only when it is
    # this old (its writer enqueued it, unless the broker was down then).
    outbox_sweep_every_seconds: int = 30
    outbox_sweep_after_seconds: int = 300
    # Partners taking reports by Open311 (their own case systems): each call waits at most
    # timeout seconds; a failed post is tried again by the sweep after base × 2^(attempts-1)
    # seconds, at most max; the sweep of unsent posts and the read of updates run this often.
    # A read starts lookback hours before the last one, for servers that publish an update's
    # time coarsely (to the day) or late; each update is made once whatever the overlap.
    open311_timeout_seconds: float = 10.0
    open311_retry_base_seconds: int = 60
    open311_retry_max_seconds: int = 3600
    open311_sweep_every_seconds: int = 30
    open311_updates_every_seconds: int = 300
    open311_updates_lookback_hours: int = 24
    # The queue's stored counts gain a row of changes with every change to a report; they are
    # summed this often, so that reading a partner's counts reads a few hundred rows.
    queue_count_compact_every_seconds: int = 300
    # /healthz connects to the SMTP server to see that it answers, for at most this long, and
    # keeps the answer this long, so that a health poller cannot hammer the mail server.
    health_smtp_timeout_seconds: float = 1.0
    health_smtp_cache_seconds: float = 10.0
    # /healthz says `degraded` when more emails than this wait to be sent, or when the oldest
    # has waited longer than this (the outbox sweep re-enqueues an email never tried after
    # outbox_sweep_after_seconds, and a failed one backs off up to email_retry_max_seconds).
    health_outbox_max_unsent: int = 200
    health_outbox_max_age_seconds: int = 900
    # Sign-in attempts that fail (Flask-Limiter syntax): for one account from one address, and
    # from one address for any accounts. Never for an account as a whole, which would let
    # anyone lock its owner out.
    login_limit_per_account: str = "5 per minute; 20 per hour"
    login_limit_per_address: str = "20 per minute; 200 per hour"
    # A reporter's "still a problem" reopens a resolved report within this many days of its
    # resolution; later, they are asked to make a new report. Longer than the questionnaire's
    # wait below, so that its "not fixed" answer can still reopen the report.
    reopen_within_days: int = 56
    # "Is it fixed?" is emailed to reporters who gave an email this many days after their
    # report was resolved.
    questionnaire_after_days: int = 28
    # Reporters' contact details and photos are removed this long after a report closes.
    retention_days: int = 365
    # Safety board: hotspot runs (permutations and seed are stored with every run), the
    # smallest count of a cell shown outside the board when sensitive categories are in it,
    # and the most report points a map draws.
    hotspot_permutations: int = 999
    hotspot_seed: int = 20260101
    board_min_count: int = 5
    board_point_limit: int = 50_000
    # Per API key that verifies (or per address without one), in Flask-Limiter's notation.
    api_write_rate_limit: str = "60 per minute"
    api_read_rate_limit: str = "600 per minute"
    # Looking a report up by its reference (tracking page, JSON API, Open311), all together:
    # far more than anyone following their reports needs, far too few to guess references by.
    lookup_rate_limit: str = "60 per minute; 600 per hour"
    # Reports through the resident form from one address, and reports about one ~1 km area from
    # all channels together: a flood is slowed without stopping a street of genuine reporters.
    submission_rate_limit: str = "20 per hour"
    area_rate_limit: str = "200 per hour"
    # Map tiles for the resident's report map and partner pages; pages stay usable (markers on
    # a plain background) when tiles cannot load.
    map_tiles_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    # Where typed locations are looked up: the shipped offline gazetteer, or Nominatim (through
    # geopy) with the offline gazetteer as its fallback. Nominatim's usage policy requires an
    # identifying user agent; point NOMINATIM_DOMAIN at a self-hosted server for real volumes.
    geocoder: str = "offline"
    nominatim_user_agent: str = ""
    nominatim_domain: str = "nominatim.openstreetmap.org"
    nominatim_timeout_seconds: float = 5.0
    # Password hashing (argon2id): time cost, memory in KiB and lanes. The defaults are
    # argon2-cffi's (RFC 9106's low-memory profile). Each hash records its own parameters, so
    # a change never locks anyone out: old hashes still verify and are re-hashed at the
    # next sign-in. The tests use the smallest cost argon2 allows.
    argon2_time_cost: int = 3
    argon2_memory_cost_kib: int = 65536
    argon2_parallelism: int = 4
    # Two-step sign-in is required of administrators, police partners and partners owning a
    # sensitive category (safer_streets.accounts.two_factor); these add roles and partner
    # slugs to those, comma-separated (e.g. "partner-admin" or "tfl,lewisham-asb").
    two_factor_roles: str = ""
    two_factor_partners: str = ""
    # Offer the pseudo-locale (accented, a third longer) in the language switcher, compiled at
    # start from messages.pot: for checking that every string is marked and that pages survive
    # longer languages. On in development and the tests; residents have no use for it.
    pseudo_locale: bool = False

    def celery_queues(self) -> tuple[str, str, str]:
        """The routing, email and slow-job queues, named after ``celery_queue`` so that
        deployments (and tests) sharing a Redis never consume each other's work."""
        return (self.celery_queue, f"{self.celery_queue}.email", f"{self.celery_queue}.slow")

    def __post_init__(self) -> None:
        if self.geocoder not in GEOCODERS:
            raise SettingsError(
                f"{PREFIX}GEOCODER must be one of {', '.join(GEOCODERS)}, not {self.geocoder!r}"
            )
        if self.geocoder == "nominatim" and not self.nominatim_user_agent.strip():
            raise SettingsError(
                f"{PREFIX}NOMINATIM_USER_AGENT is required with {PREFIX}GEOCODER=nominatim "
                "(Nominatim's usage policy): e.g. 'safer-streets-lewisham (ops@example.org)'"
            )
        if self.questionnaire_after_days >= self.reopen_within_days:
            raise SettingsError(
                f"{PREFIX}REOPEN_WITHIN_DAYS must be more than {PREFIX}QUESTIONNAIRE_AFTER_DAYS, "
                "so that a 'not fixed' answer to the questionnaire can still reopen the report"
            )
        # Busy cells have no exact p-value; their conditional-permutation p cannot go below
        # 1 / (permutations + 1), so fewer than 99 could never reach 99 % confidence.
        if self.hotspot_permutations < 99:
            raise SettingsError(f"{PREFIX}HOTSPOT_PERMUTATIONS must be at least 99")
        if self.processing_max_attempts < 1:
            raise SettingsError(f"{PREFIX}PROCESSING_MAX_ATTEMPTS must be at least 1")
        if self.health_smtp_timeout_seconds <= 0:
            raise SettingsError(f"{PREFIX}HEALTH_SMTP_TIMEOUT_SECONDS must be more than 0")
        if self.health_smtp_cache_seconds < 0:
            raise SettingsError(f"{PREFIX}HEALTH_SMTP_CACHE_SECONDS must not be negative")
        if self.open311_timeout_seconds <= 0:
            raise SettingsError(f"{PREFIX}OPEN311_TIMEOUT_SECONDS must be more than 0")
        if self.open311_retry_base_seconds < 1:
            raise SettingsError(f"{PREFIX}OPEN311_RETRY_BASE_SECONDS must be at least 1")
        if self.open311_updates_lookback_hours < 0:
            raise SettingsError(f"{PREFIX}OPEN311_UPDATES_LOOKBACK_HOURS must not be negative")
        if self.nominatim_timeout_seconds <= 0:
            raise SettingsError(f"{PREFIX}NOMINATIM_TIMEOUT_SECONDS must be more than 0")
        # argon2's own limits, checked here so a bad value stops the start, not a sign-in.
        if self.argon2_time_cost < 1:
            raise SettingsError(f"{PREFIX}ARGON2_TIME_COST must be at least 1")
        if self.argon2_parallelism < 1:
            raise SettingsError(f"{PREFIX}ARGON2_PARALLELISM must be at least 1")
        if self.argon2_memory_cost_kib < 8 * self.argon2_parallelism:
            raise SettingsError(
                f"{PREFIX}ARGON2_MEMORY_COST_KIB must be at least 8 per lane "
                f"({8 * self.argon2_parallelism} with {PREFIX}ARGON2_PARALLELISM="
                f"{self.argon2_parallelism})"
            )

    @property
    def https(self) -> bool:
        """Whether the site is served over HTTPS: its cookies are then Secure and its
        responses carry HSTS."""
        return self.secure_cookies or self.base_url.strip().lower().startswith("https://")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Parse settings strictly; fail fast on a missing secret.

        Without ``environ``: the process environment over the nearest ``.env`` file. With it
        (tests, tools): exactly those variables, and no file.
        """
        if environ is None:
            environ = {**dotenv_file_values(), **os.environ}
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = environ.get(PREFIX + f.name.upper())
            if raw is None:
                continue
            if f.type == "int":
                try:
                    values[f.name] = int(raw)
                except ValueError:
                    raise SettingsError(
                        f"{PREFIX}{f.name.upper()} must be a whole number"
                    ) from None
            elif f.type == "float":
                try:
                    values[f.name] = float(raw)
                except ValueError:
                    raise SettingsError(f"{PREFIX}{f.name.upper()} must be a number") from None
            elif f.type == "bool":
                values[f.name] = _parse_bool(f.name.upper(), raw)
            else:
                values[f.name] = raw
        if not values.get("secret_key"):
            raise SettingsError(
                f"{PREFIX}SECRET_KEY is not set, in the environment or in a {ENV_FILE} file "
                "here or above: `make setup` writes one in the checkout; or generate a key "
                "with `python -c 'import secrets; print(secrets.token_hex(32))'`"
            )
        return cls(**values)  # type: ignore[arg-type]
