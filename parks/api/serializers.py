import datetime

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from core.api.serializers import display_field

from ..choices import INFRASTRUCTURE_FIELDS
from ..models import ChemicalPark
from ..selectors import risk_assessment_due, risk_assessment_overdue


class ChemicalParkSerializer(serializers.ModelSerializer):
    region_code = serializers.CharField(source="township.code", read_only=True, help_text=_("Code of its township."))
    level_display = display_field("get_level_display")
    recognition_status_display = display_field("get_recognition_status_display")
    risk_assessment_due_on = serializers.SerializerMethodField(
        help_text=_("When the next overall safety-risk assessment is due (every 5 years); null if none was made.")
    )
    risk_assessment_overdue = serializers.SerializerMethodField(
        help_text=_("True when no assessment was made or the last one is older than 5 years (as of today).")
    )
    enterprise_count = serializers.IntegerField(read_only=True, help_text=_("Enterprises registered in the park."))

    class Meta:
        model = ChemicalPark
        fields = [
            "id",
            "code",
            "name",
            "region_code",
            "level",
            "level_display",
            "recognition_status",
            "recognition_status_display",
            "area_km2",
            "industry_positioning",
            *INFRASTRUCTURE_FIELDS,
            "last_risk_assessment_on",
            "risk_assessment_due_on",
            "risk_assessment_overdue",
            "protection_zone_residents_to_relocate",
            "protection_zone_note",
            "enterprise_count",
            "created_at",
            "updated_at",
            "version",
        ]
        read_only_fields = fields

    def get_risk_assessment_due_on(self, park) -> datetime.date | None:
        return risk_assessment_due(park)

    def get_risk_assessment_overdue(self, park) -> bool:
        return risk_assessment_overdue(park)
