"""The routing table as a case table: category x place x time x reasons -> owner, notified."""

import tomllib
from datetime import UTC, datetime, time

import pytest

from safer_streets.data.seed import SEED_DIR, SeedError, expand_rules, slugify
from safer_streets.models import RuleRole
from safer_streets.routing.decide import (
    AreaRef,
    NoFallbackRule,
    PartnerRef,
    Place,
    RoutingTable,
    Rule,
    TimeWindow,
    decide,
    local_time,
)

WARDS = {
    "E05013730": "Rushey Green",
    "E05013727": "Lewisham Central",
    "E05013719": "Deptford",
}
CATFORD_TC = AreaRef("catford-town-centre", "Catford town centre")
LEWISHAM_TC = AreaRef("lewisham-town-centre", "Lewisham town centre")
DEPTFORD_TC = AreaRef("deptford-town-centre", "Deptford town centre")
AREAS = {a.slug: a for a in (CATFORD_TC, LEWISHAM_TC, DEPTFORD_TC)}
CATEGORIES = tomllib.loads((SEED_DIR / "categories.toml").read_text())["category"]
# The reasons a fresh database is seeded with, by (category, key).
LABELS = {
    (r["category"], r["key"]): r["label"]
    for r in tomllib.loads((SEED_DIR / "categories.toml").read_text())["reason"]
}


def _seed_rules() -> list[Rule]:
    """The shipped rules.toml, expanded by the seed loader's own expansion."""
    data = tomllib.loads((SEED_DIR / "rules.toml").read_text())
    specs = expand_rules(
        data,
        [(code, slugify(name)) for code, name in WARDS.items()],
        set(AREAS),
        {c["slug"] for c in CATEGORIES},
        set(LABELS),
    )
    partner_ids: dict[str, int] = {}

    def partner(slug: str) -> PartnerRef:
        partner_ids.setdefault(slug, 1000 + len(partner_ids))
        return PartnerRef(partner_ids[slug], slug, slug.replace("-", " ").title())

    rules = [
        Rule(
            id=number,
            category=spec.category,
            ward_code=spec.ward_code,
            partner=None if spec.ward_team else partner(spec.partner),
            role=spec.role,
            area=AREAS[spec.area] if spec.area else None,
            window=TimeWindow(*spec.window) if spec.window else None,
            reason=spec.reason,
            reason_label=LABELS.get((spec.category, spec.reason)) if spec.reason else None,
            ward_team=spec.ward_team,
        )
        for number, spec in enumerate(specs, start=1)
    ]
    # Each ward's Safer Neighbourhood Team, as partners.toml makes them.
    teams = {code: partner(f"met-snt-{slugify(name)}") for code, name in WARDS.items()}
    return rules, teams


RULES, TEAMS = _seed_rules()
TABLE = RoutingTable(RULES, TEAMS)
NOON, MIDNIGHT, TEN_PM, SIX_AM = time(12), time(0, 30), time(22), time(6)
RG, LC, DEP = "E05013730", "E05013727", "E05013719"

CASES = [
    # category, ward, areas, local time, reasons, owner, notified
    ("drug-dealing", RG, (), NOON, (), "met-snt-rushey-green", ["lewisham-community-safety"]),
    ("drug-dealing", LC, (), NOON, (), "met-snt-lewisham-central", ["lewisham-community-safety"]),
    ("weapons", DEP, (), NOON, (), "met-snt-deptford", ["lewisham-community-safety"]),
    ("harassment", RG, (), NOON, (), "met-snt-rushey-green", ["lewisham-community-safety"]),
    ("anti-social-behaviour", RG, (), NOON, (), "lewisham-asb", ["met-snt-rushey-green"]),
    ("feeling-unsafe", DEP, (), NOON, (), "lewisham-community-safety", ["met-snt-deptford"]),
    ("street-lighting", RG, (), NOON, (), "lewisham-highways", []),
    ("damaged-pavement", LC, (), NOON, (), "lewisham-highways", []),
    ("dangerous-road", DEP, (), NOON, (), "lewisham-highways", []),
    ("fly-tipping", RG, (), NOON, (), "lewisham-environment", []),
    ("graffiti-vandalism", RG, (), NOON, (), "lewisham-environment", []),
    ("overgrown-vegetation", LC, (), NOON, (), "lewisham-environment", []),
    ("abandoned-vehicle", DEP, (), NOON, (), "lewisham-environment", []),
    ("public-transport", RG, (), NOON, (), "tfl", []),
    ("a-new-category", RG, (), NOON, (), "lewisham-community-safety", []),
    ("drug-dealing", None, (), NOON, (), "lewisham-community-safety", []),
    # Area rules: the two major town centres also tell the Met's town-centre team.
    (
        "drug-dealing",
        RG,
        (CATFORD_TC,),
        NOON,
        (),
        "met-snt-rushey-green",
        ["lewisham-community-safety", "met-town-centre-team"],
    ),
    (
        "anti-social-behaviour",
        LC,
        (LEWISHAM_TC,),
        NOON,
        (),
        "lewisham-asb",
        ["met-snt-lewisham-central", "met-town-centre-team"],
    ),
    (
        "harassment",
        RG,
        (CATFORD_TC,),
        NOON,
        (),
        "met-snt-rushey-green",
        ["lewisham-community-safety", "met-town-centre-team"],
    ),
    (
        "feeling-unsafe",
        LC,
        (LEWISHAM_TC,),
        NOON,
        (),
        "lewisham-community-safety",
        ["met-snt-lewisham-central", "met-town-centre-team"],
    ),
    # ... but not other town centres, nor other categories in them.
    (
        "drug-dealing",
        DEP,
        (DEPTFORD_TC,),
        NOON,
        (),
        "met-snt-deptford",
        ["lewisham-community-safety"],
    ),
    ("fly-tipping", RG, (CATFORD_TC,), NOON, (), "lewisham-environment", []),
    # Time of day: out-of-hours anti-social behaviour also goes to the night service.
    (
        "anti-social-behaviour",
        RG,
        (),
        TEN_PM,
        (),
        "lewisham-asb",
        ["lewisham-out-of-hours", "met-snt-rushey-green"],
    ),
    (
        "anti-social-behaviour",
        RG,
        (),
        MIDNIGHT,
        (),
        "lewisham-asb",
        ["lewisham-out-of-hours", "met-snt-rushey-green"],
    ),
    ("anti-social-behaviour", RG, (), SIX_AM, (), "lewisham-asb", ["met-snt-rushey-green"]),
    ("anti-social-behaviour", RG, (), None, (), "lewisham-asb", ["met-snt-rushey-green"]),
    ("drug-dealing", RG, (), MIDNIGHT, (), "met-snt-rushey-green", ["lewisham-community-safety"]),
    # Reason: a badly lit place is a lighting job too.
    (
        "feeling-unsafe",
        DEP,
        (),
        NOON,
        ("isolated", "badly-lit"),
        "lewisham-community-safety",
        ["lewisham-highways", "met-snt-deptford"],
    ),
    (
        "feeling-unsafe",
        DEP,
        (),
        NOON,
        ("isolated",),
        "lewisham-community-safety",
        ["met-snt-deptford"],
    ),
    # Everything at once.
    (
        "feeling-unsafe",
        RG,
        (CATFORD_TC,),
        MIDNIGHT,
        ("badly-lit",),
        "lewisham-community-safety",
        ["lewisham-highways", "met-snt-rushey-green", "met-town-centre-team"],
    ),
]


@pytest.mark.parametrize(("category", "ward", "areas", "at", "reasons", "owner", "notified"), CASES)
def test_routing_table(category, ward, areas, at, reasons, owner, notified):
    decision = decide(
        RULES,
        teams=TEAMS,
        category=category,
        category_name=category.replace("-", " ").capitalize(),
        place=Place(ward, WARDS.get(ward), areas),
        at=at,
        reasons=reasons,
    )
    assert decision.owner.slug == owner
    assert sorted(p.slug for p in decision.notified) == notified
    assert decision.owner.name in decision.reason
    for partner in decision.notified:
        assert partner.name in decision.reason
    indexed = TABLE.decide(
        category=category,
        category_name=category.replace("-", " ").capitalize(),
        place=Place(ward, WARDS.get(ward), areas),
        at=at,
        reasons=reasons,
    )
    assert indexed == decision


def test_the_reason_says_what_went_where_and_by_which_rule():
    decision = decide(
        RULES,
        teams=TEAMS,
        category="drug-dealing",
        category_name="Drug dealing",
        place=Place("E05013730", "Rushey Green"),
    )
    assert decision.reason.startswith(
        "Drug dealing in Rushey Green goes to Met Snt Rushey Green, "
        "the ward's Safer Neighbourhood Team (ward rule)."
    )
    assert "Lewisham Community Safety is notified (borough-wide rule)" in decision.reason


def test_the_reason_names_the_area_time_and_reason_conditions_that_matched():
    decision = decide(
        RULES,
        teams=TEAMS,
        category="feeling-unsafe",
        category_name="Feeling unsafe",
        place=Place(RG, "Rushey Green", (CATFORD_TC,)),
        at=MIDNIGHT,
        reasons=("badly-lit",),
    )
    assert "Met Town Centre Team is notified (area rule: in Catford town centre)." in (
        decision.reason
    )
    assert "Lewisham Highways is notified (borough-wide rule: reason “Badly lit”)." in (
        decision.reason
    )
    night = decide(
        RULES,
        teams=TEAMS,
        category="anti-social-behaviour",
        category_name="Anti-social behaviour",
        place=Place(RG, "Rushey Green"),
        at=TEN_PM,
    )
    assert (
        "Lewisham Out Of Hours is notified (borough-wide rule: between 22:00 and 06:00)."
        in night.reason
    )
    by_partner = {m.partner: m for m in decision.matched}
    assert by_partner["met-town-centre-team"].scope == "area rule"
    assert by_partner["met-town-centre-team"].conditions == ("in Catford town centre",)
    assert by_partner["lewisham-highways"].conditions == ("reason “Badly lit”",)
    assert set(decision.rule_ids) == {m.id for m in decision.matched}


def test_unmatched_reports_go_to_manual_triage_and_say_so():
    decision = decide(
        RULES,
        teams=TEAMS,
        category="noise",
        category_name="Noise",
        place=Place("E05013730", "Rushey Green"),
    )
    assert decision.owner.slug == "lewisham-community-safety"
    assert "manual triage" in decision.reason
    assert "No routing rule covers noise in Rushey Green" in decision.reason


COUNCIL = PartnerRef(1, "council", "Council")
SNT = PartnerRef(2, "snt", "SNT")
TOWN = PartnerRef(3, "town", "Town team")
NIGHT = PartnerRef(4, "night", "Night team")
LIGHTS = PartnerRef(5, "lights", "Lighting")
AREA = AreaRef("tc", "The town centre")
LATE = TimeWindow(time(22), time(6))
OWNER, NOTIFIED = RuleRole.OWNER, RuleRole.NOTIFIED

PRECEDENCE_RULES = [
    Rule(1, None, None, COUNCIL, OWNER),
    Rule(2, "x", None, COUNCIL, OWNER),
    Rule(3, "x", "W1", SNT, OWNER),
    Rule(4, "x", None, TOWN, OWNER, area=AREA),
    Rule(5, "x", None, NIGHT, OWNER, window=LATE),
    Rule(6, "x", "W1", NIGHT, OWNER, window=LATE),
    Rule(7, "x", None, LIGHTS, OWNER, reason="dark"),
]
PRECEDENCE = [
    # ward, in the area?, time, reasons, owner, the rule that decided
    ("W2", False, NOON, (), COUNCIL, 2),  # borough-wide beats the fallback
    ("W1", False, NOON, (), SNT, 3),  # ward beats borough-wide
    ("W1", True, NOON, (), TOWN, 4),  # area beats ward
    ("W2", True, NOON, (), TOWN, 4),
    ("W2", False, TEN_PM, (), NIGHT, 5),  # a time condition beats the same level without
    ("W1", False, TEN_PM, (), NIGHT, 6),  # ward at night beats ward and borough at night
    ("W1", True, TEN_PM, (), TOWN, 4),  # area beats ward even at night
    ("W2", False, NOON, ("dark",), LIGHTS, 7),  # a reason condition beats the same level
    ("W1", False, NOON, ("dark",), SNT, 3),  # but not a more specific place
    ("W2", False, None, (), COUNCIL, 2),  # no known time: time rules never match
]


@pytest.mark.parametrize(("ward", "in_area", "at", "reasons", "owner", "rule_id"), PRECEDENCE)
def test_precedence_area_then_ward_then_borough_then_fallback(
    ward, in_area, at, reasons, owner, rule_id
):
    place = Place(ward, ward, (AREA,) if in_area else ())
    decision = decide(
        PRECEDENCE_RULES, category="x", category_name="X", place=place, at=at, reasons=reasons
    )
    assert decision.owner == owner
    assert decision.rule_ids[0] == rule_id


def test_anything_unknown_falls_back_to_manual_triage():
    decision = decide(PRECEDENCE_RULES, category="y", category_name="Y", place=Place("W1", "W1"))
    assert decision.owner == COUNCIL
    assert decision.rule_ids == (1,)


def test_any_number_of_partners_are_notified_but_the_owner_only_once():
    rules = [
        Rule(1, None, None, COUNCIL, OWNER),
        Rule(2, "x", None, SNT, OWNER),
        Rule(3, "x", None, SNT, NOTIFIED, area=AREA),
        Rule(4, "x", None, TOWN, NOTIFIED, area=AREA),
        Rule(5, "x", None, NIGHT, NOTIFIED, window=LATE),
        Rule(6, "x", "W1", LIGHTS, NOTIFIED),
        Rule(7, "x", None, LIGHTS, NOTIFIED),
    ]
    decision = decide(
        rules, category="x", category_name="X", place=Place("W1", "W1", (AREA,)), at=TEN_PM
    )
    assert decision.owner == SNT
    assert [p.slug for p in decision.notified] == ["town", "lights", "night"]
    # Lighting is notified by the more specific (ward) rule, which the reason names.
    assert "Lighting is notified (ward rule)" in decision.reason


@pytest.mark.parametrize(
    ("window", "inside", "outside"),
    [
        (TimeWindow(time(22), time(6)), [time(22), time(23, 59), time(0), time(5, 59)], [time(6)]),
        (TimeWindow(time(9), time(17)), [time(9), time(16, 59)], [time(17), time(8, 59)]),
    ],
)
def test_time_windows_include_their_start_exclude_their_end_and_may_wrap(window, inside, outside):
    assert all(window.covers(t) for t in inside)
    assert not any(window.covers(t) for t in outside)


def test_a_window_must_have_different_ends():
    with pytest.raises(ValueError, match="different"):
        TimeWindow(time(22), time(22))


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 1, 15, 22, 30, tzinfo=UTC), time(22, 30)),  # GMT
        (datetime(2026, 7, 15, 21, 30, tzinfo=UTC), time(22, 30)),  # BST
    ],
)
def test_time_of_day_is_read_in_london_time(moment, expected):
    assert local_time(moment) == expected


def test_a_missing_fallback_is_an_error_not_a_lost_report():
    with pytest.raises(NoFallbackRule):
        decide([], category="x", category_name="X", place=Place(None, None))


def test_the_seed_rules_name_only_known_areas_categories_and_reasons():
    data = {"fallback": "cs", "rule": [{"categories": ["drug-dealing"], "areas": ["nowhere"]}]}
    data["rule"][0]["notified"] = ["x"]
    with pytest.raises(SeedError, match="unknown area"):
        expand_rules(data, [], set(), {"drug-dealing"})
    data["rule"][0] = {"categories": ["drug-dealing"], "reason": "badly-lit", "owner": "x"}
    with pytest.raises(SeedError, match="not a drug-dealing reason"):
        expand_rules(data, [], set(), {"drug-dealing"})
    data["rule"][0] = {"categories": ["drug-dealing"]}
    with pytest.raises(SeedError, match="owner or notified"):
        expand_rules(data, [], set(), {"drug-dealing"})
