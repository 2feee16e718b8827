from django.urls import path

from notifications import views, views_stream, views_unsubscribe

app_name = "notifications"

urlpatterns = [
    path("sw.js", views.service_worker, name="service_worker"),
    path("claim/<str:token>/", views.claim, name="claim"),
    path("unsubscribe/<str:token>/", views_unsubscribe.unsubscribe, name="unsubscribe"),
    path("notifications/sms/inbound/", views_unsubscribe.sms_inbound, name="sms_inbound"),
    path("notifications/", views.index, name="index"),
    path("notifications/bell/", views.bell, name="bell"),
    path("notifications/live/", views_stream.stream, name="live"),
    path("notifications/<int:pk>/read/", views.mark_read, name="mark_read"),
    path("notifications/read-all/", views.mark_all_read, name="mark_all_read"),
    path(
        "notifications/offers/<int:offer_id>/claim/", views.offer_claim_in_app, name="offer_claim"
    ),
    path("notifications/push/subscribe/", views.push_subscribe, name="push_subscribe"),
    path("notifications/push/unsubscribe/", views.push_unsubscribe, name="push_unsubscribe"),
]
