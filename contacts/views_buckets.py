"""Bucket pages: the member's buckets, one bucket's contacts, create, edit and share,
delete, and the member's default bucket. Thin views over contacts.buckets.

A bucket the member cannot see (another team's, or a member's own not shared with them)
is a 404; changing one they see but may not change is a 403 (contacts.selectors_buckets).
The contact profile's Buckets card and the contacts list's "Add to bucket" live with
those pages, in routing.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import prefetch_related_objects
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from contacts import buckets as services
from contacts.forms_buckets import BucketForm, DefaultBucketForm
from contacts.selectors import contacts_visible_to
from contacts.selectors_buckets import (
    bucket_contacts,
    bucket_for_member,
    bucket_list,
    default_bucket_of,
    may_manage_bucket,
    require_manage_bucket,
)
from teams.access import member_required

PER_PAGE = 50


def _list_page(request, *, form=None, default_form=None, status=200):
    member = request.membership
    context = {
        "buckets": list(bucket_list(member)),
        "form": form or BucketForm(member=member),
        "default_form": default_form
        or DefaultBucketForm(member=member, current=default_bucket_of(member)),
    }
    return render(request, "contacts/buckets/list.html", context, status=status)


def contacts_count(n: int) -> str:
    return f"{n} contact{'' if n == 1 else 's'}"


def _form_errors(form, exc: ValidationError) -> None:
    """A service's refusal on the form: per field where it names one."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


@require_safe
@member_required
def bucket_index(request):
    return _list_page(request)


@require_POST
@member_required
def bucket_create(request):
    member = request.membership
    form = BucketForm(request.POST, member=member)
    if form.is_valid():
        data = form.cleaned_data
        try:
            bucket = services.bucket_create(
                actor=member,
                name=data["name"],
                owner=None if form.team_wide else member,
                shared_members=data.get("shared_members") or (),
                shared_groups=data.get("shared_groups") or (),
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, f"Bucket “{bucket.name}” created.")
            return redirect("buckets:detail", pk=bucket.pk)
    return _list_page(request, form=form, status=422)


@require_safe
@member_required
def bucket_detail(request, pk: int):
    member = request.membership
    bucket = bucket_for_member(member, pk)
    prefetch_related_objects([bucket], "shared_with_members__user", "shared_with_groups")
    can_manage = may_manage_bucket(member, bucket)
    page = Paginator(bucket_contacts(bucket=bucket, member=member), PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {
        "bucket": bucket,
        "page": page,
        "can_manage": can_manage,
        "form": BucketForm(member=member, bucket=bucket) if can_manage else None,
        "is_my_default": getattr(default_bucket_of(member), "pk", None) == bucket.pk,
    }
    template = "contacts/buckets/detail.html" + ("#contacts" if request.htmx else "")
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_POST
@member_required
def bucket_update(request, pk: int):
    member = request.membership
    bucket = bucket_for_member(member, pk)
    require_manage_bucket(member, bucket)
    form = BucketForm(request.POST, member=member, bucket=bucket)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.bucket_update(
                actor=member,
                bucket=bucket,
                name=data["name"],
                shared_members=data.get("shared_members"),
                shared_groups=data.get("shared_groups"),
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, f"Bucket “{bucket.name}” saved.")
            return redirect("buckets:detail", pk=bucket.pk)
    bucket.refresh_from_db(fields=["name"])
    page = Paginator(bucket_contacts(bucket=bucket, member=member), PER_PAGE).get_page(1)
    context = {"bucket": bucket, "page": page, "can_manage": True, "form": form, "edit_open": True}
    return render(request, "contacts/buckets/detail.html", context, status=422)


@require_safe
@member_required
def bucket_confirm_delete(request, pk: int):
    member = request.membership
    bucket = bucket_for_member(member, pk)
    require_manage_bucket(member, bucket)
    count = bucket.placements.count()
    return render(request, "contacts/buckets/delete.html", {"bucket": bucket, "count": count})


@require_POST
@member_required
def bucket_delete(request, pk: int):
    member = request.membership
    bucket = bucket_for_member(member, pk)
    services.bucket_delete(actor=member, bucket=bucket)
    messages.success(request, f"Bucket “{bucket.name}” deleted; its contacts stay in the team.")
    return redirect("buckets:list")


@require_POST
@member_required
def bucket_contacts_remove(request, pk: int):
    """Take the selected contacts out of the bucket (they stay in the team)."""
    member = request.membership
    bucket = bucket_for_member(member, pk)
    ids = [v for v in request.POST.getlist("contacts") if v.isdigit()]
    contacts = list(contacts_visible_to(member).filter(pk__in=ids))
    if not contacts:
        messages.error(request, "Select at least one contact.")
    else:
        removed = services.contacts_unplace(bucket=bucket, contacts=contacts, actor=member)
        messages.success(
            request,
            f"{len(removed)} contact{'s'[: len(removed) != 1]} taken out of “{bucket.name}”.",
        )
    return redirect("buckets:detail", pk=bucket.pk)


@require_POST
@member_required
def default_bucket_set(request):
    """The member's assigned leads land in the chosen bucket from now on."""
    member = request.membership
    form = DefaultBucketForm(request.POST, member=member, current=None)
    if not form.is_valid():
        for error in form.errors.get("bucket", []):
            messages.error(request, error)
    else:
        bucket = services.member_set_default_bucket(
            membership=member, bucket=form.cleaned_data["bucket"]
        )
        messages.success(request, f"Leads assigned to you now land in “{bucket.name}”.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = reverse("buckets:list")
    return redirect(target)
