"""Smoke test: a member signs in through the real login form and lands on their team."""

import re

import pytest
from playwright.sync_api import expect

# live_server serves from another thread, so the data must be committed.
pytestmark = pytest.mark.usefixtures("transactional_db")


def test_login_owner_lands_on_team_home(page, live_server, owner, login, screenshot):
    login(page, live_server, owner.user.username)

    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_text("Acme Realty").first).to_be_visible()
    screenshot(page, "login-owner-home")


def test_login_wrong_password_shows_error(page, live_server, owner, login, screenshot):
    login(page, live_server, owner.user.username, password="not-the-password")

    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    # Django's AuthenticationForm: "Please enter a correct username and password. …"
    error = page.get_by_text(re.compile(r"correct username and password", re.IGNORECASE))
    expect(error.first).to_be_visible()
    screenshot(page, "login-wrong-password")
