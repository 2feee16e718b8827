from django.urls import path

from routing import views

app_name = "routing"

urlpatterns = [
    path("rules/", views.rule_list, name="rule_list"),
    path("rules/new/", views.rule_create, name="rule_create"),
    path("rules/reorder/", views.rule_reorder, name="rule_reorder"),
    path("rules/default/", views.default_rule_edit, name="default_rule_edit"),
    path("rules/<int:rule_id>/", views.rule_edit, name="rule_edit"),
    path("rules/<int:rule_id>/paused/", views.rule_pause, name="rule_pause"),
    path("rules/<int:rule_id>/copy/", views.rule_copy, name="rule_copy"),
    path("rules/<int:rule_id>/delete/", views.rule_delete, name="rule_delete"),
    path(
        "rules/<int:rule_id>/delete/confirm/",
        views.rule_delete_confirm,
        name="rule_delete_confirm",
    ),
    path("rules/<int:rule_id>/fairness/", views.fairness, name="rule_fairness"),
    path("simulator/", views.simulator, name="simulator"),
]
