"""Every URL, persona and method: the status the access rules promise, and GET never writes.

The table below holds one entry per URL name the project serves (the Django admin
aside: it is for staff only and tested with the admin). A URL added without an entry
fails `test_access_matrix_covers_every_url`, so nobody ships a page the matrix never
asked about.

Each entry says which methods the URL serves and who may use it; the status each
persona gets follows from the project's rules:

- anonymous on a page that needs a sign-in: 302 to the login page;
- signed in but in no team (a staff superuser): 404 on team pages;
- in the team without the permission: 403 (the one forbidden page, 403.html);
- an object of another team, or one only its agent may see: 404;
- the method a URL does not serve: 405, for everyone, anonymous included.

An allowed GET answers an exact status (200 unless the entry says otherwise). An
allowed POST is sent empty, so its answer varies (a form with errors, a redirect, a
400/409/422): it only has to be none of the refusals (403, 404, 405) and no 5xx.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.signals import request_finished
from django.db import close_old_connections, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from contacts.buckets import bucket_create
from contacts.intake import import_job_create
from contacts.models import Bucket, ContactRole, LeadSource, RoleKind
from contacts.tests.factories import ContactFactory
from listings.models import Listing
from listings.services import listings_store
from listings.tests.factories import listing_row, search_for
from notifications.models import Channel, Kind, OutboxMessage, Status
from notifications.tests.factories import AutoMessageTemplateFactory
from notifications.tokens import claim_token_make
from notifications.unsubscribe import unsubscribe_token_make
from plans.models import PlanTrigger
from plans.services import plan_run_start
from plans.tests.factories import EMAIL, make_plan, step
from routing.models import ContactRouting, Offer, OfferKind, OfferRecipient, RoutingStatus
from routing.tests.helpers import assigned_contact, reassignment_group, rule
from teams import permissions as perms
from teams.models import Role
from teams.services import agent_tag_get_or_create, group_create
from teams.tests.factories import PermissionProfileFactory, UserFactory, make_member, make_team
from teams.tokens import api_token_create

# --- personas and what they hold ---------------------------------------------------------

ANON, AGENT, ADMIN, OWNER, OUTSIDER, STAFF = (
    "anonymous",
    "agent",
    "admin",
    "owner",
    "outsider",
    "staff",
)
PERSONAS = (ANON, AGENT, ADMIN, OWNER, OUTSIDER, STAFF)

# Written from the rules, not read from teams.permissions: the matrix must notice when
# the code grants something the rules do not. The outsider owns another team, so on
# pages without an object it holds everything (on its own team).
HOLDS = {
    AGENT: frozenset({perms.VIEW_CONTACTS}),
    ADMIN: frozenset(perms.ALL_PERMISSIONS),
    OWNER: frozenset(perms.ALL_PERMISSIONS),
    OUTSIDER: frozenset(perms.ALL_PERMISSIONS),
}
OWNERS = frozenset({OWNER, OUTSIDER})

LOGIN = "login"  # a 302 to the login page
ALLOWED = "allowed"  # an allowed POST: anything but a refusal or a server error

GET, POST = "GET", "POST"
BOTH = (GET, POST)


# --- access classes ----------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """Who is refused, and how; None means allowed."""

    signed_in: bool = True
    member: bool = True
    perms: tuple[str, ...] = ()  # one of these is needed
    owner_only: bool = False
    api: bool = False  # bearer tokens only: a session opens nothing

    def refusal(self, persona: str) -> int | str | None:
        if self.api:
            return 401
        if not self.signed_in:
            return None
        if persona == ANON:
            return LOGIN
        if not self.member:
            return None
        if persona == STAFF:
            return 404
        if self.perms and HOLDS[persona].isdisjoint(self.perms):
            return 403
        if self.owner_only and persona not in OWNERS:
            return 403
        return None


PUBLIC = Access(signed_in=False)
SIGNED_IN = Access(member=False)
MEMBER = Access()
BEARER = Access(api=True)


def PERM(*wanted: str) -> Access:
    return Access(perms=wanted)


OWNER_ONLY = Access(perms=(perms.MANAGE_TEAM,), owner_only=True)
IMPORTS = PERM(perms.MANAGE_TEAM, perms.MANAGE_LEAD_DISTRIBUTION)
TEAM_BUCKETS = PERM(perms.MANAGE_TEAM, perms.MANAGE_LEAD_DISTRIBUTION)
EDIT_GROUPS = PERM(perms.MANAGE_ROUTING_RULES, perms.MANAGE_LEAD_DISTRIBUTION)
SEE_GROUPS = PERM(
    perms.MANAGE_ROUTING_RULES, perms.MANAGE_LEAD_DISTRIBUTION, perms.TRIGGER_REASSIGNMENT
)
RULES = PERM(perms.MANAGE_ROUTING_RULES)
DISTRIBUTION = PERM(perms.MANAGE_LEAD_DISTRIBUTION)
LOGS = PERM(perms.VIEW_ROUTING_LOGS)
TEAM = PERM(perms.MANAGE_TEAM)
TRIGGER = PERM(perms.TRIGGER_REASSIGNMENT)

# Whose object a URL's id names. TEAMS: a row of the first team, so the outsider (in its
# own team) gets 404. AGENTS: the agent's own offer or notification, so every other
# member gets 404 too.
TEAMS, AGENTS = "team", "agent"


@dataclass(frozen=True)
class Entry:
    methods: tuple[str, ...]
    access: Access
    obj: str | None = None
    args: dict[str, str] = field(default_factory=dict)  # URL kwarg → world key
    ok: int = 200  # what an allowed GET answers
    get: dict[str, int | str] = field(default_factory=dict)  # per-persona overrides
    post: dict[str, int | str] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)  # what the POST sends
    # Tables this URL's GET may write besides GET_MAY_WRITE; say why at the entry.
    writes_on_get: frozenset[str] = frozenset()

    def expected(self, persona: str, method: str) -> int | str:
        overrides = self.get if method == GET else self.post
        if persona in overrides:
            return overrides[persona]
        if method not in self.methods:
            return 405
        refusal = self.access.refusal(persona)
        if refusal is not None:
            return refusal
        if self.obj == TEAMS and persona == OUTSIDER:
            return 404
        if self.obj == AGENTS and persona != AGENT:
            return 404
        return self.ok if method == GET else ALLOWED


def E(methods, access, obj=None, **kw) -> Entry:
    methods = (methods,) if isinstance(methods, str) else tuple(methods)
    return Entry(methods, access, obj, **kw)


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(PERSONAS, status)


CONTACT = {"pk": "contact"}
CONTACT_SEARCH = {"contact_pk": "contact", "pk": "contact_search"}
MEMBER_PK = {"pk": "member"}
PLAN = {"pk": "plan"}
PLAN_STEP = {"pk": "plan", "step_id": "plan_step"}

# Only the claim link's recipient may claim: anyone else signed in is told it is not
# theirs (403 on the claim page itself, not 403.html).
NOT_RECIPIENT = {ADMIN: 403, OWNER: 403, OUTSIDER: 403, STAFF: 403}
# Django's own auth views decorate dispatch with login_required, so the sign-in check
# answers before the method check does.
DJANGO_LOGIN_FIRST = {ANON: LOGIN}

EXPECT: dict[str, Entry] = {
    # --- accounts (Django's auth views) ---
    "login": E(BOTH, PUBLIC),
    "logout": E(POST, PUBLIC),
    "password_change": E(BOTH, SIGNED_IN),
    "password_change_done": E(GET, SIGNED_IN, post=DJANGO_LOGIN_FIRST),
    "password_reset": E(BOTH, PUBLIC),
    "password_reset_done": E(GET, PUBLIC),
    "password_reset_confirm": E(BOTH, PUBLIC, args={"uidb64": "uidb64", "token": "reset_token"}),
    "password_reset_complete": E(GET, PUBLIC),
    # --- the JSON API: bearer tokens, never the session ---
    # django-ninja's placeholder that gives reverse() the API's root: 404 to everything.
    "api:api-root": E(GET, PUBLIC, get=everyone(404), post=everyone(404)),
    "api:openapi-json": E(GET, PUBLIC),
    "api:openapi-view": E(GET, PUBLIC),
    # One path, two operations: GET lists, POST creates; each entry asks its own method.
    "api:contact_list": E(GET, BEARER, post=everyone(401)),
    "api:contact_create": E(POST, BEARER, get=everyone(401)),
    "api:contact_detail": E(GET, BEARER, args={"contact_id": "contact"}),
    # Lead sources sign their deliveries; without the signature header: 401.
    "api:webhook_receive": E(POST, BEARER, args={"slug": "source_slug"}),
    "api:listings_post": E(POST, BEARER),
    # --- CSV import ---
    "contact_import": E(GET, IMPORTS),
    "contact_import_upload": E(POST, IMPORTS),
    "contact_import_job": E(GET, IMPORTS, TEAMS, args={"pk": "import_job"}),
    "contact_import_map": E(POST, IMPORTS, TEAMS, args={"pk": "import_job"}),
    "contact_import_run": E(POST, IMPORTS, TEAMS, args={"pk": "import_job"}),
    # --- contacts list and profile (the agent is the contact's primary Agent) ---
    "contact_pages:list": E(GET, MEMBER),
    "contact_pages:bulk_reassign": E(POST, TRIGGER),
    "contact_pages:profile": E(GET, MEMBER, TEAMS, args=CONTACT),
    "contact_pages:details_update": E(POST, MEMBER, TEAMS, args=CONTACT),
    "contact_pages:activity_add": E(POST, MEMBER, TEAMS, args=CONTACT),
    "contact_pages:segment_set": E(POST, MEMBER, TEAMS, args=CONTACT),
    "contact_pages:tags_set": E(POST, MEMBER, TEAMS, args=CONTACT),
    "contact_pages:role_add": E(POST, MEMBER, TEAMS, args=CONTACT),
    "contact_pages:role_remove": E(
        POST, MEMBER, TEAMS, args={"pk": "contact", "role_id": "second_role"}
    ),
    "contact_pages:reassign": E(GET, TRIGGER, TEAMS, args=CONTACT),
    "contact_pages:reassign_start": E(POST, TRIGGER, TEAMS, args=CONTACT),
    "contact_pages:assign_directly": E(POST, DISTRIBUTION, TEAMS, args=CONTACT),
    "contact_pages:bucket_add": E(POST, MEMBER, TEAMS, args=CONTACT),
    "contact_pages:bucket_remove": E(
        POST, MEMBER, TEAMS, args={"pk": "contact", "bucket_id": "bucket"}
    ),
    "contact_pages:bulk_bucket": E(POST, MEMBER),
    # --- buckets (the world's is team-wide: everyone sees it, the permission changes it) ---
    "buckets:list": E(GET, MEMBER),
    "buckets:create": E(POST, MEMBER),
    "buckets:default_set": E(POST, MEMBER),
    "buckets:detail": E(GET, MEMBER, TEAMS, args={"pk": "bucket"}),
    "buckets:update": E(POST, TEAM_BUCKETS, TEAMS, args={"pk": "bucket"}),
    "buckets:confirm_delete": E(GET, TEAM_BUCKETS, TEAMS, args={"pk": "bucket"}),
    "buckets:delete": E(POST, TEAM_BUCKETS, TEAMS, args={"pk": "bucket"}),
    "buckets:remove_contacts": E(POST, MEMBER, TEAMS, args={"pk": "bucket"}),
    # --- reassignment groups ---
    "reassignment_groups:list": E(GET, SEE_GROUPS),
    "reassignment_groups:new": E(GET, EDIT_GROUPS),
    "reassignment_groups:create": E(POST, EDIT_GROUPS),
    "reassignment_groups:detail": E(GET, SEE_GROUPS, TEAMS, args={"pk": "reassignment_group"}),
    "reassignment_groups:update": E(POST, EDIT_GROUPS, TEAMS, args={"pk": "reassignment_group"}),
    "reassignment_groups:confirm_delete": E(
        GET, EDIT_GROUPS, TEAMS, args={"pk": "reassignment_group"}
    ),
    "reassignment_groups:delete": E(POST, EDIT_GROUPS, TEAMS, args={"pk": "reassignment_group"}),
    # --- API tokens and auto messages ---
    "api_tokens": E(GET, TEAM),
    "api_token_create": E(POST, TEAM),
    "api_token_revoke": E(POST, TEAM, TEAMS, args={"pk": "api_token"}),
    "auto_messages:list": E(GET, TEAM),
    "auto_messages:reset": E(POST, TEAM, TEAMS, args={"pk": "auto_message"}),
    # A kind is a fixed name, not a row of a team: the outsider edits its own.
    "auto_messages:edit": E(GET, TEAM, args={"kind": "auto_message_kind"}),
    "auto_messages:save": E(POST, TEAM, args={"kind": "auto_message_kind"}),
    "auto_messages:preview": E(POST, TEAM, args={"kind": "auto_message_kind"}),
    # --- listings and property alerts (a contact's saved searches: as its profile) ---
    "listings:list": E(GET, IMPORTS),
    "listings:detail": E(GET, IMPORTS, TEAMS, args={"pk": "listing"}),
    "listings:import": E(POST, IMPORTS),
    "listings:alert_template": E(GET, TEAM),
    "listings:alert_template_save": E(POST, TEAM),
    "listings:alert_template_reset": E(POST, TEAM),
    "listings:contact_searches": E(GET, MEMBER, TEAMS, args={"contact_pk": "contact"}),
    "listings:contact_search_create": E(POST, MEMBER, TEAMS, args={"contact_pk": "contact"}),
    "listings:contact_search_update": E(POST, MEMBER, TEAMS, args=CONTACT_SEARCH),
    "listings:contact_search_delete": E(POST, MEMBER, TEAMS, args=CONTACT_SEARCH),
    # --- Smart Plans (a Team Library plan: everyone sees it, "Manage Team" edits it; the
    # contact's card and runs: as its profile) ---
    "plans:list": E(GET, MEMBER),
    "plans:new": E(GET, MEMBER),
    "plans:create": E(POST, MEMBER),
    "plans:detail": E(GET, MEMBER, TEAMS, args=PLAN),
    "plans:copy": E(POST, MEMBER, TEAMS, args=PLAN),
    "plans:save": E(POST, TEAM, TEAMS, args=PLAN),
    "plans:delete": E(POST, TEAM, TEAMS, args=PLAN),
    "plans:step_new": E(GET, TEAM, TEAMS, args=PLAN),
    "plans:step_add": E(POST, TEAM, TEAMS, args=PLAN),
    "plans:step_edit": E(GET, TEAM, TEAMS, args=PLAN_STEP),
    "plans:step_save": E(POST, TEAM, TEAMS, args=PLAN_STEP),
    "plans:step_move": E(POST, TEAM, TEAMS, args=PLAN_STEP),
    "plans:step_delete": E(POST, TEAM, TEAMS, args=PLAN_STEP),
    "plans:trigger_add": E(POST, TEAM, TEAMS, args={"pk": "plan", "kind": "plan_trigger_kind"}),
    "plans:trigger_remove": E(POST, TEAM, TEAMS, args={"pk": "plan", "trigger_id": "plan_trigger"}),
    # The card is an htmx fragment; a plain GET is sent on to the profile.
    "plans:contact_card": E(GET, MEMBER, TEAMS, args={"contact_id": "contact"}, ok=302),
    "plans:contact_start": E(POST, MEMBER, TEAMS, args={"contact_id": "contact"}),
    "plans:run_action": E(
        POST, MEMBER, TEAMS, args={"run_id": "plan_run", "action": "plan_run_action"}
    ),
    # --- team and people ---
    "team:overview": E(GET, TEAM),
    # A valid plan, so the owner-only check is what answers (an empty form is re-shown).
    "team:plan_set": E(POST, OWNER_ONLY, data={"plan": "pro"}),
    "team:members": E(GET, TEAM),
    "team:member_new": E(GET, TEAM),
    "team:member_create": E(POST, TEAM),
    "team:member_edit": E(GET, TEAM, TEAMS, args=MEMBER_PK),
    "team:member_update": E(POST, TEAM, TEAMS, args=MEMBER_PK),
    "team:member_deactivate": E(POST, TEAM, TEAMS, args=MEMBER_PK),
    "team:member_reactivate": E(POST, TEAM, TEAMS, args=MEMBER_PK),
    "team:member_password_link": E(POST, TEAM, TEAMS, args=MEMBER_PK),
    "team:ownership_transfer_confirm": E(GET, OWNER_ONLY, TEAMS, args=MEMBER_PK),
    "team:ownership_transfer": E(POST, OWNER_ONLY, TEAMS, args=MEMBER_PK),
    "team:groups": E(GET, TEAM),
    "team:group_create": E(POST, TEAM),
    "team:group_edit": E(GET, TEAM, TEAMS, args={"pk": "team_group"}),
    "team:group_update": E(POST, TEAM, TEAMS, args={"pk": "team_group"}),
    "team:group_delete_confirm": E(GET, TEAM, TEAMS, args={"pk": "team_group"}),
    "team:group_delete": E(POST, TEAM, TEAMS, args={"pk": "team_group"}),
    "team:tags": E(GET, TEAM),
    "team:tag_create": E(POST, TEAM),
    "team:tag_rename": E(POST, TEAM, TEAMS, args={"pk": "agent_tag"}),
    "team:tag_delete_confirm": E(GET, TEAM, TEAMS, args={"pk": "agent_tag"}),
    "team:tag_delete": E(POST, TEAM, TEAMS, args={"pk": "agent_tag"}),
    "team:profiles": E(GET, TEAM),
    "team:profile_new": E(GET, TEAM),
    "team:profile_create": E(POST, TEAM),
    "team:profile_edit": E(GET, TEAM, TEAMS, args={"pk": "profile"}),
    "team:profile_update": E(POST, TEAM, TEAMS, args={"pk": "profile"}),
    "team:profile_delete_confirm": E(GET, TEAM, TEAMS, args={"pk": "profile"}),
    "team:profile_delete": E(POST, TEAM, TEAMS, args={"pk": "profile"}),
    # --- agent pages, logs, dashboard ---
    "routing_pages:offers": E(GET, MEMBER),
    "routing_pages:offer_claim": E(POST, MEMBER, AGENTS, args={"offer_id": "offer"}),
    "routing_pages:my_contacts": E(GET, MEMBER),
    "routing_pages:availability_online": E(POST, MEMBER),
    "routing_pages:availability_pause": E(POST, MEMBER),
    "routing_pages:logs": E(GET, LOGS),
    # Search as you type is an htmx fragment; a plain GET is sent on to the logs page.
    "routing_pages:logs_search": E(GET, LOGS, ok=302),
    "routing_pages:log_contact": E(GET, LOGS, TEAMS, args={"contact_id": "contact"}),
    "routing_pages:dashboard": E(GET, DISTRIBUTION),
    "routing_pages:lead_assign": E(POST, DISTRIBUTION, TEAMS, args={"contact_id": "contact"}),
    "routing_pages:lead_remove": E(POST, DISTRIBUTION, TEAMS, args={"contact_id": "contact"}),
    "routing_pages:failed_retry": E(POST, DISTRIBUTION),
    # --- routing rules ---
    "routing:rule_list": E(GET, RULES),
    "routing:rule_create": E(BOTH, RULES),
    "routing:rule_reorder": E(POST, RULES),
    "routing:default_rule_edit": E(BOTH, RULES),
    "routing:rule_edit": E(BOTH, RULES, TEAMS, args={"rule_id": "rule"}),
    "routing:rule_pause": E(POST, RULES, TEAMS, args={"rule_id": "rule"}),
    "routing:rule_copy": E(POST, RULES, TEAMS, args={"rule_id": "rule"}),
    "routing:rule_delete": E(POST, RULES, TEAMS, args={"rule_id": "rule"}),
    "routing:rule_delete_confirm": E(GET, RULES, TEAMS, args={"rule_id": "rule"}),
    "routing:rule_fairness": E(GET, RULES, TEAMS, args={"rule_id": "rule"}),
    "routing:simulator": E(GET, RULES),
    # --- home and notifications ---
    "home": E(GET, SIGNED_IN),  # someone in no team gets the "no team" page
    "notifications:service_worker": E(GET, PUBLIC),
    # The emailed link works signed out (mail scanners open it); claiming needs a sign-in.
    "notifications:claim": E(
        BOTH,
        PUBLIC,
        args={"token": "claim_token"},
        get=NOT_RECIPIENT,
        post={ANON: LOGIN, **NOT_RECIPIENT},
    ),
    "notifications:index": E(GET, MEMBER),
    "notifications:bell": E(GET, MEMBER),
    "notifications:live": E(GET, MEMBER),
    "notifications:mark_read": E(POST, MEMBER, AGENTS, args={"pk": "notification"}),
    "notifications:mark_all_read": E(POST, MEMBER),
    "notifications:offer_claim": E(BOTH, MEMBER, AGENTS, args={"offer_id": "offer"}),
    "notifications:push_subscribe": E(POST, MEMBER),
    "notifications:push_unsubscribe": E(POST, MEMBER),
    # The contact's own link: no sign-in (the signed token is the authority); the GET
    # only asks, the POST (the page's button, or the mail client's one click) acts.
    "notifications:unsubscribe": E(BOTH, PUBLIC, args={"token": "unsubscribe_token"}),
    # The SMS provider's inbound texts (STOP/START): its bearer token, never a session.
    "notifications:sms_inbound": E(POST, BEARER),
}

# Where the app breaks a rule above: (name, method) → (personas, why). Each case runs
# as a strict xfail, so fixing the view fails the test until its line here is removed.
KNOWN_BUGS: dict[tuple[str, str], tuple[tuple[str, ...], str]] = {}

# Tables any GET may write: the session (Django saves it whenever a view changes it, as
# the API tokens page does when it pops the token it shows once) and django-axes'
# sign-in records.
GET_MAY_WRITE = ("django_session", "axes_")


# --- discovering the URLs ----------------------------------------------------------------

PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


def discovered_urls() -> dict[tuple[str, str], set[str]]:
    """(name, route) → its URL kwargs, for every pattern but the Django admin's. An
    unnamed pattern is keyed by its route, so it shows up as missing from the table."""
    found: dict[tuple[str, str], set[str]] = {}

    def walk(resolver: URLResolver, prefix: str, namespace: str | None) -> None:
        for pattern in resolver.url_patterns:
            route = prefix + str(pattern.pattern)
            if route.startswith("admin/"):
                continue
            if isinstance(pattern, URLResolver):
                inner = ":".join(n for n in (namespace, pattern.namespace) if n) or None
                walk(pattern, route, inner)
            elif isinstance(pattern, URLPattern):
                name = (
                    ":".join(n for n in (namespace, pattern.name) if n) if pattern.name else route
                )
                found[(name, route)] = set(PARAM.findall(route))

    walk(get_resolver(), "", None)
    return found


def test_access_matrix_covers_every_url():
    urls = discovered_urls()
    names = {name for name, _ in urls}
    missing, extra = sorted(names - EXPECT.keys()), sorted(EXPECT.keys() - names)
    assert missing == [], f"URLs without an entry in EXPECT: {missing}"
    assert extra == [], f"EXPECT entries for no URL: {extra}"


def test_access_matrix_names_each_route_once():
    """A name on two different routes: reverse() reaches only the first, the other goes
    untested."""
    routes: dict[str, set[str]] = {}
    for name, route in discovered_urls():
        routes.setdefault(name, set()).add(route)
    assert {n: r for n, r in routes.items() if len(r) > 1} == {}


def test_access_matrix_entries_fill_every_url_kwarg():
    wrong = {
        name: (sorted(params), sorted(EXPECT[name].args))
        for (name, _), params in discovered_urls().items()
        if name in EXPECT and params != set(EXPECT[name].args)
    }
    assert wrong == {}


# --- the world: one team with one of everything ------------------------------------------


def _session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def _build_world() -> dict:
    owner_user = UserFactory(username="owner", first_name="Olive", last_name="Owner")
    team = make_team(name="Acme Realty", owner=owner_user)
    owner = team.memberships.get(role=Role.OWNER)
    admin = make_member(team, role=Role.ADMIN, user=UserFactory(username="admin"))
    agent = make_member(team, role=Role.AGENT, user=UserFactory(username="agent"))
    other = make_team(name="Other Realty", owner=UserFactory(username="outsider"))
    outsider = other.memberships.get(role=Role.OWNER)
    staff = User.objects.create_superuser("staff", "staff@example.com", "pw")

    contact = assigned_contact(team, agent, first_name="Jane", last_name="Buyer")
    second_role = ContactRole.objects.create(
        contact=contact, membership=admin, kind=RoleKind.ASSISTANT
    )
    # The offer is for a contact of its own: a contact has one open offer at most, and
    # the agent already holds the first.
    offered = ContactFactory(team=team, first_name="Olga", last_name="Offered")
    ContactRouting.objects.update_or_create(
        contact=offered, defaults={"team": team, "status": RoutingStatus.OFFERED}
    )
    offer = Offer.objects.create(
        contact=offered, kind=OfferKind.NEXT_UP, deadline=timezone.now() + timedelta(days=1)
    )
    OfferRecipient.objects.create(offer=offer, membership=agent)
    notification = OutboxMessage.objects.create(
        team=team,
        key=f"matrix:assigned:{agent.pk}",
        channel=Channel.IN_APP,
        kind=Kind.ASSIGNED,
        status=Status.SENT,
        membership=agent,
        contact=contact,
        title="New contact assigned to you",
    )
    plan = make_plan(team, step(EMAIL, 1), name="Buyer nurture")
    plan_trigger = PlanTrigger.objects.create(
        plan=plan, bucket=Bucket.objects.create(team=team, name="Open house")
    )
    plan_run = plan_run_start(plan=plan, contact=contact, via="hand")
    listings_store(team=team, rows=[listing_row()], via="api")
    token, _plain = api_token_create(actor=None, team=team, name="Website form")
    source = LeadSource.objects.create(
        team=team, name="Zillow", slug="acme-zillow", secret="shared-secret"
    )
    return {
        "cookies": {
            persona: _session_cookie(membership.user)
            for persona, membership in (
                (AGENT, agent),
                (ADMIN, admin),
                (OWNER, owner),
                (OUTSIDER, outsider),
            )
        }
        | {STAFF: _session_cookie(staff)},
        "contact": contact.pk,
        "second_role": second_role.pk,
        "member": agent.pk,
        "team_group": group_create(team=team, name="North Office").pk,
        "agent_tag": agent_tag_get_or_create(team=team, name="Spanish").pk,
        "profile": PermissionProfileFactory(team=team, name="Team leads").pk,
        "rule": rule(team, "Zillow leads", agent).pk,
        "reassignment_group": reassignment_group(team, agent, name="Closers").pk,
        "import_job": import_job_create(
            actor=owner, filename="leads.csv", data=b"first_name,email\nAnn,ann@example.net\n"
        ).pk,
        "api_token": token.pk,
        "auto_message": AutoMessageTemplateFactory(team=team).pk,
        "auto_message_kind": "welcome_email",
        "offer": offer.pk,
        "notification": notification.pk,
        "claim_token": claim_token_make(
            offer_id=offer.pk, membership_id=agent.pk, deadline=offer.deadline
        ),
        "uidb64": "MQ",
        "reset_token": "not-a-real-token",
        "source_slug": source.slug,
        "unsubscribe_token": unsubscribe_token_make(contact_id=contact.pk),
        "listing": Listing.objects.get(team=team).pk,
        "contact_search": search_for(contact, owner).pk,
        "plan": plan.pk,
        "plan_step": plan.steps.get().pk,
        "plan_trigger": plan_trigger.pk,
        "plan_trigger_kind": "rule",
        "plan_run": plan_run.pk,
        "plan_run_action": "pause",
        "bucket": bucket_create(actor=owner, name="Website leads").pk,
    }


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Built once for the module inside a transaction that is rolled back at its end;
    each case runs in a savepoint of its own (the `db` fixture), so what one POST
    changes is undone before the next case."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            built = _build_world()
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    yield built
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)


# --- the cases ---------------------------------------------------------------------------


def _cases():
    for name in EXPECT:
        for persona in PERSONAS:
            for method in (GET, POST):
                personas, reason = KNOWN_BUGS.get((name, method), ((), ""))
                marks = (
                    [pytest.mark.xfail(strict=True, reason=reason)] if persona in personas else []
                )
                yield pytest.param(
                    name, persona, method, marks=marks, id=f"{name}-{persona}-{method}"
                )


WRITE = re.compile(
    r"\b(?:INSERT\s+INTO|DELETE\s+FROM|(?<!FOR )(?<!DO )UPDATE)\s+\"?(\w+)\"?", re.IGNORECASE
)


def written_tables(queries) -> set[str]:
    return {table for q in queries for table in WRITE.findall(q["sql"])}


def _client(world, persona: str) -> Client:
    client = Client()
    if persona != ANON:
        client.cookies[settings.SESSION_COOKIE_NAME] = world["cookies"][persona]
    return client


def _close_unread(response) -> None:
    # As the test client does when a streamed body is read to its end: closing fires
    # request_finished, whose connection cleanup would close the connection this
    # module's open transaction lives on.
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


def _describe(response) -> str:
    where = response.get("Location", "")
    return f"{response.status_code}{' → ' + where if where else ''}"


@pytest.mark.parametrize(("name", "persona", "method"), list(_cases()))
def test_access_matrix(world, db, name, persona, method):
    entry = EXPECT[name]
    url = reverse(name, kwargs={k: world[v] for k, v in entry.args.items()})
    client = _client(world, persona)
    expected = entry.expected(persona, method)

    if method == GET:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        if response.streaming:
            # An endless event stream: its headers say enough, its body never ends.
            _close_unread(response)
    else:
        response = client.post(url, entry.data)

    got = response.status_code
    case = f"{method} {url} as {persona}: expected {expected}, got {_describe(response)}"
    if expected == LOGIN:
        assert got == 302, case
        assert response["Location"].startswith(f"{reverse('login')}?next="), case
    elif expected == ALLOWED:
        assert got not in (403, 404, 405), case
        assert got < 500, case
        assert not response.get("Location", "").startswith(f"{reverse('login')}?next="), case
    else:
        assert got == expected, case
        if got == 403 and entry.access.refusal(persona) == 403:
            assert "403.html" in [t.name for t in response.templates], case

    if url.startswith("/api/") and got >= 400:
        assert response["Content-Type"].startswith("application/json"), case
    if name == "notifications:live" and got == 200:
        assert response["Content-Type"].startswith("text/event-stream"), case

    if method == GET:
        writes = {
            table
            for table in written_tables(queries.captured_queries)
            if not table.startswith(GET_MAY_WRITE) and table not in entry.writes_on_get
        }
        assert writes == set(), f"GET {url} as {persona} wrote to {sorted(writes)}"
