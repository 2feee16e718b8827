"""Reassignment groups pages (mounted at /routing/groups/)."""

from django.urls import path

from routing import views_groups as views

app_name = "reassignment_groups"

urlpatterns = [
    path("", views.group_list, name="list"),
    path("new/", views.group_new, name="new"),
    path("create/", views.group_create, name="create"),
    path("<int:pk>/", views.group_detail, name="detail"),
    path("<int:pk>/update/", views.group_update, name="update"),
    path("<int:pk>/delete/", views.group_confirm_delete, name="confirm_delete"),
    path("<int:pk>/delete/confirm/", views.group_delete, name="delete"),
]
