from django.apps import AppConfig


class PlansConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "plans"
    verbose_name = "Smart Plans"

    def ready(self):
        from plans import receivers  # noqa: F401  (receivers connect)
