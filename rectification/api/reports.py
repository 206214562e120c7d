"""Quarterly supervision reports (季度督查通报) through the API: request one, poll it, download its workbook.

A request goes through the same service and capability (REQUEST_REPORT) as the report page and is built by
the same worker task; the workbook is streamed from storage only through the scoped download action.
"""

import django_filters
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import FileResponse
from django.urls import reverse
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.permissions import Capability, require
from core.api.exceptions import Bilingual
from core.api.filters import RegionCodeFilter
from core.api.serializers import ErrorSerializer, RegionCodeField, display_field
from core.api.viewsets import RegisterViewSetMixin
from core.xlsx import XLSX_CONTENT_TYPE
from enterprises.filters import visible_regions

from ..models import Campaign, ReportStatus, SupervisionReport
from ..quarters import Quarter
from ..reports import report_filename, report_regions_for, request_report
from ..selectors import campaigns_for
from ..tasks import build_supervision_report
from .common import CampaignRefSerializer, person_name
from .filters import RegionScopedFilterSet
from .views import SYNC_NOTE

REPORT_WRITE_NOTE = _(
    "Needs a token created with --write (or a session of the supervision team or a city or county office), "
    "inside your region."
)


class ReportNotReady(Bilingual, exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "not_ready"


class SupervisionReportSerializer(serializers.ModelSerializer):
    """季度督查通报: one build of a campaign's quarterly supervision report for a city or county."""

    campaign = CampaignRefSerializer(read_only=True)
    region_code = serializers.CharField(source="region.code", read_only=True, help_text=_("Code of the region."))
    region_name = serializers.CharField(source="region.name", read_only=True)
    status = serializers.ChoiceField(
        choices=ReportStatus.choices,
        read_only=True,
        help_text=_("queued, running (being built, see progress), done (download it) or failed (see error)."),
    )
    status_display = display_field("get_status_display")
    requested_by = serializers.SerializerMethodField(
        help_text=_("Who asked for it (a person or an API client); null for reports built on the schedule.")
    )
    created_at = serializers.DateTimeField(source="requested_at", read_only=True, help_text=_("When it was requested."))
    download_url = serializers.SerializerMethodField(
        help_text=_("Where to download the workbook (.xlsx); null until status is done.")
    )
    quarter = serializers.CharField(read_only=True, help_text=_("The quarter as a code, e.g. 2026Q3."))
    quarter_display = serializers.CharField(
        source="quarter_label", read_only=True, help_text=_("The quarter as people read it, e.g. 2026年第三季度.")
    )

    class Meta:
        model = SupervisionReport
        fields = [
            "id",
            "campaign",
            "quarter",
            "quarter_display",
            "region_code",
            "region_name",
            "issuing_office",
            "document_number",
            "issued_on",
            "status",
            "status_display",
            "progress",
            "error",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
            "updated_at",
            "download_url",
        ]
        read_only_fields = fields

    def get_requested_by(self, report) -> str | None:
        return person_name(report.requested_by)

    def get_download_url(self, report) -> str | None:
        if report.status != ReportStatus.DONE or not report.file:
            return None
        url = reverse("api:report-download", args=[report.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url


class VisibleCampaignField(serializers.PrimaryKeyRelatedField):
    """A campaign the caller sees, by id."""

    def get_queryset(self):
        return campaigns_for(self.context["request"].user)


class ReportRequestSerializer(serializers.Serializer):
    campaign = VisibleCampaignField(queryset=Campaign.objects.all(), help_text=_("Campaign id."))
    quarter = serializers.CharField(
        help_text=_(
            "The quarter the figures are as of (its last day), one of the campaign's quarters that have started: "
            "2026Q3 (or 2026年第三季度)."
        )
    )
    region_code = RegionCodeField(
        required=False,
        help_text=_("Code of the city or county the report covers; by default your own region."),
    )
    issuing_office = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text=_("The office issuing the notice; by default the office configured on the server."),
    )
    document_number = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=50,
        help_text=_("The notice's document number (文号), e.g. 临化治办〔2026〕12号; by default the next of the year."),
    )
    issued_on = serializers.DateField(
        required=False, allow_null=True, help_text=_("The notice's issue date; by default today.")
    )


class SupervisionReportApiFilterSet(RegionScopedFilterSet):
    status = django_filters.ChoiceFilter(choices=ReportStatus.choices)
    campaign = django_filters.NumberFilter(field_name="campaign_id", help_text=_("Campaign id."))
    quarter = django_filters.CharFilter(
        method="filter_quarter", help_text=_("Quarter, e.g. 2026Q3 (or 2026年第三季度).")
    )
    region = RegionCodeFilter(
        queryset=visible_regions, help_text=_("Region code: reports of this region and the regions below it.")
    )
    ordering = django_filters.OrderingFilter(
        fields=(("id", "id"), ("requested_at", "created"), ("quarter", "quarter")),
        help_text=_("id, created or quarter; prefix - for descending."),
    )

    class Meta:
        model = SupervisionReport
        fields: list[str] = []

    def filter_quarter(self, queryset, name, value):
        try:
            code = str(Quarter.parse(value))
        except ValidationError:
            return queryset.none()  # not a quarter: no report has it
        return queryset.filter(quarter=code)


@extend_schema_view(
    list=extend_schema(
        summary=_("List quarterly supervision reports"),
        description=format_lazy(
            "{} {}",
            _(
                "The quarterly supervision reports (季度督查通报) of your region and the counties below it, requested "
                "or built on the schedule, newest first, with their build status and progress: poll a report until "
                "its status is done, then follow download_url. updated_at changes with every step of the build. "
                "Reports are never deleted (there is no deleted/ list)."
            ),
            SYNC_NOTE,
        ),
    ),
    retrieve=extend_schema(summary=_("One quarterly supervision report, by id")),
)
class SupervisionReportViewSet(
    RegisterViewSetMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    queryset = SupervisionReport.objects.all()
    serializer_class = SupervisionReportSerializer
    filterset_class = SupervisionReportApiFilterSet

    def decorate_queryset(self, queryset):
        return queryset.select_related("campaign", "region", "requested_by")

    def get_serializer_class(self):
        if self.action == "create":
            return ReportRequestSerializer
        return super().get_serializer_class()

    @extend_schema(
        summary=_("Request a quarterly supervision report"),
        description=format_lazy(
            "{} {}",
            _(
                "Queues the build of a campaign's report as of the end of a quarter for a city or county inside "
                "your region, through the same service as the report page; the answer is the new report (status "
                "queued, or already done when the server builds without a worker). Poll it until status is done."
            ),
            REPORT_WRITE_NOTE,
        ),
        request=ReportRequestSerializer,
        responses={
            201: SupervisionReportSerializer,
            400: OpenApiResponse(
                ErrorSerializer,
                description=_(
                    "A quarter not yet begun, outside the campaign's period or malformed, or a region that is not a "
                    "city or county."
                ),
            ),
        },
    )
    def create(self, request, *args, **kwargs):
        user = request.user
        require(user, Capability.REQUEST_REPORT)  # before the input: a caller who may not ask learns that first
        entry = ReportRequestSerializer(data=request.data, context=self.get_serializer_context())
        entry.is_valid(raise_exception=True)
        data = entry.validated_data
        region = data.get("region_code") or user.region
        if region is None or not report_regions_for(user).filter(pk=region.pk).exists():
            raise ValidationError(
                {
                    "region_code": ValidationError(
                        _("A report covers a city or a county inside your region: give its code."),
                        code="invalid",
                    )
                }
            )
        with transaction.atomic():
            report = request_report(
                actor=user,
                campaign=data["campaign"],
                quarter=data["quarter"],
                region=region,
                issuing_office=data.get("issuing_office"),
                document_number=data.get("document_number"),
                issued_on=data.get("issued_on"),
            )
            # Built by the worker once the request is committed, as from the report page.
            transaction.on_commit(lambda: build_supervision_report.delay(report.pk))
        fresh = self.get_queryset().get(pk=report.pk)
        return Response(
            SupervisionReportSerializer(fresh, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        summary=_("Download the workbook of a report"),
        description=_(
            "The report's Excel workbook (.xlsx), streamed. While the report is queued or being built, or when "
            "its build failed, the answer is 409 with the reason: poll the report until its status is done."
        ),
        responses={
            (200, XLSX_CONTENT_TYPE): OpenApiResponse(OpenApiTypes.BINARY, description=_("The workbook.")),
            409: OpenApiResponse(ErrorSerializer, description=_("The report is not ready, or its build failed.")),
        },
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def download(self, request, *args, **kwargs):
        report = self.get_object()
        if report.status == ReportStatus.FAILED:
            raise ReportNotReady(
                _("The build of this report failed (%(error)s): request a new one."),
                {"error": report.error},
                code="report_failed",
            )
        if report.status != ReportStatus.DONE or not report.file:
            raise ReportNotReady(
                _("The report is not ready yet (status %(status)s, %(progress)d%%): try again when it is done."),
                {"status": report.status, "progress": report.progress},
                code="not_ready",
            )
        filename = report_filename(report)
        return FileResponse(
            report.file.open("rb"), as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE
        )
