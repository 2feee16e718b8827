"""Races that only real concurrency shows, on PostgreSQL with real threads and processes."""

import multiprocessing
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connections, transaction
from django.utils import timezone

from contacts.models import Contact, ContactRole, RoutingStatus
from routing import services
from routing.models import Offer, OfferStatus, RotationSlot
from routing.tests.helpers import rule
from teams.tests.factories import UserFactory, make_member, make_team

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


class InjectedRollback(Exception):
    pass


def _route_many(contact_ids: list[int], rollback_every: int) -> None:
    """Child process: route each contact; every Nth is rolled back after routing."""
    connections.close_all()  # never reuse the parent's socket
    for i, contact_id in enumerate(contact_ids):
        try:
            with transaction.atomic():
                services.contact_route(contact_id=contact_id)
                if rollback_every and i % rollback_every == 0:
                    raise InjectedRollback
        except InjectedRollback:
            pass
    connections.close_all()


def _run_in_threads(fn, args_list):
    barrier = threading.Barrier(len(args_list))
    results, errors = [None] * len(args_list), []

    def target(i, args):
        try:
            barrier.wait()
            results[i] = fn(*args)
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=target, args=(i, a)) for i, a in enumerate(args_list)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def _unrouted_contacts(team, n):
    # bulk_create sends no signal: these wait for the workers below.
    return [
        c.pk
        for c in Contact.objects.bulk_create(
            [Contact(team=team, first_name=f"L{i}") for i in range(n)]
        )
    ]


def test_round_robin_fair_with_four_processes_and_rollbacks():
    team = make_team(owner=UserFactory())
    agents = [make_member(team) for _ in range(4)]
    r = rule(team, "All", *agents)
    ids = _unrouted_contacts(team, 120)
    chunks = [ids[i::4] for i in range(4)]
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_route_many, args=(chunk, 4)) for chunk in chunks]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    rolled_back = Contact.objects.filter(pk__in=ids, routing_status=RoutingStatus.RECEIVED)
    assert rolled_back.count() == sum(len(range(0, len(c), 4)) for c in chunks)
    for contact_id in rolled_back.values_list("pk", flat=True):
        services.contact_route(contact_id=contact_id)
    held = Counter(ContactRole.objects.filter(kind="agent").values_list("membership_id", flat=True))
    assert sum(held.values()) == 120
    assert max(held.values()) - min(held.values()) <= 1
    slots = dict(
        RotationSlot.objects.filter(rotation=r.rotation).values_list("membership_id", "count")
    )
    assert slots == dict(held)  # rolled-back turns were given back, none lost


def test_blast_fifty_way_claim_race_has_one_winner():
    team = make_team(owner=UserFactory())
    agents = [make_member(team) for _ in range(50)]
    rule(team, "Blast", *agents, method="blast")
    contact_id = _unrouted_contacts(team, 1)[0]
    services.contact_route(contact_id=contact_id)
    offer = Offer.objects.get(contact_id=contact_id)
    results = _run_in_threads(
        lambda m: services.offer_claim(offer_id=offer.pk, membership=m), [(a,) for a in agents]
    )
    winners = [r for r in results if r.claimed]
    assert len(winners) == 1
    assert ContactRole.objects.filter(contact_id=contact_id, kind="agent").count() == 1
    losers = {r.message for r in results if not r.claimed}
    assert losers == {f"This contact was already claimed by {winners[0].winner.display_name}."}


def test_claim_and_expiry_race_has_exactly_one_winner():
    team = make_team(owner=UserFactory())
    agents = [make_member(team) for _ in range(3)]
    rule(team, "Next up", *agents, method="next_up", claim_window_minutes=1)
    outcomes = Counter()
    for contact_id in _unrouted_contacts(team, 12):
        services.contact_route(contact_id=contact_id)
        offer = Offer.objects.get(contact_id=contact_id, status=OfferStatus.OPEN)
        member = offer.recipients.get()
        claim, expire = _run_in_threads(
            lambda kind, o=offer, m=member: (
                services.offer_claim(
                    offer_id=o.pk, membership=m, now=o.deadline - timedelta(milliseconds=1)
                )
                if kind == "claim"
                else services.offer_expire(offer_id=o.pk, now=o.deadline)
            ),
            [("claim",), ("expire",)],
        )
        assert claim.claimed != expire, (claim, expire)
        offer.refresh_from_db()
        if claim.claimed:
            outcomes["claim"] += 1
            assert offer.status == OfferStatus.CLAIMED
            assert ContactRole.objects.get(contact_id=contact_id, kind="agent").membership == member
        else:
            outcomes["expire"] += 1
            assert offer.status == OfferStatus.EXPIRED
            assert Offer.objects.filter(contact_id=contact_id, status=OfferStatus.OPEN).count() == 1
    assert sum(outcomes.values()) == 12


def test_concurrent_routing_of_one_contact_assigns_once():
    team = make_team(owner=UserFactory())
    agents = [make_member(team) for _ in range(3)]
    rule(team, "All", *agents)
    contact_id = _unrouted_contacts(team, 1)[0]
    _run_in_threads(
        lambda: services.contact_route(contact_id=contact_id, now=timezone.now()), [()] * 6
    )
    assert ContactRole.objects.filter(contact_id=contact_id, kind="agent").count() == 1
    assert sum(RotationSlot.objects.values_list("count", flat=True)) == 1


def test_reassignment_lock_holds_under_concurrent_edits():
    from django.core.exceptions import ValidationError

    from routing.reassignment import GroupAssignee, reassignment_group_create, reassignment_start

    team = make_team(owner=UserFactory())
    owner = team.memberships.get(role="owner")
    isa, *closers = [make_member(team) for _ in range(4)]
    rule(team, "ISA", isa)
    g = reassignment_group_create(
        actor=None,
        team=team,
        name="Closers",
        method="next_up",
        assignees=[GroupAssignee(membership=m) for m in closers],
    )
    outcomes = Counter()
    for contact_id in _unrouted_contacts(team, 10):
        services.contact_route(contact_id=contact_id)
        contact = Contact.objects.get(pk=contact_id)

        def start(c=contact):
            return reassignment_start(actor=owner, contact=c, group=g)

        def edit(c=contact):
            return services.contact_assign_directly(actor=None, contact=c, membership=closers[2])

        def attempt(fn):
            try:
                fn()
                return "ok"
            except ValidationError as exc:
                return exc.messages[0]

        start_result, edit_result, second_start = _run_in_threads(
            attempt, [(start,), (edit,), (start,)]
        )
        contact.refresh_from_db()
        starts = [start_result, second_start]
        # Exactly one reassignment starts; the other sees it in progress.
        assert starts.count("ok") == 1, starts
        assert any("already in progress" in s for s in starts)
        in_progress = contact.reassigning_to_id is not None
        open_offers = Offer.objects.filter(contact=contact, status=OfferStatus.OPEN).count()
        assert in_progress
        assert open_offers == 1
        if edit_result == "ok":
            outcomes["edit first"] += 1  # the edit committed before the reassignment locked
        else:
            assert "Re-Assign in progress" in edit_result
            outcomes["locked"] += 1
        assert ContactRole.objects.filter(contact=contact, kind="agent").count() == 1
    assert sum(outcomes.values()) == 10
