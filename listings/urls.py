from django.urls import path

from listings import views

app_name = "listings"

urlpatterns = [
    path("", views.listing_list, name="list"),
    path("<int:pk>/", views.listing_detail, name="detail"),
    path("import/", views.listing_import, name="import"),
    path("alert-template/", views.alert_template_edit, name="alert_template"),
    path("alert-template/save/", views.alert_template_save, name="alert_template_save"),
    path("alert-template/reset/", views.alert_template_reset, name="alert_template_reset"),
    path("contacts/<int:contact_pk>/searches/", views.contact_searches, name="contact_searches"),
    path(
        "contacts/<int:contact_pk>/searches/add/",
        views.contact_search_create,
        name="contact_search_create",
    ),
    path(
        "contacts/<int:contact_pk>/searches/<int:pk>/",
        views.contact_search_update,
        name="contact_search_update",
    ),
    path(
        "contacts/<int:contact_pk>/searches/<int:pk>/delete/",
        views.contact_search_delete,
        name="contact_search_delete",
    ),
]
