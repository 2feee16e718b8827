"""A demo team to click through: `python manage.py seed_demo [--reset]`.

Idempotent: a second run creates only what is missing. `--reset` deletes the
demo team (users are kept and reused) and seeds it again from scratch.
"""

from __future__ import annotations

import logging
import random
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import time, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from contacts.buckets import bucket_create
from contacts.models import Activity, ActivityKind, Bucket, Contact, ContactRole, RoleKind
from contacts.services import activity_log, contact_create
from routing.assignees import AssigneeSpec
from routing.models import (
    ContactRouting,
    Method,
    Offer,
    OfferKind,
    OfferStatus,
    Rotation,
    RoutingStatus,
)
from routing.route import contact_route
from routing.rules import default_rule_ensure, rule_create
from teams.models import Group, Membership, Plan, Role, Team
from teams.services import (
    agent_tag_get_or_create,
    group_create,
    membership_add,
    membership_set_availability,
    team_create,
)

PASSWORD = "switchboard"
TEAM_NAME = "Demo Realty"
TIME_ZONE = "America/Chicago"
AGENT_TAGS = ("Buyers", "Sellers", "Luxury", "Spanish")
# (name, parent name)
GROUPS = (("Austin Office", None), ("Downtown Team", "Austin Office"), ("Dallas Office", None))


@dataclass(frozen=True)
class Person:
    username: str
    first_name: str
    last_name: str
    role: str
    tags: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    online: bool = True
    vacation_days: int | None = None
    capacity: int | None = None
    hours: tuple[time, time] | None = None
    note: str = ""


PEOPLE = (
    Person(
        "admin1",
        "Avery",
        "Morgan",
        Role.ADMIN,
        groups=("Austin Office",),
        note="default-rule assignee",
    ),
    Person("admin2", "Jordan", "Lee", Role.ADMIN, groups=("Dallas Office",)),
    Person("agent1", "Maria", "Garcia", Role.AGENT, ("Buyers", "Spanish"), ("Downtown Team",)),
    Person("agent2", "James", "Carter", Role.AGENT, ("Buyers",), ("Austin Office",)),
    Person("agent3", "Priya", "Patel", Role.AGENT, ("Luxury", "Sellers"), ("Downtown Team",)),
    Person("agent4", "Daniel", "Kim", Role.AGENT, ("Luxury", "Buyers"), ("Dallas Office",)),
    Person(
        "agent5",
        "Sofia",
        "Hernandez",
        Role.AGENT,
        ("Sellers", "Spanish"),
        ("Dallas Office",),
        vacation_days=7,
        note="paused: on vacation for a week",
    ),
    Person(
        "agent6",
        "Ethan",
        "Brooks",
        Role.AGENT,
        ("Sellers",),
        ("Austin Office",),
        capacity=5,
        note="capacity: 5 open contacts",
    ),
    Person(
        "agent7",
        "Olivia",
        "Nguyen",
        Role.AGENT,
        ("Buyers",),
        ("Dallas Office",),
        online=False,
        note="offline",
    ),
    Person(
        "agent8",
        "Lucas",
        "Rivera",
        Role.AGENT,
        ("Spanish", "Buyers"),
        ("Austin Office",),
        hours=(time(8), time(18)),
        note="works 08:00-18:00 Mon-Fri",
    ),
)

FIRST_NAMES = (
    "Emma", "Noah", "Ava", "Liam", "Mia", "Mason", "Isabella", "Logan", "Harper", "Lucas",
    "Amelia", "Elijah", "Evelyn", "Aiden", "Abigail", "Carlos", "Lucia", "Mateo",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Lopez", "Wilson",
    "Anderson", "Thomas", "Taylor", "Moore", "Martin", "Jackson", "Ramirez", "Torres",
)  # fmt: skip
# Each source with the contact types it tends to bring in.
SOURCES = {
    "Zillow": ("buyer", "buyer", "buyer", "renter"),
    "Website": ("seller", "seller", "buyer", "investor"),
    "Facebook": ("buyer", "seller", "renter", "investor"),
    "Referral": ("buyer", "seller"),
}
CITIES = (("Austin", "78701"), ("Dallas", "75201"), ("Houston", "77002"))
CONTACT_COUNT = 36


POOL_BUCKET = "Open house sign-ins"
POOL_RULE = "Open house walk-ins"


def _contact_rows(now) -> list[dict]:
    """36 varied leads over the last two weeks; a fixed seed makes every run the same."""
    rng = random.Random(2025)
    rows = []
    for i in range(CONTACT_COUNT):
        city, zip_code = rng.choice(CITIES)
        source = rng.choice(list(SOURCES))
        tags = [
            tag
            for tag, chance in (("Spanish", 0.2), ("Hot", 0.25), ("First-time buyer", 0.15))
            if rng.random() < chance
        ]
        band = rng.random()
        if band < 0.15:
            low, high = None, None
        elif band < 0.3:  # luxury
            low = Decimal(rng.randrange(900_000, 1_600_000, 50_000))
            high = low + Decimal(500_000)
        else:
            low = Decimal(rng.randrange(180_000, 650_000, 10_000))
            high = low + Decimal(rng.choice((50_000, 100_000, 150_000)))
        rows.append(
            {
                "first_name": rng.choice(FIRST_NAMES),
                "last_name": rng.choice(LAST_NAMES),
                "email": f"lead{i + 1:02d}@example.com",
                "phone": "" if rng.random() < 0.1 else f"+1512555{i + 1:04d}",
                "source": source,
                "contact_type": rng.choice(SOURCES[source]),
                "city": city,
                "zip_code": zip_code,
                "state": "TX",
                "price_min": low,
                "price_max": high,
                "status": rng.choice(("new", "new", "new", "active", "nurture")),
                "created_at": now - timedelta(hours=9 * (CONTACT_COUNT - i)),
                "tags": tags,
            }
        )
    return rows


@contextmanager
def _quiet(logger_name: str):
    """Hide a logger's INFO chatter (django-q2 logs every routing task it enqueues)."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


class Command(BaseCommand):
    help = "Create (or top up) the demo team “Demo Realty” with users, rules and routed contacts."

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="Delete the demo team first.")

    def handle(self, *args, reset: bool = False, **options):
        if reset and self._reset():
            self.stdout.write("Deleted the previous demo team.")
        with _quiet("django-q"):
            team, new_contacts = self._seed()
        self._report(team, created=len(new_contacts))

    def _seed(self) -> tuple[Team, list[Contact]]:
        now = timezone.now()
        with transaction.atomic():
            users = self._users()
            team = self._team(users["owner"])
            members = self._members(team, users, now)
            self._rules(team, members)
            self._lead_pool(team, members)
            new_contacts = self._contacts(team, now)
        # Routing normally runs in the django-q2 worker after commit; route here
        # so the demo is complete without one. contact_route skips contacts a
        # worker got to first.
        for contact_id in ContactRouting.objects.filter(
            team=team, status=RoutingStatus.RECEIVED
        ).values_list("pk", flat=True):
            contact_route(contact_id=contact_id)
        self._activities(new_contacts)
        return team, new_contacts

    # --- steps ------------------------------------------------------------------

    def _demo_team(self) -> Team | None:
        return Team.objects.filter(
            name=TEAM_NAME, memberships__role=Role.OWNER, memberships__user__username="owner"
        ).first()

    @transaction.atomic
    def _reset(self) -> bool:
        team = self._demo_team()
        if team is None:
            return False
        rotation_ids = list(team.routing_rules.values_list("rotation_id", flat=True))
        # Activity protects its member; clear activities before the cascade reaches members.
        Activity.objects.filter(contact__team=team).delete()
        team.delete()
        Rotation.objects.filter(pk__in=rotation_ids).delete()
        return True

    def _user(self, username: str, first_name: str = "", last_name: str = "", **flags) -> User:
        user, _ = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first_name,
                "last_name": last_name,
                "email": f"{username}@demo.example.com",
                **flags,
            },
        )
        for flag, value in flags.items():
            setattr(user, flag, value)
        user.set_password(PASSWORD)
        user.save(update_fields=["password", *flags])
        return user

    def _users(self) -> dict[str, User]:
        users = {"owner": self._user("owner", "Taylor", "Reed")}
        users["staff"] = self._user("staff", "Sam", "Staff", is_staff=True, is_superuser=True)
        for person in PEOPLE:
            users[person.username] = self._user(
                person.username, person.first_name, person.last_name
            )
        return users

    def _team(self, owner: User) -> Team:
        team = self._demo_team()
        if team is None:
            team = team_create(name=TEAM_NAME, owner=owner, plan=Plan.PREMIER, time_zone=TIME_ZONE)
        return team

    def _groups(self, team: Team) -> dict[str, Group]:
        groups: dict[str, Group] = {}
        for name, parent_name in GROUPS:
            parent = groups.get(parent_name) if parent_name else None
            group = Group.objects.filter(team=team, name=name, parent=parent).first()
            groups[name] = group or group_create(team=team, name=name, parent=parent)
        return groups

    def _members(self, team: Team, users: dict[str, User], now) -> dict[str, Membership]:
        groups = self._groups(team)
        tags = {name: agent_tag_get_or_create(team=team, name=name) for name in AGENT_TAGS}
        existing = {m.user.username: m for m in team.memberships.select_related("user")}
        for person in PEOPLE:
            if person.username in existing:
                continue
            hours = (
                {
                    "work_days": "0,1,2,3,4",
                    "work_start": person.hours[0],
                    "work_end": person.hours[1],
                }
                if person.hours
                else {}
            )
            member = membership_add(
                team=team,
                user=users[person.username],
                role=person.role,
                capacity=person.capacity,
                time_zone=TIME_ZONE,
                **hours,
            )
            member.tags.set([tags[name] for name in person.tags])
            member.groups.set([groups[name] for name in person.groups])
            membership_set_availability(
                membership=member,
                is_online=person.online,
                paused=person.vacation_days is not None,
                paused_until=now + timedelta(days=person.vacation_days or 0),
            )
            existing[person.username] = member
        return existing

    def _rules(self, team: Team, members: dict[str, Membership]) -> None:
        default = default_rule_ensure(team=team)
        if default.direct_assignee_id is None:
            default.direct_assignee = members["admin1"]
            default.save(update_fields=["direct_assignee", "updated_at"])
        tags = {t.name: t for t in team.agent_tags.all()}
        specs = [
            (
                {
                    "name": "Zillow buyers",
                    "sources": ["Zillow"],
                    "contact_types": ["buyer"],
                    "method": Method.ROUND_ROBIN,
                },
                [tags["Buyers"]],
            ),
            (
                {
                    "name": "Luxury listings",
                    "price_min": Decimal(1_000_000),
                    "method": Method.NEXT_UP,
                    "claim_window_minutes": 30,
                },
                [members["agent3"], members["agent4"]],
            ),
            (
                {
                    "name": "Website sellers",
                    "sources": ["Website"],
                    "contact_types": ["seller"],
                    "method": Method.BLAST,
                    "claim_window_minutes": 10,
                },
                [tags["Sellers"]],
            ),
            (
                {
                    "name": "Spanish speakers",
                    "tags_any": ["spanish"],
                    "method": Method.LEAST_OPEN,
                    "is_paused": True,
                },
                [tags["Spanish"]],
            ),
        ]
        have = set(team.routing_rules.values_list("name", flat=True))
        for fields, assignees in specs:
            if fields["name"] in have:
                continue
            rule_create(
                actor=None,
                team=team,
                assignees=[
                    AssigneeSpec(membership=a)
                    if isinstance(a, Membership)
                    else AssigneeSpec(agent_tag=a)
                    for a in assignees
                ],
                **fields,
            )

    @transaction.atomic
    def _lead_pool(self, team: Team, members: dict[str, Membership]) -> None:
        """A team-wide bucket and the Manual lead pool it feeds: contacts placed in
        "Open house sign-ins" wait on the lead dashboard for an admin to assign."""
        bucket = Bucket.objects.filter(team=team, owner=None, name=POOL_BUCKET).first()
        if bucket is None:
            bucket = bucket_create(actor=members["owner"], name=POOL_BUCKET)
        if team.routing_rules.filter(name=POOL_RULE).exists():
            return
        rule_create(
            actor=None,
            team=team,
            name=POOL_RULE,
            method=Method.MANUAL,
            source_buckets=[bucket],
            follow_up_reminder_hours=4,
            assignees=[AssigneeSpec(membership=members["agent1"])],
        )

    def _contacts(self, team: Team, now) -> list[Contact]:
        have = set(team.contacts.values_list("email", flat=True))
        return [
            contact_create(team=team, **row)
            for row in _contact_rows(now)
            if row["email"] not in have
        ]

    def _activities(self, contacts: list[Contact]) -> None:
        """A few touches on this run's new contacts; one claims a Next Up offer."""
        if not contacts:
            return
        ids = [c.pk for c in contacts]
        roles = ContactRole.objects.filter(contact_id__in=ids, kind=RoleKind.AGENT).select_related(
            "contact", "membership__user"
        )
        notes = (
            (ActivityKind.CALL, "Left a voicemail; will try again tomorrow."),
            (ActivityKind.EMAIL, "Sent three listings that match their budget."),
            (ActivityKind.NOTE, "Pre-approved with a lender; wants to tour this weekend."),
            (ActivityKind.TEXT, "Confirmed the showing for Saturday 10am."),
        )
        for role, (kind, body) in zip(roles[:8], notes * 2, strict=False):
            activity_log(contact=role.contact, membership=role.membership, kind=kind, body=body)
        offer = (
            Offer.objects.filter(
                contact_id__in=ids, status=OfferStatus.OPEN, kind=OfferKind.NEXT_UP
            )
            .prefetch_related("recipients__user")
            .select_related("contact")
            .first()
        )
        if offer is not None:
            activity_log(
                contact=offer.contact,
                membership=offer.recipients.all()[0],
                kind=ActivityKind.CALL,
                body="Called within the claim window.",
            )

    def _report(self, team: Team, *, created: int) -> None:
        out = self.stdout
        counts = dict.fromkeys(RoutingStatus.values, 0)
        for status in ContactRouting.objects.filter(team=team).values_list("status", flat=True):
            counts[status] += 1
        out.write(
            self.style.SUCCESS(f"Demo team “{team.name}” ({team.get_plan_display()}) is ready.")
        )
        out.write(
            f"Contacts: {sum(counts.values())} ({created} new); "
            + ", ".join(f"{n} {status}" for status, n in counts.items() if n)
        )
        out.write(f"Open {settings.SITE_URL}/ and log in. Every password is “{PASSWORD}”.")
        out.write("")
        header = ("Username", "Role", "Name", "Notes")
        notes = {p.username: p.note for p in PEOPLE}
        role_order = list(Role.values)
        members = sorted(
            team.memberships.select_related("user"),
            key=lambda m: (role_order.index(m.role), m.user.username),
        )
        rows = [header, ("staff", "Superuser", "Sam Staff", "Django admin; in no team")]
        rows += [
            (m.user.username, m.get_role_display(), m.display_name, notes.get(m.user.username, ""))
            for m in members
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        for row in rows:
            out.write(
                "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            )
