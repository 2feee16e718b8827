"""Agent pages, routing logs and the lead routing dashboard, under /routing/."""

from django.urls import path

from routing import views_agent, views_dashboard, views_logs

app_name = "routing_pages"

urlpatterns = [
    path("offers/", views_agent.offers, name="offers"),
    path("offers/<int:offer_id>/claim/", views_agent.offer_claim_view, name="offer_claim"),
    path("my-contacts/", views_agent.my_contacts, name="my_contacts"),
    path("availability/online/", views_agent.availability_online, name="availability_online"),
    path("availability/pause/", views_agent.availability_pause, name="availability_pause"),
    path("logs/", views_logs.logs, name="logs"),
    path("logs/search/", views_logs.logs_search, name="logs_search"),
    path("logs/contacts/<int:contact_id>/", views_logs.log_contact, name="log_contact"),
    path("dashboard/", views_dashboard.dashboard, name="dashboard"),
    path(
        "dashboard/leads/<int:contact_id>/assign/",
        views_dashboard.lead_assign,
        name="lead_assign",
    ),
    path(
        "dashboard/leads/<int:contact_id>/remove/",
        views_dashboard.lead_remove_view,
        name="lead_remove",
    ),
    path("dashboard/retry-failed/", views_dashboard.failed_retry_view, name="failed_retry"),
]
