"""Inspections and findings as the API shows them; finding input for the services."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Department
from core.api.serializers import FastRepresentationMixin, display_field
from enterprises.api.serializers import EnterpriseRefSerializer, ParkRefSerializer
from enterprises.models import Enterprise
from enterprises.validators import normalize_uscc
from parks.models import ChemicalPark
from rectification.api.common import VERSION_HELP, DepartmentRefSerializer, person_name

from ..choices import ACTIVE_FINDING_STATES, AccessArea, Severity
from ..models import Finding, FindingEvidence, Inspection


class TargetRegionMixin(serializers.Serializer):
    region_code = serializers.SerializerMethodField(help_text=_("Code of the township of its enterprise or park."))

    def get_region_code(self, row) -> str:
        return row.township.code


class InspectionSerializer(FastRepresentationMixin, TargetRegionMixin, serializers.ModelSerializer):
    """检查: one visit to an enterprise or a park, planned or carried out, with its result."""

    kind_display = display_field("get_kind_display")
    status_display = display_field("get_status_display")
    enterprise = EnterpriseRefSerializer(read_only=True, allow_null=True)
    park = ParkRefSerializer(read_only=True, allow_null=True)
    classification = serializers.PrimaryKeyRelatedField(
        read_only=True, help_text=_("The classification an acceptance check decides on.")
    )
    departments = DepartmentRefSerializer(many=True, read_only=True)
    result = serializers.CharField(allow_null=True, read_only=True)
    result_display = display_field("get_result_display")
    created_by = serializers.SerializerMethodField()
    version = serializers.IntegerField(read_only=True, help_text=VERSION_HELP)

    class Meta:
        model = Inspection
        fields = [
            "id",
            "kind",
            "kind_display",
            "status",
            "status_display",
            "planned_on",
            "inspected_on",
            "enterprise",
            "park",
            "region_code",
            "classification",
            "departments",
            "inspectors",
            "result",
            "result_display",
            "result_note",
            "created_by",
            "created_at",
            "updated_at",
            "version",
        ]
        read_only_fields = fields

    def to_representation(self, inspection):
        data = super().to_representation(inspection)
        data["result"] = data["result"] or None
        return data

    def get_created_by(self, inspection) -> str | None:
        return person_name(inspection.created_by)


class FindingEvidenceSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="original_name", read_only=True)
    stage_display = display_field("get_stage_display")

    class Meta:
        model = FindingEvidence
        fields = ["id", "stage", "stage_display", "name", "file_kind", "size", "description", "uploaded_at"]
        read_only_fields = fields


class FindingSerializer(FastRepresentationMixin, TargetRegionMixin, serializers.ModelSerializer):
    """问题/隐患: a problem found by a survey or an inspection, followed until verified and closed (销号)."""

    enterprise = EnterpriseRefSerializer(read_only=True, allow_null=True)
    park = ParkRefSerializer(read_only=True, allow_null=True)
    inspection = serializers.PrimaryKeyRelatedField(read_only=True, help_text=_("The inspection that found it."))
    survey = serializers.PrimaryKeyRelatedField(read_only=True, help_text=_("The survey (摸排) that found it."))
    hazard_source = serializers.PrimaryKeyRelatedField(
        read_only=True,
        help_text=_("The major hazard source whose duty is breached (found by the daily check), else null."),
    )
    hazard_duty = serializers.CharField(
        read_only=True,
        help_text=_("The duty breached: monitoring, video, shutoff or must_stop; empty for other findings."),
    )
    area_display = display_field("get_area_display")
    severity_display = display_field("get_severity_display")
    status_display = display_field("get_status_display")
    responsible_department = DepartmentRefSerializer(read_only=True, allow_null=True)
    overdue = serializers.SerializerMethodField(
        help_text=_("Marked overdue by the daily deadline check (overdue_since) and not yet fixed.")
    )
    fixed_by = serializers.SerializerMethodField()
    verified_by = serializers.SerializerMethodField()
    evidence = FindingEvidenceSerializer(many=True, read_only=True)
    version = serializers.IntegerField(read_only=True, help_text=VERSION_HELP)

    class Meta:
        model = Finding
        fields = [
            "id",
            "inspection",
            "survey",
            "enterprise",
            "park",
            "region_code",
            "hazard_source",
            "hazard_duty",
            "area",
            "area_display",
            "severity",
            "severity_display",
            "description",
            "legal_basis",
            "responsible_unit",
            "responsible_department",
            "deadline",
            "status",
            "status_display",
            "overdue",
            "overdue_since",
            "fixed_by",
            "fixed_at",
            "fix_note",
            "verified_by",
            "verified_at",
            "verification_note",
            "evidence",
            "created_at",
            "updated_at",
            "version",
        ]
        read_only_fields = fields

    def get_overdue(self, finding) -> bool:
        return finding.overdue_since is not None and finding.status in ACTIVE_FINDING_STATES

    def get_fixed_by(self, finding) -> str | None:
        return person_name(finding.fixed_by)

    def get_verified_by(self, finding) -> str | None:
        return person_name(finding.verified_by)


@extend_schema_field(OpenApiTypes.STR)
class VisibleEnterpriseField(serializers.Field):
    """An enterprise of the caller's region by its unified social credit code."""

    default_error_messages = {"not_found": _("No enterprise with the credit code %(code)s lies inside your region.")}

    def to_representation(self, enterprise):
        return enterprise.uscc

    def to_internal_value(self, data):
        code = normalize_uscc(str(data))
        enterprise = Enterprise.objects.visible_to(self.context["request"].user).filter(uscc=code).first()
        if enterprise is None:
            raise serializers.ValidationError(self.error_messages["not_found"] % {"code": data}, code="not_found")
        return enterprise


@extend_schema_field(OpenApiTypes.STR)
class VisibleParkField(serializers.Field):
    default_error_messages = {"not_found": _("No chemical park with the code %(code)s lies inside your region.")}

    def to_representation(self, park):
        return park.code

    def to_internal_value(self, data):
        park = ChemicalPark.objects.visible_to(self.context["request"].user).filter(code=str(data).strip()).first()
        if park is None:
            raise serializers.ValidationError(self.error_messages["not_found"] % {"code": data}, code="not_found")
        return park


@extend_schema_field(OpenApiTypes.INT)
class VisibleInspectionField(serializers.Field):
    default_error_messages = {
        "not_found": _("No inspection with the id %(id)s lies inside your region."),
        "invalid": _("Give the inspection's id as a number."),
    }

    def to_representation(self, inspection):
        return inspection.pk

    def to_internal_value(self, data):
        try:
            pk = int(data)
        except (TypeError, ValueError):
            self.fail("invalid")
        inspection = Inspection.objects.visible_to(self.context["request"].user).filter(pk=pk).first()
        if inspection is None:
            raise serializers.ValidationError(self.error_messages["not_found"] % {"id": data}, code="not_found")
        return inspection


FINDING_STEPS = [
    ("start_fixing", _("Being fixed")),
    ("submit_fix", _("Fix reported")),
    ("verify", _("Verified")),
    ("reopen", _("Reopened")),
]


class FindingStepSerializer(serializers.Serializer):
    action = serializers.ChoiceField(
        choices=FINDING_STEPS,
        help_text=_(
            "start_fixing (open/reopened → being fixed), submit_fix (→ awaiting verification; note required), "
            "verify (passed → closed 销号, else reopened with a note; not by whoever reported the fix), reopen "
            "(closed → reopened; note required)."
        ),
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")
    passed = serializers.BooleanField(required=False, default=True, help_text=_("For verify: the fix is accepted."))
    version = serializers.IntegerField(required=False, min_value=1, help_text=VERSION_HELP)


class FindingInputSerializer(serializers.Serializer):
    """A finding to record (POST: enterprise or park, or inspection) or to correct (PUT/PATCH: its fields)."""

    inspection = VisibleInspectionField(
        required=False, help_text=_("Id of the inspection that found it (its target is then the finding's).")
    )
    enterprise = VisibleEnterpriseField(required=False, help_text=_("Credit code of the enterprise concerned."))
    park = VisibleParkField(required=False, help_text=_("Code of the park concerned (instead of an enterprise)."))
    area = serializers.ChoiceField(choices=AccessArea.choices, help_text=_("The access requirement concerned."))
    severity = serializers.ChoiceField(choices=Severity.choices, default=Severity.GENERAL)
    description = serializers.CharField(max_length=4000)
    legal_basis = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")
    responsible_unit = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    responsible_department = serializers.PrimaryKeyRelatedField(
        queryset=Department.objects.all(), required=False, allow_null=True, default=None, help_text=_("Department id.")
    )
    deadline = serializers.DateField(required=False, allow_null=True, default=None)
    reason = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=500, help_text=_("Why (updates; history).")
    )
    version = serializers.IntegerField(required=False, min_value=1, help_text=VERSION_HELP)

    def validate(self, attrs):
        if self.instance is None and not any(attrs.get(name) for name in ("inspection", "enterprise", "park")):
            raise serializers.ValidationError(
                {"enterprise": _("Name the enterprise (credit code), the park (code) or the inspection.")},
                code="required",
            )
        if self.instance is not None:
            for name in ("inspection", "enterprise", "park"):
                if name in attrs:
                    raise serializers.ValidationError(
                        {name: _("The target of a finding cannot be changed; record a new finding instead.")},
                        code="read_only",
                    )
        return attrs
