def membership(request):
    """The member's current team membership, for navigation that follows the role."""
    return {"membership": getattr(request, "membership", None)}
