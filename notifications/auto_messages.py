"""Teams word their own welcome email and text; these render them safely.

A template edited by a team is rendered by notifications.sandbox: placeholders,
a few filters and {% if %}, over plain strings, at a bounded cost. Saving checks
it against the placeholders below (the team page, the service, the admin);
sending renders whatever is stored, and a stored template the sandbox refuses
is a message that can never go out (TemplateRefused).
"""

from __future__ import annotations

from dataclasses import dataclass

from notifications.models import AutoMessageKind, AutoMessageTemplate
from notifications.sandbox import (
    ALLOWED_FILTERS,
    template_check,
    template_render,
    template_validate,
)

PLACEHOLDERS = {
    "contact_first_name": "Jane",
    "agent_name": "Alan Agent",
    "agent_first_name": "Alan",
    "agent_email": "alan@example.com",
    "team_name": "Acme Realty",
}
PLACEHOLDER_HELP = (
    "Placeholders: "
    + ", ".join(f"{{{{ {name} }}}}" for name in PLACEHOLDERS)
    + ". Filters: "
    + ", ".join(ALLOWED_FILTERS)
    + ". Conditions: {% if … %} … {% else %} … {% endif %}."
)

DEFAULTS = {
    AutoMessageKind.WELCOME_EMAIL: (
        "Welcome from {{ agent_name }} at {{ team_name }}",
        "Hi {{ contact_first_name|default:'there' }},\n\n"
        "Thanks for getting in touch with {{ team_name }}. I'm {{ agent_name }}, and I'll be "
        "helping you from here on. Just reply to this email with any questions, or tell me "
        "a good time to call.\n\n"
        "Best,\n{{ agent_name }}\n{{ team_name }}",
    ),
    AutoMessageKind.WELCOME_TEXT: (
        "",
        "Hi {{ contact_first_name|default:'there' }}, this is {{ agent_name }} with "
        "{{ team_name }}. Thanks for reaching out! Text me here anytime with questions.",
    ),
}


@dataclass(frozen=True)
class Rendered:
    enabled: bool
    subject: str
    body: str


def render_text(source: str, values: dict[str, str]) -> str:
    """The wording with these values, or TemplateRefused (TemplateTooCostly when over a limit)."""
    return template_render(source, values).strip()


def check_template(source: str) -> None:
    """Raise TemplateRefused unless `source` keeps to the sandbox's language, uses only
    the placeholders, and renders with them within the limits."""
    template_check(source, sample=PLACEHOLDERS)


def validate_template(source: str) -> None:
    """check_template as the ValidationError the team page, the service and the admin show."""
    template_validate(source, sample=PLACEHOLDERS)


def auto_message_render(
    *, template: AutoMessageTemplate | None, kind: str, values: dict[str, str]
) -> Rendered:
    """The team's template when it has one, else the default wording.

    Raises TemplateRefused when the stored template is outside the sandbox (written
    around the checks, or saved under older rules): sending it again fails the same way.
    """
    if template is not None:
        subject, body, enabled = template.subject, template.body, template.enabled
    else:
        (subject, body), enabled = DEFAULTS[kind], True
    return Rendered(
        enabled=enabled,
        subject=" ".join(render_text(subject, values).split()),
        body=render_text(body, values),
    )
