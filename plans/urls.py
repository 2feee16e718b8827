from django.urls import path

from plans import views

app_name = "plans"

urlpatterns = [
    path("", views.plan_list, name="list"),
    path("new/", views.plan_new, name="new"),
    path("create/", views.plan_create, name="create"),
    path("<int:pk>/", views.plan_detail, name="detail"),
    path("<int:pk>/save/", views.plan_save, name="save"),
    path("<int:pk>/delete/", views.plan_delete, name="delete"),
    path("<int:pk>/copy/", views.plan_copy, name="copy"),
    path("<int:pk>/steps/new/", views.step_new, name="step_new"),
    path("<int:pk>/steps/add/", views.step_add, name="step_add"),
    path("<int:pk>/steps/<int:step_id>/", views.step_edit, name="step_edit"),
    path("<int:pk>/steps/<int:step_id>/save/", views.step_save, name="step_save"),
    path("<int:pk>/steps/<int:step_id>/move/", views.step_move, name="step_move"),
    path("<int:pk>/steps/<int:step_id>/delete/", views.step_delete, name="step_delete"),
    path("<int:pk>/triggers/<slug:kind>/add/", views.trigger_add, name="trigger_add"),
    path("<int:pk>/triggers/<int:trigger_id>/remove/", views.trigger_remove, name="trigger_remove"),
    path("contacts/<int:contact_id>/card/", views.contact_card, name="contact_card"),
    path("contacts/<int:contact_id>/start/", views.contact_start, name="contact_start"),
    path("runs/<int:run_id>/<slug:action>/", views.run_action, name="run_action"),
]
