"""The routing table as a case table: category x ward -> owner, notified, reason."""

import tomllib

import pytest

from safer_streets.models import RuleRole
from safer_streets.routing import NoFallbackRule, PartnerRef, Place, Rule, decide
from safer_streets.seed import SEED_DIR, slugify

WARDS = {
    "E05013730": "Rushey Green",
    "E05013727": "Lewisham Central",
    "E05013719": "Deptford",
}


def _seed_rules() -> list[Rule]:
    """The shipped rules.toml, expanded the way the seed loader expands it."""
    data = tomllib.loads((SEED_DIR / "rules.toml").read_text())
    rules: list[Rule] = []

    def partner(slug: str) -> PartnerRef:
        return PartnerRef(len(rules) + 1000, slug, slug.replace("-", " ").title())

    rules.append(Rule(1, None, None, partner(data["fallback"]), RuleRole.OWNER))
    for entry in data["rule"]:
        pairs = [(entry["owner"], RuleRole.OWNER)]
        pairs += [(slug, RuleRole.NOTIFIED) for slug in entry.get("notified", [])]
        for category in entry["categories"]:
            for slug, role in pairs:
                if "{ward}" in slug:
                    for code, name in WARDS.items():
                        ward_slug = slug.replace("{ward}", slugify(name))
                        rules.append(Rule(len(rules) + 1, category, code, partner(ward_slug), role))
                else:
                    rules.append(Rule(len(rules) + 1, category, None, partner(slug), role))
    return rules


RULES = _seed_rules()

CASES = [
    # category, ward code, owner, notified
    ("drug-dealing", "E05013730", "met-snt-rushey-green", ["lewisham-community-safety"]),
    ("drug-dealing", "E05013727", "met-snt-lewisham-central", ["lewisham-community-safety"]),
    ("weapons", "E05013719", "met-snt-deptford", ["lewisham-community-safety"]),
    ("harassment", "E05013730", "met-snt-rushey-green", ["lewisham-community-safety"]),
    ("anti-social-behaviour", "E05013730", "lewisham-asb", ["met-snt-rushey-green"]),
    ("feeling-unsafe", "E05013719", "lewisham-community-safety", ["met-snt-deptford"]),
    ("street-lighting", "E05013730", "lewisham-highways", []),
    ("damaged-pavement", "E05013727", "lewisham-highways", []),
    ("dangerous-road", "E05013719", "lewisham-highways", []),
    ("fly-tipping", "E05013730", "lewisham-environment", []),
    ("graffiti-vandalism", "E05013730", "lewisham-environment", []),
    ("overgrown-vegetation", "E05013727", "lewisham-environment", []),
    ("abandoned-vehicle", "E05013719", "lewisham-environment", []),
    ("public-transport", "E05013730", "tfl", []),
    ("a-new-category", "E05013730", "lewisham-community-safety", []),
    ("drug-dealing", None, "lewisham-community-safety", []),
]


@pytest.mark.parametrize(("category", "ward", "owner", "notified"), CASES)
def test_routing_table(category, ward, owner, notified):
    decision = decide(
        RULES,
        category=category,
        category_name=category.replace("-", " ").capitalize(),
        place=Place(ward, WARDS.get(ward)),
    )
    assert decision.owner.slug == owner
    assert [p.slug for p in decision.notified] == notified
    assert decision.owner.name in decision.reason
    for partner in decision.notified:
        assert partner.name in decision.reason


def test_the_reason_says_what_went_where_and_by_which_rule():
    decision = decide(
        RULES,
        category="drug-dealing",
        category_name="Drug dealing",
        place=Place("E05013730", "Rushey Green"),
    )
    assert decision.reason.startswith(
        "Drug dealing in Rushey Green goes to Met Snt Rushey Green (ward rule)."
    )
    assert "Lewisham Community Safety is notified (borough-wide rule)" in decision.reason


def test_unmatched_reports_go_to_manual_triage_and_say_so():
    decision = decide(
        RULES, category="noise", category_name="Noise", place=Place("E05013730", "Rushey Green")
    )
    assert decision.owner.slug == "lewisham-community-safety"
    assert "manual triage" in decision.reason
    assert "No routing rule covers noise in Rushey Green" in decision.reason


def test_a_ward_rule_beats_a_borough_wide_rule_for_the_owner():
    council = PartnerRef(1, "council", "Council")
    snt = PartnerRef(2, "snt", "SNT")
    rules = [
        Rule(1, None, None, council, RuleRole.OWNER),
        Rule(2, "x", None, council, RuleRole.OWNER),
        Rule(3, "x", "W1", snt, RuleRole.OWNER),
    ]
    here = decide(rules, category="x", category_name="X", place=Place("W1", "Ward One"))
    elsewhere = decide(rules, category="x", category_name="X", place=Place("W2", "Ward Two"))
    assert here.owner == snt
    assert elsewhere.owner == council


def test_inactive_or_missing_fallback_is_an_error_not_a_lost_report():
    with pytest.raises(NoFallbackRule):
        decide([], category="x", category_name="X", place=Place(None, None))
