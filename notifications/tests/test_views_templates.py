"""The team's auto message pages: list, edit, live preview, save and reset (Manage Team only)."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact
from notifications import services
from notifications.auto_messages import DEFAULTS
from notifications.models import AutoMessageKind, AutoMessageTemplate
from notifications.tests.factories import AutoMessageTemplateFactory
from notifications.tests.fixtures import emails_to
from notifications.views_templates import auto_message_template_reset, auto_message_template_save
from routing.signals import Assignment
from teams.models import Role
from teams.tests.factories import make_member

pytestmark = pytest.mark.django_db

EMAIL, TEXT = AutoMessageKind.WELCOME_EMAIL.value, AutoMessageKind.WELCOME_TEXT.value
LIST = reverse("auto_messages:list")
HTMX = {"HTTP_HX_REQUEST": "true"}


def _edit(kind=EMAIL):
    return reverse("auto_messages:edit", args=[kind])


def _save(kind=EMAIL):
    return reverse("auto_messages:save", args=[kind])


def _preview(kind=EMAIL):
    return reverse("auto_messages:preview", args=[kind])


def _reset(template):
    return reverse("auto_messages:reset", args=[template.pk])


def _email_form(**fields):
    return {
        "enabled": "on",
        "subject": "Hi from {{ agent_first_name }}",
        "body": "Hello!",
        **fields,
    }


@pytest.fixture
def saved(team):
    return AutoMessageTemplateFactory(
        team=team, kind=EMAIL, subject="Our own {{ team_name }} hello", body="Saved body"
    )


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner.user)
    return client


# --- who may see and change them ------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["owner", "admin_member"])
def test_auto_message_pages_for_team_managers(client, request, persona):
    membership = request.getfixturevalue(persona)
    client.force_login(membership.user)

    for url in (LIST, _edit(EMAIL), _edit(TEXT)):
        assert client.get(url).status_code == 200
    assert client.post(_save(), _email_form()).status_code == 302
    assert AutoMessageTemplate.objects.get(team=membership.team).subject.startswith("Hi from")


def test_auto_message_pages_forbidden_without_manage_team(client, team, agent, saved):
    admin_as_agent = make_member(
        team, role=Role.ADMIN, profile=team.permission_profiles.get(name="Agent")
    )
    for member in (agent, admin_as_agent):
        client.force_login(member.user)
        for url in (LIST, _edit()):
            assert client.get(url).status_code == 403
        for url in (_save(), _preview(), _reset(saved)):
            assert client.post(url, _email_form(subject="Hacked")).status_code == 403
    saved.refresh_from_db()
    assert saved.subject == "Our own {{ team_name }} hello"
    assert AutoMessageTemplate.objects.count() == 1


def test_auto_message_reset_other_team_404(client, outsider, saved):
    client.force_login(outsider.user)

    assert client.post(_reset(saved)).status_code == 404
    assert AutoMessageTemplate.objects.filter(pk=saved.pk).exists()


def test_auto_message_pages_show_and_change_only_own_team(client, outsider, saved):
    client.force_login(outsider.user)

    assert "Our own" not in client.get(LIST).content.decode()
    assert "Saved body" not in client.get(_edit()).content.decode()
    client.post(_save(), _email_form(subject="Theirs"))

    saved.refresh_from_db()
    assert saved.subject == "Our own {{ team_name }} hello"
    assert AutoMessageTemplate.objects.get(team=outsider.team).subject == "Theirs"


def test_auto_message_pages_member_without_team_404(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("loner", password="pw"))

    assert client.get(LIST).status_code == 404
    assert client.post(_save(), _email_form()).status_code == 404


def test_auto_message_pages_anonymous_redirect_to_login(client, saved):
    for url in (LIST, _edit(), _save(), _preview(), _reset(saved)):
        response = client.get(url) if url in (LIST, _edit()) else client.post(url, _email_form())
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
    assert AutoMessageTemplate.objects.get().subject == "Our own {{ team_name }} hello"


def test_auto_message_mutations_answer_get_with_405(owner_client, saved):
    for url in (_save(), _preview(), _reset(saved)):
        assert owner_client.get(url).status_code == 405
    assert AutoMessageTemplate.objects.filter(pk=saved.pk).exists()


def test_auto_message_edit_unknown_kind_404(owner_client):
    assert owner_client.get(_edit("goodbye_email")).status_code == 404
    assert owner_client.post(_save("goodbye_email"), _email_form()).status_code == 404


# --- the list and the editor ----------------------------------------------------------------------


def test_auto_message_list_shows_defaults_when_none_saved(owner_client):
    page = owner_client.get(LIST).content.decode()

    assert "Welcome email" in page
    assert "Welcome text" in page
    assert page.count("Default wording") == 2
    assert DEFAULTS[AutoMessageKind.WELCOME_EMAIL][0] in page


def test_auto_message_list_shows_saved_wording_and_off(owner_client, team):
    AutoMessageTemplateFactory(team=team, kind=TEXT, body="Custom text", enabled=False)

    page = owner_client.get(LIST).content.decode()

    assert "Custom text" in page
    assert page.count("Default wording") == 1
    assert "Your wording" in page
    assert ">Off<" in page


def test_auto_message_edit_prefills_defaults_and_previews_as_the_member(owner_client):
    response = owner_client.get(_edit())

    form = response.context["form"]
    assert form.initial["subject"] == DEFAULTS[AutoMessageKind.WELCOME_EMAIL][0]
    assert form.initial["enabled"] is True
    preview = response.context["preview"]
    assert preview.subject == "Welcome from Olive Owner at Acme Realty"
    assert preview.body.startswith("Hi Jane,")
    assert preview.sender.startswith("Olive Owner <")
    assert preview.reply_to == "owner@example.com"
    page = response.content.decode()
    assert "Welcome from Olive Owner at Acme Realty" in page
    assert 'hx-post="/team/messages/welcome_email/preview/"' in page


def test_auto_message_edit_text_has_no_subject(owner_client):
    response = owner_client.get(_edit(TEXT))

    assert "subject" not in response.context["form"].fields
    assert response.context["preview"].body.startswith("Hi Jane, this is Olive Owner")


def test_auto_message_edit_shows_saved_wording_and_reset(owner_client, saved):
    page = owner_client.get(_edit()).content.decode()

    assert "Saved body" in page
    assert "Our own Acme Realty hello" in page  # the preview
    assert _reset(saved) in page


# --- saving ---------------------------------------------------------------------------------------


def test_auto_message_save_creates_then_updates_one_row(owner_client, owner):
    response = owner_client.post(_save(), _email_form())
    assert response.status_code == 302
    assert response.url == LIST
    owner_client.post(_save(), _email_form(body="Second", enabled=""))

    template = AutoMessageTemplate.objects.get()
    assert (template.team, template.kind) == (owner.team, EMAIL)
    assert (template.body, template.enabled) == ("Second", False)
    assert "Saved your team&#x27;s welcome email." in owner_client.get(LIST).content.decode()


def test_auto_message_save_text_ignores_subject(owner_client):
    owner_client.post(_save(TEXT), {"enabled": "on", "subject": "{% bad", "body": "Hi!"})

    template = AutoMessageTemplate.objects.get(kind=TEXT)
    assert (template.subject, template.body) == ("", "Hi!")


@pytest.mark.parametrize(
    ("field", "source"),
    [
        ("body", "{% include 'base.html' %}"),
        ("body", "{% extends 'base.html' %}"),
        ("body", "{% load static %}{% static 'x' %}"),
        ("body", "{% debug %}"),
        ("body", "Hi {{ contact_first_name|shout }}"),
        ("body", "{% if %}"),
        ("subject", "{% include 'notifications/claim.html' %}"),
        ("subject", "Hi {{ agent_name|unknown }}"),
    ],
)
def test_auto_message_save_invalid_template_shows_error_and_saves_nothing(
    owner_client, saved, field, source
):
    response = owner_client.post(_save(), _email_form(**{field: source}))

    assert response.status_code == 200
    assert response.context["form"].errors[field][0].startswith("This template does not render")
    assert "This template does not render" in response.content.decode()
    saved.refresh_from_db()
    assert (saved.subject, saved.body) == ("Our own {{ team_name }} hello", "Saved body")
    assert AutoMessageTemplate.objects.count() == 1


def test_auto_message_save_email_needs_subject(owner_client):
    response = owner_client.post(_save(), _email_form(subject=""))

    assert response.context["form"].errors["subject"] == ["A welcome email needs a subject."]
    assert not AutoMessageTemplate.objects.exists()


def test_auto_message_saved_wording_is_what_the_contact_gets(owner_client, team, agent, capture):
    owner_client.post(_save(), _email_form(subject="Hello from {{ agent_name }}"))
    # bulk_create: no signal, so routing stays out of it.
    [contact] = Contact.objects.bulk_create(
        [Contact(team=team, first_name="Jo", email="jo@example.net")]
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
    with capture(execute=True):
        services.assignments_notify(assignments=[assignment])

    [welcome] = emails_to("jo@example.net")
    assert welcome.subject == "Hello from Alan Agent"
    assert welcome.body.startswith("Hello!\n\n--\nUnsubscribe: ")


def test_auto_message_template_save_checks_actor_and_template(agent, owner):
    with pytest.raises(PermissionDenied):
        auto_message_template_save(actor=agent, kind=EMAIL, subject="s", body="b", enabled=True)
    with pytest.raises(ValidationError):
        auto_message_template_save(
            actor=owner, kind=EMAIL, subject="s", body="{% debug %}", enabled=True
        )
    assert not AutoMessageTemplate.objects.exists()


def test_auto_message_template_reset_refuses_other_team(outsider, saved):
    with pytest.raises(Http404):
        auto_message_template_reset(actor=outsider, template=saved)
    assert AutoMessageTemplate.objects.filter(pk=saved.pk).exists()


# --- preview --------------------------------------------------------------------------------------


def test_auto_message_preview_htmx_returns_the_panel_and_saves_nothing(owner_client):
    response = owner_client.post(
        _preview(), _email_form(body="Hi {{ contact_first_name }}, {{ agent_name }} here."), **HTMX
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert page.lstrip().startswith('<section id="auto-message-preview"')
    assert "<html" not in page
    assert "Hi Jane, Olive Owner here." in page
    assert "Hi from Olive" in page
    assert "HX-Request" in response["Vary"]
    assert not AutoMessageTemplate.objects.exists()


def test_auto_message_preview_without_htmx_renders_the_page_with_the_form(owner_client):
    response = owner_client.post(_preview(TEXT), {"body": "Text {{ team_name }}"})

    page = response.content.decode()
    assert "<html" in page
    assert "Text {{ team_name }}</textarea>" in page
    assert "Text Acme Realty" in page
    assert "Off: this message is not sent" in page
    assert not AutoMessageTemplate.objects.exists()


def test_auto_message_preview_shows_template_errors(owner_client, saved):
    response = owner_client.post(_preview(), _email_form(body="{% include 'x' %}"), **HTMX)

    page = response.content.decode()
    assert "Fix the wording to see the preview" in page
    assert "Message: This template does not render" in page
    saved.refresh_from_db()
    assert saved.body == "Saved body"


# --- reset ----------------------------------------------------------------------------------------


def test_auto_message_reset_goes_back_to_the_default(owner_client, saved):
    response = owner_client.post(_reset(saved))

    assert response.status_code == 302
    assert not AutoMessageTemplate.objects.exists()
    assert owner_client.get(LIST).content.decode().count("Default wording") == 2


# --- query budgets --------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["owner", "admin_member"])
def test_auto_message_pages_query_budget(
    client, request, team, saved, django_assert_max_num_queries, persona
):
    AutoMessageTemplateFactory(team=team, kind=TEXT, body="Text")
    client.force_login(request.getfixturevalue(persona).user)

    for url in (LIST, _edit(), _edit(TEXT)):
        with django_assert_max_num_queries(15):
            assert client.get(url).status_code == 200
    with django_assert_max_num_queries(15):
        assert client.post(_preview(), _email_form(), **HTMX).status_code == 200
