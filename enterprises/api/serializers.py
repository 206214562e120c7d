"""Enterprises and hazard sources as the API shows them; enterprise input for the services.

`classifications` (the decision in force per campaign: campaign, category, state, deadline) comes from
rectification (rectification.api.common), prefetched by EnterpriseViewSet.decorate_queryset; the workflow
services touch the enterprise when it changes, so the enterprise sync sees it.
"""

import functools

from django.utils import translation
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.serializers import CodeField, FastRepresentationMixin, RegionCodeField, display_field
from parks.models import ChemicalPark
from rectification.api.common import EnterpriseClassificationSerializer
from rectification.models import Classification
from regions.scoping import ALL_REGIONS

from ..choices import CORE_PERMIT_KINDS, AutomationStatus, EnterpriseSize, HazardLevel, PermitState, ProcessMode
from ..forms import park_scope_region
from ..hazards import breaches, must_stop_operating, stored_why_not
from ..models import Enterprise, HazardInventoryLine, KeyHazardousProcess, MajorHazardSource, YearlyTier
from ..selectors import filed_level_differs, permit_rows


def _listed(enterprise, prefetched: str, related: str):
    """Related rows prefetched as a list by EnterpriseViewSet (to_attr), else through the related manager."""
    rows = getattr(enterprise, prefetched, None)
    return rows if rows is not None else getattr(enterprise, related).all()


def current_classifications_queryset():
    """An enterprise's decisions in force, one per campaign, newest campaign first (prefetched by the list)."""
    return (
        Classification.objects.filter(is_current=True)
        .select_related("campaign")
        .order_by("-campaign__starts_on", "campaign_id")
    )


def current_classifications_of(enterprise):
    return list(current_classifications_queryset().filter(enterprise=enterprise))


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

    def get_attribute(self, instance):
        prefetched = getattr(instance, "key_process_list", None)  # EnterpriseViewSet.decorate_queryset
        return prefetched if prefetched is not None else super().get_attribute(instance)

    def to_representation(self, processes):
        return [process.code for process in (processes.all() if hasattr(processes, "all") else processes)]

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
    kind_display = display_field("permit.get_kind_display")
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

    def to_representation(self, row):
        # Written out: a sync serialises two or three permits per enterprise, 50,000 enterprises (bench_api).
        # The same values DRF's fields give (dates ISO, labels in the request's language).
        permit = row.permit
        return {
            "kind": permit.kind,
            "kind_display": self.fields["kind_display"].get_attribute(row),
            "number": permit.number,
            "issued_on": permit.issued_on.isoformat() if permit.issued_on else None,
            "expires_on": permit.expires_on.isoformat() if permit.expires_on else None,
            "state": row.state,
            "state_display": _state_label(row.state, translation.get_language() or ""),
            "superseded": row.superseded,
        }


@functools.cache
def _state_label(state: str, language: str) -> str:
    return str(PermitState(state).label)


class TierSerializer(serializers.ModelSerializer):
    class Meta:
        model = YearlyTier
        fields = ["year", "tier"]


class EnterpriseSerializer(FastRepresentationMixin, serializers.ModelSerializer):
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
    tiers = serializers.SerializerMethodField(help_text=_("Yearly tiers (分档), latest year first."))
    classifications = serializers.SerializerMethodField(
        help_text=_(
            "Its classification (四个一批) in force in each campaign: campaign, category, state, deadline. A "
            "workflow step changing them counts as a change of the enterprise."
        )
    )
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
    confirm_park_outside_township = serializers.BooleanField(
        write_only=True,
        required=False,
        default=False,
        help_text=_(
            "true to confirm a park that lies in another township than the enterprise's; without it such a park is "
            "refused (400, code park_outside_township) so that a mistyped park or township is not saved. A park "
            "whose recognition was revoked (取消定位) is refused either way (code park_revoked)."
        ),
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
            "classifications",
            "note",
            "created_at",
            "updated_at",
            "version",
            "reason",
            "confirm_park_outside_township",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    @extend_schema_field(PermitSerializer(many=True))
    def get_permits(self, enterprise):
        # One nested serializer for the whole page: building one per row costs more than the rows (bench_api).
        if not hasattr(self, "_permit_list"):
            self._permit_list = PermitSerializer(many=True)
        return self._permit_list.to_representation(permit_rows(_listed(enterprise, "permit_list", "permits")))

    @extend_schema_field(TierSerializer(many=True))
    def get_tiers(self, enterprise):
        if not hasattr(self, "_tier_list"):
            self._tier_list = TierSerializer(many=True)
        return self._tier_list.to_representation(_listed(enterprise, "tier_list", "tiers"))

    @extend_schema_field(EnterpriseClassificationSerializer(many=True))
    def get_classifications(self, enterprise):
        rows = getattr(enterprise, "current_classifications", None)
        if rows is None:  # not prefetched (e.g. an instance built by a service): one query
            rows = current_classifications_of(enterprise)
        if not hasattr(self, "_classification_list"):
            self._classification_list = EnterpriseClassificationSerializer(many=True)
        return self._classification_list.to_representation(rows)

    def get_missing_core_permits(self, enterprise) -> list[str]:
        held = {permit.kind for permit in _listed(enterprise, "permit_list", "permits")}
        return [str(kind) for kind in CORE_PERMIT_KINDS if kind not in held]

    def service_arguments(self) -> tuple[dict, list | None, str, bool]:
        """(data, key_processes, reason, confirmed park outside the township) for create/update_enterprise."""
        data = dict(self.validated_data)
        reason = data.pop("reason", "")
        key_processes = data.pop("key_processes", None)
        confirmed = data.pop("confirm_park_outside_township", False)
        data.pop("version", None)  # checked by the view (expected_version), never written
        return data, key_processes, reason, confirmed


class InventoryLineSerializer(serializers.ModelSerializer):
    gb18218_entry = serializers.SerializerMethodField(
        help_text=_(
            "The substance's entry of GB 18218-2018 (表1-N, or 表3 for a gas 表1 does not list); null when "
            "neither names it and its categories give Q and β."
        )
    )

    class Meta:
        model = HazardInventoryLine
        fields = ["chemical_name", "cas", "gb18218_entry", "categories", "max_quantity_t", "threshold_t", "beta"]
        read_only_fields = fields

    def get_gb18218_entry(self, line) -> str | None:
        if line.chemical_id is None:
            return None
        entry = getattr(line, "chemical", None)
        return f"表1-{entry.entry_no}" if entry and entry.entry_no else "表3"


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
        read_only=True,
        allow_null=True,
        help_text=_("The level computed from the inventory by GB 18218-2018 (never the filed one); null with why_not."),
    )
    is_major = serializers.BooleanField(
        read_only=True,
        allow_null=True,
        help_text=_("S ≥ 1 by its inventory; null when the inventory cannot tell (a substance's category missing)."),
    )
    why_not = serializers.SerializerMethodField(help_text=_("Why there is no computed level; null when there is one."))
    level_differs = serializers.SerializerMethodField(
        help_text=_("The filed level is not the computed one (or one was filed for an inventory below S < 1).")
    )
    needs_emergency_shutoff = serializers.BooleanField(
        read_only=True,
        help_text=_("Holds toxic gases, highly toxic liquids or flammable gases (inventory or declared)."),
    )
    breaches = serializers.SerializerMethodField(
        help_text=_("Duties breached: monitoring, video, shutoff, must_stop (see the breach codes).")
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
            "s_value",
            "is_major",
            "why_not",
            "level_differs",
            "needs_emergency_shutoff",
            "breaches",
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

    def get_why_not(self, source) -> str | None:
        return stored_why_not(source, list(source.inventory.all()))

    def get_level_differs(self, source) -> bool:
        return filed_level_differs(source)

    def get_breaches(self, source) -> list[str]:
        return breaches(source)
