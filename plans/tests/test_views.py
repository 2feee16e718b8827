"""Smart Plans pages and the contact profile's card."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from contacts.models import Bucket
from contacts.tests.factories import ContactFactory
from plans import services
from plans.models import Plan, PlanRun, PlanStep, PlanTrigger, RunStatus
from plans.tests.factories import EMAIL, TEXT, make_plan, step
from routing.tests.helpers import assigned_contact, rule
from teams.tests.factories import UserFactory, make_member

HTMX = {"HTTP_HX_REQUEST": "true"}
LIST = reverse("plans:list")


def _step_post(**fields):
    return {
        "kind": "email",
        "delay_amount": "2",
        "delay_unit": "days",
        "delay_from": "previous",
        "subject": "Hi {{ contact_first_name }}",
        "body": "Talk soon, {{ agent_first_name }}",
        **fields,
    }


def url(name, *args):
    return reverse(f"plans:{name}", args=args)


@pytest.fixture
def library(team):
    return make_plan(team, step(EMAIL), step(TEXT, 2), name="Buyer nurture")


# --- the list, and who sees what --------------------------------------------------------


def test_list_shows_the_library_and_own_plans_only(client, team, agent, owner, library):
    make_plan(team, owner=agent, name="Alan plan")
    make_plan(team, owner=owner, name="Olive plan")
    client.force_login(agent.user)

    page = client.get(LIST).content.decode()

    assert "Buyer nurture" in page
    assert "Alan plan" in page
    assert "Olive plan" not in page
    assert "New library plan" not in page  # agents do not edit the library
    assert "Download" in page
    assert "Manage Team" in page  # the library says who edits it


def test_list_offers_library_editing_to_owners(client, owner):
    client.force_login(owner.user)
    assert "New library plan" in client.get(LIST).content.decode()


def test_list_query_budget(client, team, agent, library, django_assert_max_num_queries):
    for n in range(5):
        make_plan(team, step(EMAIL), owner=agent, name=f"Mine {n}")
    client.force_login(agent.user)
    with django_assert_max_num_queries(12):
        assert client.get(LIST).status_code == 200


def test_pages_need_a_login(client, library):
    for target in (LIST, url("detail", library.pk)):
        response = client.get(target)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]


def test_another_teams_or_members_plan_is_not_found(client, team, agent, outsider, library):
    client.force_login(outsider.user)
    assert client.get(url("detail", library.pk)).status_code == 404
    assert client.post(url("copy", library.pk)).status_code == 404
    client.force_login(make_member(team, user=UserFactory(username="beth")).user)
    assert client.get(url("detail", make_plan(team, owner=agent).pk)).status_code == 404


def test_mutations_answer_get_with_405(client, owner, library):
    client.force_login(owner.user)
    first = library.steps.first()
    for target in (
        url("create"),
        url("save", library.pk),
        url("delete", library.pk),
        url("copy", library.pk),
        url("step_add", library.pk),
        url("step_save", library.pk, first.pk),
        url("step_move", library.pk, first.pk),
        url("step_delete", library.pk, first.pk),
        url("trigger_add", library.pk, "rule"),
        url("contact_start", 1),
        url("run_action", 1, "pause"),
    ):
        assert client.get(target).status_code == 405, target


# --- editing the library ----------------------------------------------------------------


def test_agent_may_look_at_a_library_plan_but_not_edit_it(client, agent, library):
    client.force_login(agent.user)
    page = client.get(url("detail", library.pk)).content.decode()
    assert "Download to my plans" in page
    assert "Add a step" not in page

    first = library.steps.first()
    refusals = [
        client.post(url("save", library.pk), {"name": "Mine now"}),
        client.get(url("step_new", library.pk)),
        client.post(url("step_add", library.pk), _step_post()),
        client.post(url("step_move", library.pk, first.pk), {"direction": "down"}),
        client.post(url("step_delete", library.pk, first.pk)),
        client.post(url("delete", library.pk)),
        client.post(url("create"), {"name": "Sneaky", "library": "1"}),
        client.get(url("new") + "?library=1"),
    ]
    assert [r.status_code for r in refusals] == [403] * len(refusals)
    assert "Manage Team" in refusals[0].content.decode()
    library.refresh_from_db()
    assert library.name == "Buyer nurture"
    assert library.steps.count() == 2


def test_agent_downloads_a_library_plan_and_edits_the_copy(client, agent, library):
    client.force_login(agent.user)

    response = client.post(url("copy", library.pk))

    copy = Plan.objects.get(owner=agent)
    assert response["Location"] == url("detail", copy.pk)
    page = client.get(url("detail", copy.pk)).content.decode()
    assert "Add a step" in page
    step_id = copy.steps.first().pk
    saved = client.post(url("step_save", copy.pk, step_id), _step_post(subject="Mine"))
    assert saved.status_code == 302
    assert copy.steps.first().subject == "Mine"
    assert library.steps.first().subject == EMAIL["subject"]


def test_owner_creates_a_library_plan_and_adds_steps(client, owner):
    client.force_login(owner.user)
    response = client.post(url("create"), {"name": "Seller follow-up", "library": "1"})
    plan = Plan.objects.get(name="Seller follow-up")
    assert plan.owner is None
    assert response["Location"] == url("detail", plan.pk)

    client.post(url("step_add", plan.pk), _step_post())
    client.post(url("step_add", plan.pk), _step_post(kind="text", delay_amount="3"))
    assert [(s.position, s.kind, s.delay_amount) for s in plan.steps.all()] == [
        (1, "email", 2),
        (2, "text", 3),
    ]
    text = plan.steps.get(kind="text")
    client.post(url("step_move", plan.pk, text.pk), {"direction": "up"})
    assert [s.kind for s in plan.steps.all()] == ["text", "email"]
    page = client.get(url("detail", plan.pk)).content.decode()
    assert "3 days after the previous step" in page


def test_a_bad_template_is_a_field_error_and_nothing_is_saved(client, owner, library):
    client.force_login(owner.user)

    response = client.post(url("step_add", library.pk), _step_post(body="Hi {{ nickname }}"))

    assert response.status_code == 422
    page = response.content.decode()
    assert "nickname is not a placeholder" in page
    assert "Hi {{ nickname }}" in page  # what was typed stays in the form
    assert library.steps.count() == 2


def test_a_duplicate_name_is_a_field_error(client, owner, library):
    client.force_login(owner.user)
    response = client.post(url("create"), {"name": "Buyer nurture", "library": "1"})
    assert response.status_code == 422
    assert "already a plan called" in response.content.decode()


def test_owner_attaches_a_library_plan_to_a_rule_and_a_bucket(client, team, owner, agent, library):
    zillow = rule(team, "Zillow", agent)
    bucket = Bucket.objects.create(team=team, name="Open house")
    client.force_login(owner.user)

    client.post(url("trigger_add", library.pk, "rule"), {"rule": zillow.pk})
    client.post(url("trigger_add", library.pk, "bucket"), {"bucket": bucket.pk})

    assert {(t.rule_id, t.bucket_id) for t in library.triggers.all()} == {
        (zillow.pk, None),
        (None, bucket.pk),
    }
    page = client.get(url("detail", library.pk)).content.decode()
    assert "When a contact is assigned by the rule “Zillow”" in page
    assert "When a contact lands in the bucket “Open house”" in page

    trigger = library.triggers.get(rule=zillow)
    client.post(url("trigger_remove", library.pk, trigger.pk))
    assert not PlanTrigger.objects.filter(pk=trigger.pk).exists()


def test_another_teams_rule_is_not_offered(client, owner, outsider, library):
    theirs = rule(outsider.team, "Theirs", outsider)
    client.force_login(owner.user)
    response = client.post(url("trigger_add", library.pk, "rule"), {"rule": theirs.pk})
    assert response.status_code == 422
    assert not library.triggers.exists()


# --- the contact profile's card ---------------------------------------------------------


@pytest.fixture
def running(team, agent, library, capture):
    agent.time_zone = "America/New_York"
    agent.save()
    contact = assigned_contact(team, agent, first_name="Jane", email="jane@example.net")
    sent_at = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    with time_machine.travel(sent_at, tick=False), capture(execute=True):
        return services.plan_run_start(plan=library, contact=contact, via="hand")


def test_the_profile_loads_the_card_by_htmx(client, agent, running):
    client.force_login(agent.user)
    contact = running.contact
    page = client.get(reverse("contact_pages:profile", args=[contact.pk])).content.decode()
    assert f'hx-get="{url("contact_card", contact.pk)}"' in page
    assert 'hx-trigger="load"' in page


def test_card_shows_steps_done_and_the_next_step_in_the_viewers_zone(client, agent, running):
    client.force_login(agent.user)

    response = client.get(url("contact_card", running.contact_id), **HTMX)

    assert response.status_code == 200
    assert "HX-Request" in response["Vary"]
    card = response.content.decode()
    assert "Buyer nurture" in card
    assert "Running" in card
    # Sent at 14:30 UTC, 09:30 in New York (the viewer's zone), labelled.
    assert "Step 1: email — sent" in " ".join(card.split())
    assert "Mar 2, 2026 09:30 EST" in card
    assert "from Alan Agent" in card
    assert "step 2, text" in " ".join(card.split())
    assert "Mar 4, 2026 09:30 EST" in card  # due two days later
    assert "Pause" in card
    assert "Stop" in card


def test_card_without_htmx_goes_back_to_the_profile(client, agent, running):
    client.force_login(agent.user)
    response = client.get(url("contact_card", running.contact_id))
    assert response.status_code == 302
    assert response["Location"].endswith(
        reverse("contact_pages:profile", args=[running.contact_id]) + "#smart-plans"
    )


def test_card_of_a_contact_one_cannot_open_is_not_found(client, team, outsider, running):
    client.force_login(outsider.user)
    assert client.get(url("contact_card", running.contact_id), **HTMX).status_code == 404
    client.force_login(make_member(team, user=UserFactory(username="beth")).user)
    assert client.get(url("contact_card", running.contact_id), **HTMX).status_code == 404
    assert client.post(url("run_action", running.pk, "stop"), **HTMX).status_code == 404


def test_pause_resume_and_stop_from_the_card(client, agent, running):
    client.force_login(agent.user)

    paused = client.post(url("run_action", running.pk, "pause"), **HTMX)
    assert paused.status_code == 200
    assert "Paused “Buyer nurture”" in paused.content.decode()
    assert "Resume" in paused.content.decode()
    running.refresh_from_db()
    assert running.status == RunStatus.PAUSED

    again = client.post(url("run_action", running.pk, "pause"), **HTMX)
    assert again.status_code == 422
    assert "not running" in again.content.decode()

    client.post(url("run_action", running.pk, "resume"), **HTMX)
    running.refresh_from_db()
    assert running.status == RunStatus.RUNNING

    stopped = client.post(url("run_action", running.pk, "stop"))  # without htmx
    assert stopped.status_code == 302
    running.refresh_from_db()
    assert running.status == RunStatus.STOPPED
    assert client.post(url("run_action", running.pk, "explode"), **HTMX).status_code == 404


def test_start_a_plan_by_hand_from_the_card(client, team, agent, library, capture):
    contact = assigned_contact(team, agent, email="jane@example.net")
    mine = make_plan(team, step(EMAIL), step(EMAIL, 1), owner=agent, name="Alan plan")
    make_plan(team, step(EMAIL), owner=make_member(team), name="Beth plan")
    client.force_login(agent.user)

    card = client.get(url("contact_card", contact.pk), **HTMX).content.decode()
    assert "Buyer nurture (Team Library)" in card
    assert "Alan plan (yours)" in card
    assert "Beth plan" not in card

    with capture(execute=True):
        response = client.post(url("contact_start", contact.pk), {"plan": mine.pk}, **HTMX)

    assert response.status_code == 200
    assert "Started “Alan plan”." in response.content.decode()
    run = PlanRun.objects.get(contact=contact)
    assert (run.plan, run.started_by) == (mine, agent)

    twice = client.post(url("contact_start", contact.pk), {"plan": mine.pk}, **HTMX)
    assert twice.status_code == 422
    assert "already running" in twice.content.decode()


def test_only_who_works_the_contact_gets_the_buttons(client, team, owner, running):
    beth = make_member(team, user=UserFactory(username="beth"))
    contact = running.contact
    from contacts.services import contact_role_add

    contact_role_add(contact=contact, membership=beth, kind="assistant", actor=owner)
    client.force_login(beth.user)

    card = client.get(url("contact_card", contact.pk), **HTMX).content.decode()
    assert "Buyer nurture" in card
    assert "Pause" not in card
    assert "Start plan" not in card
    assert client.post(url("run_action", running.pk, "pause"), **HTMX).status_code == 403
    response = client.post(url("contact_start", contact.pk), {"plan": running.plan_id}, **HTMX)
    assert response.status_code == 403


def test_card_says_a_step_waits_for_an_agent(client, team, owner, library):
    contact = ContactFactory(team=team, email="jane@example.net")  # not routed
    services.plan_run_start(plan=library, contact=contact, via="hand", actor=owner)
    client.force_login(owner.user)
    card = client.get(url("contact_card", contact.pk), **HTMX).content.decode()
    assert "Held until the contact has a primary Agent" in card


def test_admin_changelists(staff_client, running):
    assert staff_client.get(reverse("admin:plans_plan_changelist")).status_code == 200
    assert (
        staff_client.get(reverse("admin:plans_plan_change", args=[running.plan_id])).status_code
        == 200
    )
    assert staff_client.get(reverse("admin:plans_planrun_changelist")).status_code == 200
    detail = staff_client.get(reverse("admin:plans_planrun_change", args=[running.pk]))
    assert detail.status_code == 200
    assert "plan:" in detail.content.decode()  # the step keys, read-only
    assert staff_client.get(reverse("admin:plans_planrun_add")).status_code == 403


def test_admin_refuses_a_bad_step_template(staff_client, team, library):
    change = reverse("admin:plans_plan_change", args=[library.pk])
    steps = list(PlanStep.objects.filter(plan=library))
    data = {
        "team": team.pk,
        "name": library.name,
        "description": "",
        "steps-TOTAL_FORMS": str(len(steps)),
        "steps-INITIAL_FORMS": str(len(steps)),
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
        "triggers-TOTAL_FORMS": "0",
        "triggers-INITIAL_FORMS": "0",
        "triggers-MIN_NUM_FORMS": "0",
        "triggers-MAX_NUM_FORMS": "1000",
    }
    for i, s in enumerate(steps):
        data.update(
            {
                f"steps-{i}-id": s.pk,
                f"steps-{i}-plan": library.pk,
                f"steps-{i}-position": s.position,
                f"steps-{i}-kind": s.kind,
                f"steps-{i}-delay_amount": s.delay_amount,
                f"steps-{i}-delay_unit": s.delay_unit,
                f"steps-{i}-delay_from": s.delay_from,
                f"steps-{i}-subject": s.subject,
                f"steps-{i}-body": s.body,
            }
        )
    data["steps-0-body"] = "{{ nickname }}"

    response = staff_client.post(change, data)

    assert response.status_code == 200
    assert "nickname is not a placeholder" in response.content.decode()
    assert library.steps.first().body == EMAIL["body"]
