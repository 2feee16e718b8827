"""API tokens: created (shown once, stored hashed) and revoked by members who manage the team."""

import hashlib
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.http import Http404
from django.urls import reverse

from teams.models import ApiToken
from teams.tokens import api_token_authenticate, api_token_create, api_token_revoke

pytestmark = pytest.mark.django_db

PAGE = reverse("api_tokens")
CREATE = reverse("api_token_create")


def _revoke_url(token):
    return reverse("api_token_revoke", args=[token.pk])


# --- the page --------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["owner", "admin_member"])
def test_tokens_page_for_team_managers(client, request, persona):
    membership = request.getfixturevalue(persona)
    api_token_create(actor=None, team=membership.team, name="Website form")
    client.force_login(membership.user)

    response = client.get(PAGE)

    assert response.status_code == 200
    assert "Website form" in response.content.decode()


def test_tokens_page_forbidden_without_manage_team(client, agent):
    client.force_login(agent.user)

    assert client.get(PAGE).status_code == 403
    assert client.post(CREATE, {"name": "x", "access": "full"}).status_code == 403
    assert not ApiToken.objects.exists()


def test_tokens_pages_anonymous_redirect_to_login(client, team):
    token, _ = api_token_create(actor=None, team=team, name="t")
    for url in (PAGE, CREATE, _revoke_url(token)):
        response = client.post(url) if url != PAGE else client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


def test_tokens_mutations_answer_get_with_405(client, owner):
    token, _ = api_token_create(actor=None, team=owner.team, name="t")
    client.force_login(owner.user)

    assert client.get(CREATE).status_code == 405
    assert client.get(_revoke_url(token)).status_code == 405


def test_tokens_page_lists_only_own_team(client, owner, outsider):
    api_token_create(actor=None, team=outsider.team, name="Their token")
    client.force_login(owner.user)

    assert "Their token" not in client.get(PAGE).content.decode()


# --- create ---------------------------------------------------------------------------


def test_create_shows_token_once_and_stores_only_its_hash(client, owner):
    client.force_login(owner.user)

    response = client.post(CREATE, {"name": "Website form", "access": "intake"})

    assert response.status_code == 302
    assert response.url == PAGE
    plain = client.get(PAGE).context["created"]["token"]
    assert plain.startswith("sb_")
    assert plain not in client.get(PAGE).content.decode()  # never shown again
    token = ApiToken.objects.get()
    assert (token.name, token.access, token.created_by) == ("Website form", "intake", owner)
    assert token.token_hash == hashlib.sha256(plain.encode()).hexdigest()
    assert token.prefix == plain[:10]
    assert plain not in {str(getattr(token, f.attname)) for f in ApiToken._meta.fields}
    assert api_token_authenticate(plain=plain) == token


def test_create_duplicate_active_name_is_an_error(client, owner):
    api_token_create(actor=None, team=owner.team, name="Website form")
    client.force_login(owner.user)

    response = client.post(CREATE, {"name": "Website form", "access": "full"})

    assert response.status_code == 200
    assert "already has an active token with that name" in response.content.decode()
    assert ApiToken.objects.count() == 1


def test_create_service_checks_the_actor(agent, owner, outsider):
    with pytest.raises(PermissionDenied):
        api_token_create(actor=agent, team=agent.team, name="x")
    with pytest.raises(Http404):
        api_token_create(actor=outsider, team=owner.team, name="x")
    with pytest.raises(ValidationError):
        api_token_create(actor=owner, team=owner.team, name="x", access="root")


# --- revoke ---------------------------------------------------------------------------


def test_revoke_stops_the_token_at_once(client, owner):
    token, plain = api_token_create(actor=None, team=owner.team, name="t")
    client.force_login(owner.user)

    response = client.post(_revoke_url(token))

    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert api_token_authenticate(plain=plain) is None
    assert client.get("/api/v1/contacts", HTTP_AUTHORIZATION=f"Bearer {plain}").status_code == 401
    # A revoked token's name may be used again.
    api_token_create(actor=None, team=owner.team, name="t")


def test_revoke_other_teams_token_is_404(client, owner, outsider):
    theirs, _ = api_token_create(actor=None, team=outsider.team, name="t")
    client.force_login(owner.user)

    assert client.post(_revoke_url(theirs)).status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_revoke_twice_is_harmless(owner):
    token, _ = api_token_create(actor=None, team=owner.team, name="t")

    assert api_token_revoke(actor=owner, token=token) is True
    assert api_token_revoke(actor=owner, token=token) is False


def test_authenticate_stamps_last_used_at_most_once_a_minute(owner, django_assert_num_queries):
    _, plain = api_token_create(actor=None, team=owner.team, name="t")

    with django_assert_num_queries(2):
        first = api_token_authenticate(plain=plain)
    with django_assert_num_queries(1):
        api_token_authenticate(plain=plain)

    assert first.last_used_at is not None
    assert api_token_authenticate(plain="sb_nope") is None
    assert api_token_authenticate(plain="not-even-ours") is None


# --- management command -----------------------------------------------------------------


def test_create_api_token_command_prints_the_token(team):
    out = StringIO()

    call_command(
        "create_api_token", "--team", team.slug, "--name", "Zapier", stdout=out, stderr=StringIO()
    )

    plain = out.getvalue().strip()
    assert api_token_authenticate(plain=plain).name == "Zapier"
    assert ApiToken.objects.get().created_by is None


def test_create_api_token_command_unknown_team(db):
    with pytest.raises(CommandError, match="No team with the slug"):
        call_command("create_api_token", "--team", "nope", "--name", "x")


def test_admin_lists_tokens_without_their_secret_and_revokes(admin_client, team):
    token, plain = api_token_create(actor=None, team=team, name="Zapier")

    changelist = admin_client.get("/admin/teams/apitoken/")
    admin_client.post(
        "/admin/teams/apitoken/", {"action": "revoke", "_selected_action": [token.pk]}
    )

    assert changelist.status_code == 200
    assert "Zapier" in changelist.content.decode()
    assert plain not in changelist.content.decode()
    assert token.token_hash not in changelist.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None
