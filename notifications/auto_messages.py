"""Teams word their own welcome email and text; these render them safely.

A template edited by a team is rendered by a bare template engine (no
loaders, no tag libraries beyond the built-ins) over plain strings, so it can
reach neither other templates nor any object of the site.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.template import Context, Engine, TemplateSyntaxError
from django.template.defaulttags import DebugNode
from django.template.loader_tags import ExtendsNode, IncludeNode

from notifications.models import AutoMessageKind, AutoMessageTemplate

PLACEHOLDERS = {
    "contact_first_name": "Jane",
    "agent_name": "Alan Agent",
    "agent_first_name": "Alan",
    "agent_email": "alan@example.com",
    "team_name": "Acme Realty",
}
PLACEHOLDER_HELP = "Placeholders: " + ", ".join(f"{{{{ {name} }}}}" for name in PLACEHOLDERS)

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

_engine = Engine(dirs=[], app_dirs=False, loaders=[], libraries={}, autoescape=False)


@dataclass(frozen=True)
class Rendered:
    enabled: bool
    subject: str
    body: str


# No loaders means these could never find a template; {% debug %} would print the
# modules of the site when DEBUG is on.
_FORBIDDEN = (DebugNode, IncludeNode, ExtendsNode)


def render_text(source: str, values: dict[str, str]) -> str:
    template = _engine.from_string(source)
    for node_type in _FORBIDDEN:
        if template.nodelist.get_nodes_by_type(node_type):
            raise TemplateSyntaxError("Only placeholders, filters and simple tags are allowed.")
    return template.render(Context(values, autoescape=False)).strip()


def check_template(source: str) -> None:
    """Raise TemplateSyntaxError unless `source` renders with the placeholders alone."""
    try:
        render_text(source, PLACEHOLDERS)
    except TemplateSyntaxError:
        raise
    except Exception as exc:
        raise TemplateSyntaxError(str(exc)) from exc


def auto_message_render(
    *, template: AutoMessageTemplate | None, kind: str, values: dict[str, str]
) -> Rendered:
    """The team's template when it has one, else the default wording."""
    if template is not None:
        subject, body, enabled = template.subject, template.body, template.enabled
    else:
        (subject, body), enabled = DEFAULTS[kind], True
    return Rendered(
        enabled=enabled,
        subject=" ".join(render_text(subject, values).split()),
        body=render_text(body, values),
    )
