"""Team-edited welcome templates render with a few plain values and nothing else."""

import pytest
from django.template import TemplateSyntaxError

from notifications.auto_messages import (
    DEFAULTS,
    PLACEHOLDERS,
    auto_message_render,
    check_template,
    render_text,
)
from notifications.models import AutoMessageTemplate


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
    ],
)
def test_check_template_refuses_what_could_reach_beyond_the_placeholders(source, settings):
    settings.DEBUG = True
    with pytest.raises(TemplateSyntaxError):
        check_template(source)


def test_check_template_accepts_the_defaults_and_simple_logic():
    for subject, body in DEFAULTS.values():
        check_template(subject)
        check_template(body)
    check_template("{% if contact_first_name %}Hi {{ contact_first_name|title }}{% endif %}")


def test_unknown_placeholders_render_empty():
    assert render_text("[{{ contact.email }}{{ settings.SECRET_KEY }}]", PLACEHOLDERS) == "[]"
