"""django-q2 entry points: take ids, call one service."""

from routing import services


def route_contact(contact_id: int) -> str:
    return services.contact_route(contact_id=contact_id)


def expire_offer(offer_id: int) -> bool:
    return services.offer_expire(offer_id=offer_id)


def sweep() -> dict[str, int]:
    return {
        "offers_expired": services.offers_sweep(),
        "contacts_rerouted": services.routing_retry_sweep(),
    }


def prune_logs() -> int:
    return services.routing_logs_prune()
