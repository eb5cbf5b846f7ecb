"""Rules naming "the ward's Safer Neighbourhood Team": resolved per report's ward, no services."""

from datetime import time

import pytest

from safer_streets.models import RuleRole
from safer_streets.routing.decide import (
    AreaRef,
    PartnerRef,
    Place,
    RoutingTable,
    Rule,
    TimeWindow,
    decide,
    fallback_partner,
    resolve,
)

OWNER, NOTIFIED = RuleRole.OWNER, RuleRole.NOTIFIED
TRIAGE = PartnerRef(1, "community-safety", "Community Safety")
ASB = PartnerRef(2, "asb", "ASB Team")
TOWN = PartnerRef(3, "town-team", "Town team")
CATFORD_SNT = PartnerRef(11, "met-snt-catford-south", "Catford South SNT")
BELLINGHAM_SNT = PartnerRef(12, "met-snt-bellingham", "Bellingham SNT")
TEAMS = {"W-CS": CATFORD_SNT, "W-BE": BELLINGHAM_SNT}  # "W-GP" has no team
CATFORD_SOUTH = Place("W-CS", "Catford South")
BELLINGHAM = Place("W-BE", "Bellingham")
GROVE_PARK = Place("W-GP", "Grove Park")
NOWHERE = Place(None, None)
AREA = AreaRef("tc", "The town centre")

FALLBACK = Rule(1, None, None, TRIAGE, OWNER)
DRUGS_TO_TEAM = Rule(2, "drug-dealing", None, None, OWNER, ward_team=True)
DRUGS_NOTIFY_TRIAGE = Rule(3, "drug-dealing", None, TRIAGE, NOTIFIED)
ASB_OWNER = Rule(4, "asb", None, ASB, OWNER)
ASB_TO_TEAM = Rule(5, "asb", None, None, NOTIFIED, ward_team=True)


def _decide(rules, place, category="drug-dealing", name="Drug dealing", **kwargs):
    return decide(rules, category=category, category_name=name, place=place, teams=TEAMS, **kwargs)


def test_one_rule_sends_each_ward_to_its_own_team():
    rules = [FALLBACK, DRUGS_TO_TEAM, DRUGS_NOTIFY_TRIAGE]
    catford = _decide(rules, CATFORD_SOUTH)
    bellingham = _decide(rules, BELLINGHAM)
    assert catford.owner == CATFORD_SNT
    assert bellingham.owner == BELLINGHAM_SNT
    assert catford.rule_ids == bellingham.rule_ids == (2, 3)
    assert catford.reason == (
        "Drug dealing in Catford South goes to Catford South SNT, the ward's Safer "
        "Neighbourhood Team (ward rule). Community Safety is notified (borough-wide rule)."
    )
    [owner_rule, _] = catford.matched
    assert owner_rule.as_json() == {
        "id": 2,
        "partner": "met-snt-catford-south",
        "role": "owner",
        "scope": "ward rule",
        "conditions": [],
        "ward_team": True,
    }
    # Other rules' stored explanations keep their shape, so re-routing sees no change.
    assert "ward_team" not in catford.matched[1].as_json()


def test_a_ward_without_a_team_falls_through_to_the_fallback_and_says_why():
    decision = _decide([FALLBACK, DRUGS_TO_TEAM, DRUGS_NOTIFY_TRIAGE], GROVE_PARK)
    assert decision.owner == TRIAGE
    assert decision.rule_ids == (1,)
    assert decision.reason == (
        "Drug dealing in Grove Park would go to the ward's Safer Neighbourhood Team (rule 2), "
        "but Grove Park has no Safer Neighbourhood Team, so it goes to Community Safety for "
        "manual triage."
    )


def test_a_ward_without_a_team_falls_through_to_the_next_rule():
    borough_owner = Rule(6, "drug-dealing", None, ASB, OWNER)
    decision = _decide([FALLBACK, DRUGS_TO_TEAM, borough_owner], GROVE_PARK)
    assert decision.owner == ASB
    assert decision.reason == (
        "Drug dealing in Grove Park would go to the ward's Safer Neighbourhood Team (rule 2), "
        "but Grove Park has no Safer Neighbourhood Team, so it goes to ASB Team "
        "(borough-wide rule)."
    )


def test_a_report_in_no_ward_has_no_ward_team():
    decision = _decide([FALLBACK, DRUGS_TO_TEAM], NOWHERE)
    assert decision.owner == TRIAGE
    assert "outside any Lewisham ward would go to the ward's Safer Neighbourhood Team" in (
        decision.reason
    )
    assert decision.reason == (
        "Drug dealing outside any Lewisham ward would go to the ward's Safer Neighbourhood "
        "Team (rule 2), but it is in no Lewisham ward, so it goes to Community Safety for "
        "manual triage."
    )


def test_a_notified_ward_team_is_the_wards_own_or_said_to_be_missing():
    rules = [FALLBACK, ASB_OWNER, ASB_TO_TEAM]
    decision = _decide(rules, BELLINGHAM, category="asb", name="Anti-social behaviour")
    assert decision.owner == ASB
    assert decision.notified == (BELLINGHAM_SNT,)
    assert (
        "Bellingham SNT, the ward's Safer Neighbourhood Team, is notified (ward rule)."
        in decision.reason
    )
    teamless = _decide(rules, GROVE_PARK, category="asb", name="Anti-social behaviour")
    assert teamless.owner == ASB
    assert teamless.notified == ()
    assert teamless.reason == (
        "Anti-social behaviour in Grove Park goes to ASB Team (borough-wide rule). "
        "The ward's Safer Neighbourhood Team would be notified (rule 5), but Grove Park has "
        "no Safer Neighbourhood Team."
    )


def test_a_less_specific_teamless_rule_is_not_mentioned():
    area_owner = Rule(7, "drug-dealing", None, TOWN, OWNER, area=AREA)
    decision = _decide([FALLBACK, DRUGS_TO_TEAM, area_owner], Place("W-GP", "Grove Park", (AREA,)))
    assert decision.owner == TOWN
    assert decision.reason == (
        "Drug dealing in Grove Park goes to Town team (area rule: in The town centre)."
    )


PER_WARD_ROWS = [
    Rule(20 + n, "drug-dealing", code, team, OWNER) for n, (code, team) in enumerate(TEAMS.items())
]


@pytest.mark.parametrize(
    "competitor",
    [
        Rule(8, "drug-dealing", None, ASB, OWNER),  # borough-wide: the ward's team beats it
        Rule(8, "drug-dealing", "W-CS", ASB, OWNER),  # another ward rule: as the row did
        Rule(8, "drug-dealing", None, TOWN, OWNER, area=AREA),  # an area rule beats both
        Rule(8, "drug-dealing", None, ASB, OWNER, window=TimeWindow(time(22), time(6))),
    ],
)
@pytest.mark.parametrize("place", [CATFORD_SOUTH, BELLINGHAM, GROVE_PARK, NOWHERE])
@pytest.mark.parametrize("in_area", [False, True])
@pytest.mark.parametrize("at", [time(12), time(23)])
def test_a_ward_team_rule_routes_as_the_per_ward_rows_it_replaces(competitor, place, in_area, at):
    # The migration collapses such rows into one rule: no report may route differently.
    place = Place(place.ward_code, place.ward_name, (AREA,) if in_area else ())
    rows = _decide([FALLBACK, competitor, *PER_WARD_ROWS], place, at=at)
    one_rule = _decide([FALLBACK, competitor, DRUGS_TO_TEAM], place, at=at)
    assert (one_rule.owner, one_rule.notified) == (rows.owner, rows.notified)


def test_resolving_names_the_team_or_nobody():
    assert resolve(DRUGS_TO_TEAM, CATFORD_SOUTH, TEAMS).partner == CATFORD_SNT
    assert resolve(DRUGS_TO_TEAM, GROVE_PARK, TEAMS) is None
    assert resolve(DRUGS_TO_TEAM, NOWHERE, TEAMS) is None
    assert resolve(DRUGS_NOTIFY_TRIAGE, GROVE_PARK, TEAMS) is DRUGS_NOTIFY_TRIAGE
    assert DRUGS_TO_TEAM.partner_name == "The ward's Safer Neighbourhood Team"
    assert resolve(DRUGS_TO_TEAM, BELLINGHAM, TEAMS).partner_name == (
        "Bellingham SNT, the ward's Safer Neighbourhood Team"
    )


def test_the_table_decides_and_lists_matching_rules_with_the_team():
    table = RoutingTable([FALLBACK, DRUGS_TO_TEAM, DRUGS_NOTIFY_TRIAGE], TEAMS)
    assert table.decide(
        category="drug-dealing", category_name="Drug dealing", place=BELLINGHAM
    ) == _decide([FALLBACK, DRUGS_TO_TEAM, DRUGS_NOTIFY_TRIAGE], BELLINGHAM)
    matching = table.matching(category="drug-dealing", place=BELLINGHAM)
    assert [(r.id, r.partner) for r in matching] == [
        (2, BELLINGHAM_SNT),
        (1, TRIAGE),
        (3, TRIAGE),
    ]
    assert [r.id for r in table.matching(category="drug-dealing", place=GROVE_PARK)] == [1, 3]
    assert fallback_partner(table.rules) == TRIAGE
