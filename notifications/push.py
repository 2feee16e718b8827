"""Web push through pywebpush with the site's VAPID keys."""

from __future__ import annotations

import json

from django.conf import settings

from notifications.models import PushSubscription

# Push services answer these for a subscription that is gone for good.
GONE = frozenset({404, 410})


class SubscriptionGone(Exception):
    pass


def push_configured() -> bool:
    return bool(settings.VAPID_PUBLIC_KEY and settings.VAPID_PRIVATE_KEY)


def push_send(*, subscription: PushSubscription, payload: dict, ttl: int) -> None:
    """Send one push; SubscriptionGone when the browser unsubscribed, other errors raise."""
    import pywebpush

    try:
        pywebpush.webpush(
            subscription_info={
                "endpoint": subscription.endpoint,
                "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
            },
            data=json.dumps(payload),
            vapid_private_key=settings.VAPID_PRIVATE_KEY,
            vapid_claims={"sub": settings.VAPID_SUBJECT},
            ttl=max(ttl, 0),
            timeout=10,
        )
    except pywebpush.WebPushException as exc:
        if exc.status_code in GONE:
            raise SubscriptionGone from None
        # The exception's text quotes the response body; the status is all we keep.
        raise RuntimeError(f"push service answered {exc.status_code or 'no response'}") from None
