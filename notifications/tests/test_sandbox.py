"""Owner-written templates: a small language, refused before it can cost, bounded when rendered.

The costly templates here are refused by their structure, before anything
renders them, so none of these tests can hang on them.
"""

import logging

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact
from notifications import services
from notifications.models import AutoMessageKind, AutoMessageTemplate, Kind, OutboxMessage, Status
from notifications.sandbox import (
    LIMITS,
    Limits,
    TemplateRefused,
    TemplateTooCostly,
    template_check,
    template_render,
)
from routing.signals import Assignment

SAMPLE = {"contact_first_name": "Jane", "agent_name": "Alan Agent", "team_name": "Acme Realty"}

_LETTERS = '"' + "x" * 40 + '"'
# Five nested loops over 40 characters: 100 million iterations from under 400 characters.
BOMB = (
    "".join(f"{{% for {v} in {_LETTERS} %}}" for v in "abcde")
    + "{{ a }}{{ e }}"
    + "{% endfor %}" * 5
)


def _refusal(source: str, **kwargs) -> TemplateRefused:
    with pytest.raises(TemplateRefused) as raised:
        template_check(source, sample=SAMPLE, **kwargs)
    return raised.value


# --- what is refused before rendering -----------------------------------------------------------


def test_template_check_refuses_the_nested_loop_bomb_on_its_line():
    assert len(BOMB) < 400

    refused = _refusal("Hello\n" + BOMB)

    assert isinstance(refused, TemplateTooCostly)
    assert refused.line == 2
    assert str(refused).startswith("line 2: {% for %} is not allowed")


def test_template_check_refuses_lorem_as_too_costly():
    refused = _refusal("{% lorem 100000000 w %}")

    assert isinstance(refused, TemplateTooCostly)
    assert str(refused).startswith("line 1: {% lorem %} is not allowed")


def test_template_render_refuses_the_nested_loop_bomb_instead_of_rendering_it():
    with pytest.raises(TemplateTooCostly, match=r"\{% for %\}"):
        template_render(BOMB, SAMPLE)


def test_template_check_refuses_a_source_over_the_length_limit():
    source = "{{ agent_name }}" * (LIMITS.source_chars // 16 + 1)

    refused = _refusal(source)

    assert isinstance(refused, TemplateTooCostly)
    assert "the limit is 5,000" in str(refused)
    template_check(source[: LIMITS.source_chars], sample=SAMPLE)


@pytest.mark.parametrize(
    ("source", "tag"),
    [
        ("{% include 'base.html' %}", "include"),
        ("{% extends 'base.html' %}", "extends"),
        ("{% load static %}", "load"),
        ("{% debug %}", "debug"),
        ("{% url 'login' %}", "url"),
        ("{% now 'Y' %}", "now"),
        ("{% with x=agent_name %}{{ x }}{% endwith %}", "with"),
        ("{% filter upper %}hi{% endfilter %}", "filter"),
        ("{% widthratio 1 1 100000000 %}", "widthratio"),
        ("{% templatetag openblock %}", "templatetag"),
    ],
)
def test_template_check_refuses_tags_outside_the_language(source, tag):
    refused = _refusal("Hi,\n\n" + source)

    assert refused.line == 3
    assert f"{{% {tag} %}} is not allowed" in str(refused)
    assert "{% if %}" in str(refused)  # what is allowed instead


@pytest.mark.parametrize(
    "source",
    [
        "{{ agent_name|center:100000000 }}",
        "{{ agent_name|ljust:100000000 }}",
        "{{ agent_name|stringformat:'100000000s' }}",
        "{{ agent_name|make_list }}",
        "{{ agent_name|pprint }}",
    ],
)
def test_template_check_refuses_filters_outside_the_language(source):
    refused = _refusal(source)

    assert refused.line == 1
    assert "Invalid filter" in str(refused)
    assert "the filters default, default_if_none, upper" in str(refused)


@pytest.mark.parametrize(
    "source",
    [
        "{{ contact.__class__ }}",
        "{{ settings.SECRET_KEY }}",
        "{{ ''.__class__.__mro__ }}",
        "{{ agent_name.upper }}",
        "{% if agent_name.__class__ %}x{% endif %}",
        "{{ contact_first_name|default:settings.SECRET_KEY }}",
    ],
)
def test_template_refuses_attribute_access_at_save_and_when_sending(source):
    _refusal(source)
    with pytest.raises(TemplateRefused):
        template_render(source, SAMPLE)


def test_template_check_refuses_unknown_placeholders_and_lists_the_allowed_ones():
    refused = _refusal("Hi {{ contact_first_name }},\n{% if agent_phone %}call{% endif %}")

    assert refused.line == 2
    assert str(refused) == (
        "line 2: agent_phone is not a placeholder. "
        "Placeholders: agent_name, contact_first_name, team_name."
    )


def test_template_check_refuses_deep_nesting_and_long_conditions_before_parsing():
    # Django's parser recurses on each: these would otherwise end in RecursionError.
    assert "nested more than 5 deep" in str(
        _refusal("{% if agent_name %}" * 6 + "x" + "{% endif %}" * 6)
    )
    assert "condition is too long" in str(
        _refusal("{% if " + "not " * 1000 + "agent_name %}x{% endif %}")
    )


@pytest.mark.parametrize(
    "source", ["{% if %}", "{% if agent_name %}open", "{{ agent_name|upper:1 }}"]
)
def test_template_check_refuses_broken_syntax_with_its_line(source):
    refused = _refusal("\n" + source)

    assert "line 2" in str(refused)


# --- what is bounded while rendering ------------------------------------------------------------


def test_template_render_caps_the_output():
    values = {**SAMPLE, "team_name": "x" * 60_000}

    assert len(template_render("{{ team_name }}", values)) == 60_000
    with pytest.raises(TemplateTooCostly, match="over 100,000 characters"):
        template_render("{{ team_name }} and {{ team_name }}", values)


def test_template_render_stops_at_the_wall_clock_budget():
    with pytest.raises(TemplateTooCostly, match="longer than 0 s"):
        template_render("{{ agent_name }}", SAMPLE, limits=Limits(seconds=0))


def test_template_check_renders_the_sample_within_the_limits():
    with pytest.raises(TemplateTooCostly, match="over 10 characters"):
        template_check("{{ team_name }}", sample=SAMPLE, limits=Limits(output_chars=10))


# --- what renders -------------------------------------------------------------------------------


def test_template_render_merge_fields_filters_and_conditions():
    source = (
        "Hi {{ contact_first_name|default:'there'|upper }}, "
        "{% if agent_name == 'Nobody' %}no{% elif team_name %}{{ team_name|lower }}{% else %}-"
        "{% endif %} {# a note #}{% comment %}{% for x in y %}{% endcomment %}"
        "{{ agent_name|truncatechars:5 }}"
    )
    template_check(source, sample=SAMPLE)

    assert template_render(source, SAMPLE) == "Hi JANE, acme realty Alan…"
    assert template_render(source, {**SAMPLE, "contact_first_name": ""}).startswith("Hi THERE,")


def test_template_render_missing_values_render_empty_and_false():
    source = "[{{ agent_name }}|{{ team_name|default:agent_name }}|{% if team_name %}y{% endif %}]"

    assert template_render(source, {}) == "[||]"


def test_template_render_plain_text_is_not_escaped_and_html_is():
    values = {**SAMPLE, "team_name": "<b>O'Neil & Co</b>"}

    assert template_render("{{ team_name }}", values) == "<b>O'Neil & Co</b>"
    assert template_render("<p>{{ team_name }}</p>", values, html=True) == (
        "<p>&lt;b&gt;O&#x27;Neil &amp; Co&lt;/b&gt;</p>"
    )


# --- the team page, the admin and delivery ----------------------------------------------------


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner.user)
    return client


@pytest.mark.django_db
def test_auto_message_save_refuses_the_bomb_on_the_field(owner_client):
    response = owner_client.post(
        reverse("auto_messages:save", args=[AutoMessageKind.WELCOME_EMAIL]),
        {"enabled": "on", "subject": "Hi", "body": BOMB},
    )

    assert response.status_code == 200
    [error] = response.context["form"].errors["body"]
    assert error.startswith("This template does not render: line 1: {% for %} is not allowed")
    assert "{% for %} is not allowed" in response.content.decode()
    assert not AutoMessageTemplate.objects.exists()


@pytest.mark.django_db
def test_auto_message_edit_of_a_stored_bomb_shows_the_error_in_the_preview(owner_client, team):
    # Written around the checks, as an older version of the site could have.
    AutoMessageTemplate.objects.create(team=team, kind=AutoMessageKind.WELCOME_TEXT, body=BOMB)

    response = owner_client.get(reverse("auto_messages:edit", args=[AutoMessageKind.WELCOME_TEXT]))

    assert response.status_code == 200
    [error] = response.context["preview"].errors
    assert "{% for %} is not allowed" in error


@pytest.mark.django_db
def test_auto_message_template_admin_refuses_the_bomb(staff_client, team):
    response = staff_client.post(
        reverse("admin:notifications_automessagetemplate_add"),
        {"team": team.pk, "kind": "welcome_email", "subject": "Hi", "body": BOMB},
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "{% for %} is not allowed" in errors["body"][0]
    assert not AutoMessageTemplate.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (BOMB, "line 1: {% for %} is not allowed"),
        ("{{ team_name }}" * 400, "the limit is 5,000"),
        ("{% include 'base.html' %}", "{% include %} is not allowed"),
    ],
)
def test_welcome_with_a_stored_template_the_sandbox_refuses_fails_once_for_good(
    team, agent, capture, sms_outbox, caplog, body, reason
):
    AutoMessageTemplate.objects.create(
        team=team, kind=AutoMessageKind.WELCOME_EMAIL, subject="Hi", body=body
    )
    [contact] = Contact.objects.bulk_create(
        [Contact(team=team, first_name="Jo", email="jo@example.net", phone="+1555")]
    )
    assignment = Assignment(
        contact=contact,
        membership_id=agent.pk,
        member_name=agent.display_name,
        previous_id=None,
        previous_name="",
        assigned_at=timezone.now(),
        follow_up_hours=None,
    )

    with caplog.at_level(logging.WARNING, logger="notifications.services"), capture(execute=True):
        services.assignments_notify(assignments=[assignment])

    welcome = OutboxMessage.objects.get(contact=contact, kind=Kind.WELCOME_EMAIL)
    assert (welcome.status, welcome.attempts) == (Status.FAILED, 1)
    assert welcome.last_error.startswith("the team's welcome email template cannot be used: ")
    assert reason in welcome.last_error
    assert [m for m in mail.outbox if "jo@example.net" in m.to] == []
    assert f"Outbox message {welcome.pk} (welcome_email, email) cannot be sent" in caplog.text
    # The text, on the default wording, is unaffected.
    assert OutboxMessage.objects.get(contact=contact, kind=Kind.WELCOME_TEXT).status == Status.SENT
    # Never picked up again: neither a retry nor the sweep.
    assert services.message_deliver(message_id=welcome.pk) == "not due"
    with capture(execute=True):
        services.outbox_sweep()
    welcome.refresh_from_db()
    assert (welcome.status, welcome.attempts) == (Status.FAILED, 1)
