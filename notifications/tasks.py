"""django-q2 entry points: take ids, call one service."""

from notifications import services


def deliver(message_id: int) -> str:
    return services.message_deliver(message_id=message_id)


def deliver_keys(keys: list[str]) -> dict[str, int]:
    return services.messages_deliver_keys(keys=keys)


def deliver_ids(message_ids: list[int]) -> dict[str, int]:
    return services.messages_deliver(message_ids=message_ids)


def sweep() -> dict[str, int]:
    return services.outbox_sweep()


def send_digests() -> int:
    return services.digests_send()
