"""`safer-streets mail-sink`, the mail server of `make run`: what is sent to it is saved as a
readable .eml file, and it stops cleanly when honcho stops it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner

from safer_streets.cli import main
from safer_streets.notifications.outbox import SmtpMailer

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_listening(port: int, process: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"mail-sink exited: {process.communicate()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"mail-sink did not listen on {port} within {timeout}s")


def mail_sink(tmp_path: Path, port: int) -> subprocess.Popen:
    """The command as the Procfile runs it, on this checkout's code, from an empty folder."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from safer_streets.cli import main; main()",
            "mail-sink",
            "--port",
            str(port),
            "--dir",
            "var/mail",
        ],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_sink_command_saves_each_message_as_a_readable_eml_file(tmp_path):
    port = free_port()
    sink = mail_sink(tmp_path, port)
    try:
        wait_until_listening(port, sink)
        message = EmailMessage()
        message["From"] = "Safer Streets Lewisham <no-reply@safer-streets.test>"
        message["To"] = "snt.rushey-green@met.police.uk"
        message["Subject"] = "New report LEW-ABC123: Drug dealing in Rushey Green – café"
        message.set_content("Dealing outside the shops on Catford Broadway.\n")
        message["Bcc"] = "copy@lewisham.example"
        # Sent as the worker sends: the product's own SMTP client.
        SmtpMailer(host="127.0.0.1", port=port, timeout=5).send(message)

        deadline = time.monotonic() + 10
        while not (saved := sorted((tmp_path / "var" / "mail").glob("*.eml"))):
            assert time.monotonic() < deadline, "no .eml file was saved"
            time.sleep(0.05)
    finally:
        sink.send_signal(signal.SIGTERM)  # what honcho sends on Ctrl-C
        _stdout, stderr = sink.communicate(timeout=15)

    assert sink.returncode == 0, stderr
    (path,) = saved
    assert not list(path.parent.glob(".*.part")), "no half-written file is left"
    parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert parsed["Subject"] == "New report LEW-ABC123: Drug dealing in Rushey Green – café"
    assert parsed["To"] == "snt.rushey-green@met.police.uk"
    assert parsed["Bcc"] is None, "the sender strips Bcc from the headers..."
    assert "copy@lewisham.example" in parsed["X-Envelope-To"], "...the envelope keeps it"
    # As it travelled: lines end in CRLF, as RFC 5322 has them and mail programs expect.
    body = parsed.get_body(("plain",)).get_content()
    assert body == "Dealing outside the shops on Catford Broadway.\r\n"
    assert f"saved as var/mail/{path.name}" in stderr, "each message is logged where it went"


def test_the_sink_says_so_when_its_port_is_taken(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            main, ["mail-sink", "--port", str(port), "--dir", str(tmp_path / "mail")]
        )
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
