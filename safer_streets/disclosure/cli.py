"""``safer-streets disclosure table``: the README's "What is public" table, from the defaults."""

from __future__ import annotations

import click

from safer_streets.disclosure import tables

# A plain click group: the table comes from the shipped defaults, so it needs no app, no
# settings and no database.
disclosure_group = click.Group("disclosure", help="What each audience may see of a report.")


@disclosure_group.command("table")
def table_command() -> None:
    """Print, as Markdown, what the public sees of each category (the seeded defaults).

    The README's "What is public" section holds exactly this output.
    """
    click.echo(tables.public_table(tables.default_policies()).markdown())
