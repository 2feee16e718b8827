from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "notifications"

    def ready(self):
        # After settings.LOGGING is applied, whatever it says: claim tokens never reach a log.
        from notifications import log_filters, receivers  # noqa: F401  (receivers connect)

        log_filters.install()
