"""The contacts list and contact profile pages (mounted at /contacts/)."""

from django.urls import path

from routing import views_contacts as views

# Not "contacts": the CSV import pages share the /contacts/ prefix under their own namespace.
app_name = "contact_pages"

urlpatterns = [
    path("", views.contact_list, name="list"),
    path("bulk-reassign/", views.bulk_reassign, name="bulk_reassign"),
    path("bulk-bucket/", views.bulk_bucket, name="bulk_bucket"),
    path("<int:pk>/", views.contact_profile, name="profile"),
    path("<int:pk>/details/", views.contact_details_update, name="details_update"),
    path("<int:pk>/activity/", views.activity_add, name="activity_add"),
    path("<int:pk>/segment/", views.segment_set, name="segment_set"),
    path("<int:pk>/tags/", views.tags_set, name="tags_set"),
    path("<int:pk>/roles/add/", views.role_add, name="role_add"),
    path("<int:pk>/roles/<int:role_id>/remove/", views.role_remove, name="role_remove"),
    path("<int:pk>/reassign/", views.reassign, name="reassign"),
    path("<int:pk>/reassign/start/", views.reassign_start, name="reassign_start"),
    path("<int:pk>/assign/", views.assign_directly, name="assign_directly"),
    path("<int:pk>/buckets/add/", views.bucket_add, name="bucket_add"),
    path("<int:pk>/buckets/<int:bucket_id>/remove/", views.bucket_remove, name="bucket_remove"),
]
