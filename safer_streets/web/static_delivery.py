"""How responses travel: static files gzip-compressed and cached for a year under versioned
URLs; generated data (the board's map script, JSON, GeoJSON, feeds, Open311 XML) compressed as
it is sent.

``url_for('static', filename=...)`` gains ``?v=<hash of the file>``, so a changed file gets a
new URL and browsers may keep every version for a year without ever serving a stale one.
Text files are compressed once per process and kept in memory: a resident on a slow
connection downloads Leaflet as ~42 KB instead of ~148 KB.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from functools import cache
from pathlib import Path
from typing import Any

from flask import Flask, Response, request, send_from_directory
from flask_compress import Compress
from werkzeug.exceptions import NotFound
from werkzeug.security import safe_join

YEAR_SECONDS = 365 * 24 * 60 * 60
COMPRESSIBLE = frozenset({"text/css", "text/javascript", "application/javascript", "image/svg+xml"})
# Generated responses compressed on the way out. Not HTML: its pages carry a CSRF token beside
# text an attacker can put in a link (filters, search), which is what a compression side channel
# (BREACH) needs to read the token; none of these types holds a token.
GENERATED_COMPRESSIBLE = sorted(
    COMPRESSIBLE
    | {
        "application/json",
        "application/geo+json",
        "application/atom+xml",
        "application/xml",
        "text/xml",
    }
)


@cache
def _read(path: Path, mtime_ns: int) -> tuple[str, bytes]:
    """The file's version (a short content hash) and its gzip-compressed bytes."""
    data = path.read_bytes()
    version = hashlib.sha256(data).hexdigest()[:12]
    return version, gzip.compress(data, compresslevel=9, mtime=0)


def _static_file(static_folder: str, filename: str) -> Path | None:
    joined = safe_join(static_folder, filename)
    if joined is None:
        return None
    path = Path(joined)
    return path if path.is_file() else None


def file_version(static_folder: str, filename: str) -> str | None:
    """A short hash of a static file's content, or None when there is no such file."""
    path = _static_file(static_folder, filename)
    return None if path is None else _read(path, path.stat().st_mtime_ns)[0]


def init_app(app: Flask) -> None:
    """Serve static files compressed where the browser accepts it, and version their URLs."""
    static_folder = app.static_folder
    assert static_folder is not None
    app.config.setdefault("SEND_FILE_MAX_AGE_DEFAULT", YEAR_SECONDS)

    def static(filename: str) -> Response:
        path = _static_file(static_folder, filename)
        if path is None:
            raise NotFound()
        mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if mimetype not in COMPRESSIBLE or not request.accept_encodings["gzip"]:
            response = send_from_directory(static_folder, filename)
        else:
            version, compressed = _read(path, path.stat().st_mtime_ns)
            response = Response(compressed, mimetype=mimetype)
            response.headers["Content-Encoding"] = "gzip"
            response.set_etag(f"{version}-gzip")
            response.cache_control.public = True
            response.cache_control.max_age = YEAR_SECONDS
            response.make_conditional(request)
        response.vary.add("Accept-Encoding")
        return response

    app.view_functions["static"] = static

    app.config.update(
        COMPRESS_MIMETYPES=GENERATED_COMPRESSIBLE,
        COMPRESS_ALGORITHM="gzip",
        COMPRESS_LEVEL=6,
        COMPRESS_MIN_SIZE=1000,
        # A streamed CSV export stays streamed, its memory flat, rather than gathered to compress.
        COMPRESS_STREAMS=False,
    )
    Compress(app)

    @app.url_defaults
    def version_static_urls(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and "v" not in values:
            version = file_version(static_folder, values.get("filename", ""))
            if version:
                values["v"] = version
