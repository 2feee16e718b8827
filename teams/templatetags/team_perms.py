"""Permission checks for templates: ``{% if membership|can:"view_routing_logs" %}``.

Same answer as ``user.has_perm("teams.<perm>", membership.team)`` (guardian object
grants; active superusers hold everything), but one guardian checker is kept on
the membership so a page asks the database once however many links it gates.
"""

from __future__ import annotations

from django import template
from guardian.core import ObjectPermissionChecker

from teams.models import Membership

register = template.Library()


def member_can(membership: Membership | None, perm: str) -> bool:
    if membership is None:
        return False
    checker = getattr(membership, "_perm_checker", None)
    if checker is None:
        checker = membership._perm_checker = ObjectPermissionChecker(membership.user)
    return checker.has_perm(f"teams.{perm}", membership.team)


@register.filter
def can(membership: Membership | None, perm: str) -> bool:
    return member_can(membership, perm)
