from django.db import transaction
from django.db.models import Prefetch
from django.db.models.functions import Coalesce
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.models import Department
from core.api.sync import TombstoneSource
from core.api.viewsets import DeletedRecordsMixin, RegisterViewSetMixin, tombstone_serializer
from enterprises.models import Enterprise
from parks.models import ChemicalPark
from rectification.api.common import check_version, last_known_path
from rectification.api.views import SYNC_NOTE, _write_errors

from .. import services
from ..models import Finding, FindingEvidence, Inspection
from .filters import FindingApiFilterSet, InspectionApiFilterSet
from .serializers import FindingInputSerializer, FindingSerializer, FindingStepSerializer, InspectionSerializer

FINDING_WRITE_NOTE = _(
    "Through the same service and rules as the pages; the change shows in the finding's history as made by your "
    "API client. Needs a token created with --write, inside your region."
)


def _target_region_path():
    """Township path of the row's enterprise or park, also after it was deleted (cascading deletions)."""
    return Coalesce(last_known_path(Enterprise, "enterprise_id"), last_known_path(ChemicalPark, "park_id"))


@extend_schema_view(
    list=extend_schema(
        summary=_("List inspections"),
        description=format_lazy(
            "{} {}",
            _(
                "The inspections (检查) of enterprises and parks in your region, planned or carried out: daily, "
                "quarterly joint supervision, joint enforcement, expert verification, acceptance checks, 回头看 "
                "re-checks, double-random inspections, with their result."
            ),
            SYNC_NOTE,
        ),
    ),
    retrieve=extend_schema(summary=_("One inspection, by id")),
    deleted=extend_schema(
        summary=_("Deleted inspections (tombstones)"),
        description=_("Inspections deleted (e.g. a cancelled planned one) after updated_since; cursor-paged."),
    ),
)
class InspectionViewSet(DeletedRecordsMixin, RegisterViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Inspection.objects.all()
    serializer_class = InspectionSerializer
    filterset_class = InspectionApiFilterSet
    tombstones = TombstoneSource(Inspection, key_field="kind", region_path=_target_region_path, tracks_moves=False)
    tombstone_serializer_class = tombstone_serializer("InspectionTombstone", "kind", _("Kind of the inspection."))

    def decorate_queryset(self, queryset):
        return queryset.select_related("enterprise__township", "park__township", "created_by").prefetch_related(
            Prefetch("departments", queryset=Department.objects.order_by("name"))
        )


@extend_schema_view(
    list=extend_schema(
        summary=_("List findings"),
        description=format_lazy(
            "{} {}",
            _(
                "The findings (问题/隐患) of surveys and inspections in your region with their closed loop: open, "
                "being fixed, awaiting verification, closed (销号), reopened."
            ),
            SYNC_NOTE,
        ),
    ),
    retrieve=extend_schema(summary=_("One finding, by id")),
    create=extend_schema(
        summary=_("Record a finding"),
        description=format_lazy(
            "{} {}",
            _("A problem found at an enterprise or a park, or by one of your inspections (then give its id)."),
            FINDING_WRITE_NOTE,
        ),
        request=FindingInputSerializer,
        responses={201: FindingSerializer},
    ),
    update=extend_schema(
        summary=_("Correct a finding (all fields)"),
        description=FINDING_WRITE_NOTE,
        request=FindingInputSerializer,
        responses={200: FindingSerializer, **_write_errors(409)},
    ),
    partial_update=extend_schema(
        summary=_("Correct some fields of a finding"),
        description=FINDING_WRITE_NOTE,
        request=FindingInputSerializer,
        responses={200: FindingSerializer, **_write_errors(409)},
    ),
    deleted=extend_schema(
        summary=_("Deleted findings (tombstones)"),
        description=_("Findings deleted after updated_since (with their enterprise or park); cursor-paged."),
    ),
)
class FindingViewSet(DeletedRecordsMixin, RegisterViewSetMixin, viewsets.ModelViewSet):
    http_method_names = ["get", "post", "put", "patch", "head", "options"]
    queryset = Finding.objects.all()
    serializer_class = FindingSerializer
    filterset_class = FindingApiFilterSet
    tombstones = TombstoneSource(Finding, key_field="description", region_path=_target_region_path, tracks_moves=False)
    tombstone_serializer_class = tombstone_serializer("FindingTombstone", "description", _("What the problem was."))
    service_field_names = {"reason": "note"}

    def decorate_queryset(self, queryset):
        return queryset.select_related(
            "enterprise__township", "park__township", "responsible_department", "fixed_by", "verified_by"
        ).prefetch_related(Prefetch("evidence", queryset=FindingEvidence.objects.order_by("id")))

    def get_serializer_class(self):
        if self.action in ("create", "update", "partial_update"):
            return FindingInputSerializer
        if self.action == "steps":
            return FindingStepSerializer
        return super().get_serializer_class()

    @extend_schema(
        summary=_("Take a step of a finding's closed loop"),
        description=format_lazy(
            "{} {}",
            _(
                "start_fixing, submit_fix, verify or reopen, through the same rules as the pages (nobody verifies a "
                "fix they reported; a major accident hazard is closed at county level or above)."
            ),
            FINDING_WRITE_NOTE,
        ),
        request=FindingStepSerializer,
        responses={200: FindingSerializer, **_write_errors(400, 409)},
    )
    @action(detail=True, methods=["post"])
    def steps(self, request, *args, **kwargs):
        finding = self.get_object()
        entry = FindingStepSerializer(data=request.data)
        entry.is_valid(raise_exception=True)
        data = entry.validated_data
        step, note, actor = data["action"], data["note"], request.user
        with transaction.atomic():
            check_version(Finding, finding.pk, self.expected_version())
            if step == "start_fixing":
                services.start_fixing(finding=finding, actor=actor, note=note)
            elif step == "submit_fix":
                services.submit_fix(finding=finding, actor=actor, note=note)
            elif step == "verify":
                services.verify_finding(finding=finding, actor=actor, passed=data["passed"], note=note)
            else:
                services.reopen_finding(finding=finding, actor=actor, reason=note)
        return self._answer(finding)

    def _answer(self, finding, status_code=status.HTTP_200_OK):
        fresh = self.get_queryset().get(pk=finding.pk)
        response = Response(FindingSerializer(fresh, context=self.get_serializer_context()).data, status=status_code)
        response["ETag"] = f'"{fresh.version}"'
        return response

    def create(self, request, *args, **kwargs):
        entry = FindingInputSerializer(data=request.data, context=self.get_serializer_context())
        entry.is_valid(raise_exception=True)
        data = dict(entry.validated_data)
        data.pop("version", None)
        data.pop("reason", None)
        finding = services.record_finding(actor=request.user, **data)
        return self._answer(finding, status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        finding = self.get_object()
        partial = kwargs.pop("partial", False)
        entry = FindingInputSerializer(
            finding, data=request.data, partial=partial, context=self.get_serializer_context()
        )
        entry.is_valid(raise_exception=True)
        data = {name: value for name, value in entry.validated_data.items() if name in services.EDITABLE_FINDING_FIELDS}
        reason = entry.validated_data.get("reason", "")
        with transaction.atomic():
            check_version(Finding, finding.pk, self.expected_version())
            services.update_finding(finding=finding, actor=request.user, data=data, reason=reason)
        return self._answer(finding)
