"""The one way the web reads a JSON request body: bounded in size and nesting before parsing."""

from __future__ import annotations

from typing import Any

from flask import g, request
from werkzeug.exceptions import RequestEntityTooLarge

from safer_streets import bounds


def json_body() -> Any:
    """This request's JSON body, parsed once per request (the rate limiter's area key and the
    view share it); ``BadRequest`` (400) when it is too large, nested too deeply or not JSON.

    Never ``request.get_json``: Python's parser recurses once per level of nesting, so a body
    of a few kilobytes of ``[`` fails with RecursionError (a 500) before any validation runs.
    """
    if "json_body" not in g:
        if request.content_length is not None:
            # Refused before reading a byte of it: over the limit on every request, 413 as
            # anywhere else; over the smaller limit on JSON, 400.
            limit = request.max_content_length
            if limit is not None and request.content_length > limit:
                raise RequestEntityTooLarge()
            bounds.check_json_size(request.content_length)
        g.json_body = bounds.load_json(request.get_data(cache=True))
    return g.json_body
