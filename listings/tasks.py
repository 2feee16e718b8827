"""django-q2 entry points: take ids, call one service."""

from listings import services


def send_digests() -> int:
    return services.alert_digests_send()
