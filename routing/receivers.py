"""Routing listens: to the contacts app (new contacts, activity, repeat inquiries, edits),
to the teams app (new teams, changes that move its routing version, questions before
a change), and to its own rules. Each receiver calls one routing service.

Connected in RoutingConfig.ready().
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete
from django.dispatch import receiver
from django.utils import timezone

from contacts import signals as contact_signals
from contacts.buckets import contacts_place_assigned
from contacts.models import OPEN_STATUSES, Bucket, Contact, ContactStatus
from contacts.selectors import visibility_extend
from routing import signals as routing_signals
from routing.inquiries import inquiry_route
from routing.manual import contacts_assign_bulk, routing_stop
from routing.models import (
    OfferRecipient,
    OfferStatus,
    ReassignmentAssignee,
    ReassignmentGroup,
    RoutingRule,
    RuleAssignee,
)
from routing.offers import offer_claim_by_activity
from routing.pools import contacts_placed_route, pools_bucket_deleted
from routing.queue import contacts_enqueue, team_wake_holds
from routing.rules import default_rule_ensure
from routing.state import routing_version_bump, team_routing_ensure
from teams import signals as team_signals
from teams.models import AgentTag, Membership, Team
from teams.plans import PLAN_METHODS

# --- contacts -------------------------------------------------------------------------


@receiver(post_save, sender=Contact, dispatch_uid="routing_contact_created")
def contact_created(sender, instance: Contact, created: bool, raw: bool = False, **kwargs):
    """Every new contact is routed, whatever path created it (form, admin, API)."""
    if created and not raw:
        contacts_enqueue(contacts=[instance])


@receiver(contact_signals.contacts_created, dispatch_uid="routing_contacts_created")
def contacts_created(sender, contacts, assign_to=None, actor=None, **kwargs):
    if assign_to is not None:
        contacts_assign_bulk(contacts=contacts, membership=assign_to, actor=actor)
    else:
        contacts_enqueue(contacts=contacts)


@receiver(contact_signals.activity_logged, dispatch_uid="routing_activity_claims")
def activity_logged(sender, contact, membership, **kwargs):
    """Contacting the contact claims the member's Next Up offer on it."""
    offer_claim_by_activity(contact=contact, membership=membership)


@receiver(contact_signals.inquiry_received, dispatch_uid="routing_inquiry")
def inquiry_received(sender, contact, source, matched_by, **kwargs):
    inquiry_route(contact=contact, source=source, matched_by=matched_by)


@receiver(contact_signals.contact_changed, dispatch_uid="routing_contact_changed")
def contact_changed(sender, contact, changed, old, **kwargs):
    """A contact closed or archived frees its Agent's capacity (a held contact may go);
    an archived one leaves routing."""
    if "status" not in changed:
        return
    if contact.status == ContactStatus.ARCHIVED:
        routing_stop(contact_id=contact.pk, now=timezone.now())
    elif (old["status"] in OPEN_STATUSES) != (contact.status in OPEN_STATUSES):
        team_wake_holds(team_id=contact.team_id)


@receiver(routing_signals.contacts_assigned, dispatch_uid="routing_default_buckets")
def contacts_assigned_to_buckets(sender, assignments, **kwargs):
    """Assigned leads land in their new Agent's default bucket: one call per batch."""
    contacts_place_assigned(assignments=[(a.membership_id, a.contact) for a in assignments])


def _offered_contact_ids(membership: Membership):
    """A member may open a contact they are offered, to claim it."""
    return OfferRecipient.objects.filter(
        membership=membership, offer__status=OfferStatus.OPEN
    ).values("offer__contact_id")


def connect() -> None:
    visibility_extend(_offered_contact_ids)


# --- teams: a new team, and whatever moves its routing version --------------------------


@receiver(post_save, sender=Team, dispatch_uid="routing_team_saved")
def team_saved(sender, instance: Team, created: bool, raw: bool = False, **kwargs):
    if raw:
        return
    team_routing_ensure(team_id=instance.pk)
    if created:
        default_rule_ensure(team=instance)
    else:
        routing_version_bump(team_id=instance.pk)  # plan or time zone


@receiver(post_save, sender=Membership, dispatch_uid="routing_member_saved")
@receiver(post_delete, sender=Membership, dispatch_uid="routing_member_deleted")
def member_changed(sender, instance: Membership, raw: bool = False, **kwargs):
    """Availability, capacity, hours or role changed: reload, and a held contact may go."""
    if raw:
        return
    routing_version_bump(team_id=instance.team_id)
    team_wake_holds(team_id=instance.team_id)


@receiver(m2m_changed, sender=Membership.tags.through, dispatch_uid="routing_member_tags")
def member_tags_changed(sender, instance, action: str, **kwargs):
    if action.startswith("post_"):  # instance: the member, or the tag (same team either way)
        routing_version_bump(team_id=instance.team_id)


@receiver(post_save, sender=AgentTag, dispatch_uid="routing_tag_saved")
@receiver(post_delete, sender=AgentTag, dispatch_uid="routing_tag_deleted")
def tag_changed(sender, instance: AgentTag, raw: bool = False, **kwargs):
    if not raw:
        routing_version_bump(team_id=instance.team_id)


@receiver(post_save, sender=get_user_model(), dispatch_uid="routing_user_saved")
def user_saved(sender, instance, update_fields=None, raw: bool = False, **kwargs):
    """A renamed member reads differently in logs and timelines (a login changes nothing)."""
    names = {"first_name", "last_name", "username"}
    if raw or (update_fields is not None and not names & set(update_fields)):
        return
    for team_id in Membership.objects.filter(user=instance).values_list("team_id", flat=True):
        routing_version_bump(team_id=team_id)


# --- routing's own rules ----------------------------------------------------------------


@receiver(post_save, sender=RoutingRule, dispatch_uid="routing_rule_saved")
@receiver(post_delete, sender=RoutingRule, dispatch_uid="routing_rule_deleted")
@receiver(post_save, sender=RuleAssignee, dispatch_uid="routing_assignee_saved")
@receiver(post_delete, sender=RuleAssignee, dispatch_uid="routing_assignee_deleted")
def rule_changed(sender, instance, raw: bool = False, **kwargs):
    if raw:
        return
    if isinstance(instance, RoutingRule):
        routing_version_bump(team_id=instance.team_id)
    else:
        routing_version_bump(rule_id=instance.rule_id)  # one statement, no rule fetched


# --- buckets and lead pools -------------------------------------------------------------


@receiver(contact_signals.contacts_placed, dispatch_uid="routing_lead_pools")
def contacts_placed(sender, bucket, contacts, via, actor=None, **kwargs):
    """Contacts placed in a lead pool's source bucket are routed through the pool."""
    contacts_placed_route(bucket=bucket, contacts=contacts, via=via, actor=actor)


@receiver(
    m2m_changed, sender=RoutingRule.source_buckets.through, dispatch_uid="routing_pool_buckets"
)
def pool_buckets_changed(sender, instance, action: str, **kwargs):
    if action.startswith("post_"):  # instance: the rule, or the bucket (same team either way)
        routing_version_bump(team_id=instance.team_id)


@receiver(post_save, sender=Bucket, dispatch_uid="routing_bucket_saved")
def bucket_saved(sender, instance: Bucket, created: bool, raw: bool = False, **kwargs):
    """A renamed source bucket reads differently in the routing log."""
    if not raw and not created:
        routing_version_bump(team_id=instance.team_id)


@receiver(pre_delete, sender=Bucket, dispatch_uid="routing_bucket_deleted")
def bucket_deleted(sender, instance: Bucket, **kwargs):
    pools_bucket_deleted(bucket=instance)


# --- teams asks before a change ----------------------------------------------------------


@receiver(team_signals.groups_in_use, dispatch_uid="routing_groups_in_use")
def groups_in_use(sender, team, group_ids, **kwargs) -> list[str]:
    names = (
        ReassignmentGroup.objects.filter(team=team, available_to__in=group_ids)
        .distinct()
        .values_list("name", flat=True)
    )
    return [f"reassignment group “{name}” (its “Available To”)" for name in sorted(names)]


@receiver(team_signals.agent_tag_in_use, dispatch_uid="routing_tag_in_use")
def agent_tag_in_use(sender, tag, **kwargs) -> list[str]:
    rules = RuleAssignee.objects.filter(agent_tag=tag).values_list("rule__name", flat=True)
    groups = ReassignmentAssignee.objects.filter(agent_tag=tag).values_list(
        "group__name", flat=True
    )
    return [f"rule {n}" for n in sorted(set(rules))] + [
        f"reassignment group {n}" for n in sorted(set(groups))
    ]


@receiver(team_signals.plan_lacks, dispatch_uid="routing_plan_lacks")
def plan_lacks(sender, team, **kwargs) -> dict:
    allowed = PLAN_METHODS.get(team.plan, frozenset())
    return {
        "rules": list(RoutingRule.objects.filter(team=team).exclude(method__in=allowed)),
        "groups": list(ReassignmentGroup.objects.filter(team=team).exclude(method__in=allowed)),
    }
