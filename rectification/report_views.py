"""Pages of the quarterly supervision report: request, list with progress, status (JSON), download, notice."""

import datetime

from django import forms
from django.conf import settings
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

from .choices import FOUR_BATCHES, CampaignStatus, Category
from .models import ReportStatus, SupervisionReport
from .quarters import Quarter, campaign_quarters, long_date
from .reports import (
    check_quarter,
    definitions,
    percent,
    report_filename,
    report_regions_for,
    reports_within_reach,
    request_report,
    statement,
)
from .selectors import campaigns_for


class QuarterSelect(forms.Select):
    """The quarters as options, each naming the campaigns it belongs to (data-campaigns), so the page offers
    only the chosen campaign's quarters (static/rectification/report-request.js)."""

    def __init__(self, *args, campaigns_of=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.campaigns_of = campaigns_of or {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex=subindex, attrs=attrs)
        campaigns = self.campaigns_of.get(str(value))
        if campaigns:
            option["attrs"]["data-campaigns"] = " ".join(str(pk) for pk in campaigns)
        return option


class ReportRequestForm(BootstrapFormMixin, forms.Form):
    # A plain choice over the campaigns read once: the quarter list is built from the same rows.
    campaign = forms.TypedChoiceField(label=gettext_lazy("Campaign"), coerce=int)
    quarter = forms.ChoiceField(
        label=gettext_lazy("Quarter"),
        help_text=gettext_lazy("The campaign's quarters that have started; figures as of the quarter's last day."),
    )
    region = forms.ModelChoiceField(label=gettext_lazy("Region"), queryset=None)
    # Left empty, each takes its default (the office in settings, the next number of the year, today).
    issuing_office = forms.CharField(label=gettext_lazy("Issuing office"), max_length=100, required=False)
    document_number = forms.CharField(
        label=gettext_lazy("Document number (文号)"),
        max_length=50,
        required=False,
        help_text=gettext_lazy("e.g. 临化治办〔2026〕12号; left empty, the next number of the year is given."),
    )
    issued_on = forms.DateField(
        label=gettext_lazy("Issue date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        campaigns = list(campaigns_for(user))
        self.campaigns = {campaign.pk: campaign for campaign in campaigns}
        self.fields["campaign"].choices = [("", "---------")] + [(c.pk, c.name) for c in campaigns]
        self.fields["region"].queryset = report_regions_for(user)
        campaigns_of: dict[str, list[int]] = {}
        for campaign in campaigns:
            for quarter in campaign_quarters(campaign, today):
                campaigns_of.setdefault(str(quarter), []).append(campaign.pk)
        quarters = sorted((Quarter.parse(code) for code in campaigns_of), reverse=True)
        running = Quarter.of(today)
        self.fields["quarter"].choices = [
            (str(q), _("%(quarter)s (so far)") % {"quarter": q.label()} if q == running else q.label())
            for q in quarters
        ]
        self.fields["quarter"].widget = QuarterSelect(
            choices=self.fields["quarter"].choices, attrs={"class": "form-select"}, campaigns_of=campaigns_of
        )
        if not self.is_bound:
            last_ended = str(Quarter.of(today).previous())
            self.initial.setdefault(
                "quarter", last_ended if last_ended in campaigns_of else next(iter(campaigns_of), "")
            )
            active = [c for c in campaigns if c.status == CampaignStatus.ACTIVE]
            if len(active) == 1 or len(campaigns) == 1:
                self.initial.setdefault("campaign", (active or campaigns)[0].pk)
            if user.region_id:
                self.initial.setdefault("region", user.region_id)
            self.initial.setdefault("issuing_office", settings.REPORT_ISSUING_OFFICE)
            self.initial.setdefault("issued_on", today)
        self.fields["document_number"].widget.attrs["placeholder"] = (
            f"{settings.REPORT_DOCUMENT_PREFIX}〔{today.year}〕…号"
        )

    def clean_campaign(self):
        return self.campaigns[self.cleaned_data["campaign"]]

    def clean(self):
        data = super().clean()
        campaign, quarter = data.get("campaign"), data.get("quarter")
        if campaign is not None and quarter:
            try:
                check_quarter(campaign, Quarter.parse(quarter))
            except ValidationError as error:
                add_service_error(self, error)
        return data


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
                        issuing_office=form.cleaned_data["issuing_office"] or None,
                        document_number=form.cleaned_data["document_number"] or None,
                        issued_on=form.cleaned_data["issued_on"],
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
    filename = report_filename(report)
    return FileResponse(report.file.open("rb"), as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE)


def _notice_row(row: dict) -> dict:
    """A region's row with its rates written as the notice writes them (39.0%)."""
    return dict(
        row,
        overall=percent(row.get("completion_rate")),
        in_park=percent(row.get("in_park_rate")),
        closure=percent(row.get("closure_rate")),
    )


@login_required
def report_notice(request, pk):
    """The 通报: an official document (issuing office, 文号, title, statement, progress by region, overdue units
    named, the figures, signature and date), printable on A4, rendered from the figures stored with the report."""
    report = _report(request.user, pk)
    if report.status != ReportStatus.DONE:
        raise Http404(_("The report is not ready."))
    figures = report.figures
    rows = figures["rows"]
    total = next(row for row in rows if row["code"] == report.region.code)
    context = {
        "report": report,
        "figures": figures,
        "quarter_label": report.quarter_label,
        "issued_on": report.issued_on or timezone.localdate(report.finished_at or report.requested_at),
        "definitions": definitions(),
    }
    if "approved" not in total:
        # Built before the figures took their present form: the page says so instead of showing half of them.
        return render(request, "rectification/report_notice.html", context | {"outdated": True})
    quarter = Quarter.parse(report.quarter)
    as_of_day = datetime.date.fromisoformat(figures["as_of"])
    parts = [_notice_row(row) for row in rows if row["parent_code"] == report.region.code]
    batches = [
        {
            "label": str(Category(name).label),
            "proposed": total["proposed"][name],
            "approved": total["approved"][name],
            "completed": total["completed"][name],
            "target": total["target"][name],
            "rate": percent(total["rates"][name]),
        }
        for name in FOUR_BATCHES
    ]
    lagging = sorted(
        (row for row in parts if row["completion_rate"] is not None), key=lambda row: row["completion_rate"]
    )
    return render(
        request,
        "rectification/report_notice.html",
        context
        | {
            "as_of_label": long_date(as_of_day),
            "total": _notice_row(total),
            "statement": statement(
                total, region_name=report.region.name, as_of_day=as_of_day, target_year=quarter.year
            ),
            "monitoring_rate": percent(total["monitoring_rate"]),
            "duty_rates": {key: percent(total.get(f"duty_{key}_rate")) for key in ("monitoring", "video", "shutoff")},
            "parts": parts,
            "batches": batches,
            "lagging": lagging[:3],
            "overdue_units": figures["overdue_units"][:20],
        },
    )
