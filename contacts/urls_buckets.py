"""Bucket pages (mounted at /buckets/)."""

from django.urls import path

from contacts import views_buckets as views

app_name = "buckets"

urlpatterns = [
    path("", views.bucket_index, name="list"),
    path("create/", views.bucket_create, name="create"),
    path("default/", views.default_bucket_set, name="default_set"),
    path("<int:pk>/", views.bucket_detail, name="detail"),
    path("<int:pk>/update/", views.bucket_update, name="update"),
    path("<int:pk>/delete/", views.bucket_confirm_delete, name="confirm_delete"),
    path("<int:pk>/delete/confirm/", views.bucket_delete, name="delete"),
    path("<int:pk>/remove/", views.bucket_contacts_remove, name="remove_contacts"),
]
