"""A small HTTP/1.1 load generator on asyncio streams, for benchmarks on this machine.

Open loop: requests are scheduled at a fixed rate and latency is measured from the scheduled
time, so a slow server cannot hide its queueing (no coordinated omission). Closed loop: a fixed
number of connections send as fast as answers come back, to find the maximum throughput.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np


def _done(status: int) -> bool:
    # A form's POST that worked answers 303 See Other, to its confirmation page.
    return 200 <= status < 300 or status == 303


@dataclass
class LoadResult:
    """What one load run measured."""

    sent: int = 0
    latencies_s: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    elapsed_s: float = 0.0

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if _done(status))

    @property
    def failed(self) -> int:
        return self.errors + sum(n for s, n in self.statuses.items() if not _done(s))

    def percentile_ms(self, q: float) -> float:
        return (
            float(np.percentile(self.latencies_s, q) * 1000) if self.latencies_s else float("nan")
        )

    def summary(self) -> str:
        rate = self.ok / self.elapsed_s if self.elapsed_s else 0
        return (
            f"{self.ok} ok, {self.failed} failed in {self.elapsed_s:.1f} s = {rate:,.0f}/s; "
            f"p50 {self.percentile_ms(50):.1f} ms, p95 {self.percentile_ms(95):.1f} ms, "
            f"p99 {self.percentile_ms(99):.1f} ms"
        )


class Connection:
    """One keep-alive HTTP/1.1 connection, opened on first use and after a close."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> int:
        """Send a raw request; the response's status."""
        status, _headers, _body = await self.exchange(raw)
        return status

    async def exchange(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        """Send a raw request; the response's status, headers (lower-case names) and body."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(raw)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await self.reader.readexactly(int(headers.get("content-length", 0)))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def build_request(host: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """A raw keep-alive POST."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def build_get(host: str, path: str, headers: dict[str, str] | None = None) -> bytes:
    """A raw keep-alive GET."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# A flow is one user's errand of several requests on one connection (a browser filling in a
# form: GET it, POST it); it returns the status that says how the errand ended.
Flow = Callable[[Connection, int], Awaitable[int]]


async def _send(conn: Connection, raw: bytes, start: float, result: LoadResult) -> None:
    try:
        status = await conn.request(raw)
        result.statuses[status] = result.statuses.get(status, 0) + 1
    except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError):
        result.errors += 1
        conn.close()
    result.latencies_s.append(time.perf_counter() - start)


async def open_loop(
    host: str, port: int, make_request: Callable[[int], bytes], rate: float, duration_s: float
) -> LoadResult:
    """Send ``rate`` requests per second for ``duration_s``, each on a free connection."""
    result = LoadResult()
    idle: list[Connection] = []
    tasks: set[asyncio.Task[None]] = set()
    total = int(rate * duration_s)
    t0 = time.perf_counter()

    async def one(i: int, scheduled: float) -> None:
        conn = idle.pop() if idle else Connection(host, port)
        await _send(conn, make_request(i), scheduled, result)
        idle.append(conn)

    for i in range(total):
        scheduled = t0 + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(i, scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        result.sent += 1
    await asyncio.gather(*tasks)
    result.elapsed_s = time.perf_counter() - t0
    for conn in idle:
        conn.close()
    return result


async def closed_loop(
    host: str, port: int, make_request: Callable[[int], bytes], connections: int, duration_s: float
) -> LoadResult:
    """``connections`` clients each sending back to back for ``duration_s``."""
    result = LoadResult()
    counter = iter(range(10**9))
    deadline = time.perf_counter() + duration_s
    t0 = time.perf_counter()

    async def client() -> None:
        conn = Connection(host, port)
        while time.perf_counter() < deadline:
            result.sent += 1
            await _send(conn, make_request(next(counter)), time.perf_counter(), result)
        conn.close()

    await asyncio.gather(*(client() for _ in range(connections)))
    result.elapsed_s = time.perf_counter() - t0
    return result


async def closed_loop_flows(
    host: str, port: int, flow: Flow, connections: int, duration_s: float
) -> LoadResult:
    """``connections`` users each running ``flow`` back to back for ``duration_s``; a latency
    and a status per whole errand."""
    result = LoadResult()
    counter = iter(range(10**9))
    deadline = time.perf_counter() + duration_s
    t0 = time.perf_counter()

    async def user() -> None:
        conn = Connection(host, port)
        while time.perf_counter() < deadline:
            result.sent += 1
            start = time.perf_counter()
            try:
                status = await flow(conn, next(counter))
                result.statuses[status] = result.statuses.get(status, 0) + 1
            except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError):
                result.errors += 1
                conn.close()
            result.latencies_s.append(time.perf_counter() - start)
        conn.close()

    await asyncio.gather(*(user() for _ in range(connections)))
    result.elapsed_s = time.perf_counter() - t0
    return result
