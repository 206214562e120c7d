"""Pages of the quarterly supervision report: request, list with progress, status (JSON), download, notice."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from accounts.permissions import CAPABILITY_REFUSALS, Capability, can, require
from core.views import explain_forbidden, paginate
from core.xlsx import XLSX_CONTENT_TYPE
from enterprises.forms import BootstrapFormMixin, add_service_error

from .choices import FOUR_BATCHES, Category
from .models import ReportStatus, SupervisionReport
from .reports import Quarter, definitions, report_regions_for, reports_within_reach, request_report
from .selectors import campaigns_for


class ReportRequestForm(BootstrapFormMixin, forms.Form):
    campaign = forms.ModelChoiceField(label=gettext_lazy("Campaign"), queryset=None)
    quarter = forms.CharField(label=gettext_lazy("Quarter"), max_length=6, help_text=gettext_lazy("e.g. 2021Q1"))
    region = forms.ModelChoiceField(label=gettext_lazy("Region"), queryset=None)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].queryset = campaigns_for(user)
        self.fields["region"].queryset = report_regions_for(user)
        if not self.is_bound:
            self.initial.setdefault("quarter", str(Quarter.of(timezone.localdate()).previous()))
            if user.region_id:
                self.initial.setdefault("region", user.region_id)


def reports_for(user):
    return SupervisionReport.objects.visible_to(user).select_related("campaign", "region", "requested_by")


def _report(user, pk) -> SupervisionReport:
    return get_object_or_404(reports_for(user), pk=pk)


def _enqueue(report: SupervisionReport) -> None:
    from .tasks import build_supervision_report

    transaction.on_commit(lambda: build_supervision_report.delay(report.pk))


@login_required
@explain_forbidden
@require_http_methods(["GET", "POST"])
def report_list(request):
    user = request.user
    require(user, Capability.VIEW_REGISTER)
    may_request = can(user, Capability.REQUEST_REPORT)
    form = None
    if may_request:
        form = ReportRequestForm(request.POST if request.method == "POST" else None, user=user)
        if request.method == "POST" and form.is_valid():
            try:
                with transaction.atomic():
                    report = request_report(
                        actor=user,
                        campaign=form.cleaned_data["campaign"],
                        quarter=form.cleaned_data["quarter"],
                        region=form.cleaned_data["region"],
                    )
                    _enqueue(report)
            except ValidationError as error:
                add_service_error(form, error)
            else:
                messages.success(request, _("The report is being built; this page shows its progress."))
                return redirect("rectification:reports")
    elif request.method == "POST":
        require(user, Capability.REQUEST_REPORT)
    page_obj = paginate(request, reports_for(user))
    running = any(r.status in (ReportStatus.QUEUED, ReportStatus.RUNNING) for r in page_obj)
    return render(
        request,
        "rectification/report_list.html",
        {
            "form": form,
            "page_obj": page_obj,
            "running": running,
            "may_request": may_request,
            # Say why there is no form (and, for a township, why the list stays empty).
            "why_not_request": None if may_request else CAPABILITY_REFUSALS[Capability.REQUEST_REPORT],
            "out_of_reach": not reports_within_reach(user),
        },
    )


def _status_payload(report: SupervisionReport) -> dict:
    return {
        "id": report.pk,
        "status": report.status,
        "status_label": str(report.get_status_display()),
        "progress": report.progress,
        "error": report.error,
        "download_url": reverse("rectification:report_download", args=[report.pk])
        if report.status == ReportStatus.DONE and report.file
        else None,
        "notice_url": reverse("rectification:report_notice", args=[report.pk])
        if report.status == ReportStatus.DONE
        else None,
    }


@login_required
def report_status(request, pk):
    """Polled by the list page while a report is built."""
    return JsonResponse(_status_payload(_report(request.user, pk)))


@login_required
def report_download(request, pk):
    report = _report(request.user, pk)
    if report.status != ReportStatus.DONE or not report.file:
        raise Http404(_("The report is not ready."))
    filename = f"{report.campaign.name}-{report.quarter}-{report.region.name}.xlsx"
    return FileResponse(report.file.open("rb"), as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE)


@login_required
def report_notice(request, pk):
    """The 通报: a printable page rendered from the figures stored with the report."""
    report = _report(request.user, pk)
    if report.status != ReportStatus.DONE:
        raise Http404(_("The report is not ready."))
    figures = report.figures
    rows = figures["rows"]
    total = next(row for row in rows if row["code"] == report.region.code)
    parts = [row for row in rows if row["parent_code"] == report.region.code]
    batches = [(str(Category(c).label), total["decided"][c], total["completed"][c]) for c in FOUR_BATCHES]
    lagging = sorted(
        (row for row in parts if row["completion_rate"] is not None),
        key=lambda row: row["completion_rate"],
    )
    return render(
        request,
        "rectification/report_notice.html",
        {
            "report": report,
            "figures": figures,
            "total": total,
            "parts": parts,
            "batches": batches,
            "lagging": lagging[:3],
            "overdue_units": figures["overdue_units"][:20],
            "definitions": definitions(),
        },
    )
