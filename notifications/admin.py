"""Staff admin: the outbox with each message's delivery status, and auto message templates.

Outbox rows are written by the notification services alone, so they are
view-only; staff can send failed or skipped ones again.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.text import Truncator

from notifications.auto_messages import DEFAULTS, PLACEHOLDER_HELP, validate_template
from notifications.models import (
    AutoMessageKind,
    AutoMessageTemplate,
    DigestCursor,
    OutboxMessage,
    PushSubscription,
)
from notifications.services import messages_retry
from teams.admin import ReadOnlyAdminMixin, TeamFixedAfterCreateMixin


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "kind",
        "channel",
        "recipient",
        "team",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "error",
    )
    list_filter = ("status", "channel", "kind")
    list_select_related = ("team", "membership__user", "user", "contact")
    search_fields = ("key", "to", "title")
    date_hierarchy = "created_at"
    actions = ["retry"]
    show_full_result_count = False

    @admin.display(description="Recipient")
    def recipient(self, obj):
        if obj.to_contact and obj.contact:
            return f"{obj.contact} (contact, as {obj.membership})"
        return obj.membership or obj.user or "—"

    @admin.display(description="Last error")
    def error(self, obj):
        return Truncator(obj.last_error).chars(80)

    @admin.action(description="Send the selected failed or skipped messages again")
    def retry(self, request, queryset):
        count = messages_retry(message_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} message(s) queued again.", messages.SUCCESS)


class AutoMessageTemplateForm(forms.ModelForm):
    class Meta:
        model = AutoMessageTemplate
        fields = ("team", "kind", "enabled", "subject", "body")
        help_texts = {"body": PLACEHOLDER_HELP, "subject": "Emails only. " + PLACEHOLDER_HELP}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            subject, body = DEFAULTS[AutoMessageKind.WELCOME_EMAIL]
            self.initial.setdefault("subject", subject)
            self.initial.setdefault("body", body)

    def clean(self):
        cleaned = super().clean()
        for name in ("subject", "body"):
            try:
                validate_template(cleaned.get(name) or "")
            except ValidationError as exc:
                self.add_error(name, exc)
        if cleaned.get("kind") == AutoMessageKind.WELCOME_EMAIL and not cleaned.get("subject"):
            self.add_error("subject", "A welcome email needs a subject.")
        return cleaned


@admin.register(AutoMessageTemplate)
class AutoMessageTemplateAdmin(TeamFixedAfterCreateMixin, admin.ModelAdmin):
    form = AutoMessageTemplateForm
    list_display = ("team", "kind", "enabled", "subject", "updated_at")
    list_filter = ("kind", "enabled")
    list_select_related = ("team",)
    search_fields = ("team__name", "subject", "body")
    autocomplete_fields = ("team",)


@admin.register(PushSubscription)
class PushSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("membership", "endpoint_host", "user_agent", "created_at")
    list_select_related = ("membership__user",)
    search_fields = ("membership__user__username", "membership__user__email", "endpoint")
    readonly_fields = ("membership", "endpoint", "p256dh", "auth", "user_agent", "created_at")

    def has_add_permission(self, request):
        return False

    @admin.display(description="Push service")
    def endpoint_host(self, obj):
        return obj.endpoint.split("/")[2] if obj.endpoint.count("/") >= 2 else obj.endpoint


@admin.register(DigestCursor)
class DigestCursorAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("membership", "sent_through")
    list_select_related = ("membership__user",)
    search_fields = ("membership__user__username", "membership__user__email")
