"""The fairness report: target vs actual share per agent, as an SVG chart and a table."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from contacts.tests.factories import ContactFactory
from routing.models import LogEvent, RoutingLog, RoutingRule
from routing.tests.helpers import rule


@pytest.fixture
def weighted(team, agent, admin_member):
    """75/25 target; 3 + 1 contacts two days ago, 2 more for the agent 20 days ago."""
    r = rule(team, "Zillow", agent, admin_member, weights=[75, 25], sources=["Zillow"])
    now = timezone.now()
    for member, days_ago in [(agent, 2)] * 3 + [(admin_member, 2)] + [(agent, 20)] * 2:
        RoutingLog.objects.create(
            team=team,
            contact=ContactFactory(team=team),
            event=LogEvent.ASSIGNED,
            rule=r,
            source_name=r.name,
            membership=member,
            created_at=now - timedelta(days=days_ago),
        )
    return r


def _url(r, **params) -> str:
    url = reverse("routing:rule_fairness", args=[r.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def _table(body: str) -> list[tuple[str, ...]]:
    rows = re.findall(
        r'<th scope="row">([^<]+)</th>\s*<td>([^<]+)</td>\s*<td>([^<]+)</td>\s*<td>([^<]+)</td>',
        body,
    )
    return [tuple(cell.strip() for cell in row) for row in rows]


@pytest.mark.parametrize("persona", ["owner", "admin_member"])
def test_fairness_allowed_for_owner_and_admin(client, request, weighted, persona):
    client.force_login(request.getfixturevalue(persona).user)

    assert client.get(_url(weighted)).status_code == 200


def test_fairness_agent_gets_403(client, agent, weighted):
    client.force_login(agent.user)

    assert client.get(_url(weighted)).status_code == 403


def test_fairness_other_team_is_404(client, outsider, weighted):
    client.force_login(outsider.user)

    assert client.get(_url(weighted)).status_code == 404


def test_fairness_anonymous_redirects_to_login(client, weighted):
    url = _url(weighted)

    response = client.get(url)

    assert response.status_code == 302
    assert response.url.startswith(f"{reverse('login')}?next=")


def test_fairness_is_read_only(client, owner, weighted):
    client.force_login(owner.user)

    assert client.post(_url(weighted)).status_code == 405


def test_fairness_last_7_days(client, owner, agent, admin_member, weighted):
    client.force_login(owner.user)

    response = client.get(_url(weighted, days=7))

    body = response.content.decode()
    assert _table(body) == [
        (agent.display_name, "75%", "75%", "3"),
        (admin_member.display_name, "25%", "25%", "1"),
    ]
    assert "4 contacts assigned through this rule in the last 7 days." in body
    assert '<a href="?days=7" aria-current="page">Last 7 days</a>' in body


def test_fairness_last_30_days_is_the_default(client, owner, agent, admin_member, weighted):
    client.force_login(owner.user)

    for params in ({}, {"days": 30}, {"days": 365}, {"days": "x"}):
        response = client.get(_url(weighted, **params))
        assert response.context["days"] == 30
        assert _table(response.content.decode()) == [
            (agent.display_name, "75%", "83%", "5"),
            (admin_member.display_name, "25%", "17%", "1"),
        ]


def test_fairness_chart_is_an_accessible_svg(client, owner, agent, weighted):
    client.force_login(owner.user)

    body = client.get(_url(weighted, days=7)).content.decode()

    svg = body[body.index("<svg") : body.index("</svg>")]
    assert 'role="img" aria-labelledby="chart-title chart-desc"' in svg
    assert (
        '<title id="chart-title">Zillow: target and actual share per agent, last 7 days</title>'
        in svg
    )
    assert f"{agent.display_name}: target 75%, actual 75% (3 contacts)." in svg
    assert svg.count('class="bar-target"') == 2
    assert svg.count('class="bar-actual"') == 2
    # Bars use 70% of the width at most: 75% -> 52.5%, 25% -> 17.5%.
    assert 'class="bar-target" x="0" y="22" width="52.5%"' in svg
    assert 'class="bar-actual" x="0" y="104" width="17.5%"' in svg


def test_fairness_nobody_assigned_in_period(client, owner, team, agent):
    quiet = rule(team, "Quiet", agent)
    client.force_login(owner.user)

    response = client.get(_url(quiet, days=90))

    body = response.content.decode()
    assert "0 contacts assigned through this rule in the last 90 days." in body
    assert _table(body) == [(agent.display_name, "100%", "0%", "0")]


def test_fairness_rule_without_assignees(client, owner, team):
    default = RoutingRule.objects.get(team=team, is_default=True)
    client.force_login(owner.user)

    response = client.get(_url(default))

    assert response.status_code == 200
    assert "This rule has no assignees" in response.content.decode()
