"""Builders for Smart Plans tests: plans and steps straight into the tables (their
services have tests of their own), runs through the real services."""

from plans.models import Plan, PlanStep

EMAIL = {
    "kind": "email",
    "subject": "Welcome, {{ contact_first_name }}",
    "body": "Hi {{ contact_first_name }},\n\nTalk soon.\n{{ agent_signature }}",
}
TEXT = {"kind": "text", "body": "Hi {{ contact_first_name }}, it's {{ agent_first_name }}."}
TASK = {"kind": "task", "subject": "Call the contact", "body": "Ask about their move."}


def make_plan(team, *steps, owner=None, name="Buyer nurture", **fields) -> Plan:
    """A plan with `steps`: dicts of PlanStep fields (delays default to 0 days)."""
    plan = Plan.objects.create(team=team, owner=owner, name=name, **fields)
    for position, step in enumerate(steps, start=1):
        PlanStep.objects.create(plan=plan, position=position, **step)
    return plan


def step(base: dict, amount: int = 0, unit: str = "days", **fields) -> dict:
    return {**base, "delay_amount": amount, "delay_unit": unit, **fields}
