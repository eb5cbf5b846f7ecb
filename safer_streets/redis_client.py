"""The one way the application reaches Redis (rate limits, the photo stash, health).

redis-py's default retries a failed command three times with up to ten seconds of backoff, so a
stopped Redis would hold a resident's request for seconds. Here a connection is given half a
second, a command one second, and a failed command one immediate retry: enough to reconnect
after Redis restarted, never long enough to hold up a request. Callers treat Redis as optional
(limits fail open, a stashed photo is asked for again), so failing fast is the safe choice.
"""

from __future__ import annotations

from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

CONNECT_TIMEOUT_SECONDS = 0.5
COMMAND_TIMEOUT_SECONDS = 1.0


def redis_options() -> dict[str, Any]:
    """Connection options for redis-py (also given to the rate limiter's storage)."""
    return {
        "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "socket_timeout": COMMAND_TIMEOUT_SECONDS,
        "retry": Retry(NoBackoff(), 1),
    }


def make_redis(url: str) -> redis.Redis:
    """A client for ``url`` with the application's timeouts and retry policy."""
    return redis.Redis.from_url(url, **redis_options())
