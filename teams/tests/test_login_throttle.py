"""Sign-in throttling (django-axes with teams.signin): locks per username and address,
per address, the lockout page, the cool-off, and the ways back in."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from asgiref.sync import async_to_sync
from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django.contrib.auth.tokens import default_token_generator
from django.core.management import call_command
from django.http import HttpRequest
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from teams.tests.factories import UserFactory

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
HOME = "10.0.0.1"
ELSEWHERE = "10.0.0.2"
RIGHT = "pw"  # UserFactory's password


@pytest.fixture(autouse=True)
def limits(settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.SIGNIN_FAILURE_LIMIT_PER_IP = 10
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


def sign_in(client, username, password, *, ip=HOME, url=None, **extra):
    return client.post(
        url or reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=ip,
        **extra,
    )


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def is_locked(username, *, ip=HOME) -> bool:
    """What axes would decide for a sign-in now, without making one (which would count)."""
    request = RequestFactory().post(reverse("login"), REMOTE_ADDR=ip)
    return AxesProxyHandler.is_locked(request, {"username": username})


def lock(client, username, *, ip=HOME, times=3):
    return [sign_in(client, username, "wrong", ip=ip).status_code for _ in range(times)]


def test_login_locks_after_the_failure_limit_with_a_429_page(client, alice):
    with time_machine.travel(T0, tick=False):
        codes = lock(client, "alice")
        locked = sign_in(client, "alice", "wrong")

    assert codes == [200, 200, 429]
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Sign-in locked" in page
    assert "this account is locked here for 15 minutes" in page
    assert reverse("password_reset") in page  # a reset unlocks the account
    assert "administrator" in page
    assert locked["Retry-After"] == "900"
    assert AccessAttempt.objects.get(username="alice", ip_address=HOME).failures_since_start == 4


def test_login_locked_refuses_the_right_password(client, alice):
    with time_machine.travel(T0, tick=False):
        lock(client, "alice")
        response = sign_in(client, "alice", RIGHT)
        assert not signed_in(client)

    assert response.status_code == 429


def test_login_works_again_after_the_cool_off(client, alice):
    with time_machine.travel(T0, tick=False):
        lock(client, "alice")
    with time_machine.travel(T0 + timedelta(minutes=14), tick=False):
        assert is_locked("alice")
    with time_machine.travel(T0 + timedelta(minutes=16), tick=False):
        response = sign_in(client, "alice", RIGHT)
        assert signed_in(client)

    assert response.status_code == 302


def test_login_attempt_while_locked_starts_the_wait_again(client, alice):
    with time_machine.travel(T0, tick=False):
        lock(client, "alice")
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        assert sign_in(client, "alice", RIGHT).status_code == 429
    with time_machine.travel(T0 + timedelta(minutes=24), tick=False):
        assert is_locked("alice")
    with time_machine.travel(T0 + timedelta(minutes=26), tick=False):
        assert sign_in(client, "alice", RIGHT).status_code == 302


def test_login_lock_is_per_username_and_address(client, alice):
    UserFactory(username="bob")
    with time_machine.travel(T0, tick=False):
        lock(client, "alice")
        from_elsewhere = sign_in(Client(), "alice", RIGHT, ip=ELSEWHERE)
        bob = sign_in(Client(), "bob", RIGHT)

    assert from_elsewhere.status_code == 302  # nobody can lock a colleague out from afar
    assert bob.status_code == 302


def test_login_address_locked_for_every_username_past_its_higher_limit(client, db):
    UserFactory(username="bob")
    with time_machine.travel(T0, tick=False):
        # Nine failures over many usernames: none reaches the per-username limit of 3.
        codes = [sign_in(client, f"guess{i % 5}", "wrong").status_code for i in range(9)]
        before = sign_in(Client(), "bob", RIGHT)
        tenth = sign_in(client, "guess9", "wrong")
        bob = sign_in(Client(), "bob", RIGHT)
        bob_elsewhere = sign_in(Client(), "bob", RIGHT, ip=ELSEWHERE)

    assert codes == [200] * 9
    assert before.status_code == 302
    assert tenth.status_code == 429
    assert bob.status_code == 429
    page = bob.content.decode()
    assert "signing in from it, to any account, is locked for 15 minutes" in page
    assert reverse("password_reset") not in page  # a reset would not lift this lock
    assert bob_elsewhere.status_code == 302


def test_login_address_behind_trusted_proxies_is_the_forwarded_one(client, alice, settings):
    settings.INTAKE_TRUSTED_PROXIES = 1
    with time_machine.travel(T0, tick=False):
        for _ in range(3):
            sign_in(client, "alice", "wrong", HTTP_X_FORWARDED_FOR="203.0.113.7")
        locked = sign_in(client, "alice", RIGHT, HTTP_X_FORWARDED_FOR="203.0.113.7")
        other = sign_in(Client(), "alice", RIGHT, HTTP_X_FORWARDED_FOR="203.0.113.8")

    assert AccessAttempt.objects.get().ip_address == "203.0.113.7"
    assert locked.status_code == 429
    assert other.status_code == 302  # same proxy address, another client


def test_admin_login_is_throttled_too(client, db):
    UserFactory(username="root", is_staff=True, is_superuser=True)
    url = reverse("admin:login")
    with time_machine.travel(T0, tick=False):
        codes = [sign_in(client, "root", "wrong", url=url).status_code for _ in range(3)]
        right = sign_in(client, "root", RIGHT, url=url)

    assert codes == [200, 200, 429]
    assert right.status_code == 429
    assert "Sign-in locked" in right.content.decode()


def test_admin_unlock_action_lets_the_user_in(staff_client, alice):
    other = Client()
    with time_machine.travel(T0, tick=False):
        lock(other, "alice")
        attempt = AccessAttempt.objects.get(username="alice")
        changelist = reverse("admin:axes_accessattempt_changelist")
        assert "alice" in staff_client.get(changelist).content.decode()
        response = staff_client.post(
            changelist, {"action": "unlock", "_selected_action": [attempt.pk]}, follow=True
        )
        after = sign_in(other, "alice", RIGHT)

    assert "Unlocked: 1 failed sign-in record(s) forgotten." in response.content.decode()
    assert not AccessAttempt.objects.exists()
    assert after.status_code == 302


def test_admin_delete_of_attempts_unlocks(staff_client, alice):
    other = Client()
    with time_machine.travel(T0, tick=False):
        lock(other, "alice")
        attempt = AccessAttempt.objects.get(username="alice")
        staff_client.post(
            reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"}
        )
        after = sign_in(other, "alice", RIGHT)

    assert after.status_code == 302


def test_axes_reset_username_command_unlocks(client, alice):
    with time_machine.travel(T0, tick=False):
        lock(client, "alice")
        call_command("axes_reset_username", "alice")
        response = sign_in(client, "alice", RIGHT)

    assert response.status_code == 302


def test_password_reset_lifts_the_lock_on_the_username(client, alice):
    with time_machine.travel(T0, tick=False):
        lock(client, "alice")
        uid = urlsafe_base64_encode(force_bytes(alice.pk))
        token = default_token_generator.make_token(alice)
        link = reverse("password_reset_confirm", args=[uid, token])
        form = client.get(link, follow=True)
        done = client.post(
            form.redirect_chain[-1][0],
            {"new_password1": "A-long-new-pass", "new_password2": "A-long-new-pass"},
        )
        response = sign_in(client, "alice", "A-long-new-pass")
        assert signed_in(client)

    assert done.status_code == 302
    assert response.status_code == 302


def test_password_reset_leaves_a_lock_on_the_address(client, alice):
    with time_machine.travel(T0, tick=False):
        for i in range(10):
            sign_in(client, f"guess{i}", "wrong")
        uid = urlsafe_base64_encode(force_bytes(alice.pk))
        link = reverse(
            "password_reset_confirm", args=[uid, default_token_generator.make_token(alice)]
        )
        form = client.get(link, follow=True)
        client.post(
            form.redirect_chain[-1][0],
            {"new_password1": "A-long-new-pass", "new_password2": "A-long-new-pass"},
        )
        response = sign_in(client, "alice", "A-long-new-pass")

    assert response.status_code == 429


def test_login_with_client_login_and_force_login_still_work(client, alice):
    assert client.login(request=HttpRequest(), username="alice", password=RIGHT)
    other = Client()
    other.force_login(alice)
    assert signed_in(other)


def test_login_lockout_page_under_asgi(async_client, alice):
    """Production serves pages under ASGI, where axes' middleware runs its async path."""
    with time_machine.travel(T0, tick=False):
        for _ in range(3):
            response = async_to_sync(async_client.post)(
                reverse("login"), {"username": "alice", "password": "wrong"}
            )

    assert response.status_code == 429
    assert "this account is locked here for 15 minutes" in response.content.decode()
