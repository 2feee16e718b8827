"""What the notifications app announces to the apps above it (plans, listings)."""

from django.dispatch import Signal

# Sent with message_key, origin, ref (as the scheduling app gave them), contact, status
# ("sent", "skipped" or "failed"), agent (the Membership it went out as, or None), at:
# a message scheduled through notifications.contact_messages reached its end. Inside
# the delivery transaction; the contact's timeline already says so.
contact_message_done = Signal()
