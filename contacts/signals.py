from django.db.models.signals import post_save
from django.dispatch import receiver

from contacts.models import Contact


@receiver(post_save, sender=Contact, dispatch_uid="contact_created_route")
def contact_created_route(sender, instance: Contact, created: bool, raw: bool = False, **kwargs):
    """Every new contact is routed, whatever path created it (form, admin, API, import)."""
    if created and not raw:
        from routing.services import routing_schedule

        routing_schedule(contact_id=instance.pk)
