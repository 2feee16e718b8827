"""Django's password reset form, sending through the outbox.

Django's own form sends the email during the request: with the mail server down the
page still says it was sent, and the email is lost. This one writes an outbox message
for each matching account instead, delivered after commit and retried like every
other email. The page that follows is the same whether or not the address has an
account.
"""

from __future__ import annotations

from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import PasswordResetTokenGenerator, default_token_generator
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from notifications.services import password_resets_notify


class OutboxPasswordResetForm(PasswordResetForm):
    def save(
        self,
        domain_override: str | None = None,
        subject_template_name: str = "registration/password_reset_subject.txt",
        email_template_name: str = "registration/password_reset_email.html",
        use_https: bool = False,
        token_generator: PasswordResetTokenGenerator = default_token_generator,
        from_email: str | None = None,
        request: HttpRequest | None = None,
        html_email_template_name: str | None = None,
        extra_email_context: dict | None = None,
    ) -> None:
        """Write a reset email for each active account with this address.

        The link is made when the email is sent, with default_token_generator, and
        starts with SITE_URL: neither the request's host nor its scheme decide where
        it points (`use_https` and `request` are not needed).
        """
        if domain_override:
            raise ImproperlyConfigured(
                "Password reset links start with SITE_URL: set it instead of domain_override."
            )
        if token_generator is not default_token_generator:
            raise ImproperlyConfigured(
                "Password reset links are made when the email is sent, with "
                "default_token_generator: another token generator cannot be used."
            )
        password_resets_notify(
            users=list(self.get_users(self.cleaned_data["email"])),
            subject_template=subject_template_name,
            email_template=email_template_name,
            html_email_template=html_email_template_name,
            from_email=from_email,
            extra_context=extra_email_context,
        )
