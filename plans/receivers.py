"""Smart Plans listen to the apps below: routing's assignments and contacts' bucket
placements start plans, archiving, unsubscribing and the Agent's contact stop them,
and the notifications layer says how each step's message ended. Each receiver calls
one service, inside the announcing transaction. Connected in PlansConfig.ready().

Replies: a text the contact sends back (the SMS provider's inbound webhook:
`contact_replied`) stops plans set to stop on a reply; email replies go to the Agent's
own mailbox (Reply-To), so they count once the Agent logs the conversation (a call,
text, email or note: `activity_logged`).
"""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from contacts import signals as contact_signals
from notifications import signals as notification_signals
from plans import services
from plans.models import PlanTrigger
from routing import signals as routing_signals


@receiver(routing_signals.contacts_assigned, dispatch_uid="plans_assigned")
def contacts_assigned(sender, assignments, **kwargs):
    services.plans_start_for_assignments(assignments=assignments)


@receiver(contact_signals.contacts_placed, dispatch_uid="plans_placed")
def contacts_placed(sender, bucket, contacts, via, **kwargs):
    services.plans_start_for_bucket(bucket=bucket, contacts=list(contacts), via=via)


@receiver(contact_signals.contact_archived, dispatch_uid="plans_archived")
def contact_archived(sender, contact, **kwargs):
    services.plan_runs_stop_for_contact(contact=contact, reason="the contact was archived")


@receiver(contact_signals.contact_unsubscribed, dispatch_uid="plans_unsubscribed")
def contact_unsubscribed(sender, contact, how, **kwargs):
    reason = "the contact texted STOP" if how == "text" else "the contact unsubscribed"
    services.plan_runs_stop_for_contact(contact=contact, reason=reason)


@receiver(contact_signals.activity_logged, dispatch_uid="plans_activity")
def activity_logged(sender, contact, membership, activity, **kwargs):
    services.plan_runs_stop_on_activity(contact=contact, membership=membership, activity=activity)


@receiver(contact_signals.contact_replied, dispatch_uid="plans_replied")
def contact_replied(sender, contact, channel, **kwargs):
    services.plan_runs_stop_on_reply(contact=contact, channel=channel)


@receiver(notification_signals.contact_message_done, dispatch_uid="plans_message_done")
def contact_message_done(sender, message_key, origin, status, agent, at, **kwargs):
    if origin == services.ORIGIN:
        services.plan_run_step_done(message_key=message_key, status=status, agent=agent, at=at)


@receiver(post_save, sender=PlanTrigger, dispatch_uid="plans_trigger_saved")
@receiver(post_delete, sender=PlanTrigger, dispatch_uid="plans_trigger_deleted")
def trigger_changed(sender, instance: PlanTrigger, raw: bool = False, **kwargs):
    if not raw:
        services.triggers_changed(team_id=instance.plan.team_id)
