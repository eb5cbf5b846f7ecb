"""URL converters with the bounds of what they name."""

from __future__ import annotations

from werkzeug.routing import IntegerConverter, Map

from safer_streets.bounds import MAX_ID


class RowIdConverter(IntegerConverter):
    """``<int:…>`` in every route: a row id, so at most PostgreSQL's integer. A larger number
    is a 404 like any unknown id, where the query would otherwise fail with a 500."""

    def __init__(
        self,
        map: Map,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = MAX_ID,
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits, min, max, signed)
