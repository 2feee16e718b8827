from django.contrib import admin
from django.urls import include, path

from api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", api.urls),
    path("contacts/", include("contacts.urls")),
    path("contacts/", include("routing.urls_contacts")),
    path("routing/groups/", include("routing.urls_groups")),
    path("team/api-tokens/", include("contacts.urls_tokens")),
    path("team/messages/", include("notifications.urls_templates")),
    path("team/", include("teams.urls_people")),
    path("routing/", include("routing.urls_pages")),
    path("routing/", include("routing.urls")),
    path("", include("routing.urls_home")),
    path("", include("notifications.urls")),
]
