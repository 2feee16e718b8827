"""The home page: the member's open contacts and, for those who read routing logs,
the team's contacts by routing status."""

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from contacts.models import OPEN_STATUSES, ContactRole, ContactStatus, RoleKind
from routing.models import ContactRouting, RoutingStatus
from teams import permissions as perms
from teams.access import has_perm
from teams.models import Membership


def _open_contact_counts(membership: Membership) -> dict:
    """The member's open contacts (primary Agent) by status, in one query."""
    by_status = {s.value: Count("id", filter=Q(contact__status=s)) for s in OPEN_STATUSES}
    counts = ContactRole.objects.filter(
        membership=membership, kind=RoleKind.AGENT, contact__status__in=OPEN_STATUSES
    ).aggregate(total=Count("id"), **by_status)
    return {
        "total": counts["total"],
        "rows": [(ContactStatus(s).label, counts[s.value]) for s in OPEN_STATUSES],
    }


def _routing_status_counts(membership: Membership) -> list[tuple[str, str, int]]:
    """The team's contacts by routing status, in one query; zeros included."""
    counts = ContactRouting.objects.filter(team_id=membership.team_id).aggregate(
        **{s.value: Count("pk", filter=Q(status=s)) for s in RoutingStatus}
    )
    return [(s.value, s.label, counts[s.value]) for s in RoutingStatus]


@require_safe
@login_required
def home(request):
    membership = request.membership
    if membership is None:
        return render(request, "teams/no_team.html")
    can_view_routing = has_perm(membership, perms.VIEW_ROUTING_LOGS)
    context = {
        "is_paused": membership.is_paused_at(timezone.now()),
        "open_contacts": _open_contact_counts(membership),
        "routing_counts": _routing_status_counts(membership) if can_view_routing else None,
    }
    return render(request, "home.html", context)
