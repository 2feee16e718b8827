from django.urls import path

from contacts import views

urlpatterns = [
    path("import/", views.import_start, name="contact_import"),
    path("import/upload/", views.import_upload, name="contact_import_upload"),
    path("import/<int:pk>/", views.import_job, name="contact_import_job"),
    path("import/<int:pk>/map/", views.import_map, name="contact_import_map"),
    path("import/<int:pk>/run/", views.import_run, name="contact_import_run"),
]
