"""Contacts listens to the teams app: a new member gets their own "My leads" bucket,
where the leads assigned to them land until they choose another.

Connected in ContactsConfig.ready().
"""

from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import receiver

from contacts.buckets import member_joined
from teams.models import Membership


@receiver(post_save, sender=Membership, dispatch_uid="contacts_member_default_bucket")
def member_saved(sender, instance: Membership, created: bool, raw: bool = False, **kwargs):
    if created and not raw:
        member_joined(membership=instance)
