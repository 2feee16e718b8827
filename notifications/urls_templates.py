from django.urls import path

from notifications import views_templates as views

app_name = "auto_messages"

urlpatterns = [
    path("", views.auto_message_list, name="list"),
    path("<int:pk>/reset/", views.auto_message_reset, name="reset"),
    path("<slug:kind>/", views.auto_message_edit, name="edit"),
    path("<slug:kind>/save/", views.auto_message_save, name="save"),
    path("<slug:kind>/preview/", views.auto_message_preview_view, name="preview"),
]
