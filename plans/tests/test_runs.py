"""Running plans: what starts them, when their steps go out and from whom, pausing,
resuming, stopping, and what stops them by themselves."""

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from contacts.buckets import contacts_place
from contacts.models import Bucket
from contacts.services import activity_log, contact_archive
from contacts.tests.factories import ContactFactory
from notifications.models import OutboxMessage, Status
from notifications.optout import contact_unsubscribe, texts_stop_or_start
from notifications.services import outbox_sweep
from plans import services
from plans.models import PlanRun, PlanTrigger, RunStatus, StepStatus
from plans.tests.factories import EMAIL, TASK, TEXT, make_plan, step
from routing.manual import contact_assign_directly
from routing.tests.helpers import agent_of, assigned_contact, new_contact, rule
from teams.tests.factories import UserFactory, make_member

# Monday 2 March 2026, 08:00 in New York (13:00 UTC).
MONDAY_8AM_NY = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)


def emails_to(address: str) -> list:
    return [m for m in mail.outbox if address in m.to]


def plan_emails(address: str) -> list:
    """The plan's emails to the contact (not the welcome email)."""
    return [m for m in emails_to(address) if m.subject.startswith(("Welcome,", "Still"))]


def start(plan, contact, actor=None):
    return services.plan_run_start(plan=plan, contact=contact, via="hand", actor=actor)


def rows(run) -> list[tuple]:
    return [(r.position, r.status) for r in run.run_steps.order_by("position")]


def outbox(run) -> dict[str, OutboxMessage]:
    return {m.key: m for m in OutboxMessage.objects.filter(key__startswith=run.key_prefix())}


# --- what starts a plan -----------------------------------------------------------------


def test_a_rule_starts_its_plan_and_the_first_email_goes_out_from_the_agent(team, agent, capture):
    agent.email_signature = "Alan Agent · Acme Realty"
    agent.save()
    zillow = rule(team, "Zillow leads", agent, sources=["Zillow"])
    plan = make_plan(team, step(EMAIL), step(TEXT, 2))
    PlanTrigger.objects.create(plan=plan, rule=zillow)

    contact = new_contact(team, capture, first_name="Jane", email="jane@example.net")

    run = PlanRun.objects.get(contact=contact)
    assert (run.plan, run.status, run.started_via, run.started_from) == (
        plan,
        RunStatus.RUNNING,
        "rule",
        "Zillow leads",
    )
    [email] = plan_emails("jane@example.net")
    assert email.subject == "Welcome, Jane"
    assert email.from_email.startswith("Alan Agent <")
    assert email.reply_to == [agent.user.email]
    assert "Alan Agent · Acme Realty" in email.body
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert rows(run) == [(1, StepStatus.SENT), (2, StepStatus.SCHEDULED)]
    assert run.run_steps.get(position=1).agent == agent
    timeline = [e.message for e in contact.timeline.all()]
    assert "Smart Plan “Buyer nurture” started — assigned by the rule “Zillow leads”: 2 steps." in (
        timeline
    )
    assert any(m.startswith("Smart Plan “Buyer nurture”, step 1: email sent by") for m in timeline)


def test_a_rule_that_did_not_route_the_contact_starts_nothing(team, agent, capture):
    plan = make_plan(team, step(EMAIL))
    PlanTrigger.objects.create(plan=plan, rule=rule(team, "Facebook", agent, sources=["Facebook"]))
    rule(team, "Zillow", agent, sources=["Zillow"])

    contact = new_contact(team, capture, source="Zillow", email="jane@example.net")

    assert agent_of(contact) == agent
    assert not PlanRun.objects.exists()


def test_a_lead_pool_starts_its_plan_for_contacts_placed_in_its_bucket(team, owner, agent, capture):
    pool_bucket = Bucket.objects.create(team=team, name="Open house sign-ups")
    pool = rule(team, "Open house pool", agent, source_buckets=[pool_bucket])
    plan = make_plan(team, step(EMAIL))
    PlanTrigger.objects.create(plan=plan, rule=pool)
    contact = assigned_contact(team, owner, email="jane@example.net")
    assert not PlanRun.objects.exists()  # assigned by hand, not by the pool

    # An existing contact placed in the pool's bucket is routed through the pool.
    with capture(execute=True):
        contacts_place(bucket=pool_bucket, contacts=[contact], via="hand", actor=owner)

    assert agent_of(contact) == agent
    run = PlanRun.objects.get(contact=contact)
    assert (run.started_via, run.started_from) == ("rule", "Open house pool")
    [email] = plan_emails("jane@example.net")
    assert email.from_email.startswith("Alan Agent <")


def test_a_manual_pool_starts_its_plan_when_an_admin_assigns_from_it(team, owner, agent, capture):
    pool = rule(team, "Manual pool", method="manual", sources=["Zillow"])
    plan = make_plan(team, step(EMAIL))
    PlanTrigger.objects.create(plan=plan, rule=pool)
    contact = new_contact(team, capture, email="jane@example.net")
    assert agent_of(contact) is None  # waiting in the pool

    with capture(execute=True):
        contact_assign_directly(actor=owner, contact=contact, membership=agent)

    assert PlanRun.objects.get(contact=contact).started_from == "Manual pool"
    assert len(plan_emails("jane@example.net")) == 1


def test_triggers_count_at_once_while_routers_remember_the_team(team, owner, agent, capture):
    """Routers remember what starts plans per routing version: adding or removing a
    trigger must reach the next route."""
    zillow = rule(team, "Zillow", agent, sources=["Zillow"])
    plan = make_plan(team, step(EMAIL, 1))
    new_contact(team, capture, email="warm@example.net")  # routed: the state is remembered

    by_rule = services.plan_trigger_add(actor=owner, plan=plan, rule=zillow)
    mine = make_plan(team, step(EMAIL, 1), owner=agent, name="Mine")
    from contacts.buckets import member_default_bucket

    services.plan_trigger_add(
        actor=agent, plan=mine, bucket=member_default_bucket(membership=agent)
    )
    first = new_contact(team, capture, email="first@example.net")
    assert {r.plan for r in PlanRun.objects.filter(contact=first)} == {plan, mine}

    services.plan_trigger_remove(actor=owner, trigger=by_rule)
    second = new_contact(team, capture, email="second@example.net")
    assert [r.plan for r in PlanRun.objects.filter(contact=second)] == [mine]


def test_reassignment_does_not_start_the_rules_plan_again(team, agent, admin_member, capture):
    zillow = rule(team, "Zillow", agent, sources=["Zillow"])
    plan = make_plan(team, step(EMAIL))
    PlanTrigger.objects.create(plan=plan, rule=zillow)
    contact = new_contact(team, capture, email="jane@example.net")
    run = PlanRun.objects.get(contact=contact)
    assert run.status == RunStatus.COMPLETED  # its one step went out

    with capture(execute=True):
        contact_assign_directly(actor=None, contact=contact, membership=admin_member)

    assert PlanRun.objects.filter(contact=contact).count() == 1


def test_a_bucket_starts_its_plan_and_the_email_waits_for_an_agent(team, agent, capture):
    bucket = Bucket.objects.create(team=team, name="Newsletter")
    plan = make_plan(team, step(EMAIL))
    PlanTrigger.objects.create(plan=plan, bucket=bucket)
    contact = ContactFactory(team=team, first_name="Jane", email="jane@example.net")  # not routed

    with capture(execute=True):
        contacts_place(bucket=bucket, contacts=[contact], via="hand", actor=None)

    run = PlanRun.objects.get(contact=contact)
    assert (run.started_via, run.started_from) == ("bucket", "Newsletter")
    [message] = outbox(run).values()
    assert (message.status, message.held) == (Status.PENDING, True)
    assert emails_to("jane@example.net") == []
    assert rows(run) == [(1, StepStatus.SCHEDULED)]

    with capture(execute=True):
        contact_assign_directly(actor=None, contact=contact, membership=agent)

    [email] = plan_emails("jane@example.net")
    assert email.from_email.startswith("Alan Agent <")
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert rows(run) == [(1, StepStatus.SENT)]


def test_a_members_default_bucket_starts_their_plan_when_a_lead_is_assigned(team, agent, capture):
    from contacts.buckets import member_default_bucket

    mine = make_plan(team, step(EMAIL), owner=agent, name="My welcome")
    PlanTrigger.objects.create(plan=mine, bucket=member_default_bucket(membership=agent))
    rule(team, "Zillow", agent, sources=["Zillow"])

    contact = new_contact(team, capture, email="jane@example.net")

    assert PlanRun.objects.get(contact=contact).plan == mine
    assert len(plan_emails("jane@example.net")) == 1


def test_started_by_hand_needs_someone_who_works_the_contact(team, owner, agent, capture):
    contact = assigned_contact(team, owner, email="jane@example.net")
    plan = make_plan(team, step(EMAIL))
    with pytest.raises(PermissionDenied):
        start(plan, contact, actor=make_member(team, user=UserFactory(username="beth")))

    with capture(execute=True):
        run = start(plan, contact, actor=owner)

    assert (run.started_via, run.started_by) == ("hand", owner)
    assert len(plan_emails("jane@example.net")) == 1
    assert contact.timeline.filter(
        kind="plan_started", message__contains="started by Olive Owner"
    ).exists()


def test_one_live_run_per_contact_and_plan(team, owner, agent):
    contact = assigned_contact(team, agent, email="jane@example.net")
    plan = make_plan(team, step(EMAIL, 1))
    first = start(plan, contact, actor=owner)

    with pytest.raises(ValidationError, match="already running"):
        start(plan, contact, actor=owner)
    assert start(plan, contact) is None  # a rule or bucket starting it again: nothing

    services.plan_run_stop(actor=owner, run=first)
    assert start(plan, contact, actor=owner).pk != first.pk


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"status": "archived"}, "the contact is archived"),
        ({"unsubscribed_at": datetime(2026, 1, 1, tzinfo=UTC)}, "the contact unsubscribed"),
        ({"texts_stopped_at": datetime(2026, 1, 1, tzinfo=UTC)}, "the contact texted STOP"),
    ],
)
def test_a_plan_does_not_start_for_a_contact_who_left(team, owner, change, problem):
    contact = ContactFactory(team=team, **change)
    plan = make_plan(team, step(EMAIL))

    with pytest.raises(ValidationError, match=problem):
        start(plan, contact, actor=owner)
    assert start(plan, contact) is None
    assert contact.timeline.filter(kind="plan_not_started", message__contains=problem).exists()


def test_a_plan_without_steps_does_not_start(team, owner):
    contact = ContactFactory(team=team)
    with pytest.raises(ValidationError, match="has no steps"):
        start(make_plan(team), contact, actor=owner)


# --- when steps go out, and from whom ---------------------------------------------------


def test_step_times_follow_delays_and_the_agents_working_hours(team, agent, capture):
    agent.time_zone = "America/New_York"
    agent.work_days, agent.work_start, agent.work_end = "0,1,2,3,4", time(9), time(17)
    agent.save()
    contact = assigned_contact(team, agent, email="jane@example.net", phone="+15125550100")
    plan = make_plan(
        team,
        step(EMAIL, working_hours_only=True),  # 08:00 → 09:00 New York
        step(TEXT, 2, "hours"),  # 11:00, counted from the moved email
        step(TASK, 1, "days", delay_from="start"),  # Tuesday 08:00, working hours or not
    )
    with time_machine.travel(MONDAY_8AM_NY, tick=False), capture(execute=True):
        run = start(plan, contact)

    due = [r.due_at for r in run.run_steps.order_by("position")]
    assert due == [
        datetime(2026, 3, 2, 14, 0, tzinfo=UTC),
        datetime(2026, 3, 2, 16, 0, tzinfo=UTC),
        datetime(2026, 3, 3, 13, 0, tzinfo=UTC),
    ]
    assert sorted(m.next_attempt_at for m in outbox(run).values()) == due
    assert plan_emails("jane@example.net") == []  # not before 09:00

    with time_machine.travel(datetime(2026, 3, 2, 14, 1, tzinfo=UTC)), capture(execute=True):
        outbox_sweep()
    assert len(plan_emails("jane@example.net")) == 1
    assert rows(run) == [(1, "sent"), (2, "scheduled"), (3, "scheduled")]


def test_later_steps_go_out_from_the_new_agent(team, agent, admin_member, capture):
    contact = assigned_contact(team, agent, first_name="Jane", email="jane@example.net")
    plan = make_plan(team, step(EMAIL), step({**EMAIL, "subject": "Still looking?"}, 2))
    with time_machine.travel(MONDAY_8AM_NY, tick=False):
        with capture(execute=True):
            run = start(plan, contact)  # the first email goes out after this commit
        with capture(execute=True):
            contact_assign_directly(actor=None, contact=contact, membership=admin_member)

    with time_machine.travel(MONDAY_8AM_NY + timedelta(days=2, minutes=1)), capture(execute=True):
        outbox_sweep()

    first, second = plan_emails("jane@example.net")
    assert first.from_email.startswith("Alan Agent <")
    assert second.subject == "Still looking?"
    assert second.from_email.startswith("Ada Admin <")
    assert second.reply_to == [admin_member.user.email]
    run.refresh_from_db()
    assert [r.agent for r in run.run_steps.order_by("position")] == [agent, admin_member]
    assert run.status == RunStatus.COMPLETED
    assert contact.timeline.filter(kind="plan_completed").exists()


def test_a_skipped_step_counts_as_done(team, agent, capture):
    contact = assigned_contact(team, agent, email="", phone="+15125550100")
    plan = make_plan(team, step(EMAIL), step(TEXT))
    with capture(execute=True):
        run = start(plan, contact)

    run.refresh_from_db()
    assert rows(run) == [(1, StepStatus.SKIPPED), (2, StepStatus.SENT)]
    assert run.status == RunStatus.COMPLETED


# --- pause, resume, stop ----------------------------------------------------------------


def test_pause_cancels_pending_steps_and_resume_schedules_them_from_then(team, agent, capture):
    contact = assigned_contact(team, agent, email="jane@example.net", phone="+15125550100")
    plan = make_plan(team, step(EMAIL), step(TEXT, 1), step(TASK, 2))
    with time_machine.travel(MONDAY_8AM_NY, tick=False), capture(execute=True):
        run = start(plan, contact)
    with time_machine.travel(MONDAY_8AM_NY + timedelta(hours=1), tick=False):
        services.plan_run_pause(actor=agent, run=run)

    run.refresh_from_db()
    assert run.status == RunStatus.PAUSED
    assert rows(run) == [(1, "sent"), (2, "cancelled"), (3, "cancelled")]
    assert sorted(m.status for m in outbox(run).values()) == ["sent", "skipped", "skipped"]
    with pytest.raises(ValidationError, match="not running"):
        services.plan_run_pause(actor=agent, run=run)

    resumed_at = MONDAY_8AM_NY + timedelta(days=5)
    with time_machine.travel(resumed_at, tick=False):
        services.plan_run_resume(actor=agent, run=run)

    run.refresh_from_db()
    assert (run.status, run.generation) == (RunStatus.RUNNING, 1)
    steps = list(run.run_steps.order_by("position"))
    assert [(s.status, s.due_at) for s in steps[1:]] == [
        ("scheduled", resumed_at + timedelta(days=1)),
        ("scheduled", resumed_at + timedelta(days=3)),
    ]
    assert steps[1].key.endswith(":r1")
    with time_machine.travel(resumed_at + timedelta(days=3, minutes=1)), capture(execute=True):
        outbox_sweep()
    run.refresh_from_db()
    assert rows(run) == [(1, "sent"), (2, "sent"), (3, "sent")]
    assert run.status == RunStatus.COMPLETED
    kinds = list(contact.timeline.values_list("kind", flat=True))
    assert {"plan_paused", "plan_resumed", "plan_completed"} <= set(kinds)


def test_stop_ends_the_run_and_cancels_what_is_pending(team, agent, capture):
    contact = assigned_contact(team, agent, email="jane@example.net")
    plan = make_plan(team, step(EMAIL), step(EMAIL, 3))
    with capture(execute=True):
        run = start(plan, contact)

    services.plan_run_stop(actor=agent, run=run)

    run.refresh_from_db()
    assert (run.status, run.end_reason) == (RunStatus.STOPPED, "stopped by Alan Agent")
    assert rows(run) == [(1, "sent"), (2, "cancelled")]
    assert sorted(m.status for m in outbox(run).values()) == ["sent", "skipped"]
    with pytest.raises(ValidationError, match="ended already"):
        services.plan_run_stop(actor=agent, run=run)


def test_only_who_works_the_contact_pauses_or_stops(team, agent, owner):
    contact = assigned_contact(team, agent, email="jane@example.net")
    run = start(make_plan(team, step(EMAIL, 1)), contact)
    beth = make_member(team, user=UserFactory(username="beth"))
    with pytest.raises(PermissionDenied):
        services.plan_run_pause(actor=beth, run=run)
    services.plan_run_pause(actor=owner, run=run)  # owners and admins work every contact


def test_deleting_a_plan_stops_its_runs(team, owner, agent):
    contact = assigned_contact(team, agent, email="jane@example.net")
    plan = make_plan(team, step(EMAIL, 1))
    run = start(plan, contact)

    assert services.plan_delete(actor=owner, plan=plan) == 1
    assert not PlanRun.objects.filter(pk=run.pk).exists()
    assert [m.status for m in OutboxMessage.objects.filter(key__startswith="plan:")] == ["skipped"]
    assert contact.timeline.filter(kind="plan_stopped", message__contains="deleted").exists()


# --- stopping by itself -----------------------------------------------------------------


def _running(team, agent, **plan_fields):
    contact = assigned_contact(team, agent, email="jane@example.net", phone="+15125550100")
    run = start(make_plan(team, step(EMAIL, 1), **plan_fields), contact)
    return contact, run


def test_archiving_the_contact_stops_its_plans(team, agent):
    contact, run = _running(team, agent)
    contact_archive(contact=contact, actor=None)
    run.refresh_from_db()
    assert (run.status, run.end_reason) == (RunStatus.STOPPED, "the contact was archived")
    assert [m.status for m in outbox(run).values()] == ["skipped"]


def test_unsubscribing_stops_its_plans(team, agent):
    contact, run = _running(team, agent)
    contact_unsubscribe(contact=contact)
    run.refresh_from_db()
    assert (run.status, run.end_reason) == (RunStatus.STOPPED, "the contact unsubscribed")


def test_texting_stop_stops_its_plans(team, agent):
    _contact, run = _running(team, agent)
    texts_stop_or_start(phone="+1 512 555 0100", text="STOP")
    run.refresh_from_db()
    assert (run.status, run.end_reason) == (RunStatus.STOPPED, "the contact texted STOP")


def test_the_agents_contact_stops_a_plan_set_to_stop_on_contact(team, agent, owner):
    with time_machine.travel(MONDAY_8AM_NY, tick=False):
        contact, stops = _running(team, agent, stop_on_contact=True)
        keeps = start(make_plan(team, step(EMAIL, 1), name="Keeps going"), contact)

    with time_machine.travel(MONDAY_8AM_NY + timedelta(hours=1), tick=False):
        # Someone else's note and the agent's bookkeeping do not count.
        activity_log(contact=contact, membership=owner, kind="note", body="Owner's note")
        activity_log(contact=contact, membership=agent, kind="tag_change", body="Tags: hot")
        stops.refresh_from_db()
        assert stops.status == RunStatus.RUNNING

        activity_log(contact=contact, membership=agent, kind="call", body="Spoke to Jane")

    stops.refresh_from_db()
    keeps.refresh_from_db()
    assert (stops.status, stops.end_reason) == (RunStatus.STOPPED, "Alan Agent logged a call")
    assert keeps.status == RunStatus.RUNNING


def test_a_text_reply_from_the_contact_stops_a_plan_set_to_stop_on_contact(team, agent, settings):
    from django.test import Client
    from django.urls import reverse

    settings.SMS_INBOUND_TOKEN = "inbound-secret"
    with time_machine.travel(MONDAY_8AM_NY, tick=False):
        contact, stops = _running(team, agent, stop_on_contact=True)
        keeps = start(make_plan(team, step(EMAIL, 1), name="Keeps going"), contact)
    contact.phone = "+1 512 555 0100"
    contact.save()

    Client(headers={"Authorization": "Bearer inbound-secret"}).post(
        reverse("notifications:sms_inbound"),
        {"from": "5125550100", "text": "Sounds good"},
        "application/json",
    )

    stops.refresh_from_db()
    keeps.refresh_from_db()
    assert (stops.status, stops.end_reason) == (RunStatus.STOPPED, "the contact replied by text")
    assert keeps.status == RunStatus.RUNNING


def test_the_call_that_claims_a_next_up_offer_does_not_stop_the_plan_it_starts(
    team, agent, capture
):
    next_up = rule(team, "Next Up", agent, method="next_up", sources=["Zillow"])
    plan = make_plan(team, step(EMAIL), step(EMAIL, 1), stop_on_contact=True)
    PlanTrigger.objects.create(plan=plan, rule=next_up)
    contact = new_contact(team, capture, email="jane@example.net")
    assert agent_of(contact) is None  # offered, not assigned: nothing started yet
    assert not PlanRun.objects.exists()

    with capture(execute=True):
        activity_log(contact=contact, membership=agent, kind="call", body="Hello")

    assert agent_of(contact) == agent
    run = PlanRun.objects.get(contact=contact)
    assert run.status == RunStatus.RUNNING
    assert len(plan_emails("jane@example.net")) == 1

    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        activity_log(contact=contact, membership=agent, kind="call", body="Again")
    run.refresh_from_db()
    assert run.status == RunStatus.STOPPED
