"""The demo logins `make run` prints stay usable under the two-step policy: the accounts that
must use it are given their authenticator key, printed with the password."""

from __future__ import annotations

import re

import pyotp
from click.testing import CliRunner
from flask.cli import ScriptInfo

from safer_streets.cli import DEMO_PASSWORD, main


def keys_printed(output: str) -> dict[str, str]:
    return dict(re.findall(r"^\s+(\S+@\S+)\s.*two-step key ([A-Z2-7]+)$", output, re.MULTILINE))


def test_demo_logins_print_a_key_for_the_accounts_that_must_use_two_step_sign_in(live_app):
    info = ScriptInfo(create_app=lambda: live_app)
    first = CliRunner().invoke(main, ["demo"], obj=info)
    assert first.exit_code == 0, first.output
    keys = keys_printed(first.output)
    assert set(keys) == {
        "snt.rushey-green@demo.safer-streets.test",
        "snt.lewisham-central@demo.safer-streets.test",
        "admin@demo.safer-streets.test",
        "snt.rushey-green.lead@demo.safer-streets.test",
    }
    assert "pyotp.TOTP('KEY').now()" in first.output
    again = CliRunner().invoke(main, ["demo"], obj=info)
    assert keys_printed(again.output) == keys, "a second run keeps the keys"

    client = live_app.test_client()
    client.application.config["WTF_CSRF_ENABLED"] = False
    admin = "admin@demo.safer-streets.test"
    step_one = client.post("/login", data={"email": admin, "password": DEMO_PASSWORD})
    assert step_one.headers["Location"].endswith("/login/code")
    code = pyotp.TOTP(keys[admin]).now()
    assert client.post("/login/code", data={"code": code}).status_code == 303
    assert client.get("/admin/routing").status_code == 200

    highways = client.application.test_client()
    signed_in = highways.post(
        "/login", data={"email": "highways@demo.safer-streets.test", "password": DEMO_PASSWORD}
    )
    assert signed_in.headers["Location"] == "/triage", "other partners: the password alone"
