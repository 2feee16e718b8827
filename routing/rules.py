"""Managing routing rules: create, edit, assignees, reorder, pause, copy, delete.

Every write needs "Contact Routing Rule Management" on the rule's team; only
owners and admins can hold it (teams.permissions).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max

from contacts.models import Bucket
from routing import engine
from routing.assignees import AssigneeSpec, assignees_write
from routing.models import Method, Rotation, RoutingRule, RuleAssignee
from routing.pools import pool_waiting_release
from routing.rotations import rotation_reset
from routing.state import routing_version_bump
from teams import access
from teams import permissions as perms
from teams.models import Membership, Team

DEFAULT_RULE_METHODS = (Method.ASSIGN_DIRECTLY, Method.NEXT_UP, Method.BLAST)
EDITABLE_FIELDS = {
    "name", "is_paused", "method", "sources", "contact_types", "cities", "zip_codes", "states",
    "location_match", "price_min", "price_max", "tags_any", "tags_all", "require_phone",
    "require_email", "work_days", "work_start", "work_end", "time_zone", "claim_window_minutes",
    "only_online", "skip_paused", "respect_capacity", "direct_assignee", "follow_up_reminder_hours",
    "hold_when_unavailable", "hold_max_minutes",
}  # fmt: skip


def _require_manage(actor: Membership | None, team: Team) -> None:
    if actor is not None:  # None: a trusted system path (seed, the Django admin)
        access.require_perm(actor, perms.MANAGE_ROUTING_RULES, team_id=team.pk)


def rule_validate(rule: RoutingRule) -> None:
    if not engine.method_allowed(rule.team.plan, rule.method):
        raise ValidationError(
            {
                "method": f"{Method(rule.method).label} is not available on the "
                f"{rule.team.get_plan_display()} plan."
            }
        )
    if rule.is_default and rule.method not in DEFAULT_RULE_METHODS:
        raise ValidationError(
            {"method": "The Default Rule assigns directly, or uses Next Up or Blast Alert."}
        )
    if rule.direct_assignee_id and rule.direct_assignee.team_id != rule.team_id:
        raise ValidationError({"direct_assignee": "That member belongs to another team."})
    rule.full_clean(exclude=["rotation"])


def _set_source_buckets(rule: RoutingRule, buckets: Iterable[Bucket] | None) -> None:
    """Make the rule a lead pool of these buckets (none: an ordinary rule)."""
    if buckets is None:
        return
    buckets = list(buckets)
    if any(b.team_id != rule.team_id for b in buckets):
        raise ValidationError({"source_buckets": "That bucket belongs to another team."})
    if buckets and rule.is_default:
        raise ValidationError(
            {"source_buckets": "The Default Rule takes every contact: it cannot be a lead pool."}
        )
    rule.source_buckets.set(buckets)


@transaction.atomic
def rule_create(
    *,
    actor: Membership | None,
    team: Team,
    name: str,
    assignees: list[AssigneeSpec] = (),
    source_buckets: Iterable[Bucket] | None = None,
    **fields,
) -> RoutingRule:
    """A new rule goes to the bottom of the list, just above the Default Rule. With
    `source_buckets` it is a lead pool of them."""
    _require_manage(actor, team)
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise ValidationError(f"Unknown rule fields: {', '.join(sorted(unknown))}")
    last = RoutingRule.objects.filter(team=team, is_default=False).aggregate(m=Max("position"))["m"]
    rule = RoutingRule(
        team=team, name=name, position=(last or 0) + 1, rotation=Rotation.objects.create(), **fields
    )
    rule_validate(rule)
    rule.save()
    _set_source_buckets(rule, source_buckets)
    _write_assignees(rule, assignees)
    return rule


@transaction.atomic
def rule_update(
    *,
    actor: Membership | None,
    rule: RoutingRule,
    source_buckets: Iterable[Bucket] | None = None,
    **fields,
) -> RoutingRule:
    """Change the rule's fields; `source_buckets`, when given, replaces its source buckets
    (empty: it is no longer a lead pool)."""
    _require_manage(actor, rule.team)
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise ValidationError(f"Unknown rule fields: {', '.join(sorted(unknown))}")
    if rule.is_default and fields.get("is_paused"):
        raise ValidationError("The Default Rule cannot be paused: it is the catch-all.")
    was_manual = rule.method == Method.MANUAL
    for name, value in fields.items():
        setattr(rule, name, value)
    rule_validate(rule)
    rule.save()
    _set_source_buckets(rule, source_buckets)
    if was_manual and rule.method != Method.MANUAL:
        pool_waiting_release(rule=rule, why=f"now distributes by {Method(rule.method).label}")
    return rule


def _assignee_keys(rule: RoutingRule) -> set[tuple[str, int]]:
    return {
        ("m", a.membership_id) if a.membership_id else ("t", a.agent_tag_id)
        for a in rule.assignees.all()
    }


def _write_assignees(rule: RoutingRule, assignees: list[AssigneeSpec]) -> None:
    assignees_write(owner=rule, owner_field="rule", model=RuleAssignee, specs=assignees)


@transaction.atomic
def rule_set_assignees(
    *, actor: Membership | None, rule: RoutingRule, assignees: list[AssigneeSpec]
) -> bool:
    """Replace the assignees. Adding or removing anyone resets the order of distribution.

    Returns True when the order of distribution was reset.
    """
    _require_manage(actor, rule.team)
    rule = RoutingRule.objects.select_for_update().get(pk=rule.pk)
    before = _assignee_keys(rule)
    rule.assignees.all().delete()
    _write_assignees(rule, assignees)
    changed = _assignee_keys(rule) != before
    if changed:
        rule_rotation_reset(rule=rule)
    return changed


@transaction.atomic
def rule_reorder(*, actor: Membership | None, team: Team, rule_ids: list[int]) -> None:
    """Set the order of the team's rules; the ids must be exactly the team's rules."""
    _require_manage(actor, team)
    rules = {
        r.pk: r for r in RoutingRule.objects.select_for_update().filter(team=team, is_default=False)
    }
    if len(rule_ids) != len(set(rule_ids)) or set(rule_ids) != set(rules):
        raise ValidationError(
            "The list of rules changed while you were reordering; reload and try again."
        )
    for position, rule_id in enumerate(rule_ids, start=1):
        rules[rule_id].position = position
    RoutingRule.objects.bulk_update(rules.values(), ["position"])
    routing_version_bump(team_id=team.pk)


def rule_set_paused(*, actor: Membership | None, rule: RoutingRule, paused: bool) -> RoutingRule:
    return rule_update(actor=actor, rule=rule, is_paused=paused)


@transaction.atomic
def _copy_name(rule: RoutingRule) -> str:
    """ "Copy of X", then "Copy of X (2)", (3)…: each copy can be told apart in the list."""
    base = f"Copy of {rule.name}"[:110]
    taken = set(
        RoutingRule.objects.filter(team_id=rule.team_id, name__startswith=base).values_list(
            "name", flat=True
        )
    )
    if base not in taken:
        return base
    n = 2
    while f"{base} ({n})" in taken:
        n += 1
    return f"{base} ({n})"


def rule_copy(*, actor: Membership | None, rule: RoutingRule) -> RoutingRule:
    """A paused copy right below the original, with the same assignees and a fresh rotation."""
    _require_manage(actor, rule.team)
    if rule.is_default:
        raise ValidationError("The Default Rule cannot be copied.")
    RoutingRule.objects.filter(team=rule.team, is_default=False, position__gt=rule.position).update(
        position=F("position") + 1
    )
    routing_version_bump(team_id=rule.team_id)
    assignees = list(rule.assignees.all())
    buckets = list(rule.source_buckets.all())
    copy = RoutingRule.objects.get(pk=rule.pk)
    copy.pk = None
    copy.id = None
    copy.name = _copy_name(rule)
    copy.position = rule.position + 1
    copy.is_paused = True
    copy.rotation = Rotation.objects.create()
    copy.save()
    for assignee in assignees:
        assignee.pk = None
        assignee.rule = copy
    RuleAssignee.objects.bulk_create(assignees)
    copy.source_buckets.set(buckets)
    routing_version_bump(team_id=rule.team_id)
    return copy


@transaction.atomic
def rule_delete(*, actor: Membership | None, rule: RoutingRule) -> None:
    _require_manage(actor, rule.team)
    if rule.is_default:
        raise ValidationError("The Default Rule cannot be deleted.")
    pool_waiting_release(rule=rule, why="was deleted")
    rotation_id = rule.rotation_id
    rule.delete()
    Rotation.objects.filter(pk=rotation_id).delete()


def rule_rotation_reset(*, rule: RoutingRule) -> None:
    """Start the rule's order of distribution again from the top."""
    rotation_reset(rotation_id=rule.rotation_id)


def default_rule_ensure(*, team: Team) -> RoutingRule:
    """Every team has its Default Rule, the catch-all (assign directly until edited)."""
    rule = RoutingRule.objects.filter(team=team, is_default=True).first()
    if rule is None:
        rule = RoutingRule.objects.create(
            team=team,
            name="Default Rule",
            is_default=True,
            method=Method.ASSIGN_DIRECTLY,
            rotation=Rotation.objects.create(),
        )
    return rule
