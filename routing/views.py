"""Contact Routing settings: the ordered rules, their editors, the simulator and fairness.

Thin views over routing.rules (writes), routing.simulator and routing.reports (reads).
Every page needs "Contact Routing Rule Management" on the member's current team; rules
of other teams are 404s. htmx requests get the changed fragment, plain form posts are
redirected back to the list, so every page works without JavaScript too.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django.views.decorators.vary import vary_on_headers

from contacts.models import ContactType
from routing import engine
from routing import rules as rule_services
from routing.forms import DefaultRuleForm, RuleForm, SimulatorForm, plan_needed, posted_rule_order
from routing.models import LocationMatch, Method, RoutingRule, RuleAssignee
from routing.reports import ShareRow, rule_fairness
from routing.selectors import rule_for_member, rules_for_settings
from routing.simulator import routing_simulate
from teams import permissions as perms
from teams.access import member_required
from teams.models import Membership

LIST = "routing/rules/list.html"
SECTION = "routing/rules/list.html#section"
RULE_FORM = "routing/rules/form.html"
FAIRNESS_PERIODS = (7, 30, 90)
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


# --- the list ----------------------------------------------------------------------


def _criteria_summary(rule: RoutingRule) -> list[str]:
    either = " (or empty)" if rule.location_match == LocationMatch.EMPTY_OR_MATCH else ""
    types = [ContactType(t).label if t in ContactType.values else t for t in rule.contact_types]
    parts = [
        f"{label}: {', '.join(values)}{suffix}"
        for label, values, suffix in (
            ("Source", rule.sources, ""),
            ("Type", types, ""),
            ("City", rule.cities, either),
            ("ZIP", rule.zip_codes, either),
            ("State", rule.states, either),
            ("Any tag", rule.tags_any, ""),
            ("All tags", rule.tags_all, ""),
        )
        if values
    ]
    if rule.price_min is not None or rule.price_max is not None:
        low = f"{rule.price_min:,}" if rule.price_min is not None else "any"
        high = f"{rule.price_max:,}" if rule.price_max is not None else "any"
        parts.append(f"Price: {low} to {high}")
    flags = ((rule.require_phone, "Has phone"), (rule.require_email, "Has email"))
    parts += [text for flag, text in flags if flag]
    if rule.work_start is not None:
        days = [DAY_NAMES[int(d)] for d in rule.work_days.split(",") if d.strip()]
        zone = rule.time_zone or rule.team.time_zone
        hours = (
            "all day"
            if rule.work_start == rule.work_end
            else f"{rule.work_start:%H:%M} to {rule.work_end:%H:%M}"
        )
        parts.append(f"Arrives: {', '.join(days) or 'every day'} {hours} {zone}")
    return parts


def _assignee_labels(rule: RoutingRule) -> list[str]:
    assignees: list[RuleAssignee] = list(rule.assignees.all())
    shares = rule.method != Method.BLAST and len({a.weight for a in assignees}) > 1
    labels = []
    for a in assignees:
        label = a.membership.display_name if a.membership_id else f"Tag: {a.agent_tag.name}"
        labels.append(f"{label} {a.weight}%" if shares else label)
    return labels


def _describe(rules: list[RoutingRule]) -> list[RoutingRule]:
    """Adds what the list shows: number, summary, method and who gets the contacts."""
    numbers = {r.pk: n for n, r in enumerate((r for r in rules if not r.is_default), start=1)}
    for rule in rules:
        rule.number = numbers.get(rule.pk)
        rule.is_first = rule.number == 1
        rule.is_last = rule.number == len(numbers)
        rule.summary = _criteria_summary(rule)
        rule.method_label = engine.METHOD_LABELS.get(rule.method, rule.method)
        rule.method_ok = engine.method_allowed(rule.team.plan, rule.method)
        rule.upgrade_to = None if rule.method_ok else plan_needed(rule.method)
        rule.assignee_labels = _assignee_labels(rule)
        rule.pool_buckets = [b.name for b in rule.source_buckets.all()]
    return rules


def _rules_context(membership: Membership, **extra) -> dict:
    """The team's rules, Default Rule last, in a fixed number of queries."""
    rules = _describe(rules_for_settings(team=membership.team))
    return {
        "rules": [r for r in rules if not r.is_default],
        "default_rule": next((r for r in rules if r.is_default), None),
        **extra,
    }


def _list_response(request, membership, *, notice: str = "", error: str = "", status: int = 200):
    """htmx gets the refreshed list; a plain post is redirected to it unless it failed."""
    if not request.htmx and not error:
        messages.success(request, notice)
        return redirect("routing:rule_list")
    context = _rules_context(membership, notice=notice, error=error)
    return render(request, SECTION if request.htmx else LIST, context, status=status)


@require_safe
@vary_on_headers("HX-Request")
@member_required(perm=perms.MANAGE_ROUTING_RULES)
def rule_list(request):
    membership = request.membership
    return render(request, SECTION if request.htmx else LIST, _rules_context(membership))


@require_POST
@vary_on_headers("HX-Request")
@member_required(perm=perms.MANAGE_ROUTING_RULES)
def rule_reorder(request):
    """The drag-and-drop (or Move up/down) order; the ids must be exactly the team's rules."""
    membership = request.membership
    try:
        order = posted_rule_order(request.POST)
    except ValidationError as exc:
        return _list_response(request, membership, error=exc.messages[0], status=400)
    try:
        rule_services.rule_reorder(actor=membership, team=membership.team, rule_ids=order)
    except ValidationError as exc:
        return _list_response(request, membership, error=exc.messages[0], status=409)
    return _list_response(request, membership, notice="Order saved: rule 1 is checked first.")


@require_POST
@vary_on_headers("HX-Request")
@member_required(perm=perms.MANAGE_ROUTING_RULES)
def rule_pause(request, rule_id: int):
    """Pause (paused=1) or resume (paused=0); htmx gets the rule's row back."""
    membership = request.membership
    rule = rule_for_member(membership, rule_id)
    paused = request.POST.get("paused") == "1"
    try:
        rule_services.rule_set_paused(actor=membership, rule=rule, paused=paused)
    except ValidationError as exc:
        return _list_response(request, membership, error=exc.messages[0], status=400)
    if not request.htmx:
        state = "paused: contacts skip it" if paused else "active again"
        return _list_response(request, membership, notice=f"“{rule.name}” is {state}.")
    context = _rules_context(membership)
    row = next(r for r in context["rules"] if r.pk == rule.pk)
    return render(request, "routing/rules/list.html#row", {**context, "rule": row})


@require_POST
@vary_on_headers("HX-Request")
@member_required(perm=perms.MANAGE_ROUTING_RULES)
def rule_copy(request, rule_id: int):
    membership = request.membership
    rule = rule_for_member(membership, rule_id)
    try:
        copy = rule_services.rule_copy(actor=membership, rule=rule)
    except ValidationError as exc:
        return _list_response(request, membership, error=exc.messages[0], status=400)
    notice = f"Copied “{rule.name}” as “{copy.name}”. The copy is paused until you resume it."
    return _list_response(request, membership, notice=notice)


@require_safe
@member_required(perm=perms.MANAGE_ROUTING_RULES)
def rule_delete_confirm(request, rule_id: int):
    """The confirmation page for browsers without JavaScript (htmx asks with hx-confirm)."""
    membership = request.membership
    rule = rule_for_member(membership, rule_id)
    if rule.is_default:
        return redirect("routing:default_rule_edit")
    return render(request, "routing/rules/confirm_delete.html", {"rule": rule})


@require_POST
@vary_on_headers("HX-Request")
@member_required(perm=perms.MANAGE_ROUTING_RULES)
def rule_delete(request, rule_id: int):
    membership = request.membership
    rule = rule_for_member(membership, rule_id)
    try:
        rule_services.rule_delete(actor=membership, rule=rule)
    except ValidationError as exc:
        return _list_response(request, membership, error=exc.messages[0], status=400)
    return _list_response(request, membership, notice=f"Deleted “{rule.name}”.")


# --- the editors -------------------------------------------------------------------


def _editor(request, membership, form, *, template: str, rule, done: str):
    """Save a valid editor form and go back to the list; otherwise show it with its errors."""
    if form.is_bound and form.is_valid():
        try:
            saved, reset = form.save(actor=membership)
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, done.format(name=saved.name))
            if reset:
                messages.warning(
                    request,
                    "The assignees changed, so the order of distribution was reset: "
                    "the rotation starts again from the top.",
                )
            return redirect("routing:rule_list")
    return render(request, template, {"form": form, "rule": rule})


def _posted(request):
    return request.POST if request.method == "POST" else None


@require_http_methods(["GET", "HEAD", "POST"])
@member_required(perm=perms.MANAGE_ROUTING_RULES)
def rule_create(request):
    membership = request.membership
    form = RuleForm(_posted(request), team=membership.team, membership=membership)
    done = "Rule “{name}” created at the bottom of the list; move it up to check it sooner."
    return _editor(request, membership, form, template=RULE_FORM, rule=None, done=done)


@require_http_methods(["GET", "HEAD", "POST"])
@member_required(perm=perms.MANAGE_ROUTING_RULES)
def rule_edit(request, rule_id: int):
    membership = request.membership
    rule = rule_for_member(membership, rule_id)
    if rule.is_default:
        return redirect("routing:default_rule_edit")
    form = RuleForm(_posted(request), team=membership.team, rule=rule, membership=membership)
    done = "Rule “{name}” saved."
    return _editor(request, membership, form, template=RULE_FORM, rule=rule, done=done)


@require_http_methods(["GET", "HEAD", "POST"])
@member_required(perm=perms.MANAGE_ROUTING_RULES)
def default_rule_edit(request):
    membership = request.membership
    rule = get_object_or_404(RoutingRule, team_id=membership.team_id, is_default=True)
    rule.team = membership.team
    form = DefaultRuleForm(_posted(request), team=membership.team, rule=rule)
    template = "routing/rules/default_form.html"
    return _editor(request, membership, form, template=template, rule=rule, done="{name} saved.")


# --- simulator and fairness ----------------------------------------------------------


@require_safe
@member_required(perm=perms.MANAGE_ROUTING_RULES)
def simulator(request):
    """Which rule would take a sample contact, and who is next. GET: it changes nothing."""
    membership = request.membership
    form = SimulatorForm(request.GET or None, team=membership.team)
    simulation = skipped = None
    if form.is_bound and form.is_valid():
        simulation = routing_simulate(team=membership.team, facts=form.facts())
        skipped = [(s.name, engine.REASON_TEXT.get(s.reason, s.reason)) for s in simulation.skipped]
    context = {"form": form, "simulation": simulation, "skipped": skipped}
    return render(request, "routing/rules/simulator.html", context)


def _bar_chart(rows: list[ShareRow]) -> dict:
    """Geometry for the fairness SVG: a name line, then target and actual bars per agent.

    Widths are percentages of the chart so it fits a phone without shrinking the text;
    bars use at most 70% of the width to leave room for their value labels.
    """
    group, bars = 64, []
    for i, row in enumerate(rows):
        y = i * group
        target_width, actual_width = round(row.target * 70, 2), round(row.actual * 70, 2)
        bars.append(
            {
                "row": row,
                "target": round(row.target * 100),
                "actual": round(row.actual * 100),
                "y_name": y + 14,
                "y_target": y + 22,
                "y_actual": y + 40,
                "target_width": target_width,
                "actual_width": actual_width,
                "target_text_x": round(target_width + 1.5, 2),
                "actual_text_x": round(actual_width + 1.5, 2),
            }
        )
    return {"bars": bars, "height": max(len(rows) * group, 1)}


@require_safe
@member_required(perm=perms.MANAGE_ROUTING_RULES)
def fairness(request, rule_id: int):
    """Target share vs actual share per agent over the last 7, 30 or 90 days."""
    membership = request.membership
    rule = rule_for_member(membership, rule_id)
    days = int(request.GET["days"]) if request.GET.get("days") in {"7", "30", "90"} else 30
    now = timezone.now()
    rows = rule_fairness(rule=rule, since=now - timedelta(days=days), until=now)
    context = {
        "rule": rule,
        "days": days,
        "periods": FAIRNESS_PERIODS,
        "rows": rows,
        "total": sum(r.count for r in rows),
        "chart": _bar_chart(rows),
    }
    return render(request, "routing/rules/fairness.html", context)
