"""The live stream: server-sent events telling the signed-in member's pages that something
of theirs changed (notifications/live.py says what and how).

It carries only the member's own counts, never anyone else's data; the page re-fetches
the bell and the offer list through their views. Under ASGI (uvicorn) the stream is an
asynchronous iterator on the event loop; under WSGI (runserver, the test live server) a
plain iterator in the request's thread, because Django's WSGI handler would gather an
asynchronous one whole before sending any of it.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse
from django.views.decorators.http import require_safe

from notifications import live
from teams.access import require_member


@require_safe
@login_required
async def stream(request):
    membership = require_member(request.membership)  # loaded by CurrentMembershipMiddleware
    since = live.since_from(
        last_event_id=request.headers.get("Last-Event-ID"), query=request.GET.get("since")
    )
    session = live.Stream(membership_id=membership.pk, since=since, listen=live.listening())
    if isinstance(request, ASGIRequest):
        frames = live.frames_async(session)
    else:
        frames = live.frames_sync(session)
    response = StreamingHttpResponse(frames, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache, no-store"
    response["X-Accel-Buffering"] = "no"  # a proxy (nginx) must pass each event on at once
    return response
