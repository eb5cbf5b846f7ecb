"""``safer-streets mail-sink``: the local mail server ``make run`` starts with the web app,
the worker and beat."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import click

from safer_streets.notifications import mail_sink


@click.command("mail-sink")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=1025, show_default=True, help="Port to listen on.")
@click.option(
    "--dir",
    "directory",
    default="var/mail",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where each message is saved as an .eml file.",
)
def mail_sink_command(host: str, port: int, directory: Path) -> None:
    """A local SMTP server that saves every message it receives as an .eml file.

    Nothing is relayed. For `make run` and demos; production points SAFER_STREETS_SMTP_* at
    a real mail server.
    """
    # A plain click command (no app context): the sink needs no database or secret key.
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # aiosmtpd logs every SMTP command at INFO; one line a saved message is what is wanted.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    stop = threading.Event()
    # honcho stops its processes with SIGTERM; Ctrl-C in a terminal is SIGINT.
    stopping = (signal.SIGTERM, signal.SIGINT)
    previous = {signum: signal.signal(signum, lambda *_: stop.set()) for signum in stopping}
    try:
        mail_sink.serve(directory, host, port, stop)
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error}") from None
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
