"""Small builders for routing tests: rules through the real services."""

from contacts.models import Contact
from contacts.services import contact_create
from routing.models import RoutingLog
from routing.rules import AssigneeSpec, rule_create


def rule(team, name, *members, method="round_robin", weights=None, tags=(), **fields):
    specs = [
        AssigneeSpec(membership=m, weight=(weights[i] if weights else 1))
        for i, m in enumerate(members)
    ]
    specs += [AssigneeSpec(agent_tag=t) for t in tags]
    return rule_create(actor=None, team=team, name=name, method=method, assignees=specs, **fields)


def new_contact(team, capture, **fields) -> Contact:
    """Create a contact as every intake path does and let routing run after commit."""
    fields.setdefault("first_name", "Lead")
    fields.setdefault("source", "Zillow")
    with capture(execute=True):
        contact = contact_create(team=team, **fields)
    contact.refresh_from_db()
    return contact


def agent_of(contact: Contact):
    role = contact.roles.filter(kind="agent").select_related("membership").first()
    return role.membership if role else None


def log_lines(contact: Contact) -> list[tuple[str, str, str]]:
    """The contact's routing log as people read it: (event, rule or group, text) lines."""
    return [
        (line.code, line.source, line.text)
        for entry in RoutingLog.objects.filter(contact=contact).order_by("created_at", "id")
        for line in entry.lines
    ]


def assigned_contact(team, member, **fields) -> Contact:
    """A contact whose primary Agent is `member` (routing done)."""
    from contacts.tests.factories import ContactFactory
    from routing.manual import contact_assign_directly

    contact = ContactFactory(team=team, **fields)
    contact_assign_directly(actor=None, contact=contact, membership=member)
    contact.refresh_from_db()
    return contact


def reassignment_group(team, *members, method="round_robin", **fields):
    from routing.groups import GroupAssignee, reassignment_group_create

    return reassignment_group_create(
        actor=None,
        team=team,
        name=fields.pop("name", f"{method} group"),
        method=method,
        assignees=[GroupAssignee(membership=m) for m in members],
        **fields,
    )


def rule_post(**overrides) -> dict:
    """What the rule editor posts for a full Next Up rule; `overrides` change fields (None
    leaves one out)."""
    data = {
        "name": "Zillow buyers",
        "sources": "Zillow, Facebook",
        "contact_types": ["buyer", "investor"],
        "cities": "Austin, Round Rock",
        "zip_codes": "",
        "states": "TX",
        "location_match": "empty_or_match",
        "price_min": "200000",
        "price_max": "500000",
        "tags_any": "hot",
        "tags_all": "",
        "require_phone": "on",
        "work_days": ["0", "1", "2", "3", "4"],
        "work_start": "09:00",
        "work_end": "17:00",
        "time_zone": "America/Chicago",
        "method": "next_up",
        "claim_window_minutes": "10",
        "skip_paused": "on",
        "respect_capacity": "on",
        "follow_up_reminder_hours": "24",
        "hold_max_minutes": "60",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}
