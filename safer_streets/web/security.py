"""Security headers on every response, with a Content-Security-Policy the pages work under.

Responses made for a signed-in user (every page, export and download behind a sign-in, and
public pages showing who is signed in) are never stored by the browser or any cache: a
shared office computer's back button or disk cache must not show the next person a queue, a
CSV of reports or an authenticator secret.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, g

from safer_streets.settings import Settings


def content_security_policy(settings: Settings) -> str:
    """Scripts and styles only from this site; images also from the map tile server."""
    tiles = urlsplit(settings.map_tiles_url)
    tile_origin = f"{tiles.scheme}://{tiles.netloc}" if tiles.netloc else ""
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": f"'self' data: blob: {tile_origin}".strip(),
        "connect-src": "'self'",
        "font-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def init_app(app: Flask, settings: Settings) -> None:
    """Add the headers after every request; a view may set its own CSP first."""
    policy = content_security_policy(settings)

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", policy)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        # No page address (which may hold a report reference) leaks to other sites, including
        # the neutral site the quick exit leaves for.
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault(
            "Permissions-Policy", "geolocation=(self), camera=(), microphone=(), payment=()"
        )
        if settings.https:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        # ``g.user`` is set once anything in the request asked who is signed in (every
        # ``login_required`` view, every rendered page): the response may then show them
        # things nobody else should see. A view's own "no-store" (with "private") is kept.
        if g.get("user") is not None and "no-store" not in headers.get("Cache-Control", ""):
            headers["Cache-Control"] = "no-store"
        return response
