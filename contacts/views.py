"""CSV import: upload → preview and column mapping → errors per row → import."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from contacts import intake
from contacts.forms import ImportMappingForm, ImportUploadForm
from contacts.models import ImportJob, ImportStatus
from teams import permissions as perms
from teams.access import has_perm, member_required
from teams.models import Membership

PREVIEW_ROWS = 5
SHOWN_ERRORS = 200


def _can_assign(membership: Membership) -> bool:
    # Giving contacts to a named agent is a lead-distribution decision.
    return has_perm(membership, perms.MANAGE_LEAD_DISTRIBUTION)


@require_GET
@member_required(perm=(perms.MANAGE_TEAM, perms.MANAGE_LEAD_DISTRIBUTION))
def import_start(request):
    membership = request.membership
    jobs = ImportJob.objects.filter(team=membership.team).defer("rows")[:10]
    return render(request, "contacts/import.html", {"form": ImportUploadForm(), "jobs": jobs})


@require_POST
@member_required(perm=(perms.MANAGE_TEAM, perms.MANAGE_LEAD_DISTRIBUTION))
def import_upload(request):
    membership = request.membership
    form = ImportUploadForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = intake.import_job_create(
                actor=membership, filename=upload.name, data=upload.read()
            )
        except ValidationError as exc:
            form.add_error("file", exc)
        else:
            return redirect("contact_import_job", pk=job.pk)
    jobs = ImportJob.objects.filter(team=membership.team).defer("rows")[:10]
    return render(request, "contacts/import.html", {"form": form, "jobs": jobs})


def _job_page(request, membership, job, form=None, status=200):
    form = form or ImportMappingForm(job=job, can_assign=_can_assign(membership))
    check = intake.import_check(job=job) if job.status == ImportStatus.MAPPED else None
    context = {
        "job": job,
        "form": form,
        "preview": job.rows[:PREVIEW_ROWS],
        "check": check,
        "errors": check.errors[:SHOWN_ERRORS] if check else [],
    }
    return render(request, "contacts/import_job.html", context, status=status)


@require_GET
@member_required(perm=(perms.MANAGE_TEAM, perms.MANAGE_LEAD_DISTRIBUTION))
def import_job(request, pk: int):
    membership = request.membership
    job = get_object_or_404(
        ImportJob.objects.select_related("assign_to__user"), pk=pk, team=membership.team
    )
    return _job_page(request, membership, job)


@require_POST
@member_required(perm=(perms.MANAGE_TEAM, perms.MANAGE_LEAD_DISTRIBUTION))
def import_map(request, pk: int):
    membership = request.membership
    job = get_object_or_404(ImportJob, pk=pk, team=membership.team)
    form = ImportMappingForm(request.POST, job=job, can_assign=_can_assign(membership))
    if form.is_valid():
        try:
            intake.import_job_map(
                job=job,
                mapping=form.mapping,
                default_source=form.cleaned_data["default_source"],
                assign_to=form.cleaned_data.get("assign_to"),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect("contact_import_job", pk=job.pk)
    return _job_page(request, membership, job, form=form)


@require_POST
@member_required(perm=(perms.MANAGE_TEAM, perms.MANAGE_LEAD_DISTRIBUTION))
def import_run(request, pk: int):
    membership = request.membership
    job = get_object_or_404(ImportJob, pk=pk, team=membership.team)
    try:
        job = intake.import_run(actor=membership, job=job)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    else:
        how = f"given to {job.assign_to.display_name}" if job.assign_to else "sent to routing"
        messages.success(request, f"Imported {job.created_count} contacts, {how}.")
    return redirect("contact_import_job", pk=job.pk)
