"""Who may do what: the decorators and checks views share.

"Not in this team" is a 404, "in the team, not allowed" a 403.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied


def member_required(view):
    """Signed in and a member of a team (request.membership)."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.membership is None:
            raise PermissionDenied("You are not a member of a team.")
        return view(request, *args, **kwargs)

    return wrapper
