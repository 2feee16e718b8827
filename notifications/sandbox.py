"""Templates that team members write (auto messages), rendered at a bounded cost.

They are rendered in web requests (the editor's preview) and in delivery tasks, so a
template must never be able to hold a worker. The language is a small part of
Django's: placeholders (single names, no attributes), a few filters whose output is
proportional to their input, `{% if %}`/`{% elif %}`/`{% else %}` and
`{% comment %}`. There are no loops: placeholders are single values, and without
loops the work grows with the length of the source, which is capped. Everything
else is refused before parsing, and the parser itself knows only these tags and
filters.

Rendering checks the output size and a wall-clock budget after every node, so
anything the structural limits miss still ends as TemplateTooCostly rather than a
stuck worker. No signals or threads: it works the same under any worker.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.template import (
    Context,
    Engine,
    Library,
    Template,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
)
from django.template.base import (
    FilterExpression,
    Lexer,
    Node,
    NodeList,
    TextNode,
    TokenType,
    Variable,
    VariableDoesNotExist,
    VariableNode,
)
from django.template.defaulttags import CommentNode, IfNode, TemplateLiteral

ALLOWED_FILTERS = (
    "default",
    "default_if_none",
    "upper",
    "lower",
    "title",
    "capfirst",
    "truncatechars",
    "truncatewords",
)
ALLOWED_TAGS = ("if", "elif", "else", "endif", "comment", "endcomment")
# Loops (and lorem, which writes any amount of text) are what made a few hundred
# characters of template hold a worker for a minute.
_COSTLY_TAGS = ("for", "lorem")
# Names Django's context always has; comparisons like `x == None` use them.
_CONTEXT_BUILTINS = ("True", "False", "None")
# Parsing recurses once per nested {% if %} and per operator of a condition.
MAX_DEPTH = 5
MAX_CONDITION_WORDS = 25

LANGUAGE_HELP = (
    "Templates may use placeholders, the filters "
    + ", ".join(ALLOWED_FILTERS)
    + ", and {% if %} … {% elif %} … {% else %} … {% endif %}."
)

# The parser's whole vocabulary: an unknown tag or filter is a syntax error.
register = Library()
register.tags.update({name: defaulttags.register.tags[name] for name in ("if", "comment")})
register.filters.update({name: defaultfilters.register.filters[name] for name in ALLOWED_FILTERS})
_ALLOWED_FILTER_FUNCS = frozenset(register.filters.values())


class _Engine(Engine):
    # Only this module's library, not Django's built-in tags and filters.
    default_builtins: list[str] = []


@functools.cache
def _engine() -> Engine:
    return _Engine(loaders=[], libraries={}, builtins=[__name__], autoescape=False)


@dataclass(frozen=True)
class Limits:
    source_chars: int = 5_000
    output_chars: int = 100_000
    seconds: float = 1.0


LIMITS = Limits()


class TemplateRefused(Exception):
    """The template is outside the allowed language; the text names the problem and line."""

    def __init__(self, problem: str, *, line: int | None = None):
        self.problem = problem
        self.line = line
        super().__init__(f"line {line}: {problem}" if line else problem)


class TemplateTooCostly(TemplateRefused):
    """Rendering the template would cost more than the limits allow."""


# --- the check before parsing -------------------------------------------------------------


def _scan(source: str, limits: Limits) -> None:
    """Refuse, before Django parses anything, what is long, loops, or nests deeply."""
    if len(source) > limits.source_chars:
        raise TemplateTooCostly(
            f"the template is {len(source):,} characters long; the limit is "
            f"{limits.source_chars:,}."
        )
    depth = 0
    in_comment = False
    for token in Lexer(source).tokenize():
        if token.token_type != TokenType.BLOCK:
            continue
        words = token.split_contents() if token.contents else [""]
        tag = words[0]
        if in_comment:
            # Django skips everything up to {% endcomment %}, so does this check.
            in_comment = token.contents != "endcomment"
            continue
        if tag in _COSTLY_TAGS:
            raise TemplateTooCostly(
                f"{{% {tag} %}} is not allowed: it repeats text, and placeholders are single "
                "values with nothing to repeat.",
                line=token.lineno,
            )
        if tag not in ALLOWED_TAGS:
            shown = f"{{% {tag} %}}" if tag else "an empty {% %}"
            raise TemplateRefused(
                f"{shown} is not allowed. Allowed tags: "
                + ", ".join(f"{{% {t} %}}" for t in ALLOWED_TAGS)
                + ".",
                line=token.lineno,
            )
        if tag in ("if", "elif") and len(words) > MAX_CONDITION_WORDS:
            raise TemplateRefused(
                f"this condition is too long (at most {MAX_CONDITION_WORDS} words).",
                line=token.lineno,
            )
        if tag == "if":
            depth += 1
            if depth > MAX_DEPTH:
                raise TemplateRefused(
                    f"{{% if %}} is nested more than {MAX_DEPTH} deep.", line=token.lineno
                )
        elif tag == "endif":
            depth -= 1
        elif tag == "comment":
            in_comment = True


def _parse(source: str, limits: Limits) -> Template:
    _scan(source, limits)
    try:
        return _engine().from_string(source)
    except TemplateSyntaxError as exc:
        token = getattr(exc, "token", None)
        message = str(exc)
        # Some of Django's messages already say the line.
        line = token.lineno if token and not re.search(r"\bline \d+", message) else None
        separator = " " if message.endswith((".", ":")) else ". "
        raise TemplateRefused(message + separator + LANGUAGE_HELP, line=line) from exc


# --- the check of the parsed template ------------------------------------------------------


def _walk(nodelist: NodeList) -> Iterator[tuple[Node, int]]:
    for node in nodelist:
        line = node.token.lineno
        yield node, line
        if isinstance(node, IfNode):
            for _, branch in node.conditions_nodelists:
                yield from _walk(branch)


def _condition_expressions(condition) -> Iterator[FilterExpression]:
    if isinstance(condition, TemplateLiteral):
        yield condition.value
        return
    for operand in (condition.first, condition.second):
        if operand is not None:
            yield from _condition_expressions(operand)


def _node_expressions(node: Node, line: int) -> Iterator[FilterExpression]:
    if isinstance(node, VariableNode):
        yield node.filter_expression
    elif isinstance(node, IfNode):
        for condition, _ in node.conditions_nodelists:
            if condition is not None:
                yield from _condition_expressions(condition)
    elif not isinstance(node, TextNode | CommentNode):
        raise TemplateRefused(f"{type(node).__name__} is not allowed.", line=line)


def _check_name(variable: Variable, line: int, fields: frozenset[str] | None) -> None:
    if variable.lookups is None:  # a literal
        return
    name = ".".join(variable.lookups)
    if len(variable.lookups) > 1:
        raise TemplateRefused(
            f"{name}: placeholders are single names, with no parts after a dot.", line=line
        )
    if fields is not None and name not in fields and name not in _CONTEXT_BUILTINS:
        raise TemplateRefused(
            f"{name} is not a placeholder. Placeholders: {', '.join(sorted(fields))}.",
            line=line,
        )


def _check_expression(
    expression: FilterExpression, line: int, fields: frozenset[str] | None
) -> None:
    if isinstance(expression.var, Variable):
        _check_name(expression.var, line, fields)
    for func, args in expression.filters:
        if func not in _ALLOWED_FILTER_FUNCS:
            raise TemplateRefused(
                f"the filter {func.__name__} is not allowed. {LANGUAGE_HELP}", line=line
            )
        for is_variable, arg in args:
            if is_variable:
                _check_name(arg, line, fields)


def _check(template: Template, fields: frozenset[str] | None) -> None:
    """`fields` None (when sending) lets unknown placeholders render empty."""
    for node, line in _walk(template.nodelist):
        for expression in _node_expressions(node, line):
            _check_expression(expression, line, fields)


# --- rendering -----------------------------------------------------------------------------


class _Budget:
    def __init__(self, limits: Limits):
        self.limits = limits
        self.deadline = time.monotonic() + limits.seconds
        self.left = limits.output_chars

    def spend(self, piece: str, line: int) -> None:
        self.left -= len(piece)
        if self.left < 0:
            raise TemplateTooCostly(
                f"the message would be over {self.limits.output_chars:,} characters long.",
                line=line,
            )
        if time.monotonic() >= self.deadline:
            raise TemplateTooCostly(
                f"rendering took longer than {self.limits.seconds:g} s.", line=line
            )


def _holds(condition, context: Context) -> bool:
    # As IfNode.render: a condition over a missing placeholder is false.
    try:
        return bool(condition.eval(context))
    except VariableDoesNotExist:
        return False


def _render_nodes(nodelist: NodeList, context: Context, budget: _Budget, out: list[str]) -> None:
    for node in nodelist:
        line = node.token.lineno
        if isinstance(node, IfNode):
            budget.spend("", line)
            # The first branch whose condition holds, or else.
            for condition, branch in node.conditions_nodelists:
                if condition is None or _holds(condition, context):
                    _render_nodes(branch, context, budget, out)
                    break
            continue
        if isinstance(node, TextNode):
            piece = node.s
        elif isinstance(node, VariableNode):
            try:
                piece = str(node.render(context))
            except VariableDoesNotExist:
                # A filter's argument naming a missing placeholder: as a missing
                # placeholder itself, it renders empty.
                piece = ""
        elif isinstance(node, CommentNode):
            piece = ""
        else:
            raise TemplateRefused(f"{type(node).__name__} is not allowed.", line=line)
        budget.spend(piece, line)
        out.append(piece)


def _render(template: Template, values: Mapping[str, str], html: bool, limits: Limits) -> str:
    context = Context(dict(values), autoescape=html)
    out: list[str] = []
    with context.render_context.push_state(template), context.bind_template(template):
        _render_nodes(template.nodelist, context, _Budget(limits), out)
    return "".join(out)


def template_check(source: str, *, sample: Mapping[str, str], limits: Limits = LIMITS) -> None:
    """Raise TemplateRefused unless `source` keeps to the language, uses only the
    sample's placeholders, and renders with the sample within the limits."""
    template = _parse(source, limits)
    _check(template, frozenset(sample))
    _render(template, sample, html=False, limits=limits)


def template_validate(source: str, *, sample: Mapping[str, str]) -> None:
    """template_check as the ValidationError a form field, a service or the admin shows."""
    try:
        template_check(source, sample=sample)
    except TemplateRefused as exc:
        raise ValidationError(
            "This template does not render: %(problem)s",
            code="template",
            params={"problem": str(exc)},
        ) from exc


def template_render(
    source: str, values: Mapping[str, str], *, html: bool = False, limits: Limits = LIMITS
) -> str:
    """Render an owner-written template, or raise TemplateRefused (TemplateTooCostly
    when it is over a limit). Plain text unless `html`, where the values are escaped;
    a placeholder `values` lacks renders empty."""
    template = _parse(source, limits)
    _check(template, None)
    return _render(template, values, html, limits)
