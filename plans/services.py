"""Writes for Smart Plans: the library and members' plans, their steps and triggers, and
each contact's runs.

A run schedules every step's message with the notifications layer when it starts
(notifications.contact_messages), in the transaction that started it: a routing
batch that assigns a contact by a rule naming the plan, a placement in a bucket
naming it, or a person on the contact's profile. The notifications layer holds
emails and texts until routing is complete and someone holds the primary Agent
role, and sends each one as whoever holds it at that moment; it tells this app
how each message ended (notifications.signals.contact_message_done), and the
run's step records follow. Pausing cancels the pending messages and resuming
schedules the remaining steps again from then; a run also stops by itself when the
contact is archived or unsubscribes, and (an option per plan) when the contact's
primary Agent contacts them.
"""

from __future__ import annotations

import re
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.http import Http404
from django.utils import timezone

from contacts.models import ActivityKind, Bucket, BucketVia, Contact, ContactStatus
from contacts.services import timeline_add
from notifications.contact_messages import (
    agent_task_schedule,
    contact_email_schedule,
    contact_messages_cancel,
    contact_messages_status,
    contact_template_validate,
    contact_text_schedule,
)
from plans import selectors
from plans.models import (
    LIVE_STATUSES,
    DelayFrom,
    DelayUnit,
    Plan,
    PlanRun,
    PlanRunStep,
    PlanStep,
    PlanTrigger,
    RunStatus,
    StartedVia,
    StepKind,
    StepStatus,
)
from plans.timing import Delay, due_times
from routing.models import RoutingRule
from routing.signals import Assignment
from routing.state import routed_version, routing_version_bump, working_hours
from teams import access
from teams.models import Membership

ORIGIN = "plan"
# Contacting by the Agent that ends a plan set to stop on contact; segment and tag
# changes are bookkeeping, not a conversation.
CONVERSATION_KINDS = frozenset(
    {ActivityKind.CALL, ActivityKind.TEXT, ActivityKind.EMAIL, ActivityKind.NOTE}
)
MAX_DELAY = {DelayUnit.MINUTES: 60 * 24 * 365, DelayUnit.HOURS: 24 * 365, DelayUnit.DAYS: 365}
_TEMPLATE_SYNTAX = re.compile(r"{{|{%|{#")
TASK_IS_PLAIN = (
    "A task is a note to the Agent, shown as written (the task names the contact and links "
    "to it): leave out {{ … }} and {% … %}."
)
MESSAGE_STATUS = {
    "sent": StepStatus.SENT,
    "skipped": StepStatus.SKIPPED,
    "failed": StepStatus.FAILED,
}


# --- plans ------------------------------------------------------------------------------


def _name_check(*, team_id: int, owner: Membership | None, name: str, exclude: int | None) -> str:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the plan a name."})
    same = Plan.objects.filter(team_id=team_id, owner=owner, name__iexact=name)
    if exclude is not None:
        same = same.exclude(pk=exclude)
    if same.exists():
        where = "in the Team Library" if owner is None else "among your plans"
        raise ValidationError({"name": f"There is already a plan called “{name}” {where}."})
    return name


def _plan_save(plan: Plan) -> Plan:
    plan.full_clean(exclude=["team", "owner", "copied_from"], validate_constraints=False)
    try:
        with transaction.atomic():
            plan.save()
    except IntegrityError as exc:  # the same name saved by someone else meanwhile
        raise ValidationError({"name": "There is already a plan with that name here."}) from exc
    return plan


@transaction.atomic
def plan_create(
    *,
    actor: Membership,
    name: str,
    description: str = "",
    stop_on_contact: bool = False,
    library: bool = False,
) -> Plan:
    """A new plan in the Team Library (`library`) or among the actor's own plans."""
    access.require_member(actor)
    if library:
        access.require_perm(actor, selectors.LIBRARY_PERM)
    owner = None if library else actor
    plan = Plan(
        team_id=actor.team_id,
        owner=owner,
        name=_name_check(team_id=actor.team_id, owner=owner, name=name, exclude=None),
        description=description.strip(),
        stop_on_contact=stop_on_contact,
    )
    return _plan_save(plan)


@transaction.atomic
def plan_update(
    *, actor: Membership, plan: Plan, name: str, description: str, stop_on_contact: bool
) -> Plan:
    selectors.require_edit(actor, plan)
    plan.name = _name_check(team_id=plan.team_id, owner=plan.owner, name=name, exclude=plan.pk)
    plan.description = description.strip()
    plan.stop_on_contact = stop_on_contact
    return _plan_save(plan)


@transaction.atomic
def plan_delete(*, actor: Membership, plan: Plan) -> int:
    """Delete the plan; its live runs stop first (their pending messages are cancelled).
    Returns how many runs were stopped."""
    selectors.require_edit(actor, plan)
    stopped = 0
    for run in PlanRun.objects.filter(plan=plan, status__in=LIVE_STATUSES).select_related(
        "contact"
    ):
        stopped += _end(run, RunStatus.STOPPED, reason=f"the plan was deleted by {actor}")
    plan.delete()
    return stopped


def _copy_name(owner: Membership, name: str) -> str:
    taken = {
        n.lower()
        for n in Plan.objects.filter(team_id=owner.team_id, owner=owner).values_list(
            "name", flat=True
        )
    }
    candidate, n = name, 1
    while candidate.lower() in taken:
        n += 1
        suffix = " (copy)" if n == 2 else f" (copy {n - 1})"
        candidate = name[: 120 - len(suffix)] + suffix
    return candidate


@transaction.atomic
def plan_copy(*, actor: Membership, plan: Plan) -> Plan:
    """“Download from the Team Library”: the actor's own copy of a library plan and its
    steps, theirs to change; the library plan is not touched by edits to the copy, nor
    the copy by later edits to the library. Triggers are not copied: the member
    attaches their copy to their own buckets."""
    access.require_member(actor, plan.team_id)
    if not plan.in_library:
        raise ValidationError("Only Team Library plans are downloaded.")
    copy = Plan.objects.create(
        team_id=plan.team_id,
        owner=actor,
        name=_copy_name(actor, plan.name),
        description=plan.description,
        stop_on_contact=plan.stop_on_contact,
        copied_from=plan,
    )
    PlanStep.objects.bulk_create(
        [
            PlanStep(
                plan=copy,
                position=step.position,
                kind=step.kind,
                delay_amount=step.delay_amount,
                delay_unit=step.delay_unit,
                delay_from=step.delay_from,
                working_hours_only=step.working_hours_only,
                subject=step.subject,
                body=step.body,
            )
            for step in plan.steps.all()
        ]
    )
    return copy


# --- steps ------------------------------------------------------------------------------


def _plain_check(source: str) -> None:
    if _TEMPLATE_SYNTAX.search(source):
        raise ValidationError(TASK_IS_PLAIN)


def step_check(*, kind: str, delay_amount: int, delay_unit: str, subject: str, body: str) -> None:
    """A ValidationError keyed by field unless the step can be sent: an email needs a
    subject, a task a title; subjects and bodies of emails and texts keep to the
    template sandbox and the contact placeholders."""
    errors: dict[str, list] = {}
    if kind not in StepKind.values:
        errors["kind"] = [f"Unknown step “{kind}”."]
    if delay_unit not in DelayUnit.values:
        errors["delay_unit"] = [f"Unknown unit “{delay_unit}”."]
    elif delay_amount > MAX_DELAY[delay_unit]:
        errors["delay_amount"] = [f"At most {MAX_DELAY[delay_unit]} {delay_unit} (a year)."]
    if kind == StepKind.EMAIL and not subject.strip():
        errors["subject"] = ["An email needs a subject."]
    if kind == StepKind.TASK and not subject.strip():
        errors["subject"] = ["A task needs a title."]
    if not body.strip():
        errors["body"] = ["Write the message." if kind != StepKind.TASK else "Say what to do."]
    check = _plain_check if kind == StepKind.TASK else contact_template_validate
    for name, source in (("subject", subject), ("body", body)):
        if name in errors or (name == "subject" and kind == StepKind.TEXT):
            continue
        try:
            check(source)
        except ValidationError as exc:
            errors[name] = exc.messages
    if errors:
        raise ValidationError(errors)


def _renumber(plan: Plan, ordered: list[PlanStep]) -> None:
    for position, step in enumerate(ordered, start=1):
        step.position = position
    PlanStep.objects.bulk_update(ordered, ["position"])


def _locked_steps(plan: Plan) -> list[PlanStep]:
    """The plan's steps in order, the plan row locked: two editors reorder in turn."""
    Plan.objects.select_for_update().filter(pk=plan.pk).first()
    return list(PlanStep.objects.filter(plan=plan).order_by("position", "id"))


@transaction.atomic
def plan_step_save(
    *,
    actor: Membership,
    plan: Plan,
    step: PlanStep | None = None,
    kind: str,
    delay_amount: int,
    delay_unit: str,
    delay_from: str,
    working_hours_only: bool,
    subject: str,
    body: str,
) -> PlanStep:
    """Add a step at the end of the plan, or change `step`. Running plans keep what
    they scheduled; the change counts for runs started (or resumed) afterwards."""
    selectors.require_edit(actor, plan)
    if step is not None and step.plan_id != plan.pk:
        raise Http404("No such step in this plan.")
    if kind == StepKind.TEXT:
        subject = ""
    step_check(
        kind=kind, delay_amount=delay_amount, delay_unit=delay_unit, subject=subject, body=body
    )
    if delay_from not in DelayFrom.values:
        raise ValidationError({"delay_from": f"Unknown choice “{delay_from}”."})
    if step is None:
        _locked_steps(plan)
        last = plan.steps.aggregate(last=Max("position"))["last"] or 0
        step = PlanStep(plan=plan, position=last + 1)
    step.kind, step.subject, step.body = kind, subject.strip(), body.strip()
    step.delay_amount, step.delay_unit, step.delay_from = delay_amount, delay_unit, delay_from
    step.working_hours_only = working_hours_only
    step.save()
    Plan.objects.filter(pk=plan.pk).update(updated_at=timezone.now())
    return step


@transaction.atomic
def plan_step_move(*, actor: Membership, step: PlanStep, direction: str) -> bool:
    """Move the step one place up or down; False when it is already at that end."""
    plan = step.plan
    selectors.require_edit(actor, plan)
    if direction not in ("up", "down"):
        raise ValidationError(f"Move a step “up” or “down”, not “{direction}”.")
    ordered = _locked_steps(plan)
    index = next((i for i, s in enumerate(ordered) if s.pk == step.pk), None)
    if index is None:
        raise Http404("No such step in this plan.")
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(ordered):
        return False
    ordered[index], ordered[other] = ordered[other], ordered[index]
    _renumber(plan, ordered)
    return True


@transaction.atomic
def plan_step_delete(*, actor: Membership, step: PlanStep) -> None:
    plan = step.plan
    selectors.require_edit(actor, plan)
    ordered = [s for s in _locked_steps(plan) if s.pk != step.pk]
    step.delete()
    _renumber(plan, ordered)


# --- triggers ---------------------------------------------------------------------------


@transaction.atomic
def plan_trigger_add(
    *,
    actor: Membership,
    plan: Plan,
    rule: RoutingRule | None = None,
    bucket: Bucket | None = None,
) -> PlanTrigger:
    """Start the plan for every contact a rule assigns, or placed in a bucket."""
    selectors.require_edit(actor, plan)
    if (rule is None) == (bucket is None):
        raise ValidationError("Choose a rule or a bucket.")
    if rule is not None:
        if plan.owner_id is not None:
            raise ValidationError(
                {"rule": "Rules route for the whole team, so only Team Library plans start "
                 "from a rule. Attach your own plan to one of your buckets."}
            )  # fmt: skip
        if not selectors.trigger_rules(actor, plan).filter(pk=rule.pk).exists():
            raise ValidationError({"rule": "Choose one of your team's routing rules."})
        if plan.triggers.filter(rule=rule).exists():
            raise ValidationError({"rule": f"The plan already starts from “{rule}”."})
    else:
        if not selectors.trigger_buckets(actor, plan).filter(pk=bucket.pk).exists():
            where = "your team's buckets" if plan.owner_id is None else "your own buckets"
            raise ValidationError({"bucket": f"Choose one of {where}."})
        if plan.triggers.filter(bucket=bucket).exists():
            raise ValidationError({"bucket": f"The plan already starts from “{bucket}”."})
    return PlanTrigger.objects.create(plan=plan, rule=rule, bucket=bucket, created_by=actor)


@transaction.atomic
def plan_trigger_remove(*, actor: Membership, trigger: PlanTrigger) -> None:
    selectors.require_edit(actor, trigger.plan)
    trigger.delete()


# --- runs: start ------------------------------------------------------------------------


def step_key(run: PlanRun, step_id: int | None) -> str:
    """The message key of a step of `run`, fresh for every resume (a cancelled key is
    spent: scheduling it again would write nothing)."""
    key = f"plan:{run.pk}:step:{step_id}"
    return f"{key}:r{run.generation}" if run.generation else key


def _label(plan: Plan, position: int, kind: str) -> str:
    return f"Smart Plan “{plan.name}”, step {position}: {StepKind(kind).label.lower()}"


def _schedule(
    run: PlanRun, steps: list[tuple[int, PlanStep]], *, start: datetime
) -> list[tuple[int, PlanStep, str, datetime]]:
    """Schedule each (position, step) from `start`; returns (position, step, key, due).

    Working hours and the zone for whole days are the primary Agent's at this moment
    (none yet: no working-hours limit, the team's zone)."""
    contact = run.contact
    agent = selectors.primary_agent(contact)
    if agent is not None:
        hours = working_hours(
            days=agent.work_days, start=agent.work_start, end=agent.work_end, tz=agent.time_zone
        )
        zone = agent.time_zone or "UTC"
    else:
        hours, zone = None, contact.team.time_zone or "UTC"
    delays = [
        Delay(s.delay_amount, s.delay_unit, s.delay_from, s.working_hours_only) for _, s in steps
    ]
    planned = []
    for (position, step), due in zip(
        steps, due_times(start=start, delays=delays, hours=hours, zone=zone), strict=True
    ):
        key = step_key(run, step.pk)
        common = {
            "contact": contact,
            "key": key,
            "due_at": due,
            "origin": ORIGIN,
            "ref": f"run:{run.pk}:step:{position}",
            "label": _label(run.plan, position, step.kind),
        }
        if step.kind == StepKind.EMAIL:
            contact_email_schedule(subject=step.subject, body=step.body, **common)
        elif step.kind == StepKind.TEXT:
            contact_text_schedule(body=step.body, **common)
        else:
            agent_task_schedule(title=step.subject, body=step.body, **common)
        planned.append((position, step, key, due))
    return planned


def _why_not(plan: Plan, contact: Contact, steps: list[PlanStep]) -> str:
    if not steps:
        return f"“{plan.name}” has no steps yet"
    if contact.status == ContactStatus.ARCHIVED:
        return "the contact is archived"
    if contact.unsubscribed_at is not None:
        return "the contact unsubscribed"
    if contact.texts_stopped_at is not None:
        return "the contact texted STOP"
    return ""


def _started_how(via: str, started_from: str, actor: Membership | None) -> str:
    if via == StartedVia.RULE:
        return f"assigned by the rule “{started_from}”"
    if via == StartedVia.BUCKET:
        return f"placed in the bucket “{started_from}”"
    return f"started by {actor}" if actor else "started by staff"


@transaction.atomic
def plan_run_start(
    *,
    plan: Plan,
    contact: Contact,
    via: str,
    started_from: str = "",
    actor: Membership | None = None,
) -> PlanRun | None:
    """Start `plan` for `contact` and schedule all its steps, in the caller's transaction.

    By hand (`actor`): refused with a ValidationError when the plan cannot run (no
    steps, an archived or unsubscribed contact, already running). Started by a rule or
    a bucket: None then, and the timeline says why it did not start (nothing when it
    was already running)."""
    if actor is not None:
        access.require_member(actor, contact.team_id)
        if not selectors.plans_visible_to(actor).filter(pk=plan.pk).exists():
            raise Http404("No such plan in your team.")
        selectors.require_work_contact(actor, contact)
    if plan.team_id != contact.team_id:
        raise ValidationError("The plan and the contact belong to different teams.")
    if via not in StartedVia.values:
        raise ValueError(f"unknown way to start a plan: {via!r}")
    steps = list(plan.steps.all())
    how = _started_how(via, started_from, actor)
    problem = _why_not(plan, contact, steps)
    if problem:
        if actor is not None:
            raise ValidationError(f"Smart Plan “{plan.name}” can't start: {problem}.")
        timeline_add(
            contact=contact,
            kind="plan_not_started",
            message=f"Smart Plan “{plan.name}” not started ({how}): {problem}.",
        )
        return None
    now = timezone.now()
    try:
        with transaction.atomic():
            run = PlanRun.objects.create(
                team_id=contact.team_id,
                plan=plan,
                contact=contact,
                started_via=via,
                started_from=started_from[:160],
                started_by=actor,
                started_at=now,
            )
    except IntegrityError as exc:  # one live run per contact and plan
        if actor is not None:
            raise ValidationError(
                f"Smart Plan “{plan.name}” is already running for {contact.name}."
            ) from exc
        return None
    run.contact = contact
    planned = _schedule(run, list(enumerate(steps, start=1)), start=now)
    PlanRunStep.objects.bulk_create(
        [
            PlanRunStep(run=run, step=step, position=pos, kind=step.kind, key=key, due_at=due)
            for pos, step, key, due in planned
        ]
    )
    timeline_add(
        contact=contact,
        kind="plan_started",
        actor=actor,
        message=f"Smart Plan “{plan.name}” started — {how}: {len(steps)} "
        f"step{'s' if len(steps) != 1 else ''}.",
        plan=plan.pk,
        run=run.pk,
    )
    return run


def plans_start_for_assignments(*, assignments: list[Assignment]) -> int:
    """Contacts a rule (lead pool) naming plans just routed to an Agent: the rule whose
    decision assigned them, or the Manual pool a person assigned them from. Reassignment
    groups and other assignments by hand start nothing. No query while the team's rules
    start no plan (selectors.trigger_index)."""
    routed = []
    for team_id in {a.contact.team_id for a in assignments if a.rule_id is not None}:
        rules, _ = selectors.trigger_index(team_id=team_id, version=routed_version(team_id=team_id))
        routed += [a for a in assignments if a.contact.team_id == team_id and a.rule_id in rules]
    if not routed:
        return 0
    triggers: dict[int, list[PlanTrigger]] = {}
    for trigger in PlanTrigger.objects.filter(
        rule_id__in={a.rule_id for a in routed}
    ).select_related("plan", "rule"):
        triggers.setdefault(trigger.rule_id, []).append(trigger)
    started = 0
    for assignment in routed:
        for trigger in triggers.get(assignment.rule_id, []):
            run = plan_run_start(
                plan=trigger.plan,
                contact=assignment.contact,
                via=StartedVia.RULE,
                started_from=trigger.rule.name,
            )
            started += run is not None
    return started


def plans_start_for_bucket(*, bucket: Bucket, contacts: list[Contact], via: str) -> int:
    """Contacts newly placed in a bucket that plans start from. Placed by routing (the
    Agent's default bucket), no query while the team's buckets start no plan."""
    if via == BucketVia.ROUTING:
        _, buckets = selectors.trigger_index(
            team_id=bucket.team_id, version=routed_version(team_id=bucket.team_id)
        )
        if bucket.pk not in buckets:
            return 0
    started = 0
    for trigger in PlanTrigger.objects.filter(bucket=bucket).select_related("plan"):
        for contact in contacts:
            run = plan_run_start(
                plan=trigger.plan, contact=contact, via=StartedVia.BUCKET, started_from=bucket.name
            )
            started += run is not None
    return started


def triggers_changed(*, team_id: int) -> None:
    """A trigger was added or removed (pages, admin, a deleted rule, bucket or plan):
    routers, and the trigger index kept per routing version, look again."""
    routing_version_bump(team_id=team_id)


# --- runs: pause, resume, stop, end -----------------------------------------------------


def _locked(run: PlanRun) -> PlanRun:
    locked = PlanRun.objects.select_for_update().select_related("plan", "contact__team")
    return locked.get(pk=run.pk)


def _cancel(run: PlanRun, reason: str) -> None:
    contact_messages_cancel(key_prefix=run.key_prefix(), reason=reason)
    run.run_steps.filter(status=StepStatus.SCHEDULED).update(status=StepStatus.CANCELLED)


def _require_work(actor: Membership, run: PlanRun) -> None:
    access.require_member(actor, run.team_id)
    selectors.require_work_contact(actor, run.contact)


def _end(run: PlanRun, status: str, *, reason: str, actor: Membership | None = None) -> bool:
    """End a live run (stopped, or completed); False when it had ended already."""
    run = _locked(run)
    if not run.is_live:
        return False
    now = timezone.now()
    if status == RunStatus.STOPPED:
        _cancel(run, reason=f"Smart Plan stopped: {reason}")
    run.status, run.ended_at, run.end_reason = status, now, reason[:200]
    run.paused_at = None
    run.save(update_fields=["status", "ended_at", "end_reason", "paused_at"])
    verb = "stopped" if status == RunStatus.STOPPED else "completed"
    timeline_add(
        contact=run.contact,
        kind=f"plan_{verb}",
        actor=actor,
        message=f"Smart Plan “{run.plan.name}” {verb}: {reason}.",
        plan=run.plan_id,
        run=run.pk,
    )
    return True


@transaction.atomic
def plan_run_pause(*, actor: Membership, run: PlanRun) -> PlanRun:
    """Hold the run: its pending messages are cancelled until it is resumed."""
    _require_work(actor, run)
    run = _locked(run)
    if run.status != RunStatus.RUNNING:
        raise ValidationError(f"The plan is {run.get_status_display().lower()}, not running.")
    _cancel(run, reason=f"Smart Plan paused by {actor}")
    run.status, run.paused_at = RunStatus.PAUSED, timezone.now()
    run.save(update_fields=["status", "paused_at"])
    timeline_add(
        contact=run.contact,
        kind="plan_paused",
        actor=actor,
        message=f"Smart Plan “{run.plan.name}” paused by {actor}.",
        plan=run.plan_id,
        run=run.pk,
    )
    return run


@transaction.atomic
def plan_run_resume(*, actor: Membership, run: PlanRun) -> PlanRun:
    """Run again: the steps the pause cancelled are scheduled anew, counted from now.
    A message that went out anyway (it was being sent as the pause came) stays sent."""
    _require_work(actor, run)
    run = _locked(run)
    if run.status != RunStatus.PAUSED:
        raise ValidationError(f"The plan is {run.get_status_display().lower()}, not paused.")
    cancelled = list(run.run_steps.filter(status=StepStatus.CANCELLED).select_related("step"))
    states = contact_messages_status(keys=[r.key for r in cancelled])
    again, kept = [], []
    for row in cancelled:
        state = states.get(row.key)
        if state is not None and state.status == "sent":
            row.status, row.done_at = StepStatus.SENT, state.sent_at
            kept.append(row)
        elif state is not None and state.status not in ("skipped", "failed"):
            row.status = StepStatus.SCHEDULED  # still on its way: the pause missed it
            kept.append(row)
        elif row.step is not None:  # a step deleted from the plan meanwhile stays cancelled
            again.append(row)
    now = timezone.now()
    run.status, run.paused_at, run.generation = RunStatus.RUNNING, None, run.generation + 1
    run.save(update_fields=["status", "paused_at", "generation"])
    planned = _schedule(run, [(r.position, r.step) for r in again], start=now)
    for row, (_, _, key, due) in zip(again, planned, strict=True):
        row.key, row.due_at, row.status, row.done_at = key, due, StepStatus.SCHEDULED, None
    PlanRunStep.objects.bulk_update([*again, *kept], ["key", "due_at", "status", "done_at"])
    timeline_add(
        contact=run.contact,
        kind="plan_resumed",
        actor=actor,
        message=f"Smart Plan “{run.plan.name}” resumed by {actor}: {len(again)} "
        f"step{'s' if len(again) != 1 else ''} scheduled again.",
        plan=run.plan_id,
        run=run.pk,
    )
    _complete_if_done(run)
    return run


@transaction.atomic
def plan_run_stop(*, actor: Membership, run: PlanRun) -> bool:
    _require_work(actor, run)
    ended = _end(run, RunStatus.STOPPED, reason=f"stopped by {actor}", actor=actor)
    if not ended:
        raise ValidationError("The plan has ended already.")
    return ended


def _complete_if_done(run: PlanRun) -> bool:
    if run.status != RunStatus.RUNNING:
        return False
    # A running run's cancelled steps are steps deleted from the plan while it was paused.
    if run.run_steps.filter(status=StepStatus.SCHEDULED).exists():
        return False
    count = run.run_steps.count()
    done = "its one step done" if count == 1 else f"all {count} steps done"
    return _end(run, RunStatus.COMPLETED, reason=done)


@transaction.atomic
def plan_runs_stop_for_contact(*, contact: Contact, reason: str) -> int:
    """Stop every live run of the contact (archived, unsubscribed)."""
    stopped = 0
    for run in PlanRun.objects.filter(contact=contact, status__in=LIVE_STATUSES):
        stopped += _end(run, RunStatus.STOPPED, reason=reason)
    return stopped


@transaction.atomic
def plan_runs_stop_on_reply(*, contact: Contact, channel: str) -> int:
    """The contact wrote back: plans set to stop on contact end."""
    stopped = 0
    runs = PlanRun.objects.filter(
        contact=contact, status__in=LIVE_STATUSES, plan__stop_on_contact=True
    )
    for run in runs:
        stopped += _end(run, RunStatus.STOPPED, reason=f"the contact replied by {channel}")
    return stopped


@transaction.atomic
def plan_runs_stop_on_activity(*, contact: Contact, membership: Membership, activity) -> int:
    """The contact's primary Agent called, texted, emailed or wrote a note: plans set to
    stop on contact end. Only runs started before the activity: the call that claims a
    Next Up offer (and so starts a rule's plan) does not end that same plan."""
    if activity.kind not in CONVERSATION_KINDS:
        return 0
    runs = list(
        PlanRun.objects.filter(
            contact=contact,
            status__in=LIVE_STATUSES,
            plan__stop_on_contact=True,
            started_at__lt=activity.created_at,
        )
    )
    if not runs:
        return 0
    agent = selectors.primary_agent(contact)
    if agent is None or agent.pk != membership.pk:
        return 0
    kind = activity.get_kind_display().lower()
    stopped = 0
    for run in runs:
        stopped += _end(run, RunStatus.STOPPED, reason=f"{membership} logged a {kind}")
    return stopped


@transaction.atomic
def plan_run_step_done(
    *, message_key: str, status: str, agent: Membership | None, at: datetime
) -> bool:
    """A step's message reached its end (sent, skipped or failed): note it, and complete
    the run when nothing is left to send. False for a key no run step has (any more)."""
    if status not in MESSAGE_STATUS:
        raise ValueError(f"unknown message outcome {status!r}")
    row = PlanRunStep.objects.select_related("run").filter(key=message_key).first()
    if row is None:
        return False
    row.status, row.done_at, row.agent = MESSAGE_STATUS[status], at, agent
    row.save(update_fields=["status", "done_at", "agent"])
    _complete_if_done(row.run)
    return True
