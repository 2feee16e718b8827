"""Team-edited welcome templates render with a few plain values and nothing else."""

import pytest
from django.core.exceptions import ValidationError

from notifications.auto_messages import (
    DEFAULTS,
    PLACEHOLDERS,
    auto_message_render,
    check_template,
    render_text,
    validate_template,
)
from notifications.models import AutoMessageTemplate
from notifications.sandbox import TemplateRefused, TemplateTooCostly


def test_auto_message_render_uses_defaults_without_a_team_template():
    rendered = auto_message_render(template=None, kind="welcome_email", values=PLACEHOLDERS)
    assert rendered.enabled
    assert rendered.subject == "Welcome from Alan Agent at Acme Realty"
    assert rendered.body.startswith("Hi Jane,")


def test_auto_message_render_greets_a_contact_without_a_first_name():
    values = {**PLACEHOLDERS, "contact_first_name": ""}
    rendered = auto_message_render(template=None, kind="welcome_text", values=values)
    assert rendered.body.startswith("Hi there, this is Alan Agent with Acme Realty.")


def test_auto_message_render_uses_the_team_template():
    template = AutoMessageTemplate(subject="Hi\n{{ contact_first_name }}", body="{{ team_name }}")
    rendered = auto_message_render(template=template, kind="welcome_email", values=PLACEHOLDERS)
    assert (rendered.subject, rendered.body) == ("Hi Jane", "Acme Realty")


def test_render_text_does_not_escape_plain_text():
    assert render_text("{{ contact_first_name }}", {"contact_first_name": "O'Neil & Co"}) == (
        "O'Neil & Co"
    )


@pytest.mark.parametrize(
    "source",
    [
        "{% load static %}{% static 'x' %}",
        "{% include 'base.html' %}",
        "{% extends 'base.html' %}",
        "{% debug %}",
        "{% if %}",
        "{{ agent_name|no_such_filter }}",
        "{{ agent_name|center:100 }}",
        "{{ contact_last_name }}",
        "{{ contact.email }}",
    ],
)
def test_check_template_refuses_what_could_reach_beyond_the_placeholders(source, settings):
    settings.DEBUG = True
    with pytest.raises(TemplateRefused):
        check_template(source)


def test_check_template_accepts_the_defaults_and_simple_logic():
    for subject, body in DEFAULTS.values():
        check_template(subject)
        check_template(body)
    check_template("{% if contact_first_name %}Hi {{ contact_first_name|title }}{% endif %}")


def test_render_text_leaves_a_placeholder_it_has_no_value_for_empty():
    # Saving refuses unknown placeholders; a stored template still sends.
    assert render_text("[{{ contact_last_name }}]", PLACEHOLDERS) == "[]"


def test_render_text_refuses_attribute_lookups():
    with pytest.raises(TemplateRefused, match="single names"):
        render_text("[{{ settings.SECRET_KEY }}]", PLACEHOLDERS)


def test_auto_message_render_refuses_a_stored_loop():
    template = AutoMessageTemplate(subject="Hi", body="{% for c in team_name %}{{ c }}{% endfor %}")
    with pytest.raises(TemplateTooCostly):
        auto_message_render(template=template, kind="welcome_email", values=PLACEHOLDERS)


def test_validate_template_names_the_problem_and_the_line():
    with pytest.raises(ValidationError) as raised:
        validate_template("Hi\n{{ contact_last_name }}")
    [message] = raised.value.messages
    assert message.startswith("This template does not render: line 2: contact_last_name is not")
    assert "agent_first_name, agent_name" in message
