"""Races that only real concurrency shows, on PostgreSQL with real threads and processes."""

import multiprocessing
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connections, transaction
from django.utils import timezone

from contacts.models import Contact, ContactRole
from routing.groups import GroupAssignee, reassignment_group_create
from routing.manual import contact_assign_directly
from routing.models import ContactRouting, Offer, OfferStatus, Rotation, RoutingStatus
from routing.offers import offer_claim, offer_expire
from routing.reassignment import reassignment_start
from routing.route import contact_route, team_route
from routing.state import cache_clear
from routing.tests.helpers import rule
from teams.tests.factories import UserFactory, make_member, make_team

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


class InjectedRollback(Exception):
    pass


def _router(team_id: int, batch: int, rollback_every: int, done) -> None:
    """Child process: route the team's queue in batches until it is empty; every Nth
    batch is rolled back after it was decided and written."""
    connections.close_all()  # never reuse the parent's socket
    cache_clear()
    batches = 0
    try:
        while True:
            try:
                with transaction.atomic():
                    claimed = team_route(team_id=team_id, limit=batch)
                    batches += 1
                    if claimed and rollback_every and batches % rollback_every == 0:
                        raise InjectedRollback
            except InjectedRollback:
                continue
            if not claimed:
                break
    finally:
        connections.close_all()
    done.put(batches)


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


def _queued_contacts(team, n, **fields) -> list[int]:
    """Contacts waiting in the routing queue, with no router woken for them yet."""
    contacts = Contact.objects.bulk_create(
        [Contact(team=team, first_name=f"L{i}", **fields) for i in range(n)]
    )
    ContactRouting.objects.bulk_create([ContactRouting(contact=c, team=team) for c in contacts])
    return [c.pk for c in contacts]


def _spread(counter: Counter) -> int:
    return max(counter.values()) - min(counter.values())


@pytest.mark.parametrize("batch", [1, 20])
def test_round_robin_fair_with_four_processes_and_rollbacks(batch):
    team = make_team(owner=UserFactory())
    agents = [make_member(team) for _ in range(4)]
    r = rule(team, "All", *agents)
    ids = _queued_contacts(team, 120)
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    done = ctx.Queue()
    procs = [ctx.Process(target=_router, args=(team.pk, batch, 3, done)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0, "a router failed or deadlocked"
    assert sum(done.get(timeout=5) for _ in procs) > 0
    # Batches rolled back after the others stopped looking are still waiting: route them.
    while team_route(team_id=team.pk):
        pass
    assert (
        not ContactRouting.objects.filter(pk__in=ids)
        .exclude(status=RoutingStatus.ASSIGNED)
        .exists()
    )
    held = Counter(ContactRole.objects.filter(kind="agent").values_list("membership_id", flat=True))
    assert sum(held.values()) == 120  # no contact assigned twice (one Agent each), none lost
    assert ContactRole.objects.filter(kind="agent").values("contact_id").distinct().count() == 120
    assert _spread(held) <= 1
    r.rotation.refresh_from_db()
    assert r.rotation.member_counts() == dict(held)  # rolled-back turns were given back


def test_two_rules_sharing_the_default_rule_route_without_deadlock():
    """Routers of different rules lock the rotations they might use in one order."""
    team = make_team(owner=UserFactory())
    a = [make_member(team) for _ in range(3)]
    b = [make_member(team) for _ in range(3)]
    rule(team, "A", *a, sources=["A"])
    rule(team, "B", *b, sources=["B"])
    ids = _queued_contacts(team, 60, source="A") + _queued_contacts(team, 60, source="B")
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    done = ctx.Queue()
    procs = [ctx.Process(target=_router, args=(team.pk, 7, 4, done)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0, "a router failed or deadlocked"
    while team_route(team_id=team.pk):
        pass
    held = Counter(
        ContactRole.objects.filter(kind="agent", contact_id__in=ids).values_list(
            "membership_id", flat=True
        )
    )
    assert sum(held.values()) == 120
    assert _spread(Counter({m: held[m] for m in (x.pk for x in a)})) <= 1
    assert _spread(Counter({m: held[m] for m in (x.pk for x in b)})) <= 1


def test_blast_fifty_way_claim_race_has_one_winner():
    team = make_team(owner=UserFactory(), plan="premier")
    agents = [make_member(team) for _ in range(50)]
    rule(team, "Blast", *agents, method="blast")
    contact_id = _queued_contacts(team, 1)[0]
    contact_route(contact_id=contact_id)
    offer = Offer.objects.get(contact_id=contact_id)
    results = _run_in_threads(
        lambda m: offer_claim(offer_id=offer.pk, membership=m), [(a,) for a in agents]
    )
    winners = [r for r in results if r.claimed]
    assert len(winners) == 1
    assert ContactRole.objects.filter(contact_id=contact_id, kind="agent").count() == 1
    losers = {r.message for r in results if not r.claimed}
    assert losers == {f"This contact was already claimed by {winners[0].winner.display_name}."}


def test_claim_and_expiry_race_has_exactly_one_winner():
    team = make_team(owner=UserFactory(), plan="pro")
    agents = [make_member(team) for _ in range(3)]
    rule(team, "Next up", *agents, method="next_up", claim_window_minutes=1)
    outcomes = Counter()
    for contact_id in _queued_contacts(team, 12):
        contact_route(contact_id=contact_id)
        offer = Offer.objects.get(contact_id=contact_id, status=OfferStatus.OPEN)
        member = offer.recipients.get()
        claim, expire = _run_in_threads(
            lambda kind, o=offer, m=member: (
                offer_claim(offer_id=o.pk, membership=m, now=o.deadline - timedelta(milliseconds=1))
                if kind == "claim"
                else offer_expire(offer_id=o.pk, now=o.deadline)
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
    r = rule(team, "All", *agents)
    contact_id = _queued_contacts(team, 1)[0]
    _run_in_threads(lambda: contact_route(contact_id=contact_id, now=timezone.now()), [()] * 6)
    assert ContactRole.objects.filter(contact_id=contact_id, kind="agent").count() == 1
    r.rotation.refresh_from_db()
    assert sum(r.rotation.member_counts().values()) == 1
    assert Rotation.objects.get(pk=r.rotation_id).turns == 1


def _attempt(fn):
    try:
        fn()
        return "ok"
    except ValidationError as exc:
        return exc.messages[0]


def test_reassignment_lock_holds_under_concurrent_edits():
    team = make_team(owner=UserFactory(), plan="pro")
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
    for contact_id in _queued_contacts(team, 10):
        contact_route(contact_id=contact_id)
        contact = Contact.objects.get(pk=contact_id)

        def start(c=contact):
            return reassignment_start(actor=owner, contact=c, group=g, expected_agent_id=isa.pk)

        def edit(c=contact):
            return contact_assign_directly(
                actor=None, contact=c, membership=closers[2], expected_agent_id=isa.pk
            )

        start_result, edit_result, second_start = _run_in_threads(
            _attempt, [(start,), (edit,), (start,)]
        )
        routing = ContactRouting.objects.get(pk=contact_id)
        results = [start_result, edit_result, second_start]
        # Exactly one of the three changes takes effect; the others are refused with why.
        assert results.count("ok") == 1, results
        refused = [r for r in results if r != "ok"]
        assert all(
            "already being reassigned" in r or "The Agent changed while you were looking" in r
            for r in refused
        ), refused
        if edit_result == "ok":
            outcomes["edit first"] += 1
            assert not routing.reassign_in_progress
            assert ContactRole.objects.get(contact=contact, kind="agent").membership == closers[2]
        else:
            outcomes["reassignment first"] += 1
            assert routing.reassign_in_progress
            assert Offer.objects.filter(contact=contact, status=OfferStatus.OPEN).count() == 1
        assert ContactRole.objects.filter(contact=contact, kind="agent").count() == 1
    assert sum(outcomes.values()) == 10


def test_two_round_robin_reassignments_at_once_apply_once():
    """A Round Robin group reassigns at once, so the second trigger finds another Agent
    than the one its member saw: refused, not applied after the first."""
    team = make_team(owner=UserFactory())
    owner = team.memberships.get(role="owner")
    isa, *closers = [make_member(team) for _ in range(4)]
    rule(team, "ISA", isa)
    g = reassignment_group_create(
        actor=None,
        team=team,
        name="Closers",
        method="round_robin",
        assignees=[GroupAssignee(membership=m) for m in closers],
    )
    for contact_id in _queued_contacts(team, 10):
        contact_route(contact_id=contact_id)
        contact = Contact.objects.get(pk=contact_id)
        results = _run_in_threads(
            lambda c=contact: _attempt(
                lambda: reassignment_start(
                    actor=owner, contact=c, group=g, expected_agent_id=isa.pk
                )
            ),
            [()] * 2,
        )
        assert results.count("ok") == 1, results
        refusal = next(r for r in results if r != "ok")
        assert "The Agent changed while you were looking" in refusal
        assert ContactRole.objects.get(contact=contact, kind="agent").membership in closers
        assert contact.timeline.filter(kind="reassigned").count() == 1
