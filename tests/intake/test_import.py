"""`safer-streets reports import FILE.csv`: good rows, bad rows, the summary, idempotency."""

from __future__ import annotations

import csv

import pytest
from sqlalchemy import func, select

from safer_streets.cli import main
from safer_streets.intake.importing import COLUMNS
from safer_streets.models import Report, ReportEvent, ReportStatus

HEADER = ",".join(COLUMNS)
GOOD = {
    "P-1": "P-1,drug-dealing,Dealing by the station,51.4452,-0.0207,,2026-03-01T23:10:00,,,",
    "P-2": "P-2,feeling-unsafe,Dark underpass,,,se6 4ju,,badly-lit;isolated,false,a@example.org",
    "P-3": "P-3,fly-tipping,Mattress,,,behind the big tree,,,,",
    "": ",street-lighting,Lamp out,51.4452,-0.0207,,,,,",
}
BAD = [
    ("P-4,drug-dealing,Dealing,north,-0.02,,,,,", "lat: must be a number"),
    ("P-5,not-a-category,x,51.4452,-0.0207,,,,,", "category: unknown category 'not-a-category'"),
    (
        "P-6,street-lighting,Out,,,SE15 1AA,,,,",
        "location_text: SE15 1AA is outside Lewisham, in Southwark",
    ),
    ("P-7,harassment,,51.4452,-0.0207,,,,,", "description: is required"),
    ("P-8,anti-social-behaviour,Noise,51.5072,-0.1276,,,,,", "location: this point is outside"),
    ("P-9,feeling-unsafe,Dark,51.4452,-0.0207,,,followed;glowing,,", "reasons: not a reason"),
    ("P-10,weapons,Knife,51.4452,-0.0207,,tomorrow,,,", "occurred_at: must be a date and time"),
    ("P-11,weapons,Knife,51.4452,-0.0207,,,,maybe,", "anonymous: must be true or false"),
    ("P-12,weapons,Knife,51.4452,-0.0207,,,,,,surplus", "row: has more cells than the header"),
]


@pytest.fixture
def run(app, tmp_path):
    runner = app.test_cli_runner()

    def run(lines, *args):
        path = tmp_path / "reports.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return runner.invoke(main, ["reports", "import", str(path), *args])

    return run


def counts(db_session):
    reports = db_session.scalar(select(func.count()).select_from(Report))
    events = db_session.scalar(select(func.count()).select_from(ReportEvent))
    return reports, events


def test_good_rows_are_imported_placed_and_routed_and_bad_rows_write_nothing(
    run, db_session, tmp_path
):
    before = counts(db_session)
    lines = [HEADER, *GOOD.values(), *(row for row, _ in BAD)]
    result = run(lines, "--source", "phone", "--refused", str(tmp_path / "refused.csv"))
    assert result.exit_code == 1, result.output
    assert (
        "Accepted 4 rows (3 routed, 1 to locate); skipped 0 already imported; refused 9."
        in result.output
    )
    for number, (_, message) in enumerate(BAD, start=2 + len(GOOD)):
        assert f"row {number}: {message}" in result.output

    imported = {
        r.idempotency_key: r
        for r in db_session.scalars(select(Report).where(Report.source == "phone"))
    }
    assert len(imported) == 4
    assert counts(db_session)[0] == before[0] + 4
    dealing = imported["import:phone:P-1"]
    assert dealing.status is ReportStatus.ROUTED
    assert dealing.owner.slug == "met-snt-rushey-green"
    # 23:10 with no zone is London time; in March that is GMT.
    assert dealing.occurred_at.isoformat() == "2026-03-01T23:10:00+00:00"
    underpass = imported["import:phone:P-2"]
    assert underpass.postcode == "SE6 4JU"
    assert underpass.reasons == ["badly-lit", "isolated"]
    assert underpass.anonymous is False
    assert "lewisham-highways" in [p.slug for p in underpass.notified]
    assert imported["import:phone:P-3"].status is ReportStatus.NEEDS_LOCATION
    assert imported[None].owner.slug == "lewisham-highways"

    with (tmp_path / "refused.csv").open(newline="") as fh:
        refused = list(csv.DictReader(fh))
    assert [r["source_id"] for r in refused] == [f"P-{n}" for n in range(4, 13)]
    assert refused[0]["errors"] == "lat: must be a number"
    assert refused[0]["row"] == "6"


def test_importing_the_same_file_again_skips_rows_with_a_source_id(run, db_session):
    lines = [HEADER, *GOOD.values()]
    assert run(lines).exit_code == 0
    after_first = counts(db_session)
    again = run(lines)
    assert again.exit_code == 0, again.output
    assert "Accepted 1 row (1 routed, 0 to locate); skipped 3 already imported" in again.output
    # The row without a source_id cannot be recognised, so it is imported again.
    assert counts(db_session)[0] == after_first[0] + 1


def test_a_source_id_reused_with_different_details_is_refused(run, db_session):
    assert run([HEADER, GOOD["P-1"]]).exit_code == 0
    changed = GOOD["P-1"].replace("Dealing by the station", "Something else")
    result = run([HEADER, changed])
    assert result.exit_code == 1
    assert "row 2: source_id: 'P-1' was imported before with different details" in result.output


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("category,description,lat,lon,colour", "unknown column 'colour'; the columns are:"),
        ("category,lat,lon", "missing column: description"),
        ("category,description", "missing column: lat/lon or location_text"),
    ],
)
def test_a_file_with_a_wrong_header_is_refused_whole(run, db_session, header, message):
    before = counts(db_session)
    result = run([header, "drug-dealing,x,51.4452,-0.0207,blue"])
    assert result.exit_code == 1
    assert message in result.output
    assert counts(db_session) == before


def test_imported_reports_are_marked_as_imported_unless_a_channel_is_named(run, db_session):
    result = run([HEADER, next(iter(GOOD.values()))])
    assert result.exit_code == 0, result.output
    newest = select(Report.source).order_by(Report.id.desc()).limit(1)
    assert db_session.scalars(newest).one() == "import"


def test_the_source_name_is_checked(run):
    result = run([HEADER], "--source", "Phone Line!")
    assert result.exit_code == 2
    assert "--source" in result.output


def test_an_empty_file_says_so(app, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    result = app.test_cli_runner().invoke(main, ["reports", "import", str(path)])
    assert result.exit_code == 1
    assert "the file is empty" in result.output


def test_the_reroute_command_reports_what_it_would_change(app):
    runner = app.test_cli_runner()
    result = runner.invoke(main, ["routing", "reroute", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "routed reports checked" in result.output
    assert "would change" in result.output
