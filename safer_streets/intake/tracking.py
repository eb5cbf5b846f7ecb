"""The reporter's private tracking link: ``/track/<reference>?key=<key>``.

A report in a category the public never sees one by one (harassment, weapons) must not answer
to its reference alone, or anyone could confirm that it exists by guessing. The reporter is
given a link that carries a key only the server can make (an HMAC of the reference with the
app's secret key): whoever holds it follows the report as its reporter, and nobody else does.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy.orm import Session

from safer_streets.casework import access
from safer_streets.disclosure.policy import Audience, Disclosure, disclose
from safer_streets.errors import NotFound
from safer_streets.intake.submission import get_report
from safer_streets.models import ApiClient, Report

KEY_PARAMETER = "key"
_PURPOSE = b"safer-streets:tracking-link:"


def tracking_key(secret_key: str, reference: str) -> str:
    """The key of one report's private tracking link."""
    message = _PURPOSE + reference.strip().upper().encode()
    digest = hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()
    # 128 bits: beyond guessing, and short enough to survive being read out or retyped.
    return digest[:32]


def holds_tracking_key(secret_key: str, reference: str, key: str | None) -> bool:
    """Whether ``key`` is this report's tracking key (compared in constant time)."""
    if not key:
        return False
    return hmac.compare_digest(tracking_key(secret_key, reference), key.strip())


def tracking_path(secret_key: str, reference: str) -> str:
    """The path of a report's private tracking link, for emails and the confirmation page."""
    reference = reference.strip().upper()
    return f"/track/{reference}?{KEY_PARAMETER}={tracking_key(secret_key, reference)}"


def public_audience(
    session: Session, report: Report, *, reporter: bool, client: ApiClient | None
) -> Audience:
    """Who is looking up a report by its reference, outside the partners' own pages.

    A key that acts for a partner sees what that partner's staff see of the reports in its
    scope; the holder of the private tracking link is the reporter; any other key is an API
    client, and anyone else the public.
    """
    if client is not None and client.partner_id is not None:
        try:
            return access.audience_for(session, client, report)
        except NotFound:
            pass  # not its partner's report: it reads it as any other client would
    if reporter:
        return Audience.REPORTER
    return Audience.API_CLIENT if client is not None else Audience.PUBLIC


def look_up(
    session: Session, reference: str, *, reporter: bool = False, client: ApiClient | None = None
) -> Disclosure:
    """A report by its reference, as this reader may see it.

    A report its reader may not see one by one (a harassment report without its private
    link, a report held for review) is ``NotFound`` exactly as an unknown reference is, so
    that nobody learns it exists.
    """
    report = get_report(session, reference)
    shown = disclose(report, public_audience(session, report, reporter=reporter, client=client))
    if not shown.listed:
        raise NotFound(f"no report with reference {reference!r}")
    return shown
