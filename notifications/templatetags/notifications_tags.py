from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def vapid_public_key() -> str:
    """The key browsers subscribe with; empty when web push is not configured."""
    if settings.VAPID_PUBLIC_KEY and settings.VAPID_PRIVATE_KEY:
        return settings.VAPID_PUBLIC_KEY
    return ""
