"""Enterprises and hazard sources as the API shows them; enterprise input for the services.

Extension point: `classifications` (one per campaign: campaign, category, state, deadline) is added to
EnterpriseSerializer by the rectification app's API, with its prefetch in EnterpriseViewSet.decorate_queryset.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.serializers import CodeField, RegionCodeField, display_field
from parks.models import ChemicalPark
from regions.scoping import ALL_REGIONS

from ..choices import CORE_PERMIT_KINDS, AutomationStatus, EnterpriseSize, HazardLevel, PermitState, ProcessMode
from ..forms import park_scope_region
from ..hazards import must_stop_operating
from ..models import Enterprise, HazardInventoryLine, KeyHazardousProcess, MajorHazardSource, YearlyTier
from ..selectors import permit_rows


class ParkRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = ChemicalPark
        fields = ["code", "name"]


@extend_schema_field(ParkRefSerializer(allow_null=True))
class ParkField(serializers.Field):
    """{code, name} or null; on input a park code (or {"code": ...}) inside the caller's county, or null."""

    default_error_messages = {
        "not_found": _("No chemical park with the code %(code)s lies in your county."),
        "invalid": _('Give the park\'s code, e.g. "P0001", or null for an enterprise outside any park.'),
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_representation(self, park):
        return {"code": park.code, "name": park.name} if park is not None else None

    def to_internal_value(self, data):
        if isinstance(data, dict):
            data = data.get("code")
        if not isinstance(data, str) or not data.strip():
            self.fail("invalid")
        code = data.strip()
        parks = ChemicalPark.objects.filter(code=code)
        # Like the enterprise form: an officer may pick any park of their county.
        region = park_scope_region(self.context["request"].user)
        if region is None:
            parks = parks.none()
        elif region is not ALL_REGIONS:
            parks = parks.in_region(region)
        park = parks.first()
        if park is None:
            raise serializers.ValidationError(self.error_messages["not_found"] % {"code": code}, code="not_found")
        return park


class KeyProcessesField(serializers.ListField):
    """Codes of the key supervised hazardous processes (e.g. nitration, chlorination)."""

    child = serializers.CharField()
    default_error_messages = {"unknown": _("Unknown key process code(s): %(codes)s.")}

    def to_representation(self, manager):
        return [process.code for process in manager.all()]

    def to_internal_value(self, data):
        codes = list(dict.fromkeys(super().to_internal_value(data)))
        processes = {p.code: p for p in KeyHazardousProcess.objects.filter(code__in=codes)}
        unknown = [code for code in codes if code not in processes]
        if unknown:
            raise serializers.ValidationError(
                self.error_messages["unknown"] % {"codes": ", ".join(unknown)}, code="unknown"
            )
        return [processes[code] for code in codes]


class PermitSerializer(serializers.Serializer):
    kind = serializers.CharField(source="permit.kind")
    kind_display = serializers.CharField(source="permit.get_kind_display")
    number = serializers.CharField(source="permit.number")
    issued_on = serializers.DateField(source="permit.issued_on", allow_null=True)
    expires_on = serializers.DateField(source="permit.expires_on", allow_null=True)
    state = serializers.ChoiceField(
        choices=PermitState.choices, help_text=_("valid, expiring (within 60 days) or expired, as of today.")
    )
    state_display = serializers.SerializerMethodField()
    superseded = serializers.BooleanField(help_text=_("A later permit of the same kind replaces this one."))

    def get_state_display(self, row) -> str:
        return str(PermitState(row.state).label)


class TierSerializer(serializers.ModelSerializer):
    class Meta:
        model = YearlyTier
        fields = ["year", "tier"]


class EnterpriseSerializer(serializers.ModelSerializer):
    """An enterprise dossier (一企一档). Writes go through enterprises.services with the caller as actor."""

    uscc = serializers.CharField(
        max_length=40,
        help_text=_(
            "Unified social credit code, 18 characters (GB 32100-2015, check character verified); full-width "
            "characters and spaces are corrected."
        ),
    )
    region_code = RegionCodeField(source="township", help_text=_("Code of its township (9 digits)."))
    park = ParkField(required=False, help_text=_("Its chemical park, or null outside any park."))
    kind_display = display_field("get_kind_display")
    size = CodeField(choices=EnterpriseSize.choices, required=False, help_text=_("above or below designated size."))
    size_display = display_field("get_size_display")
    status_display = display_field("get_status_display")
    process_mode = CodeField(choices=ProcessMode.choices, required=False)
    process_mode_display = display_field("get_process_mode_display")
    automation_status = serializers.ChoiceField(choices=AutomationStatus.choices, required=False)
    automation_status_display = display_field("get_automation_status_display")
    key_processes = KeyProcessesField(
        required=False, help_text=_("Codes of the key supervised hazardous processes it runs.")
    )
    permits = serializers.SerializerMethodField(help_text=_("Its permits with their state as of today."))
    missing_core_permits = serializers.SerializerMethodField(
        help_text=_("Kinds of the core permits it holds none of (grounds for closure).")
    )
    tiers = TierSerializer(many=True, read_only=True, help_text=_("Yearly tiers (分档), latest year first."))
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text=_(
            "Raised by every change, also of its permits, tiers and park name. On update send the version your "
            "change is based on (or If-Match with the ETag): if the enterprise changed meanwhile the answer is "
            "409 instead of an overwrite."
        ),
    )
    reason = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=500,
        help_text=_("Why the change is made; shown in the dossier's history."),
    )

    class Meta:
        model = Enterprise
        fields = [
            "id",
            "uscc",
            "name",
            "region_code",
            "park",
            "kind",
            "kind_display",
            "size",
            "size_display",
            "annual_sales",
            "staff_count",
            "status",
            "status_display",
            "legal_representative",
            "contact_person",
            "contact_phone",
            "address",
            "longitude",
            "latitude",
            "industry_code",
            "main_products",
            "process_mode",
            "process_mode_display",
            "automation_status",
            "automation_status_display",
            "key_processes",
            "near_protected_river",
            "in_dense_urban_area",
            "in_ecological_redline",
            "permits",
            "missing_core_permits",
            "tiers",
            "note",
            "created_at",
            "updated_at",
            "version",
            "reason",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    @extend_schema_field(PermitSerializer(many=True))
    def get_permits(self, enterprise):
        return PermitSerializer(permit_rows(enterprise.permits.all()), many=True).data

    def get_missing_core_permits(self, enterprise) -> list[str]:
        held = {permit.kind for permit in enterprise.permits.all()}
        return [str(kind) for kind in CORE_PERMIT_KINDS if kind not in held]

    def service_arguments(self) -> tuple[dict, list | None, str]:
        """(data, key_processes, reason) for create_enterprise / update_enterprise."""
        data = dict(self.validated_data)
        reason = data.pop("reason", "")
        key_processes = data.pop("key_processes", None)
        data.pop("version", None)  # checked by the view (expected_version), never written
        return data, key_processes, reason


class InventoryLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = HazardInventoryLine
        fields = ["chemical_name", "cas", "max_quantity_t", "threshold_t", "beta"]
        read_only_fields = fields


class EnterpriseRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Enterprise
        fields = ["id", "uscc", "name"]


class HazardSourceSerializer(serializers.ModelSerializer):
    """A major hazard source (重大危险源, GB 18218-2018) with its inventory."""

    enterprise = EnterpriseRefSerializer(read_only=True)
    region_code = serializers.CharField(
        source="enterprise.township.code", read_only=True, help_text=_("Code of its enterprise's township.")
    )
    unit_kind_display = display_field("get_unit_kind_display")
    exposed_population_display = display_field("get_exposed_population_display")
    level = serializers.IntegerField(
        read_only=True, allow_null=True, help_text=_("The level used: computed from the inventory, else as filed.")
    )
    level_display = serializers.SerializerMethodField()
    must_stop_operating = serializers.SerializerMethodField(
        help_text=_("A level 1 or 2 tank farm without emergency shut-off must stop operating.")
    )
    inventory = InventoryLineSerializer(many=True, read_only=True)

    class Meta:
        model = MajorHazardSource
        fields = [
            "id",
            "enterprise",
            "region_code",
            "name",
            "unit_kind",
            "unit_kind_display",
            "exposed_population",
            "exposed_population_display",
            "declared_level",
            "computed_level",
            "level",
            "level_display",
            "r_value",
            "has_toxic_or_flammable_gas",
            "automated_monitoring",
            "video_to_park",
            "emergency_shutoff",
            "online_monitoring",
            "must_stop_operating",
            "filing_number",
            "inventory",
            "created_at",
            "updated_at",
            "version",
        ]
        read_only_fields = fields

    def get_level_display(self, source) -> str | None:
        return str(HazardLevel(source.level).label) if source.level else None

    def get_must_stop_operating(self, source) -> bool:
        return must_stop_operating(source)
