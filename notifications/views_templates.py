"""The team's auto messages (welcome email and text): list, edit, live preview, reset.

Members with Manage Team only. A kind the team never saved shows the default
wording the notifications send; saving it makes it the team's own. The preview
renders the unsaved form with a sample contact and the member as the Agent,
through the same locked-down engine the sending uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods, require_POST

from notifications.auto_messages import DEFAULTS, PLACEHOLDERS, render_text, validate_template
from notifications.forms import AutoMessageTemplateEditForm
from notifications.models import AutoMessageKind, AutoMessageTemplate
from notifications.sandbox import TemplateRefused
from teams import permissions as perms
from teams.access import member_required, require_perm
from teams.models import Membership, Team

SAMPLE_CONTACT = {
    "first_name": PLACEHOLDERS["contact_first_name"],
    "last_name": "Sample",
    "email": "jane.sample@example.com",
    "phone": "+1 555 010 0123",
}
EDIT_TEMPLATE = "notifications/auto_templates/edit.html"


# --- writes (keyword-only, checked: they belong with notifications.services) -----------


@transaction.atomic
def auto_message_template_save(
    *, actor: Membership, kind: str, subject: str, body: str, enabled: bool
) -> AutoMessageTemplate:
    """The team's wording of `kind`, created or replaced."""
    require_perm(actor, perms.MANAGE_TEAM)
    if kind not in AutoMessageKind.values:
        raise ValidationError(f"Unknown auto message {kind!r}.")
    if kind == AutoMessageKind.WELCOME_TEXT:
        subject = ""
    for source in (subject, body):
        validate_template(source)
    template, _ = AutoMessageTemplate.objects.update_or_create(
        team=actor.team,
        kind=kind,
        defaults={"subject": subject, "body": body, "enabled": enabled},
    )
    return template


def auto_message_template_reset(*, actor: Membership, template: AutoMessageTemplate) -> None:
    """Back to the default wording (and sent again, if the team had turned it off)."""
    require_perm(actor, perms.MANAGE_TEAM, team_id=template.team_id)
    template.delete()


# --- reads and the preview ---------------------------------------------------------------


def _kind_or_404(kind: str) -> AutoMessageKind:
    if kind not in AutoMessageKind.values:
        raise Http404("No such auto message.")
    return AutoMessageKind(kind)


def _saved(team: Team, kind: str) -> AutoMessageTemplate | None:
    return AutoMessageTemplate.objects.filter(team=team, kind=kind).first()


@dataclass(frozen=True)
class Preview:
    kind: str
    enabled: bool = True
    subject: str = ""
    body: str = ""
    sender: str = ""
    reply_to: str = ""
    to: str = ""
    errors: list[str] = field(default_factory=list)


def preview_values(membership: Membership) -> dict[str, str]:
    """What the placeholders say for the sample contact, with this member as the Agent."""
    user = membership.user
    return {
        "contact_first_name": SAMPLE_CONTACT["first_name"],
        "agent_name": membership.display_name,
        "agent_first_name": user.first_name or membership.display_name,
        "agent_email": user.email,
        "team_name": membership.team.name,
    }


def auto_message_preview(
    *, membership: Membership, kind: str, subject: str, body: str, enabled: bool
) -> Preview:
    """The message as the sample contact would get it (sender as in notifications.content)."""
    values = preview_values(membership)
    try:
        subject = " ".join(render_text(subject, values).split())
        body = render_text(body, values)
    except TemplateRefused as exc:
        return Preview(kind=kind, enabled=enabled, errors=[f"This template does not render: {exc}"])
    contact_name = f"{SAMPLE_CONTACT['first_name']} {SAMPLE_CONTACT['last_name']}"
    if kind == AutoMessageKind.WELCOME_TEXT:
        return Preview(
            kind=kind,
            enabled=enabled,
            body=body,
            sender=membership.display_name,
            to=f"{contact_name} ({SAMPLE_CONTACT['phone']})",
        )
    site_address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or "switchboard@localhost"
    return Preview(
        kind=kind,
        enabled=enabled,
        subject=subject,
        body=body,
        sender=formataddr((membership.display_name, site_address)),
        reply_to=membership.user.email,
        to=formataddr((contact_name, SAMPLE_CONTACT["email"])),
    )


def _form_preview(form: AutoMessageTemplateEditForm, membership: Membership) -> Preview:
    if not form.is_valid():
        errors = [
            f"{form.fields[name].label}: {error}" if name in form.fields else error
            for name, field_errors in form.errors.items()
            for error in field_errors
        ]
        return Preview(kind=form.kind, enabled=bool(form.data.get("enabled")), errors=errors)
    return auto_message_preview(
        membership=membership,
        kind=form.kind,
        subject=form.cleaned_data.get("subject", ""),
        body=form.cleaned_data["body"],
        enabled=form.cleaned_data["enabled"],
    )


def _edit_page(request, membership, kind, form, preview, saved):
    context = {
        "kind": kind,
        "form": form,
        "preview": preview,
        "saved": saved,
        "placeholders": preview_values(membership),
    }
    return render(request, EDIT_TEMPLATE, context)


# --- pages ---------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD"])
@member_required(perm=perms.MANAGE_TEAM)
def auto_message_list(request):
    membership = request.membership
    saved = {t.kind: t for t in AutoMessageTemplate.objects.filter(team=membership.team)}
    rows = []
    for kind in AutoMessageKind:
        template = saved.get(kind.value)
        subject, body = (template.subject, template.body) if template else DEFAULTS[kind]
        rows.append(
            {
                "kind": kind,
                "template": template,
                "enabled": template.enabled if template else True,
                "subject": subject,
                "body": body,
            }
        )
    return render(request, "notifications/auto_templates/list.html", {"rows": rows})


@require_http_methods(["GET", "HEAD"])
@member_required(perm=perms.MANAGE_TEAM)
def auto_message_edit(request, kind: str):
    membership = request.membership
    kind = _kind_or_404(kind)
    saved = _saved(membership.team, kind)
    if saved is not None:
        subject, body, enabled = saved.subject, saved.body, saved.enabled
    else:
        (subject, body), enabled = DEFAULTS[kind], True
    form = AutoMessageTemplateEditForm(
        instance=saved, initial={"subject": subject, "body": body, "enabled": enabled}, kind=kind
    )
    preview = auto_message_preview(
        membership=membership, kind=kind, subject=subject, body=body, enabled=enabled
    )
    return _edit_page(request, membership, kind, form, preview, saved)


@require_POST
@member_required(perm=perms.MANAGE_TEAM)
def auto_message_save(request, kind: str):
    membership = request.membership
    kind = _kind_or_404(kind)
    saved = _saved(membership.team, kind)
    form = AutoMessageTemplateEditForm(request.POST, instance=saved, kind=kind)
    if form.is_valid():
        auto_message_template_save(
            actor=membership,
            kind=kind,
            subject=form.cleaned_data.get("subject", ""),
            body=form.cleaned_data["body"],
            enabled=form.cleaned_data["enabled"],
        )
        messages.success(request, f"Saved your team's {kind.label.lower()}.")
        return redirect("auto_messages:list")
    return _edit_page(request, membership, kind, form, _form_preview(form, membership), saved)


@require_POST
@member_required(perm=perms.MANAGE_TEAM)
def auto_message_preview_view(request, kind: str):
    """Render the unsaved form: the preview panel for htmx, else the whole page."""
    membership = request.membership
    kind = _kind_or_404(kind)
    saved = _saved(membership.team, kind)
    form = AutoMessageTemplateEditForm(request.POST, instance=saved, kind=kind)
    preview = _form_preview(form, membership)
    if request.htmx:
        response = render(request, f"{EDIT_TEMPLATE}#preview", {"preview": preview})
    else:
        response = _edit_page(request, membership, kind, form, preview, saved)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_POST
@member_required(perm=perms.MANAGE_TEAM)
def auto_message_reset(request, pk: int):
    membership = request.membership
    template = get_object_or_404(AutoMessageTemplate, pk=pk, team=membership.team)
    auto_message_template_reset(actor=membership, template=template)
    messages.success(
        request, f"Your team's {template.get_kind_display().lower()} is the default again."
    )
    return redirect("auto_messages:list")
