"""Listings a team receives (API, CSV, admin), the saved searches of its contacts, and
what each search's property alerts have carried."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from contacts.models import Contact
from teams.models import Membership, Team

PRICE_DIGITS = 12  # as contacts' price range


class PropertyType(models.TextChoices):
    HOUSE = "house", "House"
    CONDO = "condo", "Condo"
    TOWNHOUSE = "townhouse", "Townhouse"
    MULTI_FAMILY = "multi_family", "Multi-family"
    MOBILE = "mobile", "Mobile home"
    LAND = "land", "Land"
    COMMERCIAL = "commercial", "Commercial"
    OTHER = "other", "Other"


class ListingStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PENDING = "pending", "Pending"
    SOLD = "sold", "Sold"
    OFF_MARKET = "off_market", "Off market"


class ChangeVia(models.TextChoices):
    API = "api", "API"
    CSV = "csv", "CSV import"
    ADMIN = "admin", "Admin"


class Listing(models.Model):
    """A property for sale, as the team's feed last described it. `external_id` (the
    MLS number, or the feed's own id) is what a later post updates."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="listings")
    external_id = models.CharField(
        "external id", max_length=100, help_text="The MLS number or the feed's own id."
    )
    address = models.CharField(max_length=200)
    city = models.CharField(max_length=80)
    state = models.CharField(max_length=32)
    zip_code = models.CharField("zip", max_length=16)
    price = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=0)
    beds = models.PositiveSmallIntegerField(null=True, blank=True)
    baths = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    property_type = models.CharField(max_length=16, choices=PropertyType.choices)
    status = models.CharField(
        max_length=16, choices=ListingStatus.choices, default=ListingStatus.ACTIVE
    )
    photo_url = models.URLField("photo URL", max_length=500, blank=True)
    listing_url = models.URLField("listing URL", max_length=500, blank=True)
    listed_at = models.DateTimeField(null=True, blank=True, help_text="As the feed says.")
    # The last change of price: a lower price than previous_price is a price reduction.
    previous_price = models.DecimalField(
        max_digits=PRICE_DIGITS, decimal_places=0, null=True, blank=True, editable=False
    )
    price_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "external_id"],
                name="listing_unique_external_id",
                violation_error_message="The team already has a listing with this external id.",
            ),
            models.CheckConstraint(condition=Q(price__gte=0), name="listing_price_not_negative"),
            models.CheckConstraint(
                condition=Q(baths__isnull=True) | Q(baths__gte=0), name="listing_baths_not_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["team", "-created_at", "-id"], name="listing_team_newest"),
        ]

    def __str__(self) -> str:
        return f"{self.address}, {self.city}"

    @property
    def price_reduced(self) -> bool:
        return self.previous_price is not None and self.price < self.previous_price


class ListingPriceChange(models.Model):
    """Every change of a listing's price, whoever made it."""

    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="price_changes")
    old_price = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=0)
    new_price = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=0)
    via = models.CharField(max_length=8, choices=ChangeVia.choices)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.listing_id}: {self.old_price} → {self.new_price}"


class Frequency(models.TextChoices):
    INSTANT = "instant", "Instantly"
    DAILY = "daily", "Daily digest"
    WEEKLY = "weekly", "Weekly digest"


class ContactSearch(models.Model):
    """What a contact is looking for. Listings that match it and are new, or whose price
    drops, are emailed to the contact from their primary Agent: at once, or gathered
    into a daily or weekly digest (due at `next_digest_at`)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="listing_searches")
    name = models.CharField(max_length=80, blank=True)
    cities = models.JSONField(default=list, blank=True)
    zip_codes = models.JSONField(default=list, blank=True)
    states = models.JSONField(default=list, blank=True)
    price_min = models.DecimalField(
        max_digits=PRICE_DIGITS, decimal_places=0, null=True, blank=True
    )
    price_max = models.DecimalField(
        max_digits=PRICE_DIGITS, decimal_places=0, null=True, blank=True
    )
    beds_min = models.PositiveSmallIntegerField(null=True, blank=True)
    baths_min = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    property_types = models.JSONField(default=list, blank=True)
    frequency = models.CharField(max_length=8, choices=Frequency.choices, default=Frequency.INSTANT)
    is_active = models.BooleanField("active", default=True)
    next_digest_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = "saved search"
        constraints = [
            models.CheckConstraint(
                condition=Q(price_min__isnull=True)
                | Q(price_max__isnull=True)
                | Q(price_min__lte=models.F("price_max")),
                name="contact_search_price_range_ordered",
            ),
            models.CheckConstraint(
                condition=Q(frequency="instant", next_digest_at__isnull=True)
                | (~Q(frequency="instant") & Q(next_digest_at__isnull=False)),
                name="contact_search_digest_due_iff_digest",
            ),
        ]
        indexes = [
            models.Index(fields=["team", "is_active"], name="contact_search_team_active"),
            models.Index(
                fields=["next_digest_at"],
                condition=Q(is_active=True, next_digest_at__isnull=False),
                name="contact_search_digest_due",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def title(self) -> str:
        """Its name, or what it looks for."""
        if self.name:
            return self.name
        places = [*self.cities, *self.zip_codes, *self.states]
        kinds = [label.lower() for label in self.property_type_labels]
        words = " ".join([", ".join(places[:3]), "/".join(kinds[:3])]).strip()
        return words or f"Search #{self.pk}"

    @property
    def property_type_labels(self) -> list[str]:
        labels = dict(PropertyType.choices)
        return [labels[t] for t in self.property_types if t in labels]


class AlertReason(models.TextChoices):
    NEW = "new", "New listing"
    PRICE_REDUCED = "price_reduced", "Price reduced"


class AlertListing(models.Model):
    """A listing given to a search's alert. Each listing reaches a search at most once as
    new and once as price reduced (to a price below the one the contact was sent): the
    unique constraint is what keeps a listing from being sent twice. A row without a
    message key waits for its search's next digest."""

    search = models.ForeignKey(ContactSearch, on_delete=models.CASCADE, related_name="alerts")
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="alerts")
    reason = models.CharField(max_length=16, choices=AlertReason.choices)
    price = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=0)
    previous_price = models.DecimalField(
        max_digits=PRICE_DIGITS, decimal_places=0, null=True, blank=True
    )
    message_key = models.CharField(max_length=200, blank=True)
    matched_at = models.DateTimeField(default=timezone.now)
    scheduled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-matched_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["search", "listing", "reason"], name="alert_listing_once_per_reason"
            ),
        ]
        indexes = [
            models.Index(
                fields=["search", "listing"],
                condition=Q(message_key=""),
                name="alert_listing_waiting",
            ),
            models.Index(fields=["listing", "search"], name="alert_listing_by_listing"),
        ]

    def __str__(self) -> str:
        return f"{self.listing_id} to search {self.search_id} ({self.reason})"


class AlertTemplate(models.Model):
    """A team's wording of its property alerts (sandboxed templates, as auto messages)."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="alert_template")
    subject = models.CharField(max_length=300)
    body = models.TextField(max_length=5000)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "property alert template"

    def __str__(self) -> str:
        return f"Property alert wording of {self.team}"
