"""Smart Plans pages: the library and the member's own plans, a plan with its steps and
triggers, and the Smart Plans card of the contact profile.

The profile belongs to routing, which cannot know about plans, so the card is fetched
by htmx when the profile loads (`hx-trigger="load"`) and its buttons answer with the
card again; without htmx they post and come back to the profile. Refusals of a
service (ValidationError) come back as field errors or messages, 403 and 404 as
teams.access says.
"""

from __future__ import annotations

import copy

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST, require_safe

from contacts import selectors as contact_selectors
from contacts.models import Contact
from notifications.contact_messages import CONTACT_PLACEHOLDERS
from plans import selectors, services
from plans.forms import BucketTriggerForm, PlanForm, RuleTriggerForm, StartForm, StepForm
from plans.models import LIVE_STATUSES, Plan, PlanStep, PlanTrigger, StartedVia
from teams import access
from teams.access import member_required

CARD = "plans/contact_card.html#card"
RUN_ACTIONS = {
    "pause": (services.plan_run_pause, "Paused “{plan}”: its pending steps are cancelled."),
    "resume": (services.plan_run_resume, "Resumed “{plan}”: its remaining steps count from now."),
    "stop": (services.plan_run_stop, "Stopped “{plan}”."),
}


def _plan_url(plan: Plan) -> str:
    return reverse("plans:detail", args=[plan.pk])


def _editable(request, pk: int) -> Plan:
    plan = selectors.plan_for_member(request.membership, pk)
    selectors.require_edit(request.membership, plan)
    return plan


def _step(plan: Plan, step_id: int) -> PlanStep:
    return get_object_or_404(PlanStep.objects.select_related("plan"), pk=step_id, plan=plan)


# --- the library and the member's plans -----------------------------------------------


@require_safe
@member_required
def plan_list(request):
    member = request.membership
    context = {
        "library": selectors.library_plans(member).prefetch_related("steps"),
        "own": selectors.own_plans(member).prefetch_related("steps").select_related("copied_from"),
        "can_edit_library": access.has_perm(member, selectors.LIBRARY_PERM),
        "library_help": selectors.LIBRARY_HELP,
    }
    return render(request, "plans/list.html", context)


@require_safe
@member_required
def plan_new(request):
    library = request.GET.get("library") == "1"
    if library:
        access.require_perm(request.membership, selectors.LIBRARY_PERM)
    return render(request, "plans/plan_new.html", {"form": PlanForm(), "library": library})


@require_POST
@member_required
def plan_create(request):
    library = request.POST.get("library") == "1"
    form = PlanForm(request.POST)
    if form.is_valid():
        try:
            plan = services.plan_create(
                actor=request.membership, library=library, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Created “{plan.name}”. Now add its steps.")
            return redirect(_plan_url(plan))
    context = {"form": form, "library": library}
    return render(request, "plans/plan_new.html", context, status=422)


# --- a plan -----------------------------------------------------------------------------


def _detail(request, plan: Plan, *, status: int = 200, **forms):
    member = request.membership
    editable = selectors.may_edit(member, plan)
    context = {
        "plan": plan,
        "steps": selectors.plan_steps(plan),
        "triggers": selectors.plan_triggers(plan),
        "editable": editable,
        "library_help": selectors.LIBRARY_HELP,
        "form": forms.get("form") or (PlanForm(instance=plan) if editable else None),
        "live_runs": plan.runs.filter(status__in=LIVE_STATUSES).count(),
    }
    if editable:
        rules = selectors.trigger_rules(member, plan)
        context["rule_form"] = forms.get("rule_form") or (
            RuleTriggerForm(rules=rules) if rules.exists() else None
        )
        context["bucket_form"] = forms.get("bucket_form") or BucketTriggerForm(
            buckets=selectors.trigger_buckets(member, plan)
        )
    return render(request, "plans/plan.html", context, status=status)


@require_safe
@member_required
def plan_detail(request, pk: int):
    return _detail(request, selectors.plan_for_member(request.membership, pk))


@require_POST
@member_required
def plan_save(request, pk: int):
    plan = _editable(request, pk)
    # A copy: an invalid name must not become the page's heading.
    form = PlanForm(request.POST, instance=copy.copy(plan))
    if form.is_valid():
        try:
            services.plan_update(actor=request.membership, plan=plan, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Saved.")
            return redirect(_plan_url(plan))
    return _detail(request, plan, form=form, status=422)


@require_POST
@member_required
def plan_delete(request, pk: int):
    plan = _editable(request, pk)
    stopped = services.plan_delete(actor=request.membership, plan=plan)
    note = f" {stopped} running plan{'s' if stopped != 1 else ''} stopped." if stopped else ""
    messages.success(request, f"Deleted “{plan.name}”.{note}")
    return redirect("plans:list")


@require_POST
@member_required
def plan_copy(request, pk: int):
    plan = selectors.plan_for_member(request.membership, pk)
    try:
        mine = services.plan_copy(actor=request.membership, plan=plan)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(_plan_url(plan))
    messages.success(request, f"Downloaded “{plan.name}” into your plans as “{mine.name}”.")
    return redirect(_plan_url(mine))


# --- steps ------------------------------------------------------------------------------


def _step_page(request, plan, form, step=None, status=200):
    context = {"plan": plan, "form": form, "step": step, "placeholders": CONTACT_PLACEHOLDERS}
    return render(request, "plans/step_form.html", context, status=status)


def _step_write(request, plan: Plan, step: PlanStep | None):
    form = StepForm(request.POST, instance=step or PlanStep(plan=plan))
    if form.is_valid():
        try:
            services.plan_step_save(
                actor=request.membership, plan=plan, step=step, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Step saved." if step else "Step added.")
            return redirect(_plan_url(plan) + "#steps")
    return _step_page(request, plan, form, step, status=422)


@require_safe
@member_required
def step_new(request, pk: int):
    return _step_page(request, _editable(request, pk), StepForm())


@require_POST
@member_required
def step_add(request, pk: int):
    return _step_write(request, _editable(request, pk), None)


@require_safe
@member_required
def step_edit(request, pk: int, step_id: int):
    plan = _editable(request, pk)
    step = _step(plan, step_id)
    return _step_page(request, plan, StepForm(instance=step), step)


@require_POST
@member_required
def step_save(request, pk: int, step_id: int):
    plan = _editable(request, pk)
    return _step_write(request, plan, _step(plan, step_id))


@require_POST
@member_required
def step_move(request, pk: int, step_id: int):
    plan = _editable(request, pk)
    try:
        services.plan_step_move(
            actor=request.membership,
            step=_step(plan, step_id),
            direction=request.POST.get("direction", ""),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(_plan_url(plan) + "#steps")


@require_POST
@member_required
def step_delete(request, pk: int, step_id: int):
    plan = _editable(request, pk)
    services.plan_step_delete(actor=request.membership, step=_step(plan, step_id))
    messages.success(request, "Step deleted.")
    return redirect(_plan_url(plan) + "#steps")


# --- triggers ---------------------------------------------------------------------------


@require_POST
@member_required
def trigger_add(request, pk: int, kind: str):
    plan = _editable(request, pk)
    member = request.membership
    if kind == "rule":
        form = RuleTriggerForm(request.POST, rules=selectors.trigger_rules(member, plan))
    elif kind == "bucket":
        form = BucketTriggerForm(request.POST, buckets=selectors.trigger_buckets(member, plan))
    else:
        raise Http404("No such trigger.")
    if form.is_valid():
        try:
            trigger = services.plan_trigger_add(actor=member, plan=plan, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"“{plan.name}” now starts when: {trigger}.")
            return redirect(_plan_url(plan) + "#triggers")
    return _detail(request, plan, status=422, **{f"{kind}_form": form})


@require_POST
@member_required
def trigger_remove(request, pk: int, trigger_id: int):
    plan = _editable(request, pk)
    trigger = get_object_or_404(
        PlanTrigger.objects.select_related("plan"), pk=trigger_id, plan=plan
    )
    services.plan_trigger_remove(actor=request.membership, trigger=trigger)
    messages.success(request, f"Removed: {trigger}.")
    return redirect(_plan_url(plan) + "#triggers")


# --- the contact profile's card ---------------------------------------------------------


def _card(request, contact: Contact, *, note: str = "", error: str = "", status: int = 200):
    member = request.membership
    can_work = selectors.may_work_contact(member, contact)
    plans = selectors.runnable_plans(member) if can_work else Plan.objects.none()
    context = {
        "contact": contact,
        "runs": selectors.contact_runs(contact),
        "can_work": can_work,
        "start_form": StartForm(plans=plans) if can_work and plans.exists() else None,
        "note": note,
        "error": error,
    }
    response = render(request, CARD, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _card_or_profile(request, contact: Contact, *, note: str = "", error: str = ""):
    """htmx: the card again, saying what happened; otherwise back to the profile."""
    if request.htmx:
        return _card(request, contact, note=note, error=error, status=422 if error else 200)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, note)
    return redirect(reverse("contact_pages:profile", args=[contact.pk]) + "#smart-plans")


@require_safe
@member_required
def contact_card(request, contact_id: int):
    contact = contact_selectors.contact_for_member(request.membership, contact_id)
    if not request.htmx:
        return redirect(reverse("contact_pages:profile", args=[contact.pk]) + "#smart-plans")
    return _card(request, contact)


@require_POST
@member_required
def contact_start(request, contact_id: int):
    member = request.membership
    contact = contact_selectors.contact_for_member(member, contact_id)
    selectors.require_work_contact(member, contact)
    form = StartForm(request.POST, plans=selectors.runnable_plans(member))
    if not form.is_valid():
        return _card_or_profile(request, contact, error="Choose one of the plans listed.")
    plan = form.cleaned_data["plan"]
    try:
        services.plan_run_start(plan=plan, contact=contact, via=StartedVia.HAND, actor=member)
    except ValidationError as exc:
        return _card_or_profile(request, contact, error=" ".join(exc.messages))
    return _card_or_profile(request, contact, note=f"Started “{plan.name}”.")


@require_POST
@member_required
def run_action(request, run_id: int, action: str):
    if action not in RUN_ACTIONS:
        raise Http404("No such action.")
    run = selectors.run_for_member(request.membership, run_id)
    service, done = RUN_ACTIONS[action]
    try:
        service(actor=request.membership, run=run)
    except ValidationError as exc:
        return _card_or_profile(request, run.contact, error=" ".join(exc.messages))
    return _card_or_profile(request, run.contact, note=done.format(plan=run.plan.name))
