"""A local SMTP server that keeps every message as an ``.eml`` file: the mail server of
``make run``.

With it, the partner alerts, resident updates and password links a demo sends can be read
(any mail program opens ``.eml``), and the outbox, its retries and ``/healthz``'s SMTP check
work exactly as against a real server. Nothing is relayed anywhere. Production points
``SAFER_STREETS_SMTP_*`` at a real server instead.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

logger = logging.getLogger(__name__)


class MailSink:
    """An SMTP server on ``host:port`` writing each message it accepts to ``directory``.

    Files are named by arrival time (``20260302-141503-123456-<id>.eml``), so a listing is in
    order; each is written under a temporary name and renamed, so that a reader never sees
    half a message. The envelope (which may name Bcc recipients the headers do not) is
    prepended as ``X-Envelope-From`` and ``X-Envelope-To``.
    """

    def __init__(self, directory: Path, host: str = "127.0.0.1", port: int = 1025) -> None:
        self.directory = Path(directory)
        self.host, self.port = host, port
        self._controller: Controller | None = None
        self._saved = 0
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook
        """Save the message; an error here answers 451 so the sender keeps it and retries."""
        try:
            path = self.save(envelope.mail_from, envelope.rcpt_tos, envelope.content)
        except OSError:
            logger.exception("Could not save a message in %s", self.directory)
            return "451 Requested action aborted: could not save the message"
        return f"250 Message accepted, saved as {path.name}"

    def save(self, mail_from: str, rcpt_tos: list[str], content: bytes | str) -> Path:
        """Write one message with its envelope; return the file's path."""
        raw = content.encode("utf-8") if isinstance(content, str) else content
        envelope = (
            f"X-Envelope-From: <{mail_from}>\r\nX-Envelope-To: {', '.join(rcpt_tos)}\r\n"
        ).encode()
        now = datetime.now(UTC)
        name = f"{now:%Y%m%d-%H%M%S-%f}-{uuid.uuid4().hex[:8]}.eml"
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / name
        partial = self.directory / f".{name}.part"
        partial.write_bytes(envelope + raw)
        os.replace(partial, path)
        with self._lock:
            self._saved += 1
        subject = message_from_bytes(raw, policy=policy.default).get("Subject", "")
        logger.info("Mail to %s saved as %s: %s", ", ".join(rcpt_tos), path, subject)
        return path

    @property
    def saved(self) -> int:
        """How many messages this sink has saved since it started."""
        with self._lock:
            return self._saved

    def start(self) -> None:
        """Listen (in a thread of its own); raises ``OSError`` if the port is taken."""
        self.directory.mkdir(parents=True, exist_ok=True)
        # aiosmtpd reports a port in use only after its 5 s start-up timeout: try it first,
        # with the same SO_REUSEADDR asyncio's server uses, to fail at once with the reason.
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((self.host, self.port))
        # A controller (and its event loop) per start, closed by stop: a sink can stop and
        # start again, as the health tests do.
        controller = Controller(self, hostname=self.host, port=self.port)
        try:
            controller.start()
        except BaseException:
            controller.loop.close()
            raise
        self._controller = controller
        logger.info(
            "Mail sink listening on %s:%d, saving messages in %s",
            self.host,
            self.port,
            self.directory.resolve(),
        )

    def stop(self) -> None:
        """Stop listening; messages already saved stay."""
        if self._controller is not None:
            self._controller.stop()
            self._controller.loop.close()
            self._controller = None


def serve(directory: Path, host: str, port: int, stop: threading.Event) -> None:
    """Run a sink until ``stop`` is set (the command sets it on SIGTERM or Ctrl-C)."""
    sink = MailSink(directory, host, port)
    sink.start()
    try:
        stop.wait()
    finally:
        sink.stop()
