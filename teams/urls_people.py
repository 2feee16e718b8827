"""The team and people pages, mounted at /team/ (namespace "team")."""

from django.urls import path

from teams import views_people as views

app_name = "team"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("plan/", views.plan_set, name="plan_set"),
    # members
    path("members/", views.members, name="members"),
    path("members/new/", views.member_new, name="member_new"),
    path("members/create/", views.member_create, name="member_create"),
    path("members/<int:pk>/", views.member_edit, name="member_edit"),
    path("members/<int:pk>/update/", views.member_update, name="member_update"),
    path("members/<int:pk>/deactivate/", views.member_deactivate, name="member_deactivate"),
    path("members/<int:pk>/reactivate/", views.member_reactivate, name="member_reactivate"),
    path(
        "members/<int:pk>/password-link/",
        views.member_password_link,
        name="member_password_link",
    ),
    path(
        "members/<int:pk>/transfer/",
        views.ownership_transfer_confirm,
        name="ownership_transfer_confirm",
    ),
    path(
        "members/<int:pk>/transfer/confirm/",
        views.ownership_transfer,
        name="ownership_transfer",
    ),
    # groups
    path("groups/", views.groups, name="groups"),
    path("groups/create/", views.group_create, name="group_create"),
    path("groups/<int:pk>/", views.group_edit, name="group_edit"),
    path("groups/<int:pk>/update/", views.group_update, name="group_update"),
    path(
        "groups/<int:pk>/confirm-delete/",
        views.group_delete_confirm,
        name="group_delete_confirm",
    ),
    path("groups/<int:pk>/delete/", views.group_delete, name="group_delete"),
    # agent tags
    path("tags/", views.tags, name="tags"),
    path("tags/create/", views.tag_create, name="tag_create"),
    path("tags/<int:pk>/rename/", views.tag_rename, name="tag_rename"),
    path("tags/<int:pk>/confirm-delete/", views.tag_delete_confirm, name="tag_delete_confirm"),
    path("tags/<int:pk>/delete/", views.tag_delete, name="tag_delete"),
    # permission profiles
    path("profiles/", views.profiles, name="profiles"),
    path("profiles/new/", views.profile_new, name="profile_new"),
    path("profiles/create/", views.profile_create, name="profile_create"),
    path("profiles/<int:pk>/", views.profile_edit, name="profile_edit"),
    path("profiles/<int:pk>/update/", views.profile_update, name="profile_update"),
    path(
        "profiles/<int:pk>/confirm-delete/",
        views.profile_delete_confirm,
        name="profile_delete_confirm",
    ),
    path("profiles/<int:pk>/delete/", views.profile_delete, name="profile_delete"),
]
