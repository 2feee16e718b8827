from django.urls import path

from routing import views_home as views

urlpatterns = [
    path("", views.home, name="home"),
]
