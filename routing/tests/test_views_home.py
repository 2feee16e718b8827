import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from contacts.models import ContactRole, ContactStatus, RoleKind
from contacts.tests.factories import ContactFactory
from routing.models import ContactRouting, RoutingStatus
from teams import permissions as perms
from teams.access import has_perm
from teams.context_processors import membership as membership_context
from teams.models import Membership
from teams.services import membership_update, permission_profile_save
from teams.tests.factories import UserFactory

HOME = reverse("home")


def _routed(team, routing_status: str, **fields):
    """A contact whose routing row is at `routing_status` (no routing run)."""
    contact = ContactFactory(team=team, **fields)
    ContactRouting.objects.update_or_create(
        contact=contact, defaults={"team": team, "status": routing_status}
    )
    return contact


def _give_agent(contact_count: int, membership: Membership, *, status: str = ContactStatus.NEW):
    for _ in range(contact_count):
        contact = _routed(membership.team, RoutingStatus.ASSIGNED, status=status)
        ContactRole.objects.create(contact=contact, membership=membership, kind=RoleKind.AGENT)


# --- home ---------------------------------------------------------------------


@pytest.mark.django_db
def test_home_anonymous_redirects_to_login(client):
    response = client.get(HOME)

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={HOME}"


@pytest.mark.parametrize(
    ("persona", "role"), [("owner", "Owner"), ("admin_member", "Admin"), ("agent", "Agent")]
)
def test_home_shows_team_and_role(client, request, persona, role):
    membership = request.getfixturevalue(persona)
    client.force_login(membership.user)

    response = client.get(HOME)

    assert response.status_code == 200
    assert response.context["membership"] == membership
    body = response.content.decode()
    assert "Acme Realty" in body
    assert f'<span class="role role-{membership.role}">{role}</span>' in body
    assert "Premier" in body


def test_home_member_of_no_team_sees_friendly_page(client, db):
    client.force_login(UserFactory(username="loner"))

    response = client.get(HOME)

    assert response.status_code == 200
    assert "You are not a member of any team yet" in response.content.decode()
    assert response.templates[0].name == "teams/no_team.html"


def test_home_deactivated_member_sees_friendly_page(client, agent):
    membership_update(actor=None, membership=agent, is_active=False)
    client.force_login(agent.user)

    response = client.get(HOME)

    assert "You are not a member of any team yet" in response.content.decode()


def test_home_outsider_sees_only_own_team(client, team, agent, outsider):
    _give_agent(2, agent)
    client.force_login(outsider.user)

    response = client.get(HOME)

    body = response.content.decode()
    assert "Other Realty" in body
    assert "Acme Realty" not in body
    assert response.context["routing_counts"] == [(s.value, s.label, 0) for s in RoutingStatus]


def test_home_counts_only_members_open_contacts(client, agent, admin_member):
    _give_agent(2, agent)
    _give_agent(1, agent, status=ContactStatus.NURTURE)
    _give_agent(1, agent, status=ContactStatus.CLOSED)
    _give_agent(1, agent, status=ContactStatus.ARCHIVED)
    _give_agent(4, admin_member)
    # Another role on the contact (here a lender) does not make it "theirs".
    contact = ContactFactory(team=agent.team)
    ContactRole.objects.create(contact=contact, membership=agent, kind=RoleKind.LENDER)
    client.force_login(agent.user)

    response = client.get(HOME)

    open_contacts = response.context["open_contacts"]
    assert open_contacts["total"] == 3
    assert open_contacts["rows"] == [("New", 2), ("Active", 0), ("Nurture", 1)]


def test_home_routing_counts_for_members_who_view_routing_logs(
    client, admin_member, agent, outsider
):
    for _ in range(2):
        _routed(admin_member.team, RoutingStatus.FAILED)
    _routed(admin_member.team, RoutingStatus.OFFERED)
    _routed(admin_member.team, RoutingStatus.HELD)
    _routed(admin_member.team, RoutingStatus.WAITING)
    _routed(outsider.team, RoutingStatus.FAILED)  # another team's: not counted
    client.force_login(admin_member.user)

    response = client.get(HOME)

    counts = {value: n for value, _, n in response.context["routing_counts"]}
    assert counts == {
        "received": 0, "offered": 1, "held": 1, "assigned": 0, "failed": 2, "waiting": 1,
    }  # fmt: skip
    body = response.content.decode()
    assert "Team contacts by routing status" in body
    assert '<div class="routing-held nonzero"><dt>Held</dt><dd>1</dd></div>' in body


def test_home_routing_counts_hidden_from_agent_without_view_routing_logs(client, agent):
    _routed(agent.team, RoutingStatus.FAILED)
    client.force_login(agent.user)

    response = client.get(HOME)

    assert response.context["routing_counts"] is None
    assert "Team contacts by routing status" not in response.content.decode()


def test_home_routing_counts_follow_agent_profile(client, agent):
    profile = agent.permission_profile
    profile.view_routing_logs = True
    permission_profile_save(actor=None, profile=profile)
    client.force_login(agent.user)

    response = client.get(HOME)

    assert "Team contacts by routing status" in response.content.decode()


def test_home_shows_availability(client, agent):
    agent.is_online = True
    agent.paused = True
    agent.paused_until = timezone.now() + timedelta(days=3)
    agent.capacity = 7
    agent.save()
    client.force_login(agent.user)

    body = client.get(HOME).content.decode()

    assert "Paused until" in body
    assert "0 of 7 open contacts" in body


def test_home_pause_that_ended_shows_online(client, agent):
    agent.is_online = True
    agent.paused = True
    agent.paused_until = timezone.now() - timedelta(hours=1)
    agent.save()
    client.force_login(agent.user)

    body = client.get(HOME).content.decode()

    assert "Paused" not in body
    assert '<span class="status status-online">Online</span>' in body


@pytest.mark.parametrize("persona", ["owner", "agent"])
def test_home_query_budget(client, request, django_assert_max_num_queries, persona):
    membership = request.getfixturevalue(persona)
    _give_agent(5, membership)
    client.force_login(membership.user)

    # session, user, membership (with its profile), open counts, routing counts, and for
    # lead distribution managers the navigation's count of leads waiting in a pool;
    # permissions come from the loaded profile, without a query
    with django_assert_max_num_queries(6 if persona == "owner" else 5):
        response = client.get(HOME)

    assert response.status_code == 200


# --- layout and navigation ----------------------------------------------------


def test_base_layout_has_landmarks_csrf_header_and_local_htmx(client, agent):
    client.force_login(agent.user)

    body = client.get(HOME).content.decode()

    assert '<a class="skip-link" href="#main">' in body
    assert '<main id="main"' in body
    assert '<nav class="main-nav" aria-label="Main">' in body
    csrf = re.search(r"<body hx-headers='\{\"X-CSRFToken\": \"([^\"]+)\"\}'>", body)
    assert csrf is not None
    assert len(csrf.group(1)) == 64
    assert '<script src="/static/django_htmx/htmx-2.min.js" defer></script>' in body
    assert "/static/css/app.css" in body
    assert "://" not in body  # nothing loaded from another host


def test_nav_shows_team_role_and_account_menu(client, admin_member):
    client.force_login(admin_member.user)

    body = client.get(HOME).content.decode()

    assert '<span class="team-name">Acme Realty</span>' in body
    assert f'href="{reverse("password_change")}"' in body
    logout_form = (
        rf'<form method="post" action="{reverse("logout")}">\s*'
        r'<input type="hidden" name="csrfmiddlewaretoken"'
    )
    assert re.search(logout_form, body)
    assert 'aria-current="page"' in body


@pytest.mark.parametrize(("is_staff", "shown"), [(True, True), (False, False)])
def test_nav_django_admin_link_only_for_staff(client, owner, is_staff, shown):
    owner.user.is_staff = is_staff
    owner.user.save()
    client.force_login(owner.user)

    body = client.get(HOME).content.decode()

    assert (f'href="{reverse("admin:index")}"' in body) is shown


def test_nav_anonymous_sees_only_log_in(client, db):
    body = client.get(reverse("login")).content.decode()

    assert f'href="{reverse("login")}"' in body
    assert reverse("logout") not in body
    assert reverse("admin:index") not in body


def test_member_can_in_templates_follows_role_and_profile(owner, agent):
    def nav(membership):
        request = RequestFactory().get("/")
        request.membership = membership
        return membership_context(request)["member_can"]

    assert nav(owner)["MANAGE_ROUTING_RULES"]
    assert nav(agent)["VIEW_CONTACTS"]
    assert not nav(agent)["MANAGE_ROUTING_RULES"]
    assert not nav(None)["VIEW_CONTACTS"]


def test_member_can_asks_the_database_nothing_once_the_profile_is_loaded(
    agent, django_assert_num_queries
):
    membership = Membership.objects.select_related("permission_profile").get(pk=agent.pk)

    with django_assert_num_queries(0):  # computed from the role and the loaded profile
        results = [
            has_perm(membership, perm)
            for perm in (perms.VIEW_CONTACTS, perms.MANAGE_TEAM, perms.VIEW_ROUTING_LOGS)
        ]

    assert results == [True, False, False]


# --- auth pages ---------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url_name", "text"),
    [
        ("login", "Log in"),
        ("password_reset", "Reset your password"),
        ("password_reset_done", "Check your email"),
        ("password_reset_complete", "Your password is set"),
    ],
)
def test_auth_page_renders_for_anonymous(client, url_name, text):
    response = client.get(reverse(url_name))

    assert response.status_code == 200
    body = response.content.decode()
    assert re.search(rf"<h1[^>]*>{text}", body)
    assert '<main id="main"' in body


def test_login_with_bad_password_shows_clear_error(client, agent):
    response = client.post(reverse("login"), {"username": "agent", "password": "wrong"})

    assert response.status_code == 200
    body = response.content.decode()
    assert 'role="alert"' in body
    assert "Please enter a correct username and password" in body
    assert '<label for="id_username">' in body


def test_login_with_good_password_goes_home(client, agent):
    response = client.post(reverse("login"), {"username": "agent", "password": "pw"})

    assert response.status_code == 302
    assert response.url == HOME


def test_logout_answers_get_with_405(client, agent):
    client.force_login(agent.user)

    response = client.get(reverse("logout"))

    assert response.status_code == 405


def test_logout_post_logs_out(client, agent):
    client.force_login(agent.user)

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert client.get(HOME).status_code == 302


@pytest.mark.django_db
def test_logged_out_template_renders(client):
    from django.template.loader import render_to_string

    assert "You are logged out" in render_to_string("registration/logged_out.html")


def test_password_change_pages(client, agent):
    client.force_login(agent.user)
    url = reverse("password_change")

    assert "Change password" in client.get(url).content.decode()
    bad = client.post(url, {"old_password": "nope", "new_password1": "x", "new_password2": "y"})
    assert 'role="alert"' in bad.content.decode()
    assert 'aria-invalid="true"' in bad.content.decode()
    done = client.post(
        url,
        {
            "old_password": "pw",
            "new_password1": "A-long-new-pass",
            "new_password2": "A-long-new-pass",
        },
        follow=True,
    )
    assert "Your password was changed." in done.content.decode()
    assert User.objects.get(pk=agent.user_id).check_password("A-long-new-pass")


def test_password_change_anonymous_redirects_to_login(client, db):
    response = client.get(reverse("password_change"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_password_reset_flow(client, agent, capture):
    with capture(execute=True):  # the email leaves through the outbox, after commit
        response = client.post(reverse("password_reset"), {"email": agent.user.email})
    assert response.status_code == 302

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == "Reset your Switchboard password"
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", message.body).group(1)
    confirm = client.get(link, follow=True)
    assert "Choose a new password" in confirm.content.decode()
    done = client.post(
        confirm.redirect_chain[-1][0],
        {"new_password1": "A-long-new-pass", "new_password2": "A-long-new-pass"},
        follow=True,
    )
    assert "Your password is set" in done.content.decode()
    assert User.objects.get(pk=agent.user_id).check_password("A-long-new-pass")


@pytest.mark.django_db
def test_password_reset_confirm_bad_link_says_so(client):
    response = client.get(reverse("password_reset_confirm", args=["MQ", "bad-token"]))

    assert response.status_code == 200
    assert "This link no longer works" in response.content.decode()
