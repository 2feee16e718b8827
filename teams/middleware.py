from teams.selectors import membership_for


class CurrentMembershipMiddleware:
    """Puts the signed-in user's current team membership on `request.membership`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.membership = membership_for(
            user=request.user, team_id=request.session.get("team_id")
        )
        return self.get_response(request)
