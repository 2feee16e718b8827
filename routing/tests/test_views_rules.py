"""Contact Routing settings pages: the rules list, reorder, pause, copy, delete and editors."""

import re
from html.parser import HTMLParser

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse

from routing.models import Method, Rotation, RoutingRule, RuleAssignee
from routing.tests.helpers import rule, rule_post
from teams.models import AgentTag
from teams.tests.factories import UserFactory, make_member, make_team

HTMX = {"HTTP_HX_REQUEST": "true"}
LIST = reverse("routing:rule_list")
REORDER = reverse("routing:rule_reorder")
CREATE = reverse("routing:rule_create")
DEFAULT = reverse("routing:default_rule_edit")


@pytest.fixture
def rules(team, agent, admin_member):
    return [
        rule(team, "Zillow leads", agent, sources=["Zillow"]),
        rule(team, "Austin", admin_member, cities=["Austin"]),
        rule(team, "Sellers", agent, admin_member, contact_types=["seller"]),
    ]


def _names(team) -> list[str]:
    return list(
        RoutingRule.objects.filter(team=team, is_default=False)
        .order_by("position", "id")
        .values_list("name", flat=True)
    )


def _ids(rules) -> list[str]:
    return [str(r.pk) for r in rules]


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _edit_url(r) -> str:
    return reverse("routing:rule_edit", args=[r.pk])


# --- who may open what ------------------------------------------------------------------

PAGES = [
    lambda rules: LIST,
    lambda rules: CREATE,
    lambda rules: DEFAULT,
    lambda rules: reverse("routing:rule_edit", args=[rules[0].pk]),
    lambda rules: reverse("routing:rule_delete_confirm", args=[rules[0].pk]),
]
PAGE_IDS = ["list", "create", "default", "edit", "delete_confirm"]


@pytest.mark.parametrize("persona", ["owner", "admin_member"])
@pytest.mark.parametrize("url", PAGES, ids=PAGE_IDS)
def test_rule_pages_allowed_for_owner_and_admin(client, request, rules, persona, url):
    client.force_login(request.getfixturevalue(persona).user)

    response = client.get(url(rules))

    assert response.status_code == 200


@pytest.mark.parametrize("url", PAGES, ids=PAGE_IDS)
def test_rule_pages_agent_gets_403_page(client, agent, rules, url):
    client.force_login(agent.user)

    response = client.get(url(rules))

    assert response.status_code == 403
    assert "Contact Routing Rule Management" in response.content.decode()


@pytest.mark.parametrize("url", PAGES, ids=PAGE_IDS)
def test_rule_pages_anonymous_redirects_to_login(client, rules, url):
    target = url(rules)

    response = client.get(target)

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={target}"


def test_rule_pages_member_of_no_team_gets_404(client, db):
    client.force_login(UserFactory(username="loner"))

    assert client.get(LIST).status_code == 404


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("rule_edit", "get"),
        ("rule_delete_confirm", "get"),
        ("rule_pause", "post"),
        ("rule_copy", "post"),
        ("rule_delete", "post"),
    ],
)
def test_rule_views_other_teams_rule_is_404(client, outsider, rules, name, method):
    client.force_login(outsider.user)

    response = getattr(client, method)(reverse(f"routing:{name}", args=[rules[0].pk]))

    assert response.status_code == 404
    assert RoutingRule.objects.filter(pk=rules[0].pk, is_paused=False).exists()


@pytest.mark.parametrize("name", ["rule_pause", "rule_copy", "rule_delete"])
def test_rule_mutations_answer_get_with_405(client, owner, rules, name):
    client.force_login(owner.user)

    assert client.get(reverse(f"routing:{name}", args=[rules[0].pk])).status_code == 405


def test_rule_reorder_answers_get_with_405(client, owner, rules):
    client.force_login(owner.user)

    assert client.get(REORDER).status_code == 405


@pytest.mark.parametrize("name", ["rule_pause", "rule_copy", "rule_delete"])
def test_rule_mutations_agent_gets_403_and_nothing_changes(client, agent, rules, name):
    client.force_login(agent.user)

    response = client.post(reverse(f"routing:{name}", args=[rules[0].pk]), {"paused": "1"}, **HTMX)

    assert response.status_code == 403
    assert _names(rules[0].team) == ["Zillow leads", "Austin", "Sellers"]
    assert not RoutingRule.objects.filter(is_paused=True).exists()


MUTATIONS = [
    pytest.param(lambda rules: REORDER, {}, id="reorder"),
    pytest.param(lambda rules: reverse("routing:rule_pause", args=[rules[0].pk]), {}, id="pause"),
    pytest.param(lambda rules: reverse("routing:rule_copy", args=[rules[0].pk]), {}, id="copy"),
    pytest.param(lambda rules: reverse("routing:rule_delete", args=[rules[0].pk]), {}, id="delete"),
]


@pytest.mark.parametrize(("url", "data"), MUTATIONS)
def test_rule_mutations_anonymous_redirects_to_login(client, rules, url, data):
    target = url(rules)

    response = client.post(target, data)

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={target}"
    assert _names(rules[0].team) == ["Zillow leads", "Austin", "Sellers"]


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("rule_pause", {"paused": "1"}, ["Zillow leads", "Austin", "Sellers"]),
        ("rule_copy", {}, ["Zillow leads", "Copy of Zillow leads", "Austin", "Sellers"]),
        ("rule_delete", {}, ["Austin", "Sellers"]),
    ],
)
def test_rule_mutations_allowed_for_admin(client, admin_member, rules, name, data, expected):
    client.force_login(admin_member.user)

    response = client.post(reverse(f"routing:{name}", args=[rules[0].pk]), data, **HTMX)

    assert response.status_code == 200
    assert _names(admin_member.team) == expected


def test_rule_reorder_allowed_for_admin(client, admin_member, rules):
    client.force_login(admin_member.user)

    response = client.post(REORDER, {"rule": _ids(rules[::-1])}, **HTMX)

    assert response.status_code == 200
    assert _names(admin_member.team) == ["Sellers", "Austin", "Zillow leads"]


def test_rule_reorder_agent_gets_403(client, agent, rules):
    client.force_login(agent.user)

    response = client.post(REORDER, {"rule": _ids(rules[::-1])}, **HTMX)

    assert response.status_code == 403
    assert _names(agent.team) == ["Zillow leads", "Austin", "Sellers"]


# --- the list -----------------------------------------------------------------------------


def test_rule_list_shows_rules_in_order_with_default_last(client, owner, team, rules, agent):
    AgentTag.objects.create(team=team, name="Luxury")
    rule(team, "Luxury", method="blast", tags=[AgentTag.objects.get(name="Luxury")])
    RoutingRule.objects.filter(pk=rules[1].pk).update(is_paused=True)
    client.force_login(owner.user)

    response = client.get(LIST)

    body = response.content.decode()
    positions = [body.index(name) for name in ("Zillow leads", "Austin", "Sellers", "Luxury")]
    assert positions == sorted(positions)
    assert body.index('id="default-rule-title"') > positions[-1]
    assert "Source: Zillow" in body
    assert "City: Austin" in body
    assert "Type: Seller" in body
    assert "Round Robin" in body
    assert "Blast Alert" in body
    assert "Tag: Luxury" in body
    assert agent.display_name in body
    assert body.count('class="badge badge-paused"') == 1
    # Four draggable rows post their ids; the Default Rule is not among them.
    assert re.findall(r'name="rule" value="(\d+)"', body) == [
        str(pk)
        for pk in RoutingRule.objects.filter(team=team, is_default=False).values_list(
            "pk", flat=True
        )
    ]
    assert body.count('class="drag-handle"') == 4
    assert "vendor/sortable/Sortable.min.js" in body
    assert 'hx-trigger="end, submit"' in body
    assert "HX-Request" in response["Vary"]


def test_rule_list_htmx_get_returns_only_the_section(client, owner, rules):
    client.force_login(owner.user)

    body = client.get(LIST, **HTMX).content.decode()

    assert body.lstrip().startswith('<div id="rules-section"')
    assert "<html" not in body


def test_rule_list_without_rules_offers_the_first(client, owner):
    client.force_login(owner.user)

    body = client.get(LIST).content.decode()

    assert "No rules yet" in body
    assert "Default Rule" in body


def test_rule_list_marks_methods_outside_the_plan(client, team, owner, rules):
    RoutingRule.objects.filter(pk=rules[0].pk).update(method=Method.BLAST)
    team.plan = "pro"
    team.save()
    client.force_login(owner.user)

    body = client.get(LIST).content.decode()

    assert "Not in your plan, so skipped: upgrade to Premier" in body


def test_rule_list_shows_shares_when_unequal(client, owner, team, agent, admin_member):
    rule(team, "Weighted", agent, admin_member, weights=[70, 30])
    client.force_login(owner.user)

    body = client.get(LIST).content.decode()

    assert f"{agent.display_name} 70%, {admin_member.display_name} 30%" in body


def _list_queries(client, budget_fixture) -> int:
    with budget_fixture(15) as captured:
        response = client.get(LIST)
    assert response.status_code == 200
    return len(captured)


def test_rule_list_query_budget_does_not_grow_with_rules(
    client, owner, team, django_assert_max_num_queries
):
    members = [make_member(team, tags=["Luxury"]) for _ in range(3)]
    tag = AgentTag.objects.get(team=team, name="Luxury")
    for i in range(3):
        rule(team, f"Rule {i}", *members, tags=[tag], sources=[f"S{i}"])
    client.force_login(owner.user)
    with_three = _list_queries(client, django_assert_max_num_queries)

    for i in range(3, 20):
        rule(team, f"Rule {i}", *members, tags=[tag], cities=[f"C{i}"])
    with_twenty = _list_queries(client, django_assert_max_num_queries)

    assert with_twenty == with_three


# --- reorder ----------------------------------------------------------------------------


def test_rule_reorder_saves_the_posted_order(client, owner, team, rules):
    client.force_login(owner.user)

    response = client.post(REORDER, {"rule": _ids([rules[2], rules[0], rules[1]])}, **HTMX)

    assert response.status_code == 200
    assert _names(team) == ["Sellers", "Zillow leads", "Austin"]
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="rules-section"')
    assert "Order saved" in body
    assert body.index("Sellers") < body.index("Zillow leads") < body.index("Austin")
    assert "HX-Request" in response["Vary"]


def test_rule_reorder_without_htmx_redirects_to_the_list(client, owner, team, rules):
    client.force_login(owner.user)

    response = client.post(REORDER, {"rule": _ids(rules[::-1])})

    assert response.status_code == 302
    assert response.url == LIST
    assert _names(team) == ["Sellers", "Austin", "Zillow leads"]


@pytest.mark.parametrize(
    "posted",
    [
        pytest.param(lambda rules, other: [rules[0], rules[1]], id="one-missing"),
        pytest.param(lambda rules, other: [*rules, other], id="other-teams-rule"),
        pytest.param(lambda rules, other: [rules[0], rules[0], rules[1], rules[2]], id="twice"),
        pytest.param(lambda rules, other: [], id="empty"),
    ],
)
def test_rule_reorder_wrong_set_is_refused_and_changes_nothing(
    client, owner, team, outsider, rules, posted
):
    other = rule(outsider.team, "Theirs")
    client.force_login(owner.user)

    response = client.post(REORDER, {"rule": _ids(posted(rules, other))}, **HTMX)

    assert response.status_code == 409
    assert "reload and try again" in response.content.decode()
    assert _names(team) == ["Zillow leads", "Austin", "Sellers"]
    assert _names(outsider.team) == ["Theirs"]


def test_rule_reorder_default_rule_id_is_refused(client, owner, team, rules):
    default = RoutingRule.objects.get(team=team, is_default=True)
    client.force_login(owner.user)

    response = client.post(REORDER, {"rule": _ids([default, *rules])}, **HTMX)

    assert response.status_code == 409
    assert RoutingRule.objects.get(pk=default.pk).position == default.position


def test_rule_reorder_garbage_is_400(client, owner, team, rules):
    client.force_login(owner.user)

    response = client.post(REORDER, {"rule": ["1", "drop table"]}, **HTMX)

    assert response.status_code == 400
    assert _names(team) == ["Zillow leads", "Austin", "Sellers"]


def test_rule_reorder_refused_without_htmx_shows_the_page_with_error(client, owner, team, rules):
    client.force_login(owner.user)

    response = client.post(REORDER, {"rule": _ids(rules[:2])})

    assert response.status_code == 409
    body = response.content.decode()
    assert "<html" in body
    assert 'role="alert"' in body
    assert _names(team) == ["Zillow leads", "Austin", "Sellers"]


@pytest.mark.parametrize(
    ("move", "expected"),
    [
        (lambda r: f"{r[2].pk}:up", ["Zillow leads", "Sellers", "Austin"]),
        (lambda r: f"{r[0].pk}:down", ["Austin", "Zillow leads", "Sellers"]),
        (lambda r: f"{r[0].pk}:up", ["Zillow leads", "Austin", "Sellers"]),  # already first
    ],
)
def test_rule_reorder_move_buttons(client, owner, team, rules, move, expected):
    client.force_login(owner.user)

    response = client.post(REORDER, {"rule": _ids(rules), "move": move(rules)})

    assert response.status_code == 302
    assert _names(team) == expected


# --- pause, copy, delete ------------------------------------------------------------------


def test_rule_pause_returns_the_row(client, owner, rules):
    client.force_login(owner.user)

    response = client.post(
        reverse("routing:rule_pause", args=[rules[1].pk]), {"paused": "1"}, **HTMX
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<li class="rule-row is-paused" id="rule-')
    assert "Paused</span>" in body
    assert f'form="resume-{rules[1].pk}"' in body
    assert "HX-Request" in response["Vary"]
    assert RoutingRule.objects.get(pk=rules[1].pk).is_paused


def test_rule_resume_returns_the_row(client, owner, rules):
    RoutingRule.objects.filter(pk=rules[0].pk).update(is_paused=True)
    client.force_login(owner.user)

    response = client.post(
        reverse("routing:rule_pause", args=[rules[0].pk]), {"paused": "0"}, **HTMX
    )

    body = response.content.decode()
    assert body.lstrip().startswith('<li class="rule-row" id="rule-')
    assert f'form="pause-{rules[0].pk}"' in body
    assert not RoutingRule.objects.get(pk=rules[0].pk).is_paused


def test_rule_pause_without_htmx_redirects_with_message(client, owner, rules):
    client.force_login(owner.user)

    response = client.post(reverse("routing:rule_pause", args=[rules[0].pk]), {"paused": "1"})

    assert response.status_code == 302
    assert "“Zillow leads” is paused: contacts skip it." in _messages(response)


def test_rule_pause_default_rule_is_refused(client, owner, team, rules):
    default = RoutingRule.objects.get(team=team, is_default=True)
    client.force_login(owner.user)

    response = client.post(
        reverse("routing:rule_pause", args=[default.pk]), {"paused": "1"}, **HTMX
    )

    assert response.status_code == 400
    assert "cannot be paused" in response.content.decode()
    assert not RoutingRule.objects.get(pk=default.pk).is_paused


def test_rule_copy_adds_a_paused_copy_below(client, owner, team, rules):
    client.force_login(owner.user)

    response = client.post(reverse("routing:rule_copy", args=[rules[0].pk]), **HTMX)

    assert response.status_code == 200
    assert _names(team) == ["Zillow leads", "Copy of Zillow leads", "Austin", "Sellers"]
    assert RoutingRule.objects.get(name="Copy of Zillow leads").is_paused
    body = response.content.decode()
    assert "The copy is paused until you resume it." in body
    assert body.count('name="rule"') == 4


def test_rule_copy_default_rule_is_refused(client, owner, team):
    default = RoutingRule.objects.get(team=team, is_default=True)
    client.force_login(owner.user)

    response = client.post(reverse("routing:rule_copy", args=[default.pk]), **HTMX)

    assert response.status_code == 400
    assert RoutingRule.objects.filter(team=team).count() == 1


def test_rule_delete_with_htmx_returns_the_list(client, owner, team, rules):
    client.force_login(owner.user)

    response = client.post(reverse("routing:rule_delete", args=[rules[1].pk]), **HTMX)

    assert response.status_code == 200
    assert _names(team) == ["Zillow leads", "Sellers"]
    assert not Rotation.objects.filter(pk=rules[1].rotation_id).exists()
    body = response.content.decode()
    assert "Deleted “Austin”." in body
    assert body.count('name="rule"') == 2


def test_rule_delete_row_asks_for_confirmation(client, owner, rules):
    client.force_login(owner.user)

    body = client.get(LIST).content.decode()

    confirm = reverse("routing:rule_delete_confirm", args=[rules[1].pk])
    delete = reverse("routing:rule_delete", args=[rules[1].pk])
    assert f'method="get" action="{confirm}"' in body
    assert f'hx-post="{delete}"' in body
    assert 'hx-confirm="Delete the rule “Austin”?' in body


def test_rule_delete_confirm_page_then_post_deletes(client, owner, team, rules):
    client.force_login(owner.user)
    confirm = client.get(reverse("routing:rule_delete_confirm", args=[rules[1].pk]))
    assert "Delete the rule “Austin”?" in confirm.content.decode()
    assert _names(team) == ["Zillow leads", "Austin", "Sellers"]  # GET changes nothing

    response = client.post(reverse("routing:rule_delete", args=[rules[1].pk]))

    assert response.status_code == 302
    assert response.url == LIST
    assert "Deleted “Austin”." in _messages(response)
    assert _names(team) == ["Zillow leads", "Sellers"]


def test_rule_delete_default_rule_is_refused(client, owner, team):
    default = RoutingRule.objects.get(team=team, is_default=True)
    client.force_login(owner.user)

    response = client.post(reverse("routing:rule_delete", args=[default.pk]), **HTMX)

    assert response.status_code == 400
    assert RoutingRule.objects.filter(pk=default.pk).exists()


# --- the rule editor ----------------------------------------------------------------------


class _Controls(HTMLParser):
    """Form controls and how they are labelled: <label for>, a wrapping <label>, aria-label."""

    def __init__(self):
        super().__init__()
        self.controls, self.label_for, self.open_labels = [], set(), 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "label":
            self.open_labels += 1
            self.label_for.add(attrs.get("for"))
        elif tag in ("input", "select", "textarea") and attrs.get("type") != "hidden":
            wrapped = self.open_labels > 0 or "aria-label" in attrs
            self.controls.append((attrs.get("name"), attrs.get("id"), wrapped))

    def handle_endtag(self, tag):
        if tag == "label":
            self.open_labels -= 1


def _unlabelled(body: str) -> list[str]:
    parser = _Controls()
    parser.feed(body)
    assert parser.controls
    return [
        f"{name}#{id_}"
        for name, id_, wrapped in parser.controls
        if not wrapped and id_ not in parser.label_for
    ]


@pytest.mark.parametrize("url", [CREATE, DEFAULT], ids=["create", "default"])
def test_rule_pages_label_every_control(client, owner, team, rules, url):
    AgentTag.objects.create(team=team, name="Luxury")
    client.force_login(owner.user)

    body = client.get(url).content.decode()

    assert _unlabelled(body) == []


def test_rule_create_form_offers_types_members_and_tags(client, owner, team, agent):
    tag = AgentTag.objects.create(team=team, name="Luxury")
    client.force_login(owner.user)

    body = client.get(CREATE).content.decode()

    for value in ("buyer", "seller", "renter", "investor"):
        assert f'name="contact_types" value="{value}"' in body
    assert f'<label for="id_member_{agent.pk}">{agent.display_name}</label>' in body
    assert f'<label for="id_tag_{tag.pk}">Tag: Luxury</label>' in body
    assert f'<label class="visually-hidden" for="id_member_{agent.pk}_share">' in body
    assert "Adding or removing users resets the order" not in body  # a new rule has no order yet


def test_rule_create_saves_rule_and_assignees(client, owner, team, agent, admin_member):
    client.force_login(owner.user)

    response = client.post(
        CREATE,
        rule_post(
            **{
                f"member_{agent.pk}": "on",
                f"member_{agent.pk}_share": "70",
                f"member_{admin_member.pk}": "on",
                f"member_{admin_member.pk}_share": "30",
            }
        ),
    )

    assert response.status_code == 302
    assert response.url == LIST
    created = RoutingRule.objects.get(team=team, name="Zillow buyers")
    assert created.sources == ["Zillow", "Facebook"]
    assert created.contact_types == ["buyer", "investor"]
    assert created.cities == ["Austin", "Round Rock"]
    assert created.zip_codes == []
    assert created.states == ["TX"]
    assert created.location_match == "empty_or_match"
    assert (created.price_min, created.price_max) == (200000, 500000)
    assert created.tags_any == ["hot"]
    assert created.require_phone
    assert not created.require_email
    assert created.work_days == "0,1,2,3,4"
    assert f"{created.work_start:%H:%M}-{created.work_end:%H:%M}" == "09:00-17:00"
    assert created.time_zone == "America/Chicago"
    assert created.method == "next_up"
    assert created.claim_window_minutes == 10
    assert created.follow_up_reminder_hours == 24
    assert not created.only_online
    assert not created.hold_when_unavailable  # unchecked box: the contact moves on
    assert created.hold_max_minutes == 60
    assert list(created.assignees.values_list("membership_id", "weight")) == [
        (admin_member.pk, 30),
        (agent.pk, 70),
    ]


def _card(body: str, r) -> str:
    """The rule's card on the list, up to its action buttons."""
    card = body[body.index(f'id="rule-{r.pk}"') :]
    return card[: card.index('class="rule-actions"')]


def test_rule_create_saves_hold_settings_and_the_card_shows_them(client, owner, team, agent):
    client.force_login(owner.user)

    response = client.post(
        CREATE,
        rule_post(
            hold_when_unavailable="on", hold_max_minutes="45", **{f"member_{agent.pk}": "on"}
        ),
    )

    assert response.status_code == 302
    created = RoutingRule.objects.get(team=team, name="Zillow buyers")
    assert created.hold_when_unavailable
    assert created.hold_max_minutes == 45
    card = _card(client.get(LIST).content.decode(), created)
    assert "<dt>Nobody available</dt>" in card
    assert "<dd>Holds the contact up to 45 min, then the next rule</dd>" in card
    assert "<dt>Claim window</dt><dd>10 min</dd>" in card


def test_rule_card_without_hold_moves_on_and_shows_claim_window_only_for_offers(
    client, owner, team, agent
):
    robin = rule(team, "Robin", agent)
    offers = rule(team, "Offers", agent, method="next_up", claim_window_minutes=7)
    client.force_login(owner.user)

    body = client.get(LIST).content.decode()

    assert "<dd>Next rule</dd>" in _card(body, robin)
    assert "Holds the contact" not in _card(body, robin)
    assert "Claim window" not in _card(body, robin)
    assert "<dd>Next rule</dd>" in _card(body, offers)
    assert "<dt>Claim window</dt><dd>7 min</dd>" in _card(body, offers)


def test_rule_create_with_tags_and_equal_shares(client, owner, team, agent):
    tag = AgentTag.objects.create(team=team, name="Luxury")
    client.force_login(owner.user)

    response = client.post(
        CREATE,
        rule_post(method="round_robin", **{f"member_{agent.pk}": "on", f"tag_{tag.pk}": "on"}),
    )

    assert response.status_code == 302
    created = RoutingRule.objects.get(name="Zillow buyers")
    assert list(created.assignees.values_list("membership_id", "agent_tag_id", "weight")) == [
        (agent.pk, None, 1),
        (None, tag.pk, 1),
    ]


def test_rule_create_blast_ignores_shares(client, owner, agent, admin_member):
    client.force_login(owner.user)

    response = client.post(
        CREATE,
        rule_post(
            method="blast",
            **{
                f"member_{agent.pk}": "on",
                f"member_{agent.pk}_share": "90",
                f"member_{admin_member.pk}": "on",
                f"member_{admin_member.pk}_share": "500",  # hidden and ignored, so no error
            },
        ),
    )

    assert response.status_code == 302
    assert set(RuleAssignee.objects.values_list("weight", flat=True)) == {1}


def test_rule_create_days_without_times_means_whole_days(client, owner, agent):
    client.force_login(owner.user)

    client.post(
        CREATE,
        rule_post(work_days=["5", "6"], work_start="", work_end="", **{f"member_{agent.pk}": "on"}),
    )

    created = RoutingRule.objects.get(name="Zillow buyers")
    assert (created.work_days, created.work_start, created.work_end) == (
        "5,6",
        created.work_end,
        created.work_start,
    )
    assert created.work_start is not None
    assert created.work_start == created.work_end


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"price_min": "600000"}, "price_max", "must not be below"),
        ({"work_end": ""}, "work_end", "Give both a start and an end time"),
        ({"claim_window_minutes": "0"}, "claim_window_minutes", "greater than or equal to 1"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "Select a valid choice"),
        ({"method": "assign_directly"}, "method", "Select a valid choice"),
        ({"hold_max_minutes": "0"}, "hold_max_minutes", "greater than or equal to 1"),
        ({"hold_max_minutes": ""}, "hold_max_minutes", "This field is required."),
        ({"hold_max_minutes": "10081"}, "hold_max_minutes", "less than or equal to 10080"),
    ],
)
def test_rule_create_invalid_shows_errors_and_keeps_input(
    client, owner, team, agent, overrides, field, message
):
    client.force_login(owner.user)

    response = client.post(CREATE, rule_post(**overrides, **{f"member_{agent.pk}": "on"}))

    assert response.status_code == 200
    assert message in str(response.context["form"].errors[field])
    body = response.content.decode()
    assert f'id="id_{field}_error"' in body  # next to the field
    assert 'value="Zillow, Facebook"' in body  # nothing the user typed is lost
    assert f'id="id_member_{agent.pk}" checked' in body
    assert not RoutingRule.objects.filter(team=team, is_default=False).exists()


@pytest.mark.parametrize(
    ("shares", "message"),
    [
        ({}, "Choose at least one member or agent tag."),
        ({"a": "60", "b": "30"}, "Shares must add up to 100% (they add up to 90%)."),
        ({"a": "60", "b": ""}, "Give every chosen assignee a share"),
    ],
)
def test_rule_create_assignee_errors(client, owner, agent, admin_member, shares, message):
    data = {}
    for key, member in (("a", agent), ("b", admin_member)):
        if key in shares:
            data[f"member_{member.pk}"] = "on"
            data[f"member_{member.pk}_share"] = shares[key]
    client.force_login(owner.user)

    response = client.post(CREATE, rule_post(method="round_robin", **data))

    assert response.status_code == 200
    body = response.content.decode()
    assert message in body
    assert 'id="assignees-errors"' in body
    assert not RoutingRule.objects.filter(name="Zillow buyers").exists()


def test_rule_create_other_teams_member_is_not_an_option(client, owner, outsider):
    client.force_login(owner.user)

    response = client.post(CREATE, rule_post(**{f"member_{outsider.pk}": "on"}))

    assert response.status_code == 200
    assert "Choose at least one member or agent tag." in response.content.decode()
    assert not RoutingRule.objects.filter(name="Zillow buyers").exists()


def test_rule_create_service_errors_land_on_the_form(client, owner, agent, monkeypatch):
    def refuse(**kwargs):
        raise ValidationError({"name": "A rule with that name is not allowed."})

    monkeypatch.setattr("routing.forms.rule_create", refuse)
    client.force_login(owner.user)

    response = client.post(CREATE, rule_post(**{f"member_{agent.pk}": "on"}))

    assert response.status_code == 200
    assert response.context["form"].errors["name"] == ["A rule with that name is not allowed."]


# --- plan gating ----------------------------------------------------------------------------


@pytest.fixture
def basic_owner(db):
    team = make_team(name="Basic Realty", plan="basic", owner=UserFactory(username="basic"))
    return team.memberships.get(role="owner")


def test_rule_form_disables_methods_outside_the_plan(client, basic_owner):
    client.force_login(basic_owner.user)

    body = client.get(CREATE).content.decode()

    assert '<option value="next_up" disabled>Next Up (upgrade to Pro)</option>' in body
    assert '<option value="blast" disabled>Blast Alert (upgrade to Premier)</option>' in body
    assert '<option value="round_robin" selected>Round Robin</option>' in body
    assert "Your team is on the Basic plan." in body


def test_rule_form_pro_plan_offers_next_up_but_not_blast(client, team, owner):
    team.plan = "pro"
    team.save()
    client.force_login(owner.user)

    body = client.get(CREATE).content.decode()

    assert '<option value="next_up">Next Up</option>' in body
    assert '<option value="blast" disabled>Blast Alert (upgrade to Premier)</option>' in body


@pytest.mark.parametrize(("method", "plan"), [("next_up", "Pro"), ("blast", "Premier")])
def test_rule_create_refuses_method_outside_plan(client, basic_owner, method, plan):
    client.force_login(basic_owner.user)

    response = client.post(CREATE, rule_post(method=method, **{f"member_{basic_owner.pk}": "on"}))

    assert response.status_code == 200
    assert response.context["form"].errors["method"] == [
        f"{Method(method).label} is not in the Basic plan: upgrade to {plan} to use it."
    ]
    assert not RoutingRule.objects.filter(name="Zillow buyers").exists()


def test_rule_edit_warns_when_method_left_the_plan(client, team, owner, rules):
    RoutingRule.objects.filter(pk=rules[0].pk).update(method=Method.BLAST)
    team.plan = "pro"
    team.save()
    client.force_login(owner.user)

    body = client.get(_edit_url(rules[0])).content.decode()

    assert "This rule uses Blast Alert, which is not in the Pro plan" in body


# --- editing --------------------------------------------------------------------------------


def test_rule_edit_shows_current_values_and_reset_warning(client, owner, team, agent):
    edited = rule(
        team, "Zillow", agent, sources=["Zillow", "Trulia"], work_days="0,2", tags_all=["vip"]
    )
    client.force_login(owner.user)

    body = client.get(_edit_url(edited)).content.decode()

    assert 'value="Zillow"' in body
    assert 'value="Zillow, Trulia"' in body
    assert 'value="vip"' in body
    assert f'id="id_member_{agent.pk}" checked' in body
    assert "Adding or removing users resets the order of distribution." in body


def test_rule_edit_shows_and_changes_the_hold_settings(client, owner, team, agent):
    edited = rule(team, "Zillow", agent, hold_when_unavailable=True, hold_max_minutes=90)
    client.force_login(owner.user)

    body = client.get(_edit_url(edited)).content.decode()

    assert "<legend>When nobody is available</legend>" in body
    assert re.search(r'<input type="checkbox" name="hold_when_unavailable"[^>]* checked', body)
    assert re.search(r'<input type="number" name="hold_max_minutes" value="90"', body)

    response = client.post(
        _edit_url(edited),
        rule_post(name="Zillow", method="round_robin", **{f"member_{agent.pk}": "on"}),
    )

    assert response.status_code == 302
    edited.refresh_from_db()
    assert not edited.hold_when_unavailable
    assert edited.hold_max_minutes == 60
    assert "<dd>Next rule</dd>" in _card(client.get(LIST).content.decode(), edited)


def test_rule_edit_changing_assignees_resets_the_order(client, owner, team, agent, admin_member):
    edited = rule(team, "Zillow", agent, sources=["Zillow"])
    epoch = edited.rotation.epoch
    client.force_login(owner.user)

    response = client.post(
        _edit_url(edited),
        rule_post(
            name="Zillow (all)",
            method="round_robin",
            **{f"member_{agent.pk}": "on", f"member_{admin_member.pk}": "on"},
        ),
    )

    assert response.status_code == 302
    assert any("order of distribution was reset" in m for m in _messages(response))
    edited.refresh_from_db()
    assert edited.name == "Zillow (all)"
    assert Rotation.objects.get(pk=edited.rotation_id).epoch == epoch + 1
    assert edited.assignees.count() == 2


def test_rule_edit_same_assignees_keeps_the_order(client, owner, team, agent):
    edited = rule(team, "Zillow", agent, sources=["Zillow"])
    client.force_login(owner.user)

    response = client.post(
        _edit_url(edited),
        rule_post(name="Zillow 2", method="round_robin", **{f"member_{agent.pk}": "on"}),
    )

    assert response.status_code == 302
    assert _messages(response) == ["Rule “Zillow 2” saved."]
    assert Rotation.objects.get(pk=edited.rotation_id).epoch == edited.rotation.epoch


def test_rule_edit_is_one_transaction(client, owner, team, agent, monkeypatch):
    edited = rule(team, "Zillow", agent, sources=["Zillow"])

    def refuse(**kwargs):
        raise ValidationError("A member or tag is listed twice.")

    monkeypatch.setattr("routing.forms.rule_set_assignees", refuse)
    client.force_login(owner.user)

    response = client.post(
        _edit_url(edited), rule_post(name="Renamed", **{f"member_{agent.pk}": "on"})
    )

    assert response.status_code == 200
    assert "A member or tag is listed twice." in response.content.decode()
    assert 'value="Renamed"' in response.content.decode()
    edited.refresh_from_db()
    assert edited.name == "Zillow"
    assert edited.method == "round_robin"


def test_rule_edit_invalid_saves_nothing(client, owner, team, agent):
    edited = rule(team, "Zillow", agent, sources=["Zillow"])
    client.force_login(owner.user)

    response = client.post(
        _edit_url(edited),
        rule_post(name="Renamed", price_min="9", price_max="1", **{f"member_{agent.pk}": "on"}),
    )

    assert response.status_code == 200
    edited.refresh_from_db()
    assert edited.name == "Zillow"


def test_rule_edit_default_rule_id_goes_to_the_default_editor(client, owner, team):
    default = RoutingRule.objects.get(team=team, is_default=True)
    client.force_login(owner.user)

    response = client.get(_edit_url(default))

    assert response.status_code == 302
    assert response.url == DEFAULT


# --- the Default Rule editor ----------------------------------------------------------------


def test_default_rule_editor_explains_the_pool(client, owner, team, agent, admin_member):
    rule(team, "Zillow", agent, sources=["Zillow"])
    client.force_login(owner.user)

    body = client.get(DEFAULT).content.decode()

    assert "only members not in any earlier rule receive contacts" in body
    row = body[body.index(f'id="id_member_{agent.pk}"') :][:600]
    assert "In an earlier rule" in row
    other = body[body.index(f'id="id_member_{admin_member.pk}"') :][:600]
    assert "In an earlier rule" not in other
    for option in ('value="assign_directly"', 'value="next_up"', 'value="blast"'):
        assert option in body
    assert 'value="round_robin"' not in body


def test_default_rule_assign_directly(client, owner, team, agent):
    client.force_login(owner.user)

    response = client.post(
        DEFAULT,
        {"method": "assign_directly", "direct_assignee": agent.pk, "claim_window_minutes": "15"},
    )

    assert response.status_code == 302
    default = RoutingRule.objects.get(team=team, is_default=True)
    assert (default.method, default.direct_assignee_id) == ("assign_directly", agent.pk)


def test_default_rule_next_up_with_assignees(client, owner, team, agent, admin_member):
    client.force_login(owner.user)

    response = client.post(
        DEFAULT,
        {
            "method": "next_up",
            "claim_window_minutes": "20",
            "skip_paused": "on",
            f"member_{agent.pk}": "on",
            f"member_{admin_member.pk}": "on",
        },
    )

    assert response.status_code == 302
    default = RoutingRule.objects.get(team=team, is_default=True)
    assert default.method == "next_up"
    assert default.claim_window_minutes == 20
    assert set(default.assignees.values_list("membership_id", flat=True)) == {
        agent.pk,
        admin_member.pk,
    }


def test_default_rule_next_up_needs_assignees(client, owner, team):
    client.force_login(owner.user)

    response = client.post(DEFAULT, {"method": "blast", "claim_window_minutes": "15"})

    assert response.status_code == 200
    assert "Choose at least one member or agent tag." in response.content.decode()
    assert RoutingRule.objects.get(team=team, is_default=True).method == "assign_directly"


def test_default_rule_plan_gating(client, basic_owner):
    client.force_login(basic_owner.user)

    body = client.get(DEFAULT).content.decode()
    response = client.post(
        DEFAULT,
        {"method": "next_up", "claim_window_minutes": "15", f"member_{basic_owner.pk}": "on"},
    )

    assert '<option value="next_up" disabled>Next Up (upgrade to Pro)</option>' in body
    assert response.status_code == 200
    assert "not in the Basic plan" in str(response.context["form"].errors["method"])
    default = RoutingRule.objects.get(team=basic_owner.team, is_default=True)
    assert default.method == "assign_directly"


def test_default_rule_editor_other_teams_member_refused(client, owner, team, outsider):
    client.force_login(owner.user)

    response = client.post(
        DEFAULT,
        {"method": "assign_directly", "direct_assignee": outsider.pk, "claim_window_minutes": "15"},
    )

    assert response.status_code == 200
    assert "direct_assignee" in response.context["form"].errors
    assert RoutingRule.objects.get(team=team, is_default=True).direct_assignee_id is None
