"""Account emails (a new member's set-password link, password reset) go through the
outbox: written with the request, sent after commit, retried while the mail server is
down, and never holding a password token at rest."""

import re
import smtplib
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from notifications import services
from notifications.account_mail import OutboxPasswordResetForm
from notifications.models import ACCOUNT_KINDS, Channel, Kind, OutboxMessage, Status
from teams import services as team_services
from teams.models import Membership
from teams.tests.factories import UserFactory

RESET_LINK = re.compile(r"https?://[^\s/]+(/accounts/reset/([^/\s]+)/([^/\s]+)/)")
NEW_PASSWORD = "Sunny-Harbor-72"


class SmtpDownBackend(BaseEmailBackend):
    def send_messages(self, messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


@pytest.fixture
def smtp_down(settings):
    settings.EMAIL_BACKEND = f"{__name__}.SmtpDownBackend"
    return settings


def smtp_back(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def account_rows(**filters):
    return OutboxMessage.objects.filter(kind__in=ACCOUNT_KINDS, **filters)


def reset_link(message) -> tuple[str, str]:
    """The path of the email's reset link, and its token."""
    found = RESET_LINK.search(message.body)
    assert found, message.body
    return found.group(1), found.group(3)


def set_password_through(link: str, username: str) -> None:
    """Follow the emailed link in a fresh browser, choose a password, sign in with it."""
    browser = Client()
    page = browser.get(link, follow=True)
    assert page.status_code == 200
    assert page.context["validlink"]
    assert "new_password1" in page.context["form"].fields
    done = browser.post(
        page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert done.status_code == 302
    fresh = Client()
    signed_in = fresh.post(reverse("login"), {"username": username, "password": NEW_PASSWORD})
    assert signed_in.status_code == 302
    assert fresh.session["_auth_user_id"] == str(User.objects.get(username=username).pk)


def assert_no_token_stored(token: str) -> None:
    for row in OutboxMessage.objects.all():
        for field in row._meta.concrete_fields:
            assert token not in str(field.value_from_object(row)), field.name


def request_reset(client, email: str):
    return client.post(reverse("password_reset"), {"email": email})


def sweep_at(moment, capture):
    with time_machine.travel(moment, tick=False), capture(execute=True):
        return services.outbox_sweep(now=moment)


# --- new members -------------------------------------------------------------------------


def test_member_invite_with_smtp_down_still_succeeds_and_the_link_goes_out_later(
    client, owner, smtp_down, capture
):
    client.force_login(owner.user)
    with capture(execute=True):
        response = client.post(
            reverse("team:member_create"),
            {
                "username": "nina",
                "first_name": "Nina",
                "last_name": "New",
                "email": "nina@example.com",
                "role": "agent",
                "permission_profile": "",
                "new_tags": "",
                "password": "",
            },
            follow=True,
        )
    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == [
        "Added Nina New. A link to set their password is on its way to nina@example.com."
    ]
    member = Membership.objects.get(user__username="nina")
    row = account_rows().get()
    assert (row.kind, row.channel, row.status, row.attempts) == (
        Kind.PASSWORD_LINK,
        Channel.EMAIL,
        Status.PENDING,
        1,
    )
    assert (row.user_id, row.membership_id, row.team_id) == (
        member.user_id,
        member.pk,
        owner.team_id,
    )
    assert "SMTPServerDisconnected" in row.last_error
    assert row.next_attempt_at > timezone.now()
    assert mail.outbox == []

    smtp_back(smtp_down)
    assert sweep_at(row.next_attempt_at, capture)["enqueued"] == 1
    row.refresh_from_db()
    assert (row.status, row.attempts, row.to) == (Status.SENT, 2, "nina@example.com")
    (message,) = mail.outbox
    assert message.to == ["nina@example.com"]
    assert message.subject == "Set your Switchboard password for Acme Realty"
    link, token = reset_link(message)
    assert_no_token_stored(token)
    set_password_through(link, "nina")


def test_membership_invite_rolled_back_writes_no_link(owner, capture):
    def invite_then_fail():
        with transaction.atomic():
            team_services.membership_invite(actor=owner, username="nina", email="n@example.com")
            assert account_rows().count() == 1
            raise RuntimeError("later step failed")

    with capture(execute=True), pytest.raises(RuntimeError, match="later step failed"):
        invite_then_fail()
    assert account_rows().count() == 0
    assert mail.outbox == []


def test_password_link_skipped_when_the_member_was_deactivated_before_sending(
    owner, agent, smtp_down, capture
):
    with capture(execute=True):
        team_services.membership_send_password_link(actor=owner, membership=agent)
    row = account_rows().get()
    assert row.status == Status.PENDING
    Membership.objects.filter(pk=agent.pk).update(is_active=False)
    smtp_back(smtp_down)
    sweep_at(row.next_attempt_at, capture)
    row.refresh_from_db()
    assert (row.status, row.last_error) == (Status.SKIPPED, "the member is no longer active")
    assert mail.outbox == []


# --- password reset ----------------------------------------------------------------------


def test_password_reset_answers_the_same_for_known_and_unknown_addresses(client, agent, capture):
    with capture(execute=True):
        known = request_reset(client, agent.user.email)
        unknown = request_reset(client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == reverse("password_reset_done")
    done = client.get(reverse("password_reset_done"))
    assert "If an account uses the address you entered" in done.text
    row = account_rows().get()
    assert (row.kind, row.user_id, row.team_id, row.membership_id) == (
        Kind.PASSWORD_RESET,
        agent.user_id,
        None,
        None,
    )
    (message,) = mail.outbox
    assert message.to == [agent.user.email]
    assert message.subject == "Reset your Switchboard password"
    assert "Someone asked to reset the password" in message.body


def test_password_reset_with_smtp_down_retries_with_backoff_then_sends_a_working_link(
    client, db, smtp_down, capture
):
    """A staff account in no team: nothing about teams holds its email back."""
    staff = UserFactory(username="ops", email="ops@example.com", is_staff=True)
    assert not Membership.objects.filter(user=staff).exists()
    with capture(execute=True):
        assert request_reset(client, "OPS@example.com").status_code == 302
    row = account_rows().get()
    first_try = row.next_attempt_at
    assert (row.status, row.attempts) == (Status.PENDING, 1)
    assert first_try - row.updated_at == timedelta(minutes=1)

    # Still down at the next attempt: it waits twice as long.
    assert sweep_at(first_try, capture)["enqueued"] == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.PENDING, 2)
    assert row.next_attempt_at == first_try + timedelta(minutes=2)
    assert mail.outbox == []

    smtp_back(smtp_down)
    sweep_at(row.next_attempt_at, capture)
    row.refresh_from_db()
    assert (row.status, row.attempts, row.to) == (Status.SENT, 3, "ops@example.com")
    (message,) = mail.outbox
    link, token = reset_link(message)
    assert_no_token_stored(token)
    set_password_through(link, "ops")


def test_password_reset_twice_sends_two_emails_and_a_redelivery_sends_none(client, agent, capture):
    with capture(execute=True):
        request_reset(client, agent.user.email)
        request_reset(client, agent.user.email)
    rows = list(account_rows())
    assert len({r.key for r in rows}) == 2
    assert {r.status for r in rows} == {Status.SENT}
    assert len(mail.outbox) == 2
    for row in rows:
        assert services.message_deliver(message_id=row.pk) == "not due"
    with capture(execute=True):
        assert services.outbox_sweep()["enqueued"] == 0
    assert len(mail.outbox) == 2


def test_password_reset_row_pending_holds_no_token_and_each_attempt_makes_a_valid_one(
    client, agent, smtp_down, capture
):
    with capture(execute=True):
        request_reset(client, agent.user.email)
    row = account_rows().get()
    assert set(row.data) == {
        "email",
        "subject_template",
        "email_template",
        "html_email_template",
        "from_email",
        "extra_context",
    }
    smtp_back(smtp_down)
    sweep_at(row.next_attempt_at, capture)
    (message,) = mail.outbox
    _, token = reset_link(message)
    assert PasswordResetTokenGenerator().check_token(User.objects.get(pk=agent.user_id), token)
    assert_no_token_stored(token)


def test_password_reset_skipped_when_the_address_changed_before_sending(
    client, agent, smtp_down, capture
):
    with capture(execute=True):
        request_reset(client, agent.user.email)
    row = account_rows().get()
    User.objects.filter(pk=agent.user_id).update(email="new-owner@example.com")
    smtp_back(smtp_down)
    sweep_at(row.next_attempt_at, capture)
    row.refresh_from_db()
    assert row.status == Status.SKIPPED
    assert "address changed" in row.last_error
    assert mail.outbox == []


def test_password_reset_ignores_inactive_accounts_and_unusable_passwords(client, db, capture):
    UserFactory(username="gone", email="gone@example.com", is_active=False)
    invited = UserFactory(username="invited", email="invited@example.com")
    invited.set_unusable_password()
    invited.save()
    with capture(execute=True):
        request_reset(client, "gone@example.com")
        request_reset(client, "invited@example.com")
    assert account_rows().count() == 0
    assert mail.outbox == []


@pytest.mark.parametrize(
    "options",
    [{"domain_override": "evil.example"}, {"token_generator": PasswordResetTokenGenerator()}],
)
def test_outbox_password_reset_form_refuses_options_it_cannot_honour(agent, options):
    form = OutboxPasswordResetForm({"email": agent.user.email})
    assert form.is_valid()
    with pytest.raises(ImproperlyConfigured):
        form.save(**options)
    assert account_rows().count() == 0
