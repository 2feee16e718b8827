"""Notifications listen to routing's and teams' announcements and write their outbox
rows in the announcing transaction. Connected in NotificationsConfig.ready()."""

from django.dispatch import receiver

from notifications.services import (
    assignments_notify,
    offers_notify,
    password_link_notify,
    pool_waiting_notify,
    routing_failures_notify,
)
from routing import signals as routing_signals
from teams import signals as teams_signals


@receiver(routing_signals.contacts_assigned, dispatch_uid="notifications_assigned")
def contacts_assigned(sender, assignments, **kwargs):
    assignments_notify(assignments=assignments)


@receiver(routing_signals.offers_made, dispatch_uid="notifications_offers")
def offers_made(sender, offers, **kwargs):
    offers_notify(offers=offers)


@receiver(routing_signals.routing_gave_up, dispatch_uid="notifications_routing_gave_up")
def routing_gave_up(sender, team_id, failures, **kwargs):
    routing_failures_notify(team_id=team_id, failures=failures)


@receiver(routing_signals.leads_waiting, dispatch_uid="notifications_leads_waiting")
def leads_waiting(sender, team_id, waiting, **kwargs):
    pool_waiting_notify(team_id=team_id, waiting=waiting)


@receiver(teams_signals.password_link_requested, dispatch_uid="notifications_password_link")
def password_link_requested(sender, membership, **kwargs):
    password_link_notify(membership=membership)
