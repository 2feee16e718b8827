from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from api import api
from notifications.account_mail import OutboxPasswordResetForm
from notifications.throttles import password_reset_throttled
from teams import signin

urlpatterns = [
    path("admin/", admin.site.urls),
    # Before Django's auth URLs, so the reset email goes through the outbox, and
    # requests are throttled per address asked for and per client IP.
    path(
        "accounts/password_reset/",
        password_reset_throttled(
            auth_views.PasswordResetView.as_view(form_class=OutboxPasswordResetForm)
        ),
        name="password_reset",
    ),
    # A new password set from a reset link also lifts a sign-in lockout on the username.
    path(
        "accounts/reset/<uidb64>/<token>/",
        signin.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", api.urls),
    path("contacts/", include("contacts.urls")),
    path("buckets/", include("contacts.urls_buckets")),
    path("contacts/", include("routing.urls_contacts")),
    path("routing/groups/", include("routing.urls_groups")),
    path("team/api-tokens/", include("contacts.urls_tokens")),
    path("team/messages/", include("notifications.urls_templates")),
    path("plans/", include("plans.urls")),
    path("listings/", include("listings.urls")),
    path("team/", include("teams.urls_people")),
    path("routing/", include("routing.urls_pages")),
    path("routing/", include("routing.urls")),
    path("", include("routing.urls_home")),
    path("", include("notifications.urls")),
]
