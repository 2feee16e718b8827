from django.urls import path

from contacts import views_tokens as views

urlpatterns = [
    path("", views.api_tokens, name="api_tokens"),
    path("create/", views.api_token_create, name="api_token_create"),
    path("<int:pk>/revoke/", views.api_token_revoke, name="api_token_revoke"),
]
