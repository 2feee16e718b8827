"""Notifications admin: the outbox's status at a fixed query cost, templates checked on save."""

import itertools

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.urls import reverse

from notifications.models import (
    AutoMessageTemplate,
    Channel,
    DigestCursor,
    Kind,
    OutboxMessage,
    PushSubscription,
    Status,
)
from notifications.tests.factories import AutoMessageTemplateFactory, PushSubscriptionFactory
from teams.tests.factories import make_member

_serial = itertools.count()


@pytest.fixture
def staff_client(client, db):
    client.force_login(User.objects.create_superuser("staff", "staff@example.com", "pw"))
    return client


def admin_url(model, view="changelist", *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def add_messages(team, n):
    for _ in range(n):
        member = make_member(team)
        contact = team.contacts.create(first_name="C")
        OutboxMessage.objects.create(
            team=team,
            key=f"k{next(_serial)}",
            channel=Channel.EMAIL,
            kind=Kind.WELCOME_EMAIL,
            membership=member,
            contact=contact,
            status=Status.FAILED,
            last_error="x" * 200,
        )
        OutboxMessage.objects.create(
            team=team,
            key=f"k{next(_serial)}",
            channel=Channel.IN_APP,
            kind=Kind.ASSIGNED,
            membership=member,
            contact=contact,
            status=Status.SENT,
        )


@pytest.mark.parametrize(
    ("model", "make_rows"),
    [
        (OutboxMessage, add_messages),
        (
            PushSubscription,
            lambda team, n: PushSubscriptionFactory.create_batch(n, membership=make_member(team)),
        ),
        (
            DigestCursor,
            lambda team, n: [
                DigestCursor.objects.create(
                    membership=make_member(team), sent_through="2026-01-01T00:00Z"
                )
                for _ in range(n)
            ],
        ),
    ],
)
def test_changelist_queries_do_not_grow_with_rows(
    staff_client, team, django_assert_max_num_queries, model, make_rows
):
    counts = []
    for n in (3, 12):
        make_rows(team, n)
        with django_assert_max_num_queries(12) as captured:
            response = staff_client.get(admin_url(model))
        assert response.status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1]


def test_outbox_changelist_filters_by_status(staff_client, team):
    add_messages(team, 2)
    response = staff_client.get(admin_url(OutboxMessage) + "?status__exact=failed")
    assert response.context["cl"].result_count == 2


def test_outbox_messages_are_read_only(staff_client, team):
    add_messages(team, 1)
    message = OutboxMessage.objects.first()
    assert staff_client.get(admin_url(OutboxMessage, "add")).status_code == 403
    response = staff_client.post(admin_url(OutboxMessage, "change", message.pk), {"title": "x"})
    assert response.status_code == 403


def test_outbox_retry_action_sends_failed_messages_again(
    staff_client, team, django_capture_on_commit_callbacks
):
    add_messages(team, 1)
    failed = OutboxMessage.objects.get(status=Status.FAILED)
    OutboxMessage.objects.filter(pk=failed.pk).update(
        contact=team.contacts.create(first_name="Re", email="re@example.net")
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            admin_url(OutboxMessage),
            {"action": "retry", "_selected_action": [failed.pk]},
            follow=True,
        )
    assert "1 message(s) queued again." in [str(m) for m in response.context["messages"]]
    failed.refresh_from_db()
    assert failed.status == Status.SENT
    assert [m.to for m in mail.outbox] == [["re@example.net"]]


def test_auto_message_template_add_saves_a_valid_template(staff_client, team):
    response = staff_client.post(
        admin_url(AutoMessageTemplate, "add"),
        {
            "team": team.pk,
            "kind": "welcome_email",
            "enabled": "on",
            "subject": "Hi {{ contact_first_name }}",
            "body": "{{ agent_name }} here.",
        },
    )
    assert response.status_code == 302
    assert AutoMessageTemplate.objects.get(team=team).subject == "Hi {{ contact_first_name }}"


@pytest.mark.parametrize(
    ("field", "source"),
    [("body", "{% include 'base.html' %}"), ("body", "{% load static %}"), ("subject", "{% if %}")],
)
def test_auto_message_template_refuses_templates_that_do_not_render(
    staff_client, team, field, source
):
    data = {"team": team.pk, "kind": "welcome_email", "subject": "Hi", "body": "Body"}
    data[field] = source
    response = staff_client.post(admin_url(AutoMessageTemplate, "add"), data)
    assert response.status_code == 200
    assert "This template does not render" in str(response.context["adminform"].form.errors)
    assert not AutoMessageTemplate.objects.exists()


def test_auto_message_template_change_page_keeps_the_team(staff_client, team):
    template = AutoMessageTemplateFactory(team=team)
    response = staff_client.get(admin_url(AutoMessageTemplate, "change", template.pk))
    assert response.status_code == 200
    assert "team" not in response.context["adminform"].form.fields
