"""The Team Library and members' own plans: who edits what, copies, steps and triggers."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from contacts.models import Bucket
from plans import services
from plans.models import Plan, PlanStep
from plans.tests.factories import EMAIL, TASK, TEXT, make_plan, step
from routing.tests.helpers import rule
from teams.models import PermissionProfile


def _step_fields(**overrides):
    return {
        "kind": "email",
        "delay_amount": 1,
        "delay_unit": "days",
        "delay_from": "previous",
        "working_hours_only": False,
        "subject": "Hello {{ contact_first_name }}",
        "body": "From {{ agent_name }}",
        **overrides,
    }


def test_owner_creates_a_library_plan_and_an_agent_cannot(owner, agent):
    plan = services.plan_create(actor=owner, name="Buyer nurture", library=True)
    assert plan.in_library
    assert plan.team_id == owner.team_id

    with pytest.raises(PermissionDenied, match="Manage Team"):
        services.plan_create(actor=agent, name="Mine in the library", library=True)
    own = services.plan_create(actor=agent, name="Buyer nurture")
    assert own.owner == agent


def test_admin_needs_manage_team_for_the_library(team, admin_member):
    profile = PermissionProfile.objects.create(team=team, name="No team", manage_team=False)
    admin_member.permission_profile = profile
    admin_member.save()
    plan = make_plan(team)

    with pytest.raises(PermissionDenied):
        services.plan_update(
            actor=admin_member, plan=plan, name="X", description="", stop_on_contact=False
        )

    profile.manage_team = True
    profile.save()
    admin_member.refresh_from_db()
    services.plan_update(
        actor=admin_member, plan=plan, name="X", description="", stop_on_contact=True
    )
    plan.refresh_from_db()
    assert (plan.name, plan.stop_on_contact) == ("X", True)


def test_agent_cannot_edit_library_steps_or_triggers(team, agent):
    plan = make_plan(team, step(EMAIL))
    with pytest.raises(PermissionDenied):
        services.plan_step_save(actor=agent, plan=plan, **_step_fields())
    with pytest.raises(PermissionDenied):
        services.plan_step_move(actor=agent, step=plan.steps.get(), direction="down")
    with pytest.raises(PermissionDenied):
        services.plan_trigger_add(actor=agent, plan=plan, rule=rule(team, "Zillow", agent))
    assert plan.steps.count() == 1


def test_another_members_plan_is_not_found(team, agent, admin_member, outsider):
    mine = make_plan(team, owner=agent, name="Alan's")
    with pytest.raises(Http404):
        services.plan_update(
            actor=admin_member, plan=mine, name="Taken", description="", stop_on_contact=False
        )
    with pytest.raises(Http404):
        services.plan_copy(actor=outsider, plan=make_plan(team, name="Library"))


def test_names_are_unique_per_library_and_per_member(team, owner, agent):
    services.plan_create(actor=owner, name="Nurture", library=True)
    with pytest.raises(ValidationError) as refused:
        services.plan_create(actor=owner, name="nurture ", library=True)
    assert "already a plan called" in refused.value.message_dict["name"][0]
    # The same name among one's own plans is fine.
    assert services.plan_create(actor=agent, name="Nurture").owner == agent


def test_copy_is_independent_of_the_library_plan(team, owner, agent):
    library = make_plan(team, step(EMAIL), step(TEXT, 2), stop_on_contact=True)

    copy = services.plan_copy(actor=agent, plan=library)

    assert (copy.owner, copy.copied_from, copy.name, copy.stop_on_contact) == (
        agent,
        library,
        "Buyer nurture",
        True,
    )
    assert [(s.kind, s.delay_amount) for s in copy.steps.all()] == [("email", 0), ("text", 2)]
    # The member edits their copy; the library plan does not change, nor the other way.
    first = copy.steps.first()
    services.plan_step_save(
        actor=agent, plan=copy, step=first, **_step_fields(subject="My own words")
    )
    services.plan_step_delete(actor=agent, step=copy.steps.last())
    services.plan_step_save(
        actor=owner, plan=library, step=library.steps.first(), **_step_fields(subject="Team")
    )
    assert [s.subject for s in library.steps.all()] == ["Team", ""]
    assert [s.subject for s in copy.steps.all()] == ["My own words"]
    # Downloading again makes a second copy with a name of its own.
    assert services.plan_copy(actor=agent, plan=library).name == "Buyer nurture (copy)"


def test_only_library_plans_are_copied(team, agent):
    with pytest.raises(ValidationError, match="Team Library"):
        services.plan_copy(actor=agent, plan=make_plan(team, owner=agent))


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"body": "Hi {{ nickname }}"}, "body", "nickname is not a placeholder"),
        ({"subject": "{% for x in y %}{% endfor %}"}, "subject", "not allowed"),
        ({"subject": "Hi {{ contact.email }}"}, "subject", "single names"),
        ({"subject": ""}, "subject", "An email needs a subject"),
        ({"body": "  "}, "body", "Write the message"),
        ({"kind": "task", "subject": ""}, "subject", "A task needs a title"),
        ({"kind": "task", "body": "Call {{ contact_name }}"}, "body", "shown as written"),
        ({"delay_amount": 400}, "delay_amount", "At most 365 days"),
    ],
)
def test_step_templates_are_checked_at_save(team, owner, fields, field, message):
    plan = make_plan(team)
    with pytest.raises(ValidationError) as refused:
        services.plan_step_save(actor=owner, plan=plan, **_step_fields(**fields))
    assert message in " ".join(refused.value.message_dict[field])
    assert not plan.steps.exists()


def test_a_text_step_keeps_no_subject(team, owner):
    plan = make_plan(team)
    saved = services.plan_step_save(
        actor=owner, plan=plan, **_step_fields(kind="text", subject="{{ ignored")
    )
    assert (saved.kind, saved.subject, saved.position) == ("text", "", 1)


def test_steps_are_added_at_the_end_and_reordered(team, owner):
    plan = make_plan(team, step(EMAIL), step(TEXT), step(TASK))
    email, _text, task = plan.steps.all()

    assert services.plan_step_move(actor=owner, step=task, direction="up")
    assert [s.kind for s in plan.steps.all()] == ["email", "task", "text"]
    assert not services.plan_step_move(actor=owner, step=email, direction="up")
    assert services.plan_step_move(actor=owner, step=email, direction="down")
    assert [s.kind for s in plan.steps.all()] == ["task", "email", "text"]
    with pytest.raises(ValidationError):
        services.plan_step_move(actor=owner, step=email, direction="sideways")

    services.plan_step_delete(actor=owner, step=task)
    added = services.plan_step_save(actor=owner, plan=plan, **_step_fields())
    assert [(s.position, s.kind) for s in plan.steps.all()] == [
        (1, "email"),
        (2, "text"),
        (3, "email"),
    ]
    assert added.position == 3


def test_library_plans_start_from_rules_and_team_buckets(team, owner, agent):
    plan = make_plan(team, step(EMAIL))
    zillow = rule(team, "Zillow", agent)
    bucket = Bucket.objects.create(team=team, name="Open house")

    by_rule = services.plan_trigger_add(actor=owner, plan=plan, rule=zillow)
    by_bucket = services.plan_trigger_add(actor=owner, plan=plan, bucket=bucket)
    assert {str(by_rule), str(by_bucket)} == {
        "Assigned by rule “Zillow”",
        "Lands in bucket “Open house”",
    }
    with pytest.raises(ValidationError, match="already starts"):
        services.plan_trigger_add(actor=owner, plan=plan, rule=zillow)
    with pytest.raises(ValidationError, match="a rule or a bucket"):
        services.plan_trigger_add(actor=owner, plan=plan)


def test_own_plans_start_from_own_buckets_only(team, owner, agent):
    plan = make_plan(team, step(EMAIL), owner=agent)
    mine = Bucket.objects.create(team=team, name="Sphere", owner=agent)
    theirs = Bucket.objects.create(team=team, name="Owner's", owner=owner)

    services.plan_trigger_add(actor=agent, plan=plan, bucket=mine)
    with pytest.raises(ValidationError, match="your own buckets"):
        services.plan_trigger_add(actor=agent, plan=plan, bucket=theirs)
    with pytest.raises(ValidationError, match="only Team Library plans start"):
        services.plan_trigger_add(actor=agent, plan=plan, rule=rule(team, "Zillow", agent))


def test_another_teams_rule_is_refused(team, owner, outsider):
    plan = make_plan(team, step(EMAIL))
    theirs = rule(outsider.team, "Theirs", outsider)
    with pytest.raises(ValidationError, match="your team's routing rules"):
        services.plan_trigger_add(actor=owner, plan=plan, rule=theirs)


def test_deleting_a_plan_removes_it_and_its_steps(team, owner):
    plan = make_plan(team, step(EMAIL))
    assert services.plan_delete(actor=owner, plan=plan) == 0
    assert not Plan.objects.filter(pk=plan.pk).exists()
    assert not PlanStep.objects.filter(plan_id=plan.pk).exists()
