"""The property-alert email as the contact gets it."""

import re

import pytest
from django.core import mail

from listings.tests.factories import listing_row, search_for, store
from notifications.unsubscribe import unsubscribe_token_read
from routing.tests.helpers import assigned_contact

pytestmark = pytest.mark.django_db


def test_the_property_alert_email_reads_right(team, agent, owner, capture, settings):
    settings.DEFAULT_FROM_EMAIL = "Switchboard <alerts@switchboard.example.com>"
    agent.email_signature = "Alan Agent\nAcme Realty · (512) 555-0100"
    agent.save()
    jane = assigned_contact(team, agent, first_name="Jane", email="jane@example.net")
    store(team, listing_row(external_id="R", address="88 Rainey St #1901", zip_code="78701",
                            price=1325000, beds=3, baths="2.5",
                            listing_url="https://listings.example.com/88-rainey"))  # fmt: skip
    search_for(jane, owner, name="Austin condos", price_max=1500000)
    mail.outbox.clear()

    with capture(execute=True):
        store(
            team,
            listing_row(external_id="N", price=465000),
            listing_row(external_id="R", address="88 Rainey St #1901", zip_code="78701",
                        price=1249000, beds=3, baths="2.5",
                        listing_url="https://listings.example.com/88-rainey"),
        )  # fmt: skip

    [email] = mail.outbox
    assert email.to == ["jane@example.net"]
    assert email.subject == "Property alert: 2 listings for “Austin condos”"
    assert email.from_email == "Alan Agent <alerts@switchboard.example.com>"
    assert email.reply_to == [agent.user.email]
    unsubscribe = email.extra_headers["List-Unsubscribe"]
    assert unsubscribe.startswith("<http")
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    body, _, footer = email.body.partition("\n\n--\n")
    assert body == (
        "Hi Jane,\n\n"
        "2 listings match your search “Austin condos”:\n\n"
        "NEW LISTING: 1200 Barton Springs Rd #4, Austin, TX 78704\n"
        "$465,000 · 2 beds · 2 baths · Condo\n"
        "https://listings.example.com/1200-barton-springs-4\n\n"
        "PRICE REDUCED: 88 Rainey St #1901, Austin, TX 78701\n"
        "$1,249,000 (was $1,325,000) · 3 beds · 2.5 baths · Condo\n"
        "https://listings.example.com/88-rainey\n\n"
        "Reply to this email to see any of them, or to change what you are looking for.\n\n"
        "Alan Agent\nAcme Realty · (512) 555-0100"
    )
    # Both links unsubscribe Jane, in one click and without signing in.
    link = re.fullmatch(r"Unsubscribe: (\S+/unsubscribe/([^/]+)/)\n", footer)
    assert link is not None
    assert unsubscribe_token_read(link[2]) == jane.pk
    assert unsubscribe_token_read(unsubscribe[1:-1].rstrip("/").rsplit("/", 1)[1]) == jane.pk
