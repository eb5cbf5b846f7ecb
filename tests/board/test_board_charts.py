"""The board's pages draw their charts from what the runs and counts hold."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from geo import projection
from geo.suntimes import LONDON
from safer_streets.accounts import users
from safer_streets.board import runs
from safer_streets.board.filters import default_filters
from safer_streets.models import Report, Role
from tests.board_data import CATFORD, add_reports, around, scattered
from tests.helpers import PASSWORD, PASSWORDS, login

NOW = datetime.now(UTC)
TODAY = NOW.astimezone(LONDON).date()


def test_the_trends_tab_charts_streetsafe_reasons_after_dark_and_in_daylight(app, db_session):
    dark = NOW.astimezone(LONDON).replace(hour=23, minute=0) - timedelta(days=3)
    ids = add_reports(db_session, "feeling-unsafe", around(CATFORD, 4), when=dark)
    ids += add_reports(db_session, "feeling-unsafe", scattered(3, seed=7), when=dark)
    db_session.execute(
        update(Report).where(Report.id.in_(ids[:4])).values(reasons=["badly-lit", "isolated"])
    )
    db_session.execute(update(Report).where(Report.id.in_(ids[4:])).values(reasons=["badly-lit"]))
    filters = replace(default_filters(TODAY), category="feeling-unsafe")
    run = runs.create_run(
        db_session, runs.RunParameters.from_filters(filters, permutations=0, seed=1)
    )
    assert runs.compute_run(db_session, run.id, study_area=projection.read_boundary())
    users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="charts@board.test",
        password=PASSWORD,
        role=Role.BOARD,
        partner_slug=None,
    )
    client = app.test_client()
    login(client, "charts@board.test")

    page = client.get("/board/trends?category=feeling-unsafe").text
    figure = page[
        page.index('id="reasons-chart"') : page.index("</figure>", page.index('id="reasons-chart"'))
    ]
    assert 'role="img" aria-label="People by reason, after dark and in daylight"' in figure
    rows = re.findall(
        r'<tr><th scope="row">([^<]+)</th><td class="n">(\d+)</td><td class="n">(\d+)</td>', figure
    )
    assert len(rows) == 2
    assert rows[0][1:] == ("7", "0")  # the most given reason first: 7 after dark, none by day
    centres = page[
        page.index('id="reasons-centres"') : page.index(
            "</table>", page.index('id="reasons-centres"')
        )
    ]
    assert "Catford town centre" in centres and "Lewisham town centre" in centres
    assert re.search(r'Isolated or deserted</th><td class="n">4</td><td class="n">0</td>', centres)
    # One chart per category with reports, this period against the previous one.
    assert 'aria-label="Feeling unsafe in a place: reports a month, this period' in page
    assert page.count('class="chart chart-small"') == 1
