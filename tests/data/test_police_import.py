"""Importing data.police.uk street-level files on real PostGIS: idempotent and accountable."""

from __future__ import annotations

import io

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import func, select

from geo.wards import Borough, WardIndex
from safer_streets.cli import POLICE_SAMPLE, main
from safer_streets.data import police
from safer_streets.models import PoliceCrime, Ward

HEADER = ",".join(police.COLUMNS)
MET = "Metropolitan Police Service,Metropolitan Police Service"


@pytest.fixture(scope="module")
def places() -> police.CrimePlaces:
    return police.CrimePlaces(Borough.from_geojson().geometry, WardIndex.from_geojson())


def import_text(session, places, text: str) -> police.ImportSummary:
    return police.import_street_csv(session, io.StringIO(text), name="test.csv", places=places)


def test_the_shipped_burglary_file_imports_once_and_reimports_as_no_change(db_session, places):
    with POLICE_SAMPLE.open(newline="") as f:
        first = police.import_street_csv(db_session, f, name=POLICE_SAMPLE.name, places=places)
    assert first.rows == 5562
    assert first.new == 5496  # one row per Crime ID
    assert len(first.repeated_ids) == 66  # the same Crime ID again: kept once, reported
    assert first.on_boundary == 36  # police map points up to 2.4 m outside the boundary
    assert first.outside == first.no_coordinates == first.invalid == []
    stored = db_session.scalar(select(func.count()).select_from(PoliceCrime))
    assert stored == 5496
    assert db_session.scalar(select(func.count()).where(PoliceCrime.ward_id.is_(None))) == 0

    with POLICE_SAMPLE.open(newline="") as f:
        again = police.import_street_csv(db_session, f, name=POLICE_SAMPLE.name, places=places)
    assert again.new == 0
    assert again.already_present == 5496
    assert db_session.scalar(select(func.count()).select_from(PoliceCrime)) == 5496


def test_bad_rows_are_counted_with_their_line_numbers_and_good_ones_kept(db_session, places):
    text = "\n".join(
        [
            HEADER,
            f"id-good,2024-05,{MET},-0.020700,51.445200,On or near Catford Broadway,"
            "E01003291,Lewisham 035B,Burglary,Under investigation,",
            f",2024-05,{MET},,,No Location,,,Anti-social behaviour,,",
            f"id-manchester,2024-05,{MET},-2.244644,53.483959,On or near Market Street,"
            "E01005131,Manchester 054C,Burglary,,",
            f"id-bad-month,2024-17,{MET},-0.02,51.44,On or near Bromley Road,"
            "E01003291,Lewisham 035B,Burglary,,",
            f",2024-06,{MET},-0.013700,51.461300,On or near Lewisham High Street,"
            "E01003189,Lewisham 015A,Anti-social behaviour,,",
            f",2024-06,{MET},-0.013700,51.461300,On or near Lewisham High Street,"
            "E01003189,Lewisham 015A,Anti-social behaviour,,",
        ]
    )
    summary = import_text(db_session, places, text)
    assert summary.rows == 6
    assert summary.new == 3  # the burglary and both (identical) ASB incidents
    assert summary.no_coordinates == [3]
    assert summary.outside == [4]
    assert summary.invalid == [(5, "Month: must be a month like 2024-09, not '2024-17'")]
    lines = "\n".join(summary.report_lines())
    assert "1 without coordinates, not imported (lines 3)" in lines
    assert "1 outside Lewisham, not imported (lines 4)" in lines
    assert "line 5: Month" in lines

    crimes = db_session.execute(
        select(PoliceCrime.crime_type, Ward.name)
        .join(Ward, Ward.id == PoliceCrime.ward_id)
        .order_by(PoliceCrime.crime_type)
    ).all()
    assert crimes == [
        ("Anti-social behaviour", "Lewisham Central"),
        ("Anti-social behaviour", "Lewisham Central"),
        ("Burglary", "Rushey Green"),
    ]
    # Rows without a Crime ID are keyed by content and position: the same file adds nothing.
    assert import_text(db_session, places, text).new == 0


def test_a_later_outcome_updates_the_stored_crime(db_session, places):
    row = (
        f"id-outcome,2024-05,{MET},-0.0207,51.4452,On or near Catford Broadway,"
        "E01003291,Lewisham 035B,Burglary,{},"
    )
    import_text(db_session, places, HEADER + "\n" + row.format("Under investigation"))
    summary = import_text(db_session, places, HEADER + "\n" + row.format("Offender charged"))
    assert (summary.new, summary.already_present) == (0, 1)
    outcome = db_session.scalar(
        select(PoliceCrime.last_outcome).where(PoliceCrime.crime_key == "id-outcome")
    )
    assert outcome == "Offender charged"


def test_the_command_prints_a_summary_and_refuses_other_files(live_app, tmp_path):
    good = tmp_path / "2024-05-metropolitan-street.csv"
    good.write_text(
        HEADER + f"\nid-cli,2024-05,{MET},-0.0207,51.4452,On or near Catford Broadway,"
        "E01003291,Lewisham 035B,Robbery,,\n"
    )
    wrong = tmp_path / "outcomes.csv"
    wrong.write_text("Crime ID,Month,Outcome type\nx,2024-05,Charged\n")
    runner = CliRunner()
    info = ScriptInfo(create_app=lambda: live_app)
    result = runner.invoke(main, ["police", "import", str(good)], obj=info)
    assert result.exit_code == 0, result.output
    assert "2024-05-metropolitan-street.csv: 1 rows read" in result.output
    assert "1 crimes imported: 1 new" in result.output
    result = runner.invoke(main, ["police", "import", str(wrong), str(good)], obj=info)
    assert result.exit_code == 1
    assert "outcomes.csv: not a data.police.uk street-level file" in result.output
    assert "1 already present" in result.output
