"""Who must use two-step sign-in: a rule on the account's role and partner.

Required for administrators, for police partners (every Safer Neighbourhood Team and the
town-centre team: ``kind = "police"``) and for any partner that owns a sensitive category
(harassment, weapons) in an active routing rule, since their staff read those reports in
full. The settings ``SAFER_STREETS_TWO_FACTOR_ROLES`` and ``SAFER_STREETS_TWO_FACTOR_PARTNERS``
add roles and partner slugs to these; nothing a setting says can take the defaults away.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import and_, exists, select, union
from sqlalchemy.orm import Session

from safer_streets.models import Category, Partner, Role, RoutingRule, RuleRole, User, Ward
from safer_streets.settings import Settings, SettingsError

ROLES_SETTING = "SAFER_STREETS_TWO_FACTOR_ROLES"
PARTNERS_SETTING = "SAFER_STREETS_TWO_FACTOR_PARTNERS"

REQUIRED_ROLES = frozenset({Role.ADMIN})
REQUIRED_PARTNER_KINDS = frozenset({"police"})


@dataclass(frozen=True)
class TwoFactorPolicy:
    """The roles, partner kinds and partner slugs whose accounts must use two-step sign-in
    (beyond those that own a sensitive category, who always must)."""

    roles: frozenset[Role] = REQUIRED_ROLES
    partner_kinds: frozenset[str] = REQUIRED_PARTNER_KINDS
    partner_slugs: frozenset[str] = frozenset()


def _listed(raw: str) -> list[str]:
    return [item.strip() for item in raw.replace(";", ",").split(",") if item.strip()]


def policy_from_settings(settings: Settings) -> TwoFactorPolicy:
    """The defaults plus the roles and partner slugs the settings add."""
    roles = set(REQUIRED_ROLES)
    for name in _listed(settings.two_factor_roles):
        try:
            roles.add(Role(name))
        except ValueError:
            known = ", ".join(role.value for role in Role)
            raise SettingsError(f"{ROLES_SETTING} names roles ({known}), not {name!r}") from None
    return TwoFactorPolicy(
        roles=frozenset(roles),
        partner_slugs=frozenset(_listed(settings.two_factor_partners)),
    )


def must_use_two_factor(
    role: Role,
    *,
    partner_slug: str | None,
    partner_kind: str | None,
    owns_sensitive_category: bool,
    policy: TwoFactorPolicy,
) -> bool:
    """Whether an account with this role, at this partner, must use two-step sign-in."""
    if role in policy.roles:
        return True
    if partner_slug is None:
        return False
    return (
        owns_sensitive_category
        or partner_kind in policy.partner_kinds
        or partner_slug in policy.partner_slugs
    )


def partners_owning_sensitive_categories(
    session: Session, partner_ids: Iterable[int] | None = None
) -> set[int]:
    """The partners (of ``partner_ids``, or all) that own a sensitive category in an active
    routing rule."""
    sensitive_owner_rules = (
        select(RoutingRule.partner_id)
        .join(Category, Category.id == RoutingRule.category_id)
        .where(
            RoutingRule.active.is_(True),
            RoutingRule.role == RuleRole.OWNER,
            Category.sensitive.is_(True),
        )
    )
    named = sensitive_owner_rules.where(RoutingRule.partner_id.is_not(None))
    # A rule for "the ward's Safer Neighbourhood Team" makes every ward's team an owner.
    ward_teams = (
        select(Partner.id)
        .join(Ward, and_(Ward.code == Partner.ward_code, Ward.active.is_(True)))
        .where(exists(sensitive_owner_rules.where(RoutingRule.ward_team.is_(True))))
    )
    if partner_ids is not None:
        wanted = list(partner_ids)
        named = named.where(RoutingRule.partner_id.in_(wanted))
        ward_teams = ward_teams.where(Partner.id.in_(wanted))
    return set(session.scalars(union(named, ward_teams)))


def partner_requires_two_factor(
    session: Session, partner: Partner, policy: TwoFactorPolicy
) -> bool:
    """Whether every account of ``partner`` must use two-step sign-in."""
    return must_use_two_factor(
        Role.STAFF,
        partner_slug=partner.slug,
        partner_kind=partner.kind,
        owns_sensitive_category=bool(partners_owning_sensitive_categories(session, [partner.id])),
        policy=policy,
    )


def required_for(session: Session, user: User, policy: TwoFactorPolicy) -> bool:
    """Whether this account must use two-step sign-in, as things stand in the routing table."""
    partner = user.partner
    if user.role in policy.roles or partner is None:
        return user.role in policy.roles
    return must_use_two_factor(
        user.role,
        partner_slug=partner.slug,
        partner_kind=partner.kind,
        owns_sensitive_category=bool(partners_owning_sensitive_categories(session, [partner.id])),
        policy=policy,
    )
