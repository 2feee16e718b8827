"""What the contacts app announces. Higher apps listen (routing queues new contacts,
claims offers on activity, looks again at repeat inquiries); nothing here knows who.

Every signal is sent inside the transaction that made the change, so a listener's
writes commit or roll back with it. A single new contact also fires Django's own
post_save; bulk creation fires `contacts_created` instead.
"""

from django.dispatch import Signal

# Sent with contacts=[Contact, …] (saved, in one transaction), assign_to=Membership | None
# (the importer gave every one of them to this member instead of routing), actor.
contacts_created = Signal()

# Sent with contact, membership, activity: a member contacted the contact.
activity_logged = Signal()

# Sent with contact, source, matched_by: a lead matched a contact the team already has.
inquiry_received = Signal()

# Sent with contact, changed=[field names], old={field: value before}: details were edited.
contact_changed = Signal()

# Sent with contact, actor: the contact was archived (an admin removed the lead).
contact_archived = Signal()

# Sent with bucket, contacts=[Contact, …] newly placed (already there: not sent again),
# via (BucketVia), actor (Membership | None): lead pools route them, plans start.
contacts_placed = Signal()

# Sent with contact, how ("email" or "text"), at: the contact unsubscribed / sent STOP.
contact_unsubscribed = Signal()

# Sent with contact, channel ("text"), body, at: the contact wrote back (an inbound text
# the SMS provider passed on). Smart Plans set to stop on a reply listen.
contact_replied = Signal()
