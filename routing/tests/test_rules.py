import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from routing.models import RoutingRule
from routing.rules import (
    AssigneeSpec,
    rule_copy,
    rule_create,
    rule_delete,
    rule_reorder,
    rule_set_assignees,
    rule_set_paused,
    rule_update,
)
from routing.tests.helpers import rule
from teams.tests.factories import make_member


def names(team):
    return list(RoutingRule.objects.filter(team=team).values_list("name", flat=True))


def test_rule_create_appends_above_default_rule(team, owner):
    rule_create(actor=owner, team=team, name="One")
    rule_create(actor=owner, team=team, name="Two")
    assert names(team) == ["One", "Two", "Default Rule"]


@pytest.mark.parametrize(
    ("persona", "refusal"), [("agent", PermissionDenied), ("outsider", Http404)]
)
def test_rule_writes_refused_without_rule_management(team, persona, refusal, request):
    actor = request.getfixturevalue(persona)
    existing = rule(team, "Existing")
    with pytest.raises(refusal):
        rule_create(actor=actor, team=team, name="Nope")
    with pytest.raises(refusal):
        rule_update(actor=actor, rule=existing, name="Renamed")
    with pytest.raises(refusal):
        rule_reorder(actor=actor, team=team, rule_ids=[existing.pk])
    with pytest.raises(refusal):
        rule_delete(actor=actor, rule=existing)
    with pytest.raises(refusal):
        rule_copy(actor=actor, rule=existing)
    assert names(team) == ["Existing", "Default Rule"]


def test_admin_with_rule_management_can_edit(team, admin_member):
    created = rule_create(actor=admin_member, team=team, name="Admin's")
    rule_set_paused(actor=admin_member, rule=created, paused=True)
    assert RoutingRule.objects.get(pk=created.pk).is_paused


def test_admin_without_rule_management_is_refused(team, admin_member):
    profile = admin_member.permission_profile
    profile.manage_routing_rules = False
    from teams.services import permission_profile_save

    permission_profile_save(actor=None, profile=profile)
    with pytest.raises(PermissionDenied):
        rule_create(actor=admin_member, team=team, name="Nope")


def test_rule_reorder_sets_positions(team, owner):
    a, b, c = (rule(team, n) for n in "ABC")
    rule_reorder(actor=owner, team=team, rule_ids=[c.pk, a.pk, b.pk])
    assert names(team) == ["C", "A", "B", "Default Rule"]


@pytest.mark.parametrize("shape", ["missing", "extra", "duplicate", "default", "foreign"])
def test_rule_reorder_requires_exactly_the_teams_rules(team, owner, outsider, shape):
    a, b = rule(team, "A"), rule(team, "B")
    default = RoutingRule.objects.get(team=team, is_default=True)
    foreign = RoutingRule.objects.get(team=outsider.team, is_default=True)
    ids = {
        "missing": [a.pk],
        "extra": [a.pk, b.pk, 999999],
        "duplicate": [a.pk, b.pk, b.pk],
        "default": [a.pk, b.pk, default.pk],
        "foreign": [a.pk, b.pk, foreign.pk],
    }[shape]
    with pytest.raises(ValidationError):
        rule_reorder(actor=owner, team=team, rule_ids=ids)
    assert names(team) == ["A", "B", "Default Rule"]


def test_default_rule_cannot_be_deleted_paused_or_copied(team, owner):
    default = RoutingRule.objects.get(team=team, is_default=True)
    with pytest.raises(ValidationError):
        rule_delete(actor=owner, rule=default)
    with pytest.raises(ValidationError):
        rule_set_paused(actor=owner, rule=default, paused=True)
    with pytest.raises(ValidationError):
        rule_copy(actor=owner, rule=default)


def test_default_rule_methods_limited(team, owner):
    default = RoutingRule.objects.get(team=team, is_default=True)
    with pytest.raises(ValidationError):
        rule_update(actor=owner, rule=default, method="round_robin")
    assert rule_update(actor=owner, rule=default, method="blast").method == "blast"


def test_rule_copy_lands_below_original_paused_with_assignees(team, owner):
    member = make_member(team)
    a = rule(team, "A", member, weights=[40])
    rule(team, "B")
    copy = rule_copy(actor=owner, rule=a)
    assert names(team) == ["A", "Copy of A", "B", "Default Rule"]
    assert copy.is_paused
    assert copy.rotation_id != a.rotation_id
    assert list(copy.assignees.values_list("membership_id", "weight")) == [(member.pk, 40)]


def test_rule_copied_twice_gives_distinct_names(team, owner):
    a = rule(team, "A")
    rule_copy(actor=owner, rule=a)
    rule_copy(actor=owner, rule=a)
    rule_copy(actor=owner, rule=a)

    assert names(team) == ["A", "Copy of A (3)", "Copy of A (2)", "Copy of A", "Default Rule"]


def test_rule_delete_removes_rule_and_rotation(team, owner):
    a = rule(team, "A")
    rule_delete(actor=owner, rule=a)
    assert names(team) == ["Default Rule"]


def test_rule_assignees_must_belong_to_team(team, owner, outsider):
    a = rule(team, "A")
    with pytest.raises(ValidationError):
        rule_set_assignees(actor=owner, rule=a, assignees=[AssigneeSpec(membership=outsider)])


def test_rule_assignee_listed_twice_refused(team, owner):
    member = make_member(team)
    with pytest.raises(ValidationError):
        rule(team, "Twice", member, member)


def test_blast_rule_ignores_percentages(team, owner):
    members = [make_member(team), make_member(team)]
    blast = rule(team, "Blast", *members, method="blast", weights=[70, 30])
    assert set(blast.assignees.values_list("weight", flat=True)) == {1}


def test_rule_create_rejects_unknown_fields(team, owner):
    with pytest.raises(ValidationError):
        rule_create(actor=owner, team=team, name="X", is_default=True)
