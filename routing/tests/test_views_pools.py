"""Lead pools on the pages: the rule editor's source buckets and active toggle, the rules
list's badge, and the lead dashboard's "Waiting in pool" filter, nav count and assign."""

import pytest
from django.urls import reverse

from contacts.buckets import contacts_place
from contacts.models import Bucket, BucketVia
from contacts.services import contact_create
from routing.models import ContactRouting, Method, RoutingRule, RoutingStatus
from routing.tests.helpers import agent_of, rule, rule_post

LIST = reverse("routing:rule_list")
CREATE = reverse("routing:rule_create")
DASHBOARD = reverse("routing_pages:dashboard")
HOME = reverse("home")


@pytest.fixture
def open_house(team):
    return Bucket.objects.create(team=team, name="Open house")


def _pool_post(*buckets, **overrides) -> dict:
    fields = {
        "name": "Walk-ins",
        "method": "round_robin",
        "active_toggle": "1",
        "is_active": "on",
        "source_buckets": [str(b.pk) for b in buckets],
    }
    return rule_post(**{**fields, **overrides})


# --- the rule editor ---------------------------------------------------------------------------


def test_rule_editor_explains_pools_and_lists_the_teams_buckets(
    client, owner, open_house, outsider
):
    theirs = Bucket.objects.create(team=outsider.team, name="Their bucket")
    client.force_login(owner.user)

    body = client.get(CREATE).content.decode()

    assert "Source buckets" in body
    assert (
        "A lead pool is a rule with source buckets: contacts placed in these buckets are "
        "distributed to its members." in body
    )
    assert "Open house (team-wide)" in body
    assert theirs.name not in body
    assert "Manual (lead pool)" in body
    assert "Rule is active" in body


def test_rule_editor_saves_source_buckets(client, owner, agent, open_house):
    client.force_login(owner.user)

    response = client.post(CREATE, {**_pool_post(open_house), f"member_{agent.pk}": "on"})

    assert response.status_code == 302
    pool = RoutingRule.objects.get(name="Walk-ins")
    assert list(pool.source_buckets.all()) == [open_house]
    assert not pool.is_paused

    edit = reverse("routing:rule_edit", args=[pool.pk])
    page = client.get(edit).content.decode()
    assert "Lead Pool is active" in page
    # Unticked: the pool is paused; no bucket ticked: an ordinary rule again.
    data = {**_pool_post(), f"member_{agent.pk}": "on"}
    del data["is_active"]
    assert client.post(edit, data).status_code == 302
    pool.refresh_from_db()
    assert pool.is_paused
    assert list(pool.source_buckets.all()) == []


def test_rule_editor_refuses_another_teams_bucket(client, owner, agent, outsider):
    theirs = Bucket.objects.create(team=outsider.team, name="Their bucket")
    client.force_login(owner.user)

    response = client.post(CREATE, {**_pool_post(theirs), f"member_{agent.pk}": "on"})

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not RoutingRule.objects.filter(name="Walk-ins").exists()


def test_rule_editor_offers_only_buckets_the_editor_sees(client, owner, admin_member, agent):
    private = Bucket.objects.create(team=owner.team, owner=agent, name="Alan's own")
    client.force_login(admin_member.user)

    assert "Alan&#x27;s own" not in client.get(CREATE).content.decode()
    response = client.post(CREATE, {**_pool_post(private), f"member_{agent.pk}": "on"})
    assert "Select a valid choice" in response.content.decode()


def test_a_manual_pool_needs_no_members(client, owner, open_house):
    client.force_login(owner.user)

    response = client.post(CREATE, _pool_post(open_house, method="manual"))

    assert response.status_code == 302
    pool = RoutingRule.objects.get(name="Walk-ins")
    assert (pool.method, pool.assignees.count()) == (Method.MANUAL, 0)


def test_a_post_without_the_toggle_leaves_the_rule_active(client, owner, agent):
    """An older page (or a script) that does not post the toggle pauses nothing."""
    client.force_login(owner.user)

    client.post(CREATE, {**rule_post(name="Plain"), f"member_{agent.pk}": "on"})

    assert not RoutingRule.objects.get(name="Plain").is_paused


def test_rules_list_marks_pools_with_their_buckets_and_method(client, owner, agent, open_house):
    other = Bucket.objects.create(team=owner.team, name="Zillow leads")
    rule(owner.team, "Walk-ins", method=Method.MANUAL, source_buckets=[open_house, other])
    rule(owner.team, "Plain", agent)
    client.force_login(owner.user)

    body = client.get(LIST).content.decode()

    walk_ins, plain = body.split("Walk-ins</a>", 1)[1].split("Plain</a>", 1)
    assert '<span class="badge badge-pool">Lead pool</span>' in walk_ins
    assert "Open house, Zillow leads" in walk_ins
    assert "Manual (lead pool)" in walk_ins
    assert "Lead pool" not in plain.split("</li>", 1)[0]


# --- the lead dashboard ------------------------------------------------------------------------


@pytest.fixture
def waiting(team, open_house, capture):
    """Two new leads created in a Manual pool's source bucket (as the API does), and one
    that is not: the pool keeps the two unassigned."""
    rule(team, "Walk-ins", method=Method.MANUAL, source_buckets=[open_house])
    with capture(execute=True):
        leads = [contact_create(team=team, first_name=n, source="Web") for n in ("Wes", "Wyn")]
        contacts_place(bucket=open_house, contacts=leads, via=BucketVia.API, actor=None)
        contact_create(team=team, first_name="Otto", source="Web")
    return leads


def test_dashboard_waiting_filter_lists_the_pools_leads(client, admin_member, waiting):
    client.force_login(admin_member.user)

    body = client.get(DASHBOARD, {"assignment": "waiting"}).content.decode()

    assert "2 leads waiting in a lead pool" in body
    assert "Wes" in body
    assert "Wyn" in body
    assert "Otto" not in body
    assert "Waiting in pool" in body
    assert "Waiting in pool: for an admin to assign" in body  # the filter's choice


def test_nav_counts_leads_waiting_in_pools(client, admin_member, agent, waiting):
    client.force_login(admin_member.user)

    body = client.get(HOME).content.decode()

    assert '2<span class="visually-hidden"> waiting in a lead pool</span>' in body

    client.force_login(agent.user)  # no lead distribution: no link, no count
    assert "waiting in a lead pool" not in client.get(HOME).content.decode()


def test_nav_count_costs_the_dashboard_no_second_query(
    client, admin_member, waiting, django_assert_max_num_queries
):
    client.force_login(admin_member.user)
    client.get(DASHBOARD)
    with django_assert_max_num_queries(15) as ctx:
        client.get(DASHBOARD)
    counted = [q for q in ctx.captured_queries if 'COUNT("routing_contactrouting"' in q["sql"]]
    assert len(counted) == 1


def test_admin_assigns_a_waiting_lead_from_the_dashboard(client, admin_member, agent, waiting):
    lead = waiting[0]
    client.force_login(admin_member.user)

    response = client.post(
        reverse("routing_pages:lead_assign", args=[lead.pk]),
        {"membership": agent.pk, "expected_agent": "none"},
    )

    assert response.status_code == 302
    assert agent_of(lead) == agent
    routing = ContactRouting.objects.get(pk=lead.pk)
    assert (routing.status, routing.held_since) == (RoutingStatus.ASSIGNED, None)
    assert routing.rule.name == "Walk-ins"  # the pool it came through
    body = client.get(DASHBOARD, {"assignment": "waiting"}).content.decode()
    assert "1 lead waiting in a lead pool" in body


def test_simulator_places_a_sample_contact_in_pool_buckets(client, owner, agent, open_house):
    rule(owner.team, "Walk-ins", method=Method.MANUAL, source_buckets=[open_house])
    rule(owner.team, "Everyone", agent)
    client.force_login(owner.user)
    simulator = reverse("routing:simulator")

    placed = client.get(simulator, {"source": "Web", "buckets": [open_house.pk], "run": "1"})
    outside = client.get(simulator, {"source": "Web", "run": "1"})

    assert "Placed in buckets" in placed.content.decode()
    assert "“Walk-ins” (Manual) would keep it unassigned for an admin to assign." in (
        placed.content.decode()
    )
    assert "“Everyone” (Round Robin) would go to" in outside.content.decode()
