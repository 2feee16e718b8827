from django.utils.functional import SimpleLazyObject

from teams import access
from teams import permissions as perms

# Constant name → codename, so templates say `member_can.MANAGE_TEAM`, never a string.
PERMISSION_NAMES = {
    name: getattr(perms, name)
    for name in (
        "VIEW_CONTACTS",
        "MANAGE_ROUTING_RULES",
        "MANAGE_LEAD_DISTRIBUTION",
        "VIEW_ROUTING_LOGS",
        "TRIGGER_REASSIGNMENT",
        "MANAGE_TEAM",
    )
}


def membership(request):
    """The member's current team membership, and what they may do (`member_can.<NAME>`),
    for navigation that follows the role and permission profile."""
    member = getattr(request, "membership", None)

    def member_can() -> dict[str, bool]:
        return {name: access.has_perm(member, perm) for name, perm in PERMISSION_NAMES.items()}

    return {"membership": member, "member_can": SimpleLazyObject(member_can)}
