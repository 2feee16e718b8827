"""The routing simulator page: what would happen to a contact, without changing anything."""

import pytest
from django.urls import reverse

from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from routing.models import ContactRouting, Offer, Rotation, RoutingLog, RoutingRule
from routing.rules import rule_update
from routing.tests.helpers import new_contact, rule
from teams.tests.factories import UserFactory

SIMULATOR = reverse("routing:simulator")


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def rules(team, agent, admin_member):
    return [
        rule(team, "Facebook", agent, sources=["Facebook"]),
        rule(
            team, "Zillow buyers", agent, admin_member, sources=["Zillow"], contact_types=["buyer"]
        ),
    ]


def _state():
    return (
        list(
            Rotation.objects.order_by("id").values_list(
                "id", "turns", "counts", "epoch", "reset_at"
            )
        ),
        list(ContactRouting.objects.order_by("pk").values_list("pk", "status", "rule_id")),
        RoutingLog.objects.count(),
        Offer.objects.count(),
        Contact.objects.count(),
    )


@pytest.mark.parametrize("persona", ["owner", "admin_member"])
def test_simulator_allowed_for_owner_and_admin(client, request, persona):
    client.force_login(request.getfixturevalue(persona).user)

    response = client.get(SIMULATOR)

    assert response.status_code == 200
    body = response.content.decode()
    assert "Routing simulator" in body
    assert response.context["simulation"] is None
    assert 'method="get"' in body


def test_simulator_agent_gets_403(client, agent):
    client.force_login(agent.user)

    response = client.get(SIMULATOR, {"source": "Zillow"})

    assert response.status_code == 403


def test_simulator_anonymous_redirects_to_login(client, db):
    response = client.get(SIMULATOR)

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={SIMULATOR}"


def test_simulator_outsider_sees_only_their_own_team(client, outsider, rules):
    client.force_login(outsider.user)

    response = client.get(SIMULATOR, {"source": "Zillow", "contact_type": "buyer"})

    assert response.status_code == 200
    body = response.content.decode()
    assert "Zillow buyers" not in body
    simulation = response.context["simulation"]
    # Only their own Default Rule is checked (it assigns to their owner).
    their_default = outsider.team.routing_rules.get(is_default=True)
    assert [(e.source_id, e.name) for e in simulation.evaluations] == [
        (their_default.pk, "Default Rule")
    ]
    assert simulation.decision.member_id == outsider.pk


def test_simulator_shows_each_rule_the_chosen_rule_and_who_is_next(
    client, owner, team, agent, admin_member, rules, capture
):
    first = new_contact(team, capture, source="Zillow", contact_type="buyer")  # agent's turn
    assert first.routing.rule_id == rules[1].pk
    client.force_login(owner.user)

    response = client.get(SIMULATOR, {"source": "zillow", "contact_type": "buyer", "run": "1"})

    assert response.status_code == 200
    simulation = response.context["simulation"]
    assert simulation.rule.name == "Zillow buyers"
    assert simulation.next_up == (admin_member.display_name,)
    body = response.content.decode()
    assert f"“Zillow buyers” (Round Robin) would go to {admin_member.display_name}." in body
    assert '<tr class="evaluation-not_matched">' in body
    assert "source &#x27;zillow&#x27; is not one of: Facebook" in body
    assert '<tr class="evaluation-matched">' in body
    # Both members could take it (available members are counted, not listed): turns decided.
    matched = simulation.evaluations[-1]
    assert (matched.name, matched.outcome, matched.available) == ("Zillow buyers", "matched", 2)
    assert simulation.skipped == ()
    assert "Not next, and why" not in body


def test_simulator_changes_nothing(client, owner, team, rules, capture):
    new_contact(team, capture, source="Zillow", contact_type="buyer")
    before = _state()
    client.force_login(owner.user)

    for _ in range(3):
        assert (
            client.get(SIMULATOR, {"source": "Zillow", "contact_type": "buyer"}).status_code == 200
        )
    refused = client.post(SIMULATOR, {"source": "Zillow", "contact_type": "buyer"})

    assert refused.status_code == 405
    assert _state() == before


def test_simulator_explains_skips(client, owner, team, agent, admin_member):
    rule(team, "Online only", agent, admin_member, only_online=True, sources=["Web"])
    client.force_login(owner.user)

    response = client.get(SIMULATOR, {"source": "Web"})

    body = response.content.decode()
    # The rule matched, but nobody in it could take the contact, and each member says why.
    row = body[body.index('<th scope="row">Online only</th>') :]
    row = row[: row.index("</tr>")]
    assert "Yes, but nobody could take it" in row
    assert "nobody in this rule could take the contact" in row
    assert f"<li>{agent.display_name}: offline (rule assigns to online members only)</li>" in row
    assert (
        f"<li>{admin_member.display_name}: offline (rule assigns to online members only)</li>"
        in row
    )
    assert "No rule can take it: falls back to the owner, Olive Owner." in body


def test_simulator_blast_lists_everyone_alerted(client, owner, team, agent, admin_member):
    rule(team, "Blast", agent, admin_member, method="blast", sources=["Website"])
    client.force_login(owner.user)

    response = client.get(SIMULATOR, {"source": "Website"})

    assert set(response.context["simulation"].next_up) == {
        agent.display_name,
        admin_member.display_name,
    }
    assert "Alerted" in response.content.decode()


def test_simulator_falls_to_the_default_rule(client, owner, rules):
    client.force_login(owner.user)

    response = client.get(SIMULATOR, {"source": "Craigslist"})

    simulation = response.context["simulation"]
    # The Default Rule assigns directly to the team owner (no direct assignee chosen).
    assert [(e.name, e.outcome) for e in simulation.evaluations] == [
        ("Facebook", "not_matched"),
        ("Zillow buyers", "not_matched"),
        ("Default Rule", "fell_through"),
    ]
    assert simulation.rule is None
    assert simulation.next_up == (owner.display_name,)


def test_simulator_falls_to_the_default_rules_direct_assignee(client, owner, team, agent, rules):
    default = RoutingRule.objects.get(team=team, is_default=True)
    rule_update(actor=owner, rule=default, direct_assignee=agent)
    client.force_login(owner.user)

    response = client.get(SIMULATOR, {"source": "Craigslist"})

    simulation = response.context["simulation"]
    assert simulation.rule.is_default
    assert [e.outcome for e in simulation.evaluations] == ["not_matched", "not_matched", "matched"]
    assert simulation.next_up == (agent.display_name,)
    assert f"“Default Rule” (Assign directly) would go to {agent.display_name}." in (
        response.content.decode()
    )


def test_simulator_picks_an_existing_contact(client, owner, team, rules):
    contact = ContactFactory(team=team, source="Zillow", contact_type="buyer", first_name="Zoe")
    client.force_login(owner.user)

    page = client.get(SIMULATOR).content.decode()
    response = client.get(SIMULATOR, {"contact": contact.pk, "source": "Facebook"})

    assert f'<option value="{contact.pk}">Zoe' in page
    assert response.context["simulation"].rule.name == "Zillow buyers"  # the contact's source wins


def test_simulator_offers_only_the_latest_fifty_of_the_team(client, owner, team, outsider):
    theirs = ContactFactory(team=outsider.team, first_name="Theirs")
    ContactFactory.create_batch(55, team=team)
    client.force_login(owner.user)

    response = client.get(SIMULATOR, {"contact": theirs.pk})

    choices = response.context["form"].fields["contact"].choices
    assert len(choices) == 51  # the "none" choice and 50 contacts
    assert "contact" in response.context["form"].errors
    assert response.context["simulation"] is None


def test_simulator_invalid_price_shows_error(client, owner):
    client.force_login(owner.user)

    response = client.get(SIMULATOR, {"price_min": "lots"})

    assert response.status_code == 200
    assert "price_min" in response.context["form"].errors
    assert response.context["simulation"] is None


def test_simulator_member_of_no_team_gets_404(client, db):
    client.force_login(UserFactory(username="loner"))

    assert client.get(SIMULATOR).status_code == 404
