"""The queue's counts: kept by the database through every change to a report, the same
reports its list shows and no other, and "more than 2,000" with Previous and Next paging
where a search or filter matches too many to count."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.dialects import postgresql

from safer_streets.accounts import users
from safer_streets.casework import counts, queues, workflow
from safer_streets.casework.access import visibility
from safer_streets.models import (
    Category,
    Report,
    ReportNotifiedPartner,
    ReportStatus,
    Role,
    Ward,
)
from tests.helpers import PASSWORD, PASSWORDS, login

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
SNT = "met-snt-rushey-green"  # owns drug dealing at Catford Broadway
COUNCIL = "lewisham-community-safety"  # notified of drug dealing; owns feeling unsafe
ASB = "lewisham-asb"
LEWISHAM_CENTRAL = {"lat": 51.4620, "lon": -0.0130}  # another ward's team
HARASSMENT = {"category": "harassment", "description": "Followed home from the station"}


def _user(session, email, partner, role=Role.STAFF, *, case_detail=False, active=True):
    user = users.create_user(
        session,
        passwords=PASSWORDS,
        email=email,
        password=PASSWORD,
        role=role,
        partner_slug=partner,
    )
    user.sees_case_detail = case_detail
    user.active = active
    session.flush()
    return user


@pytest.fixture
def viewers(db_session):
    return {
        "snt": _user(db_session, "sgt@rg.example", SNT),
        "council": _user(db_session, "officer@council.example", COUNCIL),
        "asb": _user(db_session, "asb@lewisham.example", ASB, Role.PARTNER_ADMIN),
        "board": _user(db_session, "board@example.org", None, Role.BOARD),
        "board with case detail": _user(
            db_session, "detail@example.org", None, Role.BOARD, case_detail=True
        ),
        "admin": _user(db_session, "admin@example.org", None, Role.ADMIN),
        "left": _user(db_session, "left@rg.example", SNT, active=False),
    }


def _counted(session, user, category_id=None, ward_id=None) -> dict[str, int]:
    """What the queue's tabs say, from the stored counts."""
    return counts.stored(session, user, category_id=category_id, ward_id=ward_id).by_status


def _visible(session, user, *conditions) -> dict[str, int]:
    """Reports per status the user may open, counted one by one through ``visibility``."""
    query = (
        select(Report.status, func.count())
        .where(visibility(user), *conditions)
        .group_by(Report.status)
    )
    return {str(status): n for status, n in session.execute(query)}


def _assert_counts_are_what_each_may_see(session, viewers) -> None:
    session.flush()
    drugs = session.scalar(select(Category.id).where(Category.slug == "drug-dealing"))
    rushey = session.scalar(select(Ward.id).where(Ward.slug == "rushey-green", Ward.active))
    for name, user in viewers.items():
        assert _counted(session, user) == _visible(session, user), name
        assert _counted(session, user, category_id=drugs) == _visible(
            session, user, Report.category_id == drugs
        ), name
        assert _counted(session, user, ward_id=rushey) == _visible(
            session, user, Report.ward_id == rushey
        ), name
        # What a filtered queue counts, through each report's array of notified partners.
        listed = counts.bounded(session, queues._visible_statuses(user, []))
        assert listed.by_status == _visible(session, user), name
    assert _notified_arrays_disagree(session) == [], "the array is the table's partners"


def _notified_arrays_disagree(session) -> list[int]:
    return list(
        session.scalars(
            text(
                """SELECT r.id FROM report r WHERE r.notified_partner_ids <> ARRAY(
                       SELECT partner_id FROM report_notified_partner p
                       WHERE p.report_id = r.id ORDER BY partner_id)"""
            )
        )
    )


def test_counts_follow_each_report_through_routing_work_and_closing(
    db_session, routed_report, viewers
):
    _assert_counts_are_what_each_may_see(db_session, viewers)
    dealing = routed_report(db_session)
    unsafe = routed_report(db_session, category="feeling-unsafe", description="Dark path")
    harassment = routed_report(db_session, **HARASSMENT)
    later = routed_report(db_session, description="Dealing again by the bus stop")
    _assert_counts_are_what_each_may_see(db_session, viewers)
    assert _counted(db_session, viewers["snt"])["routed"] >= 2
    assert _counted(db_session, viewers["left"]) == {}

    snt = viewers["snt"]
    workflow.acknowledge(db_session, snt, dealing, now=NOW)
    workflow.change_status(db_session, snt, dealing, "in_progress", now=NOW)
    _assert_counts_are_what_each_may_see(db_session, viewers)

    # Moved to ASB, SNT kept informed; then on to the council, which was only notified.
    workflow.reroute(db_session, snt, later, ASB, "Groups gathering", keep_informed=True, now=NOW)
    _assert_counts_are_what_each_may_see(db_session, viewers)
    workflow.reroute(db_session, viewers["asb"], later, COUNCIL, "Council's", now=NOW)
    _assert_counts_are_what_each_may_see(db_session, viewers)

    workflow.mark_duplicate(db_session, snt, routed_report(db_session), dealing.reference, now=NOW)
    workflow.change_status(db_session, snt, dealing, "resolved", now=NOW)
    workflow.change_status(
        db_session, viewers["council"], unsafe, "not_actionable", note="Private land", now=NOW
    )
    _assert_counts_are_what_each_may_see(db_session, viewers)

    # Set-based changes, as bulk re-routing after a rule change makes them.
    db_session.execute(
        text("UPDATE report SET ward_id = NULL, status = 'routed' WHERE id = :id"),
        {"id": harassment.id},
    )
    db_session.execute(
        text("DELETE FROM report_notified_partner WHERE report_id = :id"), {"id": dealing.id}
    )
    db_session.expire_all()
    _assert_counts_are_what_each_may_see(db_session, viewers)
    moved = db_session.execute(
        text(
            """UPDATE report_notified_partner SET partner_id = (
                   SELECT max(id) FROM partner WHERE id NOT IN (
                       SELECT partner_id FROM report_notified_partner WHERE report_id = :id))
               WHERE report_id = :id AND partner_id = (
                   SELECT min(partner_id) FROM report_notified_partner WHERE report_id = :id)"""
        ),
        {"id": unsafe.id},
    )
    assert moved.rowcount == 1
    _assert_counts_are_what_each_may_see(db_session, viewers)

    before = db_session.scalar(text("SELECT count(*) FROM queue_count"))
    left = counts.compact(db_session)
    assert left < before, "the rows of changes are summed"
    _assert_counts_are_what_each_may_see(db_session, viewers)
    assert counts.compact(db_session) == left, "compacting twice changes nothing"
    _assert_counts_are_what_each_may_see(db_session, viewers)

    db_session.execute(text("TRUNCATE report_notified_partner"))
    assert _notified_arrays_disagree(db_session) == []


def test_a_partner_never_counts_a_report_it_cannot_see(client, db_session, routed_report, viewers):
    snt, council = viewers["snt"], viewers["council"]
    theirs = routed_report(
        db_session, category="feeling-unsafe", description="Dark path", **LEWISHAM_CENTRAL
    )
    mine = routed_report(db_session)
    assert theirs.owner.slug == COUNCIL and snt.partner not in theirs.notified
    assert _counted(db_session, snt) == {"routed": 1}, "only its own report"

    # Moved away without staying informed: gone from SNT's list and from its counts.
    workflow.reroute(db_session, snt, mine, ASB, "Not ours", now=NOW)
    db_session.flush()
    assert _counted(db_session, snt) == {}
    assert db_session.get(ReportNotifiedPartner, (mine.id, council.partner_id)) is not None
    assert _counted(db_session, council) == {"routed": 2}, "its own and the one it hears of"
    assert _counted(db_session, council) == _visible(db_session, council)
    login(client, snt.email)
    page = client.get("/triage").text
    assert "Open (0)" in page and "No reports match" in page
    assert theirs.reference not in page and mine.reference not in page

    # The board never counts sensitive reports; with case detail, it does.
    routed_report(db_session, **HARASSMENT)
    db_session.flush()
    assert _counted(db_session, viewers["board"]) == {"routed": 2}
    assert _counted(db_session, viewers["board with case detail"]) == {"routed": 3}


def _references(html: str) -> list[str]:
    return re.findall(r">(LEW-[2-9A-Z]{5})</a>", html)


def test_past_the_count_limit_it_says_more_than_and_pages_with_previous_and_next(
    client, db_session, routed_report, monkeypatch
):
    monkeypatch.setattr(counts, "COUNT_LIMIT", 5)
    monkeypatch.setattr(queues, "PAGE_SIZE", 2)
    monkeypatch.setattr(queues, "PAGE_LIMIT", 3)
    made = [routed_report(db_session, description=f"Dealing at the shops {i}") for i in range(8)]
    sergeant = _user(db_session, "sgt@rg.example", SNT)
    login(client, sergeant.email)

    counted = client.get("/triage").text
    assert "8</span> reports match" in counted and "Open (8)" in counted, "stored: exact"
    assert "Page 1 of 4" in counted

    first = client.get("/triage?q=shops").text
    assert "More than 5</span> reports match" in first
    assert "Open (" not in first and ">Open</a>" in first, "no figures from a sample"
    assert 'data-matching="more than 5"' in first and 'data-capped="yes"' in first
    markers = client.get("/triage/map.json?q=shops").json["points"]
    assert [p["reference"] for p in markers] == [r.reference for r in reversed(made)]
    # The page tells its markers' request that it counted more than it counts exactly; the
    # request then walks the queue's order at once, and the markers are the same.
    assert "/triage/map.json?many=yes&amp;q=shops" in first
    walked = client.get("/triage/map.json?many=yes&q=shops").json["points"]
    assert walked == markers
    assert "many=yes" not in client.get("/triage?q=shops+3").text
    assert "Page 1<" in first and "Page 1 of" not in first
    assert 'rel="next"' in first and 'rel="prev"' not in first

    last = client.get("/triage?q=shops&page=9").text
    assert "Page 3<" in last, "no further than the pages surely there"
    assert 'rel="prev"' in last and 'rel="next"' not in last
    assert "narrow the search or the filters" in last

    newest_first = [r.reference for r in reversed(made)]
    pages = [_references(client.get(f"/triage?q=shops&page={n}").text) for n in (1, 2, 3)]
    assert [ref for page in pages for ref in page] == newest_first[:6]

    few = client.get("/triage?q=shops+3").text
    assert "1</span> report match" in few and "Open (1)" in few, "counted exactly below the limit"


def test_under_a_search_only_the_selected_tabs_have_figures(client, db_session, routed_report):
    sergeant = _user(db_session, "sgt@rg.example", SNT)
    made = [routed_report(db_session, description=f"Dealing at the shops {i}") for i in range(3)]
    for report in made[:2]:
        workflow.acknowledge(db_session, sergeant, report, now=NOW)
    workflow.change_status(
        db_session, sergeant, made[0], ReportStatus.RESOLVED, note="Moved on", public=True, now=NOW
    )
    db_session.flush()
    login(client, sergeant.email)

    opened = client.get("/triage?q=shops").text
    assert "2</span> reports match" in opened
    assert ">Open (2)</a>" in opened and ">Routed (1)</a>" in opened
    assert ">Acknowledged (1)</a>" in opened
    assert ">All</a>" in opened and ">Resolved</a>" in opened, "not counted: no figure"

    everything = client.get("/triage?q=shops&status=any").text
    assert ">All (3)</a>" in everything and ">Resolved (1)</a>" in everything
    assert ">Open (2)</a>" in everything


def test_search_by_part_of_a_street_uses_its_trigram_index(db_session, routed_report):
    report = routed_report(db_session)
    report.street = "Rushey Green"
    routed_report(db_session, category="feeling-unsafe")
    db_session.flush()
    admin = _user(db_session, "admin@example.org", None, Role.ADMIN)

    found = queues.queue(db_session, admin, queues.parse_filters({"q": "shey gre"}), now=NOW)
    assert [shown.report.reference for shown in found.rows] == [report.reference]

    # Few reports here: without this PostgreSQL would read them all rather than any index.
    db_session.execute(text("SET LOCAL enable_seqscan = off"))
    query = select(Report.id).where(queues.search_condition("shey gre"))
    sql = query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    plan = "\n".join(db_session.scalars(text(f"EXPLAIN {sql}")))
    assert "ix_report_street_trgm" in plan and "ix_report_search_vector" in plan


def test_beat_compacts_the_counts_every_five_minutes_on_the_slow_queue(settings):
    from workers.queue import COMPACT_QUEUE_COUNTS, Queues, make_celery

    celery = make_celery(settings)
    assert celery.conf.beat_schedule["compact-queue-counts"] == {
        "task": COMPACT_QUEUE_COUNTS,
        "schedule": 300.0,
    }
    assert celery.conf.task_routes[COMPACT_QUEUE_COUNTS]["queue"] == (
        Queues.for_settings(settings).slow
    )


def test_counts_follow_bulk_changes_of_many_reports_at_once(db_session, viewers):
    # Past a few dozen rows the count triggers plan each statement afresh (migration 0022).
    db_session.execute(
        text(
            """INSERT INTO report (reference, category_id, description, location, status,
                                   source, anonymous, supporter_count, priority, version_id,
                                   owner_partner_id, ward_id)
               SELECT 'LEW-B' || lpad(i::text, 4, '0'), c.id, 'bulk',
                      ST_SetSRID(ST_MakePoint(-0.02, 51.44), 4326), 'routed', 'web', true, 0,
                      'normal', 1, p.id, w.id
               FROM generate_series(1, 120) AS i,
                    (SELECT id FROM category WHERE slug = 'drug-dealing') AS c,
                    (SELECT id FROM partner WHERE slug = :snt) AS p,
                    (SELECT id FROM ward WHERE slug = 'rushey-green' AND active) AS w"""
        ),
        {"snt": SNT},
    )
    bulk = "SELECT id FROM report WHERE reference LIKE 'LEW-B%'"
    db_session.execute(
        text(
            f"""INSERT INTO report_notified_partner (report_id, partner_id)
                SELECT r.id, p.id FROM ({bulk}) AS r, partner AS p
                WHERE p.slug IN (:council, :asb)"""
        ),
        {"council": COUNCIL, "asb": ASB},
    )
    _assert_counts_are_what_each_may_see(db_session, viewers)
    db_session.execute(text(f"UPDATE report SET status = 'acknowledged' WHERE id IN ({bulk})"))
    _assert_counts_are_what_each_may_see(db_session, viewers)
    db_session.execute(
        text(
            f"""DELETE FROM report_notified_partner WHERE report_id IN ({bulk})
                AND partner_id = (SELECT id FROM partner WHERE slug = :asb)"""
        ),
        {"asb": ASB},
    )
    _assert_counts_are_what_each_may_see(db_session, viewers)
