"""What every page's navigation shows about routing: the leads waiting in a Manual lead
pool, next to the Lead routing link."""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from routing.selectors_pages import attention_counts


def lead_attention(request):
    """`lead_attention.waiting` and the other counts of `attention_counts`: one query, made
    only when a page shows them (the navigation shows them to lead distribution managers).
    A page that has them already passes its own `lead_attention`."""
    member = getattr(request, "membership", None)
    return {"lead_attention": SimpleLazyObject(lambda: attention_counts(membership=member))}
