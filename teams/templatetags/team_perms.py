"""Permission checks for templates: ``{% if membership|can:"view_routing_logs" %}``.

Same answer as the services' checks (teams.permissions.member_has_perm): guardian
object grants, cached on the membership for the request.
"""

from __future__ import annotations

from django import template

from teams.models import Membership
from teams.permissions import member_has_perm

register = template.Library()

member_can = member_has_perm


@register.filter
def can(membership: Membership | None, perm: str) -> bool:
    return member_has_perm(membership, perm)
