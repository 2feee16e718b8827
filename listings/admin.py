"""Staff admin for listings, saved searches, alert wording and what alerts carried.

Listing saves go through listings.services, so a price edited here is a price change
(recorded, and a reduction alerts the searches it matches) exactly as from the feed.
Alerts and price changes are written by the services alone: view-only here.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db import models

from listings.forms import alert_template_validate
from listings.models import (
    AlertListing,
    AlertTemplate,
    ContactSearch,
    Listing,
    ListingPriceChange,
)
from listings.services import listing_admin_save
from teams.admin import ReadOnlyAdminMixin, TeamFixedAfterCreateMixin


class ListingPriceChangeInline(admin.TabularInline):
    model = ListingPriceChange
    extra = 0
    can_delete = False
    fields = ("changed_at", "old_price", "new_price", "via")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Listing)
class ListingAdmin(TeamFixedAfterCreateMixin, admin.ModelAdmin):
    list_display = (
        "address",
        "city",
        "state",
        "zip_code",
        "price",
        "previous_price",
        "beds",
        "baths",
        "property_type",
        "status",
        "team",
        "created_at",
    )
    list_filter = ("status", "property_type", "state", "team")
    list_select_related = ("team",)
    search_fields = ("external_id", "address", "city", "zip_code")
    readonly_fields = ("previous_price", "price_changed_at", "created_at", "updated_at")
    autocomplete_fields = ("team",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = [ListingPriceChangeInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def save_model(self, request, obj, form, change):
        listing_admin_save(listing=obj)


@admin.register(ContactSearch)
class ContactSearchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Saved searches are managed on the contact's profile, which keeps their digest
    times; staff look here."""

    list_display = ("__str__", "contact", "frequency", "is_active", "next_digest_at", "created_at")
    list_filter = ("frequency", "is_active")
    list_select_related = ("contact",)
    search_fields = ("name", "contact__first_name", "contact__last_name", "contact__email")
    show_full_result_count = False


@admin.register(AlertListing)
class AlertListingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("listing", "search", "reason", "price", "matched_at", "scheduled_at")
    list_filter = ("reason",)
    list_select_related = ("listing", "search")
    search_fields = ("message_key", "listing__external_id", "listing__address")
    show_full_result_count = False


class AlertTemplateAdminForm(forms.ModelForm):
    class Meta:
        model = AlertTemplate
        fields = ("team", "subject", "body")

    def clean_subject(self):
        alert_template_validate(self.cleaned_data["subject"])
        return self.cleaned_data["subject"]

    def clean_body(self):
        alert_template_validate(self.cleaned_data["body"], needs_listings=True)
        return self.cleaned_data["body"]


@admin.register(AlertTemplate)
class AlertTemplateAdmin(TeamFixedAfterCreateMixin, admin.ModelAdmin):
    form = AlertTemplateAdminForm
    list_display = ("team", "subject", "updated_at")
    list_select_related = ("team",)
    search_fields = ("team__name",)
    autocomplete_fields = ("team",)
