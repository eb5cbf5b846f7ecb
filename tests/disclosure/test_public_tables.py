"""The policy as people read it: the README's table is the command's output, from the policy."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from click.testing import CliRunner

from safer_streets.cli import main
from safer_streets.disclosure import tables
from safer_streets.disclosure.policy import Audience, Rules

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = re.compile(
    r"<!-- disclosure-table:start -->\n(.*?)<!-- disclosure-table:end -->", re.DOTALL
)


def test_the_readme_says_what_is_public_exactly_as_the_policy_does():
    result = CliRunner().invoke(main, ["disclosure", "table"])
    assert result.exit_code == 0, result.output
    found = SECTION.search(README.read_text())
    assert found, "README.md has lost its <!-- disclosure-table:start/end --> markers"
    assert found.group(1) == result.output, (
        "README.md's 'What is public' table differs from the policy: run "
        "`safer-streets disclosure table` and paste its output between the markers"
    )


def test_the_public_never_sees_harassment_or_weapons_one_by_one():
    rows = {row[0]: row for row in tables.public_table(tables.default_policies()).rows}
    assert rows["Weapons"][1:] == ("No", "Not shown", "Not shown", "Not shown", "Not shown")
    assert rows["Drug dealing"][1:4] == (
        "Yes",
        "Nearest police.uk street point (else the ward)",
        "Day",
    )
    assert rows["Fly-tipping"][2] == "Exact point"


def test_every_rule_of_the_policy_has_a_column_and_every_audience_a_row():
    group = tables.audience_tables(tables.default_policies())[0]
    assert len(group.table.header) == 1 + len(fields(Rules))
    assert [row[0] for row in group.table.rows] == [audience.label for audience in Audience]


def test_only_the_handling_partner_sees_a_reporters_contact_in_every_policy():
    for group in tables.audience_tables(tables.default_policies()):
        column = group.table.header.index("Reporter's contact")
        allowed = {row[0] for row in group.table.rows if row[column] == "Yes"}
        assert allowed == {Audience.OWNER_STAFF.label, Audience.PARTNER_ADMIN.label}


def test_categories_sharing_a_policy_share_one_audience_table():
    groups = tables.audience_tables(tables.default_policies())
    by_name = {name: group for group in groups for name in group.names}
    assert by_name["Weapons"] is by_name["Harassment of women and girls"]
    assert by_name["Drug dealing"] is not by_name["Weapons"]
    assert len(groups) == 3
