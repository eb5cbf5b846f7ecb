"""Who sees what on the board (the *audience*):

- ``board`` (board and admin accounts): every count, and report points and row-level exports
  as the disclosure policy allows: sensitive reports one by one only for administrators and
  board members allowed case detail (``casework.access.visibility``), each view logged.
- ``partner`` (partner staff): the aggregate board. Sensitive categories (harassment,
  weapons) appear only in aggregate: a count of a sensitive category below the minimum is
  withheld and left out of every total it would be part of, and map cells of runs that
  include sensitive reports are drawn only when they hold at least the minimum count.
- ``public``: the published "you said, we did" summaries, with the same rule.
"""

from __future__ import annotations

import enum

from safer_streets.errors import NotAllowed
from safer_streets.models import (
    Role,
    User,
)

# --------------------------------------------------------------------------- audience


class Audience(enum.StrEnum):
    """Who is looking, which decides what is withheld."""

    BOARD = "board"
    PARTNER = "partner"
    PUBLIC = "public"


def audience_for(user: User | None) -> Audience:
    """Board and admin accounts see everything; partner staff the aggregate board."""
    if user is None:
        return Audience.PUBLIC
    if user.role in (Role.BOARD, Role.ADMIN):
        return Audience.BOARD
    return Audience.PARTNER


def require_board(user: User | None) -> User:
    """The user, when they hold a board or admin role; ``NotAllowed`` otherwise."""
    if user is None or audience_for(user) is not Audience.BOARD:
        raise NotAllowed("Only the safety board and administrators may do this.")
    return user
